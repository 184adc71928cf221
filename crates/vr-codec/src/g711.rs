//! Slice helpers shared by the μ-law and A-law modules.
//!
//! Each helper checks the output size once and then runs a tight table-lookup loop
//! without bounds checks inside (the indices are `u8` or masked to the table size).

use crate::CodecError;

fn check(needed: usize, available: usize) -> Result<(), CodecError> {
    if available < needed {
        Err(CodecError::OutputTooSmall { needed, available })
    } else {
        Ok(())
    }
}

#[inline]
pub(crate) fn decode_slice(
    table: &[i16; 256],
    input: &[u8],
    out: &mut [i16],
) -> Result<usize, CodecError> {
    check(input.len(), out.len())?;
    for (o, &b) in out.iter_mut().zip(input) {
        *o = table[usize::from(b)];
    }
    Ok(input.len())
}

#[inline]
pub(crate) fn encode_slice<F: Fn(i16) -> u8>(
    encode: F,
    input: &[i16],
    out: &mut [u8],
) -> Result<usize, CodecError> {
    check(input.len(), out.len())?;
    for (o, &x) in out.iter_mut().zip(input) {
        *o = encode(x);
    }
    Ok(input.len())
}

#[inline]
pub(crate) fn decode_le_bytes(
    table: &[i16; 256],
    input: &[u8],
    out: &mut [u8],
) -> Result<usize, CodecError> {
    let needed = input.len().saturating_mul(2);
    check(needed, out.len())?;
    for (o, &b) in out.chunks_exact_mut(2).zip(input) {
        o.copy_from_slice(&table[usize::from(b)].to_le_bytes());
    }
    Ok(needed)
}

#[inline]
pub(crate) fn encode_le_bytes<F: Fn(i16) -> u8>(
    encode: F,
    input: &[u8],
    out: &mut [u8],
) -> Result<usize, CodecError> {
    if input.len() % 2 != 0 {
        return Err(CodecError::OddLength(input.len()));
    }
    let n = input.len() / 2;
    check(n, out.len())?;
    for (o, pair) in out.iter_mut().zip(input.chunks_exact(2)) {
        *o = encode(i16::from_le_bytes([pair[0], pair[1]]));
    }
    Ok(n)
}
