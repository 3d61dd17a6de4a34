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

use crate::abc::{self, AbcClass, AbcConfig, AbcError, AbcResult};
use crate::churn::{self, ChurnConfig, ChurnError, ChurnWarning, ReasonKind};
use crate::history::{Histories, HistoryError};
use crate::loyalty::{self, LifecycleConfig, Phase, Stage};
use crate::models::clv::{self, ClvOptions, CustomerValue};
use crate::models::diagnostics::{self, HoldoutBin};
use crate::models::{
    self, gammagamma, AnyPurchaseModel, FitOptions, Fitted, GammaGamma, ModelKind, Population,
    PurchaseModel,
};
use crate::rfm::{self, RfmConfig, RfmResult, RfmScore};
use crate::summary::{
    self, CustomerSummary, Grouping, MarketingCost, Rft, SummaryError, SummaryOptions, TimeUnit,
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
    /// Purchase model.
    pub model: ModelKind,
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
            model: ModelKind::BgNbd,
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
    /// [`CHURN_LOW_P_ALIVE`]).
    pub churn_flags: Vec<u8>,
    /// RFM scores of customers with calibration orders (see [`Analysis::rfm_score`]) and the
    /// grid and segment figures.
    pub rfm: RfmResult,
    /// Warned customers with reasons and value at risk, biggest value at risk first (see
    /// [`Analysis::churn_warning`]).
    pub churn: Vec<ChurnWarning>,

    // Population.
    /// The models, or why they could not be fitted.
    pub model: Option<ModelFit>,
    pub model_error: Option<String>,
    pub whale: WhaleCurve,
    pub loyalty: LoyaltyCounts,
    pub lifecycle: LifecycleCounts,
    pub notes: Vec<&'static str>,
    pub timings: Vec<Timing>,

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
    let summary_options = SummaryOptions {
        unit,
        grouping: Grouping::Days,
        calibration_end,
        observation_end: opts.holdout_end,
        marketing_cost: if opts.marketing_cost > 0.0 {
            MarketingCost::PerPeriod(opts.marketing_cost * unit_days / 365.0)
        } else {
            MarketingCost::None
        },
    };
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
    let per_step = opts.marketing_cost * clv_options.step_length * unit_days / 365.0;
    let horizon_marketing_cost: f64 = (1..=steps)
        .map(|m| per_step / (1.0 + clv_options.discount_rate).powi(m as i32))
        .sum();

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
    let (model, model_error, values, model_timings) = match model {
        Ok((m, v, t)) => (Some(m), None, v, t),
        Err(e) => (None, Some(e), Vec::new(), Vec::new()),
    };
    let PopulationFigures {
        rfm,
        rfm_index,
        abc,
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
    let p_alive: Option<Vec<f64>> = model
        .as_ref()
        .map(|_| per_customer.iter().map(|v| v.p_alive).collect());
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
            s.first_day?;
            Some(if s.rft.frequency > 0.0 {
                loyalty.repeat_buyer += 1;
                Stage::RepeatBuyer
            } else {
                loyalty.first_time_buyer += 1;
                Stage::FirstTimeBuyer
            })
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
        whale,
        loyalty,
        lifecycle,
        notes: vec![ZERO_DOLLAR_NOTE, LOYALTY_NOTE],
        timings,
        rfm_index,
        churn_index,
    })
}

struct PopulationFigures {
    rfm: RfmResult,
    rfm_index: Vec<u32>,
    abc: AbcResult,
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
    let rfm = rfm::rfm(
        &rfm::inputs_from_summaries(summaries, calibration_end, opts.rfm.monetary),
        &opts.rfm,
    );
    let mut rfm_index = vec![NONE; n];
    for (k, s) in rfm.scores.iter().enumerate() {
        rfm_index[s.customer as usize] = k as u32;
    }
    let abc = abc::classify(
        &abc::values_from_summaries(summaries, opts.abc.measure),
        &opts.abc,
    )?;
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
        abc,
        whale,
        phases,
        churn_pending,
        timings,
    })
}

type ModelOutcome = Result<(ModelFit, Vec<CustomerValue>, Vec<Timing>), String>;

fn fit_models(
    opts: &AnalysisOptions,
    active: &[u32],
    summaries: &[CustomerSummary],
    summary_options: &SummaryOptions,
    clv_options: &ClvOptions,
    horizon_marketing_cost: f64,
) -> ModelOutcome {
    let kind = opts.model;
    let mut timings = Vec::new();
    let rfts: Vec<Rft> = active.iter().map(|&i| summaries[i as usize].rft).collect();
    let clock = Instant::now();
    let population = Population::new(&rfts).map_err(|e| format!("model inputs: {e}"))?;
    let purchase = models::fit_purchase_model(kind, &population, &FitOptions::default())
        .map_err(|e| format!("{kind} fit: {e}"))?;
    let purchase_seconds = clock.elapsed().as_secs_f64();
    timings.push(Timing {
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
    timings.push(Timing {
        step: "gamma_gamma_fit",
        seconds: spend_seconds,
    });
    let clock = Instant::now();
    let mut values = match &spend {
        Some(gg) => clv::customer_values(&purchase.model, &gg.model, &rfts, clv_options)
            .map_err(|e| format!("CLV: {e}"))?,
        None => {
            let h = clv_options.horizon();
            rfts.iter()
                .map(|c| CustomerValue {
                    p_alive: purchase.model.p_alive(c),
                    expected_purchases: purchase.model.conditional_expected_purchases(c, h),
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
    timings.push(Timing {
        step: "customer_values",
        seconds: clock.elapsed().as_secs_f64(),
    });
    let holdout = if summary_options.observation_end.is_some() {
        let hp: Vec<f64> = active
            .iter()
            .map(|&i| summaries[i as usize].holdout_purchases)
            .collect();
        Some(
            diagnostics::holdout_by_frequency(
                &purchase.model,
                &rfts,
                &hp,
                summary_options.holdout_length(),
                opts.holdout_max_frequency,
            )
            .map_err(|e| format!("holdout: {e}"))?,
        )
    } else {
        None
    };
    let population_mean_spend = spend
        .as_ref()
        .and_then(|g| g.model.population_mean_spend().ok());
    Ok((
        ModelFit {
            kind,
            purchase,
            purchase_seconds,
            spend,
            spend_seconds,
            spend_error,
            population_mean_spend,
            holdout,
        },
        values,
        timings,
    ))
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
    let len = opts.lifecycle_period_days as Day;
    histories.map_ranges(histories.threads(), |range| {
        let mut series = vec![0.0; q];
        range
            .map(|c| {
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
                loyalty::lifecycle_phase(&series, &opts.lifecycle).map(|a| a.phase)
            })
            .collect()
    })
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
        let m = an
            .model
            .as_ref()
            .unwrap_or_else(|| panic!("{:?}", an.model_error));
        assert!(m.purchase.log_likelihood.is_finite());
        assert!(an.values[3].p_alive > 0.0 && an.values[3].p_alive <= 1.0);
        // TOML has no null, so only the parts without `None` in arrays go through it here.
        let text = toml::to_string(&an.totals).unwrap();
        assert!(text.contains("customers_in_calibration"), "{text}");
        assert!(toml::to_string(&an.lifecycle).is_ok());
        assert!(toml::to_string(&an.model)
            .unwrap()
            .contains("log_likelihood"));
    }

    #[test]
    fn options_deserialize_with_defaults() {
        let o: AnalysisOptions =
            toml::from_str("unit = \"week\"\nmodel = \"paretonbd\"\nhorizon = 26.0").unwrap();
        assert_eq!(o.unit, TimeUnit::Week);
        assert_eq!(o.model, ModelKind::ParetoNbd);
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
}
