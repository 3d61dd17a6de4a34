//! The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987).
//!
//! While alive a customer buys at Poisson rate `λ ~ Gamma(r, α)`; the lifetime is exponential
//! with rate `μ ~ Gamma(s, β)`.
//!
//! Likelihood (Fader & Hardie, "A note on deriving the Pareto/NBD model and related
//! expressions", 2005):
//!
//! ```text
//! L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^-(r+x) (β+T)^-s  +  s/(r+s+x) · A0 ]
//! A0 = I(t_x) - I(T),
//! I(u) = (M+u)^-(r+s+x) · 2F1(r+s+x, b'; r+s+x+1; |α-β|/(M+u))
//! ```
//!
//! with `M = max(α, β)` and `b' = s+1` if `α >= β`, else `b' = r+x`. Everything is evaluated in
//! log space: `ln A0` by a log-difference, the bracket by log-sum-exp (the formulation lifetimes
//! uses). The `2F1` is evaluated after Euler's transformation,
//! `2F1(c, b'; c+1; z) = (1-z)^(1-b') 2F1(1, c+1-b'; c+1; z)`, whose series has positive terms
//! with ratios below `z`, so it is free of cancellation and of the huge intermediate terms the
//! plain series has for customers with many purchases.

use super::dual::{log_add_exp, log_sub_exp, Scalar};
use super::special::{gauss_legendre, hyp2f1_1_c_d, ln_gamma, neg_expm1_over};
use super::{
    fit_population_ll, sanitize, FitOptions, Fitted, ModelError, ModelKind, Population,
    PurchaseModel,
};
use crate::summary::Rft;

/// Pareto/NBD parameters: `λ ~ Gamma(shape r, rate alpha)`, `μ ~ Gamma(shape s, rate beta)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParetoNbd {
    pub r: f64,
    pub alpha: f64,
    pub s: f64,
    pub beta: f64,
}

impl ParetoNbd {
    /// Parameters, checked to be finite and positive.
    pub fn new(r: f64, alpha: f64, s: f64, beta: f64) -> Result<Self, ModelError> {
        for (name, value) in [("r", r), ("alpha", alpha), ("s", s), ("beta", beta)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(ModelError::InvalidParameter { name, value });
            }
        }
        Ok(ParetoNbd { r, alpha, s, beta })
    }
}

/// Fit by maximum likelihood to customers (validated, then compressed).
pub fn fit(customers: &[Rft], options: &FitOptions) -> Result<Fitted<ParetoNbd>, ModelError> {
    fit_population(&Population::new(customers)?, options)
}

/// Fit by maximum likelihood to a compressed population.
///
/// Errors as for [`super::bgnbd::fit_population`].
pub fn fit_population(
    population: &Population,
    options: &FitOptions,
) -> Result<Fitted<ParetoNbd>, ModelError> {
    if !population.has_repeaters() {
        return Err(ModelError::Unidentifiable(
            "no customer made a repeat purchase",
        ));
    }
    let mean_t = (population.sum_t / population.total_weight()).max(1e-3);
    let rate = population.sum_x / population.sum_t.max(f64::MIN_POSITIVE);
    let start = [0.0, (1.0 / rate).ln(), 0.0, mean_t.ln()];
    let (theta, iterations, converged) = fit_population_ll(
        population,
        ["r", "alpha", "s", "beta"],
        start,
        options,
        total_log_likelihood,
    )?;
    let [r, alpha, s, beta] = theta.map(f64::exp);
    let model = ParetoNbd::new(r, alpha, s, beta)?;
    let log_likelihood = total_log_likelihood(population, [r, alpha, s, beta]);
    Ok(Fitted {
        model,
        log_likelihood,
        iterations,
        converged,
        n_customers: population.n_customers(),
    })
}

/// `ln I(u)` for repeat count `x` (see the module docs).
#[inline]
fn ln_i<S: Scalar>(r: S, alpha: S, s: S, beta: S, x: f64, u: f64) -> S {
    let (max, min, b1) = if alpha.val() >= beta.val() {
        (alpha, beta, s + 1.0)
    } else {
        (beta, alpha, r + x)
    };
    let rsx = r + s + x;
    let c = rsx + 1.0 - b1; // r+x or s+1
    let z = (max - min) / (max + u);
    let g = hyp2f1_1_c_d(c, rsx + 1.0, z);
    // -(r+s+x) ln(M+u) + (1-b') ln((m+u)/(M+u)) = -c ln(M+u) + (1-b') ln(m+u)
    g.ln() - c * (max + u).ln() - (b1 - 1.0) * (min + u).ln()
}

/// Weighted log-likelihood of a compressed population, generic over the number type.
pub(crate) fn total_log_likelihood<S: Scalar>(pop: &Population, p: [S; 4]) -> S {
    let [r, alpha, s, beta] = p;
    let ln_r = r.ln_gamma();
    let head = r * alpha.ln() + s * beta.ln() - ln_r;
    let ln_s = s.ln();
    let mut total = S::cst(0.0);
    let mut k = Vec::with_capacity(pop.xs.len());
    for (&x, &w) in pop.xs.iter().zip(&pop.x_weights) {
        total = total + ((r + x).ln_gamma() + head) * w;
        k.push(ln_s - (r + s + x).ln());
    }
    // Per (x, T): the "alive throughout" term lt1, ln I(T), and B = s I(T) / term1 <= 1.
    let at_t: Vec<(S, S, S, S)> = pop
        .t_pairs
        .iter()
        .map(|p| {
            let x = pop.xs[p.xi as usize];
            let lt1 = -((r + x) * (alpha + p.u).ln()) - s * (beta + p.u).ln();
            let li = ln_i(r, alpha, s, beta, x, p.u);
            let ln_b = k[p.xi as usize] + li - lt1;
            (lt1, li, ln_b, ln_b.exp())
        })
        .collect();
    let at_tx: Vec<S> = pop
        .tx_pairs
        .iter()
        .map(|p| ln_i(r, alpha, s, beta, pop.xs[p.xi as usize], p.u))
        .collect();
    for row in &pop.rows {
        let (lt1, li_t, ln_b, b) = at_t[row.tp as usize];
        // ln(term1 + s/(r+s+x) A0) = lt1 + ln(1 + D), D = B (I(t_x)/I(T) - 1): two
        // transcendental calls per distinct history, and exact when t_x is close to T.
        let delta = at_tx[row.txp as usize] - li_t;
        let term = if delta.val() <= 0.0 {
            lt1
        } else if delta.val() < 600.0 {
            lt1 + (b * delta.exp_m1()).ln_1p()
        } else {
            // D is astronomically large: ln(1 + D) = ln D to machine precision.
            lt1 + ln_b + delta
        };
        total = total + term * row.weight;
    }
    total
}

impl ParetoNbd {
    /// `(ln of the "alive throughout" term, ln of the "died in (t_x, T]" term)`.
    fn ln_terms(&self, x: f64, tx: f64, t: f64) -> (f64, f64) {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let lt1 = -(r + x) * (alpha + t).ln() - s * (beta + t).ln();
        if tx >= t {
            return (lt1, f64::NEG_INFINITY);
        }
        let ln_a0 = log_sub_exp(
            ln_i(r, alpha, s, beta, x, tx),
            ln_i(r, alpha, s, beta, x, t),
        );
        (lt1, s.ln() - (r + s + x).ln() + ln_a0)
    }

    /// Negative-binomial pmf of `n` purchases in `τ` time units of life.
    fn ln_nb(&self, n: f64, tau: f64) -> f64 {
        let ParetoNbd { r, alpha, .. } = *self;
        let base =
            ln_gamma(r + n) - ln_gamma(r) - ln_gamma(n + 1.0) + r * (alpha / (alpha + tau)).ln();
        if n == 0.0 {
            base
        } else {
            base + n * (tau / (alpha + tau)).ln()
        }
    }
}

impl PurchaseModel for ParetoNbd {
    fn kind(&self) -> ModelKind {
        ModelKind::ParetoNbd
    }

    fn p_alive(&self, customer: &Rft) -> f64 {
        let (x, tx, t) = sanitize(customer);
        let (lt1, lt2) = self.ln_terms(x, tx, t);
        if lt2 == f64::NEG_INFINITY {
            return 1.0;
        }
        let p = 1.0 / (1.0 + (lt2 - lt1).exp());
        if p.is_finite() {
            p
        } else {
            0.0
        }
    }

    /// `(r+x)(β+T) / ((α+T)(s-1)) · [1 - ((β+T)/(β+T+t))^(s-1)] · P(alive)`, continuous at `s = 1`.
    fn conditional_expected_purchases(&self, customer: &Rft, t: f64) -> f64 {
        let mut e = [0.0];
        self.expected_purchases_if_alive_at(customer, &[t], &mut e);
        let v = e[0] * self.p_alive(customer);
        if v.is_finite() {
            v.max(0.0)
        } else {
            0.0
        }
    }

    /// `(r+x)(β+T) / ((α+T)(s-1)) · [1 - ((β+T)/(β+T+t))^(s-1)]`.
    fn expected_purchases_if_alive_at(&self, customer: &Rft, horizons: &[f64], out: &mut [f64]) {
        let (x, _, big_t) = sanitize(customer);
        let ParetoNbd { r, alpha, s, beta } = *self;
        for (o, &t) in out.iter_mut().zip(horizons) {
            if t.is_nan() || t <= 0.0 {
                *o = 0.0;
                continue;
            }
            let l = -(t / (beta + big_t)).ln_1p();
            let e = (r + x) / (alpha + big_t) * (beta + big_t) * neg_expm1_over(s - 1.0, l);
            *o = if e.is_finite() { e.max(0.0) } else { 0.0 };
        }
    }

    /// `rβ / (α(s-1)) · [1 - (β/(β+t))^(s-1)]`.
    fn expected_purchases_unconditional(&self, t: f64) -> f64 {
        if t.is_nan() || t <= 0.0 {
            return 0.0;
        }
        let ParetoNbd { r, alpha, s, beta } = *self;
        r * beta / alpha * neg_expm1_over(s - 1.0, -(t / beta).ln_1p())
    }

    /// `NB(n; t) (β/(β+t))^s + ∫_0^t NB(n; τ) s β^s (β+τ)^-(s+1) dτ`, the integral (death
    /// at `τ`, after which no purchases) by Gauss-Legendre quadrature.
    fn probability_of_purchases(&self, n: u32, t: f64) -> f64 {
        let n = n as f64;
        if t.is_nan() || t <= 0.0 {
            return if n == 0.0 { 1.0 } else { 0.0 };
        }
        let ParetoNbd { s, beta, .. } = *self;
        let survive = (self.ln_nb(n, t) + s * (beta / (beta + t)).ln()).exp();
        let ln_sb = s.ln() + s * beta.ln();
        let integral = gauss_legendre(0.0, t, |tau| {
            if tau <= 0.0 && n > 0.0 {
                return 0.0;
            }
            (self.ln_nb(n, tau) + ln_sb - (s + 1.0) * (beta + tau).ln()).exp()
        });
        (survive + integral).clamp(0.0, 1.0)
    }

    fn customer_log_likelihood(&self, customer: &Rft) -> f64 {
        let (x, tx, t) = sanitize(customer);
        let ParetoNbd { r, alpha, s, beta } = *self;
        let head = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln();
        let (lt1, lt2) = self.ln_terms(x, tx, t);
        head + log_add_exp(lt1, lt2)
    }
}
