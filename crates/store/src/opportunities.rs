//! Opportunities: possible sales with a stage, amount, probability and expected close; the
//! pipeline per stage and the forecast per month of expected close (amount x probability).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use patron_domain::Money;
use serde::{Deserialize, Serialize};

use crate::commit;
use crate::customers::{bind_all, Where};
use crate::{live_customer, now, with_pool, BeginWrite, Store, StoreError, Visibility};

pub use patron_domain::pipeline::STAGES;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpportunityInput {
    pub name: String,
    #[serde(default)]
    pub stage: Option<String>,
    pub amount: Money,
    /// Percent, 0-100; the stage's default when absent.
    #[serde(default)]
    pub probability: Option<i32>,
    pub expected_close: NaiveDate,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageChange {
    pub stage: String,
    #[serde(default)]
    pub probability: Option<i32>,
    #[serde(default)]
    pub amount: Option<Money>,
    #[serde(default)]
    pub expected_close: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Opportunity {
    pub customer_id: i64,
    pub id: i64,
    pub name: String,
    pub stage: String,
    pub amount: Money,
    pub probability: i32,
    /// amount x probability.
    pub weighted: Money,
    pub expected_close: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// One stage of the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineStage {
    pub stage: String,
    pub count: i64,
    pub amount: Money,
    pub weighted: Money,
}

/// The forecast of one month of expected close (open opportunities, weighted, plus won).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForecastMonth {
    /// `YYYY-MM`.
    pub month: String,
    pub open: i64,
    pub weighted: Money,
    pub won: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pipeline {
    pub stages: Vec<PipelineStage>,
    pub forecast: Vec<ForecastMonth>,
}

type Row = (
    i64,
    i64,
    String,
    String,
    i64,
    i32,
    NaiveDate,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);
const COLUMNS: &str = "customer_id, id, name, stage, amount_cents, probability, expected_close, created_at, updated_at, closed_at";

fn to_opportunity(r: Row) -> Opportunity {
    Opportunity {
        customer_id: r.0,
        id: r.1,
        name: r.2,
        stage: r.3,
        amount: Money(r.4),
        probability: r.5,
        weighted: Money((r.4 as i128 * r.5 as i128 / 100) as i64),
        expected_close: r.6,
        created_at: r.7,
        updated_at: r.8,
        closed_at: r.9,
    }
}

fn check(stage: &str, probability: Option<i32>, amount: Option<Money>) -> Result<i32, StoreError> {
    patron_domain::pipeline::check_opportunity(stage, probability, amount)
        .map_err(|e| StoreError::Invalid(vec![e]))
}

impl Store {
    pub async fn create_opportunity(
        &self,
        customer_id: i64,
        input: OpportunityInput,
    ) -> Result<Opportunity, StoreError> {
        let name = input.name.trim().to_string();
        if name.is_empty() {
            return Err(StoreError::invalid("name", "is required"));
        }
        let stage = input.stage.unwrap_or_else(|| "prospecting".into());
        let p = check(&stage, input.probability, Some(input.amount))?;
        let at = now();
        let closed = matches!(stage.as_str(), "won" | "lost").then_some(at);
        // Read back inside the transaction: a merge committing right after would otherwise
        // make the stored opportunity answer 404 (it would be under the kept customer).
        let sql = format!(
            "INSERT INTO opportunities (customer_id, name, stage, amount_cents, probability, expected_close, created_at, updated_at, closed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) RETURNING {COLUMNS}"
        );
        let row: Row = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            live_customer!(self, tx, customer_id);
            let row: Row = sqlx::query_as(&sql)
                .bind(customer_id).bind(&name).bind(&stage).bind(input.amount.cents()).bind(p)
                .bind(input.expected_close).bind(at).bind(closed).fetch_one(&mut *tx).await?;
            commit!(self, tx, Some(row.1));
            row
        });
        Ok(to_opportunity(row))
    }

    pub async fn opportunity(&self, customer_id: i64, id: i64) -> Result<Opportunity, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM opportunities WHERE customer_id = $1 AND id = $2");
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(&sql).bind(customer_id).bind(id).fetch_optional(pool).await?);
        row.map(to_opportunity).ok_or_else(|| {
            StoreError::not_found("opportunity", format!("{id} of customer {customer_id}"))
        })
    }

    /// A customer's opportunities, newest first.
    pub async fn customer_opportunities(
        &self,
        customer_id: i64,
    ) -> Result<Vec<Opportunity>, StoreError> {
        self.customer(customer_id).await?;
        let sql =
            format!("SELECT {COLUMNS} FROM opportunities WHERE customer_id = $1 ORDER BY id DESC");
        let rows: Vec<Row> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(customer_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(to_opportunity).collect())
    }

    /// Moves an opportunity to another stage (probability: the given one or the stage's
    /// default); `won` / `lost` close it.
    pub async fn change_stage(
        &self,
        customer_id: i64,
        id: i64,
        change: StageChange,
    ) -> Result<Opportunity, StoreError> {
        let p = check(&change.stage, change.probability, change.amount)?;
        let old = self.opportunity(customer_id, id).await?;
        let at = now();
        let closed = matches!(change.stage.as_str(), "won" | "lost").then_some(at);
        with_pool!(self, pool => sqlx::query(
            "UPDATE opportunities SET stage = $1, probability = $2, amount_cents = $3, expected_close = $4, updated_at = $5, closed_at = $6 \
             WHERE customer_id = $7 AND id = $8")
            .bind(&change.stage).bind(p).bind(change.amount.unwrap_or(old.amount).cents())
            .bind(change.expected_close.unwrap_or(old.expected_close)).bind(at).bind(closed)
            .bind(customer_id).bind(id).execute(pool).await?.rows_affected());
        self.opportunity(customer_id, id).await
    }

    /// Every opportunity with its customer's owner (for pipelines over a user's scope).
    pub async fn all_opportunities(
        &self,
        visible: &Visibility,
    ) -> Result<Vec<(Option<i64>, Opportunity)>, StoreError> {
        let mut w = Where::default();
        w.push("c.merged_into IS NULL AND c.archived_at IS NULL", []);
        visible.push(&mut w, "c.owner_id");
        let sql = format!(
            "SELECT c.owner_id, {} FROM opportunities o JOIN customers c ON c.id = o.customer_id{} ORDER BY o.expected_close, o.id",
            COLUMNS.split(", ").map(|c| format!("o.{c}")).collect::<Vec<_>>().join(", "),
            w.sql()
        );
        type OwnerRow = (
            Option<i64>,
            i64,
            i64,
            String,
            String,
            i64,
            i32,
            NaiveDate,
            DateTime<Utc>,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
        );
        let rows: Vec<OwnerRow> = with_pool!(self, pool => bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.0,
                    to_opportunity((r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10)),
                )
            })
            .collect())
    }
}

/// The pipeline per stage and the forecast per month of expected close of `opportunities`.
pub fn pipeline(opportunities: &[Opportunity]) -> Pipeline {
    let stages = STAGES
        .iter()
        .map(|s| {
            let of: Vec<&Opportunity> = opportunities.iter().filter(|o| o.stage == *s).collect();
            PipelineStage {
                stage: s.to_string(),
                count: of.len() as i64,
                amount: Money(of.iter().map(|o| o.amount.cents()).sum()),
                weighted: Money(of.iter().map(|o| o.weighted.cents()).sum()),
            }
        })
        .collect();
    let mut months: BTreeMap<String, ForecastMonth> = BTreeMap::new();
    for o in opportunities.iter().filter(|o| o.stage != "lost") {
        let month = o.expected_close.format("%Y-%m").to_string();
        let m = months.entry(month.clone()).or_insert(ForecastMonth {
            month,
            open: 0,
            weighted: Money(0),
            won: Money(0),
        });
        if o.stage == "won" {
            m.won.0 += o.amount.cents();
        } else {
            m.open += 1;
            m.weighted.0 += o.weighted.cents();
        }
    }
    Pipeline {
        stages,
        forecast: months.into_values().collect(),
    }
}
