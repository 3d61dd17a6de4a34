//! ABC classification by cumulative share of a measure (revenue or margin).
//!
//! Customers are sorted by the measure, largest first (ties: lower customer index first). The
//! cumulative share of each customer is computed against the **sum of the positive values**
//! (so the curve ends at 100% and negative margins do not inflate the shares). A customer is
//!
//! * **A** if the cumulative share of the customers ranked *before* it is below `a_share`
//!   (so the customer that crosses the A cut-off is still A, and the top customer is always A);
//! * **B** if that share is below `b_share`;
//! * **C** otherwise.
//!
//! Customers whose measure is zero, negative or not finite are always **C**: they contribute
//! nothing (or destroy value). If no customer has a positive value, everybody is C.

use crate::summary::CustomerSummary;

/// The three classes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum AbcClass {
    A,
    B,
    C,
}

/// Measure classified by [`values_from_summaries`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbcMeasure {
    #[default]
    Revenue,
    Margin,
}

/// Configuration (shares in `0..=1`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AbcConfig {
    pub measure: AbcMeasure,
    /// Cumulative share up to which customers are A (default 0.80).
    pub a_share: f64,
    /// Cumulative share up to which customers are B (default 0.95).
    pub b_share: f64,
}

impl Default for AbcConfig {
    fn default() -> Self {
        AbcConfig {
            measure: AbcMeasure::Revenue,
            a_share: 0.80,
            b_share: 0.95,
        }
    }
}

/// Aggregate of one class (a bar of the Pareto chart).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassStat {
    pub class: AbcClass,
    pub customers: u64,
    /// Share of all customers, 0..=1.
    pub customer_share: f64,
    /// Sum of the measure (may be negative for C).
    pub value: f64,
    /// `value` over the sum of positive values (0 when there is none).
    pub value_share: f64,
    /// Cumulative `value_share` of this and the better classes.
    pub cumulative_share: f64,
}

/// Result of [`classify`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AbcResult {
    /// Class per input value, in input order.
    pub classes: Vec<AbcClass>,
    /// A, B, C aggregates.
    pub stats: [ClassStat; 3],
    /// Sum of the positive values (the 100% of the shares).
    pub positive_total: f64,
    /// Net sum of all finite values.
    pub net_total: f64,
}

/// Errors of [`classify`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AbcError {
    #[error("ABC cut-offs must satisfy 0 <= a_share <= b_share <= 1 (got {a_share}, {b_share})")]
    BadCutoffs { a_share: f64, b_share: f64 },
}

/// Classifies `values[i]` (customer `i`'s measure).
pub fn classify(values: &[f64], cfg: &AbcConfig) -> Result<AbcResult, AbcError> {
    if !(0.0..=1.0).contains(&cfg.a_share)
        || !(0.0..=1.0).contains(&cfg.b_share)
        || cfg.a_share > cfg.b_share
    {
        return Err(AbcError::BadCutoffs {
            a_share: cfg.a_share,
            b_share: cfg.b_share,
        });
    }
    let n = values.len();
    let positive = |x: f64| x.is_finite() && x > 0.0;
    let positive_total: f64 = values.iter().copied().filter(|&x| positive(x)).sum();
    let net_total: f64 = values.iter().copied().filter(|x| x.is_finite()).sum();

    // Biggest first, ties by index (see crate::ranking for why keys).
    let mut order: Vec<(u64, u32)> = (0..n)
        .filter(|&i| positive(values[i]))
        .map(|i| (!crate::ranking::total_order_key(values[i]), i as u32))
        .collect();
    order.sort_unstable();
    let mut classes = vec![AbcClass::C; n];
    let mut before = 0.0;
    for &(_, i) in &order {
        let i = i as usize;
        let share = before / positive_total;
        classes[i] = if share < cfg.a_share {
            AbcClass::A
        } else if share < cfg.b_share {
            AbcClass::B
        } else {
            AbcClass::C
        };
        before += values[i];
    }

    let mut stats = [AbcClass::A, AbcClass::B, AbcClass::C].map(|class| ClassStat {
        class,
        customers: 0,
        customer_share: 0.0,
        value: 0.0,
        value_share: 0.0,
        cumulative_share: 0.0,
    });
    for (i, &class) in classes.iter().enumerate() {
        let s = &mut stats[class as usize];
        s.customers += 1;
        if values[i].is_finite() {
            s.value += values[i];
        }
    }
    let mut cumulative = 0.0;
    for s in &mut stats {
        s.customer_share = if n > 0 {
            s.customers as f64 / n as f64
        } else {
            0.0
        };
        s.value_share = if positive_total > 0.0 {
            s.value / positive_total
        } else {
            0.0
        };
        cumulative += s.value_share;
        s.cumulative_share = cumulative;
    }
    Ok(AbcResult {
        classes,
        stats,
        positive_total,
        net_total,
    })
}

/// The last customer of a class in the ranking (biggest value first, ties: smaller key first).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AbcCut {
    /// Its measure.
    pub value: f64,
    /// Its tie-breaking key (the dense customer index in [`classify`]; callers may map it to
    /// an id of the same order).
    pub key: i64,
}

/// Where a population's A and B classes end, kept so that one customer can be classed between
/// two population refreshes without ranking everyone again: a customer ranked at or before the
/// last A customer is A, else at or before the last B customer B, else C. Classes are a
/// prefix of the ranking, so every classified customer gets its class back exactly.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AbcCuts {
    /// The last A customer (`None`: no A customer).
    pub a: Option<AbcCut>,
    /// The last B customer (`None`: no B customer).
    pub b: Option<AbcCut>,
}

impl AbcCuts {
    /// The cuts of `classes` (from [`classify`] of `values`; keys: the indices).
    pub fn of(values: &[f64], classes: &[AbcClass]) -> AbcCuts {
        let mut cuts = AbcCuts { a: None, b: None };
        for (i, (&v, &class)) in values.iter().zip(classes).enumerate() {
            let slot = match class {
                AbcClass::A => &mut cuts.a,
                AbcClass::B => &mut cuts.b,
                AbcClass::C => continue,
            };
            let here = AbcCut {
                value: v,
                key: i as i64,
            };
            // The last in the ranking: the smallest value, among equals the biggest key.
            let later = match slot {
                Some(c) => v < c.value || (v == c.value && here.key > c.key),
                None => true,
            };
            if later {
                *slot = Some(here);
            }
        }
        cuts
    }

    /// The class of a customer of measure `value` and tie-breaking key `key`.
    pub fn class(&self, value: f64, key: i64) -> AbcClass {
        if !(value.is_finite() && value > 0.0) {
            return AbcClass::C;
        }
        let at_or_before = |c: &AbcCut| {
            let tol = 1e-9 * c.value.abs().max(1.0);
            value > c.value + tol || ((value - c.value).abs() <= tol && key <= c.key)
        };
        if self.a.as_ref().is_some_and(at_or_before) {
            AbcClass::A
        } else if self.b.as_ref().is_some_and(at_or_before) {
            AbcClass::B
        } else {
            AbcClass::C
        }
    }
}

/// The measure of each customer, indexed like `summaries`.
pub fn values_from_summaries(summaries: &[CustomerSummary], measure: AbcMeasure) -> Vec<f64> {
    summaries
        .iter()
        .map(|s| match measure {
            AbcMeasure::Revenue => s.revenue,
            AbcMeasure::Margin => s.margin,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use AbcClass::*;

    #[test]
    fn classic_split() {
        // Total 100: 50, 25 (cum before 50%) -> A; 10 (before 75%) -> A; 5 (before 85%) -> B;
        // 5 (before 90%) -> B; 3 (before 95%) -> C; 2 -> C.
        let v = [5.0, 50.0, 2.0, 10.0, 25.0, 3.0, 5.0];
        let r = classify(&v, &AbcConfig::default()).unwrap();
        assert_eq!(r.classes, vec![B, A, C, A, A, C, B]);
        assert_eq!(r.stats[0].customers, 3);
        assert!((r.stats[0].value_share - 0.85).abs() < 1e-12);
        assert!((r.stats[1].value_share - 0.10).abs() < 1e-12);
        assert!((r.stats[2].cumulative_share - 1.0).abs() < 1e-12);
        assert!((r.stats[0].customer_share - 3.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn cuts_give_back_every_class_ties_included() {
        let v = [5.0, 50.0, 2.0, 10.0, 25.0, 3.0, 5.0, 5.0, -1.0, 0.0, 10.0];
        for cfg in [
            AbcConfig::default(),
            AbcConfig {
                a_share: 0.5,
                b_share: 0.6,
                ..AbcConfig::default()
            },
        ] {
            let r = classify(&v, &cfg).unwrap();
            let cuts = AbcCuts::of(&v, &r.classes);
            for (i, &x) in v.iter().enumerate() {
                assert_eq!(cuts.class(x, i as i64), r.classes[i], "{i}: {x}");
            }
        }
        let r = classify(&v, &AbcConfig::default()).unwrap();
        let cuts = AbcCuts::of(&v, &r.classes);
        assert_eq!(cuts.class(1000.0, 99), A);
        assert_eq!(cuts.class(-5.0, 0), C);
    }

    #[test]
    fn negative_and_zero_values_are_c() {
        let v = [-40.0, 100.0, 0.0, f64::NAN];
        let r = classify(&v, &AbcConfig::default()).unwrap();
        assert_eq!(r.classes, vec![C, A, C, C]);
        assert_eq!(r.positive_total, 100.0);
        assert_eq!(r.net_total, 60.0);
        assert_eq!(r.stats[2].value, -40.0);
        assert!((r.stats[2].value_share + 0.4).abs() < 1e-12);
    }

    #[test]
    fn degenerate_inputs() {
        let r = classify(&[], &AbcConfig::default()).unwrap();
        assert!(r.classes.is_empty());
        assert!(r.stats.iter().all(|s| s.customer_share == 0.0));
        let r = classify(&[0.0, 0.0], &AbcConfig::default()).unwrap();
        assert_eq!(r.classes, vec![C, C]);
        assert!(r.stats.iter().all(|s| s.value_share == 0.0));
        let r = classify(&[7.0], &AbcConfig::default()).unwrap();
        assert_eq!(r.classes, vec![A]);
        // Ties: lower index first.
        let r = classify(&[1.0; 10], &AbcConfig::default()).unwrap();
        assert_eq!(&r.classes[..8], &[A; 8]);
        assert_eq!(&r.classes[8..], &[B, B]);
    }

    #[test]
    fn config() {
        let bad = AbcConfig {
            a_share: 0.9,
            b_share: 0.5,
            ..AbcConfig::default()
        };
        assert!(classify(&[1.0], &bad).is_err());
        let cfg: AbcConfig = toml::from_str("measure = \"margin\"\na_share = 0.7").unwrap();
        assert_eq!(cfg.measure, AbcMeasure::Margin);
        assert_eq!(cfg.a_share, 0.7);
        assert_eq!(cfg.b_share, 0.95);
    }
}
