//! Draw customer populations from known parameters (seeded, reproducible): for parameter
//! recovery tests, benches and what-if analyses. Pure functions: the seed is the only input
//! besides the parameters.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution, Exp, Gamma};

use super::{BgNbd, GammaGamma, ModelError, ParetoNbd};
use crate::summary::Rft;

/// How to draw a population.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SimOptions {
    /// Number of customers.
    pub n_customers: usize,
    /// Customers' ages `T` at the end of calibration are uniform on `[min_age, max_age]`.
    pub min_age: f64,
    pub max_age: f64,
    /// Length of the holdout period after each customer's calibration end (0 for none).
    pub holdout: f64,
    /// `None`: purchase times are recorded exactly (the models' continuous time). `Some(h)`:
    /// purchases are recorded in periods of length `h` as the lifetimes summary does (repeat
    /// purchase *periods*; ages rounded down to whole periods), e.g. `Some(1.0)` for daily
    /// data in days.
    pub period: Option<f64>,
    /// Random seed.
    pub seed: u64,
}

/// One simulated customer.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SimCustomer {
    /// Calibration summary (monetary value 0: draw spends with [`gamma_gamma`]).
    pub calibration: Rft,
    /// Repeat purchases (or purchase periods) in the holdout.
    pub holdout_purchases: f64,
    /// Whether the customer was still alive at the end of calibration.
    pub alive: bool,
}

impl SimOptions {
    fn validate(&self) -> Result<(), ModelError> {
        if !(self.min_age >= 0.0 && self.max_age >= self.min_age && self.max_age.is_finite()) {
            return Err(ModelError::InvalidOptions(
                "ages must satisfy 0 <= min_age <= max_age < inf",
            ));
        }
        if !(self.holdout >= 0.0 && self.holdout.is_finite()) {
            return Err(ModelError::InvalidOptions(
                "holdout must be finite and >= 0",
            ));
        }
        if let Some(h) = self.period {
            if !(h > 0.0 && h.is_finite()) {
                return Err(ModelError::InvalidOptions(
                    "period must be finite and positive",
                ));
            }
        }
        Ok(())
    }
}

/// Summarise one customer's purchase times (first purchase at 0, not included in `times`).
fn summarise(times: &[f64], age: f64, death: f64, opts: &SimOptions) -> SimCustomer {
    match opts.period {
        None => {
            let cal: Vec<f64> = times.iter().copied().filter(|&t| t <= age).collect();
            let hold = times
                .iter()
                .filter(|&&t| t > age && t <= age + opts.holdout)
                .count();
            SimCustomer {
                calibration: Rft {
                    frequency: cal.len() as f64,
                    recency: cal.last().copied().unwrap_or(0.0),
                    t: age,
                    monetary_value: 0.0,
                },
                holdout_purchases: hold as f64,
                alive: death > age,
            }
        }
        Some(h) => {
            // Periods [k h, (k+1) h); calibration covers periods 0..=K with K = floor(age/h).
            let last_cal = (age / h).floor();
            let last_hold = last_cal + (opts.holdout / h).floor();
            let (mut x, mut last, mut hold, mut prev) = (0u64, 0.0, 0u64, 0.0);
            for &t in times {
                let k = (t / h).floor();
                if k == prev {
                    continue;
                }
                prev = k;
                if k <= last_cal {
                    x += 1;
                    last = k;
                } else if k <= last_hold {
                    hold += 1;
                } else {
                    break;
                }
            }
            SimCustomer {
                calibration: Rft {
                    frequency: x as f64,
                    recency: last * h,
                    t: last_cal * h,
                    monetary_value: 0.0,
                },
                holdout_purchases: hold as f64,
                alive: death >= (last_cal + 1.0) * h,
            }
        }
    }
}

fn draw_age(rng: &mut StdRng, opts: &SimOptions) -> f64 {
    if opts.max_age > opts.min_age {
        rng.gen_range(opts.min_age..=opts.max_age)
    } else {
        opts.min_age
    }
}

/// End of the observed window (calibration plus holdout, widened to whole periods).
fn window_end(age: f64, opts: &SimOptions) -> f64 {
    match opts.period {
        None => age + opts.holdout,
        Some(h) => ((age / h).floor() + (opts.holdout / h).floor() + 1.0) * h,
    }
}

/// Draw a BG/NBD population: `λ ~ Gamma(r, α)`, `p ~ Beta(a, b)`; exponential inter-purchase
/// times; after each repeat purchase the customer drops out with probability `p`.
pub fn bgnbd(model: &BgNbd, opts: &SimOptions) -> Result<Vec<SimCustomer>, ModelError> {
    opts.validate()?;
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let lambda =
        Gamma::new(model.r, 1.0 / model.alpha).map_err(|_| ModelError::InvalidParameter {
            name: "r",
            value: model.r,
        })?;
    let p_drop = Beta::new(model.a, model.b).map_err(|_| ModelError::InvalidParameter {
        name: "a",
        value: model.a,
    })?;
    let mut times = Vec::new();
    Ok((0..opts.n_customers)
        .map(|_| {
            let age = draw_age(&mut rng, opts);
            let l: f64 = lambda.sample(&mut rng);
            let p: f64 = p_drop.sample(&mut rng);
            let end = window_end(age, opts);
            times.clear();
            let mut t = 0.0;
            let mut death = f64::INFINITY;
            if l > 0.0 {
                let exp = Exp::new(l).expect("positive rate");
                loop {
                    t += exp.sample(&mut rng);
                    if t > end {
                        break;
                    }
                    times.push(t);
                    if rng.gen::<f64>() < p {
                        death = t;
                        break;
                    }
                }
            }
            summarise(&times, age, death, opts)
        })
        .collect())
}

/// Draw a Pareto/NBD population: `λ ~ Gamma(r, α)`, lifetime `~ Exp(μ)` with
/// `μ ~ Gamma(s, β)`; Poisson purchases while alive.
pub fn paretonbd(model: &ParetoNbd, opts: &SimOptions) -> Result<Vec<SimCustomer>, ModelError> {
    opts.validate()?;
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let lambda =
        Gamma::new(model.r, 1.0 / model.alpha).map_err(|_| ModelError::InvalidParameter {
            name: "r",
            value: model.r,
        })?;
    let mu = Gamma::new(model.s, 1.0 / model.beta).map_err(|_| ModelError::InvalidParameter {
        name: "s",
        value: model.s,
    })?;
    let mut times = Vec::new();
    Ok((0..opts.n_customers)
        .map(|_| {
            let age = draw_age(&mut rng, opts);
            let l: f64 = lambda.sample(&mut rng);
            let m: f64 = mu.sample(&mut rng);
            let death = if m > 0.0 {
                Exp::new(m).expect("positive rate").sample(&mut rng)
            } else {
                f64::INFINITY
            };
            let end = window_end(age, opts).min(death);
            times.clear();
            if l > 0.0 {
                let exp = Exp::new(l).expect("positive rate");
                let mut t = 0.0;
                loop {
                    t += exp.sample(&mut rng);
                    if t > end {
                        break;
                    }
                    times.push(t);
                }
            }
            summarise(&times, age, death, opts)
        })
        .collect())
}

/// Draw Gamma-Gamma mean spends for customers with the given repeat counts (0 where the count
/// is 0): `ν ~ Gamma(q, γ)`, and the mean of `x` spends `~ Gamma(p, ν)`, which is
/// `Gamma(px, xν)` distributed.
pub fn gamma_gamma(
    model: &GammaGamma,
    frequencies: &[f64],
    seed: u64,
) -> Result<Vec<f64>, ModelError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let nu = Gamma::new(model.q, 1.0 / model.gamma).map_err(|_| ModelError::InvalidParameter {
        name: "q",
        value: model.q,
    })?;
    frequencies
        .iter()
        .map(|&x| {
            if !(x > 0.0 && x.is_finite()) {
                return Ok(0.0);
            }
            let v: f64 = nu.sample(&mut rng);
            let mean = Gamma::new(model.p * x, 1.0 / (x * v)).map_err(|_| {
                ModelError::InvalidParameter {
                    name: "p",
                    value: model.p,
                }
            })?;
            Ok(mean.sample(&mut rng))
        })
        .collect()
}
