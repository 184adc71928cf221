//! Mixing two μ-law frames.

use crate::{CodecError, FRAME_BYTES, Frame, mulaw};

/// Mixes two μ-law frames sample by sample: decode both, add, clamp to the `i16` range,
/// encode (B9). Only the first [`FRAME_BYTES`] bytes of each input are read.
///
/// # Errors
/// [`CodecError::ShortFrame`] when either input is shorter than [`FRAME_BYTES`].
pub fn mix_frames(caller: &[u8], agent: &[u8]) -> Result<Frame, CodecError> {
    let (Some(c), Some(a)) = (caller.first_chunk::<FRAME_BYTES>(), agent.first_chunk()) else {
        return Err(CodecError::ShortFrame {
            needed: FRAME_BYTES,
            got: caller.len().min(agent.len()),
        });
    };
    Ok(mix_arrays(c, a))
}

/// [`mix_frames`] on whole frames, which cannot fail.
pub(crate) fn mix_arrays(caller: &Frame, agent: &Frame) -> Frame {
    let mut out = [0u8; FRAME_BYTES];
    for ((o, &a), &b) in out.iter_mut().zip(caller).zip(agent) {
        let sum = i32::from(mulaw::decode(a)) + i32::from(mulaw::decode(b));
        // Clamped into the i16 range first, so the cast cannot truncate.
        let clamped = sum.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
        *o = mulaw::encode(clamped);
    }
    out
}
