//! Twilio-shaped identifiers: a two-letter prefix and 32 lowercase hex digits.

use rand::Rng;

/// A random Twilio-shaped SID: `prefix` followed by 32 hex digits (e.g. `CA…`, 34 chars).
pub fn twilio_sid(prefix: &str) -> String {
    let mut rng = rand::thread_rng();
    let value: u128 = rng.r#gen();
    format!("{prefix}{value:032x}")
}

/// Whether `sid` is `prefix` followed by exactly 32 hex digits.
pub fn is_twilio_sid(sid: &str, prefix: &str) -> bool {
    sid.strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The identifiers of one simulated stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimIds {
    /// `AC…`
    pub account_sid: String,
    /// `CA…`
    pub call_sid: String,
    /// `MZ…`
    pub stream_sid: String,
}

impl SimIds {
    /// Fresh random ids.
    pub fn random() -> Self {
        Self {
            account_sid: twilio_sid("AC"),
            call_sid: twilio_sid("CA"),
            stream_sid: twilio_sid("MZ"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_twilio_shape() {
        let ids = SimIds::random();
        assert!(is_twilio_sid(&ids.account_sid, "AC"));
        assert!(is_twilio_sid(&ids.call_sid, "CA"));
        assert!(is_twilio_sid(&ids.stream_sid, "MZ"));
        assert_eq!(ids.stream_sid.len(), 34);
        assert!(!is_twilio_sid("MZ123", "MZ"));
        assert_ne!(ids.call_sid, SimIds::random().call_sid);
    }
}
