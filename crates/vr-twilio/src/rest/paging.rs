//! Checking a page's `next_page_uri` before following it (B162): the credentials go wherever
//! the next request goes, so only the same host and collection are acceptable.

/// Returns the path and query to request next, or why `next` is refused.
///
/// Accepted: a relative `/…` URI, or `{origin}/…` where `origin` is exactly the API origin
/// (`https://api.twilio.com`: https, same host, no port, no userinfo). The path must equal
/// `collection_path`; the query is kept as given. Refused: `.`/`..` segments, fragments,
/// backslashes, control characters, spaces, non-ASCII, and malformed percent escapes.
pub(crate) fn check_next_page<'a>(
    next: &'a str,
    origin: &str,
    collection_path: &str,
) -> Result<&'a str, &'static str> {
    if next.is_empty() {
        return Err("empty URI");
    }
    if !next.is_ascii() {
        return Err("non-ASCII characters");
    }
    if next.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err("control characters or spaces");
    }
    if next.contains('#') {
        return Err("fragment");
    }
    if next.contains('\\') {
        return Err("backslash");
    }
    let bytes = next.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return Err("malformed percent escape");
            }
        }
    }
    let path_and_query = if next.starts_with("//") {
        return Err("scheme-relative URI");
    } else if next.starts_with('/') {
        next
    } else {
        match next.strip_prefix(origin) {
            Some(rest) if rest.starts_with('/') => rest,
            _ => return Err("not on the API host (https, same host, no port or userinfo)"),
        }
    };
    let path = path_and_query
        .split_once('?')
        .map_or(path_and_query, |(p, _)| p);
    if path.split('/').any(|s| s == "." || s == "..") {
        return Err("dot segment in path");
    }
    if path != collection_path {
        return Err("not the same collection path");
    }
    Ok(path_and_query)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "https://api.twilio.com";
    const PATH: &str = "/2010-04-01/Accounts/AC1/Calls.json";

    #[test]
    fn accepts_same_collection() {
        let rel = "/2010-04-01/Accounts/AC1/Calls.json?PageSize=2&Page=1&PageToken=PAx";
        assert_eq!(check_next_page(rel, ORIGIN, PATH), Ok(rel));
        let abs = format!("{ORIGIN}{rel}");
        assert_eq!(check_next_page(&abs, ORIGIN, PATH), Ok(rel));
        assert_eq!(check_next_page(PATH, ORIGIN, PATH), Ok(PATH));
    }

    #[test]
    fn refuses_anything_else() {
        for bad in [
            "",
            "http://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json",
            "https://api.twilio.com:443/2010-04-01/Accounts/AC1/Calls.json",
            "https://user@api.twilio.com/2010-04-01/Accounts/AC1/Calls.json",
            "https://api.twilio.com@evil.com/2010-04-01/Accounts/AC1/Calls.json",
            "https://api.twilio.com.evil.com/2010-04-01/Accounts/AC1/Calls.json",
            "https://evil.com/2010-04-01/Accounts/AC1/Calls.json",
            "//evil.com/2010-04-01/Accounts/AC1/Calls.json",
            "/2010-04-01/Accounts/AC2/Calls.json",
            "/2010-04-01/Accounts/AC1/Messages.json",
            "/2010-04-01/Accounts/AC1/./Calls.json",
            "/2010-04-01/Accounts/AC1/../AC1/Calls.json",
            "/2010-04-01/Accounts/AC1/Calls.json#x",
            "/2010-04-01/Accounts/AC1/Calls.json?a=\\",
            "/2010-04-01/Accounts/AC1/Calls.json?a=\n",
            "/2010-04-01/Accounts/AC1/Calls.json?a= b",
            "/2010-04-01/Accounts/AC1/Calls.json?a=é",
            "/2010-04-01/Accounts/AC1/Calls.json?a=%zz",
            "/2010-04-01/Accounts/AC1/Calls.json?a=%4",
            "/2010-04-01/Accounts/AC1/Calls%2Ejson",
            "2010-04-01/Accounts/AC1/Calls.json",
        ] {
            assert!(check_next_page(bad, ORIGIN, PATH).is_err(), "{bad:?}");
        }
    }
}
