//! The SMTP sink that `scripts/with-smtp.sh` starts, for the mail tests: where it is
//! ([`sink`]; skipped without it, except under `CI`, where a missing sink fails) and what
//! arrived ([`received`]).

use std::path::{Path, PathBuf};

/// The sink's SMTP URL and the directory it writes each message to, or `None` (skip).
pub fn sink() -> Option<(String, PathBuf)> {
    match (
        std::env::var("PATRON_TEST_SMTP_URL"),
        std::env::var("PATRON_TEST_SMTP_DIR"),
    ) {
        (Ok(u), Ok(d)) if !u.is_empty() && !d.is_empty() => Some((u, d.into())),
        _ => {
            if std::env::var("CI").is_ok_and(|v| !v.is_empty()) {
                panic!(
                    "PATRON_TEST_SMTP_URL is not set and CI is set: run under scripts/with-smtp.sh"
                );
            }
            eprintln!("SKIPPED: no SMTP sink (run under scripts/with-smtp.sh)");
            None
        }
    }
}

/// The messages in the sink (raw, after the `X-Sink-Rcpt-To:` lines) whose envelope
/// recipient contains `needle`.
pub fn received(dir: &Path, needle: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension().is_some_and(|x| x == "eml"))
                .then(|| std::fs::read_to_string(&p).unwrap_or_default())
        })
        .filter(|m| {
            m.lines()
                .take_while(|l| l.starts_with("X-Sink-Rcpt-To:"))
                .any(|l| l.contains(needle))
        })
        .collect()
}

/// A header's value in a raw message (the first one named `name`, any case).
pub fn header(message: &str, name: &str) -> Option<String> {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    message
        .lines()
        .take_while(|l| !l.is_empty())
        .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_string())
}
