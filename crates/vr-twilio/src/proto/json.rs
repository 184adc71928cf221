//! Small JSON helpers shared by the parsers and builders: borrowed strings that survive
//! `Option`, lenient counters, ordered string maps, and string escaping into a `String`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};

/// A JSON string that borrows from the input when it has no escapes.
///
/// serde only borrows `Cow<str>` when it is the direct field type; inside `Option` it always
/// allocates, so this newtype carries its own visitor.
#[derive(Debug)]
pub(crate) struct CowStr<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> de::Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = CowStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// A Twilio counter: documented as a string holding an integer, tolerated as a JSON number.
///
/// A string that is not an integer becomes `None` rather than an error: counters are only
/// diagnostic, and a frame of caller audio is worth more than a well-formed counter.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counter(pub(crate) Option<u64>);

impl<'de> de::Deserialize<'de> for Counter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Counter;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string holding one")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Counter, E> {
                Ok(Counter(v.trim().parse().ok()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Counter, E> {
                Ok(Counter(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Counter, E> {
                Ok(Counter(u64::try_from(v).ok()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Counter, E> {
                let ok = v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < u64::MAX as f64;
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(Counter(ok.then_some(v as u64)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Counter, E> {
                Ok(Counter(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// `customParameters`: an object of string → string, kept in document order. `null` and `{}`
/// both give no parameters.
#[derive(Debug, Default)]
pub(crate) struct StrPairs<'a>(pub(crate) Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de: 'a, 'a> de::Deserialize<'de> for StrPairs<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = StrPairs<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of string values")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(StrPairs(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some((k, v)) = map.next_entry::<CowStr<'a>, CowStr<'a>>()? {
                    out.push((k.0, v.0));
                }
                Ok(StrPairs(out))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Appends `s` as a JSON string literal (with quotes).
///
/// Fast path: the common ids and labels need no escaping and are copied as they are; anything
/// else goes through serde_json so escaping rules live in one well-tested place.
pub(crate) fn push_str(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        match serde_json::to_string(s) {
            Ok(quoted) => out.push_str(&quoted),
            // Serialising a &str cannot fail; keep the output valid JSON regardless.
            Err(_) => out.push_str("\"\""),
        }
    }
}

/// Appends `n` as a JSON string holding the decimal integer (Twilio's counter format).
pub(crate) fn push_counter(out: &mut String, n: u64) {
    out.push('"');
    push_u64(out, n);
    out.push('"');
}

/// Appends the decimal digits of `n`.
pub(crate) fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        // `n % 10` is below 10, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (n % 10) as u8;
        buf[i] = b'0' + digit;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(char::from(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_str_escapes_only_when_needed() {
        let mut s = String::new();
        push_str(&mut s, "MZ123");
        assert_eq!(s, "\"MZ123\"");
        s.clear();
        push_str(&mut s, "a\"b\\c\nd\u{1}");
        assert_eq!(s, r#""a\"b\\c\nd\u0001""#);
        s.clear();
        push_str(&mut s, "äö/€");
        assert_eq!(s, "\"äö/€\"");
    }

    #[test]
    fn push_u64_digits() {
        for n in [0u64, 7, 10, 999, 1_000_000, u64::MAX] {
            let mut s = String::new();
            push_u64(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }
}
