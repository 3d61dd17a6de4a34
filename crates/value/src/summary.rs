//! Per-customer summary from order lines (lifetimes conventions).
//!
//! TODO(helper): implement `summarize` and the calibration/holdout split.

/// Time unit in which frequency, recency and T are expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    #[default]
    Day,
    Week,
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
