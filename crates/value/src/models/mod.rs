//! Probability models of customer value: BG/NBD, Pareto/NBD and Gamma-Gamma, fitted by maximum
//! likelihood, with the per-customer figures built on them (P(alive), expected purchases,
//! expected spend, CLV) and fit diagnostics.
//!
//! All inputs follow the lifetimes conventions of [`Rft`]: `frequency` = number of repeat
//! purchase periods `x`, `recency` = time of the last purchase since the first `t_x`,
//! `t` = age of the customer at the end of calibration `T`, all in one time unit (days or
//! weeks), and `monetary_value` = mean spend of the repeat periods.
//!
//! * [`bgnbd`]: Fader, Hardie & Lee (2005), "Counting your customers the easy way".
//! * [`mbgnbd`]: Batislam, Denizel & Filiztekin (2007), the BG/NBD in which a one-time buyer
//!   may be dead too (lifetimes' `ModifiedBetaGeoFitter`).
//! * [`paretonbd`]: Schmittlein, Morrison & Colombo (1987), with the likelihood of Fader &
//!   Hardie's implementation note, evaluated in log space with a cancellation-free
//!   hypergeometric series.
//! * [`gammagamma`]: Colombo & Jiang (1999) / Fader, Hardie & Lee (2005) spend model.
//! * [`clv`]: discounted expected margin over a horizon (the lifetimes approach).
//! * [`diagnostics`]: calibration/holdout tables, frequency histograms, independence check.
//! * [`simulate`]: draw populations from known parameters (seeded), for tests and benches.
//!
//! Fits maximise the likelihood over log-parameters with BFGS and an exact gradient obtained
//! by forward-mode automatic differentiation. Customers are first compressed to unique
//! `(x, t_x, T)` triples with counts ([`Population`]), so the cost of a fit grows with the number
//! of distinct histories, not customers; large populations are warm-started from a fit on a
//! stratified subsample of the distinct histories.

use std::fmt;
use std::str::FromStr;

use crate::summary::Rft;

pub mod bgnbd;
pub mod clv;
pub mod diagnostics;
mod dual;
pub mod gammagamma;
pub mod mbgnbd;
mod optim;
pub mod paretonbd;
pub mod simulate;
mod special;

pub use bgnbd::BgNbd;
pub use gammagamma::GammaGamma;
pub use mbgnbd::MbgNbd;
pub use paretonbd::ParetoNbd;
pub use special::{digamma, ln_gamma};

/// Everything that can go wrong when fitting or applying a model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// No customers were given (or none usable by the model).
    #[error("no customers to fit")]
    Empty,
    /// A customer's figures are impossible (negative, not finite, recency after T, ...).
    #[error("customer {index}: {reason}")]
    InvalidCustomer { index: usize, reason: &'static str },
    /// A model parameter is not finite and positive.
    #[error("parameter {name} = {value} must be finite and positive")]
    InvalidParameter { name: &'static str, value: f64 },
    /// An option is out of range.
    #[error("invalid option: {0}")]
    InvalidOptions(&'static str),
    /// The data carry no information on part of the model (e.g. nobody ever repeated).
    #[error("the data do not identify the model: {0}")]
    Unidentifiable(&'static str),
    /// The likelihood has no interior maximum: a parameter runs off to 0 or infinity.
    #[error("the likelihood has no interior maximum: parameter {parameter} ran off to {value:e}")]
    Degenerate { parameter: &'static str, value: f64 },
    /// The likelihood could not be evaluated at the start point.
    #[error("numerical failure: {0}")]
    Numerical(&'static str),
    /// Gamma-Gamma with `q <= 1` has an infinite population mean spend.
    #[error("the Gamma-Gamma population mean spend is infinite (q = {q} <= 1)")]
    InfiniteMeanSpend { q: f64 },
    /// Slices that should have one entry per customer differ in length.
    #[error("length mismatch: {what} has {got} entries, expected {expected}")]
    LengthMismatch {
        what: &'static str,
        got: usize,
        expected: usize,
    },
}

/// Settings shared by the maximum-likelihood fits. No penalizer: the fits are plain MLE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Maximum number of BFGS iterations (per stage: subsample warm start, then full data).
    pub max_iterations: usize,
    /// Convergence when every component of the gradient of the *mean* per-customer
    /// log-likelihood with respect to the log-parameters is below this.
    pub gradient_tolerance: f64,
    /// Warm-start from a subsample when the data have more distinct histories than this
    /// (0 disables the warm start).
    pub warm_start_above: usize,
    /// Convergence also when the quasi-Newton step would move every log-parameter by less
    /// than this (a relative change of the parameters), once the curvature is learnt; 0
    /// leaves only the gradient test.
    pub step_tolerance: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            max_iterations: 1000,
            gradient_tolerance: 1e-9,
            warm_start_above: 40_000,
            step_tolerance: 1e-6,
        }
    }
}

impl FitOptions {
    fn validate(&self) -> Result<(), ModelError> {
        if self.max_iterations == 0 {
            return Err(ModelError::InvalidOptions(
                "max_iterations must be positive",
            ));
        }
        if !(self.gradient_tolerance > 0.0 && self.gradient_tolerance.is_finite()) {
            return Err(ModelError::InvalidOptions(
                "gradient_tolerance must be finite and positive",
            ));
        }
        if !(self.step_tolerance >= 0.0 && self.step_tolerance.is_finite()) {
            return Err(ModelError::InvalidOptions(
                "step_tolerance must be finite and not negative",
            ));
        }
        Ok(())
    }
}

/// A fitted model: the parameters plus how the fit went.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fitted<M> {
    /// The maximum-likelihood parameters (the model itself: all predictions hang off it).
    pub model: M,
    /// Total log-likelihood of the fitted customers at the optimum.
    pub log_likelihood: f64,
    /// BFGS iterations used (warm start plus full-data stage).
    pub iterations: usize,
    /// Whether the gradient criterion was met.
    pub converged: bool,
    /// Number of customers that entered the likelihood.
    pub n_customers: usize,
}

/// The BG/NBD, the MBG/NBD or the Pareto/NBD, so callers can switch with a flag
/// (`--model bgnbd|mbgnbd|paretonbd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    #[default]
    BgNbd,
    ParetoNbd,
    /// Serialized and parsed as `mbgnbd`.
    MbgNbd,
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModelKind::BgNbd => "bgnbd",
            ModelKind::ParetoNbd => "paretonbd",
            ModelKind::MbgNbd => "mbgnbd",
        })
    }
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace(['-', '_', '/'], "").as_str() {
            "bgnbd" => Ok(ModelKind::BgNbd),
            "paretonbd" | "pnbd" => Ok(ModelKind::ParetoNbd),
            "mbgnbd" => Ok(ModelKind::MbgNbd),
            _ => Err(format!(
                "unknown model {s:?} (expected bgnbd, mbgnbd or paretonbd)"
            )),
        }
    }
}

/// A model of the purchase process (how many purchases, and whether the customer is alive).
/// Models are plain parameter sets, hence `Sync` (predictions may run on several threads).
///
/// Per-customer methods take the customer's [`Rft`] (the monetary value is ignored). They expect
/// valid figures (`0 <= recency <= T`, whole non-negative frequency); other values are clamped
/// into that range rather than producing NaN. Use [`Population::new`] or [`validate`] to reject
/// bad data up front.
pub trait PurchaseModel: Sync {
    /// Short name: `"bgnbd"`, `"mbgnbd"` or `"paretonbd"`.
    fn kind(&self) -> ModelKind;
    /// Probability that the customer is still alive at the end of calibration (`T`).
    fn p_alive(&self, customer: &Rft) -> f64;
    /// Expected number of purchases in `(T, T + t]` given the customer's history.
    fn conditional_expected_purchases(&self, customer: &Rft, t: f64) -> f64;
    /// Expected number of purchases in `(T, T + t]` of a customer *known to be alive* at `T`,
    /// for each `t` of `horizons`, written to `out` (one value per horizon).
    ///
    /// All models factor the conditional expectation as
    /// `conditional_expected_purchases = p_alive × this`, and this part depends on the
    /// frequency and `T` only, not on the recency: customers of equal `(frequency, T)` share it
    /// (what [`clv::customer_values`] uses on big populations).
    fn expected_purchases_if_alive_at(&self, customer: &Rft, horizons: &[f64], out: &mut [f64]);
    /// Expected number of repeat purchases `E[X(t)]` of a new customer in `(0, t]`.
    fn expected_purchases_unconditional(&self, t: f64) -> f64;
    /// Probability `P(X(t) = n)` that a new customer makes exactly `n` repeat purchases in `(0, t]`.
    fn probability_of_purchases(&self, n: u32, t: f64) -> f64;
    /// Log-likelihood of one customer's history.
    fn customer_log_likelihood(&self, customer: &Rft) -> f64;
    /// Total log-likelihood of a population.
    fn log_likelihood(&self, customers: &[Rft]) -> f64 {
        customers
            .iter()
            .map(|c| self.customer_log_likelihood(c))
            .sum()
    }
}

/// A fitted BG/NBD, MBG/NBD or Pareto/NBD behind one type (see [`fit_purchase_model`]).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum AnyPurchaseModel {
    BgNbd(BgNbd),
    ParetoNbd(ParetoNbd),
    MbgNbd(MbgNbd),
}

impl AnyPurchaseModel {
    fn inner(&self) -> &dyn PurchaseModel {
        match self {
            AnyPurchaseModel::BgNbd(m) => m,
            AnyPurchaseModel::ParetoNbd(m) => m,
            AnyPurchaseModel::MbgNbd(m) => m,
        }
    }
}

impl PurchaseModel for AnyPurchaseModel {
    fn kind(&self) -> ModelKind {
        self.inner().kind()
    }
    fn p_alive(&self, c: &Rft) -> f64 {
        self.inner().p_alive(c)
    }
    fn conditional_expected_purchases(&self, c: &Rft, t: f64) -> f64 {
        self.inner().conditional_expected_purchases(c, t)
    }
    fn expected_purchases_if_alive_at(&self, c: &Rft, horizons: &[f64], out: &mut [f64]) {
        self.inner()
            .expected_purchases_if_alive_at(c, horizons, out)
    }
    fn expected_purchases_unconditional(&self, t: f64) -> f64 {
        self.inner().expected_purchases_unconditional(t)
    }
    fn probability_of_purchases(&self, n: u32, t: f64) -> f64 {
        self.inner().probability_of_purchases(n, t)
    }
    fn customer_log_likelihood(&self, c: &Rft) -> f64 {
        self.inner().customer_log_likelihood(c)
    }
}

/// Fit the chosen purchase model to a population.
pub fn fit_purchase_model(
    kind: ModelKind,
    population: &Population,
    options: &FitOptions,
) -> Result<Fitted<AnyPurchaseModel>, ModelError> {
    fn wrap<M>(f: Fitted<M>, g: impl Fn(M) -> AnyPurchaseModel) -> Fitted<AnyPurchaseModel> {
        Fitted {
            model: g(f.model),
            log_likelihood: f.log_likelihood,
            iterations: f.iterations,
            converged: f.converged,
            n_customers: f.n_customers,
        }
    }
    Ok(match kind {
        ModelKind::BgNbd => wrap(
            bgnbd::fit_population(population, options)?,
            AnyPurchaseModel::BgNbd,
        ),
        ModelKind::ParetoNbd => wrap(
            paretonbd::fit_population(population, options)?,
            AnyPurchaseModel::ParetoNbd,
        ),
        ModelKind::MbgNbd => wrap(
            mbgnbd::fit_population(population, options)?,
            AnyPurchaseModel::MbgNbd,
        ),
    })
}

/// Check one customer's figures (lifetimes conventions).
fn check_customer(index: usize, c: &Rft) -> Result<(), ModelError> {
    let bad = |reason| Err(ModelError::InvalidCustomer { index, reason });
    if !(c.frequency.is_finite() && c.recency.is_finite() && c.t.is_finite()) {
        return bad("frequency, recency and T must be finite");
    }
    if c.frequency < 0.0 || c.frequency.fract() != 0.0 {
        return bad("frequency must be a whole number >= 0");
    }
    if c.frequency > u32::MAX as f64 {
        return bad("frequency is too large");
    }
    if c.recency < 0.0 || c.t < 0.0 {
        return bad("recency and T must be >= 0");
    }
    if c.recency > c.t {
        return bad("recency must not exceed T");
    }
    if c.frequency == 0.0 && c.recency != 0.0 {
        return bad("recency must be 0 when frequency is 0");
    }
    Ok(())
}

/// Validate the purchase-model inputs of a population (see [`PurchaseModel`]).
pub fn validate(customers: &[Rft]) -> Result<(), ModelError> {
    customers
        .iter()
        .enumerate()
        .try_for_each(|(i, c)| check_customer(i, c))
}

/// Clamp a customer's figures into the valid range (used by the per-customer predictions).
pub(crate) fn sanitize(c: &Rft) -> (f64, f64, f64) {
    let t = if c.t.is_finite() { c.t.max(0.0) } else { 0.0 };
    let x = if c.frequency.is_finite() {
        c.frequency.max(0.0).round()
    } else {
        0.0
    };
    let tx = if x == 0.0 || !c.recency.is_finite() {
        0.0
    } else {
        c.recency.clamp(0.0, t)
    };
    (x, tx, t)
}

/// A distinct `(x, u)` pair: the repeat count and one time point (`t_x` or `T`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pair {
    /// Index into [`Population::xs`].
    pub xi: u32,
    pub u: f64,
}

/// A distinct history `(x, t_x, T)` with the number of customers sharing it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Row {
    pub xi: u32,
    /// Index into [`Population::tx_pairs`].
    pub txp: u32,
    /// Index into [`Population::t_pairs`].
    pub tp: u32,
    pub weight: f64,
}

/// Customers compressed to distinct `(x, t_x, T)` histories with counts: the input of the
/// purchase-model fits. Build it once and fit both models on it.
#[derive(Debug, Clone)]
pub struct Population {
    /// Distinct repeat counts, ascending.
    pub(crate) xs: Vec<f64>,
    /// Total weight per distinct repeat count.
    pub(crate) x_weights: Vec<f64>,
    pub(crate) tx_pairs: Vec<Pair>,
    pub(crate) t_pairs: Vec<Pair>,
    pub(crate) rows: Vec<Row>,
    pub(crate) n_customers: usize,
    /// Sums used for start values.
    pub(crate) sum_x: f64,
    pub(crate) sum_t: f64,
}

impl Population {
    /// Validate and compress customers.
    pub fn new(customers: &[Rft]) -> Result<Self, ModelError> {
        let mut keys = Vec::with_capacity(customers.len());
        for (i, c) in customers.iter().enumerate() {
            check_customer(i, c)?;
            // + 0.0 turns -0.0 into +0.0 so that bit patterns order like the values.
            keys.push((
                c.frequency as u32,
                (c.recency + 0.0).to_bits(),
                (c.t + 0.0).to_bits(),
            ));
        }
        if keys.is_empty() {
            return Err(ModelError::Empty);
        }
        keys.sort_unstable();
        let mut entries: Vec<(u32, f64, f64, f64)> = Vec::new();
        let mut prev = None;
        for k in keys {
            if prev == Some(k) {
                entries.last_mut().expect("entry exists").3 += 1.0;
            } else {
                entries.push((k.0, f64::from_bits(k.1), f64::from_bits(k.2), 1.0));
                prev = Some(k);
            }
        }
        Ok(Self::assemble(&entries, customers.len()))
    }

    /// Validate and compress customers given as separate slices of `x`, `t_x` and `T`.
    pub fn from_slices(x: &[f64], t_x: &[f64], t: &[f64]) -> Result<Self, ModelError> {
        for (what, got) in [("t_x", t_x.len()), ("T", t.len())] {
            if got != x.len() {
                return Err(ModelError::LengthMismatch {
                    what,
                    got,
                    expected: x.len(),
                });
            }
        }
        let customers: Vec<Rft> = (0..x.len())
            .map(|i| Rft {
                frequency: x[i],
                recency: t_x[i],
                t: t[i],
                monetary_value: 0.0,
            })
            .collect();
        Self::new(&customers)
    }

    /// Build from sorted, distinct `(x, t_x, T, weight)` entries.
    fn assemble(entries: &[(u32, f64, f64, f64)], n_customers: usize) -> Self {
        let mut xs: Vec<f64> = Vec::new();
        let mut x_weights: Vec<f64> = Vec::new();
        let mut tx_pairs: Vec<Pair> = Vec::new();
        let mut rows = Vec::with_capacity(entries.len());
        let mut sum_x = 0.0;
        let mut sum_t = 0.0;
        for &(x, tx, t, w) in entries {
            let xf = x as f64;
            if xs.last() != Some(&xf) {
                xs.push(xf);
                x_weights.push(0.0);
            }
            let xi = (xs.len() - 1) as u32;
            *x_weights.last_mut().expect("pushed") += w;
            let p = Pair { xi, u: tx };
            if tx_pairs.last() != Some(&p) {
                tx_pairs.push(p);
            }
            rows.push(Row {
                xi,
                txp: (tx_pairs.len() - 1) as u32,
                tp: 0,
                weight: w,
            });
            sum_x += w * xf;
            sum_t += w * t;
        }
        // Distinct (x, T) pairs: sort row indices by (x, T).
        let mut order: Vec<(u32, u64, u32)> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (rows[i].xi, e.2.to_bits(), i as u32))
            .collect();
        order.sort_unstable();
        let mut t_pairs: Vec<Pair> = Vec::new();
        for (xi, tb, i) in order {
            let p = Pair {
                xi,
                u: f64::from_bits(tb),
            };
            if t_pairs.last() != Some(&p) {
                t_pairs.push(p);
            }
            rows[i as usize].tp = (t_pairs.len() - 1) as u32;
        }
        Population {
            xs,
            x_weights,
            tx_pairs,
            t_pairs,
            rows,
            n_customers,
            sum_x,
            sum_t,
        }
    }

    /// A stratified subsample of about `target` distinct histories (weights scaled up), used to
    /// warm-start fits on large populations.
    pub(crate) fn subsample(&self, target: usize) -> Population {
        let stride = self.rows.len().div_ceil(target.max(1)).max(1);
        let entries: Vec<(u32, f64, f64, f64)> = self
            .rows
            .iter()
            .skip(stride / 2)
            .step_by(stride)
            .map(|r| {
                (
                    self.xs[r.xi as usize] as u32,
                    self.tx_pairs[r.txp as usize].u,
                    self.t_pairs[r.tp as usize].u,
                    r.weight * stride as f64,
                )
            })
            .collect();
        Population::assemble(&entries, self.n_customers)
    }

    /// Number of customers.
    pub fn n_customers(&self) -> usize {
        self.n_customers
    }

    /// Number of distinct `(x, t_x, T)` histories.
    pub fn n_distinct(&self) -> usize {
        self.rows.len()
    }

    /// Whether anybody made a repeat purchase.
    pub fn has_repeaters(&self) -> bool {
        self.sum_x > 0.0
    }

    /// Total weight of the rows (= number of customers, or its subsample estimate).
    pub(crate) fn total_weight(&self) -> f64 {
        self.x_weights.iter().sum()
    }
}

/// Objective of a fit: mean negative log-likelihood and its gradient in log-parameters.
pub(crate) type Objective<'a, const N: usize> = &'a dyn Fn(&[f64; N]) -> (f64, [f64; N]);

/// Fit `N` log-parameters by BFGS on `full`, optionally warm-started by a fit of `warm` (the
/// same objective on a subsample) whose inverse-Hessian approximation is carried over.
pub(crate) fn fit_log_params<const N: usize>(
    names: [&'static str; N],
    start: [f64; N],
    options: &FitOptions,
    full: Objective<'_, N>,
    warm: Option<Objective<'_, N>>,
) -> Result<([f64; N], f64, usize, bool), ModelError> {
    options.validate()?;
    let settings = optim::BfgsSettings {
        max_iterations: options.max_iterations,
        gradient_tolerance: options.gradient_tolerance,
        max_step: 4.0,
        step_tolerance: options.step_tolerance,
    };
    // Log-parameters beyond ±BOUND (parameters outside 1e-16..1e16) are off limits.
    const BOUND: f64 = 37.0;
    let guarded = |f: Objective<'_, N>, th: &[f64; N]| {
        if th.iter().any(|v| v.abs() > BOUND) {
            return (f64::INFINITY, [0.0; N]);
        }
        f(th)
    };
    let mut x0 = start;
    let mut h0 = None;
    let mut iterations = 0;
    if let Some(warm) = warm {
        let warm_settings = optim::BfgsSettings {
            gradient_tolerance: options.gradient_tolerance * 10.0,
            // The subsample's optimum is itself about 1% off the full data's.
            step_tolerance: options.step_tolerance * 1e3,
            ..settings
        };
        if let Some(r) = optim::minimize(|th| guarded(warm, th), x0, None, &warm_settings) {
            if r.x.iter().all(|v| v.abs() < BOUND - 5.0) {
                x0 = r.x;
                h0 = Some(r.inverse_hessian);
                iterations += r.iterations;
            }
        }
    }
    let r = optim::minimize(|th| guarded(full, th), x0, h0, &settings).ok_or(
        ModelError::Numerical("the log-likelihood is not finite at the start values"),
    )?;
    iterations += r.iterations;
    // A parameter pressed against the bounds means the likelihood keeps rising towards a
    // boundary of the parameter space: report which one.
    if let Some((i, v)) =
        r.x.iter()
            .enumerate()
            .filter(|(_, v)| v.abs() > 25.0)
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
    {
        return Err(ModelError::Degenerate {
            parameter: names[i],
            value: v.exp(),
        });
    }
    Ok((r.x, r.f, iterations, r.converged))
}

/// Fit a purchase model's `ll` (total weighted log-likelihood, generic in the number type) on a
/// population, warm-starting from a subsample when the population is large.
pub(crate) fn fit_population_ll(
    population: &Population,
    names: [&'static str; 4],
    start: [f64; 4],
    options: &FitOptions,
    ll: fn(&Population, [dual::Dual<4>; 4]) -> dual::Dual<4>,
) -> Result<([f64; 4], usize, bool), ModelError> {
    let objective = |pop: &Population, th: &[f64; 4]| {
        let w = pop.total_weight();
        let v = ll(pop, dual_params(th));
        (-v.v / w, v.g.map(|g| -g / w))
    };
    let full = |th: &[f64; 4]| objective(population, th);
    let sub = (options.warm_start_above > 0 && population.rows.len() > options.warm_start_above)
        .then(|| population.subsample(options.warm_start_above / 2));
    let warm = sub.as_ref().map(|s| move |th: &[f64; 4]| objective(s, th));
    let (theta, _, iterations, converged) = fit_log_params(
        names,
        start,
        options,
        &full,
        warm.as_ref().map(|w| w as Objective<'_, 4>),
    )?;
    Ok((theta, iterations, converged))
}

/// `exp` of log-parameters as independent dual variables.
pub(crate) fn dual_params<const N: usize>(theta: &[f64; N]) -> [dual::Dual<N>; N] {
    std::array::from_fn(|i| {
        let v = theta[i].exp();
        let mut d = dual::Dual::var(v, i);
        d.g[i] = v; // d exp(θ)/dθ = exp(θ)
        d
    })
}
