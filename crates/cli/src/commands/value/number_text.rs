//! Numbers as export text: the shortest decimal that reads back as the same `f64` (what `zmij`
//! writes), without a trailing `.0`, empty for NaN and infinities.
//!
//! Most figures of an export are whole numbers (days, counts) or whole cents (revenue, cost,
//! margin). Those are written from the integer number of cents, which gives the same text as
//! the shortest round-trip form with a few integer operations instead of the general
//! algorithm; the other figures (probabilities, expectations, CLV) go to `zmij`. The tests
//! compare both paths.

/// Scratch buffers of the writers (one per thread).
#[derive(Default)]
pub struct NumberText {
    float: zmij::Buffer,
    int: itoa::Buffer,
}

impl NumberText {
    /// Appends the text of `v` (nothing for a value that is not finite).
    pub fn put(&mut self, out: &mut Vec<u8>, v: f64) {
        if !v.is_finite() {
            return;
        }
        let a = v.abs();
        // Below 1e13 an f64 is spaced more finely than 0.005, so when `a` is the f64 nearest to
        // a whole number of cents, that decimal (trailing zeros dropped) is the shortest text
        // that reads back as `a`; `cents / 100.0` is that nearest f64 (a correctly rounded
        // division of two exact integers).
        if a < 1e13 {
            // Nearest whole number of cents (`+ 0.5` and truncation: `f64::round` is a call
            // into libm on the baseline x86-64 target).
            let cents = (a * 100.0 + 0.5) as u64;
            if cents as f64 / 100.0 == a {
                if v < 0.0 && cents > 0 {
                    out.push(b'-');
                }
                out.extend_from_slice(self.int.format(cents / 100).as_bytes());
                let frac = (cents % 100) as u8;
                if frac != 0 {
                    out.push(b'.');
                    out.push(b'0' + frac / 10);
                    if !frac.is_multiple_of(10) {
                        out.push(b'0' + frac % 10);
                    }
                }
                return;
            }
        }
        let s = self.float.format_finite(v);
        out.extend_from_slice(s.strip_suffix(".0").unwrap_or(s).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::NumberText;

    /// The text of the general algorithm alone.
    fn general(v: f64) -> String {
        if !v.is_finite() {
            return String::new();
        }
        let mut b = zmij::Buffer::new();
        let s = b.format_finite(if v == 0.0 { 0.0 } else { v });
        s.strip_suffix(".0").unwrap_or(s).to_string()
    }

    fn text(v: f64) -> String {
        let mut out = Vec::new();
        NumberText::default().put(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn check(v: f64) {
        assert_eq!(text(v), general(v), "{v:e} ({:#x})", v.to_bits());
        if v.is_finite() {
            assert_eq!(
                text(v).parse::<f64>().unwrap(),
                if v == 0.0 { 0.0 } else { v }
            );
        }
    }

    #[test]
    fn special_values() {
        for v in [
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.01,
            -0.01,
            0.1,
            0.5,
            1.0,
            -1.0,
            10.0,
            100.0,
            12.3,
            12.05,
            0.30000000000000004,
            71.44000000000001,
            1e-7,
            5e-324,
            f64::MAX,
            f64::MIN,
            9_999_999_999_999.99,
            1e13,
            1e13 - 0.01,
            1e15,
            1e16,
            123_456_789_012.34,
        ] {
            check(v);
        }
    }

    #[test]
    fn whole_cents_and_whole_numbers_read_as_the_general_text() {
        // Every cent up to 1,000.00, then a spread of larger amounts, both signs.
        for k in 0..100_000u64 {
            check(k as f64 / 100.0);
            check(-(k as f64) / 100.0);
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..300_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let cents = x % 1_000_000_000_000_000; // up to 1e13 in units
            check(cents as f64 / 100.0);
            check((cents / 100) as f64);
            // Sums of cents are often a hair off a whole cent.
            check(cents as f64 / 100.0 + 0.07 + 0.01);
        }
    }

    #[test]
    fn arbitrary_doubles_read_as_the_general_text() {
        let mut x: u64 = 42;
        for _ in 0..300_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            check(f64::from_bits(x));
            check((x >> 11) as f64 / (1u64 << 40) as f64);
        }
    }
}
