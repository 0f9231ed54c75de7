//! What a simulated disk (`sim`) is told to inject, and what it counted: faults
//! are placed by the 0-based number of the operation, write or sync they hit, so
//! a seed that picks the numbers replays the same run. `Keep` says what of the
//! unsynced writes a crash image keeps.

/// Faults to inject, by 0-based count of operations, writes or syncs.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultPlan {
    /// This operation and every later one fail with EIO: the power is gone.
    pub power_loss_at: Option<u64>,
    /// This write (`write`, `set_len`) fails with this errno, writing nothing.
    pub fail_write: Option<(u64, i32)>,
    /// This sync (file or directory) fails with this errno.
    pub fail_sync: Option<(u64, i32)>,
    /// This write lands only its first `usize` bytes, then fails with EIO.
    pub tear_write: Option<(u64, usize)>,
}

/// Operations counted so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub ops: u64,
    pub writes: u64,
    pub syncs: u64,
}

/// The page size of `Keep::Pages`.
pub const PAGE: usize = 4096;

/// What of the unsynced writes a crash image keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Only what was made durable.
    Durable,
    /// Each unsynced change of a file, in order, and each unsynced directory
    /// entry change, kept with probability ½ (seeded).
    Changes(u64),
    /// Each dirty page of a file kept at its latest contents or left as it was
    /// durable (probability ½ each, independently), the file's length its
    /// durable or its latest one; directory entries as `Changes` (seeded).
    Pages(u64),
}
