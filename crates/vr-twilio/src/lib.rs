//! Twilio for voice-runtime: the Media Streams protocol core (messages and a per-stream state
//! machine, no I/O), `X-Twilio-Signature` validation, TwiML, and a REST client for calls,
//! hang-up, SMS and call lists.
//!
//! The WebSocket and webhook handlers are thin loops around [`stream::StreamState`] and
//! [`signature::SignatureValidator`]; the wire facts they follow are in
//! `protocols/twilio-media-streams.md` and `protocols/twilio-rest.md`.

#![deny(missing_docs)]

pub mod idle;
pub mod outbound;
pub mod proto;
pub mod rest;
pub mod server;
pub mod signature;
pub mod stream;
pub mod twiml;
pub mod urls;
