//! The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").
//!
//! While alive a customer buys at Poisson rate `λ ~ Gamma(r, α)`; after each repeat purchase
//! the customer drops out with probability `p ~ Beta(a, b)`.
//!
//! The likelihood is evaluated in log space (`ln Γ` differences and log-sum-exp of its two
//! terms), which removes the overflow/underflow behind Hardie's note on numerical errors in the
//! BG/NBD and lifetimes issues #25/#332 for customers with many repeat purchases. The
//! conditional expectation uses Euler's transformation of its `2F1`, which turns the series into
//! one whose terms shrink from the start even for thousands of purchases.

use super::dual::{log_add_exp, Scalar};
use super::special::{hyp2f1_tail, ln_gamma, neg_expm1_over};
use super::{
    fit_population_ll, sanitize, FitOptions, Fitted, ModelError, ModelKind, Population,
    PurchaseModel,
};
use crate::summary::Rft;

/// BG/NBD parameters: `λ ~ Gamma(shape r, rate alpha)`, `p ~ Beta(a, b)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

impl BgNbd {
    /// Parameters, checked to be finite and positive.
    pub fn new(r: f64, alpha: f64, a: f64, b: f64) -> Result<Self, ModelError> {
        for (name, value) in [("r", r), ("alpha", alpha), ("a", a), ("b", b)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(ModelError::InvalidParameter { name, value });
            }
        }
        Ok(BgNbd { r, alpha, a, b })
    }
}

/// Fit by maximum likelihood to customers (validated, then compressed).
pub fn fit(customers: &[Rft], options: &FitOptions) -> Result<Fitted<BgNbd>, ModelError> {
    fit_population(&Population::new(customers)?, options)
}

/// Fit by maximum likelihood to a compressed population.
///
/// Errors: [`ModelError::Unidentifiable`] when nobody made a repeat purchase (the likelihood
/// then rises without bound as `r -> 0`), [`ModelError::Degenerate`] when the maximum lies on
/// the boundary of the parameter space (e.g. a single customer).
pub fn fit_population(
    population: &Population,
    options: &FitOptions,
) -> Result<Fitted<BgNbd>, ModelError> {
    if !population.has_repeaters() {
        return Err(ModelError::Unidentifiable(
            "no customer made a repeat purchase",
        ));
    }
    let rate = population.sum_x / population.sum_t.max(f64::MIN_POSITIVE);
    let start = [0.0, (1.0 / rate).ln(), 0.0, 0.0];
    let (theta, iterations, converged) = fit_population_ll(
        population,
        ["r", "alpha", "a", "b"],
        start,
        options,
        total_log_likelihood,
    )?;
    let [r, alpha, a, b] = theta.map(f64::exp);
    let model = BgNbd::new(r, alpha, a, b)?;
    let log_likelihood = total_log_likelihood(population, [r, alpha, a, b]);
    Ok(Fitted {
        model,
        log_likelihood,
        iterations,
        converged,
        n_customers: population.n_customers(),
    })
}

/// Weighted log-likelihood of a compressed population, generic over the number type.
pub(crate) fn total_log_likelihood<S: Scalar>(pop: &Population, p: [S; 4]) -> S {
    let [r, alpha, a, b] = p;
    let ln_r = r.ln_gamma();
    let ln_b = b.ln_gamma();
    let ln_ab = (a + b).ln_gamma();
    let r_ln_alpha = r * alpha.ln();
    let ln_a = a.ln();
    let mut total = S::cst(0.0);
    // Per distinct x: the terms that do not depend on t_x or T; and ln a - ln(b + x - 1).
    let mut c2 = Vec::with_capacity(pop.xs.len());
    for (&x, &w) in pop.xs.iter().zip(&pop.x_weights) {
        let c1 = (r + x).ln_gamma() - ln_r + r_ln_alpha + ln_ab + (b + x).ln_gamma()
            - ln_b
            - (a + b + x).ln_gamma();
        total = total + c1 * w;
        c2.push(if x > 0.0 {
            ln_a - (b + (x - 1.0)).ln()
        } else {
            S::cst(0.0)
        });
    }
    let pair = |p: &super::Pair| -((r + pop.xs[p.xi as usize]) * (alpha + p.u).ln());
    let at_t: Vec<S> = pop.t_pairs.iter().map(pair).collect();
    let at_tx: Vec<S> = pop
        .tx_pairs
        .iter()
        .map(|p| pair(p) + c2[p.xi as usize])
        .collect();
    for row in &pop.rows {
        let lt = at_t[row.tp as usize];
        let term = if pop.xs[row.xi as usize] > 0.0 {
            log_add_exp(lt, at_tx[row.txp as usize])
        } else {
            lt
        };
        total = total + term * row.weight;
    }
    total
}

impl BgNbd {
    /// `ln` of the odds term `a/(b+x-1) ((α+T)/(α+t_x))^(r+x)` of P(alive) (x > 0).
    fn ln_dead_odds(&self, x: f64, tx: f64, t: f64) -> f64 {
        (self.a / (self.b + x - 1.0)).ln() + (self.r + x) * ((t - tx) / (self.alpha + tx)).ln_1p()
    }

    /// `1 + odds`, the divisor of the conditional expectation (`1 / P(alive)`); it does not
    /// depend on the horizon.
    fn alive_divisor(&self, x: f64, tx: f64, big_t: f64) -> f64 {
        if x > 0.0 {
            1.0 + self.ln_dead_odds(x, tx, big_t).exp()
        } else {
            1.0
        }
    }

    /// Expected purchases in `(T, T+t]` for a customer `(x, t_x, T)`, clamped input:
    /// P(alive) times the expectation if alive.
    fn cond_expected(&self, x: f64, tx: f64, big_t: f64, t: f64) -> f64 {
        self.if_alive(x, big_t, t) / self.alive_divisor(x, tx, big_t)
    }

    /// Expected purchases in `(T, T+t]` of a customer alive at `T` (FHL 2005 eq. 10 without
    /// its divisor): `(a+b+x-1)/(a-1) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]`.
    /// The MBG/NBD's is this with `b + 1` in place of `b` ([`super::mbgnbd`]).
    pub(super) fn if_alive(&self, x: f64, big_t: f64, t: f64) -> f64 {
        if t.is_nan() || t <= 0.0 {
            return 0.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        // Euler-transformed 2F1: 1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)
        //   = 1 - (1-z)^(a-1) [1 + (a-1) S],  z = t/(α+T+t)
        let z = t / (alpha + big_t + t);
        let l = -(t / (alpha + big_t)).ln_1p(); // ln(1 - z)
        let c = a + b + x - 1.0;
        let s = hyp2f1_tail(a + b - 1.0 - r, a - 1.0, c, z);
        let bracket = neg_expm1_over(a - 1.0, l) - ((a - 1.0) * l).exp() * s;
        let e = c * bracket;
        if e.is_finite() {
            e.max(0.0)
        } else {
            0.0
        }
    }
}

impl PurchaseModel for BgNbd {
    fn kind(&self) -> ModelKind {
        ModelKind::BgNbd
    }

    /// `1 / (1 + δ(x>0) a/(b+x-1) ((α+T)/(α+t_x))^(r+x))`.
    fn p_alive(&self, customer: &Rft) -> f64 {
        let (x, tx, t) = sanitize(customer);
        1.0 / self.alive_divisor(x, tx, t)
    }

    fn conditional_expected_purchases(&self, customer: &Rft, t: f64) -> f64 {
        let (x, tx, big_t) = sanitize(customer);
        self.cond_expected(x, tx, big_t, t)
    }

    /// The hypergeometric part, which depends on `x` and `T` only.
    fn expected_purchases_if_alive_at(&self, customer: &Rft, horizons: &[f64], out: &mut [f64]) {
        let (x, _, big_t) = sanitize(customer);
        for (o, &t) in out.iter_mut().zip(horizons) {
            *o = self.if_alive(x, big_t, t);
        }
    }

    fn expected_purchases_unconditional(&self, t: f64) -> f64 {
        self.cond_expected(0.0, 0.0, 0.0, t)
    }

    /// FHL (2005) eq. 8.
    fn probability_of_purchases(&self, n: u32, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let n = n as f64;
        if t.is_nan() || t <= 0.0 {
            return if n == 0.0 { 1.0 } else { 0.0 };
        }
        let ln_beta = |p: f64, q: f64| ln_gamma(p) + ln_gamma(q) - ln_gamma(p + q);
        let ln_p0 = r * (alpha / (alpha + t)).ln();
        let ln_q = (t / (alpha + t)).ln();
        // ln NB(j) = ln Γ(r+j) - ln Γ(r) - ln j! + r ln(α/(α+t)) + j ln(t/(α+t))
        let ln_nb = |j: f64| ln_gamma(r + j) - ln_gamma(r) - ln_gamma(j + 1.0) + ln_p0 + j * ln_q;
        let first = (ln_beta(a, b + n) - ln_beta(a, b) + ln_nb(n)).exp();
        if n == 0.0 {
            return first.clamp(0.0, 1.0);
        }
        let tail = nb_upper_tail(n, ln_nb, r, t / (alpha + t));
        let second = (ln_beta(a + 1.0, b + n - 1.0) - ln_beta(a, b)).exp() * tail;
        (first + second).clamp(0.0, 1.0)
    }

    fn customer_log_likelihood(&self, customer: &Rft) -> f64 {
        let (x, tx, t) = sanitize(customer);
        let BgNbd { r, alpha, a, b } = *self;
        let base =
            ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + ln_gamma(a + b) + ln_gamma(b + x)
                - ln_gamma(b)
                - ln_gamma(a + b + x);
        let lt = -(r + x) * (alpha + t).ln();
        if x == 0.0 {
            return base + lt;
        }
        let ltx = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + tx).ln();
        base + log_add_exp(lt, ltx)
    }
}

/// `P(N >= n)` for a negative binomial with `ln P(N = j) = ln_nb(j)`, shape `r` and success
/// ratio `q` (term ratio `(r+j)/(j+1) q`): `1 - cdf` while that is safe, else the upper tail
/// summed directly.
pub(crate) fn nb_upper_tail(n: f64, ln_nb: impl Fn(f64) -> f64, r: f64, q: f64) -> f64 {
    let mut cdf = 0.0;
    let mut j = 0.0;
    while j < n {
        cdf += ln_nb(j).exp();
        j += 1.0;
    }
    if cdf < 0.5 {
        return (1.0 - cdf).max(0.0);
    }
    let mut term = ln_nb(n).exp();
    let mut sum = term;
    let mut j = n;
    for _ in 0..1_000_000 {
        let ratio = (r + j) / (j + 1.0) * q;
        term *= ratio;
        sum += term;
        j += 1.0;
        if ratio < 1.0 && term * ratio <= 1e-17 * sum * (1.0 - ratio) {
            break;
        }
    }
    sum.min(1.0)
}
