//! Numbers as export text: rounded to a fixed number of decimals, trailing zeros dropped, empty
//! for NaN and infinities; never a binary-float artefact (`74.02000000000001`) and never an
//! exponent, so that an export reads the same on every run and in every spreadsheet.
//!
//! Money (revenue, cost, margin, CLV) gets [`CENTS`]: every order line is a whole number of
//! cents, so the sum of a customer's lines rounded to the cent is their exact sum (an `f64` sum
//! of cents is off by far less than half a cent). Figures that are real numbers (P(alive),
//! expected purchases, the mean spend, recency and T in weeks) get [`FIGURE`]. The text is built from
//! the integer number of hundredths or ten-thousandths with a few integer operations.

/// Decimals of money columns.
pub const CENTS: u32 = 2;
/// Decimals of probabilities, expectations and times.
pub const FIGURE: u32 = 4;

/// Scratch buffer of the writers (one per thread).
#[derive(Default)]
pub struct NumberText {
    int: itoa::Buffer,
}

impl NumberText {
    /// Appends `v` rounded to `decimals` decimals (half away from zero), without trailing zeros
    /// (`40`, `0.3`, `74.02`); nothing for a value that is not finite; `0` for a value that
    /// rounds to zero (never `-0`).
    pub fn put(&mut self, out: &mut Vec<u8>, v: f64, decimals: u32) {
        if !v.is_finite() {
            return;
        }
        let scale = 10u64.pow(decimals);
        let a = v.abs() * scale as f64;
        // Below 2^53 every whole number is an f64, so the units are exact.
        if a >= 9.0e15 {
            // A whole number at this size: its integer digits (no exponent).
            out.extend_from_slice(format!("{:.0}", v).as_bytes());
            return;
        }
        // `+ 0.5` and truncation: `f64::round` is a call into libm on the baseline target.
        let units = (a + 0.5) as u64;
        if units == 0 {
            out.push(b'0');
            return;
        }
        if v < 0.0 {
            out.push(b'-');
        }
        out.extend_from_slice(self.int.format(units / scale).as_bytes());
        let (mut frac, mut digits) = (units % scale, decimals as usize);
        if frac == 0 {
            return;
        }
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        out.push(b'.');
        let s = self.int.format(frac);
        out.extend(std::iter::repeat_n(b'0', digits - s.len()));
        out.extend_from_slice(s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::{NumberText, CENTS, FIGURE};

    fn text(v: f64, decimals: u32) -> String {
        let mut out = Vec::new();
        NumberText::default().put(&mut out, v, decimals);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn money_reads_as_its_cents() {
        for (v, want) in [
            (0.1 + 0.2, "0.3"),
            (74.02000000000001, "74.02"),
            (71.44000000000001, "71.44"),
            (0.07 + 0.01, "0.08"),
            (40.0, "40"),
            (0.0, "0"),
            (-0.0, "0"),
            (-0.001, "0"),
            (-12.05, "-12.05"),
            (0.01, "0.01"),
            (1.1, "1.1"),
            (9_999_999_999_999.99, "9999999999999.99"),
            (1e16, "10000000000000000"),
            (f64::NAN, ""),
            (f64::INFINITY, ""),
        ] {
            assert_eq!(text(v, CENTS), want, "{v:e}");
        }
        // Every cent up to 1,000.00 and sums of many cents, both signs.
        for k in 0..100_000i64 {
            let want = format!("{}{}.{:02}", if k < 0 { "-" } else { "" }, k / 100, k % 100);
            let want = want.trim_end_matches('0').trim_end_matches('.');
            let want = if want.is_empty() { "0" } else { want };
            assert_eq!(text(k as f64 / 100.0, CENTS), want);
            let sum: f64 = (0..7).map(|_| k as f64 / 700.0).sum::<f64>();
            assert!(!text(sum, CENTS).contains("0000"), "{sum}");
        }
    }

    #[test]
    fn figures_have_four_decimals_at_most() {
        for (v, want) in [
            (0.123456, "0.1235"),
            (7e-10, "0"),
            (0.99999999, "1"),
            (1.0, "1"),
            (31.0 / 7.0, "4.4286"),
            (0.00005, "0.0001"),
            (0.0001, "0.0001"),
            (2.5e-3, "0.0025"),
            (123456.7, "123456.7"),
        ] {
            assert_eq!(text(v, FIGURE), want, "{v:e}");
        }
        let mut x: u64 = 42;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = (x >> 11) as f64 / (1u64 << 40) as f64;
            let t = text(v, FIGURE);
            assert!(!t.contains('e') && t.split('.').nth(1).is_none_or(|f| f.len() <= 4));
            assert!(
                (t.parse::<f64>().unwrap() - v).abs() <= 0.00005 + 1e-9,
                "{v} {t}"
            );
        }
    }
}
