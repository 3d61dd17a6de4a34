//! Special functions: log-gamma, digamma and the Gauss hypergeometric series the models need.
//!
//! Hand-written rather than pulled from a crate: only positive real arguments occur, and the
//! hypergeometric functions are needed in transformed forms (Euler's transformation applied so
//! that every series has positive, monotonically shrinking terms) that no general-purpose
//! `2F1` routine exposes.

use super::dual::Scalar;

const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// `ln Γ(x)` for `x > 0` (relative accuracy about 1e-15; `+inf` at 0, NaN below).
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::INFINITY;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    // Shift the argument up to where Stirling's series is accurate: ln Γ(x) = ln Γ(x+n) - ln(x(x+1)..(x+n-1)).
    let mut shift = 0.0;
    let mut z = x;
    if z < 15.0 {
        let mut prod = 1.0;
        while z < 15.0 {
            prod *= z;
            z += 1.0;
        }
        shift = prod.ln();
    }
    stirling(z) - shift
}

/// Stirling's series for `ln Γ(z)`, `z >= 15`.
fn stirling(z: f64) -> f64 {
    let zi = 1.0 / z;
    let z2 = zi * zi;
    let series = zi
        * (1.0 / 12.0
            + z2 * (-1.0 / 360.0
                + z2 * (1.0 / 1260.0
                    + z2 * (-1.0 / 1680.0 + z2 * (1.0 / 1188.0 + z2 * (-691.0 / 360_360.0))))));
    (z - 0.5) * z.ln() - z + HALF_LN_2PI + series
}

/// The digamma function `ψ(x) = d/dx ln Γ(x)` for `x > 0`.
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let mut acc = 0.0;
    let mut z = x;
    while z < 15.0 {
        acc -= 1.0 / z;
        z += 1.0;
    }
    let zi = 1.0 / z;
    let z2 = zi * zi;
    let series = z2
        * (1.0 / 12.0
            - z2 * (1.0 / 120.0 - z2 * (1.0 / 252.0 - z2 * (1.0 / 240.0 - z2 * (1.0 / 132.0)))));
    acc + z.ln() - 0.5 * zi - series
}

/// Largest number of series terms before falling back on the geometric tail estimate.
const MAX_TERMS: usize = 200_000;

/// `Σ_k (c)_k / (d)_k z^k` (that is `2F1(1, c; d; z)`) for `0 < c <= d`, `0 <= z < 1`.
///
/// For `z <= 0.8` the power series: with `c <= d` every term ratio `(c+k)/(d+k) z` is positive
/// and below `z`, so the sum is free of cancellation and the remainder after a term `t` is at
/// most `t z / (1 - z)`; the loop stops when that bound is below machine precision relative to
/// the sum. Closer to 1 the series needs `O(1/(1-z))` terms, so Gauss's continued fraction
/// (an S-fraction with negative partial numerators, evaluated by the modified Lentz method)
/// takes over: it needs only `O(1/sqrt(1-z))` steps (relative accuracy about 1e-9 at
/// `1 - z = 1e-9`; beyond about `1 - z = 1e-11`, i.e. rate parameters more than 1e11 apart,
/// the iteration cap stops it slightly short, never at a non-finite value).
pub(crate) fn hyp2f1_1_c_d<S: Scalar>(c: S, d: S, z: S) -> S {
    let zv = z.val();
    if zv <= 0.0 {
        return S::cst(1.0);
    }
    if zv > 0.8 {
        return hyp2f1_1_c_d_cf(c, d, z);
    }
    let one_minus = 1.0 - zv;
    let mut sum = S::cst(1.0);
    let mut term = S::cst(1.0);
    for k in 0..MAX_TERMS {
        let kf = k as f64;
        term = term * ((c + kf) / (d + kf) * z);
        sum = sum + term;
        if term.val() * zv <= 1e-17 * sum.val() * one_minus {
            break;
        }
    }
    sum
}

/// Gauss's continued fraction for `2F1(1, b; c+1; z)` with `b = c_`, `c + 1 = d`:
/// `1/(1 + f2 z/(1 + f3 z/(1 + ...)))` with `f_{2k} = -(b+k-1)(c+k-1)/((c+2k-2)(c+2k-1))`
/// and `f_{2k+1} = -k(c-b+k)/((c+2k-1)(c+2k))`.
fn hyp2f1_1_c_d_cf<S: Scalar>(b: S, d: S, z: S) -> S {
    const TINY: f64 = 1e-300;
    let c = d - 1.0;
    // modified Lentz for b0 + a1/(b1 + a2/(b2 + ...)), b0 = 0, a1 = 1, b_j = 1, a_j = f_j z
    let mut f = S::cst(TINY);
    let mut cc = f;
    let mut dd = S::cst(0.0);
    for j in 1..(MAX_TERMS * 5) {
        let a = if j == 1 {
            S::cst(1.0)
        } else if j % 2 == 0 {
            let k = (j / 2) as f64;
            -((b + (k - 1.0)) * (c + (k - 1.0)) / ((c + (2.0 * k - 2.0)) * (c + (2.0 * k - 1.0))))
                * z
        } else {
            let k = (j / 2) as f64;
            -((c - b + k) * k / ((c + (2.0 * k - 1.0)) * (c + 2.0 * k))) * z
        };
        dd = a * dd + 1.0;
        if dd.val().abs() < TINY {
            dd = S::cst(TINY);
        }
        cc = a / cc + 1.0;
        if cc.val().abs() < TINY {
            cc = S::cst(TINY);
        }
        dd = S::cst(1.0) / dd;
        let delta = cc * dd;
        f = f * delta;
        if (delta.val() - 1.0).abs() < 1e-16 {
            break;
        }
    }
    f
}

/// Series `S(A, a1, c, z) = Σ_{k>=1} (A)_k (a1+1)_{k-1} / ((c)_k k!) z^k`, the part of
/// `2F1(A, a1; c; z) = 1 + a1 S` left after taking the leading 1 and the factor `a1` out.
///
/// Used for the BG/NBD conditional expectation, where `a1 = a - 1` may be tiny or negative and
/// dividing it out analytically avoids a 0/0. Terms may alternate in sign when `A < 0`; the
/// absolute term ratio tends to `z`, and the loop stops when the next terms cannot matter.
pub(crate) fn hyp2f1_tail(big_a: f64, a1: f64, c: f64, z: f64) -> f64 {
    if z <= 0.0 {
        return 0.0;
    }
    // k = 1 term: A z / c
    let mut term = big_a * z / c;
    let mut sum = term;
    let mut k = 1.0_f64;
    let mut n = 0usize;
    loop {
        // term_{k+1} / term_k = (A+k)(a1+1+k-1)/((c+k)(k+1)) z
        let ratio = (big_a + k) * (a1 + k) / ((c + k) * (k + 1.0)) * z;
        term *= ratio;
        sum += term;
        k += 1.0;
        n += 1;
        let r = ratio.abs();
        // Once the ratio has settled below 1 the remainder is bounded by |term| r / (1 - r).
        if r < 1.0 && term.abs() * r <= 1e-17 * sum.abs().max(1e-300) * (1.0 - r) {
            break;
        }
        if term == 0.0 || n >= MAX_TERMS * 5 {
            break;
        }
    }
    sum
}

/// `-expm1(e * l) / e`, continuous at `e = 0` (where it equals `-l`).
pub(crate) fn neg_expm1_over(e: f64, l: f64) -> f64 {
    let el = e * l;
    if el.abs() < 1e-8 {
        -l * (1.0 + 0.5 * el)
    } else {
        -el.exp_m1() / e
    }
}

/// Nodes and weights of the 16-point Gauss-Legendre rule on `[-1, 1]`.
fn legendre_rule() -> &'static [(f64, f64); 16] {
    static RULE: std::sync::OnceLock<[(f64, f64); 16]> = std::sync::OnceLock::new();
    RULE.get_or_init(|| {
        const N: usize = 16;
        let mut rule = [(0.0, 0.0); N];
        for i in 0..N / 2 {
            // Newton's method on P_N from Chebyshev's approximation of the i-th root.
            let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (N as f64 + 0.5)).cos();
            let mut dp = 1.0;
            for _ in 0..100 {
                let (mut p0, mut p1) = (1.0, x);
                for k in 2..=N {
                    let kf = k as f64;
                    let p2 = ((2.0 * kf - 1.0) * x * p1 - (kf - 1.0) * p0) / kf;
                    p0 = p1;
                    p1 = p2;
                }
                dp = N as f64 * (x * p1 - p0) / (x * x - 1.0);
                let dx = p1 / dp;
                x -= dx;
                if dx.abs() < 1e-16 {
                    break;
                }
            }
            let w = 2.0 / ((1.0 - x * x) * dp * dp);
            rule[i] = (-x, w);
            rule[N - 1 - i] = (x, w);
        }
        rule
    })
}

/// `∫_a^b f` by composite 16-point Gauss-Legendre on 16 equal panels (smooth integrands).
pub(crate) fn gauss_legendre(a: f64, b: f64, f: impl Fn(f64) -> f64) -> f64 {
    const PANELS: usize = 16;
    let rule = legendre_rule();
    let h = (b - a) / PANELS as f64;
    let mut total = 0.0;
    for p in 0..PANELS {
        let mid = a + (p as f64 + 0.5) * h;
        for &(x, w) in rule {
            total += w * f(mid + 0.5 * h * x);
        }
    }
    total * 0.5 * h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_known_values() {
        assert!((ln_gamma(1.0)).abs() < 1e-14);
        assert!((ln_gamma(2.0)).abs() < 1e-14);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-14);
        // ln Γ(10) = ln 362880
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(1e-8) - 18.420_680_738_180_21).abs() < 1e-8);
        // ln Γ(100.5) (reference value from a libm lgamma)
        let v = ln_gamma(100.5);
        assert!((v - 361.435_540_467_777_6).abs() < 1e-9, "{v}");
    }

    #[test]
    fn digamma_known_values() {
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + euler).abs() < 1e-14);
        assert!((digamma(0.5) + euler + 2.0 * std::f64::consts::LN_2).abs() < 1e-13);
        // ψ(x) from finite differences of ln Γ
        for &x in &[0.01, 0.3, 2.5, 17.0, 1234.5] {
            let h = 1e-5 * x;
            let fd = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!((digamma(x) - fd).abs() < 1e-6 * (1.0 + fd.abs()), "x={x}");
        }
    }

    #[test]
    fn hyp2f1_1_c_d_closed_forms() {
        // 2F1(1, 1; 2; z) = -ln(1-z)/z
        for &z in &[0.1, 0.5, 0.9, 0.999] {
            let v: f64 = hyp2f1_1_c_d(1.0, 2.0, z);
            let exact = -(1.0f64 - z).ln() / z;
            assert!((v / exact - 1.0).abs() < 1e-12, "z={z}: {v} vs {exact}");
        }
        // 2F1(1, c; c; z) = 1/(1-z)
        let v: f64 = hyp2f1_1_c_d(3.5, 3.5, 0.99);
        assert!((v / 100.0 - 1.0).abs() < 1e-10);
        // extremely close to 1 (continued fraction)
        // (relative accuracy degrades gently: about 1e-9 at 1 - z = 1e-9, i.e. max/min rate
        // parameters 1e9 apart; further out the iteration cap makes it a slight underestimate)
        for (eps, tol) in [(1e-3, 1e-12), (1e-6, 1e-10), (1e-9, 1e-8)] {
            let v: f64 = hyp2f1_1_c_d(1.0, 2.0, 1.0 - eps);
            let exact = -eps.ln() / (1.0 - eps);
            assert!((v / exact - 1.0).abs() < tol, "{eps}: {v} vs {exact}");
        }
        // series and continued fraction agree where they meet, with derivatives
        use super::super::dual::Dual;
        for (c, d) in [(0.3, 1.9), (5.0, 5.6), (40.0, 41.5), (1.5, 60.0)] {
            let at = |z: f64| -> Dual<3> {
                hyp2f1_1_c_d(Dual::var(c, 0), Dual::var(d, 1), Dual::var(z, 2))
            };
            let series = at(0.8);
            let cf: Dual<3> = hyp2f1_1_c_d_cf(Dual::var(c, 0), Dual::var(d, 1), Dual::var(0.8, 2));
            assert!(
                (series.v / cf.v - 1.0).abs() < 1e-13,
                "{c},{d}: {series:?} {cf:?}"
            );
            for i in 0..3 {
                assert!(
                    (series.g[i] / cf.g[i] - 1.0).abs() < 1e-9,
                    "{c},{d}: {series:?} {cf:?}"
                );
            }
        }
    }

    #[test]
    fn gauss_legendre_integrates() {
        let v = gauss_legendre(0.0, 2.0, |x| x.exp());
        assert!((v - (2f64.exp() - 1.0)).abs() < 1e-13);
        let v = gauss_legendre(0.0, 1.0, |x| x.powi(31));
        assert!((v - 1.0 / 32.0).abs() < 1e-14);
    }

    #[test]
    fn hyp2f1_tail_matches_direct_series() {
        // 2F1(A, a1; c; z) by the plain series, compared with 1 + a1 * tail
        let (big_a, a1, c, z) = (1.7, 0.4, 3.2, 0.6);
        let mut term = 1.0;
        let mut sum = 1.0;
        for k in 0..2000 {
            let k = k as f64;
            term *= (big_a + k) * (a1 + k) / ((c + k) * (k + 1.0)) * z;
            sum += term;
        }
        let v = 1.0 + a1 * hyp2f1_tail(big_a, a1, c, z);
        assert!((v - sum).abs() < 1e-13, "{v} vs {sum}");
    }
}
