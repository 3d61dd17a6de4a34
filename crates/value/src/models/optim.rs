//! A small quasi-Newton (BFGS) minimiser for the model fits.
//!
//! Hand-written rather than taken from `argmin`: the problems have 3 or 4 parameters, the cost
//! is entirely in the objective, and a dense BFGS with an Armijo backtracking line search on an
//! objective that returns its exact gradient (forward-mode AD) converges in a few dozen
//! evaluations. Owning the loop also lets the fits warm-start from a subsample fit *including*
//! its inverse-Hessian approximation, which is what makes million-customer fits cheap.

/// Settings of one minimisation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BfgsSettings {
    pub max_iterations: usize,
    /// Stop when every gradient component is below this in absolute value.
    pub gradient_tolerance: f64,
    /// Largest step in any coordinate (the coordinates are log-parameters).
    pub max_step: f64,
    /// Also stop when the quasi-Newton step `-H g` is below this in every coordinate, once `H`
    /// has learnt the curvature (after an update, or given by a warm start). On a million
    /// customers the mean log-likelihood's gradient carries rounding noise of the sum, and
    /// chasing `gradient_tolerance` below it cost dozens of full-data evaluations that moved
    /// the parameters by about one part in 10^8 (0 disables this test).
    pub step_tolerance: f64,
}

/// Outcome of a minimisation.
#[derive(Debug, Clone)]
pub(crate) struct BfgsResult<const N: usize> {
    pub x: [f64; N],
    pub f: f64,
    pub iterations: usize,
    pub converged: bool,
    pub inverse_hessian: [[f64; N]; N],
}

fn dot<const N: usize>(a: &[f64; N], b: &[f64; N]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn inf_norm<const N: usize>(a: &[f64; N]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

fn identity<const N: usize>() -> [[f64; N]; N] {
    let mut h = [[0.0; N]; N];
    for (i, row) in h.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    h
}

/// Minimise `f` (returning value and gradient) from `x0`.
///
/// Non-finite objective values are treated as "too far": the line search backs off. Returns
/// `None` only if the objective is not finite at the start point.
pub(crate) fn minimize<const N: usize>(
    mut f: impl FnMut(&[f64; N]) -> (f64, [f64; N]),
    x0: [f64; N],
    h0: Option<[[f64; N]; N]>,
    settings: &BfgsSettings,
) -> Option<BfgsResult<N>> {
    let mut x = x0;
    let (mut fx, mut g) = f(&x);
    if !fx.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let have_h0 = h0.is_some();
    let mut h = h0.unwrap_or_else(identity);
    let mut converged = false;
    let mut iterations = 0;
    let mut small_decreases = 0;
    // Whether `h` holds curvature (a warm start's, or after a BFGS update), so that `-H g` is a
    // Newton-like step whose size measures the distance to the minimum.
    let mut curvature_known = have_h0;
    while iterations < settings.max_iterations {
        if inf_norm(&g) <= settings.gradient_tolerance {
            converged = true;
            break;
        }
        iterations += 1;
        // Search direction p = -H g (reset to steepest descent if not a descent direction).
        let mut p = [0.0; N];
        for i in 0..N {
            p[i] = -dot(&h[i], &g);
        }
        let mut slope = dot(&p, &g);
        if slope >= 0.0 || !slope.is_finite() {
            h = identity();
            for i in 0..N {
                p[i] = -g[i];
            }
            slope = dot(&p, &g);
            curvature_known = false;
        }
        let pn = inf_norm(&p);
        if curvature_known && pn <= settings.step_tolerance {
            converged = true;
            break;
        }
        let mut alpha = if pn > settings.max_step {
            settings.max_step / pn
        } else {
            1.0
        };
        // Armijo backtracking with safeguarded quadratic interpolation.
        let mut accepted = None;
        for _ in 0..60 {
            let mut xn = [0.0; N];
            for i in 0..N {
                xn[i] = x[i] + alpha * p[i];
            }
            let (fnew, gnew) = f(&xn);
            let finite = fnew.is_finite() && gnew.iter().all(|v| v.is_finite());
            if finite && fnew <= fx + 1e-4 * alpha * slope {
                accepted = Some((xn, fnew, gnew));
                break;
            }
            let next = if finite {
                // minimiser of the quadratic through f(0), f'(0), f(alpha)
                let denom = 2.0 * (fnew - fx - slope * alpha);
                if denom > 0.0 {
                    -slope * alpha * alpha / denom
                } else {
                    0.5 * alpha
                }
            } else {
                0.25 * alpha
            };
            alpha = next.clamp(0.1 * alpha, 0.5 * alpha);
        }
        let Some((xn, fnew, gnew)) = accepted else {
            // No decrease possible: we are at the limit of floating-point resolution.
            converged = inf_norm(&g) <= settings.gradient_tolerance * 1e3;
            break;
        };
        let mut s = [0.0; N];
        let mut y = [0.0; N];
        for i in 0..N {
            s[i] = xn[i] - x[i];
            y[i] = gnew[i] - g[i];
        }
        let sy = dot(&s, &y);
        if sy > 1e-300 && sy.is_finite() {
            if iterations == 1 && !have_h0 {
                // Shanno-Phua scaling of the initial inverse Hessian.
                let yy = dot(&y, &y);
                let scale = sy / yy;
                h = identity();
                for (i, row) in h.iter_mut().enumerate() {
                    row[i] = scale;
                }
            }
            // H <- (I - rho s y') H (I - rho y s') + rho s s'
            let rho = 1.0 / sy;
            let mut hy = [0.0; N];
            for i in 0..N {
                hy[i] = dot(&h[i], &y);
            }
            let yhy = dot(&y, &hy);
            for i in 0..N {
                for j in 0..N {
                    h[i][j] += -rho * (hy[i] * s[j] + s[i] * hy[j])
                        + (rho * rho * yhy + rho) * s[i] * s[j];
                }
            }
            curvature_known = true;
        }
        let decrease = fx - fnew;
        x = xn;
        g = gnew;
        let scale = fx.abs().max(fnew.abs()).max(1e-300);
        fx = fnew;
        if decrease <= 1e-15 * scale {
            small_decreases += 1;
            if small_decreases >= 3 {
                converged = inf_norm(&g) <= settings.gradient_tolerance * 1e3;
                break;
            }
        } else {
            small_decreases = 0;
        }
    }
    if !converged && inf_norm(&g) <= settings.gradient_tolerance {
        converged = true;
    }
    Some(BfgsResult {
        x,
        f: fx,
        iterations,
        converged,
        inverse_hessian: h,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock's banana function and its gradient; minimum 0 at (1, 1).
    fn rosen(x: &[f64; 2]) -> (f64, [f64; 2]) {
        let (a, b) = (x[0], x[1]);
        let f = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
        let g = [
            -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
            200.0 * (b - a * a),
        ];
        (f, g)
    }

    #[test]
    fn minimises_rosenbrock() {
        let settings = BfgsSettings {
            max_iterations: 500,
            gradient_tolerance: 1e-10,
            max_step: 10.0,
            step_tolerance: 0.0,
        };
        let r = minimize(rosen, [-1.2, 1.0], None, &settings).unwrap();
        assert!(r.converged);
        assert!(
            (r.x[0] - 1.0).abs() < 1e-6 && (r.x[1] - 1.0).abs() < 1e-6,
            "{:?}",
            r.x
        );
    }

    #[test]
    fn step_tolerance_stops_close_to_the_minimum_in_fewer_iterations() {
        let settings = |step_tolerance| BfgsSettings {
            max_iterations: 500,
            gradient_tolerance: 1e-14,
            max_step: 10.0,
            step_tolerance,
        };
        let strict = minimize(rosen, [-1.2, 1.0], None, &settings(0.0)).unwrap();
        let loose = minimize(rosen, [-1.2, 1.0], None, &settings(1e-6)).unwrap();
        assert!(loose.converged);
        assert!(
            loose.iterations < strict.iterations,
            "{} vs {}",
            loose.iterations,
            strict.iterations
        );
        for (l, s) in loose.x.iter().zip(&strict.x) {
            assert!((l - s).abs() < 1e-5, "{:?} vs {:?}", loose.x, strict.x);
        }
    }

    #[test]
    fn non_finite_start_is_refused() {
        let settings = BfgsSettings {
            max_iterations: 10,
            gradient_tolerance: 1e-10,
            max_step: 10.0,
            step_tolerance: 0.0,
        };
        assert!(minimize(|_: &[f64; 1]| (f64::NAN, [0.0]), [0.0], None, &settings).is_none());
    }
}
