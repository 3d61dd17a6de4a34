//! RFM analysis: recency, frequency and monetary quintile scores, named segments and the R x F
//! grid for a heat map.
//!
//! # Scores
//!
//! Each measure is scored 1..=5 by rank among the scored customers: a customer's score is
//! `1 + floor(5 * below / n)` where `below` is the number of customers with a strictly worse
//! value and `n` the number of customers. Ties therefore always share one score (the lowest their
//! group reaches), the result does not depend on the input order, and each score holds at most
//! about a fifth of the customers unless ties force more together (if everyone ties, everyone
//! gets 1; one-time buyers all get F = 1). "Better" means more recent (fewer days since the last
//! purchase), more purchases, more money. Non-finite inputs are treated as 0 (recency: as
//! infinitely long ago).
//!
//! # Segments
//!
//! Segments come from the R and F scores through an ordered list of rules (first match wins,
//! [`RfmConfig::rules`]); the default list is the widely used R/F map:
//!
//! | segment | R | F |
//! | --- | --- | --- |
//! | champions | 5 | 4-5 |
//! | loyal | 3-4 | 4-5 |
//! | potential loyalist | 4-5 | 2-3 |
//! | new | 5 | 1 |
//! | promising | 4 | 1 |
//! | need attention | 3 | 3 |
//! | about to sleep | 3 | 1-2 |
//! | cannot lose | 1-2 | 5 |
//! | at risk | 1-2 | 3-4 |
//! | lost | 1 | 1 |
//! | hibernating | 1-2 | 1-2 |

use crate::summary::CustomerSummary;
use crate::Day;

/// One customer's RFM raw values.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RfmInput {
    /// Dense customer index (carried through to the output).
    pub customer: u32,
    /// Days since the last purchase (smaller = more recent).
    pub days_since_last: f64,
    /// Number of purchases (or purchase periods).
    pub frequency: f64,
    /// The monetary measure scored for M (total or average spend, the caller's choice).
    pub monetary: f64,
    /// Revenue summed in the grid cells.
    pub revenue: f64,
}

/// Named RFM segments.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    Champions,
    Loyal,
    PotentialLoyalist,
    New,
    Promising,
    NeedAttention,
    AboutToSleep,
    AtRisk,
    CannotLose,
    Hibernating,
    Lost,
}

impl Segment {
    /// All segments, in display order (best first).
    pub const ALL: [Segment; 11] = [
        Segment::Champions,
        Segment::Loyal,
        Segment::PotentialLoyalist,
        Segment::New,
        Segment::Promising,
        Segment::NeedAttention,
        Segment::AboutToSleep,
        Segment::AtRisk,
        Segment::CannotLose,
        Segment::Hibernating,
        Segment::Lost,
    ];

    /// The segments' codes (their serde names), in the order of [`Segment::ALL`]: what the
    /// stored figures, the API and the list filters use.
    pub const CODES: [&'static str; 11] = [
        "champions",
        "loyal",
        "potential_loyalist",
        "new",
        "promising",
        "need_attention",
        "about_to_sleep",
        "at_risk",
        "cannot_lose",
        "hibernating",
        "lost",
    ];

    /// The segment's code (`"potential_loyalist"`), as stored and serialized.
    pub fn code(self) -> &'static str {
        Segment::CODES[Segment::ALL
            .iter()
            .position(|s| *s == self)
            .expect("every segment is in ALL")]
    }

    /// The segment of a code.
    pub fn parse(code: &str) -> Option<Segment> {
        Segment::CODES
            .iter()
            .position(|c| *c == code)
            .map(|i| Segment::ALL[i])
    }

    /// Human-readable name.
    pub fn label(self) -> &'static str {
        match self {
            Segment::Champions => "Champions",
            Segment::Loyal => "Loyal",
            Segment::PotentialLoyalist => "Potential loyalist",
            Segment::New => "New",
            Segment::Promising => "Promising",
            Segment::NeedAttention => "Need attention",
            Segment::AboutToSleep => "About to sleep",
            Segment::AtRisk => "At risk",
            Segment::CannotLose => "Cannot lose",
            Segment::Hibernating => "Hibernating",
            Segment::Lost => "Lost",
        }
    }
}

/// A segment rule: R and F score ranges (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentRule {
    pub segment: Segment,
    pub r_min: u8,
    pub r_max: u8,
    pub f_min: u8,
    pub f_max: u8,
}

impl SegmentRule {
    const fn new(segment: Segment, r: (u8, u8), f: (u8, u8)) -> Self {
        SegmentRule {
            segment,
            r_min: r.0,
            r_max: r.1,
            f_min: f.0,
            f_max: f.1,
        }
    }

    fn matches(&self, r: u8, f: u8) -> bool {
        (self.r_min..=self.r_max).contains(&r) && (self.f_min..=self.f_max).contains(&f)
    }
}

/// Which spend is scored for M by [`inputs_from_summaries`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonetaryBasis {
    /// Total revenue.
    #[default]
    Total,
    /// Revenue per purchase period.
    Average,
}

/// RFM configuration.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RfmConfig {
    /// Segment rules, first match wins.
    pub rules: Vec<SegmentRule>,
    /// Segment of customers no rule matches.
    pub fallback: Segment,
    /// Spend scored for M when built from summaries.
    pub monetary: MonetaryBasis,
}

impl Default for RfmConfig {
    fn default() -> Self {
        use Segment::*;
        RfmConfig {
            rules: vec![
                SegmentRule::new(Champions, (5, 5), (4, 5)),
                SegmentRule::new(Loyal, (3, 4), (4, 5)),
                SegmentRule::new(PotentialLoyalist, (4, 5), (2, 3)),
                SegmentRule::new(New, (5, 5), (1, 1)),
                SegmentRule::new(Promising, (4, 4), (1, 1)),
                SegmentRule::new(NeedAttention, (3, 3), (3, 3)),
                SegmentRule::new(AboutToSleep, (3, 3), (1, 2)),
                SegmentRule::new(CannotLose, (1, 2), (5, 5)),
                SegmentRule::new(AtRisk, (1, 2), (3, 4)),
                SegmentRule::new(Lost, (1, 1), (1, 1)),
                SegmentRule::new(Hibernating, (1, 2), (1, 2)),
            ],
            fallback: NeedAttention,
            monetary: MonetaryBasis::Total,
        }
    }
}

impl RfmConfig {
    /// Segment of an R/F score pair.
    pub fn segment(&self, r: u8, f: u8) -> Segment {
        self.rules
            .iter()
            .find(|rule| rule.matches(r, f))
            .map_or(self.fallback, |rule| rule.segment)
    }
}

/// One customer's scores.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RfmScore {
    pub customer: u32,
    /// Recency score 1..=5 (5 = most recent).
    pub r: u8,
    /// Frequency score 1..=5.
    pub f: u8,
    /// Monetary score 1..=5.
    pub m: u8,
    pub segment: Segment,
}

/// One cell of the R x F grid.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct GridCell {
    pub customers: u64,
    pub revenue: f64,
}

/// Count and revenue per segment.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentStat {
    pub segment: Segment,
    pub customers: u64,
    pub revenue: f64,
}

/// Result of [`rfm`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RfmResult {
    /// One entry per input, in input order.
    pub scores: Vec<RfmScore>,
    /// `grid[r-1][f-1]`: customers and revenue with recency score r and frequency score f.
    pub grid: [[GridCell; 5]; 5],
    /// Customers and revenue per segment, in [`Segment::ALL`] order (empty segments included).
    pub segments: Vec<SegmentStat>,
}

fn finite_or(x: f64, default: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        default
    }
}

/// Quintile scores of `values` (higher value = higher score) by the rule in the module docs.
pub fn quintile_scores(values: &[f64]) -> Vec<u8> {
    let n = values.len();
    let order = crate::ranking::ascending(values);
    let mut scores = vec![1u8; n];
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && order[j].0 == order[i].0 {
            j += 1;
        }
        // `i` values are strictly below this tie group.
        let score = (1 + (5 * i) / n).min(5) as u8;
        for &(_, k) in &order[i..j] {
            scores[k as usize] = score;
        }
        i = j;
    }
    scores
}

/// Scores, segments and grid of the given customers.
pub fn rfm(inputs: &[RfmInput], cfg: &RfmConfig) -> RfmResult {
    let recency: Vec<f64> = inputs
        .iter()
        .map(|x| -finite_or(x.days_since_last, f64::INFINITY))
        .map(|x| if x.is_nan() { f64::NEG_INFINITY } else { x })
        .collect();
    let frequency: Vec<f64> = inputs.iter().map(|x| finite_or(x.frequency, 0.0)).collect();
    let monetary: Vec<f64> = inputs.iter().map(|x| finite_or(x.monetary, 0.0)).collect();
    let (rs, fs, ms) = (
        quintile_scores(&recency),
        quintile_scores(&frequency),
        quintile_scores(&monetary),
    );

    let mut grid = [[GridCell::default(); 5]; 5];
    let mut segments: Vec<SegmentStat> = Segment::ALL
        .iter()
        .map(|&segment| SegmentStat {
            segment,
            customers: 0,
            revenue: 0.0,
        })
        .collect();
    let scores = inputs
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let (r, f, m) = (rs[i], fs[i], ms[i]);
            let segment = cfg.segment(r, f);
            let revenue = finite_or(x.revenue, 0.0);
            let cell = &mut grid[usize::from(r - 1)][usize::from(f - 1)];
            cell.customers += 1;
            cell.revenue += revenue;
            let stat = &mut segments[Segment::ALL.iter().position(|&s| s == segment).unwrap_or(0)];
            stat.customers += 1;
            stat.revenue += revenue;
            RfmScore {
                customer: x.customer,
                r,
                f,
                m,
                segment,
            }
        })
        .collect();
    RfmResult {
        scores,
        grid,
        segments,
    }
}

/// The population's quintile boundaries, kept so that one customer can be scored between two
/// population refreshes without ranking everyone again: for each measure, the least value that
/// reached each score 2..=5 (`None`: no customer reached it). Scores are monotone in the value,
/// so a scored customer's score is the highest one whose boundary its value reaches: exactly its
/// score in [`rfm`]. Recency is kept as the day of the last purchase (the days since it grow
/// with the calendar; the day does not), so a later as-of date scores the same last day alike.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RfmBreakpoints {
    /// Least last-purchase day (days since 1970-01-01) of recency scores 2..=5.
    pub recency_last_day: [Option<f64>; 4],
    /// Least frequency (purchase periods) of frequency scores 2..=5.
    pub frequency: [Option<f64>; 4],
    /// Least monetary measure of monetary scores 2..=5.
    pub monetary: [Option<f64>; 4],
}

/// Values closer than this (relative, at least absolute 1e-9) count as equal when compared with
/// a stored boundary (stored figures may come back from JSON a unit in the last place off).
pub(crate) fn reaches(value: f64, boundary: f64) -> bool {
    value >= boundary - 1e-9 * boundary.abs().max(1.0)
}

impl RfmBreakpoints {
    /// The boundaries of a population scored by [`rfm`] (`scores[k]` of `inputs[k]`) as of day
    /// `as_of`.
    pub fn of(inputs: &[RfmInput], scores: &[RfmScore], as_of: Day) -> RfmBreakpoints {
        let mut b = RfmBreakpoints {
            recency_last_day: [None; 4],
            frequency: [None; 4],
            monetary: [None; 4],
        };
        let least = |slot: &mut [Option<f64>; 4], score: u8, v: f64| {
            for s in 2..=score {
                let at = &mut slot[usize::from(s - 2)];
                *at = Some(at.map_or(v, |x: f64| x.min(v)));
            }
        };
        for (x, sc) in inputs.iter().zip(scores) {
            let (r, f, m) = values_of(x, as_of);
            least(&mut b.recency_last_day, sc.r, r);
            least(&mut b.frequency, sc.f, f);
            least(&mut b.monetary, sc.m, m);
        }
        b
    }

    /// The scores and segment of one customer as of day `as_of` against these boundaries.
    pub fn score(&self, x: &RfmInput, as_of: Day, cfg: &RfmConfig) -> RfmScore {
        let (r, f, m) = values_of(x, as_of);
        let score = |slot: &[Option<f64>; 4], v: f64| {
            (2..=5u8)
                .filter(|s| slot[usize::from(s - 2)].is_some_and(|b| reaches(v, b)))
                .max()
                .unwrap_or(1)
        };
        let (r, f, m) = (
            score(&self.recency_last_day, r),
            score(&self.frequency, f),
            score(&self.monetary, m),
        );
        RfmScore {
            customer: x.customer,
            r,
            f,
            m,
            segment: cfg.segment(r, f),
        }
    }
}

/// The three measures of an input as [`rfm`] ranks them, recency as the last purchase day.
fn values_of(x: &RfmInput, as_of: Day) -> (f64, f64, f64) {
    let since = finite_or(x.days_since_last, f64::INFINITY);
    let last = if since.is_nan() {
        f64::NEG_INFINITY
    } else {
        f64::from(as_of) - since
    };
    (
        last,
        finite_or(x.frequency, 0.0),
        finite_or(x.monetary, 0.0),
    )
}

/// RFM inputs of the customers with at least one purchase, as of day `as_of`.
///
/// Frequency is the number of purchase periods (`rft.frequency + 1`); M is total revenue or
/// revenue per purchase period by [`RfmConfig::monetary`].
pub fn inputs_from_summaries(
    summaries: &[CustomerSummary],
    as_of: Day,
    basis: MonetaryBasis,
) -> Vec<RfmInput> {
    summaries
        .iter()
        .filter_map(|s| {
            let last = s.last_day?;
            let purchases = s.rft.frequency + 1.0;
            Some(RfmInput {
                customer: s.customer,
                days_since_last: (f64::from(as_of) - f64::from(last)).max(0.0),
                frequency: purchases,
                monetary: match basis {
                    MonetaryBasis::Total => s.revenue,
                    MonetaryBasis::Average => s.revenue / purchases,
                },
                revenue: s.revenue,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(customer: u32, days: f64, frequency: f64, monetary: f64) -> RfmInput {
        RfmInput {
            customer,
            days_since_last: days,
            frequency,
            monetary,
            revenue: monetary,
        }
    }

    #[test]
    fn quintiles_of_distinct_values() {
        let v: Vec<f64> = (0..10).map(f64::from).rev().collect();
        assert_eq!(quintile_scores(&v), vec![5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
        assert_eq!(quintile_scores(&[]), Vec::<u8>::new());
        assert_eq!(quintile_scores(&[7.0]), vec![1]);
    }

    #[test]
    fn ties_share_the_lowest_score_of_their_group() {
        // 6 one-time buyers, then 2, 2, 3, 9.
        let v = [1.0, 2.0, 1.0, 1.0, 3.0, 1.0, 1.0, 2.0, 9.0, 1.0];
        assert_eq!(quintile_scores(&v), vec![1, 4, 1, 1, 5, 1, 1, 4, 5, 1]);
        assert_eq!(quintile_scores(&[0.0; 4]), vec![1; 4]);
        // Input order does not matter.
        let mut w = v;
        w.reverse();
        let mut s = quintile_scores(&w);
        s.reverse();
        assert_eq!(s, quintile_scores(&v));
    }

    #[test]
    fn default_rules_cover_every_cell() {
        let cfg = RfmConfig::default();
        for r in 1..=5 {
            for f in 1..=5 {
                assert!(cfg.rules.iter().any(|rule| rule.matches(r, f)), "{r}{f}");
            }
        }
        assert_eq!(cfg.segment(5, 5), Segment::Champions);
        assert_eq!(cfg.segment(5, 1), Segment::New);
        assert_eq!(cfg.segment(4, 1), Segment::Promising);
        assert_eq!(cfg.segment(4, 4), Segment::Loyal);
        assert_eq!(cfg.segment(3, 3), Segment::NeedAttention);
        assert_eq!(cfg.segment(3, 2), Segment::AboutToSleep);
        assert_eq!(cfg.segment(2, 5), Segment::CannotLose);
        assert_eq!(cfg.segment(1, 4), Segment::AtRisk);
        assert_eq!(cfg.segment(2, 2), Segment::Hibernating);
        assert_eq!(cfg.segment(1, 1), Segment::Lost);
        assert_eq!(cfg.segment(5, 3), Segment::PotentialLoyalist);
    }

    #[test]
    fn scores_segments_and_grid() {
        let inputs: Vec<RfmInput> = (0..10)
            .map(|i| input(i, f64::from(i) * 10.0, f64::from(10 - i), f64::from(i + 1)))
            .collect();
        let res = rfm(&inputs, &RfmConfig::default());
        assert_eq!(res.scores.len(), 10);
        let best = res.scores[0];
        assert_eq!((best.r, best.f, best.m), (5, 5, 1));
        assert_eq!(best.segment, Segment::Champions);
        let worst = res.scores[9];
        assert_eq!((worst.r, worst.f, worst.m), (1, 1, 5));
        assert_eq!(worst.segment, Segment::Lost);
        let total: u64 = res.grid.iter().flatten().map(|c| c.customers).sum();
        assert_eq!(total, 10);
        assert_eq!(res.grid[4][4].customers, 2);
        assert_eq!(res.grid[4][4].revenue, 1.0 + 2.0);
        let seg_total: u64 = res.segments.iter().map(|s| s.customers).sum();
        assert_eq!(seg_total, 10);
        assert_eq!(res.segments.len(), Segment::ALL.len());
    }

    #[test]
    fn degenerate_inputs() {
        let res = rfm(&[], &RfmConfig::default());
        assert!(res.scores.is_empty());
        let one = rfm(&[input(3, 5.0, 1.0, 0.0)], &RfmConfig::default());
        assert_eq!(one.scores[0].customer, 3);
        assert_eq!((one.scores[0].r, one.scores[0].f), (1, 1));
        let weird = rfm(
            &[
                input(0, f64::NAN, f64::INFINITY, -5.0),
                input(1, 0.0, 2.0, 0.0),
            ],
            &RfmConfig::default(),
        );
        assert_eq!(weird.scores[0].r, 1);
        assert_eq!(weird.scores[1].r, 3);
        assert_eq!(weird.scores[0].m, 1);
        assert!(weird.grid.iter().flatten().all(|c| c.revenue.is_finite()));
    }

    #[test]
    fn from_summaries() {
        use crate::summary::{summarize, SummaryOptions, TimeUnit};
        use crate::OrderLine;
        let o = |customer, day, revenue| OrderLine {
            customer,
            day,
            revenue,
            cost: 0.0,
        };
        let orders = [o(0, 1, 10.0), o(0, 5, 30.0), o(1, 2, 8.0)];
        let s = summarize(&orders, 3, &SummaryOptions::until(10, TimeUnit::Day)).unwrap();
        let inputs = inputs_from_summaries(&s, 10, MonetaryBasis::Average);
        assert_eq!(inputs.len(), 2);
        assert_eq!(inputs[0].days_since_last, 5.0);
        assert_eq!(inputs[0].frequency, 2.0);
        assert_eq!(inputs[0].monetary, 20.0);
        assert_eq!(inputs[0].revenue, 40.0);
        assert_eq!(inputs[1].days_since_last, 8.0);
    }

    #[test]
    fn breakpoints_give_back_every_population_score() {
        let inputs: Vec<RfmInput> = (0..37)
            .map(|i| {
                input(
                    i,
                    f64::from((i * 7) % 23),
                    f64::from(1 + i % 4),
                    f64::from((i * 13) % 17) * 2.5,
                )
            })
            .collect();
        let cfg = RfmConfig::default();
        let res = rfm(&inputs, &cfg);
        let b = RfmBreakpoints::of(&inputs, &res.scores, 100);
        for (x, s) in inputs.iter().zip(&res.scores) {
            assert_eq!(b.score(x, 100, &cfg), *s, "{x:?}");
            // The same last purchase day seen 30 days later scores the same.
            let later = RfmInput {
                days_since_last: x.days_since_last + 30.0,
                ..*x
            };
            assert_eq!(b.score(&later, 130, &cfg), *s);
        }
        // A purchase today is the most recent of all; a new top spender gets M = 5; F stays
        // at the best score the population reached (its tied top frequency got 4).
        let today = input(99, 0.0, 9.0, 1000.0);
        let s = b.score(&today, 100, &cfg);
        assert_eq!((s.r, s.f, s.m), (5, 4, 5));
        assert_eq!(b.frequency[3], None);
        // Back from JSON.
        let back: RfmBreakpoints =
            serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        assert_eq!(back, b);
    }

    #[test]
    fn config_from_toml() {
        let cfg: RfmConfig = toml::from_str("monetary = \"average\"").unwrap();
        assert_eq!(cfg.monetary, MonetaryBasis::Average);
        assert_eq!(cfg.rules, RfmConfig::default().rules);
        let cfg: RfmConfig = toml::from_str(
            "fallback = \"lost\"\n[[rules]]\nsegment = \"champions\"\nr_min = 4\nr_max = 5\nf_min = 1\nf_max = 5",
        )
        .unwrap();
        assert_eq!(cfg.segment(4, 1), Segment::Champions);
        assert_eq!(cfg.segment(3, 1), Segment::Lost);
    }

    #[test]
    fn codes_are_the_serde_names() {
        for s in Segment::ALL {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.code())
            );
            assert_eq!(Segment::parse(s.code()), Some(s));
        }
        assert_eq!(Segment::parse("royal"), None);
    }
}
