//! Twilio Media Streams messages as plain Rust types, parsed and built in both directions
//! (media-streams.md §3–4), with no I/O.
//!
//! - Twilio → server: [`parse_inbound`] gives an [`Inbound`] that borrows from the frame;
//!   [`Inbound::write_json`] and [`write_inbound_media`] build the same messages for a simulator.
//! - Server → Twilio: [`write_media`], [`write_mark`], [`write_clear`] build into a reusable
//!   `String`; [`parse_outbound`] parses them as strictly as Twilio does.

mod error;
mod inbound;
mod json;
mod outbound;
mod twilio_side;

pub use error::ProtoError;
pub use inbound::{
    Connected, Dtmf, Inbound, Mark, Media, MediaFormat, Start, Stop, decode_base64_in,
    decode_base64_into, parse_inbound, parse_inbound_with_limit,
};
pub use outbound::{
    Outbound, parse_outbound, write_clear, write_mark, write_media, write_media_base64,
};
pub use twilio_side::{MediaMeta, write_connected, write_inbound_media};

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Default limit on one frame, in bytes. Twilio's inbound frames are about 400 bytes; the
/// limit only has to stop a peer from making us parse megabytes, while leaving room for a
/// `start` with many custom parameters and for large outbound media chunks in a simulator.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Base64 for building: standard alphabet with padding, as Twilio's examples use.
pub(crate) const B64: GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Base64 for parsing: standard alphabet, padding optional, since the docs never state it.
pub(crate) const B64_DECODE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
