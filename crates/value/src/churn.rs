//! Churn warnings: which customers are about to be lost, why, and how much is at stake.
//!
//! [`churn_warnings`] looks at the orders up to day `as_of` (later orders are ignored) and
//! raises, per customer, any of four reasons:
//!
//! * **revenue drop**: revenue of the current period (`period_days` days ending on `as_of`)
//!   versus the period before it fell by more than `drop_threshold` (default 50%). Only
//!   customers whose previous-period revenue is positive and at least `min_previous_revenue`
//!   are judged (a customer with nothing last period cannot drop).
//! * **long absence**: the days since the last purchase exceed `absence_factor` (default 2)
//!   times the customer's own mean gap between purchase days,
//!   `(last day - first day) / (distinct purchase days - 1)`. It needs at least
//!   `min_purchase_days` distinct purchase days (default 2, the minimum that has a gap); with
//!   fewer the customer has no rhythm to judge and gets no absence warning.
//! * **no second purchase** (one-time buyers, who have no rhythm of their own): the customer
//!   bought on one day only, and the days since that purchase exceed the population's
//!   *typical time to a second purchase*: the `one_time_gap_quantile` (default 0.9, the 90th
//!   percentile, nearest rank) of the gaps between the first and the second purchase day of
//!   the customers with two or more purchase days up to `as_of`. In words: "90% of the
//!   customers who came back did so within this many days; this one has not". It needs
//!   `one_time_min_repeat_buyers` (default 20) such gaps; with fewer the gap is not measured
//!   and `one_time_default_gap_days` (default 365) is used instead (the reason says so, its
//!   `repeat_buyers` figure is then 0). A quantile outside `(0, 1]` disables the rule. The
//!   gaps are those observed up to `as_of`, so a young population's typical gap is rather
//!   short (gaps longer than the observed history cannot be seen yet). This is the churn
//!   judgement of the customers BG/NBD cannot judge: it takes a customer without a repeat
//!   purchase to be alive (P(alive) = 1) however long ago the purchase was.
//! * **low P(alive)**: the probability that the customer is still active, supplied by the
//!   caller from a fitted model (BG/NBD, Pareto/NBD), is below `p_alive_threshold` (default
//!   0.3). This module does not compute it; non-finite entries are ignored.
//!
//! Each warned customer carries its **value at risk**: its margin (revenue - product cost) over
//! the `value_window_days` days ending on `as_of` (default 365, the trailing twelve months). The
//! list is sorted by value at risk, biggest first (ties: lower customer index first); a
//! negative value at risk (a customer losing money) sorts last.

use crate::history::{Histories, HistoryError};
use crate::{Day, OrderLine};

/// Thresholds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ChurnConfig {
    /// Length of the compared periods in days (default 90).
    pub period_days: u32,
    /// Relative decline that triggers a revenue-drop warning (default 0.5).
    pub drop_threshold: f64,
    /// Previous-period revenue needed for the revenue-drop rule (default 0: any positive).
    pub min_previous_revenue: f64,
    /// Absence longer than this many mean gaps triggers a warning (default 2).
    pub absence_factor: f64,
    /// Distinct purchase days needed for the absence rule (default 2, at least 2 is used).
    pub min_purchase_days: u32,
    /// P(alive) below this triggers a warning (default 0.3).
    pub p_alive_threshold: f64,
    /// Window of the value at risk, days (default 365).
    pub value_window_days: u32,
    /// Quantile of the first-to-second purchase gaps of repeat buyers beyond which a one-time
    /// buyer is warned (default 0.9; outside `(0, 1]`: no such warning).
    pub one_time_gap_quantile: f64,
    /// Repeat buyers needed to measure the typical gap (default 20).
    pub one_time_min_repeat_buyers: u32,
    /// Typical gap, days, used with fewer repeat buyers (default 365).
    pub one_time_default_gap_days: f64,
}

impl Default for ChurnConfig {
    fn default() -> Self {
        ChurnConfig {
            period_days: 90,
            drop_threshold: 0.5,
            min_previous_revenue: 0.0,
            absence_factor: 2.0,
            min_purchase_days: 2,
            p_alive_threshold: 0.3,
            value_window_days: 365,
            one_time_gap_quantile: 0.9,
            one_time_min_repeat_buyers: 20,
            one_time_default_gap_days: 365.0,
        }
    }
}

/// The reason of a warning with its numbers.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReasonKind {
    /// Revenue of the current period vs the previous one (periods of `period_days`); `change`
    /// is relative (-0.6 = -60%).
    RevenueDrop {
        current: f64,
        previous: f64,
        change: f64,
        period_days: u32,
    },
    /// Days since the last purchase vs the mean gap between purchase days.
    LongAbsence {
        days_since_last: f64,
        mean_gap_days: f64,
        ratio: f64,
    },
    /// Model probability of being alive vs the threshold.
    LowPAlive { p_alive: f64, threshold: f64 },
    /// A one-time buyer: days since its only purchase day vs the population's typical time to
    /// a second purchase (`quantile` of the first-to-second gaps of `repeat_buyers` repeat
    /// buyers; `repeat_buyers` 0: too few of them, the configured default gap).
    NoSecondPurchase {
        days_since_purchase: f64,
        typical_gap_days: f64,
        quantile: f64,
        repeat_buyers: u32,
    },
}

/// One reason, with a sentence for people ([`ChurnReason::detail`]; serialized as `detail`
/// next to the figures of the kind).
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
pub struct ChurnReason {
    #[serde(flatten)]
    pub kind: ReasonKind,
}

impl ChurnReason {
    /// The figures behind the warning as a sentence (English). Written on demand: a million
    /// customers carry hundreds of thousands of reasons, and most are never read.
    pub fn detail(&self) -> String {
        match self.kind {
            ReasonKind::RevenueDrop {
                current,
                previous,
                change,
                period_days,
            } => format!(
                "revenue of the last {period_days} days fell {}% ({} after {} the {period_days} days before)",
                Fixed(-100.0 * change, 0),
                Fixed(current, 2),
                Fixed(previous, 2)
            ),
            ReasonKind::LongAbsence {
                days_since_last,
                mean_gap_days,
                ratio,
            } => format!(
                "no purchase for {} days, {} times the usual gap of {} days",
                Fixed(days_since_last, 0),
                Fixed(ratio, 1),
                Fixed(mean_gap_days, 1)
            ),
            ReasonKind::LowPAlive { p_alive, threshold } => format!(
                "probability of still being active is {}% (alert below {}%)",
                Fixed(100.0 * p_alive, 0),
                Fixed(100.0 * threshold, 0)
            ),
            ReasonKind::NoSecondPurchase {
                days_since_purchase,
                typical_gap_days,
                quantile,
                repeat_buyers,
            } if repeat_buyers > 0 => format!(
                "one purchase only, {} days ago; {}% of the customers who bought again did so within {} days",
                Fixed(days_since_purchase, 0),
                Fixed(100.0 * quantile, 0),
                Fixed(typical_gap_days, 0)
            ),
            ReasonKind::NoSecondPurchase {
                days_since_purchase,
                typical_gap_days,
                ..
            } => format!(
                "one purchase only, {} days ago; no second purchase within the default {} days (too few repeat buyers to measure the usual gap)",
                Fixed(days_since_purchase, 0),
                Fixed(typical_gap_days, 0)
            ),
        }
    }
}

impl serde::Serialize for ChurnReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct WithDetail<'a> {
            #[serde(flatten)]
            kind: &'a ReasonKind,
            detail: String,
        }
        WithDetail {
            kind: &self.kind,
            detail: self.detail(),
        }
        .serialize(serializer)
    }
}

/// A customer that needs care now.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChurnWarning {
    pub customer: u32,
    /// Margin over the value window ending on `as_of`.
    pub value_at_risk: f64,
    pub reasons: Vec<ChurnReason>,
}

/// Errors of [`churn_warnings`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChurnError {
    /// An order line names an unknown customer or has a non-finite amount.
    #[error(transparent)]
    Lines(#[from] HistoryError),
    #[error("p_alive has {got} entries, expected one per customer ({n_customers})")]
    PAliveLength { got: usize, n_customers: usize },
    #[error("period_days must be at least 1")]
    BadPeriod,
}

/// A number with a fixed count of decimals, written through integers: `{:.N}` goes through
/// exact (Dragon) formatting, which dominated the warnings of a million customers.
struct Fixed(f64, u32);

impl std::fmt::Display for Fixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Fixed(x, decimals) = *self;
        let scale = 10f64.powi(decimals as i32);
        let scaled = (x * scale).round();
        if !x.is_finite() || scaled.abs() >= 9.0e15 {
            return write!(f, "{:.*}", decimals as usize, x);
        }
        let n = scaled as i64;
        let sign = if n < 0 { "-" } else { "" };
        let n = n.unsigned_abs();
        let s = scale as u64;
        if decimals == 0 {
            write!(f, "{sign}{n}")
        } else {
            write!(f, "{sign}{}.{:0w$}", n / s, n % s, w = decimals as usize)
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Acc {
    current: f64,
    previous: f64,
    value: f64,
}

/// Churn warnings as of day `as_of` for customers `0..n_customers`.
///
/// `p_alive`, when given, has one entry per customer. Runs in `O(lines)` plus sorting each
/// customer's purchase days.
pub fn churn_warnings(
    orders: &[OrderLine],
    n_customers: usize,
    as_of: Day,
    p_alive: Option<&[f64]>,
    cfg: &ChurnConfig,
) -> Result<Vec<ChurnWarning>, ChurnError> {
    if let Some(p) = p_alive {
        if p.len() != n_customers {
            return Err(ChurnError::PAliveLength {
                got: p.len(),
                n_customers,
            });
        }
    }
    churn_pending(orders, n_customers, as_of, cfg)?.finish(p_alive)
}

/// The order-based part of [`churn_warnings`] (revenue drop, long absence, value at risk),
/// waiting for P(alive): lets callers compute it while the models are being fitted.
#[derive(Debug, Clone)]
pub struct ChurnPending {
    cfg: ChurnConfig,
    /// Value at risk per customer.
    value: Vec<f64>,
    /// Customers with order-based reasons, ascending.
    warned: Vec<(u32, Vec<ChurnReason>)>,
    /// The typical time to a second purchase the one-time buyers were judged by.
    typical_gap: Option<TypicalGap>,
}

/// The population's typical time to a second purchase (the one-time buyers' rule, see the
/// module docs): what a single customer is judged by between two population refreshes.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TypicalGap {
    /// Days within which the `quantile` share of the repeat buyers bought again.
    pub gap_days: f64,
    /// The quantile (e.g. 0.9).
    pub quantile: f64,
    /// Repeat buyers measured (0: too few, the configured default gap).
    pub repeat_buyers: u32,
}

impl ChurnPending {
    /// The typical time to a second purchase used (`None`: the one-time rule is off).
    pub fn typical_gap(&self) -> Option<TypicalGap> {
        self.typical_gap
    }

    /// Adds the low-P(alive) reasons (`p_alive`: one entry per customer, non-finite ignored)
    /// and returns the warnings sorted as [`churn_warnings`] does.
    pub fn finish(self, p_alive: Option<&[f64]>) -> Result<Vec<ChurnWarning>, ChurnError> {
        let n_customers = self.value.len();
        if let Some(p) = p_alive {
            if p.len() != n_customers {
                return Err(ChurnError::PAliveLength {
                    got: p.len(),
                    n_customers,
                });
            }
        }
        let cfg = self.cfg;
        let low = |c: usize| {
            p_alive
                .map(|p| p[c])
                .filter(|p| p.is_finite() && *p < cfg.p_alive_threshold)
        };
        let reason = |p: f64| ChurnReason {
            kind: ReasonKind::LowPAlive {
                p_alive: p,
                threshold: cfg.p_alive_threshold,
            },
        };
        let mut warnings = Vec::with_capacity(self.warned.len());
        let mut warned = self.warned.into_iter().peekable();
        for c in 0..n_customers {
            let mut reasons = match warned.peek() {
                Some((k, _)) if *k as usize == c => warned.next().expect("peeked").1,
                _ => Vec::new(),
            };
            if let Some(p) = low(c) {
                reasons.push(reason(p));
            }
            if !reasons.is_empty() {
                warnings.push(ChurnWarning {
                    customer: c as u32,
                    value_at_risk: self.value[c],
                    reasons,
                });
            }
        }
        warnings.sort_by(|x, y| {
            y.value_at_risk
                .total_cmp(&x.value_at_risk)
                .then(x.customer.cmp(&y.customer))
        });
        Ok(warnings)
    }
}

/// Revenue-drop and long-absence reasons and the value at risk; [`ChurnPending::finish`] adds
/// P(alive).
pub fn churn_pending(
    orders: &[OrderLine],
    n_customers: usize,
    as_of: Day,
    cfg: &ChurnConfig,
) -> Result<ChurnPending, ChurnError> {
    if cfg.period_days == 0 {
        return Err(ChurnError::BadPeriod);
    }
    let histories = Histories::group(orders, n_customers)?;
    churn_pending_histories(&histories, as_of, cfg)
}

/// [`churn_pending`] of order lines already grouped by customer (one walk per customer, the
/// customers split over threads for big inputs).
pub fn churn_pending_histories(
    histories: &Histories,
    as_of: Day,
    cfg: &ChurnConfig,
) -> Result<ChurnPending, ChurnError> {
    churn_pending_judged(histories, as_of, cfg, None)
}

/// [`churn_pending_histories`] with the one-time buyers judged by a given typical time to a
/// second purchase (`None`: no one-time rule) instead of the one measured on `histories`: the
/// figures of a few customers against the population's gap of the last refresh.
pub fn churn_pending_with_gap(
    histories: &Histories,
    as_of: Day,
    cfg: &ChurnConfig,
    typical_gap: Option<TypicalGap>,
) -> Result<ChurnPending, ChurnError> {
    churn_pending_judged(histories, as_of, cfg, Some(typical_gap))
}

/// The churn walk; `given`: the typical gap to use (`None`: measure it on `histories`).
fn churn_pending_judged(
    histories: &Histories,
    as_of: Day,
    cfg: &ChurnConfig,
    given: Option<Option<TypicalGap>>,
) -> Result<ChurnPending, ChurnError> {
    if cfg.period_days == 0 {
        return Err(ChurnError::BadPeriod);
    }
    let as_of64 = i64::from(as_of);
    let period = i64::from(cfg.period_days);
    let value_from = as_of64 - i64::from(cfg.value_window_days);
    let min_days = cfg.min_purchase_days.max(2) as usize;

    let judged = histories.map_ranges(histories.threads(), |range| {
        range
            .map(|c| {
                let own = histories.until(c, as_of);
                let mut a = Acc::default();
                let mut distinct = 0usize;
                let mut previous_day = None;
                for o in own {
                    let d = i64::from(o.day);
                    if d > as_of64 - period {
                        a.current += o.revenue;
                    } else if d > as_of64 - 2 * period {
                        a.previous += o.revenue;
                    }
                    if d > value_from {
                        a.value += o.revenue - o.cost;
                    }
                    if previous_day != Some(o.day) {
                        distinct += 1;
                        previous_day = Some(o.day);
                    }
                }
                let mut reasons = Vec::new();
                if a.previous > 0.0 && a.previous >= cfg.min_previous_revenue {
                    let change = (a.current - a.previous) / a.previous;
                    if change < -cfg.drop_threshold {
                        reasons.push(ChurnReason {
                            kind: ReasonKind::RevenueDrop {
                                current: a.current,
                                previous: a.previous,
                                change,
                                period_days: cfg.period_days,
                            },
                        });
                    }
                }
                if distinct >= min_days {
                    let (first, last) = (f64::from(own[0].day), f64::from(own[own.len() - 1].day));
                    let mean_gap = (last - first) / (distinct - 1) as f64;
                    let since = f64::from(as_of) - last;
                    let ratio = since / mean_gap;
                    if since > cfg.absence_factor * mean_gap {
                        reasons.push(ChurnReason {
                            kind: ReasonKind::LongAbsence {
                                days_since_last: since,
                                mean_gap_days: mean_gap,
                                ratio,
                            },
                        });
                    }
                }
                // First purchase day and the gap to the second one (0: one purchase day).
                let second_gap = own
                    .iter()
                    .find(|o| o.day != own[0].day)
                    .map_or(0, |o| i64::from(o.day) - i64::from(own[0].day));
                let first = own.first().map(|o| o.day);
                (a.value, reasons, first.map(|d| (d, distinct, second_gap)))
            })
            .collect()
    });
    let typical = match given {
        Some(gap) => gap,
        None => typical_second_gap(
            judged
                .iter()
                .filter_map(|(_, _, p)| p.filter(|p| p.1 >= 2).map(|p| p.2 as f64)),
            cfg,
        )
        .map(|(gap_days, quantile, repeat_buyers)| TypicalGap {
            gap_days,
            quantile,
            repeat_buyers,
        }),
    };
    let mut value = Vec::with_capacity(judged.len());
    let mut warned = Vec::new();
    for (c, (v, mut reasons, purchases)) in judged.into_iter().enumerate() {
        value.push(v);
        if let (
            Some(TypicalGap {
                gap_days: gap,
                quantile,
                repeat_buyers,
            }),
            Some((day, 1, _)),
        ) = (typical, purchases)
        {
            let since = f64::from(as_of) - f64::from(day);
            if since > gap {
                reasons.push(ChurnReason {
                    kind: ReasonKind::NoSecondPurchase {
                        days_since_purchase: since,
                        typical_gap_days: gap,
                        quantile,
                        repeat_buyers,
                    },
                });
            }
        }
        if !reasons.is_empty() {
            warned.push((c as u32, reasons));
        }
    }
    Ok(ChurnPending {
        cfg: *cfg,
        value,
        warned,
        typical_gap: typical,
    })
}

/// The typical time to a second purchase: (gap, quantile, repeat buyers measured; 0 when the
/// default gap is used), `None` when the rule is off.
fn typical_second_gap(
    gaps: impl Iterator<Item = f64>,
    cfg: &ChurnConfig,
) -> Option<(f64, f64, u32)> {
    let q = cfg.one_time_gap_quantile;
    if !(q > 0.0 && q <= 1.0) {
        return None;
    }
    let mut gaps: Vec<f64> = gaps.filter(|g| g.is_finite()).collect();
    if gaps.is_empty() || gaps.len() < cfg.one_time_min_repeat_buyers as usize {
        let d = cfg.one_time_default_gap_days;
        return (d.is_finite() && d >= 0.0).then_some((d, q, 0));
    }
    // Nearest rank: the smallest gap with at least a share q of the gaps at or below it.
    let rank = ((q * gaps.len() as f64).ceil() as usize).clamp(1, gaps.len());
    let (_, g, _) = gaps.select_nth_unstable_by(rank - 1, f64::total_cmp);
    Some((*g, q, u32::try_from(gaps.len()).unwrap_or(u32::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_decimals() {
        assert_eq!(Fixed(12.345, 2).to_string(), "12.35");
        assert_eq!(Fixed(-0.4, 0).to_string(), "0");
        assert_eq!(Fixed(-75.0, 0).to_string(), "-75");
        assert_eq!(Fixed(3.04, 1).to_string(), "3.0");
        assert_eq!(Fixed(0.05, 2).to_string(), "0.05");
    }

    fn o(customer: u32, day: Day, revenue: f64) -> OrderLine {
        OrderLine {
            customer,
            day,
            revenue,
            cost: 0.25 * revenue,
        }
    }

    const AS_OF: Day = 1000;

    #[test]
    fn revenue_drop() {
        // Customer 0: 400 in the previous quarter, 100 now: -75%.
        // Customer 1: 400 then 300: -25%, no warning.
        // Customer 2: nothing before, 100 now: no warning.
        let orders = [
            o(0, AS_OF - 100, 400.0),
            o(0, AS_OF - 10, 100.0),
            o(1, AS_OF - 100, 400.0),
            o(1, AS_OF - 89, 300.0),
            o(2, AS_OF - 5, 100.0),
        ];
        let cfg = ChurnConfig {
            absence_factor: 100.0,
            ..ChurnConfig::default()
        };
        let w = churn_warnings(&orders, 3, AS_OF, None, &cfg).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].customer, 0);
        match w[0].reasons[0].kind {
            ReasonKind::RevenueDrop {
                current,
                previous,
                change,
                period_days,
            } => {
                assert_eq!((current, previous), (100.0, 400.0));
                assert_eq!(period_days, cfg.period_days);
                assert!((change + 0.75).abs() < 1e-12);
            }
            other => panic!("{other:?}"),
        }
        assert!(w[0].reasons[0].detail().contains("fell 75%"));
        // Serialized: the kind, its figures and the sentence; read back without the sentence.
        let json = serde_json::to_value(w[0].reasons[0]).unwrap();
        assert_eq!(json["kind"], "revenue_drop");
        assert_eq!(json["previous"], 400.0);
        assert_eq!(json["period_days"], cfg.period_days);
        assert_eq!(json["detail"], w[0].reasons[0].detail());
        let back: ChurnReason = serde_json::from_value(json).unwrap();
        assert_eq!(back, w[0].reasons[0]);
        assert!((w[0].value_at_risk - 0.75 * 500.0).abs() < 1e-9);
    }

    #[test]
    fn absence_relative_to_own_rhythm() {
        // Customer 0 buys every 10 days, last 30 days ago: 3 gaps -> warning.
        // Customer 1 buys every 100 days, last 30 days ago: fine.
        // Customer 2 bought once (twice the same day): no rhythm, no absence warning (the
        // one-time rule is off here; see `one_time_buyer_past_the_typical_gap`).
        let mut orders = vec![];
        for k in 0..5 {
            orders.push(o(0, AS_OF - 30 - 10 * k, 10.0));
            orders.push(o(1, AS_OF - 30 - 100 * k, 10.0));
        }
        orders.push(o(2, 10, 5.0));
        orders.push(o(2, 10, 5.0));
        orders.push(o(0, AS_OF + 5, 99.0)); // after as_of: ignored
        let cfg = ChurnConfig {
            one_time_gap_quantile: 0.0,
            ..ChurnConfig::default()
        };
        let w = churn_warnings(&orders, 3, AS_OF, None, &cfg).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].customer, 0);
        match w[0].reasons[0].kind {
            ReasonKind::LongAbsence {
                days_since_last,
                mean_gap_days,
                ratio,
            } => {
                assert_eq!(days_since_last, 30.0);
                assert_eq!(mean_gap_days, 10.0);
                assert_eq!(ratio, 3.0);
            }
            other => panic!("{other:?}"),
        }
        assert!(w[0].reasons[0].detail().contains("3.0 times"));
    }

    #[test]
    fn p_alive_and_sorting_by_value_at_risk() {
        let orders = [
            o(0, AS_OF - 10, 100.0),
            o(1, AS_OF - 10, 1000.0),
            o(2, AS_OF - 400, 5000.0), // outside the value window
            OrderLine {
                customer: 3,
                day: AS_OF - 1,
                revenue: 10.0,
                cost: 50.0,
            },
        ];
        let p = [0.1, 0.2, 0.05, 0.01];
        let w = churn_warnings(&orders, 4, AS_OF, Some(&p), &ChurnConfig::default()).unwrap();
        let ids: Vec<u32> = w.iter().map(|x| x.customer).collect();
        assert_eq!(ids, vec![1, 0, 2, 3]);
        assert_eq!(w[2].value_at_risk, 0.0);
        assert_eq!(w[3].value_at_risk, -40.0);
        assert!(matches!(
            w[0].reasons[0].kind,
            ReasonKind::LowPAlive { p_alive, threshold } if p_alive == 0.2 && threshold == 0.3
        ));
        let p = [0.9, f64::NAN, 0.5, 0.3];
        let w = churn_warnings(&orders, 4, AS_OF, Some(&p), &ChurnConfig::default()).unwrap();
        // Only the one-time buyer of 400 days ago (beyond the default gap of 365 days).
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].customer, 2);
        assert!(matches!(
            w[0].reasons[..],
            [ChurnReason {
                kind: ReasonKind::NoSecondPurchase {
                    repeat_buyers: 0,
                    ..
                }
            }]
        ));
    }

    #[test]
    fn one_time_buyer_past_the_typical_gap() {
        // 20 repeat buyers: first-to-second gaps of 10, 20, .., 200 days -> 90th percentile
        // (nearest rank: the 18th of 20) = 180 days.
        let mut orders = vec![];
        for k in 0..20u32 {
            orders.push(o(k, 100, 10.0));
            orders.push(o(k, 100 + 10 * (k as Day + 1), 10.0));
            orders.push(o(k, AS_OF - 5, 10.0)); // a third purchase, recent: no other reason
        }
        // One-time buyers: 181 days ago (warned), 180 days ago (not: not longer than the gap),
        // two years ago with two orders on its one day (warned), none before as_of (not).
        orders.push(o(20, AS_OF - 181, 50.0));
        orders.push(o(21, AS_OF - 180, 50.0));
        orders.push(o(22, AS_OF - 730, 50.0));
        orders.push(o(22, AS_OF - 730, 25.0));
        orders.push(o(23, AS_OF + 1, 50.0));
        let cfg = ChurnConfig {
            absence_factor: 1e9,
            ..ChurnConfig::default()
        };
        let w = churn_warnings(&orders, 24, AS_OF, Some(&[1.0; 24]), &cfg).unwrap();
        let mut ids: Vec<u32> = w.iter().map(|x| x.customer).collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![20, 22]);
        let two_years = w.iter().find(|x| x.customer == 22).unwrap();
        assert_eq!(
            two_years.reasons[0].kind,
            ReasonKind::NoSecondPurchase {
                days_since_purchase: 730.0,
                typical_gap_days: 180.0,
                quantile: 0.9,
                repeat_buyers: 20,
            }
        );
        assert_eq!(
            two_years.reasons[0].detail(),
            "one purchase only, 730 days ago; 90% of the customers who bought again did so within 180 days"
        );
        let json = serde_json::to_value(two_years.reasons[0]).unwrap();
        assert_eq!(json["kind"], "no_second_purchase");
        assert_eq!(json["typical_gap_days"], 180.0);
        let back: ChurnReason = serde_json::from_value(json).unwrap();
        assert_eq!(back, two_years.reasons[0]);

        // Median instead of the 90th percentile: the 10th gap, 100 days; 180 days ago is warned.
        let median = ChurnConfig {
            one_time_gap_quantile: 0.5,
            ..cfg
        };
        let w = churn_warnings(&orders, 24, AS_OF, None, &median).unwrap();
        assert_eq!(w.len(), 3);
        // Too few repeat buyers: the default gap (365 days), said in the reason.
        let few = ChurnConfig {
            one_time_min_repeat_buyers: 21,
            ..cfg
        };
        let w = churn_warnings(&orders, 24, AS_OF, None, &few).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].customer, 22);
        assert!(w[0].reasons[0].detail().contains("default 365 days"));
        // Off.
        let off = ChurnConfig {
            one_time_gap_quantile: f64::NAN,
            ..cfg
        };
        assert!(churn_warnings(&orders, 24, AS_OF, None, &off)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn degenerate_inputs_and_errors() {
        let cfg = ChurnConfig::default();
        assert!(churn_warnings(&[], 0, 0, None, &cfg).unwrap().is_empty());
        assert!(churn_warnings(&[], 5, 0, Some(&[0.9; 5]), &cfg)
            .unwrap()
            .is_empty());
        // All-zero revenue: no drop (nothing to lose), no NaN.
        let zero = [o(0, AS_OF - 100, 0.0), o(0, AS_OF - 10, 0.0)];
        assert!(churn_warnings(&zero, 1, AS_OF, None, &cfg)
            .unwrap()
            .is_empty());
        assert!(matches!(
            churn_warnings(&[o(3, 0, 1.0)], 1, AS_OF, None, &cfg),
            Err(ChurnError::Lines(HistoryError::CustomerOutOfRange {
                customer: 3,
                ..
            }))
        ));
        assert!(matches!(
            churn_warnings(&[], 2, AS_OF, Some(&[0.5]), &cfg),
            Err(ChurnError::PAliveLength { got: 1, .. })
        ));
        let bad = ChurnConfig {
            period_days: 0,
            ..cfg
        };
        assert_eq!(
            churn_warnings(&[], 1, AS_OF, None, &bad),
            Err(ChurnError::BadPeriod)
        );
        let cfg: ChurnConfig = toml::from_str("absence_factor = 3.0\nperiod_days = 30").unwrap();
        assert_eq!(cfg.absence_factor, 3.0);
        assert_eq!(cfg.period_days, 30);
        assert_eq!(cfg.drop_threshold, 0.5);
    }
}
