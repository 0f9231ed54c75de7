//! Room on a simulated disk: a ballast (bytes something other than the node
//! holds on the same file system) takes part of its capacity, so the disk can
//! be filled from outside and freed again, as a real one is. While a ballast is
//! set, a write or resize that would grow a file past the room left fails with
//! `ENOSPC` (writing nothing); without one, capacity is only what `space`
//! reports (crash simulations never fill their disk).

use super::{err, Node, SimDisk, State};
use std::io;

impl State {
    /// Refuses growing file `ino` to `end` bytes if the ballast leaves no room.
    pub(super) fn check_room(&self, ino: u64, end: u64) -> io::Result<()> {
        if self.ballast == 0 {
            return Ok(());
        }
        let len = match self.nodes.get(&ino) {
            Some(Node::File(f)) => f.live.len() as u64,
            _ => return Ok(()),
        };
        let growth = end.saturating_sub(len);
        if growth > 0 && self.used() + self.ballast + growth > self.capacity {
            return Err(err(libc::ENOSPC));
        }
        Ok(())
    }

    /// Free bytes: the capacity less the files and the ballast.
    pub(super) fn free(&self) -> u64 {
        self.capacity
            .saturating_sub(self.used().saturating_add(self.ballast))
    }
}

impl SimDisk {
    /// Takes `bytes` of the disk's capacity away (0 gives it back).
    pub fn set_ballast(&self, bytes: u64) {
        self.lock().ballast = bytes;
    }
}
