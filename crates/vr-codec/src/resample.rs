//! A windowed-sinc resampler for arbitrary rate pairs.
//!
//! The filter is a Kaiser-windowed sinc (β = 9, about 90 dB stop-band) with 32 zero
//! crossings on each side at the lower of the two rates. Its cut-off is 0.91 of the lower
//! Nyquist frequency and its stop band begins at that Nyquist frequency, so nothing above
//! the output's Nyquist folds back (down-sampling) and no image survives (up-sampling).
//! For 8 kHz the pass band reaches about 3.3 kHz, the telephone band.
//!
//! The resampler is polyphase over the reduced ratio `out/in = L/M`. When `L <= 512` (all
//! common rate pairs: 16000→8000 has L = 1, 44100→8000 has L = 80, 8000→44100 has L = 441)
//! every output position has its own exact filter phase; otherwise positions are rounded to
//! the nearest of 512 phases (timing error below 1/1024 of an input sample). Positions are
//! tracked in integers, so there is no drift on long streams.
//!
//! [`Resampler`] keeps its state between calls, so it can run frame by frame on a live call;
//! [`resample`] converts a whole buffer.

use crate::CodecError;

/// Zero crossings of the sinc on each side, counted at the lower rate.
const HALF_LOW: f64 = 32.0;
/// Kaiser window β.
const BETA: f64 = 9.0;
/// Cut-off as a fraction of the lower Nyquist frequency.
const CUTOFF: f64 = 0.91;
/// Most filter phases kept.
const MAX_PHASES: u64 = 512;
/// Highest accepted sample rate.
pub const MAX_RATE: u32 = 768_000;
/// Largest accepted down-sampling factor (`in_rate / out_rate`).
pub const MAX_DECIMATION: u32 = 64;

/// A streaming resampler for mono `i16` audio.
///
/// Output sample `n` is the input signal at time `n * in_rate / out_rate` (input samples),
/// so the output is aligned with the input; because the filter looks ahead, each
/// [`process`](Self::process) call holds back the last [`latency`](Self::latency) input
/// samples' worth of output until more input (or [`flush`](Self::flush)) arrives.
///
/// ```
/// use vr_codec::Resampler;
/// let mut up = Resampler::new(8000, 16000)?;
/// let mut out = Vec::new();
/// for _ in 0..50 {
///     up.process(&[0i16; 160], &mut out); // one 20 ms frame at a time
/// }
/// up.flush(&mut out);
/// assert_eq!(out.len(), 16000);
/// # Ok::<(), vr_codec::CodecError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Resampler {
    in_rate: u32,
    out_rate: u32,
    /// Reduced output step numerator (`out / gcd`).
    l: u64,
    /// Reduced input step (`in / gcd`).
    m: u64,
    phases: u64,
    half: usize,
    taps: usize,
    coeffs: Vec<f32>,
    hist: Vec<f32>,
    pos: usize,
    frac: u64,
    in_total: u64,
    out_total: u64,
}

impl Resampler {
    /// Makes a resampler from `in_rate` to `out_rate` (Hz).
    ///
    /// # Errors
    /// [`CodecError::UnsupportedRate`] for a rate of 0 or above [`MAX_RATE`], or a
    /// down-sampling factor above [`MAX_DECIMATION`] (the rate named is `in_rate`).
    pub fn new(in_rate: u32, out_rate: u32) -> Result<Self, CodecError> {
        for rate in [in_rate, out_rate] {
            if rate == 0 || rate > MAX_RATE {
                return Err(CodecError::UnsupportedRate(rate));
            }
        }
        if in_rate / out_rate > MAX_DECIMATION {
            return Err(CodecError::UnsupportedRate(in_rate));
        }
        let g = gcd(u64::from(in_rate), u64::from(out_rate));
        let l = u64::from(out_rate) / g;
        let m = u64::from(in_rate) / g;
        let ratio = (f64::from(out_rate) / f64::from(in_rate)).min(1.0);
        // ratio >= 1/64, so half <= 2048.
        let half = (HALF_LOW / ratio).ceil() as usize;
        let taps = 2 * half;
        let phases = l.min(MAX_PHASES);
        let coeffs = if in_rate == out_rate {
            Vec::new()
        } else {
            design(half, phases, 0.5 * ratio * CUTOFF)
        };
        let mut r = Self {
            in_rate,
            out_rate,
            l,
            m,
            phases,
            half,
            taps,
            coeffs,
            hist: Vec::new(),
            pos: 0,
            frac: 0,
            in_total: 0,
            out_total: 0,
        };
        r.reset();
        Ok(r)
    }

    /// The input rate in Hz.
    pub fn in_rate(&self) -> u32 {
        self.in_rate
    }

    /// The output rate in Hz.
    pub fn out_rate(&self) -> u32 {
        self.out_rate
    }

    /// Input samples of look-ahead the filter needs (0 when the rates are equal).
    pub fn latency(&self) -> usize {
        if self.is_passthrough() { 0 } else { self.half }
    }

    fn is_passthrough(&self) -> bool {
        self.in_rate == self.out_rate
    }

    /// Forgets all buffered input, as for a new stream.
    pub fn reset(&mut self) {
        self.hist.clear();
        if !self.is_passthrough() {
            // Samples before the stream starts are silence.
            self.hist.resize(self.half - 1, 0.0);
        }
        self.pos = 0;
        self.frac = 0;
        self.in_total = 0;
        self.out_total = 0;
    }

    /// Feeds `input` and appends every output sample that can now be computed.
    pub fn process(&mut self, input: &[i16], output: &mut Vec<i16>) {
        self.in_total += input.len() as u64;
        if self.is_passthrough() {
            output.extend_from_slice(input);
            return;
        }
        self.hist.extend(input.iter().map(|&x| f32::from(x)));
        self.run(output, u64::MAX);
    }

    /// Ends the stream: appends the outputs still held back (so the total output is
    /// `ceil(inputs * out_rate / in_rate)` samples) and resets for a new stream.
    pub fn flush(&mut self, output: &mut Vec<i16>) {
        if !self.is_passthrough() {
            let target = (self.in_total * self.l).div_ceil(self.m);
            self.hist.resize(self.hist.len() + self.half + 1, 0.0);
            self.run(output, target);
        }
        self.reset();
    }

    fn run(&mut self, output: &mut Vec<i16>, limit: u64) {
        let taps = self.taps;
        while self.pos + taps <= self.hist.len() && self.out_total < limit {
            let p = (self.frac * self.phases / self.l) as usize;
            let window = &self.hist[self.pos..self.pos + taps];
            let coeffs = &self.coeffs[p * taps..(p + 1) * taps];
            output.push(to_i16(dot(window, coeffs)));
            self.out_total += 1;
            self.frac += self.m;
            // frac < l + m, so the quotient fits usize for any accepted rates.
            self.pos += (self.frac / self.l) as usize;
            self.frac %= self.l;
        }
        let consumed = self.pos.min(self.hist.len());
        self.hist.drain(..consumed);
        self.pos -= consumed;
    }
}

/// Resamples a whole mono buffer; the output has `ceil(len * out_rate / in_rate)` samples.
///
/// # Errors
/// As [`Resampler::new`].
pub fn resample(input: &[i16], in_rate: u32, out_rate: u32) -> Result<Vec<i16>, CodecError> {
    let mut r = Resampler::new(in_rate, out_rate)?;
    let expected = (input.len() as u64 * u64::from(out_rate)).div_ceil(u64::from(in_rate));
    let mut out = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    r.process(input, &mut out);
    r.flush(&mut out);
    Ok(out)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn to_i16(x: f32) -> i16 {
    // Clamped into range first; `as` from f32 also saturates.
    x.round().clamp(-32768.0, 32767.0) as i16
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (a8, a_rest) = a.split_at(a.len() - a.len() % 8);
    let (b8, b_rest) = b.split_at(a8.len().min(b.len()));
    for (ca, cb) in a8.chunks_exact(8).zip(b8.chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += ca[i] * cb[i];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in a_rest.iter().zip(b_rest) {
        sum += x * y;
    }
    sum
}

/// Builds `phases` rows of `2 * half` taps; row `p` is the filter for output positions
/// `p / phases` of an input sample past the last tap's centre. Each row sums to 1.
fn design(half: usize, phases: u64, fc: f64) -> Vec<f32> {
    let taps = 2 * half;
    let mut coeffs = Vec::with_capacity(taps * phases as usize);
    let i0_beta = bessel_i0(BETA);
    let mut row = vec![0.0f64; taps];
    for p in 0..phases {
        let phi = p as f64 / phases as f64;
        for (j, c) in row.iter_mut().enumerate() {
            let d = (half as f64 - 1.0 - j as f64) + phi;
            let x = d / half as f64;
            let w = if x.abs() >= 1.0 {
                0.0
            } else {
                bessel_i0(BETA * (1.0 - x * x).sqrt()) / i0_beta
            };
            *c = 2.0 * fc * sinc(2.0 * fc * d) * w;
        }
        let sum: f64 = row.iter().sum();
        coeffs.extend(row.iter().map(|&c| (c / sum) as f32));
    }
    coeffs
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

/// Modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..64 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_rates() {
        assert_eq!(
            Resampler::new(0, 8000).unwrap_err(),
            CodecError::UnsupportedRate(0)
        );
        assert!(Resampler::new(8000, 0).is_err());
        assert!(Resampler::new(1_000_000, 8000).is_err());
        assert!(Resampler::new(768_000, 8000).is_err());
        assert!(Resampler::new(384_000, 8000).is_ok());
    }

    #[test]
    fn passthrough_copies() {
        let input: Vec<i16> = (0..500).map(|i| (i * 37 % 2000) as i16).collect();
        assert_eq!(resample(&input, 8000, 8000).unwrap(), input);
    }

    #[test]
    fn lengths_and_dc() {
        for (a, b) in [
            (16000, 8000),
            (44100, 8000),
            (8000, 16000),
            (22050, 8000),
            (11025, 8000),
        ] {
            let input = vec![1000i16; a as usize / 2];
            let out = resample(&input, a, b).unwrap();
            assert_eq!(out.len(), b as usize / 2, "{a}->{b}");
            // DC passes with unit gain away from the edges.
            let mid = &out[out.len() / 4..3 * out.len() / 4];
            assert!(mid.iter().all(|&x| (x - 1000).abs() <= 1), "{a}->{b}");
        }
    }

    #[test]
    fn odd_ratio_uses_phase_cap() {
        let r = Resampler::new(44_101, 8000).unwrap();
        assert_eq!(r.phases, MAX_PHASES);
        let out = resample(&vec![500i16; 44_101], 44_101, 8000).unwrap();
        assert_eq!(out.len(), 8000);
    }
}
