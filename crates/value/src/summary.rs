//! Per-customer summary from order lines (lifetimes conventions).
//!
//! [`summarize`] turns raw order lines into one [`CustomerSummary`] per customer: the model inputs
//! ([`Rft`]: frequency, recency, T, monetary value), the money figures of the calibration period
//! (revenue, product cost, relationship-marketing cost, margin) and, when a holdout end is given,
//! the purchases and revenue of the holdout period.
//!
//! # Periods
//!
//! Several purchases in the same *period* count as one purchase (their revenue is summed). What
//! a period is depends on [`Grouping`] and [`TimeUnit`]:
//!
//! | grouping | period of a purchase | recency, T |
//! | --- | --- | --- |
//! | [`Grouping::Days`] (default) | its day | day differences / unit length (1 or 7), fractional |
//! | [`Grouping::Calendar`] | its calendar period: the day, or the week Monday..Sunday | whole periods between period starts |
//! | [`Grouping::Relative`] | `floor((day - first purchase day) / unit length)` | whole periods since the first purchase |
//!
//! With [`TimeUnit::Day`] the three groupings coincide. With [`TimeUnit::Week`]:
//!
//! * `Days` is the convention of the buy-till-you-die literature and of the published CDNOW
//!   files (Fader, Hardie & Lee 2005): frequency counts distinct purchase *days*, recency and T
//!   are day differences divided by 7. It reproduces `cdnow_customers_summary_with_transactions.csv`.
//! * `Calendar` is what the Python package `lifetimes` computes in
//!   `summary_data_from_transaction_data(..., freq="W")`: pandas converts each date with
//!   `to_period("W")` (weeks ending Sunday) back to the week's Monday and then counts distinct
//!   weeks and measures recency and T in whole weeks between those Mondays (the observation end is
//!   converted the same way). One difference, deliberate: lifetimes keeps the whole week that
//!   contains the observation end, so orders placed after the end day but in the same week leak
//!   into its calibration figures; here orders after the calibration end day are always ignored.
//! * `Relative` cuts the customer's time into 7-day blocks starting on the day of its first
//!   purchase.
//!
//! # Cost
//!
//! Everything runs in `O(lines + customers)` plus sorting each customer's own lines by day:
//! [`Histories::group`] (a counting sort by customer index into a single flat buffer, no
//! allocation per customer), then one walk per customer. An analysis that needs the grouped
//! lines for more than the summary groups them once and calls [`summarize_histories`].

use crate::history::{Histories, HistoryError};
use crate::{Day, OrderLine};

/// Time unit in which frequency, recency and T are expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    #[default]
    Day,
    Week,
}

impl TimeUnit {
    /// Length of the unit in days.
    pub fn days(self) -> i32 {
        match self {
            TimeUnit::Day => 1,
            TimeUnit::Week => 7,
        }
    }
}

/// The model inputs of one customer, in the lifetimes conventions.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Rft {
    /// Number of repeat purchase periods (periods with a purchase after the first one).
    pub frequency: f64,
    /// Time from the first to the last purchase period.
    pub recency: f64,
    /// Time from the first purchase to the end of the calibration period.
    #[serde(rename = "T")]
    pub t: f64,
    /// Average spend of the repeat purchase periods (0 when frequency is 0).
    pub monetary_value: f64,
}

/// How purchases are grouped into periods (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Grouping {
    /// Distinct purchase days; recency and T in fractional units (the literature, CDNOW files).
    #[default]
    Days,
    /// Calendar periods (weeks Monday..Sunday), whole units (lifetimes `freq="W"`).
    Calendar,
    /// Blocks of one unit starting at the customer's first purchase day, whole units.
    Relative,
}

/// Relationship-marketing cost charged to customers (part of the CRM margin).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MarketingCost {
    /// No marketing cost.
    #[default]
    None,
    /// A flat amount per customer per time unit of relationship: charged for the customer's
    /// tenure `(calibration_end - first_day) / unit length` (fractional, `TimeUnit::Week` =>
    /// per week). Customers without a purchase in the calibration period are charged nothing.
    PerPeriod(f64),
    /// An explicit amount per customer, indexed by customer (missing entries count as 0).
    PerCustomer(Vec<f64>),
}

/// Relationship-marketing costs recorded for some customers (visits, gifts, events, campaign
/// shares), by customer index: `(day, amount)` each. A customer with records is charged the
/// records dated up to the calibration end instead of the flat [`MarketingCost`], and its CLV
/// projects its recorded yearly rate (see [`RecordedCosts::yearly_rate`]) instead of the flat
/// rate; customers without records keep the flat cost. Cheap to clone (shared).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordedCosts(std::sync::Arc<std::collections::BTreeMap<u32, Vec<(Day, f64)>>>);

impl RecordedCosts {
    /// The records of each customer index.
    pub fn new(records: std::collections::BTreeMap<u32, Vec<(Day, f64)>>) -> Self {
        RecordedCosts(std::sync::Arc::new(records))
    }

    /// No customer has records.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The customer indices with records and their records.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &[(Day, f64)])> {
        self.0.iter().map(|(c, v)| (*c, v.as_slice()))
    }

    /// The records of customer index `c` (`None`: it has none: the flat cost applies).
    pub fn of(&self, c: u32) -> Option<&[(Day, f64)]> {
        self.0.get(&c).map(Vec::as_slice)
    }

    /// The sum of `records` dated up to `end`, summed in cents (amounts are money to the cent,
    /// so the sum is exact).
    pub fn total_until(records: &[(Day, f64)], end: Day) -> f64 {
        let cents: i64 = records
            .iter()
            .filter(|(d, _)| *d <= end)
            .map(|(_, a)| (a * 100.0).round() as i64)
            .sum();
        cents as f64 / 100.0
    }

    /// The recorded yearly rate of a customer: its records up to `end` over its tenure from
    /// its first order (`first_day`; none: from its first record) to `end`, counted as at
    /// least one year (a customer's first months do not inflate a rate they will not keep).
    pub fn yearly_rate(records: &[(Day, f64)], first_day: Option<Day>, end: Day) -> f64 {
        let total = Self::total_until(records, end);
        let first_record = records.iter().map(|(d, _)| *d).filter(|d| *d <= end).min();
        let start = first_day.or(first_record).unwrap_or(end);
        let years = (f64::from(end) - f64::from(start)) / 365.0;
        total / years.max(1.0)
    }
}

/// Options of [`summarize`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SummaryOptions {
    /// Unit of frequency periods, recency and T.
    pub unit: TimeUnit,
    /// How purchases are grouped into periods.
    pub grouping: Grouping,
    /// Last day of the calibration period (inclusive). Later orders are not calibration data.
    /// The default (`Day::MAX`) keeps every order but makes T meaningless: set it for models.
    pub calibration_end: Day,
    /// Last day of the holdout period (inclusive), if any. Orders in
    /// `calibration_end < day <= observation_end` are holdout data; later orders are ignored.
    pub observation_end: Option<Day>,
    /// Relationship-marketing cost.
    pub marketing_cost: MarketingCost,
    /// Recorded costs that replace `marketing_cost` for the customers that have them (not
    /// serialized: an analysis's input, like its order lines).
    #[serde(skip)]
    pub recorded_costs: RecordedCosts,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        SummaryOptions {
            unit: TimeUnit::Day,
            grouping: Grouping::Days,
            calibration_end: Day::MAX,
            observation_end: None,
            marketing_cost: MarketingCost::None,
            recorded_costs: RecordedCosts::default(),
        }
    }
}

impl SummaryOptions {
    /// Options for a calibration period ending on `calibration_end`, other fields default.
    pub fn until(calibration_end: Day, unit: TimeUnit) -> Self {
        SummaryOptions {
            unit,
            calibration_end,
            ..SummaryOptions::default()
        }
    }

    /// Length of the holdout period in the time unit (0 without holdout).
    pub fn holdout_length(&self) -> f64 {
        match self.observation_end {
            Some(end) if end > self.calibration_end => {
                (f64::from(end) - f64::from(self.calibration_end)) / f64::from(self.unit.days())
            }
            _ => 0.0,
        }
    }
}

/// One customer's summary.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct CustomerSummary {
    /// Dense customer index.
    pub customer: u32,
    /// Day of the first order in the calibration period (`None`: no order).
    pub first_day: Option<Day>,
    /// Day of the last order in the calibration period (`None`: no order).
    pub last_day: Option<Day>,
    /// Number of order lines in the calibration period.
    pub orders: u64,
    /// Model inputs (all zero when the customer has no order in the calibration period; such
    /// customers must be left out of model fitting).
    pub rft: Rft,
    /// Revenue of the calibration period.
    pub revenue: f64,
    /// Product cost of the calibration period.
    pub cost: f64,
    /// Relationship-marketing cost charged to the customer.
    pub marketing_cost: f64,
    /// CRM gross margin: `revenue - cost - marketing_cost`.
    pub margin: f64,
    /// Purchase periods in the holdout period (0 without holdout).
    pub holdout_purchases: f64,
    /// Revenue of the holdout period (0 without holdout).
    pub holdout_revenue: f64,
}

/// Errors of [`summarize`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SummaryError {
    /// An order line names a customer outside `0..n_customers` or has a non-finite amount.
    #[error(transparent)]
    Lines(#[from] HistoryError),
    /// The observation end lies before the calibration end.
    #[error("observation end {observation_end} is before calibration end {calibration_end}")]
    BadWindow {
        calibration_end: Day,
        observation_end: Day,
    },
    /// A marketing cost is negative or not finite.
    #[error("marketing cost must be finite and non-negative")]
    BadMarketingCost,
}

/// Days since 1970-01-01 of a civil (proleptic Gregorian) date; `None` for an invalid date.
///
/// ```
/// use patron_value::summary::day_from_ymd;
/// assert_eq!(day_from_ymd(1970, 1, 1), Some(0));
/// assert_eq!(day_from_ymd(1997, 9, 30), Some(10134));
/// assert_eq!(day_from_ymd(1997, 2, 29), None);
/// ```
pub fn day_from_ymd(year: i32, month: u32, day: u32) -> Option<Day> {
    if !(1..=12).contains(&month) || day == 0 || !(-1_000_000..=1_000_000).contains(&year) {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_len = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day > month_len {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = i64::from(if month <= 2 { year - 1 } else { year });
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Day::try_from(era * 146_097 + doe - 719_468).ok()
}

/// Calendar week index of a day: weeks run Monday..Sunday (pandas `W` = `W-SUN`).
/// 1970-01-01 was a Thursday, so week 0 is 1969-12-29..1970-01-04.
fn calendar_week(day: Day) -> i64 {
    (i64::from(day) + 3).div_euclid(7)
}

/// Period index of `day` under the grouping, for a customer whose first purchase day is `first`.
fn period_of(day: Day, first: Day, unit: TimeUnit, grouping: Grouping) -> i64 {
    match (unit, grouping) {
        (TimeUnit::Day, _) | (TimeUnit::Week, Grouping::Days) => i64::from(day),
        (TimeUnit::Week, Grouping::Calendar) => calendar_week(day),
        (TimeUnit::Week, Grouping::Relative) => (i64::from(day) - i64::from(first)).div_euclid(7),
    }
}

/// Time between two days (`from <= to`) in the unit under the grouping.
fn span(from: Day, to: Day, first: Day, unit: TimeUnit, grouping: Grouping) -> f64 {
    match (unit, grouping) {
        (TimeUnit::Day, _) | (TimeUnit::Week, Grouping::Days) => {
            (i64::from(to) - i64::from(from)) as f64 / f64::from(unit.days())
        }
        _ => (period_of(to, first, unit, grouping) - period_of(from, first, unit, grouping)) as f64,
    }
}

/// Summarises order lines per customer (see the module documentation for the conventions).
///
/// `orders` may come in any order; lines after the observation end (or after the calibration
/// end without holdout) are ignored. The result has exactly `n_customers` entries, entry `i`
/// for customer `i`.
///
/// ```
/// use patron_value::{OrderLine, summary::{summarize, SummaryOptions, TimeUnit}};
/// let o = |day, revenue| OrderLine { customer: 0, day, revenue, cost: 0.0 };
/// let orders = [o(0, 10.0), o(0, 5.0), o(7, 20.0), o(14, 30.0)];
/// let s = summarize(&orders, 1, &SummaryOptions::until(21, TimeUnit::Week)).unwrap();
/// assert_eq!(s[0].rft.frequency, 2.0);
/// assert_eq!(s[0].rft.recency, 2.0);
/// assert_eq!(s[0].rft.t, 3.0);
/// assert_eq!(s[0].rft.monetary_value, 25.0);
/// ```
pub fn summarize(
    orders: &[OrderLine],
    n_customers: usize,
    opts: &SummaryOptions,
) -> Result<Vec<CustomerSummary>, SummaryError> {
    check_options(opts)?;
    let histories = Histories::group(orders, n_customers)?;
    summarize_histories(&histories, opts)
}

fn check_options(opts: &SummaryOptions) -> Result<(), SummaryError> {
    match opts.observation_end {
        Some(end) if end < opts.calibration_end => {
            return Err(SummaryError::BadWindow {
                calibration_end: opts.calibration_end,
                observation_end: end,
            })
        }
        _ => {}
    }
    match &opts.marketing_cost {
        MarketingCost::PerPeriod(c) if !(c.is_finite() && *c >= 0.0) => {
            Err(SummaryError::BadMarketingCost)
        }
        MarketingCost::PerCustomer(v) if v.iter().any(|c| !(c.is_finite() && *c >= 0.0)) => {
            Err(SummaryError::BadMarketingCost)
        }
        _ if opts
            .recorded_costs
            .iter()
            .any(|(_, r)| r.iter().any(|(_, a)| !(a.is_finite() && *a >= 0.0))) =>
        {
            Err(SummaryError::BadMarketingCost)
        }
        _ => Ok(()),
    }
}

/// [`summarize`] of order lines already grouped by customer: one walk over each customer's
/// lines, the customers split over threads for big inputs.
pub fn summarize_histories(
    histories: &Histories,
    opts: &SummaryOptions,
) -> Result<Vec<CustomerSummary>, SummaryError> {
    check_options(opts)?;
    let cal_end = opts.calibration_end;
    let obs_end = opts.observation_end.unwrap_or(cal_end);
    let (unit, grouping) = (opts.unit, opts.grouping);
    let summaries = histories.map_ranges(histories.threads(), |range| {
        range
            .map(|c| {
                let mut s = CustomerSummary {
                    customer: c as u32,
                    ..CustomerSummary::default()
                };
                walk_customer(&mut s, histories.until(c, obs_end), cal_end, unit, grouping);
                s.marketing_cost = match (opts.recorded_costs.of(c as u32), &opts.marketing_cost) {
                    (Some(records), _) => RecordedCosts::total_until(records, cal_end),
                    (None, MarketingCost::None) => 0.0,
                    (None, MarketingCost::PerPeriod(rate)) => s.first_day.map_or(0.0, |first| {
                        rate * (f64::from(cal_end) - f64::from(first)) / f64::from(unit.days())
                    }),
                    (None, MarketingCost::PerCustomer(v)) => v.get(c).copied().unwrap_or(0.0),
                };
                s.margin = s.revenue - s.cost - s.marketing_cost;
                s
            })
            .collect()
    });
    Ok(summaries)
}

/// One customer of [`summarize_histories`]: walk its lines (in day order, none after the
/// observation end) period by period.
fn walk_customer(
    s: &mut CustomerSummary,
    lines: &[OrderLine],
    cal_end: Day,
    unit: TimeUnit,
    grouping: Grouping,
) {
    if lines.is_empty() {
        return;
    }
    let n_cal = lines.partition_point(|l| l.day <= cal_end);
    let (cal, hold) = lines.split_at(n_cal);

    if let (Some(first), Some(last)) = (cal.first(), cal.last()) {
        let (first, last) = (first.day, last.day);
        s.first_day = Some(first);
        s.last_day = Some(last);
        s.orders = cal.len() as u64;
        let first_period = period_of(first, first, unit, grouping);
        let mut current = first_period;
        let mut repeat_periods = 0u64;
        let mut repeat_revenue = 0.0;
        for l in cal {
            s.revenue += l.revenue;
            s.cost += l.cost;
            let p = period_of(l.day, first, unit, grouping);
            if p != current {
                repeat_periods += 1;
                current = p;
            }
            if p != first_period {
                repeat_revenue += l.revenue;
            }
        }
        s.rft = Rft {
            frequency: repeat_periods as f64,
            recency: span(first, last, first, unit, grouping),
            t: span(first, cal_end, first, unit, grouping),
            monetary_value: if repeat_periods > 0 {
                repeat_revenue / repeat_periods as f64
            } else {
                0.0
            },
        };
    }

    if let Some(h0) = hold.first() {
        let anchor = s.first_day.unwrap_or(h0.day);
        let mut periods = 0u64;
        let mut current = None;
        for l in hold {
            let p = period_of(l.day, anchor, unit, grouping);
            if current != Some(p) {
                periods += 1;
                current = Some(p);
            }
            s.holdout_revenue += l.revenue;
        }
        s.holdout_purchases = periods as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(customer: u32, day: Day, revenue: f64) -> OrderLine {
        OrderLine {
            customer,
            day,
            revenue,
            cost: revenue * 0.5,
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(day_from_ymd(1970, 1, 1), Some(0));
        assert_eq!(day_from_ymd(1969, 12, 31), Some(-1));
        assert_eq!(day_from_ymd(2000, 3, 1), Some(11_017));
        assert_eq!(day_from_ymd(2000, 2, 29), Some(11_016));
        assert_eq!(day_from_ymd(1900, 2, 29), None);
        assert_eq!(day_from_ymd(2024, 13, 1), None);
        assert_eq!(day_from_ymd(2024, 4, 31), None);
        assert_eq!(day_from_ymd(i32::MAX, 1, 1), None);
    }

    #[test]
    fn calendar_weeks_start_monday() {
        // 1970-01-04 was a Sunday, 1970-01-05 a Monday.
        assert_eq!(calendar_week(3), calendar_week(-3));
        assert_eq!(calendar_week(4), calendar_week(3) + 1);
        assert_eq!(calendar_week(-4), calendar_week(-3) - 1);
    }

    #[test]
    fn empty_input() {
        let s = summarize(&[], 0, &SummaryOptions::default()).unwrap();
        assert!(s.is_empty());
        let s = summarize(&[], 3, &SummaryOptions::default()).unwrap();
        assert_eq!(s.len(), 3);
        assert!(s
            .iter()
            .all(|c| c.first_day.is_none() && c.rft == Rft::default()));
        assert!(s.iter().all(|c| c.margin == 0.0));
    }

    #[test]
    fn day_unit_counts_distinct_days_any_input_order() {
        let orders = [
            line(0, 10, 5.0),
            line(1, 3, 1.0),
            line(0, 2, 7.0),
            line(0, 10, 15.0),
            line(0, 2, 3.0),
            line(0, 30, 40.0), // after calibration end
        ];
        let s = summarize(&orders, 2, &SummaryOptions::until(20, TimeUnit::Day)).unwrap();
        let c0 = &s[0];
        assert_eq!(c0.first_day, Some(2));
        assert_eq!(c0.last_day, Some(10));
        assert_eq!(c0.orders, 4);
        assert_eq!(c0.rft.frequency, 1.0);
        assert_eq!(c0.rft.recency, 8.0);
        assert_eq!(c0.rft.t, 18.0);
        assert_eq!(c0.rft.monetary_value, 20.0);
        assert_eq!(c0.revenue, 30.0);
        assert_eq!(c0.cost, 15.0);
        assert_eq!(c0.margin, 15.0);
        assert_eq!(s[1].rft.frequency, 0.0);
        assert_eq!(s[1].rft.monetary_value, 0.0);
        assert_eq!(s[1].rft.t, 17.0);
    }

    #[test]
    fn week_groupings_differ_as_documented() {
        // Day 4 is a Monday. Purchases: Sunday day 3, Monday day 4, day 10 (Sunday), day 11.
        let orders = [
            line(0, 3, 1.0),
            line(0, 4, 2.0),
            line(0, 10, 4.0),
            line(0, 11, 8.0),
        ];
        let mut opts = SummaryOptions::until(17, TimeUnit::Week);
        let days = summarize(&orders, 1, &opts).unwrap()[0].rft;
        assert_eq!(days.frequency, 3.0);
        assert!((days.recency - 8.0 / 7.0).abs() < 1e-12);
        assert!((days.t - 2.0).abs() < 1e-12);
        assert!((days.monetary_value - 14.0 / 3.0).abs() < 1e-12);

        opts.grouping = Grouping::Calendar;
        let cal = summarize(&orders, 1, &opts).unwrap()[0].rft;
        // Weeks: {3}, {4, 10}, {11}; end day 17 is a Sunday of the week of day 11.
        assert_eq!(cal.frequency, 2.0);
        assert_eq!(cal.recency, 2.0);
        assert_eq!(cal.t, 2.0);
        assert_eq!(cal.monetary_value, (6.0 + 8.0) / 2.0);

        opts.grouping = Grouping::Relative;
        let rel = summarize(&orders, 1, &opts).unwrap()[0].rft;
        // Blocks from day 3: {3, 4}, {10, 11} (offsets 7, 8), end offset 14 -> block 2.
        assert_eq!(rel.frequency, 1.0);
        assert_eq!(rel.recency, 1.0);
        assert_eq!(rel.t, 2.0);
        assert_eq!(rel.monetary_value, 12.0);
    }

    #[test]
    fn holdout_periods_and_revenue() {
        let orders = [
            line(0, 0, 10.0),
            line(0, 5, 10.0),
            line(0, 12, 3.0),
            line(0, 12, 4.0),
            line(0, 15, 5.0),
            line(0, 99, 100.0), // after observation end
            line(1, 13, 9.0),   // first purchase in the holdout
        ];
        let opts = SummaryOptions {
            calibration_end: 10,
            observation_end: Some(20),
            ..SummaryOptions::default()
        };
        assert_eq!(opts.holdout_length(), 10.0);
        let s = summarize(&orders, 2, &opts).unwrap();
        assert_eq!(s[0].rft.frequency, 1.0);
        assert_eq!(s[0].revenue, 20.0);
        assert_eq!(s[0].holdout_purchases, 2.0);
        assert_eq!(s[0].holdout_revenue, 12.0);
        assert_eq!(s[1].first_day, None);
        assert_eq!(s[1].holdout_purchases, 1.0);
        assert_eq!(s[1].holdout_revenue, 9.0);
        assert_eq!(s[1].revenue, 0.0);
    }

    #[test]
    fn marketing_cost_and_negative_margin() {
        let orders = [line(0, 0, 10.0), line(1, 7, 1.0)];
        let mut opts = SummaryOptions::until(14, TimeUnit::Week);
        opts.marketing_cost = MarketingCost::PerPeriod(3.0);
        let s = summarize(&orders, 3, &opts).unwrap();
        assert_eq!(s[0].marketing_cost, 6.0);
        assert_eq!(s[0].margin, 10.0 - 5.0 - 6.0);
        assert_eq!(s[1].marketing_cost, 3.0);
        assert_eq!(s[1].margin, 1.0 - 0.5 - 3.0);
        assert_eq!(s[2].marketing_cost, 0.0);

        opts.marketing_cost = MarketingCost::PerCustomer(vec![1.0, 2.0]);
        let s = summarize(&orders, 3, &opts).unwrap();
        assert_eq!(s[0].marketing_cost, 1.0);
        assert_eq!(s[1].marketing_cost, 2.0);
        assert_eq!(s[2].marketing_cost, 0.0);

        opts.marketing_cost = MarketingCost::PerPeriod(f64::NAN);
        assert_eq!(
            summarize(&orders, 3, &opts),
            Err(SummaryError::BadMarketingCost)
        );
    }

    #[test]
    fn all_zero_revenue() {
        let orders = [line(0, 0, 0.0), line(0, 1, 0.0)];
        let s = summarize(&orders, 1, &SummaryOptions::until(5, TimeUnit::Day)).unwrap();
        assert_eq!(s[0].rft.frequency, 1.0);
        assert_eq!(s[0].rft.monetary_value, 0.0);
        assert_eq!(s[0].margin, 0.0);
    }

    #[test]
    fn errors() {
        let opts = SummaryOptions::default();
        assert!(matches!(
            summarize(&[line(5, 0, 1.0)], 2, &opts),
            Err(SummaryError::Lines(HistoryError::CustomerOutOfRange {
                line: 0,
                customer: 5,
                ..
            }))
        ));
        assert!(matches!(
            summarize(&[line(0, 0, f64::INFINITY)], 1, &opts),
            Err(SummaryError::Lines(HistoryError::NonFinite { line: 0 }))
        ));
        let bad = SummaryOptions {
            calibration_end: 10,
            observation_end: Some(5),
            ..SummaryOptions::default()
        };
        assert!(matches!(
            summarize(&[], 1, &bad),
            Err(SummaryError::BadWindow { .. })
        ));
    }

    #[test]
    fn options_deserialize_with_defaults() {
        let o: SummaryOptions = toml::from_str(
            "unit = \"week\"\ncalibration_end = 100\nmarketing_cost = { per_period = 2.5 }",
        )
        .unwrap();
        assert_eq!(o.unit, TimeUnit::Week);
        assert_eq!(o.grouping, Grouping::Days);
        assert_eq!(o.calibration_end, 100);
        assert_eq!(o.marketing_cost, MarketingCost::PerPeriod(2.5));
        let o: SummaryOptions = toml::from_str("").unwrap();
        assert_eq!(o, SummaryOptions::default());
    }
}
