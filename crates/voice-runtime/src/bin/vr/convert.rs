//! `vr convert`: WAV in (PCM 8/16/24/32-bit, float, μ-law, A-law; any rate; mono or stereo),
//! mono WAV out as μ-law, A-law or 16-bit PCM at any rate (8 kHz by default: a phone call).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use voice_runtime::codec::resample::resample;
use voice_runtime::codec::wav::read_wav_file;
use voice_runtime::codec::{alaw, mulaw};

/// Output encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Encoding {
    /// G.711 μ-law (WAV format 7), what Twilio Media Streams carry.
    Mulaw,
    /// G.711 A-law (WAV format 6).
    Alaw,
    /// 16-bit linear PCM (WAV format 1).
    Pcm16,
}

/// Options of `vr convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Input WAV file.
    pub input: PathBuf,
    /// Output WAV file.
    pub output: PathBuf,
    /// Output encoding.
    #[arg(long, value_enum, default_value_t = Encoding::Mulaw)]
    pub to: Encoding,
    /// Output sample rate in Hz.
    #[arg(long, default_value_t = 8000)]
    pub rate: u32,
}

pub fn run(args: &ConvertArgs) -> Result<ExitCode, String> {
    if !(1000..=192_000).contains(&args.rate) {
        return Err(format!(
            "--rate must be between 1000 and 192000 Hz (got {})",
            args.rate
        ));
    }
    let audio = read_wav_file(&args.input).map_err(|e| format!("{}: {e}", args.input.display()))?;
    let pcm = resample(&audio.to_mono_pcm16(), audio.sample_rate(), args.rate)
        .map_err(|e| format!("cannot resample: {e}"))?;
    let (format, bits, data): (u16, u16, Vec<u8>) = match args.to {
        Encoding::Mulaw => (7, 8, mulaw::encode_to_vec(&pcm)),
        Encoding::Alaw => (6, 8, alaw::encode_to_vec(&pcm)),
        Encoding::Pcm16 => (1, 16, pcm.iter().flat_map(|s| s.to_le_bytes()).collect()),
    };
    let bytes = wav_bytes(format, bits, args.rate, &data)?;
    std::fs::write(&args.output, bytes).map_err(|e| format!("{}: {e}", args.output.display()))?;
    println!(
        "{} → {}: {:?}, {} Hz, mono, {:.2}s",
        args.input.display(),
        args.output.display(),
        args.to,
        args.rate,
        pcm.len() as f64 / f64::from(args.rate)
    );
    Ok(ExitCode::SUCCESS)
}

/// A canonical mono WAV file: RIFF header, `fmt ` chunk (18 bytes for the G.711 formats, as
/// the WAVE spec asks of non-PCM formats), `data` chunk.
fn wav_bytes(format: u16, bits: u16, rate: u32, data: &[u8]) -> Result<Vec<u8>, String> {
    let data_len = u32::try_from(data.len()).map_err(|_| "output exceeds 4 GiB".to_owned())?;
    let fmt_len: u32 = if format == 1 { 16 } else { 18 };
    let block_align = bits / 8;
    let riff_len = 4 + (8 + fmt_len) + 8 + data_len + (data_len & 1);
    let mut out = Vec::with_capacity(data.len() + 64);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&riff_len.to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&fmt_len.to_le_bytes());
    out.extend_from_slice(&format.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    if fmt_len == 18 {
        out.extend_from_slice(&0u16.to_le_bytes());
    }
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out.extend_from_slice(data);
    if data_len & 1 == 1 {
        out.push(0);
    }
    Ok(out)
}
