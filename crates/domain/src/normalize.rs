//! Normalised keys used to find likely duplicates and to search.

/// Lower-case, trimmed e-mail; `None` when empty.
pub fn email_key(email: &str) -> Option<String> {
    let e = email.trim().to_lowercase();
    (!e.is_empty()).then_some(e)
}

/// Digits of a phone number without a leading international `00`/`+` prefix of the country code
/// guessed by length: two numbers that differ only in spaces, dashes, brackets or a `+86`/`0086`
/// prefix get the same key. `None` when fewer than 5 digits remain.
pub fn phone_key(phone: &str) -> Option<String> {
    let mut d: String = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    if let Some(rest) = d.strip_prefix("00") {
        d = rest.to_string();
    }
    // Keep the national significant number: the last 11 digits (mobile numbers in CN, most
    // numbers with area code elsewhere) when a country code is present.
    if d.len() > 11 {
        d = d[d.len() - 11..].to_string();
    }
    (d.len() >= 5).then_some(d)
}

/// Name (and company) folded to lower-case alphanumerics, with common legal-form words removed,
/// so "ACME Ltd." and "Acme, Limited" match.
pub fn name_key(name: &str, company: Option<&str>) -> Option<String> {
    const NOISE: [&str; 10] = [
        "ltd",
        "limited",
        "inc",
        "co",
        "corp",
        "corporation",
        "llc",
        "gmbh",
        "company",
        "the",
    ];
    let fold = |s: &str| -> String {
        s.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty() && !NOISE.contains(w))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let n = fold(name);
    if n.is_empty() {
        return None;
    }
    match company.map(fold).filter(|c| !c.is_empty()) {
        Some(c) => Some(format!("{n}|{c}")),
        None => Some(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_match_across_formats() {
        assert_eq!(phone_key("+86 138-0013-8000"), phone_key("13800138000"));
        assert_eq!(phone_key("(021) 555 1234"), Some("0215551234".into()));
        assert_eq!(phone_key("12"), None);
    }

    #[test]
    fn names_ignore_legal_form_and_case() {
        assert_eq!(name_key("ACME Ltd.", None), name_key("acme, limited", None));
        assert_ne!(
            name_key("Wang Wei", Some("Acme")),
            name_key("Wang Wei", Some("Globex"))
        );
    }

    #[test]
    fn emails_fold_case() {
        assert_eq!(email_key(" A@B.com "), Some("a@b.com".into()));
        assert_eq!(email_key("  "), None);
    }
}
