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
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
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
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
