//! Text for a terminal: control characters (ESC, which starts colour, cursor and screen-clearing
//! sequences; OSC; C1 controls; bidirectional overrides) shown as `\u{..}` escapes. Newlines and
//! tabs are kept.

use std::borrow::Cow;

fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control character escaped.
pub fn safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::safe;

    #[test]
    fn escapes_reach_the_terminal_as_text() {
        assert_eq!(safe("plain text\tand\nlines"), "plain text\tand\nlines");
        assert_eq!(safe("\u{1b}[2Jgone"), "\\u{1b}[2Jgone");
        assert_eq!(safe("\u{1b}]0;title\u{7}"), "\\u{1b}]0;title\\u{7}");
        assert_eq!(safe("a\u{202e}b\rc"), "a\\u{202e}b\\u{d}c");
    }
}
