//! The customer profitability ("whale") curve and the 20/80/30 figures.
//!
//! Customers are sorted by profit, most profitable first (ties: lower index first). The curve
//! plots, for `x` = share of customers (0..=1), the cumulative profit of the first `x * n`
//! customers as a percentage of the **base**: the total profit when it is positive; otherwise
//! (the whole base loses money) the sum of the positive profits, so the curve stays readable;
//! 1 when there are no positive profits at all (then every figure is 0 or negative in currency
//! units). Between customers the curve is linear, so the figures at 20% or 70% of the customers
//! are well defined for any `n`.
//!
//! The 20/80/30 figures ([`WhaleFigures`]):
//! * `top_share`: cumulative profit of the top 20% of customers, in % of the base
//!   (the "80" of the rule);
//! * `peak`: highest point of the curve, in % of the base (typically 150..250%);
//! * `bottom_destroyed`: profit lost on the bottom 30% of customers, as % of the peak
//!   (`(curve(70%) - curve(100%)) / peak`; the "halve it" of the rule is 50%; negative when the
//!   bottom 30% still add profit).

/// Configuration.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct WhaleConfig {
    /// Share of top customers for `top_share` (default 0.2).
    pub top: f64,
    /// Share of bottom customers for `bottom_destroyed` (default 0.3).
    pub bottom: f64,
    /// Maximum number of points of the plotted curve (at least 2; default 201).
    pub max_points: usize,
}

impl Default for WhaleConfig {
    fn default() -> Self {
        WhaleConfig {
            top: 0.2,
            bottom: 0.3,
            max_points: 201,
        }
    }
}

/// A point of the curve.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CurvePoint {
    /// Share of customers, in % (0..=100).
    pub customers_pct: f64,
    /// Cumulative profit, in % of the base.
    pub profit_pct: f64,
}

/// The headline figures.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct WhaleFigures {
    /// Cumulative profit of the top customers, % of the base.
    pub top_share: f64,
    /// Peak of the curve, % of the base.
    pub peak: f64,
    /// Share of customers at the peak, %.
    pub peak_at_customers_pct: f64,
    /// Profit destroyed by the bottom customers, % of the peak.
    pub bottom_destroyed: f64,
    /// Customers with negative profit.
    pub unprofitable_customers: u64,
}

/// Result of [`whale_curve`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WhaleCurve {
    pub figures: WhaleFigures,
    /// Net total profit.
    pub total: f64,
    /// Sum of positive profits (the peak in currency).
    pub peak_value: f64,
    /// What 100% means, in currency (see the module docs).
    pub base: f64,
    /// Downsampled curve from (0, 0) to (100, total in %), including the peak.
    pub curve: Vec<CurvePoint>,
}

/// Whale curve of `profits[i]` (customer `i`'s profit; non-finite values count as 0).
pub fn whale_curve(profits: &[f64], cfg: &WhaleConfig) -> WhaleCurve {
    let mut p: Vec<f64> = profits
        .iter()
        .map(|&x| if x.is_finite() { x } else { 0.0 })
        .collect();
    p.sort_unstable_by(|a, b| b.total_cmp(a));
    let n = p.len();
    let total: f64 = p.iter().sum();
    let peak_value: f64 = p.iter().filter(|&&x| x > 0.0).sum();
    let base = if total > 0.0 {
        total
    } else if peak_value > 0.0 {
        peak_value
    } else {
        1.0
    };
    // cum[i] = profit of the first i customers, i = 0..=n.
    let mut cum = Vec::with_capacity(n + 1);
    cum.push(0.0);
    let mut acc = 0.0;
    for &x in &p {
        acc += x;
        cum.push(acc);
    }
    let peak_index = p.iter().take_while(|&&x| x > 0.0).count();
    let at = |share: f64| -> f64 {
        if n == 0 {
            return 0.0;
        }
        let pos = share.clamp(0.0, 1.0) * n as f64;
        let i = (pos.floor() as usize).min(n);
        if i == n {
            return cum[n];
        }
        cum[i] + (pos - i as f64) * (cum[i + 1] - cum[i])
    };
    let pct = |v: f64| 100.0 * v / base;
    let peak_pct = pct(peak_value);
    let figures = WhaleFigures {
        top_share: pct(at(cfg.top)),
        peak: peak_pct,
        peak_at_customers_pct: if n > 0 {
            100.0 * peak_index as f64 / n as f64
        } else {
            0.0
        },
        bottom_destroyed: if peak_value > 0.0 {
            100.0 * (at(1.0 - cfg.bottom) - total) / peak_value
        } else {
            0.0
        },
        unprofitable_customers: p.iter().filter(|&&x| x < 0.0).count() as u64,
    };

    // Downsample: evenly spaced indices, plus the peak.
    let max_points = cfg.max_points.max(2);
    let mut idx: Vec<usize> = if n < max_points {
        (0..=n).collect()
    } else {
        let k = max_points - 1; // leave room for the peak
        (0..k)
            .map(|j| ((j as f64) * n as f64 / (k - 1).max(1) as f64).round() as usize)
            .map(|i| i.min(n))
            .collect()
    };
    idx.push(peak_index);
    idx.sort_unstable();
    idx.dedup();
    let curve = idx
        .into_iter()
        .map(|i| CurvePoint {
            customers_pct: if n > 0 {
                100.0 * i as f64 / n as f64
            } else {
                0.0
            },
            profit_pct: pct(cum[i]),
        })
        .collect();
    WhaleCurve {
        figures,
        total,
        peak_value,
        base,
        curve,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn rule_of_20_80_30() {
        // 10 customers: 2 whales (80 in all), 5 small (+10 each -> +50), 3 losers (-10 each).
        let p = [
            -10.0, 40.0, 10.0, 10.0, -10.0, 40.0, 10.0, 10.0, 10.0, -10.0,
        ];
        let w = whale_curve(&p, &WhaleConfig::default());
        assert!(close(w.total, 100.0));
        assert!(close(w.peak_value, 130.0));
        assert!(close(w.figures.top_share, 80.0));
        assert!(close(w.figures.peak, 130.0));
        assert!(close(w.figures.peak_at_customers_pct, 70.0));
        assert!(close(w.figures.bottom_destroyed, 100.0 * 30.0 / 130.0));
        assert_eq!(w.figures.unprofitable_customers, 3);
        assert_eq!(w.curve.len(), 11);
        assert_eq!(w.curve[0].profit_pct, 0.0);
        assert!(close(w.curve[10].profit_pct, 100.0));
        assert!(close(w.curve[7].profit_pct, 130.0));
    }

    #[test]
    fn interpolates_between_customers() {
        let w = whale_curve(&[30.0, 10.0, 5.0], &WhaleConfig::default());
        // 20% of 3 customers = 0.6 of the first: 18 of 45.
        assert!(close(w.figures.top_share, 100.0 * 18.0 / 45.0));
        assert!(w.figures.bottom_destroyed < 0.0);
    }

    #[test]
    fn downsampling_keeps_ends_and_peak() {
        let p: Vec<f64> = (0..10_000).map(|i| 5000.0 - f64::from(i)).collect();
        let cfg = WhaleConfig {
            max_points: 50,
            ..WhaleConfig::default()
        };
        let w = whale_curve(&p, &cfg);
        assert!(w.curve.len() <= 50);
        assert_eq!(w.curve.first().unwrap().customers_pct, 0.0);
        assert_eq!(w.curve.last().unwrap().customers_pct, 100.0);
        let top = w
            .curve
            .iter()
            .map(|c| c.profit_pct)
            .fold(f64::MIN, f64::max);
        assert!(close(top, w.figures.peak));
        assert!(w
            .curve
            .windows(2)
            .all(|s| s[0].customers_pct < s[1].customers_pct));
    }

    #[test]
    fn degenerate_inputs() {
        let w = whale_curve(&[], &WhaleConfig::default());
        assert_eq!(w.figures, WhaleFigures::default());
        assert_eq!(w.curve.len(), 1);
        let w = whale_curve(&[0.0, 0.0], &WhaleConfig::default());
        assert_eq!(w.figures.peak, 0.0);
        assert!(w.curve.iter().all(|c| c.profit_pct == 0.0));
        // Loss-making base: percentages relative to the positive profits.
        let w = whale_curve(&[10.0, -30.0, f64::NAN], &WhaleConfig::default());
        assert_eq!(w.base, 10.0);
        assert!(close(w.figures.peak, 100.0));
        assert!(close(w.curve.last().unwrap().profit_pct, -200.0));
        assert!(w.curve.iter().all(|c| c.profit_pct.is_finite()));
        let w = whale_curve(&[-5.0], &WhaleConfig::default());
        assert_eq!(w.base, 1.0);
        assert_eq!(w.figures.bottom_destroyed, 0.0);
    }

    #[test]
    fn config_from_toml() {
        let cfg: WhaleConfig = toml::from_str("max_points = 10").unwrap();
        assert_eq!(cfg.max_points, 10);
        assert_eq!(cfg.top, 0.2);
    }
}
