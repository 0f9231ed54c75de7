//! Length-prefixed frames (u32 little-endian length, then the bytes): the record
//! format of snapshot files.

use crate::error::{Error, Result};
use std::io::{ErrorKind, Read, Write};

/// Frames larger than this are refused when reading (a corrupt length).
const MAX_FRAME: usize = 256 << 20;

pub fn write_frame(out: &mut impl Write, bytes: &[u8]) -> Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| Error::Io(ErrorKind::InvalidInput.into()))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(bytes)?;
    Ok(())
}

/// The next frame, or `None` at a clean end of input.
pub fn read_frame(input: &mut impl Read) -> Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(Error::Io(ErrorKind::InvalidData.into()));
    }
    let mut buf = vec![0u8; len];
    input.read_exact(&mut buf)?;
    Ok(Some(buf))
}
