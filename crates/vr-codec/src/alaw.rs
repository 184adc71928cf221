//! G.711 A-law, bit-exact with Python 3.11 `audioop.lin2alaw` / `audioop.alaw2lin`.
//!
//! The encoder works on the top 13 bits of the sample (`x >> 3`) and maps a negative value
//! to its one's complement (`-x - 1`) before finding the segment, as `audioop` does; the
//! older Sun `g711.c` negates instead and differs on 896 inputs. Both directions are table
//! lookups built at compile time: a 256-entry decode table and an 8,192-entry encode table
//! indexed by the 13-bit value.

use crate::CodecError;
use crate::g711;

const SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];

const fn encode13(value: i32) -> u8 {
    let (mask, mag) = if value >= 0 {
        (0xD5u8, value)
    } else {
        (0x55u8, -value - 1)
    };
    let mut seg = 0usize;
    while seg < 8 && mag > SEG_END[seg] {
        seg += 1;
    }
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let shift = if seg < 2 { 1 } else { seg as i32 };
    let aval = ((seg as i32) << 4) | ((mag >> shift) & 0x0F);
    (aval as u8) ^ mask
}

const fn decode_formula(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let seg = ((a & 0x70) >> 4) as i32;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    // |t| <= (0xF0 + 0x108) << 6 = 32256, so the cast cannot truncate.
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

const fn build_decode() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = decode_formula(i as u8);
        i += 1;
    }
    t
}

const fn build_encode() -> [u8; 8192] {
    let mut t = [0u8; 8192];
    let mut i = 0usize;
    while i < 8192 {
        // Index = the 13-bit two's-complement value `x >> 3` as an unsigned pattern.
        let v = if i >= 4096 { i as i32 - 8192 } else { i as i32 };
        t[i] = encode13(v);
        i += 1;
    }
    t
}

/// Decode table: code byte to linear sample.
pub static DECODE_TABLE: [i16; 256] = build_decode();

static ENCODE_TABLE: [u8; 8192] = build_encode();

/// Encodes one linear sample.
#[inline]
pub fn encode(sample: i16) -> u8 {
    ENCODE_TABLE[usize::from((sample as u16) >> 3)]
}

/// Decodes one code byte.
#[inline]
pub fn decode(code: u8) -> i16 {
    DECODE_TABLE[usize::from(code)]
}

/// Encodes `input` into `out[..input.len()]`; returns the bytes written.
///
/// # Errors
/// [`CodecError::OutputTooSmall`] when `out` is shorter than `input`.
pub fn encode_slice(input: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
    g711::encode_slice(encode, input, out)
}

/// Decodes `input` into `out[..input.len()]`; returns the samples written.
///
/// # Errors
/// [`CodecError::OutputTooSmall`] when `out` is shorter than `input`.
pub fn decode_slice(input: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
    g711::decode_slice(&DECODE_TABLE, input, out)
}

/// Decodes A-law bytes into PCM16 little-endian bytes (two per input byte); returns the
/// bytes written.
///
/// # Errors
/// [`CodecError::OutputTooSmall`] when `out` is shorter than `2 * input.len()`.
pub fn decode_le_bytes(input: &[u8], out: &mut [u8]) -> Result<usize, CodecError> {
    g711::decode_le_bytes(&DECODE_TABLE, input, out)
}

/// Encodes PCM16 little-endian bytes into A-law (one byte per sample); returns the bytes
/// written.
///
/// # Errors
/// [`CodecError::OddLength`] for an odd-length input, [`CodecError::OutputTooSmall`] when
/// `out` is shorter than `input.len() / 2`.
pub fn encode_le_bytes(input: &[u8], out: &mut [u8]) -> Result<usize, CodecError> {
    g711::encode_le_bytes(encode, input, out)
}

/// Encodes into a new vector.
pub fn encode_to_vec(input: &[i16]) -> Vec<u8> {
    input.iter().map(|&x| encode(x)).collect()
}

/// Decodes into a new vector.
pub fn decode_to_vec(input: &[u8]) -> Vec<i16> {
    input.iter().map(|&b| decode(b)).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_formula() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(encode(x), encode13(i32::from(x) >> 3), "x = {x}");
        }
    }
}
