//! How a value the user gave is quoted back in an error message, a log line or a page: never
//! whole. An import line or a request field can be megabytes long; echoing it made a 52 MB
//! error message, a 52 MB import page and gigabytes of log. Every message that quotes an input
//! value quotes [`excerpt`] of it: at most [`EXCERPT_CHARS`] characters, control characters
//! (and bidirectional overrides) shown as `\u{..}` escapes, `…` when it was cut.

use std::fmt;

/// Characters of a value quoted in a message.
pub const EXCERPT_CHARS: usize = 60;

/// Longest message (in characters) that [`bounded`] lets through whole.
pub const MESSAGE_CHARS: usize = 1000;

fn unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A value as quoted in a message: see the module documentation. Displays as the excerpt;
/// `format!("'{}' is not a date", excerpt(v))`.
pub fn excerpt(value: &str) -> Excerpt<'_> {
    Excerpt(value, EXCERPT_CHARS)
}

/// [`excerpt`] with another length (a note shown in a notification, a subject in a list).
pub fn excerpt_n(value: &str, chars: usize) -> Excerpt<'_> {
    Excerpt(value, chars)
}

/// See [`excerpt`].
#[derive(Debug, Clone, Copy)]
pub struct Excerpt<'a>(&'a str, usize);

impl fmt::Display for Excerpt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(self.1) {
            if unsafe_char(c) {
                write!(f, "{}", c.escape_unicode())?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        if chars.next().is_some() {
            f.write_str("…")?;
        }
        Ok(())
    }
}

/// A whole message kept to [`MESSAGE_CHARS`] characters (cut with `…`): the last guard for
/// messages that are stored or sent (an import job's failure, an error body), should one of
/// them still quote a value whole. Control characters other than newline and tab are escaped.
pub fn bounded(message: &str) -> String {
    let needs_escape = message
        .chars()
        .any(|c| c != '\n' && c != '\t' && unsafe_char(c));
    if !needs_escape && message.len() <= MESSAGE_CHARS {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len().min(MESSAGE_CHARS * 4));
    let mut chars = message.chars();
    for c in chars.by_ref().take(MESSAGE_CHARS) {
        if c != '\n' && c != '\t' && unsafe_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// A library's message that quotes a value (serde's `invalid type: string "…", expected …`,
/// `unknown variant `…`, expected …`) with the first quoted value cut to its [`excerpt`], and
/// the whole kept to [`MESSAGE_CHARS`].
pub fn excerpt_in(message: &str) -> String {
    let Some(open) = message.find(['"', '`']) else {
        return bounded(message);
    };
    let delim = &message[open..open + 1];
    let rest = &message[open + 1..];
    let (inner, tail) = match rest.rfind(", expected ") {
        Some(j) if rest[..j].ends_with(delim) => (&rest[..j - 1], &rest[j..]),
        _ => match rest.rfind(delim) {
            Some(j) => (&rest[..j], &rest[j + 1..]),
            None => (rest, ""),
        },
    };
    bounded(&format!(
        "{}{delim}{}{delim}{tail}",
        &message[..open],
        excerpt(inner)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole() {
        assert_eq!(excerpt("2024-13-01").to_string(), "2024-13-01");
        assert_eq!(excerpt("").to_string(), "");
    }

    #[test]
    fn long_values_are_cut_and_controls_escaped() {
        let long = "x".repeat(5_000_000);
        let e = excerpt(&long).to_string();
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(excerpt("a\u{1b}[2Jb\nc").to_string(), "a\\u{1b}[2Jb\\u{a}c");
        assert_eq!(excerpt("日本語").to_string(), "日本語");
        assert_eq!(excerpt_n("abcdef", 3).to_string(), "abc…");
    }

    #[test]
    fn messages_are_bounded() {
        assert_eq!(bounded("line 1\n\tline 2"), "line 1\n\tline 2");
        let m = bounded(&"y".repeat(MESSAGE_CHARS * 10));
        assert_eq!(m.chars().count(), MESSAGE_CHARS + 1);
        assert_eq!(bounded("a\u{7}b"), "a\\u{7}b");
    }

    #[test]
    fn quoted_values_in_library_messages_are_cut() {
        let m = format!(
            "invalid type: string \"{}\", expected i64",
            "z".repeat(100_000)
        );
        let e = excerpt_in(&m);
        assert!(e.len() < 200, "{e}");
        assert!(e.starts_with("invalid type: string \"zzz") && e.ends_with("…\", expected i64"));
        let m = format!(
            "unknown variant `{}`, expected one of `a`, `b`",
            "v".repeat(1000)
        );
        assert!(excerpt_in(&m).ends_with("…`, expected one of `a`, `b`"));
        assert_eq!(excerpt_in("is required"), "is required");
        assert_eq!(
            excerpt_in("unknown variant `x`, expected `a`"),
            "unknown variant `x`, expected `a`"
        );
    }
}
