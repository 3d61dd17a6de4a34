//! Value figures broken down by a customer attribute (region, industry, owner) or by the
//! product category of the order lines, grouped in the database: the stored value figures
//! (`customer_values`) per group and the order lines' figures of two date ranges (the period
//! comparison). One SQL text per query for both backends.

use chrono::NaiveDate;

use crate::customers::{bind_all, Bind, Where};
use crate::{with_pool, Store, StoreError, Visibility};

/// What the groups are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakdownBy {
    /// The customer's region.
    Region,
    /// The customer's industry.
    Industry,
    /// The customer's owner (a user id; none for the public pool).
    Owner,
    /// The order line's product category (a customer may be in several groups).
    Category,
}

impl BreakdownBy {
    /// The SQL of the group key (text, NULL for customers or lines without one).
    fn key(self) -> &'static str {
        match self {
            BreakdownBy::Region => "NULLIF(TRIM(c.region), '')",
            BreakdownBy::Industry => "NULLIF(TRIM(c.industry), '')",
            BreakdownBy::Owner => "CAST(c.owner_id AS TEXT)",
            BreakdownBy::Category => "NULLIF(TRIM(o.category), '')",
        }
    }
}

/// The stored value figures of one group (money in cents; the per-customer figures are
/// absent for the category breakdown, where they do not apply).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupValues {
    /// The group (`None`: customers or lines without one).
    pub key: Option<String>,
    /// Live customers in the group (category: customers with a line of it).
    pub customers: i64,
    /// Revenue and CRM margin to date (category: revenue minus product cost of its lines).
    pub revenue_cents: i64,
    pub margin_cents: i64,
    /// Sum of the stored CLVs (`None` when no customer of the group has one).
    pub clv: Option<f64>,
    /// Customers with a churn warning, not archived (what the dashboard counts).
    pub churn_risk: i64,
    /// Customers with orders in ABC class A, B and C.
    pub abc: [i64; 3],
}

/// One group's order-line figures of the two ranges of a period comparison (money in cents).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupPeriods {
    /// The group (`None`: customers or lines without one).
    pub key: Option<String>,
    /// (revenue, margin, active customers, new customers) of this period and the previous one.
    pub this: [i64; 4],
    pub prev: [i64; 4],
}

/// The scope condition on the customers `c` of a breakdown (`None`: every customer).
fn scoped(w: &mut Where, visible: Option<&Visibility>) {
    w.push("c.merged_into IS NULL", []);
    if let Some(v) = visible {
        v.push(w, "c.owner_id");
    }
}

type ValueRow = (
    Option<String>,
    i64,
    i64,
    i64,
    Option<f64>,
    i64,
    i64,
    i64,
    i64,
);
type PeriodRow = (Option<String>, i64, i64, i64, i64, i64, i64, i64, i64);

impl Store {
    /// The last order date of every order line (the end of the dashboard's period comparison);
    /// `None` without orders.
    pub async fn last_order_date(&self) -> Result<Option<NaiveDate>, StoreError> {
        let d: Option<NaiveDate> = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT MAX(ordered_on) FROM order_lines").fetch_one(pool).await?);
        Ok(d)
    }

    /// The value figures per group of the customers `visible` allows (`None`: all). For
    /// [`BreakdownBy::Category`] the figures are the order lines' (revenue, revenue minus
    /// cost, distinct customers) and CLV, churn and ABC stay empty.
    pub async fn breakdown_values(
        &self,
        by: BreakdownBy,
        visible: Option<&Visibility>,
    ) -> Result<Vec<GroupValues>, StoreError> {
        let mut w = Where::default();
        scoped(&mut w, visible);
        let key = by.key();
        let sql = if by == BreakdownBy::Category {
            format!(
                "SELECT {key} AS k, COUNT(DISTINCT o.customer_id), \
                 CAST(COALESCE(SUM(o.amount_cents), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(o.amount_cents - o.cost_cents), 0) AS BIGINT), \
                 CAST(NULL AS DOUBLE PRECISION), CAST(0 AS BIGINT), CAST(0 AS BIGINT), \
                 CAST(0 AS BIGINT), CAST(0 AS BIGINT) \
                 FROM order_lines o JOIN customers c ON c.id = o.customer_id{} \
                 GROUP BY {key} ORDER BY 3 DESC, 1",
                w.sql()
            )
        } else {
            let class = |k: &str| {
                format!(
                    "CAST(COALESCE(SUM(CASE WHEN v.orders > 0 AND v.abc_class = '{k}' THEN 1 ELSE 0 END), 0) AS BIGINT)"
                )
            };
            format!(
                "SELECT {key} AS k, COUNT(*), \
                 CAST(COALESCE(SUM(v.revenue_cents), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(v.margin_cents), 0) AS BIGINT), \
                 SUM(v.clv), \
                 CAST(COALESCE(SUM(CASE WHEN v.churn_risk AND c.archived_at IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
                 {}, {}, {} \
                 FROM customers c LEFT JOIN customer_values v ON v.customer_id = c.id{} \
                 GROUP BY {key} ORDER BY 3 DESC, 1",
                class("A"),
                class("B"),
                class("C"),
                w.sql()
            )
        };
        let rows: Vec<ValueRow> = with_pool!(self, pool => {
            bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(key, customers, rev, margin, clv, churn, a, b, c)| GroupValues {
                    key,
                    customers,
                    revenue_cents: rev,
                    margin_cents: margin,
                    clv: clv.filter(|x| x.is_finite()),
                    churn_risk: churn,
                    abc: [a, b, c],
                },
            )
            .collect())
    }

    /// The order lines' figures per group over `this` and `prev` (first and last day each):
    /// revenue, margin (revenue minus product cost), active customers (with a line in the
    /// range) and new customers (whose first order line, of the category for
    /// [`BreakdownBy::Category`], falls in the range), as the dashboard's period comparison
    /// counts them; customers `visible` allows (`None`: all). Groups without a line in
    /// either range are left out.
    pub async fn breakdown_periods(
        &self,
        by: BreakdownBy,
        visible: Option<&Visibility>,
        this: (NaiveDate, NaiveDate),
        prev: (NaiveDate, NaiveDate),
    ) -> Result<Vec<GroupPeriods>, StoreError> {
        // $1..$4: the two ranges.
        let mut w = Where {
            clauses: Vec::new(),
            binds: vec![
                Bind::Date(this.0),
                Bind::Date(this.1),
                Bind::Date(prev.0),
                Bind::Date(prev.1),
            ],
        };
        scoped(&mut w, visible);
        w.push("o.ordered_on BETWEEN $3 AND $2", []);
        let key = by.key();
        // The first order line of each customer (per category for the category breakdown).
        let first = if by == BreakdownBy::Category {
            "SELECT customer_id, COALESCE(TRIM(category), '') AS cat, MIN(ordered_on) AS first_on \
             FROM order_lines GROUP BY customer_id, COALESCE(TRIM(category), '')"
        } else {
            "SELECT customer_id, MIN(ordered_on) AS first_on FROM order_lines GROUP BY customer_id"
        };
        let join_first = if by == BreakdownBy::Category {
            "f.customer_id = o.customer_id AND f.cat = COALESCE(TRIM(o.category), '')"
        } else {
            "f.customer_id = o.customer_id"
        };
        let figures = |from: &str, to: &str| {
            let inr = format!("o.ordered_on BETWEEN {from} AND {to}");
            format!(
                "CAST(COALESCE(SUM(CASE WHEN {inr} THEN o.amount_cents ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN {inr} THEN o.amount_cents - o.cost_cents ELSE 0 END), 0) AS BIGINT), \
                 COUNT(DISTINCT CASE WHEN {inr} THEN o.customer_id END), \
                 COUNT(DISTINCT CASE WHEN f.first_on BETWEEN {from} AND {to} THEN o.customer_id END)"
            )
        };
        let sql = format!(
            "SELECT {key} AS k, {}, {} \
             FROM order_lines o JOIN customers c ON c.id = o.customer_id \
             JOIN ({first}) f ON {join_first}{} \
             GROUP BY {key} ORDER BY 2 DESC, 1",
            figures("$1", "$2"),
            figures("$3", "$4"),
            w.sql()
        );
        let rows: Vec<PeriodRow> = with_pool!(self, pool => {
            bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(key, r0, m0, a0, n0, r1, m1, a1, n1)| GroupPeriods {
                key,
                this: [r0, m0, a0, n0],
                prev: [r1, m1, a1, n1],
            })
            .collect())
    }
}
