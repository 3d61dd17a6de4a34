//! Money as integer cents: exact sums, no binary floating point in the ledger.

use std::fmt;
use std::str::FromStr;

/// An amount in cents (hundredths of the currency unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(pub i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn from_cents(cents: i64) -> Self {
        Money(cents)
    }

    pub fn cents(self) -> i64 {
        self.0
    }

    /// The amount in currency units, for analytics and JSON.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// Converts a decimal amount (as sent in JSON) to cents, refusing NaN, infinities and
    /// amounts beyond +-10^15.
    pub fn from_f64(v: f64) -> Result<Self, String> {
        if !v.is_finite() {
            return Err("must be a finite number".into());
        }
        if v.abs() > 1e15 {
            return Err("is too large (at most 10^15)".into());
        }
        Ok(Money((v * 100.0).round() as i64))
    }
}

impl FromStr for Money {
    type Err = String;

    /// Parses `12`, `12.3`, `-12.34`, `$1,234.50`: at most two decimals, an optional currency
    /// sign (`$`, `¥`, `€`, `£`) and thousands separators.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = crate::text::excerpt(raw);
        let t = raw.trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let t = t.trim_start_matches(['$', '¥', '€', '£']).trim();
        if t.is_empty() {
            return Err(format!("'{s}' is not an amount (expected e.g. 12.34)"));
        }
        let (int, frac) = match t.split_once('.') {
            Some((i, f)) => (i, f),
            None => (t, ""),
        };
        let int: String = int.chars().filter(|c| *c != ',').collect();
        let bad = || format!("'{s}' is not an amount (expected e.g. 12.34)");
        if int.is_empty() && frac.is_empty()
            || !int.chars().all(|c| c.is_ascii_digit())
            || !frac.chars().all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        if frac.len() > 2 {
            return Err(format!("'{s}' has more than two decimals"));
        }
        let units: i64 = if int.is_empty() {
            0
        } else {
            int.parse()
                .map_err(|_| format!("'{s}' is too large an amount"))?
        };
        let mut cents_part: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        if frac.len() == 1 {
            cents_part *= 10;
        }
        let cents = units
            .checked_mul(100)
            .and_then(|c| c.checked_add(cents_part))
            .filter(|c| *c <= 100_000_000_000_000_000)
            .ok_or_else(|| format!("'{s}' is too large an amount"))?;
        Ok(Money(if neg { -cents } else { cents }))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", a / 100, a % 100)
    }
}

impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_f64())
    }
}

/// The text form of an amount in JSON request bodies, as the OpenAPI document states it: an
/// optional `-` and currency sign, digits (at most 15, or grouped by thousands with commas) and at
/// most two decimals, nothing around them (`12`, `-12.5`, `$1,234.50`, `.5`). Looser text (spaces,
/// stray commas) is for CSV files, which [`Money::from_str`] reads.
pub const JSON_TEXT_PATTERN: &str =
    r"^-?[$¥€£]?(?:(?:[0-9]{1,15}|[0-9]{1,3}(?:,[0-9]{3}){1,4})(?:\.[0-9]{1,2})?|\.[0-9]{1,2})$";

/// Whether `s` matches [`JSON_TEXT_PATTERN`].
pub fn is_json_text(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let s = s.strip_prefix(['$', '¥', '€', '£']).unwrap_or(s);
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let frac_ok = frac.is_none_or(|f| (1..=2).contains(&f.len()) && digits(f));
    let int_ok = if int.contains(',') {
        let mut groups = int.split(',');
        let first = groups.next().unwrap_or_default();
        (1..=3).contains(&first.len())
            && digits(first)
            && groups.clone().count() <= 4
            && groups.all(|g| g.len() == 3 && digits(g))
    } else {
        int.len() <= 15 && digits(int)
    };
    int_ok && frac_ok && (!int.is_empty() || frac.is_some())
}

impl<'de> serde::Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(v) => Money::from_f64(v).map_err(serde::de::Error::custom),
            Raw::Text(t) if !is_json_text(&t) => Err(serde::de::Error::custom(format!(
                "'{}' is not an amount (expected e.g. 12.34, -5, \"$1,234.50\")",
                crate::text::excerpt(&t)
            ))),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_text_is_the_documented_pattern() {
        for ok in [
            "12",
            "-12.5",
            "$1,234.50",
            ".5",
            "0",
            "¥999,999,999,999,999.99",
            "123456789012345",
        ] {
            assert!(is_json_text(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "12.",
            " 12",
            "12 ",
            "1,2",
            "1,2345",
            "$$1",
            "--1",
            "1.234",
            "1234567890123456",
            "1,000,000,000,000,000",
            "+1",
            "1e3",
        ] {
            assert!(!is_json_text(bad), "{bad}");
        }
        let m: Money = serde_json::from_str("\"$1,234.50\"").unwrap();
        assert_eq!(m, Money(123_450));
        assert!(serde_json::from_str::<Money>("\" 12\"").is_err());
    }

    #[test]
    fn parses_common_forms() {
        assert_eq!("11.77".parse::<Money>().unwrap(), Money(1177));
        assert_eq!("12".parse::<Money>().unwrap(), Money(1200));
        assert_eq!("12.5".parse::<Money>().unwrap(), Money(1250));
        assert_eq!("$1,234.05".parse::<Money>().unwrap(), Money(123405));
        assert_eq!("-0.10".parse::<Money>().unwrap(), Money(-10));
        assert_eq!("0.00".parse::<Money>().unwrap(), Money(0));
        assert_eq!(".5".parse::<Money>().unwrap(), Money(50));
    }

    #[test]
    fn refuses_garbage() {
        for s in [
            "",
            "abc",
            "1.234",
            "1.2.3",
            "12a",
            "-",
            "99999999999999999999",
        ] {
            assert!(s.parse::<Money>().is_err(), "{s}");
        }
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(Money(-5).to_string(), "-0.05");
        assert_eq!(Money(123405).to_string(), "1234.05");
    }
}

/// The company's currency (ISO 4217 code), in which every amount is shown: pages, reports and
/// the API's `currency` fields. Amounts are stored in hundredths, so only currencies with two
/// decimal places are offered. Set once for the installation (`--currency`,
/// `PATRON_CURRENCY`); without a setting it follows the server's locale (`zh_CN` -> CNY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Currency {
    /// US dollar.
    #[default]
    Usd,
    /// Chinese yuan (renminbi).
    Cny,
    /// Euro.
    Eur,
    /// Pound sterling.
    Gbp,
    /// Hong Kong dollar.
    Hkd,
    /// Singapore dollar.
    Sgd,
    /// Canadian dollar.
    Cad,
    /// Australian dollar.
    Aud,
    /// Swiss franc.
    Chf,
}

impl Currency {
    /// Every currency offered, in the order the settings list them.
    pub const ALL: [Currency; 9] = [
        Currency::Usd,
        Currency::Cny,
        Currency::Eur,
        Currency::Gbp,
        Currency::Hkd,
        Currency::Sgd,
        Currency::Cad,
        Currency::Aud,
        Currency::Chf,
    ];

    /// The ISO 4217 code (`USD`).
    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Cny => "CNY",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Hkd => "HKD",
            Currency::Sgd => "SGD",
            Currency::Cad => "CAD",
            Currency::Aud => "AUD",
            Currency::Chf => "CHF",
        }
    }

    /// The currency of an ISO code, in any letter case; the error names the codes offered.
    pub fn parse(code: &str) -> Result<Currency, String> {
        let c = code.trim();
        Currency::ALL
            .into_iter()
            .find(|k| k.code().eq_ignore_ascii_case(c))
            .ok_or_else(|| {
                let all: Vec<&str> = Currency::ALL.iter().map(|k| k.code()).collect();
                format!(
                    "unknown currency '{}': use one of {}",
                    crate::excerpt(c),
                    all.join(", ")
                )
            })
    }

    /// The usual currency of a POSIX locale name (`zh_CN.UTF-8`, `en_GB`, `de_DE`): the
    /// default when no currency is set. US dollars when the territory says nothing.
    pub fn from_locale(locale: &str) -> Currency {
        let territory = locale
            .split(['.', '@'])
            .next()
            .and_then(|l| l.split(['_', '-']).nth(1))
            .unwrap_or("")
            .to_ascii_uppercase();
        match territory.as_str() {
            "CN" => Currency::Cny,
            "HK" => Currency::Hkd,
            "SG" => Currency::Sgd,
            "GB" => Currency::Gbp,
            "CA" => Currency::Cad,
            "AU" => Currency::Aud,
            "CH" | "LI" => Currency::Chf,
            "DE" | "FR" | "IT" | "ES" | "NL" | "BE" | "AT" | "IE" | "PT" | "FI" | "GR" | "LU"
            | "SK" | "SI" | "EE" | "LV" | "LT" | "MT" | "CY" | "HR" => Currency::Eur,
            _ => Currency::Usd,
        }
    }

    /// The symbol written before an amount: in Chinese the yuan is `¥` and other dollars carry
    /// their country (`US$`); in English the dollar of the currency's home is `$`.
    pub fn symbol(self, chinese: bool) -> &'static str {
        match (self, chinese) {
            (Currency::Usd, false) => "$",
            (Currency::Usd, true) => "US$",
            (Currency::Cny, false) => "CN¥",
            (Currency::Cny, true) => "¥",
            (Currency::Eur, _) => "€",
            (Currency::Gbp, _) => "£",
            (Currency::Hkd, _) => "HK$",
            (Currency::Sgd, _) => "S$",
            (Currency::Cad, _) => "CA$",
            (Currency::Aud, _) => "A$",
            (Currency::Chf, _) => "CHF ",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod currency_tests {
    use super::Currency;

    #[test]
    fn codes_locales_and_symbols() {
        assert_eq!(Currency::parse(" cny ").unwrap(), Currency::Cny);
        let e = Currency::parse("XYZ").unwrap_err();
        assert!(e.contains("'XYZ'") && e.contains("USD, CNY"), "{e}");
        assert_eq!(Currency::from_locale("zh_CN.UTF-8"), Currency::Cny);
        assert_eq!(Currency::from_locale("de_DE@euro"), Currency::Eur);
        assert_eq!(Currency::from_locale("en-GB"), Currency::Gbp);
        assert_eq!(Currency::from_locale("C.UTF-8"), Currency::Usd);
        assert_eq!(Currency::from_locale(""), Currency::Usd);
        assert_eq!(Currency::Cny.symbol(true), "¥");
        assert_eq!(Currency::Usd.symbol(true), "US$");
        assert_eq!(Currency::Usd.symbol(false), "$");
    }
}
