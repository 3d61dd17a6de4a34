//! Customer value analytics: plain data in, plain data out, no I/O.
//!
//! Time is measured in whole days since 1970-01-01 ([`Day`]); customers are dense indices
//! (`0..n_customers`) so callers map their own ids onto them once and every figure is a `Vec`
//! indexed by customer.

pub mod abc;
pub mod analysis;
pub mod churn;
pub mod history;
pub mod live;
pub mod loyalty;
pub mod models;
pub mod ranking;
pub mod rfm;
pub mod score;
pub mod summary;
pub mod whale;

pub use analysis::{analyze, analyze_with_costs, Analysis, AnalysisError, AnalysisOptions};

/// Days since 1970-01-01 (negative before).
pub type Day = i32;

/// One order line as the analytics see it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OrderLine {
    /// Dense customer index, `0..n_customers`.
    pub customer: u32,
    /// Order date, days since 1970-01-01.
    pub day: Day,
    /// Amount paid (may be 0: real data has zero-dollar orders).
    pub revenue: f64,
    /// Product cost of the line (0 when unknown).
    pub cost: f64,
}
