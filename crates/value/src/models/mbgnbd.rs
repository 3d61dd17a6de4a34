//! The MBG/NBD model (Batislam, Denizel & Filiztekin 2007, "Empirical validation and comparison
//! of models for customer base analysis", with Wagner & Hoppe's 2008 erratum); lifetimes'
//! `ModifiedBetaGeoFitter`.
//!
//! As in the BG/NBD, while alive a customer buys at Poisson rate `λ ~ Gamma(r, α)` and drops
//! out with probability `p ~ Beta(a, b)`, but the coin is tossed at the first purchase too, not
//! only after each repeat purchase. A one-time buyer may therefore be dead (in the BG/NBD a
//! customer without a repeat purchase is certainly alive), and P(alive) falls with the time
//! since the last purchase for every customer.
//!
//! Every expression is the BG/NBD one with `b` shifted to `b + 1` wherever it enters through the
//! number of survived tosses (`Γ(b+x+1)`, `a/(b+x)`, `2F1(r+x, b+x+1; a+b+x; z)`), and without
//! the BG/NBD's `δ(x > 0)`. The likelihood is evaluated in log space (`ln Γ` differences and
//! log-sum-exp of its two terms) and the conditional expectation with the same Euler-transformed
//! `2F1` as [`super::bgnbd`].

use super::dual::{log_add_exp, Scalar};
use super::special::ln_gamma;
use super::{
    bgnbd, fit_population_ll, sanitize, BgNbd, FitOptions, Fitted, ModelError, ModelKind,
    Population, PurchaseModel,
};
use crate::summary::Rft;

/// MBG/NBD parameters: `λ ~ Gamma(shape r, rate alpha)`, `p ~ Beta(a, b)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MbgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

impl MbgNbd {
    /// Parameters, checked to be finite and positive.
    pub fn new(r: f64, alpha: f64, a: f64, b: f64) -> Result<Self, ModelError> {
        for (name, value) in [("r", r), ("alpha", alpha), ("a", a), ("b", b)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(ModelError::InvalidParameter { name, value });
            }
        }
        Ok(MbgNbd { r, alpha, a, b })
    }
}

/// Fit by maximum likelihood to customers (validated, then compressed).
pub fn fit(customers: &[Rft], options: &FitOptions) -> Result<Fitted<MbgNbd>, ModelError> {
    fit_population(&Population::new(customers)?, options)
}

/// Fit by maximum likelihood to a compressed population.
///
/// Errors as for [`super::bgnbd::fit_population`].
pub fn fit_population(
    population: &Population,
    options: &FitOptions,
) -> Result<Fitted<MbgNbd>, ModelError> {
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
    let model = MbgNbd::new(r, alpha, a, b)?;
    let log_likelihood = total_log_likelihood(population, [r, alpha, a, b]);
    Ok(Fitted {
        model,
        log_likelihood,
        iterations,
        converged,
        n_customers: population.n_customers(),
    })
}

/// Weighted log-likelihood of a compressed population, generic over the number type:
///
/// ```text
/// ln L = ln Γ(r+x) - ln Γ(r) + r ln α + ln B(a, b+x+1) - ln B(a, b)
///        + ln[ (α+T)^-(r+x) + a/(b+x) (α+t_x)^-(r+x) ]
/// ```
pub(crate) fn total_log_likelihood<S: Scalar>(pop: &Population, p: [S; 4]) -> S {
    let [r, alpha, a, b] = p;
    let ln_r = r.ln_gamma();
    let ln_b = b.ln_gamma();
    let ln_ab = (a + b).ln_gamma();
    let r_ln_alpha = r * alpha.ln();
    let ln_a = a.ln();
    let mut total = S::cst(0.0);
    // Per distinct x: the terms that do not depend on t_x or T; and ln a - ln(b + x).
    let mut c2 = Vec::with_capacity(pop.xs.len());
    for (&x, &w) in pop.xs.iter().zip(&pop.x_weights) {
        let c1 = (r + x).ln_gamma() - ln_r + r_ln_alpha + ln_ab + (b + (x + 1.0)).ln_gamma()
            - ln_b
            - (a + b + (x + 1.0)).ln_gamma();
        total = total + c1 * w;
        c2.push(ln_a - (b + x).ln());
    }
    let pair = |p: &super::Pair| -((r + pop.xs[p.xi as usize]) * (alpha + p.u).ln());
    let at_t: Vec<S> = pop.t_pairs.iter().map(pair).collect();
    let at_tx: Vec<S> = pop
        .tx_pairs
        .iter()
        .map(|p| pair(p) + c2[p.xi as usize])
        .collect();
    for row in &pop.rows {
        let term = log_add_exp(at_t[row.tp as usize], at_tx[row.txp as usize]);
        total = total + term * row.weight;
    }
    total
}

impl MbgNbd {
    /// `ln` of the odds term `a/(b+x) ((α+T)/(α+t_x))^(r+x)` of P(alive) (any x).
    fn ln_dead_odds(&self, x: f64, tx: f64, t: f64) -> f64 {
        (self.a / (self.b + x)).ln() + (self.r + x) * ((t - tx) / (self.alpha + tx)).ln_1p()
    }

    /// `1 + odds`, the divisor of the conditional expectation (`1 / P(alive)`); it does not
    /// depend on the horizon.
    fn alive_divisor(&self, x: f64, tx: f64, big_t: f64) -> f64 {
        1.0 + self.ln_dead_odds(x, tx, big_t).exp()
    }

    /// Expected purchases in `(T, T+t]` for a customer `(x, t_x, T)`, clamped input:
    /// P(alive) times the expectation if alive.
    fn cond_expected(&self, x: f64, tx: f64, big_t: f64, t: f64) -> f64 {
        self.if_alive(x, big_t, t) / self.alive_divisor(x, tx, big_t)
    }

    /// Expected purchases in `(T, T+t]` of a customer alive at `T` (Wagner & Hoppe 2008; the
    /// numerator of lifetimes' conditional expectation):
    /// `(a+b+x)/(a-1) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; z)]`, which is the
    /// BG/NBD's with `b + 1` in place of `b`.
    fn if_alive(&self, x: f64, big_t: f64, t: f64) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        let shifted = BgNbd {
            r,
            alpha,
            a,
            b: b + 1.0,
        };
        shifted.if_alive(x, big_t, t)
    }
}

impl PurchaseModel for MbgNbd {
    fn kind(&self) -> ModelKind {
        ModelKind::MbgNbd
    }

    /// `1 / (1 + a/(b+x) ((α+T)/(α+t_x))^(r+x))` (Batislam et al. 2007, appendix A eq. 5).
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

    /// `b/(a-1) [1 - (α/(α+t))^r 2F1(r, b+1; a+b; t/(α+t))]`: the conditional expectation of
    /// a customer with `x = t_x = T = 0`, who is alive with probability `b/(a+b)`.
    fn expected_purchases_unconditional(&self, t: f64) -> f64 {
        self.cond_expected(0.0, 0.0, 0.0, t)
    }

    /// `B(a, b+n+1)/B(a,b) NB(n) + B(a+1, b+n)/B(a,b) P(NB >= n)`, `NB` the negative binomial
    /// count of a customer who never dies (as lifetimes).
    fn probability_of_purchases(&self, n: u32, t: f64) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        let n = n as f64;
        if t.is_nan() || t <= 0.0 {
            return if n == 0.0 { 1.0 } else { 0.0 };
        }
        let ln_beta = |p: f64, q: f64| ln_gamma(p) + ln_gamma(q) - ln_gamma(p + q);
        let ln_p0 = r * (alpha / (alpha + t)).ln();
        let ln_q = (t / (alpha + t)).ln();
        // ln NB(j) = ln Γ(r+j) - ln Γ(r) - ln j! + r ln(α/(α+t)) + j ln(t/(α+t))
        let ln_nb = |j: f64| ln_gamma(r + j) - ln_gamma(r) - ln_gamma(j + 1.0) + ln_p0 + j * ln_q;
        let first = (ln_beta(a, b + n + 1.0) - ln_beta(a, b) + ln_nb(n)).exp();
        let tail = bgnbd::nb_upper_tail(n, ln_nb, r, t / (alpha + t));
        let second = (ln_beta(a + 1.0, b + n) - ln_beta(a, b)).exp() * tail;
        (first + second).clamp(0.0, 1.0)
    }

    fn customer_log_likelihood(&self, customer: &Rft) -> f64 {
        let (x, tx, t) = sanitize(customer);
        let MbgNbd { r, alpha, a, b } = *self;
        let base = ln_gamma(r + x) - ln_gamma(r)
            + r * alpha.ln()
            + ln_gamma(a + b)
            + ln_gamma(b + x + 1.0)
            - ln_gamma(b)
            - ln_gamma(a + b + x + 1.0);
        let lt = -(r + x) * (alpha + t).ln();
        let ltx = a.ln() - (b + x).ln() - (r + x) * (alpha + tx).ln();
        base + log_add_exp(lt, ltx)
    }
}
