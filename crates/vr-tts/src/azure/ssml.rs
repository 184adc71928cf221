//! SSML for the Azure REST endpoint: escaping and the one-voice document.

/// Escapes text for SSML content or a quoted attribute: `&`, `<`, `>`, `"` and `'` become
/// entities, and characters XML 1.0 forbids (control characters other than tab, newline and
/// carriage return; U+FFFE, U+FFFF) are removed.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The language of a voice name: `fi-FI-NooraNeural` → `fi-FI`, `sr-Latn-RS-NicholasNeural` →
/// `sr-Latn-RS`. Falls back to the first two dash-separated parts.
pub fn language_of_voice(voice: &str) -> String {
    let parts: Vec<&str> = voice.split('-').collect();
    let is_lang = |p: &str| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_lowercase());
    let is_script = |p: &str| {
        p.len() == 4
            && p.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
            && p.bytes().skip(1).all(|b| b.is_ascii_lowercase())
    };
    let is_region = |p: &str| {
        (p.len() == 2 && p.bytes().all(|b| b.is_ascii_uppercase()))
            || (p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit()))
    };
    if parts.len() >= 3 && is_lang(parts[0]) {
        if is_region(parts[1]) {
            return format!("{}-{}", parts[0], parts[1]);
        }
        if parts.len() >= 4 && is_script(parts[1]) && is_region(parts[2]) {
            return format!("{}-{}-{}", parts[0], parts[1], parts[2]);
        }
    }
    parts.iter().take(2).copied().collect::<Vec<_>>().join("-")
}

/// `<speak version='1.0' xml:lang='{lang}'><voice xml:lang='{lang}' name='{voice}'>{text}</voice></speak>`
/// with everything escaped.
pub fn document(text: &str, voice: &str, lang: &str) -> String {
    let lang = escape(lang);
    format!(
        "<speak version='1.0' xml:lang='{lang}'><voice xml:lang='{lang}' name='{}'>{}</voice></speak>",
        escape(voice),
        escape(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"Tom & Jerry <b>"hi"</b> it's"#),
            "Tom &amp; Jerry &lt;b&gt;&quot;hi&quot;&lt;/b&gt; it&apos;s"
        );
        assert_eq!(escape("&amp;"), "&amp;amp;");
        assert_eq!(escape("Hei! Mitä kuuluu? 😀"), "Hei! Mitä kuuluu? 😀");
    }

    #[test]
    fn removes_control_characters() {
        assert_eq!(escape("a\u{0}b\u{7}c\u{1b}[0md\u{7f}e\u{FFFF}"), "abc[0mde");
        assert_eq!(escape("line\none\ttab\r"), "line\none\ttab\r");
    }

    #[test]
    fn language_from_voice_name() {
        assert_eq!(language_of_voice("fi-FI-NooraNeural"), "fi-FI");
        assert_eq!(language_of_voice("en-US-AvaMultilingualNeural"), "en-US");
        assert_eq!(language_of_voice("sr-Latn-RS-NicholasNeural"), "sr-Latn-RS");
        assert_eq!(language_of_voice("zh-CN-sichuan-YunxiNeural"), "zh-CN");
        assert_eq!(language_of_voice("es-419-Neural"), "es-419");
        assert_eq!(language_of_voice("odd"), "odd");
    }

    #[test]
    fn builds_the_documented_ssml() {
        assert_eq!(
            document("Hei! Mitä kuuluu?", "fi-FI-NooraNeural", "fi-FI"),
            "<speak version='1.0' xml:lang='fi-FI'><voice xml:lang='fi-FI' name='fi-FI-NooraNeural'>Hei! Mitä kuuluu?</voice></speak>"
        );
        assert_eq!(
            document("a<b", "x'y", "en-US"),
            "<speak version='1.0' xml:lang='en-US'><voice xml:lang='en-US' name='x&apos;y'>a&lt;b</voice></speak>"
        );
    }
}
