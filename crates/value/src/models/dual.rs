//! Forward-mode automatic differentiation: a real number carrying its gradient.
//!
//! The log-likelihoods are written once, generically over [`Scalar`], and evaluated either on
//! plain `f64` (reporting) or on [`Dual<N>`] (fitting, where the exact gradient with respect to
//! the `N` log-parameters comes out with the value). This keeps the analytic gradient exact for
//! every term, including the Gauss hypergeometric series of the Pareto/NBD, without hand-derived
//! (and error-prone) derivative formulas.

use std::ops::{Add, Div, Mul, Neg, Sub};

use super::special::{digamma, ln_gamma};

/// The operations the likelihood code needs from a number type.
pub(crate) trait Scalar:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
{
    /// A constant (zero derivative).
    fn cst(v: f64) -> Self;
    /// The value, without the derivative.
    fn val(self) -> f64;
    fn ln(self) -> Self;
    fn exp(self) -> Self;
    fn ln_1p(self) -> Self;
    fn exp_m1(self) -> Self;
    fn ln_gamma(self) -> Self;
}

impl Scalar for f64 {
    #[inline]
    fn cst(v: f64) -> Self {
        v
    }
    #[inline]
    fn val(self) -> f64 {
        self
    }
    #[inline]
    fn ln(self) -> Self {
        f64::ln(self)
    }
    #[inline]
    fn exp(self) -> Self {
        f64::exp(self)
    }
    #[inline]
    fn ln_1p(self) -> Self {
        f64::ln_1p(self)
    }
    #[inline]
    fn exp_m1(self) -> Self {
        f64::exp_m1(self)
    }
    #[inline]
    fn ln_gamma(self) -> Self {
        ln_gamma(self)
    }
}

/// A value with its gradient with respect to `N` variables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Dual<const N: usize> {
    pub v: f64,
    pub g: [f64; N],
}

impl<const N: usize> Dual<N> {
    /// The `i`-th independent variable with value `v`.
    pub fn var(v: f64, i: usize) -> Self {
        let mut g = [0.0; N];
        g[i] = 1.0;
        Dual { v, g }
    }

    /// `f(self)` given `f(v)` and `f'(v)` (chain rule).
    #[inline]
    fn chain(self, fv: f64, dfv: f64) -> Self {
        let mut g = self.g;
        for gi in &mut g {
            *gi *= dfv;
        }
        Dual { v: fv, g }
    }
}

impl<const N: usize> Add for Dual<N> {
    type Output = Self;
    #[inline]
    fn add(self, o: Self) -> Self {
        let mut g = self.g;
        for (gi, oi) in g.iter_mut().zip(o.g) {
            *gi += oi;
        }
        Dual { v: self.v + o.v, g }
    }
}

impl<const N: usize> Sub for Dual<N> {
    type Output = Self;
    #[inline]
    fn sub(self, o: Self) -> Self {
        let mut g = self.g;
        for (gi, oi) in g.iter_mut().zip(o.g) {
            *gi -= oi;
        }
        Dual { v: self.v - o.v, g }
    }
}

impl<const N: usize> Mul for Dual<N> {
    type Output = Self;
    #[inline]
    fn mul(self, o: Self) -> Self {
        let mut g = self.g;
        for (gi, oi) in g.iter_mut().zip(o.g) {
            *gi = *gi * o.v + oi * self.v;
        }
        Dual { v: self.v * o.v, g }
    }
}

impl<const N: usize> Div for Dual<N> {
    type Output = Self;
    #[inline]
    fn div(self, o: Self) -> Self {
        let inv = 1.0 / o.v;
        let v = self.v * inv;
        let mut g = self.g;
        for (gi, oi) in g.iter_mut().zip(o.g) {
            *gi = (*gi - v * oi) * inv;
        }
        Dual { v, g }
    }
}

impl<const N: usize> Neg for Dual<N> {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        self.chain(-self.v, -1.0)
    }
}

impl<const N: usize> Add<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn add(self, o: f64) -> Self {
        Dual {
            v: self.v + o,
            g: self.g,
        }
    }
}

impl<const N: usize> Sub<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn sub(self, o: f64) -> Self {
        Dual {
            v: self.v - o,
            g: self.g,
        }
    }
}

impl<const N: usize> Mul<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn mul(self, o: f64) -> Self {
        self.chain(self.v * o, o)
    }
}

impl<const N: usize> Div<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn div(self, o: f64) -> Self {
        let inv = 1.0 / o;
        self.chain(self.v * inv, inv)
    }
}

impl<const N: usize> Scalar for Dual<N> {
    #[inline]
    fn cst(v: f64) -> Self {
        Dual { v, g: [0.0; N] }
    }
    #[inline]
    fn val(self) -> f64 {
        self.v
    }
    #[inline]
    fn ln(self) -> Self {
        self.chain(self.v.ln(), 1.0 / self.v)
    }
    #[inline]
    fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e)
    }
    #[inline]
    fn ln_1p(self) -> Self {
        self.chain(self.v.ln_1p(), 1.0 / (1.0 + self.v))
    }
    #[inline]
    fn exp_m1(self) -> Self {
        let e = self.v.exp_m1();
        self.chain(e, e + 1.0)
    }
    #[inline]
    fn ln_gamma(self) -> Self {
        self.chain(ln_gamma(self.v), digamma(self.v))
    }
}

/// `ln(exp(a) + exp(b))` without overflow or underflow.
#[inline]
pub(crate) fn log_add_exp<S: Scalar>(a: S, b: S) -> S {
    if a.val() >= b.val() {
        if b.val() == f64::NEG_INFINITY {
            return a;
        }
        a + (b - a).exp().ln_1p()
    } else {
        if a.val() == f64::NEG_INFINITY {
            return b;
        }
        b + (a - b).exp().ln_1p()
    }
}

/// `ln(exp(a) - exp(b))` for `a > b` (returns `-inf` as a constant when `a <= b`).
#[inline]
pub(crate) fn log_sub_exp<S: Scalar>(a: S, b: S) -> S {
    let d = b.val() - a.val();
    if d >= 0.0 {
        return S::cst(f64::NEG_INFINITY);
    }
    // ln(1 - e^d): use ln(-expm1(d)) near 0, ln1p(-e^d) far from 0 (Maechler's log1mexp).
    let e = (b - a).exp();
    if d > -std::f64::consts::LN_2 {
        // -expm1(d) = 1 - e^d computed stably: value via expm1, derivative via the chain rule.
        let one_minus = -(d.exp_m1());
        // derivative of ln(1 - e^d) w.r.t. d is -e^d / (1 - e^d)
        let lm = ln_one_minus(e, one_minus);
        a + lm
    } else {
        a + (-e).ln_1p()
    }
}

/// `ln(1 - e)` given `e` (carrying the derivative) and an accurately computed `1 - e.val()`.
#[inline]
fn ln_one_minus<S: Scalar>(e: S, one_minus: f64) -> S {
    // Build a number with value 1 - e and derivative -de, then take its log.
    let x = S::cst(1.0) - e;
    let corr = one_minus - x.val();
    (x + corr).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dual_matches_finite_differences() {
        let f = |x: Dual<2>, y: Dual<2>| (x * y + x.ln_gamma()).exp().ln_1p() / (y + 1.0);
        let (x0, y0) = (1.7, 0.4);
        let d = f(Dual::var(x0, 0), Dual::var(y0, 1));
        let g = |x: f64, y: f64| f(Dual::cst(x), Dual::cst(y)).v;
        let h = 1e-6;
        let dx = (g(x0 + h, y0) - g(x0 - h, y0)) / (2.0 * h);
        let dy = (g(x0, y0 + h) - g(x0, y0 - h)) / (2.0 * h);
        assert!((d.g[0] - dx).abs() < 1e-7, "{} vs {}", d.g[0], dx);
        assert!((d.g[1] - dy).abs() < 1e-7, "{} vs {}", d.g[1], dy);
    }

    #[test]
    fn log_sum_and_difference() {
        let a = 1000.0_f64;
        let b = 999.0_f64;
        let s = log_add_exp(a, b);
        assert!((s - (1000.0 + (-1.0f64).exp().ln_1p())).abs() < 1e-12);
        let d = log_sub_exp(a, b);
        assert!((d - (1000.0 + (1.0 - (-1.0f64).exp()).ln())).abs() < 1e-12);
        let tiny = log_sub_exp(0.0, -1e-12);
        assert!((tiny - (1e-12f64).ln()).abs() < 1e-6);
        assert_eq!(log_sub_exp(1.0, 1.0), f64::NEG_INFINITY);
        assert_eq!(log_add_exp(f64::NEG_INFINITY, 2.0), 2.0);
    }
}
