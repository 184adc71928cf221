//! Strict parsing of webhook bodies: Twilio posts `application/x-www-form-urlencoded` UTF-8,
//! so anything else is refused with a 4xx rather than decoded leniently (a lenient decoder
//! would turn garbage into parameters, and two different bodies into the same ones).

use axum::http::{HeaderMap, StatusCode, header};

/// Why a webhook body was refused: the status to answer and a short reason.
pub(crate) type Refusal = (StatusCode, &'static str);

const FORM_TYPE: &str = "application/x-www-form-urlencoded";

/// The body's `name=value` pairs, in order; 415 for another content type, 400 for a body
/// that is not valid urlencoded UTF-8.
pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, Refusal> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(FORM_TYPE));
    if !is_form {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected application/x-www-form-urlencoded",
        ));
    }
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

/// Decodes one urlencoded component: `+` is a space, `%XX` a byte; the result must be UTF-8.
fn decode(raw: &[u8]) -> Result<String, Refusal> {
    const BAD: Refusal = (StatusCode::BAD_REQUEST, "malformed form body");
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let byte = raw
                    .get(i + 1..i + 3)
                    .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or(BAD)?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| BAD)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form_headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
        h
    }

    #[test]
    fn decodes_twilio_bodies() {
        let h = form_headers("application/x-www-form-urlencoded; charset=UTF-8");
        let got = parse(&h, b"From=%2B358+40&To=&&Flag&Name=%C3%A4%3D").unwrap();
        let want = [
            ("From", "+358 40"),
            ("To", ""),
            ("Flag", ""),
            ("Name", "ä="),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(parse(&h, b"").unwrap(), vec![]);
    }

    #[test]
    fn refuses_malformed_bodies_and_other_types() {
        let h = form_headers("application/x-www-form-urlencoded");
        for body in [
            &b"a=%zz"[..],
            b"a=%4",
            b"a=%",
            b"a=%e9",
            b"a=\xff",
            b"%+1=b",
        ] {
            assert_eq!(
                parse(&h, body).unwrap_err().0,
                StatusCode::BAD_REQUEST,
                "{body:?}"
            );
        }
        for ct in [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencodedx",
        ] {
            let err = parse(&form_headers(ct), b"a=b").unwrap_err();
            assert_eq!(err.0, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        }
        let err = parse(&HeaderMap::new(), b"a=b").unwrap_err();
        assert_eq!(err.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
