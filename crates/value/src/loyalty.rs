//! Loyalty stages (suspect -> prospect -> first-time buyer -> repeat buyer -> advocate), stage
//! counts, who moved between two dates, and lifecycle phases of a customer's margin.
//!
//! # Stages as of a day `d` (from data only)
//!
//! * not known: the record was created after `d` (`known_since > d`);
//! * **suspect**: a known record without interaction and without purchase up to `d`;
//! * **prospect**: an interaction (or a lead / tracking / intent status, which the caller maps
//!   to `first_interaction`) on or before `d`, but no purchase;
//! * **first-time buyer**: exactly one purchase day up to `d`;
//! * **repeat buyer**: two or more purchase days (several orders on one day count once);
//! * **advocate**: a buyer (one or more purchase days) who referred at least
//!   [`LoyaltyConfig::min_referrals`] other customers up to `d` (the referrers the dashboard
//!   counts, see [`with_referrals`]), or, when [`LoyaltyConfig::feedback_min_purchases`] is
//!   set, a repeat buyer with at least that many purchase days who gave positive feedback up
//!   to `d`. A referrer who never bought stays a suspect or prospect: advocacy of a company
//!   one has not bought from is not loyalty.
//!
//! Every criterion accumulates over time, so stages never go backwards; dropping out is the
//! churn module's business.
//!
//! # Lifecycle phase
//!
//! From a customer's margin per period (e.g. per quarter, oldest first, from its first period to
//! the current one), see [`lifecycle_phase`]:
//!
//! 1. **introduction** while the customer is at most `intro_periods` periods old;
//! 2. otherwise fit a least-squares line to the last `window` periods; the *relative slope* is
//!    the slope divided by the scale `max(|window mean|, mean |margin| of the whole series)`;
//! 3. **decline** if the relative slope is `<= -slope_threshold`;
//! 4. **growth** if it is `>= slope_threshold`;
//! 5. **decline** if the window mean fell below `decline_level` times the best mean of any
//!    `window` consecutive periods (a customer that stopped contributing);
//! 6. **maturity** otherwise.
//!
//! A temporarily unprofitable customer with a rising trend is therefore in growth, not decline.

use crate::Day;

/// Loyalty stages, in ladder order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Suspect,
    Prospect,
    FirstTimeBuyer,
    RepeatBuyer,
    Advocate,
}

impl Stage {
    /// All stages in ladder order.
    pub const ALL: [Stage; 5] = [
        Stage::Suspect,
        Stage::Prospect,
        Stage::FirstTimeBuyer,
        Stage::RepeatBuyer,
        Stage::Advocate,
    ];
}

/// What the stage of one customer is computed from.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LoyaltyInput {
    pub customer: u32,
    /// Day the record became known (`None`: always known).
    pub known_since: Option<Day>,
    /// First interaction (contact, lead / tracking / intent status), if any.
    pub first_interaction: Option<Day>,
    /// Days with a purchase, any order, duplicates allowed.
    pub purchase_days: Vec<Day>,
    /// Days on which this customer referred another customer (one entry per referral).
    pub referral_days: Vec<Day>,
    /// First positive feedback (promoter answer, testimonial), if any.
    pub positive_feedback: Option<Day>,
}

/// Configuration of the advocate rule.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LoyaltyConfig {
    /// Referrals that make a buyer an advocate (default 1; 0 disables the rule).
    pub min_referrals: u32,
    /// If set, a repeat buyer with at least this many purchase days and positive feedback is
    /// an advocate too (default: not set).
    pub feedback_min_purchases: Option<u32>,
}

impl Default for LoyaltyConfig {
    fn default() -> Self {
        LoyaltyConfig {
            min_referrals: 1,
            feedback_min_purchases: None,
        }
    }
}

/// Distinct days of `days` that are `<= day`.
fn distinct_days_until(days: &[Day], day: Day) -> usize {
    let mut seen: Vec<Day> = days.iter().copied().filter(|&d| d <= day).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

/// Stage of a customer as of `day` (`None`: the record is not known yet).
pub fn stage_at(input: &LoyaltyInput, day: Day, cfg: &LoyaltyConfig) -> Option<Stage> {
    if input.known_since.is_some_and(|k| k > day) {
        return None;
    }
    let purchases = distinct_days_until(&input.purchase_days, day);
    let stage = match purchases {
        0 if input.first_interaction.is_some_and(|d| d <= day) => Stage::Prospect,
        0 => Stage::Suspect,
        1 => Stage::FirstTimeBuyer,
        _ => {
            let by_feedback = cfg.feedback_min_purchases.is_some_and(|m| {
                purchases >= m as usize && input.positive_feedback.is_some_and(|d| d <= day)
            });
            if by_feedback {
                Stage::Advocate
            } else {
                Stage::RepeatBuyer
            }
        }
    };
    let referrals = input.referral_days.iter().filter(|&&d| d <= day).count();
    Some(with_referrals(stage, referrals, cfg))
}

/// The stage of a customer in `stage` (from its purchases) who referred `referrals` other
/// customers: a buyer (first-time or repeat) with at least [`LoyaltyConfig::min_referrals`]
/// referrals is an advocate; other stages are kept. What the value refresh stores, from the
/// customers whose record names them as referrer.
pub fn with_referrals(stage: Stage, referrals: usize, cfg: &LoyaltyConfig) -> Stage {
    let buyer = matches!(stage, Stage::FirstTimeBuyer | Stage::RepeatBuyer);
    if buyer && cfg.min_referrals > 0 && referrals >= cfg.min_referrals as usize {
        Stage::Advocate
    } else {
        stage
    }
}

/// Customers per stage.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct StageCounts {
    pub suspect: u64,
    pub prospect: u64,
    pub first_time_buyer: u64,
    pub repeat_buyer: u64,
    pub advocate: u64,
    /// Records not known yet at the date.
    pub not_known: u64,
}

impl StageCounts {
    fn add(&mut self, stage: Option<Stage>) {
        match stage {
            None => self.not_known += 1,
            Some(Stage::Suspect) => self.suspect += 1,
            Some(Stage::Prospect) => self.prospect += 1,
            Some(Stage::FirstTimeBuyer) => self.first_time_buyer += 1,
            Some(Stage::RepeatBuyer) => self.repeat_buyer += 1,
            Some(Stage::Advocate) => self.advocate += 1,
        }
    }

    /// Count of one stage.
    pub fn get(&self, stage: Stage) -> u64 {
        match stage {
            Stage::Suspect => self.suspect,
            Stage::Prospect => self.prospect,
            Stage::FirstTimeBuyer => self.first_time_buyer,
            Stage::RepeatBuyer => self.repeat_buyer,
            Stage::Advocate => self.advocate,
        }
    }
}

/// Customers per stage as of `day`.
pub fn stage_counts(inputs: &[LoyaltyInput], day: Day, cfg: &LoyaltyConfig) -> StageCounts {
    let mut c = StageCounts::default();
    for i in inputs {
        c.add(stage_at(i, day, cfg));
    }
    c
}

/// One customer that changed stage.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Move {
    pub customer: u32,
    /// `None`: not known at the first date.
    pub from: Option<Stage>,
    pub to: Stage,
}

/// Transitions between two dates.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Transitions {
    pub from_day: Day,
    pub to_day: Day,
    /// `counts[i][j]`: customers in state `i` at `from_day` and `j` at `to_day`, where state 0 is
    /// "not known" and states 1..=5 are [`Stage::ALL`] in order.
    pub counts: [[u64; 6]; 6],
    /// Customers whose state changed, in input order.
    pub movers: Vec<Move>,
}

fn state_index(s: Option<Stage>) -> usize {
    s.map_or(0, |s| s as usize + 1)
}

/// Who moved from which stage to which between `from_day` and `to_day`.
pub fn transitions(
    inputs: &[LoyaltyInput],
    from_day: Day,
    to_day: Day,
    cfg: &LoyaltyConfig,
) -> Transitions {
    let mut counts = [[0u64; 6]; 6];
    let mut movers = Vec::new();
    for i in inputs {
        let a = stage_at(i, from_day, cfg);
        let b = stage_at(i, to_day, cfg);
        counts[state_index(a)][state_index(b)] += 1;
        if let (true, Some(to)) = (a != b, b) {
            movers.push(Move {
                customer: i.customer,
                from: a,
                to,
            });
        }
    }
    Transitions {
        from_day,
        to_day,
        counts,
        movers,
    }
}

/// Lifecycle phases of a customer's profit contribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Introduction,
    Growth,
    Maturity,
    Decline,
}

/// Configuration of [`lifecycle_phase`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LifecycleConfig {
    /// Customers at most this many periods old are in introduction (default 2).
    pub intro_periods: usize,
    /// Periods of the trend window (default 4, at least 2 used).
    pub window: usize,
    /// Relative slope per period that counts as growth / decline (default 0.10).
    pub slope_threshold: f64,
    /// Window mean below this share of the best window mean is decline (default 0.5).
    pub decline_level: f64,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            intro_periods: 2,
            window: 4,
            slope_threshold: 0.10,
            decline_level: 0.5,
        }
    }
}

/// A phase with the numbers behind it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LifecycleAssessment {
    pub phase: Phase,
    /// Periods since the first one (series length).
    pub age_periods: usize,
    /// Least-squares slope of the margin over the window, per period.
    pub slope: f64,
    /// Slope over the scale (see the module docs).
    pub relative_slope: f64,
    /// Mean margin of the window.
    pub window_mean: f64,
    /// Best mean margin of any window of the series.
    pub best_window_mean: f64,
}

fn ols_slope(y: &[f64]) -> f64 {
    let n = y.len() as f64;
    if y.len() < 2 {
        return 0.0;
    }
    let mx = (n - 1.0) / 2.0;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in y.iter().enumerate() {
        let dx = i as f64 - mx;
        sxy += dx * (v - my);
        sxx += dx * dx;
    }
    sxy / sxx
}

/// Lifecycle phase of a margin series (one value per period, oldest first; non-finite values
/// count as 0). `None` for an empty series.
pub fn lifecycle_phase(margins: &[f64], cfg: &LifecycleConfig) -> Option<LifecycleAssessment> {
    if margins.is_empty() {
        return None;
    }
    let y: Vec<f64> = margins
        .iter()
        .map(|&v| if v.is_finite() { v } else { 0.0 })
        .collect();
    let n = y.len();
    let w = cfg.window.max(2).min(n);
    let window = &y[n - w..];
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let window_mean = mean(window);
    let best_window_mean = y.windows(w).map(mean).fold(f64::NEG_INFINITY, f64::max);
    let slope = ols_slope(window);
    let scale = window_mean
        .abs()
        .max(y.iter().map(|v| v.abs()).sum::<f64>() / n as f64);
    let relative_slope = if scale > 0.0 { slope / scale } else { 0.0 };
    let phase = if n <= cfg.intro_periods {
        Phase::Introduction
    } else if relative_slope <= -cfg.slope_threshold {
        Phase::Decline
    } else if relative_slope >= cfg.slope_threshold {
        Phase::Growth
    } else if best_window_mean > 0.0 && window_mean < cfg.decline_level * best_window_mean {
        Phase::Decline
    } else {
        Phase::Maturity
    };
    Some(LifecycleAssessment {
        phase,
        age_periods: n,
        slope,
        relative_slope,
        window_mean,
        best_window_mean,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(id: u32) -> LoyaltyInput {
        LoyaltyInput {
            customer: id,
            ..LoyaltyInput::default()
        }
    }

    #[test]
    fn ladder() {
        let cfg = LoyaltyConfig::default();
        let mut c = customer(0);
        c.known_since = Some(10);
        assert_eq!(stage_at(&c, 9, &cfg), None);
        assert_eq!(stage_at(&c, 10, &cfg), Some(Stage::Suspect));
        c.first_interaction = Some(20);
        assert_eq!(stage_at(&c, 20, &cfg), Some(Stage::Prospect));
        c.purchase_days = vec![40, 30, 30];
        assert_eq!(stage_at(&c, 30, &cfg), Some(Stage::FirstTimeBuyer));
        assert_eq!(stage_at(&c, 39, &cfg), Some(Stage::FirstTimeBuyer));
        assert_eq!(stage_at(&c, 40, &cfg), Some(Stage::RepeatBuyer));
        c.referral_days = vec![50];
        assert_eq!(stage_at(&c, 49, &cfg), Some(Stage::RepeatBuyer));
        assert_eq!(stage_at(&c, 50, &cfg), Some(Stage::Advocate));
        // A buyer without recorded interaction still is a buyer.
        let mut d = customer(1);
        d.purchase_days = vec![5];
        assert_eq!(stage_at(&d, 5, &cfg), Some(Stage::FirstTimeBuyer));
        // A first-time buyer who referred someone is an advocate too (the referrers the
        // dashboard counts); referrals without a purchase make no advocate.
        d.referral_days = vec![6, 7];
        assert_eq!(stage_at(&d, 5, &cfg), Some(Stage::FirstTimeBuyer));
        assert_eq!(stage_at(&d, 6, &cfg), Some(Stage::Advocate));
        let mut e = customer(2);
        e.referral_days = vec![1];
        e.first_interaction = Some(1);
        assert_eq!(stage_at(&e, 8, &cfg), Some(Stage::Prospect));
        assert_eq!(with_referrals(Stage::Suspect, 3, &cfg), Stage::Suspect);
        assert_eq!(with_referrals(Stage::RepeatBuyer, 1, &cfg), Stage::Advocate);
        assert_eq!(
            with_referrals(Stage::RepeatBuyer, 0, &cfg),
            Stage::RepeatBuyer
        );
    }

    #[test]
    fn advocate_rules_configurable() {
        let mut c = customer(0);
        c.purchase_days = vec![1, 2, 3];
        c.referral_days = vec![4];
        c.positive_feedback = Some(5);
        let no_referrals = LoyaltyConfig {
            min_referrals: 0,
            feedback_min_purchases: None,
        };
        assert_eq!(stage_at(&c, 10, &no_referrals), Some(Stage::RepeatBuyer));
        let feedback = LoyaltyConfig {
            min_referrals: 0,
            feedback_min_purchases: Some(3),
        };
        assert_eq!(stage_at(&c, 4, &feedback), Some(Stage::RepeatBuyer));
        assert_eq!(stage_at(&c, 5, &feedback), Some(Stage::Advocate));
        let strict = LoyaltyConfig {
            min_referrals: 2,
            feedback_min_purchases: Some(4),
        };
        assert_eq!(stage_at(&c, 10, &strict), Some(Stage::RepeatBuyer));
        let cfg: LoyaltyConfig = toml::from_str("feedback_min_purchases = 3").unwrap();
        assert_eq!(cfg.min_referrals, 1);
        assert_eq!(cfg.feedback_min_purchases, Some(3));
    }

    fn population() -> Vec<LoyaltyInput> {
        let mut v: Vec<LoyaltyInput> = (0..5).map(customer).collect();
        v[1].first_interaction = Some(5);
        v[2].purchase_days = vec![5];
        v[3].purchase_days = vec![5, 15];
        v[4].known_since = Some(12);
        v[4].first_interaction = Some(13);
        v
    }

    #[test]
    fn counts_and_transitions() {
        let cfg = LoyaltyConfig::default();
        let pop = population();
        let c = stage_counts(&pop, 10, &cfg);
        assert_eq!(
            (
                c.suspect,
                c.prospect,
                c.first_time_buyer,
                c.repeat_buyer,
                c.advocate,
                c.not_known
            ),
            (1, 1, 2, 0, 0, 1)
        );
        assert_eq!(c.get(Stage::FirstTimeBuyer), 2);
        let t = transitions(&pop, 10, 20, &cfg);
        assert_eq!(t.counts[1][1], 1); // suspect stays
        assert_eq!(t.counts[2][2], 1); // prospect stays
        assert_eq!(t.counts[3][3], 1); // first-time buyer stays
        assert_eq!(t.counts[3][4], 1); // first-time -> repeat
        assert_eq!(t.counts[0][2], 1); // new record, prospect
        assert_eq!(t.counts.iter().flatten().sum::<u64>(), 5);
        assert_eq!(
            t.movers,
            vec![
                Move {
                    customer: 3,
                    from: Some(Stage::FirstTimeBuyer),
                    to: Stage::RepeatBuyer
                },
                Move {
                    customer: 4,
                    from: None,
                    to: Stage::Prospect
                },
            ]
        );
        let empty = transitions(&[], 0, 1, &cfg);
        assert!(empty.movers.is_empty());
        assert_eq!(stage_counts(&[], 0, &cfg), StageCounts::default());
    }

    fn phase(series: &[f64]) -> Phase {
        lifecycle_phase(series, &LifecycleConfig::default())
            .unwrap()
            .phase
    }

    #[test]
    fn lifecycle_phases_of_constructed_series() {
        assert!(lifecycle_phase(&[], &LifecycleConfig::default()).is_none());
        assert_eq!(phase(&[100.0]), Phase::Introduction);
        assert_eq!(phase(&[100.0, 500.0]), Phase::Introduction);
        assert_eq!(phase(&[10.0, 20.0, 40.0, 80.0, 160.0]), Phase::Growth);
        assert_eq!(
            phase(&[10.0, 50.0, 100.0, 100.0, 102.0, 98.0, 101.0]),
            Phase::Maturity
        );
        assert_eq!(
            phase(&[100.0, 100.0, 100.0, 100.0, 80.0, 60.0, 40.0]),
            Phase::Decline
        );
        // Stopped contributing: flat zero after a good history.
        assert_eq!(
            phase(&[100.0, 100.0, 100.0, 100.0, 0.0, 0.0, 0.0, 0.0]),
            Phase::Decline
        );
        // Temporarily unprofitable but recovering: growth.
        assert_eq!(phase(&[50.0, -40.0, -20.0, 0.0, 20.0]), Phase::Growth);
        // All zero: maturity, no NaN.
        let a = lifecycle_phase(&[0.0; 6], &LifecycleConfig::default()).unwrap();
        assert_eq!(a.phase, Phase::Maturity);
        assert_eq!(a.relative_slope, 0.0);
        // Non-finite values count as 0.
        let a = lifecycle_phase(&[f64::NAN, 1.0, 1.0, 1.0], &LifecycleConfig::default()).unwrap();
        assert!(a.slope.is_finite() && a.relative_slope.is_finite());
    }

    #[test]
    fn lifecycle_numbers() {
        let a =
            lifecycle_phase(&[0.0, 10.0, 20.0, 30.0, 40.0], &LifecycleConfig::default()).unwrap();
        assert_eq!(a.age_periods, 5);
        assert!((a.slope - 10.0).abs() < 1e-12);
        assert!((a.window_mean - 25.0).abs() < 1e-12);
        assert!((a.relative_slope - 0.4).abs() < 1e-12);
        assert!((a.best_window_mean - 25.0).abs() < 1e-12);
        let cfg: LifecycleConfig = toml::from_str("window = 8").unwrap();
        assert_eq!(cfg.window, 8);
        assert_eq!(cfg.intro_periods, 2);
    }
}
