//! One customer's figures between two population refreshes: the purchase and spend models
//! fitted by the last [`analyze`](crate::analyze) and the population's boundaries of the
//! relative figures ([`Breakpoints`]: RFM quintiles, ABC classes, the one-time buyers' typical
//! gap) are kept ([`LiveParams`], serializable), and [`customer_figures`] judges one customer's
//! order lines by them without refitting or ranking anyone else.
//!
//! It runs the same per-customer code as the analysis (summary, model values, churn walk,
//! lifecycle, stage), so a customer whose orders did not change gets back exactly the figures
//! the analysis gave it (the tests check every customer of a population). Only the figures
//! relative to the population are approximations for a changed customer: it is placed among
//! the others as they were at the refresh.

use crate::abc::{self, AbcClass, AbcCuts};
use crate::analysis::{model_values, phase_of, stage_of, summary_options};
use crate::churn::{self, ChurnWarning, TypicalGap};
use crate::history::Histories;
use crate::loyalty::{Phase, Stage};
use crate::models::clv::{ClvOptions, CustomerValue};
use crate::models::{AnyPurchaseModel, GammaGamma};
use crate::rfm::{self, RfmBreakpoints, RfmScore};
use crate::summary::{self, CustomerSummary};
use crate::{Analysis, AnalysisError, AnalysisOptions, Day, OrderLine};

/// The population's boundaries of the figures that place a customer among the others.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Breakpoints {
    /// RFM quintile boundaries.
    pub rfm: RfmBreakpoints,
    /// The ends of the A and B classes (keys: dense customer indices in an [`Analysis`];
    /// callers may map them to ids of the same order, see [`LiveParams::map_keys`]).
    pub abc: AbcCuts,
    /// The typical time to a second purchase (`None`: the one-time rule is off).
    pub one_time_gap: Option<TypicalGap>,
}

/// Everything [`customer_figures`] needs from a population analysis.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LiveParams {
    /// The analysis options, defaults resolved (horizon, margin ratio).
    pub options: AnalysisOptions,
    /// Horizon, discounting and margin ratio of the CLV.
    pub clv: ClvOptions,
    /// Discounted relationship-marketing cost over the horizon, subtracted from the CLV.
    pub horizon_marketing_cost: f64,
    /// The purchase model used (`None`: no model, no P(alive) or CLV).
    pub purchase: Option<AnyPurchaseModel>,
    /// The Gamma-Gamma spend model (`None`: no expected spend or CLV).
    pub spend: Option<GammaGamma>,
    /// The population boundaries (`None`: not known, e.g. a snapshot stored before they were
    /// kept; the relative figures are then left out).
    pub breakpoints: Option<Breakpoints>,
}

impl LiveParams {
    /// What an analysis leaves for judging its customers one at a time later.
    pub fn of(an: &Analysis) -> LiveParams {
        LiveParams {
            options: an.options.clone(),
            clv: an.clv_options,
            horizon_marketing_cost: an.horizon_marketing_cost,
            purchase: an.model.as_ref().map(|m| m.purchase.model),
            spend: an
                .model
                .as_ref()
                .and_then(|m| m.spend.as_ref().map(|g| g.model)),
            breakpoints: Some(an.breakpoints.clone()),
        }
    }

    /// Maps the ABC cuts' keys (dense indices) to the caller's keys of the same order (ids).
    pub fn map_keys(&mut self, key: impl Fn(i64) -> i64) {
        if let Some(b) = &mut self.breakpoints {
            for cut in [&mut b.abc.a, &mut b.abc.b].into_iter().flatten() {
                cut.key = key(cut.key);
            }
        }
    }
}

/// Every figure of one customer (see [`Analysis::customer`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CustomerFigures {
    /// Frequency, recency, T, monetary value, revenue, cost, margin.
    pub summary: CustomerSummary,
    /// P(alive), expected purchases, expected spend, CLV (NaN without a model or an order).
    pub value: CustomerValue,
    /// RFM scores (`None` without an order, or without boundaries).
    pub rfm: Option<RfmScore>,
    /// ABC class (`None` without boundaries).
    pub abc: Option<AbcClass>,
    /// The churn warning with its reasons and value at risk.
    pub warning: Option<ChurnWarning>,
    /// Loyalty stage from the purchases (first-time or repeat buyer).
    pub stage: Option<Stage>,
    /// Lifecycle phase.
    pub phase: Option<Phase>,
}

/// The figures of one customer from its order lines (any `customer` index; lines after `as_of`
/// are left out) as of day `as_of`, by the models and boundaries of `params`. `key` breaks ABC
/// ties like the keys of the stored cuts (the customer's id when they were mapped to ids).
pub fn customer_figures(
    params: &LiveParams,
    lines: &[OrderLine],
    as_of: Day,
    key: i64,
) -> Result<CustomerFigures, AnalysisError> {
    customer_figures_with_costs(params, lines, as_of, key, None)
}

/// [`customer_figures`] of a customer with relationship-marketing costs recorded (`records`:
/// `(day, amount)` each; `None`: the flat rate applies), charged as
/// [`analyze_with_costs`](crate::analyze_with_costs) charges them.
pub fn customer_figures_with_costs(
    params: &LiveParams,
    lines: &[OrderLine],
    as_of: Day,
    key: i64,
    records: Option<&[(Day, f64)]>,
) -> Result<CustomerFigures, AnalysisError> {
    let opts = &params.options;
    if opts.lifecycle_period_days == 0 || opts.lifecycle_periods == 0 {
        return Err(AnalysisError::BadPeriods);
    }
    let own: Vec<OrderLine> = lines
        .iter()
        .map(|l| OrderLine { customer: 0, ..*l })
        .collect();
    let histories = Histories::group(&own, 1)?;
    let mut sopts = summary_options(opts, as_of, None);
    if let Some(r) = records {
        sopts.recorded_costs = summary::RecordedCosts::new([(0, r.to_vec())].into());
    }
    let summaries = summary::summarize_histories(&histories, &sopts)?;
    let s = &summaries[0];
    let nan = CustomerValue {
        p_alive: f64::NAN,
        expected_purchases: f64::NAN,
        expected_spend: f64::NAN,
        clv: f64::NAN,
    };
    let value = match (&params.purchase, s.first_day) {
        (Some(m), Some(_)) => model_values(
            m,
            params.spend.as_ref(),
            &[s.rft],
            &params.clv,
            params.horizon_marketing_cost,
        )
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(nan),
        _ => nan,
    };
    let value = match records {
        Some(r) => CustomerValue {
            clv: crate::analysis::clv_with_recorded_costs(
                value.clv,
                params.horizon_marketing_cost,
                r,
                s.first_day,
                as_of,
                opts.unit,
                &params.clv,
            ),
            ..value
        },
        None => value,
    };
    let b = params.breakpoints.as_ref();
    let rfm = match (
        b,
        rfm::inputs_from_summaries(&summaries, as_of, opts.rfm.monetary).first(),
    ) {
        (Some(b), Some(x)) => Some(b.rfm.score(x, as_of, &opts.rfm)),
        _ => None,
    };
    let abc = b.map(|b| {
        let v = abc::values_from_summaries(&summaries, opts.abc.measure)[0];
        b.abc.class(v, key)
    });
    let gap = b.and_then(|b| b.one_time_gap);
    let p_alive = [value.p_alive];
    let warning = churn::churn_pending_with_gap(&histories, as_of, &opts.churn, gap)?
        .finish(params.purchase.is_some().then_some(&p_alive[..]))?
        .pop();
    let phase = phase_of(&histories, 0, &summaries, as_of, opts, &mut Vec::new());
    let stage = stage_of(s);
    Ok(CustomerFigures {
        summary: summaries.into_iter().next().expect("one customer"),
        value,
        rfm,
        abc,
        warning,
        stage,
        phase,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::ModelChoice;
    use crate::summary::TimeUnit;

    /// Simulated customers over two years (Poisson purchases, exponential lifetimes).
    fn population(n: u32) -> Vec<OrderLine> {
        let mut orders = Vec::new();
        let mut seed = 11u64;
        let mut rand = || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for c in 0..n {
            let start = rand() * 300.0;
            let gap = 15.0 + 200.0 * rand() * rand();
            let death = start - (1.0 - rand()).ln() * 400.0 * (0.2 + rand());
            let mean = 10.0 + 150.0 * rand() * rand();
            let mut t = start;
            while t <= 730.0 && t <= death {
                let revenue = (100.0 * mean * (0.3 + 1.4 * rand())).round() / 100.0;
                orders.push(OrderLine {
                    customer: c,
                    day: t as Day,
                    revenue,
                    cost: (revenue * 40.0).round() / 100.0,
                });
                t -= (1.0 - rand()).ln() * gap;
            }
        }
        orders
    }

    fn close(a: f64, b: f64) -> bool {
        (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * a.abs().max(1.0)
    }

    /// Every customer judged alone by the stored parameters (through JSON) gets back the
    /// figures the population analysis gave it.
    #[test]
    fn one_customer_alone_gets_its_population_figures() {
        let n = 500;
        let orders = population(n);
        for opts in [
            AnalysisOptions {
                calibration_end: Some(740),
                ..AnalysisOptions::default()
            },
            AnalysisOptions {
                calibration_end: Some(735),
                unit: TimeUnit::Week,
                model: ModelChoice::ParetoNbd,
                marketing_cost: 12.0,
                ..AnalysisOptions::default()
            },
        ] {
            let an = crate::analyze(&orders, n as usize, &opts).unwrap();
            let m = an
                .model
                .as_ref()
                .unwrap_or_else(|| panic!("{:?}", an.model_error));
            assert!(m.spend.is_some(), "{:?}", m.spend_error);
            assert!(an.churn.len() > 10);
            let json = serde_json::to_string(&LiveParams::of(&an)).unwrap();
            let params: LiveParams = serde_json::from_str(&json).unwrap();
            let mut by_customer = vec![Vec::new(); n as usize];
            for l in &orders {
                by_customer[l.customer as usize].push(*l);
            }
            let mut kinds = std::collections::BTreeSet::new();
            for (i, own) in by_customer.iter().enumerate() {
                let want = an.customer(i);
                let got = customer_figures(&params, own, an.calibration_end, i as i64).unwrap();
                let (w, g) = (&want.summary, &got.summary);
                assert_eq!(
                    (w.first_day, w.last_day, w.orders),
                    (g.first_day, g.last_day, g.orders)
                );
                assert_eq!(w.rft, g.rft, "{i}");
                assert_eq!((w.revenue, w.cost, w.margin), (g.revenue, g.cost, g.margin));
                for (a, b) in [
                    (want.value.p_alive, got.value.p_alive),
                    (want.value.expected_purchases, got.value.expected_purchases),
                    (want.value.expected_spend, got.value.expected_spend),
                    (want.value.clv, got.value.clv),
                ] {
                    assert!(close(a, b), "customer {i}: {a} vs {b}");
                }
                assert_eq!(
                    want.rfm.map(|r| (r.r, r.f, r.m, r.segment)),
                    got.rfm.map(|r| (r.r, r.f, r.m, r.segment)),
                    "customer {i}"
                );
                assert_eq!(want.abc, got.abc, "customer {i}");
                assert_eq!(
                    want.warning
                        .as_ref()
                        .map(|w| (w.value_at_risk, w.reasons.clone())),
                    got.warning
                        .as_ref()
                        .map(|w| (w.value_at_risk, w.reasons.clone())),
                    "customer {i}"
                );
                for r in want.warning.iter().flat_map(|w| &w.reasons) {
                    kinds.insert(
                        format!("{:?}", r.kind)
                            .split(' ')
                            .next()
                            .unwrap()
                            .to_string(),
                    );
                }
                assert_eq!((want.stage, want.phase), (got.stage, got.phase), "{i}");
            }
            assert!(kinds.len() >= 2, "{kinds:?}");
        }
    }

    /// Recorded marketing costs replace the flat rate for their customers only: the margin
    /// charges the records exactly, the CLV the recorded yearly rate over the horizon, and a
    /// customer judged alone with its records gets the analysis's figures back.
    #[test]
    fn recorded_costs_replace_the_flat_rate() {
        use crate::summary::RecordedCosts;
        let n = 300;
        let orders = population(n);
        let records = RecordedCosts::new(
            [
                (3, vec![(100, 500.0)]),
                (7, vec![(50, 0.1), (60, 0.2), (800, 99.0)]),
            ]
            .into(),
        );
        for flat in [0.0, 12.0] {
            let opts = AnalysisOptions {
                calibration_end: Some(740),
                marketing_cost: flat,
                ..AnalysisOptions::default()
            };
            let plain = crate::analyze(&orders, n as usize, &opts).unwrap();
            let an =
                crate::analyze_with_costs(&orders, n as usize, &opts, records.clone()).unwrap();
            let (p3, r3) = (&plain.summaries[3], &an.summaries[3]);
            assert_eq!(r3.marketing_cost, 500.0);
            assert_eq!(r3.margin, r3.revenue - r3.cost - 500.0);
            if flat == 0.0 {
                // Lower by exactly the gift than the flat-rate figure.
                assert_eq!(p3.margin - r3.margin, 500.0);
            } else {
                assert!(p3.marketing_cost > 0.0);
            }
            // 0.1 + 0.2 to the cent; the record after the calibration end is not charged.
            assert_eq!(an.summaries[7].marketing_cost, 0.3);
            for c in [0usize, 5, 100] {
                assert_eq!(plain.summaries[c].margin, an.summaries[c].margin, "{c}");
                assert_eq!(
                    plain.values[c].clv.to_bits(),
                    an.values[c].clv.to_bits(),
                    "{c}"
                );
            }
            let rate = RecordedCosts::yearly_rate(&[(100, 500.0)], r3.first_day, 740);
            let want = plain.values[3].clv + plain.horizon_marketing_cost
                - crate::analysis::horizon_marketing_cost(rate, TimeUnit::Day, &an.clv_options);
            assert!(
                close(an.values[3].clv, want),
                "{} vs {want}",
                an.values[3].clv
            );
            assert!(an.values[3].clv < plain.values[3].clv || flat > 0.0);
            let params = LiveParams::of(&an);
            for (c, recs) in [
                (3usize, vec![(100, 500.0)]),
                (7, vec![(50, 0.1), (60, 0.2), (800, 99.0)]),
            ] {
                let own: Vec<OrderLine> = orders
                    .iter()
                    .filter(|l| l.customer as usize == c)
                    .copied()
                    .collect();
                let got =
                    customer_figures_with_costs(&params, &own, 740, c as i64, Some(&recs)).unwrap();
                assert_eq!(got.summary.margin, an.summaries[c].margin, "{c}");
                assert!(close(got.value.clv, an.values[c].clv), "{c}");
            }
        }
    }

    /// A new purchase today moves the customer's own figures; a snapshot without boundaries
    /// leaves the relative figures out.
    #[test]
    fn a_new_purchase_moves_the_figures() {
        let n = 300;
        let orders = population(n);
        let an = crate::analyze(
            &orders,
            n as usize,
            &AnalysisOptions {
                calibration_end: Some(740),
                ..AnalysisOptions::default()
            },
        )
        .unwrap();
        let params = LiveParams::of(&an);
        let own: Vec<OrderLine> = orders.iter().filter(|l| l.customer == 7).copied().collect();
        let before = customer_figures(&params, &own, 740, 7).unwrap();
        let mut more = own.clone();
        more.push(OrderLine {
            customer: 7,
            day: 740,
            revenue: 500.0,
            cost: 100.0,
        });
        let after = customer_figures(&params, &more, 740, 7).unwrap();
        assert_eq!(
            after.summary.rft.frequency,
            before.summary.rft.frequency + 1.0
        );
        assert_eq!(after.summary.revenue, before.summary.revenue + 500.0);
        assert!(after.value.clv > before.value.clv, "{before:?} {after:?}");
        assert_eq!(after.rfm.unwrap().r, 5);
        assert!(after.warning.is_none());
        let old = LiveParams {
            breakpoints: None,
            ..params
        };
        let f = customer_figures(&old, &more, 740, 7).unwrap();
        assert_eq!((f.rfm, f.abc), (None, None));
        assert_eq!(f.value, after.value);
        // No order: nothing to say but the zero summary.
        let none = customer_figures(&old, &[], 740, 7).unwrap();
        assert!(none.summary.first_day.is_none() && none.value.clv.is_nan());
        assert!(none.stage.is_none() && none.warning.is_none());
    }
}
