//! G.711 μ-law, bit-exact with the voice-runtime 0.1 Python original.
//!
//! The encoder is the bias-0x84 / clip-32635 formulation (B4); its output over every
//! `i16` is pinned by a golden SHA-256 in the tests. Python's `audioop.lin2ulaw` differs
//! from it by one step on 381 negative inputs; this module follows the original. Decoding
//! agrees with `audioop.ulaw2lin` for all 256 codes.
//!
//! Both directions are table lookups: a 256-entry decode table and a 65,536-entry encode
//! table, each built at compile time by a `const fn`.

use crate::CodecError;
use crate::g711;

/// Bias added to the magnitude before finding the segment.
pub const BIAS: i32 = 0x84;
/// Largest magnitude encoded before clipping.
pub const CLIP: i32 = 32635;

const EXP_LUT: [i32; 8] = [0, 132, 396, 924, 1980, 4092, 8316, 16764];

const fn decode_formula(byte: u8) -> i16 {
    let v = !byte;
    let sign = v & 0x80;
    let e = ((v >> 4) & 7) as usize;
    let m = (v & 0x0F) as i32;
    let s = EXP_LUT[e] + (m << (e + 3));
    // |s| <= 16764 + (15 << 10) = 32124, so the cast cannot truncate.
    (if sign != 0 { -s } else { s }) as i16
}

const fn encode_formula(x: i16) -> u8 {
    let mut s = x as i32;
    let sign: i32 = if s < 0 { 0x80 } else { 0 };
    if s < 0 {
        s = -s;
    }
    if s > CLIP {
        s = CLIP;
    }
    s += BIAS;
    // 132 <= s <= 32767: the highest set bit is in 7..=14, giving exponent 0..=7.
    let e = (31 - s.leading_zeros() as i32) - 7;
    let mantissa = (s >> (e + 3)) & 0x0F;
    !((sign | (e << 4) | mantissa) as u8)
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

const fn build_encode() -> [u8; 65536] {
    let mut t = [0u8; 65536];
    let mut i = 0usize;
    while i < 65536 {
        // Index is the i16 bit pattern read as u16.
        t[i] = encode_formula(i as u16 as i16);
        i += 1;
    }
    t
}

/// Decode table: code byte to linear sample.
pub static DECODE_TABLE: [i16; 256] = build_decode();

static ENCODE_TABLE: [u8; 65536] = build_encode();

/// Encodes one linear sample.
#[inline]
pub fn encode(sample: i16) -> u8 {
    ENCODE_TABLE[usize::from(sample as u16)]
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

/// Decodes μ-law bytes into PCM16 little-endian bytes (two per input byte); returns the
/// bytes written.
///
/// # Errors
/// [`CodecError::OutputTooSmall`] when `out` is shorter than `2 * input.len()`.
pub fn decode_le_bytes(input: &[u8], out: &mut [u8]) -> Result<usize, CodecError> {
    g711::decode_le_bytes(&DECODE_TABLE, input, out)
}

/// Encodes PCM16 little-endian bytes into μ-law (one byte per sample); returns the bytes
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
            assert_eq!(encode(x), encode_formula(x), "x = {x}");
        }
    }

    #[test]
    fn decode_matches_readme_formula() {
        // protocols/README.md: t = ((mant << 3) + 0x84) << exp; x = ±(t - 0x84).
        for code in 0..=255u8 {
            let u = !code;
            let exp = (u >> 4) & 7;
            let mant = i32::from(u & 0x0F);
            let t = ((mant << 3) + 0x84) << exp;
            let x = if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 };
            assert_eq!(i32::from(decode(code)), x);
        }
    }
}
