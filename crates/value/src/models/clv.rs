//! Customer lifetime value: discounted expected margin over a finite horizon.
//!
//! The lifetimes approach (`customer_lifetime_value`): cut the horizon into steps (months), take
//! the expected purchases of each step from the purchase model's conditional expectation
//! (`E(m L) - E((m-1) L)` for step length `L`), value them at the Gamma-Gamma expected spend
//! times the margin ratio, and discount step `m` by `(1 + d)^m`:
//!
//! ```text
//! CLV = Σ_{m=1..M} [E(mL) - E((m-1)L)] · spend · margin / (1 + d)^m
//! ```

use std::collections::HashMap;

use super::gammagamma::GammaGamma;
use super::{ModelError, PurchaseModel};
use crate::summary::{Rft, TimeUnit};

/// Horizon, discounting and margin of a CLV computation.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClvOptions {
    /// Number of discounting steps in the horizon (e.g. 12 months).
    pub steps: u32,
    /// Length of one step in the model's time unit (e.g. 30 days or 4.345 weeks for a month).
    pub step_length: f64,
    /// Discount rate per step (e.g. 0.01 per month); 0 for no discounting.
    pub discount_rate: f64,
    /// Margin as a fraction of revenue (1.0 values revenue, not profit).
    pub margin_ratio: f64,
}

impl ClvOptions {
    /// A horizon of `months` monthly steps, with lifetimes' month lengths (30 days, 4.345 weeks).
    pub fn monthly(
        months: u32,
        unit: TimeUnit,
        monthly_discount_rate: f64,
        margin_ratio: f64,
    ) -> Self {
        ClvOptions {
            steps: months,
            step_length: match unit {
                TimeUnit::Day => 30.0,
                TimeUnit::Week => 4.345,
            },
            discount_rate: monthly_discount_rate,
            margin_ratio,
        }
    }

    /// Total horizon in model time units.
    pub fn horizon(&self) -> f64 {
        self.steps as f64 * self.step_length
    }

    /// Check the options are usable.
    pub fn validate(&self) -> Result<(), ModelError> {
        if !(self.step_length.is_finite() && self.step_length > 0.0) {
            return Err(ModelError::InvalidOptions(
                "step_length must be finite and positive",
            ));
        }
        if !(self.discount_rate.is_finite() && self.discount_rate > -1.0) {
            return Err(ModelError::InvalidOptions(
                "discount_rate must be finite and above -1",
            ));
        }
        if !self.margin_ratio.is_finite() {
            return Err(ModelError::InvalidOptions("margin_ratio must be finite"));
        }
        Ok(())
    }
}

impl Default for ClvOptions {
    /// 12 months of 30 days, 1% monthly discount, revenue (margin 1).
    fn default() -> Self {
        ClvOptions::monthly(12, TimeUnit::Day, 0.01, 1.0)
    }
}

/// `Σ_m [E(mL) - E((m-1)L)] / (1+d)^m`: the discounted expected number of purchases.
pub fn discounted_expected_purchases<M: PurchaseModel + ?Sized>(
    model: &M,
    customer: &Rft,
    options: &ClvOptions,
) -> f64 {
    discounted_and_total(model, customer, options).0
}

/// (discounted expected purchases, undiscounted expected purchases over the horizon).
fn discounted_and_total<M: PurchaseModel + ?Sized>(
    model: &M,
    customer: &Rft,
    options: &ClvOptions,
) -> (f64, f64) {
    let p = alive_weight(model.p_alive(customer));
    let (discounted, total) = discounted_and_total_if_alive(model, customer, options);
    (p * discounted, p * total)
}

/// P(alive) as the weight of the expectations: 0 when a model cannot say.
fn alive_weight(p: f64) -> f64 {
    if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// [`discounted_and_total`] of a customer known to be alive: the conditional figures are
/// P(alive) times these (the step increments scale with it, and P(alive) >= 0 keeps their
/// clamping at 0 the same), and these depend on the frequency and `T` only.
fn discounted_and_total_if_alive<M: PurchaseModel + ?Sized>(
    model: &M,
    customer: &Rft,
    options: &ClvOptions,
) -> (f64, f64) {
    // Horizons go to the model a chunk at a time (stack buffers, no allocation per customer).
    const CHUNK: usize = 16;
    let mut horizons = [0.0; CHUNK];
    let mut cumulative = [0.0; CHUNK];
    let mut total = 0.0;
    let mut previous = 0.0;
    let factor = 1.0 / (1.0 + options.discount_rate);
    let mut discount = 1.0;
    let mut m = 1;
    while m <= options.steps {
        let n = ((options.steps - m + 1) as usize).min(CHUNK);
        for (k, h) in horizons[..n].iter_mut().enumerate() {
            *h = (m + k as u32) as f64 * options.step_length;
        }
        model.expected_purchases_if_alive_at(customer, &horizons[..n], &mut cumulative[..n]);
        for &c in &cumulative[..n] {
            discount *= factor;
            total += (c - previous).max(0.0) * discount;
            previous = c;
        }
        m += n as u32;
    }
    (total, previous)
}

/// CLV of one customer (see the module docs). Errors only when the spend model has an
/// infinite mean spend.
pub fn customer_lifetime_value<M: PurchaseModel + ?Sized>(
    model: &M,
    spend: &GammaGamma,
    customer: &Rft,
    options: &ClvOptions,
) -> Result<f64, ModelError> {
    options.validate()?;
    let s = spend.expected_spend(customer.frequency, customer.monetary_value)?;
    Ok(discounted_expected_purchases(model, customer, options) * s * options.margin_ratio)
}

/// Everything the value models say about one customer.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CustomerValue {
    /// Probability of being alive at the end of calibration.
    pub p_alive: f64,
    /// Expected purchases over the CLV horizon (undiscounted).
    pub expected_purchases: f64,
    /// Expected spend per purchase (Gamma-Gamma; population mean for zero-spend customers).
    pub expected_spend: f64,
    /// Discounted expected margin over the horizon.
    pub clv: f64,
}

/// P(alive), expected purchases over the horizon, expected spend and CLV for every customer.
pub fn customer_values<M: PurchaseModel + ?Sized>(
    model: &M,
    spend: &GammaGamma,
    customers: &[Rft],
    options: &ClvOptions,
) -> Result<Vec<CustomerValue>, ModelError> {
    options.validate()?;
    super::validate(customers)?;
    let population_mean = spend.population_mean_spend();
    // The horizon sums (12 hypergeometric series per customer for BG/NBD) once per distinct
    // (frequency, T): a million customers have a few ten thousand of those (T takes one value
    // per first-purchase day). Measured on 1 M generated customers: 2.3 s -> 0.3 s.
    let key = |c: &Rft| {
        let (x, _, t) = super::sanitize(c);
        (x.to_bits(), t.to_bits())
    };
    let mut group_of: HashMap<(u64, u64), u32> = HashMap::new();
    let mut sums: Vec<(f64, f64)> = Vec::new();
    let groups: Vec<u32> = customers
        .iter()
        .map(|c| {
            *group_of.entry(key(c)).or_insert_with(|| {
                sums.push(discounted_and_total_if_alive(model, c, options));
                (sums.len() - 1) as u32
            })
        })
        .collect();
    drop(group_of);
    let purchases = customers.iter().zip(groups).map(|(c, g)| {
        let p_alive = model.p_alive(c);
        let (discounted, total) = sums[g as usize];
        let w = alive_weight(p_alive);
        (p_alive, w * discounted, w * total)
    });
    customers
        .iter()
        .zip(purchases)
        .map(|(c, (p_alive, discounted, expected_purchases))| {
            let expected_spend = if c.frequency > 0.0 && c.monetary_value > 0.0 {
                spend.expected_spend(c.frequency, c.monetary_value)?
            } else {
                population_mean.clone()?
            };
            Ok(CustomerValue {
                p_alive,
                expected_purchases,
                expected_spend,
                clv: discounted * expected_spend * options.margin_ratio,
            })
        })
        .collect()
}
