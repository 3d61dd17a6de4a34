//! Value figures for the dashboard, computed from the stored order lines with `patron_value`
//! (summary, whale curve, ABC, RFM, loyalty stages, churn warnings). Model figures (CLV,
//! P(alive), expected purchases) need a stored value snapshot and are shown as "not computed
//! yet" without one.

use chrono::NaiveDate;
use patron_store::{Store, StoreError};
use patron_value::abc::{self, AbcConfig, AbcResult};
use patron_value::churn::{self, ChurnConfig, ChurnWarning};
use patron_value::rfm::{self, RfmConfig, RfmResult};
use patron_value::summary::{self, CustomerSummary, SummaryOptions, TimeUnit};
use patron_value::whale::{self, WhaleConfig, WhaleCurve};
use patron_value::{Day, OrderLine};

/// Everything the dashboard shows.
pub struct Analysis {
    /// Live customers (with or without orders).
    pub customers: i64,
    /// Dense index -> customer id, for customers with orders.
    pub ids: Vec<i64>,
    pub summaries: Vec<CustomerSummary>,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub revenue: f64,
    pub margin: f64,
    pub whale: WhaleCurve,
    pub abc: AbcResult,
    pub rfm: RfmResult,
    /// Customers per loyalty stage: suspect/prospect (no order), first-time, repeat buyers.
    pub no_order: u64,
    pub first_time: u64,
    pub repeat: u64,
    /// Churn warnings, biggest value at risk first.
    pub churn: Vec<ChurnWarning>,
}

/// Analyses every stored order line; `None` when there is no order yet.
pub async fn analyse(store: &Store) -> Result<Option<Analysis>, StoreError> {
    let facts = store.order_facts().await?;
    let (customers, _, _) = store.counts().await?;
    if facts.is_empty() {
        return Ok(None);
    }
    let (lines, ids) = patron_app::value::dense_orders(&facts)
        .map_err(|e| StoreError::invalid("ordered_on", e.to_string()))?;
    let analysis = compute(lines, ids, customers);
    Ok(Some(analysis))
}

fn compute(lines: Vec<OrderLine>, ids: Vec<i64>, customers: i64) -> Analysis {
    let n = ids.len();
    let (first, last) = lines.iter().fold((Day::MAX, Day::MIN), |(lo, hi), l| {
        (lo.min(l.day), hi.max(l.day))
    });
    let opts = SummaryOptions::until(last, TimeUnit::Day);
    let summaries = summary::summarize(&lines, n, &opts).unwrap_or_default();
    let revenue = summaries.iter().map(|s| s.revenue).sum();
    let margin = summaries.iter().map(|s| s.margin).sum();
    let margins: Vec<f64> = summaries.iter().map(|s| s.margin).collect();
    let whale = whale::whale_curve(&margins, &WhaleConfig::default());
    let abc_cfg = AbcConfig::default();
    let abc = abc::classify(
        &abc::values_from_summaries(&summaries, abc_cfg.measure),
        &abc_cfg,
    )
    .expect("default ABC cut-offs are valid");
    let rfm_cfg = RfmConfig::default();
    let rfm = rfm::rfm(
        &rfm::inputs_from_summaries(&summaries, last, rfm_cfg.monetary),
        &rfm_cfg,
    );
    let (mut first_time, mut repeat) = (0u64, 0u64);
    for s in &summaries {
        // Purchase periods: frequency counts repeat days.
        if s.rft.frequency >= 1.0 {
            repeat += 1;
        } else if s.first_day.is_some() {
            first_time += 1;
        }
    }
    let no_order = (customers.max(0) as u64).saturating_sub(first_time + repeat);
    let mut churn =
        churn::churn_warnings(&lines, n, last, None, &ChurnConfig::default()).unwrap_or_default();
    churn.sort_by(|a, b| b.value_at_risk.total_cmp(&a.value_at_risk));
    Analysis {
        customers,
        ids,
        summaries,
        first_day: patron_app::value::date_of(first),
        last_day: patron_app::value::date_of(last),
        revenue,
        margin,
        whale,
        abc,
        rfm,
        no_order,
        first_time,
        repeat,
        churn,
    }
}
