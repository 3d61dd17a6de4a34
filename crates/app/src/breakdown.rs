//! Value figures broken down by region, industry, product category or owner (SPEC R12): per
//! group the customers, revenue and margin to date, the CLV sum, the churn-risk count and the
//! ABC counts of the stored value figures, and the period comparison (this period against the
//! one before, ending at the last order date, as the dashboard's period table), grouped by the
//! database ([`Store::breakdown_values`], [`Store::breakdown_periods`]).
//!
//! Who sees what: admins and managers get the customers of their scope, with the owners' names;
//! analysts get the aggregates of every customer (as on the dashboard: no customer is named in
//! a breakdown), and the owner breakdown without the owners' names (their user ids only), so
//! that it does not become a per-person ranking for a role without staff duties. Reps have no
//! population figures.
//!
//! The category breakdown groups order lines, not customers (a customer buying in several
//! categories counts in each): its revenue and margin are the lines' (revenue minus product
//! cost: the relationship-marketing cost belongs to customers, not to categories), and the
//! per-customer figures (CLV, churn risk, ABC) do not apply ([`Breakdown::not_applicable`]).

use std::collections::HashMap;

use chrono::NaiveDate;
use patron_store::{BreakdownBy, Role, Store};
use serde::Serialize;

use crate::period::{Figures, Period};
use crate::permissions::Action;
use crate::{AppError, Session};

/// What the groups are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    /// The customer's region.
    Region,
    /// The customer's industry.
    Industry,
    /// The order line's product category.
    Category,
    /// The customer's owner (the public pool: no owner).
    Owner,
}

impl Dimension {
    /// Every dimension, in the order the pickers show them.
    pub const ALL: [Dimension; 4] = [
        Dimension::Region,
        Dimension::Industry,
        Dimension::Category,
        Dimension::Owner,
    ];

    /// `region`, `industry`, `category` or `owner`.
    pub fn parse(s: &str) -> Option<Dimension> {
        Some(match s {
            "region" => Dimension::Region,
            "industry" => Dimension::Industry,
            "category" => Dimension::Category,
            "owner" => Dimension::Owner,
            _ => return None,
        })
    }

    /// The name [`parse`](Self::parse) reads.
    pub fn code(self) -> &'static str {
        match self {
            Dimension::Region => "region",
            Dimension::Industry => "industry",
            Dimension::Category => "category",
            Dimension::Owner => "owner",
        }
    }

    fn store(self) -> BreakdownBy {
        match self {
            Dimension::Region => BreakdownBy::Region,
            Dimension::Industry => BreakdownBy::Industry,
            Dimension::Category => BreakdownBy::Category,
            Dimension::Owner => BreakdownBy::Owner,
        }
    }
}

/// The error of a bad dimension name (field `by`).
pub fn bad_dimension() -> AppError {
    AppError::Store(patron_store::StoreError::invalid(
        "by",
        "must be region, industry, category or owner",
    ))
}

/// Customers per ABC class (customers with orders).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AbcCounts {
    #[serde(rename = "A")]
    pub a: i64,
    #[serde(rename = "B")]
    pub b: i64,
    #[serde(rename = "C")]
    pub c: i64,
}

/// One group's figures (money in cents).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// The region, industry or category; the owner's user id as text for the owner
    /// breakdown. `None`: customers (lines) without one, or the public pool.
    pub key: Option<String>,
    /// The owner breakdown: the owner's user id (`None`: the public pool).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<i64>,
    /// The owner breakdown: the owner's display name (user name without one); `None` for
    /// analysts and the public pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_name: Option<String>,
    /// Live customers in the group (category: customers with an order line of it).
    pub customers: i64,
    /// Revenue and margin to date: the stored value figures (CRM margin, after product and
    /// relationship-marketing cost); category: its order lines (revenue minus product cost).
    pub revenue_cents: i64,
    pub margin_cents: i64,
    /// Sum of the stored CLVs (`None`: none in the group, or the category breakdown).
    pub clv: Option<f64>,
    /// Customers with a churn warning, as the dashboard counts them (not for categories).
    pub churn_risk: Option<i64>,
    /// Customers with orders per ABC class (not for categories).
    pub abc: Option<AbcCounts>,
    /// The period comparison: this period and the one before.
    pub this: Figures,
    pub prev: Figures,
}

/// A breakdown as the caller may see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breakdown {
    pub by: Dimension,
    /// The period length of the comparison.
    pub period: Period,
    /// First and last day of this period and the previous one (`None` without orders).
    pub this: Option<(NaiveDate, NaiveDate)>,
    pub prev: Option<(NaiveDate, NaiveDate)>,
    /// The group fields that do not apply to this dimension (always `null`).
    pub not_applicable: Vec<&'static str>,
    /// Whether the figures cover the caller's scope only (`false`: every customer).
    pub scoped: bool,
    /// Largest revenue to date first.
    pub groups: Vec<Group>,
}

/// The value figures by `by`, with the period comparison of `period`, over the customers the
/// caller may see (analysts: all, as aggregates). Needs [`Action::ViewValueReport`].
pub async fn breakdown(
    store: &Store,
    me: &Session,
    by: Dimension,
    period: Period,
) -> Result<Breakdown, AppError> {
    me.require(Action::ViewValueReport)?;
    let analyst = me.user.role == Role::Analyst;
    // Analysts see the population's aggregates (the dashboard's); others their scope.
    let visible = if analyst || me.visible.is_all() {
        None
    } else {
        Some(&me.visible)
    };
    let values = store.breakdown_values(by.store(), visible).await?;
    let ranges = store.last_order_date().await?.map(|end| period.ranges(end));
    let periods = match ranges {
        Some((this, prev)) => {
            store
                .breakdown_periods(by.store(), visible, this, prev)
                .await?
        }
        None => Vec::new(),
    };
    let names: HashMap<i64, String> = if by == Dimension::Owner && !analyst {
        store
            .users()
            .await?
            .into_iter()
            .map(|u| (u.id, u.display_name.clone().unwrap_or(u.username)))
            .collect()
    } else {
        HashMap::new()
    };
    let figures = |v: [i64; 4]| Figures {
        revenue: v[0],
        margin: v[1],
        active: v[2].max(0) as u64,
        new: v[3].max(0) as u64,
    };
    let mut by_key: HashMap<Option<String>, (Figures, Figures)> = periods
        .into_iter()
        .map(|p| (p.key, (figures(p.this), figures(p.prev))))
        .collect();
    let category = by == Dimension::Category;
    let mut groups: Vec<Group> = Vec::with_capacity(values.len());
    for v in values {
        let (this, prev) = by_key.remove(&v.key).unwrap_or_default();
        let owner_id = if by == Dimension::Owner {
            v.key.as_deref().and_then(|k| k.parse().ok())
        } else {
            None
        };
        groups.push(Group {
            owner_name: owner_id.and_then(|id| names.get(&id).cloned()),
            owner_id,
            key: v.key,
            customers: v.customers,
            revenue_cents: v.revenue_cents,
            margin_cents: v.margin_cents,
            clv: if category { None } else { v.clv },
            churn_risk: (!category).then_some(v.churn_risk),
            abc: (!category).then_some(AbcCounts {
                a: v.abc[0],
                b: v.abc[1],
                c: v.abc[2],
            }),
            this,
            prev,
        });
    }
    Ok(Breakdown {
        by,
        period,
        this: ranges.map(|r| r.0),
        prev: ranges.map(|r| r.1),
        not_applicable: if category {
            vec!["clv", "churn_risk", "abc"]
        } else {
            Vec::new()
        },
        scoped: visible.is_some(),
        groups,
    })
}

/// Money in cents as a decimal text with two places (`-12.05`), exact.
pub fn cents_text(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}
