//! Text that may be stored or shown: what merchants and operators may type into a field.
//!
//! Control characters break logs, CSV exports and PostgreSQL (`text` cannot hold U+0000, which
//! became a 500 after the MP had already been asked), and bidirectional overrides make a
//! back-office screen show something other than what is stored ("Trojan Source"). Fields are
//! checked before any outside call and refused with the field named.

/// The first character of `s` that a stored text field must not contain, if any:
/// C0 controls U+0000–U+001F, DEL U+007F, C1 controls U+0080–U+009F, and the bidirectional
/// embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069.
pub fn forbidden_char(s: &str) -> Option<char> {
    s.chars().find(|&c| is_forbidden(c))
}

fn is_forbidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Like [`forbidden_char`], for free text that may span lines (reasons, notes): tab, line feed
/// and carriage return are allowed.
pub fn forbidden_char_multiline(s: &str) -> Option<char> {
    s.chars()
        .find(|&c| !matches!(c, '\t' | '\n' | '\r') && is_forbidden(c))
}

/// The message for a field holding `c`, e.g. "must not contain control character U+0000".
pub fn forbidden_message(c: char) -> String {
    let kind = if ('\u{202a}'..='\u{2069}').contains(&c) {
        "bidirectional formatting character"
    } else {
        "control character"
    };
    format!("must not contain {kind} U+{:04X}", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_controls_and_bidi_overrides() {
        for c in [
            '\0', '\u{1}', '\n', '\u{1f}', '\u{7f}', '\u{85}', '\u{202e}', '\u{2066}',
        ] {
            assert_eq!(forbidden_char(&format!("ab{c}cd")), Some(c), "{c:?}");
        }
        for ok in ["player-1", "Zoë Ångström", "名前", "a b", "שלום", "€100"] {
            assert_eq!(forbidden_char(ok), None, "{ok}");
        }
        assert_eq!(forbidden_char_multiline("line 1\nline 2\r\n\tx"), None);
        assert_eq!(forbidden_char_multiline("a\u{0}b"), Some('\0'));
        assert_eq!(
            forbidden_message('\u{202e}'),
            "must not contain bidirectional formatting character U+202E"
        );
        assert_eq!(
            forbidden_message('\0'),
            "must not contain control character U+0000"
        );
    }
}
