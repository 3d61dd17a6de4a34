//! The population report a value refresh stores with its snapshot, typed: the refresh writes
//! it, the dashboard and `GET /api/value/report` read it back as the same type. Figures that
//! may be undefined (an empty population, a model that did not fit) are `None`, stored as
//! JSON null. A stored report that does not read as this type (written by an older version)
//! is refused, not filled with defaults: the dashboard then asks for a recompute.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use patron_store::StoredChurnReason;
use serde::{Deserialize, Serialize};

use crate::dashboard::SnapshotFigures;

/// Everything a snapshot says about the population.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotReport {
    /// The day the refresh analysed up to (orders after it were left out); `None` in reports
    /// stored before refreshes recorded it.
    #[serde(default)]
    pub as_of: Option<NaiveDate>,
    /// The time unit of frequency, recency and T (`day`, `week`, `month`).
    pub unit: String,
    pub first_order: NaiveDate,
    pub last_order: NaiveDate,
    pub calibration_end: NaiveDate,
    pub holdout_end: Option<NaiveDate>,
    pub totals: Totals,
    pub clv: Clv,
    pub model: Option<Model>,
    /// Why no purchase model was fitted or used, when none was.
    pub model_error: Option<String>,
    /// How `auto` chose the purchase model: the holdout comparison of BG/NBD, MBG/NBD and
    /// Pareto/NBD (`None` for a pinned model and in reports stored before the choice).
    #[serde(default)]
    pub model_choice: Option<ModelChoice>,
    /// Why no purchase model is used (too little purchase history, a fit the data do not
    /// identify) and the fallback of the figures; `None` when a model is used.
    #[serde(default)]
    pub not_enough_history: Option<NotEnoughHistory>,
    pub rfm: Rfm,
    pub abc: Vec<AbcClass>,
    pub whale: Whale,
    pub loyalty: Loyalty,
    pub lifecycle: Lifecycle,
    pub grades: Grades,
    pub churn: Churn,
    pub notes: Vec<String>,
    pub timings: Vec<Timing>,
    /// The dashboard's figures over every order line and value row (see
    /// [`SnapshotFigures`]); the API leaves them out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard: Option<SnapshotFigures>,
    /// How long the refresh took, per stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_seconds: Option<RefreshSeconds>,
    /// The fitted models and population boundaries one customer's figures are recomputed with
    /// between two refreshes (`crate::value::recompute_customer`; ABC keys are customer ids);
    /// `None` in reports stored before they were kept. The API leaves them out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<patron_value::live::LiveParams>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    pub customers: u64,
    pub customers_in_calibration: u64,
    pub order_lines: u64,
    pub zero_amount_lines: u64,
    pub revenue: Option<f64>,
    pub cost: Option<f64>,
    pub marketing_cost: Option<f64>,
    pub margin: Option<f64>,
    pub clv: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clv {
    pub horizon: Option<f64>,
    pub steps: u32,
    pub discount_rate_per_step: Option<f64>,
    pub margin_ratio: Option<f64>,
    pub marketing_cost_per_year: Option<f64>,
    /// The 0th..100th percentiles of the customers' CLV, in tenths (11 values, or none).
    pub deciles: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// `bgnbd`, `mbgnbd` or `paretonbd`.
    pub kind: String,
    pub params: BTreeMap<String, Option<f64>>,
    pub log_likelihood: Option<f64>,
    pub iterations: u64,
    pub converged: bool,
    pub customers: u64,
    pub fit_seconds: Option<f64>,
    pub gamma_gamma: Option<GammaGamma>,
    pub gamma_gamma_error: Option<String>,
    pub holdout: Option<Vec<HoldoutBin>>,
}

/// How `auto` chose the purchase model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelChoice {
    /// The model used for the figures: `bgnbd`, `mbgnbd` or `paretonbd`.
    pub chosen: String,
    /// Why, in words (the errors compared).
    pub reason: String,
    /// The rule of the choice (`patron_value::analysis::MODEL_CHOICE_RULE`).
    pub rule: String,
    /// The comparison's calibration window ends here; its holdout runs to `holdout_end`.
    pub calibration_end: NaiveDate,
    pub holdout_end: NaiveDate,
    /// Holdout length in units.
    pub holdout_length: Option<f64>,
    /// One row per model; empty when no comparison could run.
    pub comparison: Vec<ModelComparison>,
}

/// One model of the holdout comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelComparison {
    pub kind: String,
    pub customers: u64,
    /// Actual and expected repeat purchases in the holdout, all customers.
    pub actual_total: Option<f64>,
    pub predicted_total: Option<f64>,
    /// Mean absolute error per customer of the holdout repeat purchases (the choice's measure).
    pub mean_absolute_error: Option<f64>,
    pub root_mean_squared_error: Option<f64>,
    /// Whether the calibration fit converged (`None` without a fit).
    pub converged: Option<bool>,
    /// Why the model was left out of the choice.
    pub excluded: Option<String>,
}

/// Why no purchase model is used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotEnoughHistory {
    /// `no_customers`, `few_repeat_customers`, `same_frequency`, `fit_failed`,
    /// `parameter_at_bound` or `flat_likelihood`.
    pub code: String,
    pub reason: String,
    /// What the figures fall back to.
    pub fallback: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GammaGamma {
    pub p: Option<f64>,
    pub q: Option<f64>,
    pub gamma: Option<f64>,
    pub log_likelihood: Option<f64>,
    pub customers: u64,
    pub converged: bool,
    pub population_mean_spend: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldoutBin {
    pub frequency: u32,
    pub open_ended: bool,
    pub customers: u64,
    pub actual_mean: Option<f64>,
    pub expected_mean: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rfm {
    pub segments: Vec<Segment>,
    /// Customers per cell, recency score 1..5 (rows) by frequency score 1..5.
    pub grid_customers: Vec<Vec<u64>>,
    pub grid_revenue: Vec<Vec<Option<f64>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// The segment's code (`patron_value::rfm::Segment::code`).
    pub segment: String,
    pub customers: u64,
    pub revenue: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbcClass {
    pub class: String,
    pub customers: u64,
    pub customer_share: Option<f64>,
    pub value: Option<f64>,
    pub value_share: Option<f64>,
    pub cumulative_share: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Whale {
    pub top_share: Option<f64>,
    pub peak: Option<f64>,
    pub peak_at_customers_pct: Option<f64>,
    pub bottom_destroyed: Option<f64>,
    pub unprofitable_customers: u64,
    pub total: Option<f64>,
    pub peak_value: Option<f64>,
    pub curve: Vec<WhalePoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhalePoint {
    pub customers_pct: Option<f64>,
    pub profit_pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Loyalty {
    pub first_time_buyer: u64,
    pub repeat_buyer: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    pub introduction: u64,
    pub growth: u64,
    pub maturity: u64,
    pub decline: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grades {
    #[serde(rename = "A")]
    pub a: u64,
    #[serde(rename = "B")]
    pub b: u64,
    #[serde(rename = "C")]
    pub c: u64,
    #[serde(rename = "D")]
    pub d: u64,
    #[serde(rename = "E")]
    pub e: u64,
    pub ungraded: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Churn {
    pub warned_customers: u64,
    pub value_at_risk: Option<f64>,
    /// The biggest values at risk first (at most `REPORT_CHURN_TOP`).
    pub top: Vec<ChurnRisk>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChurnRisk {
    pub customer_id: i64,
    pub number: String,
    pub name: String,
    pub value_at_risk: Option<f64>,
    pub abc_class: String,
    pub reasons: Vec<StoredChurnReason>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    pub step: String,
    pub seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshSeconds {
    pub read: f64,
    pub analyse: f64,
    pub score: f64,
}

impl SnapshotReport {
    /// The report stored with a snapshot; `None` when it was written by a version of Patron
    /// whose report reads differently (a recompute writes a current one).
    pub fn of(snapshot: &patron_store::ValueSnapshot) -> Option<SnapshotReport> {
        match serde_json::from_value(snapshot.report.clone()) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(snapshot = snapshot.id, error = %e, "stored value report of another version");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_of_another_shape_is_refused_not_defaulted() {
        assert!(serde_json::from_value::<SnapshotReport>(serde_json::json!({})).is_err());
        assert!(serde_json::from_value::<Grades>(serde_json::json!({"A": 3})).is_err());
        let g = Grades {
            a: 3,
            b: 0,
            c: 1,
            d: 0,
            e: 0,
            ungraded: 2,
        };
        let v = serde_json::to_value(&g).unwrap();
        assert_eq!(v["A"], 3);
        assert_eq!(serde_json::from_value::<Grades>(v).unwrap(), g);
    }

    /// Fields added since (with serde defaults) do not make older stored reports unreadable.
    #[test]
    fn a_report_without_the_as_of_date_still_reads() {
        let old = serde_json::json!({
            "unit": "week", "first_order": "1997-01-01", "last_order": "1998-06-30",
            "calibration_end": "1998-06-30", "holdout_end": null,
            "totals": {"customers": 0, "customers_in_calibration": 0, "order_lines": 0,
                "zero_amount_lines": 0, "revenue": null, "cost": null, "marketing_cost": null,
                "margin": null, "clv": null},
            "clv": {"horizon": null, "steps": 12, "discount_rate_per_step": null,
                "margin_ratio": null, "marketing_cost_per_year": null, "deciles": []},
            "model": null, "model_error": null,
            "rfm": {"segments": [], "grid_customers": [], "grid_revenue": []},
            "abc": [],
            "whale": {"top_share": null, "peak": null, "peak_at_customers_pct": null,
                "bottom_destroyed": null, "unprofitable_customers": 0, "total": null,
                "peak_value": null, "curve": []},
            "loyalty": {"first_time_buyer": 0, "repeat_buyer": 0},
            "lifecycle": {"introduction": 0, "growth": 0, "maturity": 0, "decline": 0},
            "grades": {"A": 0, "B": 0, "C": 0, "D": 0, "E": 0, "ungraded": 0},
            "churn": {"warned_customers": 0, "value_at_risk": null, "top": []},
            "notes": [], "timings": []
        });
        let r: SnapshotReport = serde_json::from_value(old).unwrap();
        assert_eq!(r.as_of, None);
        assert_eq!(r.model_choice, None);
        assert_eq!(r.not_enough_history, None);
        assert_eq!(r.calibration_end.to_string(), "1998-06-30");
    }
}
