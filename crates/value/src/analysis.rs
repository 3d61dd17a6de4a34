//! The whole per-customer pipeline in one pure call: summary, RFM, ABC, whale curve, loyalty
//! stage, lifecycle phase, purchase and spend models with CLV, holdout diagnostics and churn
//! warnings.
//!
//! [`analyze`] takes order lines with dense customer indices (`0..n_customers`) and
//! [`AnalysisOptions`] (serde-deserializable, every field defaulted), and returns an
//! [`Analysis`] whose per-customer vectors are indexed by customer. Callers (the CLI, the API)
//! only load data, call it and present the result.
//!
//! Customers without an order in the calibration period keep their place in every vector: their
//! summary is all zero, their model figures are NaN (serialized as `null` by JSON serializers),
//! and their RFM score, loyalty stage and lifecycle phase are `None`.

use std::time::Instant;

use crate::abc::{self, AbcClass, AbcConfig, AbcCuts, AbcError, AbcResult};
use crate::churn::{self, ChurnConfig, ChurnError, ChurnWarning, ReasonKind};
use crate::history::{Histories, HistoryError};
use crate::live::Breakpoints;
use crate::loyalty::{self, LifecycleConfig, Phase, Stage};
use crate::models::clv::{self, ClvOptions, CustomerValue};
pub use crate::models::diagnostics::model_label;
use crate::models::diagnostics::{self, HistoryRules, HoldoutBin, NotEnoughHistory};
use crate::models::{
    self, gammagamma, AnyPurchaseModel, FitOptions, Fitted, GammaGamma, ModelError, ModelKind,
    Population, PurchaseModel,
};
use crate::rfm::{self, RfmBreakpoints, RfmConfig, RfmResult, RfmScore};
use crate::summary::{
    self, CustomerSummary, Grouping, MarketingCost, RecordedCosts, Rft, SummaryError,
    SummaryOptions, TimeUnit,
};
use crate::whale::{self, WhaleConfig, WhaleCurve};
use crate::{Day, OrderLine};

/// How zero-dollar orders are treated (CDNOW has them).
pub const ZERO_DOLLAR_NOTE: &str = "Zero-dollar orders count as purchases for BG/NBD and Pareto/NBD (frequency, recency and T include them). Gamma-Gamma is fitted only on customers with frequency > 0 and a positive mean repeat spend; everyone else (one-time buyers, repeat buyers whose repeat orders were all free) gets the population mean spend p*gamma/(q-1) as expected spend.";

/// Note on the loyalty stages computed from orders alone.
pub const LOYALTY_NOTE: &str = "Stages from purchase days only: suspects, prospects and advocates need interaction and referral data that order lines lack.";

/// What to compute and how. Every field has a default, so `{}` deserializes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AnalysisOptions {
    /// Unit of frequency, recency, T and the horizon (several purchases in one day count once).
    pub unit: TimeUnit,
    /// Last day of the calibration period (default: the last order day).
    pub calibration_end: Option<Day>,
    /// Last day of the holdout period: orders after the calibration end up to it are compared
    /// with the model's expectation (default: no holdout).
    pub holdout_end: Option<Day>,
    /// Purchase model: `auto` (default: chosen by holdout, see [`MODEL_CHOICE_RULE`]) or a
    /// pinned `bgnbd`, `mbgnbd` or `paretonbd`.
    pub model: ModelChoice,
    /// The least purchase history a purchase model is used on (see [`HistoryRules`]).
    pub history: HistoryRules,
    /// CLV horizon in units (default one year: 365 days or 52 weeks).
    pub horizon: Option<f64>,
    /// Discounting steps of the CLV horizon (default 12).
    pub clv_steps: u32,
    /// Annual discount rate of the CLV (default 0.10), converted to a rate per step.
    pub discount_rate: f64,
    /// Margin ratio applied to expected spend in the CLV (default: the data's own
    /// `1 - cost / revenue`, which is 1 without costs).
    pub margin: Option<f64>,
    /// Relationship-marketing cost per customer per year (default 0): charged for the tenure in
    /// the margin, and over the horizon (discounted) in the CLV.
    pub marketing_cost: f64,
    /// RFM thresholds and segment rules.
    pub rfm: RfmConfig,
    /// ABC cut-offs and measure.
    pub abc: AbcConfig,
    /// Whale-curve shares (top 20%, bottom 30%).
    pub whale: WhaleConfig,
    /// Churn thresholds.
    pub churn: ChurnConfig,
    /// Lifecycle trend rules.
    pub lifecycle: LifecycleConfig,
    /// Length of a lifecycle period in days (default 91, a quarter).
    pub lifecycle_period_days: u32,
    /// Lifecycle periods looked at, ending on the calibration end (default 12).
    pub lifecycle_periods: usize,
    /// Calibration frequencies binned separately in the holdout diagnostics (default 7: 0..6
    /// and 7+).
    pub holdout_max_frequency: u32,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            unit: TimeUnit::Day,
            calibration_end: None,
            holdout_end: None,
            model: ModelChoice::Auto,
            history: HistoryRules::default(),
            horizon: None,
            clv_steps: 12,
            discount_rate: 0.10,
            margin: None,
            marketing_cost: 0.0,
            rfm: RfmConfig::default(),
            abc: AbcConfig::default(),
            whale: WhaleConfig::default(),
            churn: ChurnConfig::default(),
            lifecycle: LifecycleConfig::default(),
            lifecycle_period_days: 91,
            lifecycle_periods: 12,
            holdout_max_frequency: 7,
        }
    }
}

/// How `auto` chooses the purchase model.
pub const MODEL_CHOICE_RULE: &str = "BG/NBD, MBG/NBD and Pareto/NBD are fitted on a calibration window and compared on the holdout that follows it: the given holdout (calibration end to holdout end) when there is one, else the last third of the observation period (first order to calibration end, in whole units, at least 28 days). The model with the lowest mean absolute error per customer of the holdout repeat purchases is chosen (ties: BG/NBD, MBG/NBD, Pareto/NBD in that order) and fitted on the whole calibration period; fits without enough purchase history or not identified are left out. Without a usable comparison (too short a history, too little purchase history, or a holdout without any purchase) BG/NBD is used.";

/// Least length of the holdout `auto` cuts from the observation period, in days.
pub const MIN_HOLDOUT_DAYS: Day = 28;

/// The purchase model asked for: chosen by holdout (`auto`) or pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelChoice {
    #[default]
    Auto,
    BgNbd,
    /// Serialized and parsed as `mbgnbd`.
    MbgNbd,
    ParetoNbd,
}

impl ModelChoice {
    /// The pinned model (`None` for `auto`).
    pub fn pinned(self) -> Option<ModelKind> {
        match self {
            ModelChoice::Auto => None,
            ModelChoice::BgNbd => Some(ModelKind::BgNbd),
            ModelChoice::MbgNbd => Some(ModelKind::MbgNbd),
            ModelChoice::ParetoNbd => Some(ModelKind::ParetoNbd),
        }
    }
}

impl From<ModelKind> for ModelChoice {
    fn from(k: ModelKind) -> Self {
        match k {
            ModelKind::BgNbd => ModelChoice::BgNbd,
            ModelKind::MbgNbd => ModelChoice::MbgNbd,
            ModelKind::ParetoNbd => ModelChoice::ParetoNbd,
        }
    }
}

impl std::fmt::Display for ModelChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pinned() {
            None => f.write_str("auto"),
            Some(k) => k.fmt(f),
        }
    }
}

impl std::str::FromStr for ModelChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().eq_ignore_ascii_case("auto") {
            return Ok(ModelChoice::Auto);
        }
        s.parse::<ModelKind>()
            .map(ModelChoice::from)
            .map_err(|_| format!("unknown model {s:?} (expected auto, bgnbd, mbgnbd or paretonbd)"))
    }
}

/// One model of the `auto` comparison: fitted on the calibration window, its expected repeat
/// purchases over the holdout against the actual ones.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelComparison {
    pub kind: ModelKind,
    /// Customers compared (those with an order in the calibration window).
    pub customers: usize,
    /// Actual holdout repeat purchases, all customers.
    pub actual_total: f64,
    /// Expected holdout repeat purchases, all customers (NaN without a fit).
    pub predicted_total: f64,
    /// Mean over customers of `|expected - actual|` (the choice's measure).
    pub mean_absolute_error: f64,
    pub root_mean_squared_error: f64,
    /// Whether the calibration fit converged (`None` without a fit).
    pub converged: Option<bool>,
    /// Why the model was left out of the choice (fit failed, not enough history, not
    /// identified); `None` when it took part.
    pub excluded: Option<String>,
}

/// How `auto` chose the purchase model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelSelection {
    /// The model used for the figures.
    pub chosen: ModelKind,
    /// Why it was chosen, in words.
    pub reason: String,
    /// The rule ([`MODEL_CHOICE_RULE`]).
    pub rule: &'static str,
    /// Last day of the comparison's calibration window and of its holdout.
    pub calibration_end: Day,
    pub holdout_end: Day,
    /// Holdout length in units.
    pub holdout_length: f64,
    /// One row per model (BG/NBD, MBG/NBD, Pareto/NBD); empty when no comparison could run.
    pub comparison: Vec<ModelComparison>,
}

/// Why [`analyze`] refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    #[error("no order lines to analyse")]
    NoOrders,
    #[error("the calibration end (day {calibration_end}) lies before the first order (day {first_order})")]
    CalibrationBeforeFirstOrder {
        calibration_end: Day,
        first_order: Day,
    },
    #[error("the holdout end (day {holdout_end}) must come after the calibration end (day {calibration_end})")]
    HoldoutNotAfterCalibration {
        holdout_end: Day,
        calibration_end: Day,
    },
    #[error("marketing cost must be a non-negative number, got {0}")]
    BadMarketingCost(f64),
    #[error("horizon must be a positive number of units, got {0}")]
    BadHorizon(f64),
    #[error("discount rate must be a number above -1 (0.10 = 10% a year), got {0}")]
    BadDiscountRate(f64),
    #[error("margin must be a finite ratio (e.g. 0.3), got {0}")]
    BadMargin(f64),
    #[error("clv_steps, lifecycle_period_days and lifecycle_periods must be positive")]
    BadPeriods,
    #[error("order lines: {0}")]
    Lines(#[from] HistoryError),
    #[error("summarising orders: {0}")]
    Summary(#[from] SummaryError),
    #[error("ABC classes: {0}")]
    Abc(#[from] AbcError),
    #[error("churn warnings: {0}")]
    Churn(#[from] ChurnError),
}

/// The fitted purchase and spend models.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelFit {
    pub kind: ModelKind,
    /// Purchase model (BG/NBD, MBG/NBD or Pareto/NBD): parameters, log-likelihood, iterations.
    pub purchase: Fitted<AnyPurchaseModel>,
    pub purchase_seconds: f64,
    /// Gamma-Gamma spend model, when it could be fitted (and has a finite mean spend).
    pub spend: Option<Fitted<GammaGamma>>,
    pub spend_seconds: f64,
    /// Why there is no spend model (CLV and expected spend are then NaN).
    pub spend_error: Option<String>,
    /// Gamma-Gamma population mean spend `p * gamma / (q - 1)`.
    pub population_mean_spend: Option<f64>,
    /// Expected vs actual holdout repeat purchases by calibration frequency (with a holdout).
    pub holdout: Option<Vec<HoldoutBin>>,
}

impl ModelFit {
    /// Named parameters of the purchase model.
    pub fn params(&self) -> Vec<(&'static str, f64)> {
        match &self.purchase.model {
            AnyPurchaseModel::BgNbd(b) => {
                vec![("r", b.r), ("alpha", b.alpha), ("a", b.a), ("b", b.b)]
            }
            AnyPurchaseModel::MbgNbd(b) => {
                vec![("r", b.r), ("alpha", b.alpha), ("a", b.a), ("b", b.b)]
            }
            AnyPurchaseModel::ParetoNbd(p) => {
                vec![("r", p.r), ("alpha", p.alpha), ("s", p.s), ("beta", p.beta)]
            }
        }
    }
}

/// Totals of the calibration period.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Totals {
    pub customers: usize,
    /// Customers with an order in the calibration period.
    pub customers_in_calibration: usize,
    /// Order lines given (whole period, holdout included).
    pub order_lines: usize,
    /// Order lines with a zero amount.
    pub zero_amount_lines: u64,
    pub revenue: f64,
    pub cost: f64,
    pub marketing_cost: f64,
    /// CRM gross margin: revenue - product cost - relationship-marketing cost.
    pub margin: f64,
    /// Sum of the CLV (net of the horizon marketing cost) over customers with a finite CLV.
    pub clv: f64,
}

/// Customers per lifecycle phase.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct LifecycleCounts {
    pub introduction: u64,
    pub growth: u64,
    pub maturity: u64,
    pub decline: u64,
}

/// Customers per loyalty stage reachable from orders alone.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct LoyaltyCounts {
    pub first_time_buyer: u64,
    pub repeat_buyer: u64,
}

/// Wall-clock seconds of one step.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Timing {
    pub step: &'static str,
    pub seconds: f64,
}

/// Churn-reason bits of [`Analysis::churn_flags`].
pub const CHURN_REVENUE_DROP: u8 = 1;
pub const CHURN_LONG_ABSENCE: u8 = 2;
pub const CHURN_LOW_P_ALIVE: u8 = 4;
pub const CHURN_NO_SECOND_PURCHASE: u8 = 8;

/// Everything [`analyze`] computes. Per-customer vectors have `n_customers` entries.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Analysis {
    /// The options used, with the defaults resolved (calibration end, horizon, margin).
    pub options: AnalysisOptions,
    /// Options given to the summary.
    pub summary_options: SummaryOptions,
    /// First and last order day of the input.
    pub first_day: Day,
    pub last_day: Day,
    /// Calibration end actually used.
    pub calibration_end: Day,
    /// CLV horizon actually used, in units.
    pub horizon: f64,
    /// CLV steps, rate per step and margin ratio actually used.
    pub clv_options: ClvOptions,
    /// Discounted relationship-marketing cost over the horizon, per customer (already
    /// subtracted from [`CustomerValue::clv`]).
    pub horizon_marketing_cost: f64,
    pub totals: Totals,

    // Per customer.
    /// Summary (frequency, recency, T, monetary value, revenue, cost, margin, holdout figures).
    pub summaries: Vec<CustomerSummary>,
    /// P(alive), expected purchases over the horizon, expected spend, CLV (net of the horizon
    /// marketing cost); NaN for customers without calibration orders or without a model.
    pub values: Vec<CustomerValue>,
    /// ABC class per customer (inside [`AbcResult::classes`]) and the class figures.
    pub abc: AbcResult,
    /// Loyalty stage from purchase days (first-time / repeat buyer), `None` without orders.
    pub stages: Vec<Option<Stage>>,
    /// Lifecycle phase from the trend of the periodic margin.
    pub phases: Vec<Option<Phase>>,
    /// Churn reasons per customer as bits ([`CHURN_REVENUE_DROP`], [`CHURN_LONG_ABSENCE`],
    /// [`CHURN_LOW_P_ALIVE`], [`CHURN_NO_SECOND_PURCHASE`]).
    pub churn_flags: Vec<u8>,
    /// RFM scores of customers with calibration orders (see [`Analysis::rfm_score`]) and the
    /// grid and segment figures.
    pub rfm: RfmResult,
    /// Warned customers with reasons and value at risk, biggest value at risk first (see
    /// [`Analysis::churn_warning`]).
    pub churn: Vec<ChurnWarning>,

    // Population.
    /// The models, or why they could not be fitted or are not used.
    pub model: Option<ModelFit>,
    pub model_error: Option<String>,
    /// How `auto` chose the purchase model (`None` for a pinned model).
    pub model_selection: Option<ModelSelection>,
    /// Why no purchase model is used (too little purchase history, a fit the data do not
    /// identify) and the fallback; the figures then carry no CLV or P(alive).
    pub not_enough_history: Option<NotEnoughHistory>,
    pub whale: WhaleCurve,
    pub loyalty: LoyaltyCounts,
    pub lifecycle: LifecycleCounts,
    pub notes: Vec<&'static str>,
    pub timings: Vec<Timing>,
    /// The population's boundaries of the relative figures (RFM quintiles, ABC classes, the
    /// one-time buyers' typical gap), for judging one customer later ([`crate::live`]).
    pub breakpoints: Breakpoints,

    #[serde(skip)]
    rfm_index: Vec<u32>,
    #[serde(skip)]
    churn_index: Vec<u32>,
}

const NONE: u32 = u32::MAX;

impl Analysis {
    /// Number of customers.
    pub fn n_customers(&self) -> usize {
        self.summaries.len()
    }

    /// RFM score of customer `i` (`None` without calibration orders).
    pub fn rfm_score(&self, i: usize) -> Option<&RfmScore> {
        match self.rfm_index.get(i) {
            Some(&k) if k != NONE => self.rfm.scores.get(k as usize),
            _ => None,
        }
    }

    /// ABC class of customer `i`.
    pub fn abc_class(&self, i: usize) -> AbcClass {
        self.abc.classes[i]
    }

    /// Churn warning of customer `i`, with its reasons and value at risk.
    pub fn churn_warning(&self, i: usize) -> Option<&ChurnWarning> {
        match self.churn_index.get(i) {
            Some(&k) if k != NONE => self.churn.get(k as usize),
            _ => None,
        }
    }

    /// Value at risk of customer `i` (0 when not warned).
    pub fn value_at_risk(&self, i: usize) -> f64 {
        self.churn_warning(i).map_or(0.0, |w| w.value_at_risk)
    }

    /// Every figure of customer `i` (what the stored row of the customer is made of; the same
    /// shape [`crate::live::customer_figures`] answers for one customer).
    pub fn customer(&self, i: usize) -> crate::live::CustomerFigures {
        crate::live::CustomerFigures {
            summary: self.summaries[i].clone(),
            value: self.values[i],
            rfm: self.rfm_score(i).copied(),
            abc: Some(self.abc_class(i)),
            warning: self.churn_warning(i).cloned(),
            stage: self.stages[i],
            phase: self.phases[i],
        }
    }

    /// Seconds of a step (0 when absent).
    pub fn seconds(&self, step: &str) -> f64 {
        self.timings
            .iter()
            .filter(|t| t.step == step)
            .map(|t| t.seconds)
            .sum()
    }
}

/// Runs the whole pipeline. `orders[k].customer` must be below `n_customers`.
pub fn analyze(
    orders: &[OrderLine],
    n_customers: usize,
    opts: &AnalysisOptions,
) -> Result<Analysis, AnalysisError> {
    analyze_with_costs(orders, n_customers, opts, RecordedCosts::default())
}

/// [`analyze`] with the relationship-marketing costs recorded for some customers: each of
/// them is charged its records dated up to the calibration end in the margin instead of the
/// flat `opts.marketing_cost`, and its CLV subtracts its recorded yearly rate over the horizon
/// instead of the flat rate ([`clv_with_recorded_costs`]); the others keep the flat rate.
pub fn analyze_with_costs(
    orders: &[OrderLine],
    n_customers: usize,
    opts: &AnalysisOptions,
    recorded: RecordedCosts,
) -> Result<Analysis, AnalysisError> {
    let mut timings = Vec::new();
    let clock = Instant::now();
    if orders.is_empty() {
        return Err(AnalysisError::NoOrders);
    }
    let (first_day, last_day) = orders.iter().fold((Day::MAX, Day::MIN), |(lo, hi), l| {
        (lo.min(l.day), hi.max(l.day))
    });
    let zero_amount_lines = orders.iter().filter(|l| l.revenue == 0.0).count() as u64;
    let calibration_end = opts.calibration_end.unwrap_or(last_day);
    if calibration_end < first_day {
        return Err(AnalysisError::CalibrationBeforeFirstOrder {
            calibration_end,
            first_order: first_day,
        });
    }
    if let Some(h) = opts.holdout_end {
        if h <= calibration_end {
            return Err(AnalysisError::HoldoutNotAfterCalibration {
                holdout_end: h,
                calibration_end,
            });
        }
    }
    if !(opts.marketing_cost.is_finite() && opts.marketing_cost >= 0.0) {
        return Err(AnalysisError::BadMarketingCost(opts.marketing_cost));
    }
    if opts.clv_steps == 0 || opts.lifecycle_period_days == 0 || opts.lifecycle_periods == 0 {
        return Err(AnalysisError::BadPeriods);
    }
    let unit = opts.unit;
    let unit_days = f64::from(unit.days());
    let horizon = opts.horizon.unwrap_or(match unit {
        TimeUnit::Day => 365.0,
        TimeUnit::Week => 52.0,
    });
    if !(horizon.is_finite() && horizon > 0.0) {
        return Err(AnalysisError::BadHorizon(horizon));
    }
    if !(opts.discount_rate.is_finite() && opts.discount_rate > -1.0) {
        return Err(AnalysisError::BadDiscountRate(opts.discount_rate));
    }
    if let Some(m) = opts.margin {
        if !m.is_finite() {
            return Err(AnalysisError::BadMargin(m));
        }
    }
    let mut summary_options = summary_options(opts, calibration_end, opts.holdout_end);
    summary_options.recorded_costs = recorded;
    // Every per-customer pass below walks the lines grouped by customer once.
    let histories = Histories::group(orders, n_customers)?;
    timings.push(Timing {
        step: "group_lines",
        seconds: clock.elapsed().as_secs_f64(),
    });
    let clock = Instant::now();
    let summaries = summary::summarize_histories(&histories, &summary_options)?;
    timings.push(Timing {
        step: "summary",
        seconds: clock.elapsed().as_secs_f64(),
    });

    let steps = opts.clv_steps;
    let step_years = horizon * unit_days / 365.0 / f64::from(steps);
    let (revenue, cost, marketing_cost, margin) =
        summaries
            .iter()
            .fold((0.0, 0.0, 0.0, 0.0), |(r, c, m, g), s| {
                (
                    r + s.revenue,
                    c + s.cost,
                    m + s.marketing_cost,
                    g + s.margin,
                )
            });
    let margin_ratio = match opts.margin {
        Some(m) => m,
        None if revenue > 0.0 => 1.0 - cost / revenue,
        None => 1.0,
    };
    let clv_options = ClvOptions {
        steps,
        step_length: horizon / f64::from(steps),
        discount_rate: (1.0 + opts.discount_rate).powf(step_years) - 1.0,
        margin_ratio,
    };
    let horizon_marketing_cost = horizon_marketing_cost(opts.marketing_cost, unit, &clv_options);

    let active: Vec<u32> = summaries
        .iter()
        .filter(|s| s.first_day.is_some())
        .map(|s| s.customer)
        .collect();

    // The models run on their own thread while RFM, ABC, whale curve and lifecycle run here.
    let (model, pop) = std::thread::scope(|scope| {
        let fit = scope.spawn(|| {
            fit_models(
                opts,
                &active,
                &summaries,
                &histories,
                (first_day, calibration_end),
                &summary_options,
                &clv_options,
                horizon_marketing_cost,
            )
        });
        let pop = population_figures(&histories, &summaries, calibration_end, opts);
        let model = fit.join().expect("model thread panicked");
        (model, pop)
    });
    drop(histories);
    let ModelOutcome {
        fit: model,
        error: model_error,
        values,
        timings: model_timings,
        selection: model_selection,
        not_enough_history,
    } = model;
    let PopulationFigures {
        rfm,
        rfm_index,
        rfm_breakpoints,
        abc,
        abc_cuts,
        whale,
        phases,
        churn_pending,
        timings: pop_timings,
    } = pop?;
    timings.extend(model_timings);
    timings.extend(pop_timings);

    // Per-customer values, NaN for customers out of the model.
    let clock = Instant::now();
    let nan = CustomerValue {
        p_alive: f64::NAN,
        expected_purchases: f64::NAN,
        expected_spend: f64::NAN,
        clv: f64::NAN,
    };
    let mut per_customer = vec![nan; n_customers];
    if !values.is_empty() {
        for (v, &i) in values.iter().zip(&active) {
            per_customer[i as usize] = *v;
        }
    }
    // Customers with recorded marketing costs: their own rate over the horizon.
    for (c, records) in summary_options.recorded_costs.iter() {
        if let (Some(v), Some(s)) = (per_customer.get_mut(c as usize), summaries.get(c as usize)) {
            v.clv = clv_with_recorded_costs(
                v.clv,
                horizon_marketing_cost,
                records,
                s.first_day,
                calibration_end,
                unit,
                &clv_options,
            );
        }
    }
    let p_alive: Option<Vec<f64>> = model
        .as_ref()
        .map(|_| per_customer.iter().map(|v| v.p_alive).collect());
    let breakpoints = Breakpoints {
        rfm: rfm_breakpoints,
        abc: abc_cuts,
        one_time_gap: churn_pending.typical_gap(),
    };
    let churn = churn_pending.finish(p_alive.as_deref())?;
    let mut churn_flags = vec![0u8; n_customers];
    let mut churn_index = vec![NONE; n_customers];
    for (k, w) in churn.iter().enumerate() {
        churn_index[w.customer as usize] = k as u32;
        for r in &w.reasons {
            churn_flags[w.customer as usize] |= match r.kind {
                ReasonKind::RevenueDrop { .. } => CHURN_REVENUE_DROP,
                ReasonKind::LongAbsence { .. } => CHURN_LONG_ABSENCE,
                ReasonKind::LowPAlive { .. } => CHURN_LOW_P_ALIVE,
                ReasonKind::NoSecondPurchase { .. } => CHURN_NO_SECOND_PURCHASE,
            };
        }
    }
    timings.push(Timing {
        step: "churn",
        seconds: clock.elapsed().as_secs_f64(),
    });

    let mut loyalty = LoyaltyCounts::default();
    let stages: Vec<Option<Stage>> = summaries
        .iter()
        .map(|s| {
            let stage = stage_of(s);
            match stage {
                Some(Stage::RepeatBuyer) => loyalty.repeat_buyer += 1,
                Some(_) => loyalty.first_time_buyer += 1,
                None => {}
            }
            stage
        })
        .collect();
    let mut lifecycle = LifecycleCounts::default();
    for p in phases.iter().flatten() {
        match p {
            Phase::Introduction => lifecycle.introduction += 1,
            Phase::Growth => lifecycle.growth += 1,
            Phase::Maturity => lifecycle.maturity += 1,
            Phase::Decline => lifecycle.decline += 1,
        }
    }
    let totals = Totals {
        customers: n_customers,
        customers_in_calibration: active.len(),
        order_lines: orders.len(),
        zero_amount_lines,
        revenue,
        cost,
        marketing_cost,
        margin,
        clv: per_customer
            .iter()
            .map(|v| v.clv)
            .filter(|v| v.is_finite())
            .sum(),
    };
    let mut options = opts.clone();
    options.calibration_end = Some(calibration_end);
    options.horizon = Some(horizon);
    options.margin = Some(margin_ratio);
    Ok(Analysis {
        options,
        summary_options,
        first_day,
        last_day,
        calibration_end,
        horizon,
        clv_options,
        horizon_marketing_cost,
        totals,
        summaries,
        values: per_customer,
        abc,
        stages,
        phases,
        churn_flags,
        rfm,
        churn,
        model,
        model_error,
        model_selection,
        not_enough_history,
        whale,
        loyalty,
        lifecycle,
        notes: vec![ZERO_DOLLAR_NOTE, LOYALTY_NOTE],
        timings,
        breakpoints,
        rfm_index,
        churn_index,
    })
}

/// The summary options of an analysis with `opts` over the calibration period ending on
/// `calibration_end` (and a holdout to `observation_end`).
pub(crate) fn summary_options(
    opts: &AnalysisOptions,
    calibration_end: Day,
    observation_end: Option<Day>,
) -> SummaryOptions {
    SummaryOptions {
        unit: opts.unit,
        grouping: Grouping::Days,
        calibration_end,
        observation_end,
        marketing_cost: if opts.marketing_cost > 0.0 {
            MarketingCost::PerPeriod(opts.marketing_cost * f64::from(opts.unit.days()) / 365.0)
        } else {
            MarketingCost::None
        },
        recorded_costs: RecordedCosts::default(),
    }
}

/// The relationship-marketing cost (`per_year` per customer) over the CLV horizon of
/// `clv_options` in `unit`s, discounted like the CLV's steps: what the CLV subtracts.
pub fn horizon_marketing_cost(per_year: f64, unit: TimeUnit, clv_options: &ClvOptions) -> f64 {
    let per_step = per_year * clv_options.step_length * f64::from(unit.days()) / 365.0;
    (1..=clv_options.steps)
        .map(|m| per_step / (1.0 + clv_options.discount_rate).powi(m as i32))
        .sum()
}

/// The CLV of a customer with recorded marketing costs `records`: `clv` (net of the flat
/// rate's discounted horizon cost `flat`, as [`model_values`] gives it) with the discounted
/// horizon cost of the customer's recorded yearly rate ([`RecordedCosts::yearly_rate`] up to
/// `end`, the calibration end) instead. Non-finite CLVs (no model) stay as they are.
pub fn clv_with_recorded_costs(
    clv: f64,
    flat: f64,
    records: &[(Day, f64)],
    first_day: Option<Day>,
    end: Day,
    unit: TimeUnit,
    clv_options: &ClvOptions,
) -> f64 {
    if !clv.is_finite() {
        return clv;
    }
    let rate = RecordedCosts::yearly_rate(records, first_day, end);
    clv + flat - horizon_marketing_cost(rate, unit, clv_options)
}

/// The loyalty stage of a customer from its purchases: first-time buyer (one purchase period)
/// or repeat buyer; `None` without a purchase.
pub(crate) fn stage_of(s: &CustomerSummary) -> Option<Stage> {
    s.first_day?;
    Some(if s.rft.frequency > 0.0 {
        Stage::RepeatBuyer
    } else {
        Stage::FirstTimeBuyer
    })
}

/// P(alive), expected purchases, expected spend and CLV (net of the horizon's discounted
/// marketing cost) of customers from a purchase model and, when there is one, a spend model:
/// without it the spend and the CLV are NaN.
pub fn model_values(
    purchase: &AnyPurchaseModel,
    spend: Option<&GammaGamma>,
    rfts: &[Rft],
    clv_options: &ClvOptions,
    horizon_marketing_cost: f64,
) -> Result<Vec<CustomerValue>, ModelError> {
    let mut values = match spend {
        Some(gg) => clv::customer_values(purchase, gg, rfts, clv_options)?,
        None => {
            let h = clv_options.horizon();
            rfts.iter()
                .map(|c| CustomerValue {
                    p_alive: purchase.p_alive(c),
                    expected_purchases: purchase.conditional_expected_purchases(c, h),
                    expected_spend: f64::NAN,
                    clv: f64::NAN,
                })
                .collect()
        }
    };
    if horizon_marketing_cost != 0.0 {
        for v in &mut values {
            v.clv -= horizon_marketing_cost;
        }
    }
    Ok(values)
}

struct PopulationFigures {
    rfm: RfmResult,
    rfm_index: Vec<u32>,
    rfm_breakpoints: RfmBreakpoints,
    abc: AbcResult,
    abc_cuts: AbcCuts,
    whale: WhaleCurve,
    phases: Vec<Option<Phase>>,
    churn_pending: churn::ChurnPending,
    timings: Vec<Timing>,
}

fn population_figures(
    histories: &Histories,
    summaries: &[CustomerSummary],
    calibration_end: Day,
    opts: &AnalysisOptions,
) -> Result<PopulationFigures, AnalysisError> {
    let clock = Instant::now();
    let n = summaries.len();
    let rfm_inputs = rfm::inputs_from_summaries(summaries, calibration_end, opts.rfm.monetary);
    let rfm = rfm::rfm(&rfm_inputs, &opts.rfm);
    let rfm_breakpoints = RfmBreakpoints::of(&rfm_inputs, &rfm.scores, calibration_end);
    drop(rfm_inputs);
    let mut rfm_index = vec![NONE; n];
    for (k, s) in rfm.scores.iter().enumerate() {
        rfm_index[s.customer as usize] = k as u32;
    }
    let abc_values = abc::values_from_summaries(summaries, opts.abc.measure);
    let abc = abc::classify(&abc_values, &opts.abc)?;
    let abc_cuts = AbcCuts::of(&abc_values, &abc.classes);
    drop(abc_values);
    let margins: Vec<f64> = summaries.iter().map(|s| s.margin).collect();
    let whale = whale::whale_curve(&margins, &opts.whale);
    let mut timings = vec![Timing {
        step: "rfm_abc_whale",
        seconds: clock.elapsed().as_secs_f64(),
    }];
    let clock = Instant::now();
    let phases = lifecycle(histories, summaries, calibration_end, opts);
    timings.push(Timing {
        step: "lifecycle",
        seconds: clock.elapsed().as_secs_f64(),
    });
    let clock = Instant::now();
    let churn_pending = churn::churn_pending_histories(histories, calibration_end, &opts.churn)?;
    timings.push(Timing {
        step: "churn_orders",
        seconds: clock.elapsed().as_secs_f64(),
    });
    Ok(PopulationFigures {
        rfm,
        rfm_index,
        rfm_breakpoints,
        abc,
        abc_cuts,
        whale,
        phases,
        churn_pending,
        timings,
    })
}

/// What the model thread answers.
struct ModelOutcome {
    fit: Option<ModelFit>,
    error: Option<String>,
    values: Vec<CustomerValue>,
    timings: Vec<Timing>,
    selection: Option<ModelSelection>,
    not_enough_history: Option<NotEnoughHistory>,
}

#[allow(clippy::too_many_arguments)]
fn fit_models(
    opts: &AnalysisOptions,
    active: &[u32],
    summaries: &[CustomerSummary],
    histories: &Histories,
    (first_day, calibration_end): (Day, Day),
    summary_options: &SummaryOptions,
    clv_options: &ClvOptions,
    horizon_marketing_cost: f64,
) -> ModelOutcome {
    let mut out = ModelOutcome {
        fit: None,
        error: None,
        values: Vec::new(),
        timings: Vec::new(),
        selection: None,
        not_enough_history: None,
    };
    let rfts: Vec<Rft> = active.iter().map(|&i| summaries[i as usize].rft).collect();
    // Too little history: no model at all (nor a comparison of models).
    if let Err(e) = diagnostics::check_history(&rfts, &opts.history) {
        out.error = Some(e.to_string());
        out.not_enough_history = Some(e);
        return out;
    }
    // The model: pinned, or chosen by holdout (candidates best first).
    let clock = Instant::now();
    let (candidates, mut reuse) = match opts.model.pinned() {
        Some(k) => (vec![k], None),
        None => {
            let (selection, ranked, reuse) = select_model(
                opts,
                summaries,
                histories,
                (first_day, calibration_end),
                summary_options,
            );
            out.timings.push(Timing {
                step: "model_selection",
                seconds: clock.elapsed().as_secs_f64(),
            });
            out.selection = Some(selection);
            (ranked, reuse)
        }
    };
    let clock = Instant::now();
    let population = match Population::new(&rfts) {
        Ok(p) => p,
        Err(e) => {
            out.error = Some(format!("model inputs: {e}"));
            return out;
        }
    };
    // The best candidate the whole period identifies; the first one's failure otherwise.
    let mut first_failure: Option<(Option<NotEnoughHistory>, String)> = None;
    let mut chosen = None;
    for &kind in &candidates {
        let fitted = match reuse.take() {
            Some(f) => Ok(f),
            None => models::fit_purchase_model(kind, &population, &FitOptions::default()),
        };
        let failure = match fitted {
            Ok(f) => match diagnostics::check_fit(&f, &rfts, &opts.history) {
                Ok(()) => {
                    chosen = Some((kind, f));
                    break;
                }
                Err(e) => (Some(e.clone()), e.to_string()),
            },
            Err(e) => {
                if matches!(
                    e,
                    ModelError::Unidentifiable(_)
                        | ModelError::Degenerate { .. }
                        | ModelError::Empty
                ) {
                    let n = NotEnoughHistory::new(
                        "fit_failed",
                        format!("the {} fit failed: {e}", model_label(kind)),
                    );
                    (Some(n.clone()), n.to_string())
                } else {
                    (None, format!("{kind} fit: {e}"))
                }
            }
        };
        if let (Some(sel), Some(n)) = (out.selection.as_mut(), &failure.0) {
            sel.reason.push_str(&format!(
                "; {} not used on the whole period ({})",
                model_label(kind),
                n.reason
            ));
        }
        first_failure.get_or_insert(failure);
    }
    let Some((kind, purchase)) = chosen else {
        let (n, message) = first_failure.unwrap_or((None, "no purchase model".to_string()));
        out.error = Some(message);
        out.not_enough_history = n;
        return out;
    };
    if let Some(sel) = out.selection.as_mut() {
        if sel.chosen != kind {
            sel.reason
                .push_str(&format!("; the next best, {}, is used", model_label(kind)));
            sel.chosen = kind;
        }
    }
    let purchase_seconds = clock.elapsed().as_secs_f64();
    out.timings.push(Timing {
        step: "purchase_model_fit",
        seconds: purchase_seconds,
    });
    let clock = Instant::now();
    let (spend, spend_error) = match gammagamma::fit(&rfts, &FitOptions::default()) {
        Ok(f) => match f.model.population_mean_spend() {
            Ok(_) => (Some(f), None),
            Err(e) => (None, Some(format!("Gamma-Gamma: {e}"))),
        },
        Err(e) => (None, Some(format!("Gamma-Gamma fit: {e}"))),
    };
    let spend_seconds = clock.elapsed().as_secs_f64();
    out.timings.push(Timing {
        step: "gamma_gamma_fit",
        seconds: spend_seconds,
    });
    let clock = Instant::now();
    let values = match model_values(
        &purchase.model,
        spend.as_ref().map(|g| &g.model),
        &rfts,
        clv_options,
        horizon_marketing_cost,
    ) {
        Ok(v) => v,
        Err(e) => {
            out.error = Some(format!("CLV: {e}"));
            return out;
        }
    };
    out.timings.push(Timing {
        step: "customer_values",
        seconds: clock.elapsed().as_secs_f64(),
    });
    let holdout = if summary_options.observation_end.is_some() {
        let hp: Vec<f64> = active
            .iter()
            .map(|&i| summaries[i as usize].holdout_purchases)
            .collect();
        match diagnostics::holdout_by_frequency(
            &purchase.model,
            &rfts,
            &hp,
            summary_options.holdout_length(),
            opts.holdout_max_frequency,
        ) {
            Ok(h) => Some(h),
            Err(e) => {
                out.error = Some(format!("holdout: {e}"));
                return out;
            }
        }
    } else {
        None
    };
    let population_mean_spend = spend
        .as_ref()
        .and_then(|g| g.model.population_mean_spend().ok());
    out.fit = Some(ModelFit {
        kind,
        purchase,
        purchase_seconds,
        spend,
        spend_seconds,
        spend_error,
        population_mean_spend,
        holdout,
    });
    out.values = values;
    out
}

/// `auto`: BG/NBD, MBG/NBD and Pareto/NBD compared on a holdout ([`MODEL_CHOICE_RULE`]). Answers
/// the choice and, when the comparison's calibration window is the analysis's own (a given
/// holdout), the chosen model's fit to reuse.
fn select_model(
    opts: &AnalysisOptions,
    summaries: &[CustomerSummary],
    histories: &Histories,
    (first_day, calibration_end): (Day, Day),
    summary_options: &SummaryOptions,
) -> (
    ModelSelection,
    Vec<ModelKind>,
    Option<Fitted<AnyPurchaseModel>>,
) {
    let fallback = |cal_end: Day, hold_end: Day, length: f64, reason: String| ModelSelection {
        chosen: ModelKind::BgNbd,
        reason: format!("{reason}: BG/NBD is used"),
        rule: MODEL_CHOICE_RULE,
        calibration_end: cal_end,
        holdout_end: hold_end,
        holdout_length: length,
        comparison: Vec::new(),
    };
    // The comparison's window: the given holdout, else the last third of the history.
    let own;
    let (window, cal_end, hold_end, length, same_calibration) = match summary_options
        .observation_end
    {
        Some(h) => (
            summaries,
            summary_options.calibration_end,
            h,
            summary_options.holdout_length(),
            true,
        ),
        None => {
            let unit = opts.unit.days() as Day;
            let span = calibration_end - first_day;
            let holdout_days = span / 3 / unit * unit;
            if holdout_days < MIN_HOLDOUT_DAYS.max(unit) {
                return (
                        fallback(
                            calibration_end,
                            calibration_end,
                            0.0,
                            format!(
                                "the history ({span} days) is too short to hold out a third of it (at least {MIN_HOLDOUT_DAYS} days)"
                            ),
                        ),
                        vec![ModelKind::BgNbd],
                        None,
                    );
            }
            let split = SummaryOptions {
                calibration_end: calibration_end - holdout_days,
                observation_end: Some(calibration_end),
                marketing_cost: MarketingCost::None,
                ..summary_options.clone()
            };
            let length = split.holdout_length();
            own = match summary::summarize_histories(histories, &split) {
                Ok(s) => s,
                Err(e) => {
                    return (
                        fallback(
                            split.calibration_end,
                            calibration_end,
                            length,
                            format!("the comparison window could not be summarised ({e})"),
                        ),
                        vec![ModelKind::BgNbd],
                        None,
                    )
                }
            };
            (
                own.as_slice(),
                split.calibration_end,
                calibration_end,
                length,
                false,
            )
        }
    };
    let used: Vec<&CustomerSummary> = window.iter().filter(|s| s.first_day.is_some()).collect();
    let cal: Vec<Rft> = used.iter().map(|s| s.rft).collect();
    let hold: Vec<f64> = used.iter().map(|s| s.holdout_purchases).collect();
    // A holdout without a single purchase (the history ends before it, as when the as-of date
    // lies long after the last order) tells the models apart by nothing: no comparison.
    if hold.iter().all(|h| *h <= 0.0) {
        return (
            fallback(
                cal_end,
                hold_end,
                length,
                "the holdout window holds no purchase (the history ends before it)".to_string(),
            ),
            vec![ModelKind::BgNbd],
            None,
        );
    }
    if let Err(e) = diagnostics::check_history(&cal, &opts.history) {
        return (
            fallback(
                cal_end,
                hold_end,
                length,
                format!(
                    "the comparison's calibration window has too little purchase history ({})",
                    e.reason
                ),
            ),
            vec![ModelKind::BgNbd],
            None,
        );
    }
    let kinds = [ModelKind::BgNbd, ModelKind::MbgNbd, ModelKind::ParetoNbd];
    // The three fits run side by side.
    let (cal_ref, hold_ref) = (&cal, &hold);
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = kinds
            .iter()
            .map(|&k| {
                scope.spawn(move || {
                    diagnostics::compare_on_holdout(
                        cal_ref,
                        hold_ref,
                        length,
                        &[k],
                        &FitOptions::default(),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("model comparison thread panicked"))
            .collect()
    });
    let mut comparison = Vec::new();
    let mut fits = Vec::new();
    for (kind, result) in kinds.into_iter().zip(results) {
        let result = result
            .map_err(|e| e.to_string())
            .and_then(|mut v| v.pop().ok_or_else(|| "no comparison".to_string()));
        let row = match result {
            Ok(c) => {
                let excluded = match (&c.error, &c.fit) {
                    (Some(e), _) => Some(format!("fit failed: {e}")),
                    (None, Some(f)) => diagnostics::check_fit(f, &cal, &opts.history)
                        .err()
                        .map(|e| e.reason),
                    (None, None) => Some("no fit".to_string()),
                }
                .or_else(|| {
                    (!c.mean_absolute_error.is_finite())
                        .then(|| "no finite holdout error".to_string())
                });
                let row = ModelComparison {
                    kind,
                    customers: c.n_customers,
                    actual_total: c.actual_total,
                    predicted_total: c.predicted_total,
                    mean_absolute_error: c.mean_absolute_error,
                    root_mean_squared_error: c.root_mean_squared_error,
                    converged: c.fit.as_ref().map(|f| f.converged),
                    excluded,
                };
                fits.push(c.fit);
                row
            }
            Err(e) => {
                fits.push(None);
                ModelComparison {
                    kind,
                    customers: cal.len(),
                    actual_total: hold.iter().sum(),
                    predicted_total: f64::NAN,
                    mean_absolute_error: f64::NAN,
                    root_mean_squared_error: f64::NAN,
                    converged: None,
                    excluded: Some(e),
                }
            }
        };
        comparison.push(row);
    }
    let best = comparison
        .iter()
        .enumerate()
        .filter(|(_, c)| c.excluded.is_none())
        .fold(None::<(usize, f64)>, |best, (i, c)| match best {
            Some((_, m)) if m <= c.mean_absolute_error => best,
            _ => Some((i, c.mean_absolute_error)),
        });
    let Some((i, mae)) = best else {
        let mut s = fallback(
            cal_end,
            hold_end,
            length,
            "no model could be used on the comparison window".to_string(),
        );
        s.comparison = comparison;
        return (s, vec![ModelKind::BgNbd], None);
    };
    let chosen = comparison[i].kind;
    let others: Vec<String> = comparison
        .iter()
        .filter(|c| c.kind != chosen && c.excluded.is_none())
        .map(|c| format!("{} {:.4}", model_label(c.kind), c.mean_absolute_error))
        .collect();
    let reason = format!(
        "lowest mean absolute error per customer of the holdout repeat purchases: {mae:.4}{}",
        if others.is_empty() {
            String::new()
        } else {
            format!(" ({})", others.join(", "))
        }
    );
    let reuse = if same_calibration {
        fits.swap_remove(i)
    } else {
        None
    };
    // Candidates by error, best first (ties keep the order of `kinds`).
    let mut ranked: Vec<&ModelComparison> =
        comparison.iter().filter(|c| c.excluded.is_none()).collect();
    ranked.sort_by(|a, b| a.mean_absolute_error.total_cmp(&b.mean_absolute_error));
    let ranked: Vec<ModelKind> = ranked.into_iter().map(|c| c.kind).collect();
    (
        ModelSelection {
            chosen,
            reason,
            rule: MODEL_CHOICE_RULE,
            calibration_end: cal_end,
            holdout_end: hold_end,
            holdout_length: length,
            comparison,
        },
        ranked,
        reuse,
    )
}

/// Lifecycle phase of each customer from its margin (revenue - cost) per period ending on the
/// calibration end, from its first period (at most the last `lifecycle_periods`).
fn lifecycle(
    histories: &Histories,
    summaries: &[CustomerSummary],
    cal_end: Day,
    opts: &AnalysisOptions,
) -> Vec<Option<Phase>> {
    let q = opts.lifecycle_periods;
    histories.map_ranges(histories.threads(), |range| {
        let mut series = Vec::with_capacity(q);
        range
            .map(|c| phase_of(histories, c, summaries, cal_end, opts, &mut series))
            .collect()
    })
}

/// The lifecycle phase of customer `c` ([`lifecycle`]; `series`: a buffer).
pub(crate) fn phase_of(
    histories: &Histories,
    c: usize,
    summaries: &[CustomerSummary],
    cal_end: Day,
    opts: &AnalysisOptions,
    series: &mut Vec<f64>,
) -> Option<Phase> {
    let q = opts.lifecycle_periods;
    let len = opts.lifecycle_period_days as Day;
    let first = summaries[c].first_day?;
    let back = (((cal_end - first) / len) as usize).min(q - 1);
    series.clear();
    series.resize(back + 1, 0.0);
    for l in histories.until(c, cal_end) {
        let ago = ((cal_end - l.day) / len) as usize;
        if ago <= back {
            series[back - ago] += l.revenue - l.cost;
        }
    }
    loyalty::lifecycle_phase(series, &opts.lifecycle).map(|a| a.phase)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(customer: u32, day: Day, revenue: f64) -> OrderLine {
        OrderLine {
            customer,
            day,
            revenue,
            cost: 0.0,
        }
    }

    #[test]
    fn small_population_end_to_end() {
        let mut orders = Vec::new();
        for c in 0..40u32 {
            let k = c % 5;
            for j in 0..=k {
                orders.push(line(c, (j * 30 + c) as Day, 10.0 + f64::from(c)));
            }
        }
        orders.push(line(40, 5, 0.0));
        let an = analyze(&orders, 42, &AnalysisOptions::default()).unwrap();
        assert_eq!(an.n_customers(), 42);
        assert_eq!(an.values.len(), 42);
        assert_eq!(an.totals.customers_in_calibration, 41);
        assert_eq!(an.totals.zero_amount_lines, 1);
        assert!(an.rfm_score(41).is_none());
        assert!(an.rfm_score(0).is_some());
        assert!(an.values[41].p_alive.is_nan());
        assert!(an.stages[41].is_none());
        assert_eq!(
            an.loyalty.first_time_buyer + an.loyalty.repeat_buyer,
            an.totals.customers_in_calibration as u64
        );
        // These clockwork purchases (every 30 days) do not identify the BG/NBD: its dropout
        // parameters run off to the bounds, so no model is used and the figures say why.
        assert!(an.model.is_none());
        let n = an.not_enough_history.as_ref().unwrap();
        assert_eq!(n.code, "parameter_at_bound", "{n:?}");
        assert!(an.values[3].p_alive.is_nan());
        // TOML has no null, so only the parts without `None` in arrays go through it here.
        let text = toml::to_string(&an.totals).unwrap();
        assert!(text.contains("customers_in_calibration"), "{text}");
        assert!(toml::to_string(&an.lifecycle).is_ok());
        assert!(toml::to_string(n).unwrap().contains("fallback"));
    }

    #[test]
    fn options_deserialize_with_defaults() {
        let o: AnalysisOptions =
            toml::from_str("unit = \"week\"\nmodel = \"paretonbd\"\nhorizon = 26.0").unwrap();
        assert_eq!(o.unit, TimeUnit::Week);
        assert_eq!(o.model, ModelChoice::ParetoNbd);
        assert_eq!(o.horizon, Some(26.0));
        assert_eq!(o.clv_steps, 12);
        let d: AnalysisOptions = toml::from_str("").unwrap();
        assert_eq!(d, AnalysisOptions::default());
    }

    #[test]
    fn bad_options_are_errors() {
        let orders = vec![line(0, 10, 5.0), line(0, 20, 5.0)];
        let o = AnalysisOptions {
            holdout_end: Some(5),
            ..AnalysisOptions::default()
        };
        assert!(matches!(
            analyze(&orders, 1, &o),
            Err(AnalysisError::HoldoutNotAfterCalibration { .. })
        ));
        assert_eq!(
            analyze(&[], 0, &AnalysisOptions::default()).unwrap_err(),
            AnalysisError::NoOrders
        );
    }

    /// Three buyers: the purchase model is not used, and the figures say why.
    #[test]
    fn three_buyers_are_not_enough_purchase_history() {
        let orders = vec![
            line(0, 0, 10.0),
            line(0, 40, 12.0),
            line(0, 90, 9.0),
            line(1, 10, 30.0),
            line(1, 100, 20.0),
            line(2, 50, 5.0),
        ];
        for model in [ModelChoice::Auto, ModelChoice::BgNbd] {
            let o = AnalysisOptions {
                model,
                ..AnalysisOptions::default()
            };
            let an = analyze(&orders, 3, &o).unwrap();
            assert!(an.model.is_none());
            let n = an.not_enough_history.as_ref().expect("not enough history");
            assert_eq!(n.code, "few_repeat_customers");
            assert!(n.reason.contains("2 of 3 customers"), "{}", n.reason);
            assert!(an
                .model_error
                .as_deref()
                .unwrap()
                .starts_with("not enough purchase history"));
            assert!(an
                .values
                .iter()
                .all(|v| v.clv.is_nan() && v.p_alive.is_nan()));
            assert!(an.model_selection.is_none());
        }
    }

    /// Simulated BG/NBD customers over two years: `auto` compares the three models on the
    /// last third and uses the one with the lowest error; a pinned model is used as given.
    #[test]
    fn auto_compares_the_models_on_a_holdout() {
        let mut orders = Vec::new();
        let mut seed = 7u64;
        let mut rand = || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let n = 400u32;
        for c in 0..n {
            // Poisson purchases at a rate of its own, an exponential lifetime of its own.
            let start = rand() * 200.0;
            let gap = 20.0 + 300.0 * rand() * rand();
            let death = start - (1.0 - rand()).ln() * 500.0 * (0.2 + rand());
            let mut t = start;
            while t <= 730.0 && t <= death {
                orders.push(line(c, t as Day, 10.0 + 50.0 * rand()));
                t -= (1.0 - rand()).ln() * gap;
            }
        }
        let an = analyze(&orders, n as usize, &AnalysisOptions::default()).unwrap();
        let sel = an.model_selection.as_ref().expect("auto compares");
        assert_eq!(sel.comparison.len(), 3, "{sel:?}");
        assert_eq!(sel.holdout_end, an.calibration_end);
        assert!(sel.calibration_end < sel.holdout_end);
        let best = sel
            .comparison
            .iter()
            .filter(|c| c.excluded.is_none())
            .map(|c| c.mean_absolute_error)
            .fold(f64::INFINITY, f64::min);
        let chosen = sel
            .comparison
            .iter()
            .find(|c| c.kind == sel.chosen)
            .unwrap();
        assert_eq!(chosen.mean_absolute_error, best, "{sel:?}");
        let m = an
            .model
            .as_ref()
            .unwrap_or_else(|| panic!("{:?}", an.model_error));
        assert_eq!(m.kind, sel.chosen);
        assert!(an.not_enough_history.is_none());
        assert!(an.values.iter().any(|v| v.clv.is_finite()));
        for pinned in [ModelKind::BgNbd, ModelKind::MbgNbd, ModelKind::ParetoNbd] {
            let o = AnalysisOptions {
                model: pinned.into(),
                ..AnalysisOptions::default()
            };
            let an = analyze(&orders, n as usize, &o).unwrap();
            assert!(an.model_selection.is_none());
            assert_eq!(an.model.as_ref().unwrap().kind, pinned);
        }
        assert_eq!("auto".parse::<ModelChoice>(), Ok(ModelChoice::Auto));
        assert_eq!("MBG/NBD".parse::<ModelChoice>(), Ok(ModelChoice::MbgNbd));
        assert_eq!(ModelChoice::ParetoNbd.to_string(), "paretonbd");
        assert!("lifetimes".parse::<ModelChoice>().is_err());
    }

    /// A fit pressed against the bounds (a = 110,043, b = 9e-6) is not used.
    #[test]
    fn a_fit_at_the_bounds_is_not_identified() {
        use crate::models::BgNbd;
        let customers: Vec<Rft> = (0..30)
            .map(|i| Rft {
                frequency: f64::from(i % 4),
                recency: if i % 4 == 0 { 0.0 } else { 50.0 + f64::from(i) },
                t: 100.0,
                monetary_value: 10.0,
            })
            .collect();
        let fit = Fitted {
            model: AnyPurchaseModel::BgNbd(BgNbd::new(0.5, 10.0, 110_043.0, 9e-6).unwrap()),
            log_likelihood: -100.0,
            iterations: 20,
            converged: true,
            n_customers: 30,
        };
        let e = diagnostics::check_fit(&fit, &customers, &HistoryRules::default()).unwrap_err();
        assert_eq!(e.code, "parameter_at_bound");
        assert!(e.reason.contains("a = 110043 "), "{}", e.reason);
        let same: Vec<Rft> = customers
            .iter()
            .map(|c| Rft {
                frequency: 1.0,
                recency: 50.0,
                ..*c
            })
            .collect();
        assert_eq!(
            diagnostics::check_history(&same, &HistoryRules::default())
                .unwrap_err()
                .code,
            "same_frequency"
        );
    }
}
