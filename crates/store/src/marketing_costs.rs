//! Relationship-marketing costs recorded per customer (`marketing_costs`): visits, gifts,
//! events, and campaign costs allocated evenly over the customers a campaign reached. The
//! value refresh and one customer's recompute charge a customer with records its records
//! instead of the flat marketing rate (see `patron_value::summary::RecordedCosts`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{commit, live_customer, now, with_pool, BackendKind, BeginWrite, Store, StoreError};
use patron_domain::Money;

/// The kinds of recorded marketing cost.
pub const MARKETING_COST_KINDS: [&str; 5] = ["visit", "gift", "event", "campaign", "other"];

/// The longest note of a recorded cost, in characters.
pub const MARKETING_NOTE_CHARS: usize = 500;

/// A recorded marketing cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarketingCostRecord {
    pub customer_id: i64,
    pub id: i64,
    /// The day the cost was spent.
    pub spent_on: NaiveDate,
    /// `visit`, `gift`, `event`, `campaign` or `other`.
    pub kind: String,
    pub amount: Money,
    pub note: Option<String>,
    /// The campaign whose cost this is a share of (an allocation).
    pub campaign_id: Option<i64>,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

/// A cost to record (`POST /api/customers/{id}/marketing-costs`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketingCostInput {
    pub spent_on: NaiveDate,
    pub kind: String,
    pub amount: Money,
    #[serde(default)]
    pub note: Option<String>,
}

impl MarketingCostInput {
    /// Checks every field (the first bad one is the error, naming it); the note trimmed.
    pub fn validate(mut self, today: NaiveDate) -> Result<Self, StoreError> {
        if !MARKETING_COST_KINDS.contains(&self.kind.as_str()) || self.kind == "campaign" {
            return Err(StoreError::invalid(
                "kind",
                "must be visit, gift, event or other (campaign costs are allocated from the campaign)",
            ));
        }
        if self.amount.0 <= 0 {
            return Err(StoreError::invalid("amount", "must be more than 0"));
        }
        if self.amount.0 > 1_000_000_000_000 {
            return Err(StoreError::invalid(
                "amount",
                "is at most 10,000,000,000.00",
            ));
        }
        patron_domain::order::check_order_date(self.spent_on, today)
            .map_err(|m| StoreError::invalid("spent_on", m))?;
        self.note = self
            .note
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        if let Some(n) = &self.note {
            if n.chars().count() > MARKETING_NOTE_CHARS {
                return Err(StoreError::invalid(
                    "note",
                    format!("is at most {MARKETING_NOTE_CHARS} characters"),
                ));
            }
            if n.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                return Err(StoreError::invalid("note", "holds a control character"));
            }
        }
        Ok(self)
    }
}

/// What allocating a campaign's cost did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignAllocation {
    pub campaign_id: i64,
    /// The campaign's cost, split over `customers` (shares differ by at most a cent).
    pub cost: Money,
    pub customers: u64,
    /// The smallest share (the first `cost % customers` customers by id get a cent more).
    pub share: Money,
    /// Rows of an earlier allocation of the campaign that this one replaced.
    pub replaced: u64,
    /// The customers charged (by id).
    #[serde(skip)]
    pub customer_ids: Vec<i64>,
}

const COLUMNS: &str =
    "customer_id, id, spent_on, kind, amount_cents, note, campaign_id, recorded_by, recorded_at";

type Row = (
    i64,
    i64,
    NaiveDate,
    String,
    i64,
    Option<String>,
    Option<i64>,
    String,
    DateTime<Utc>,
);

fn record(
    (customer_id, id, spent_on, kind, cents, note, campaign_id, by, at): Row,
) -> MarketingCostRecord {
    MarketingCostRecord {
        customer_id,
        id,
        spent_on,
        kind,
        amount: Money(cents),
        note,
        campaign_id,
        recorded_by: by,
        recorded_at: at,
    }
}

/// The customers a campaign reached: its members (customers it was started on), those it
/// mailed (a campaign message in the outbox that did not fail) and those it brought (whose
/// source is its name), live ones, by id.
const REACHED: &str = "SELECT c.id FROM customers c WHERE c.merged_into IS NULL AND ( \
     c.source = (SELECT name FROM campaigns WHERE id = $1) \
     OR c.id IN (SELECT m.customer_id FROM campaign_members m WHERE m.campaign_id = $1) \
     OR c.id IN (SELECT o.customer_id FROM outbox o WHERE o.kind = 'campaign' \
                 AND o.state <> 'failed' AND o.message_key LIKE $2)) \
     ORDER BY c.id";

impl Store {
    /// Records a marketing cost of a live customer (validated first: `today` bounds its date).
    pub async fn add_marketing_cost(
        &self,
        customer_id: i64,
        input: MarketingCostInput,
        by: &str,
        today: NaiveDate,
    ) -> Result<MarketingCostRecord, StoreError> {
        let i = input.validate(today)?;
        self.require_live_customer(customer_id).await?;
        let sql = format!(
            "INSERT INTO marketing_costs (customer_id, spent_on, kind, amount_cents, note, recorded_by, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
        );
        let row: Row = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            live_customer!(self, tx, customer_id);
            let row: Row = sqlx::query_as(&sql)
                .bind(customer_id).bind(i.spent_on).bind(&i.kind).bind(i.amount.0).bind(&i.note).bind(by).bind(now())
                .fetch_one(&mut *tx).await?;
            commit!(self, tx, Some(row.1));
            row
        });
        Ok(record(row))
    }

    /// A customer's recorded marketing costs, newest first.
    pub async fn marketing_costs_of(
        &self,
        customer_id: i64,
    ) -> Result<Vec<MarketingCostRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM marketing_costs WHERE customer_id = $1 ORDER BY spent_on DESC, id DESC"
        );
        let rows: Vec<Row> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(customer_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(record).collect())
    }

    /// Every recorded cost dated up to `up_to`, as the analysis reads them: (customer id, day
    /// number since 1970-01-01, amount in cents), by customer and day.
    pub async fn marketing_cost_days(
        &self,
        up_to: NaiveDate,
    ) -> Result<Vec<(i64, i32, i64)>, StoreError> {
        self.cost_days(None, up_to).await
    }

    /// One customer's recorded costs dated up to `up_to`: (day number, amount in cents).
    pub async fn customer_marketing_cost_days(
        &self,
        customer_id: i64,
        up_to: NaiveDate,
    ) -> Result<Vec<(i32, i64)>, StoreError> {
        Ok(self
            .cost_days(Some(customer_id), up_to)
            .await?
            .into_iter()
            .map(|(_, d, c)| (d, c))
            .collect())
    }

    async fn cost_days(
        &self,
        customer: Option<i64>,
        up_to: NaiveDate,
    ) -> Result<Vec<(i64, i32, i64)>, StoreError> {
        let day = match self.kind() {
            BackendKind::Sqlite => "CAST(julianday(spent_on) - 2440587.5 AS INTEGER)",
            BackendKind::Postgres => "(spent_on - DATE '1970-01-01')",
        };
        let only = if customer.is_some() {
            " AND customer_id = $2"
        } else {
            ""
        };
        let sql = format!(
            "SELECT customer_id, {day}, amount_cents FROM marketing_costs \
             WHERE spent_on <= $1{only} ORDER BY customer_id, spent_on, id"
        );
        let rows: Vec<(i64, i32, i64)> = with_pool!(self, pool => {
            let mut q = sqlx::query_as(&sql).bind(up_to);
            if let Some(c) = customer {
                q = q.bind(c);
            }
            q.fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// Allocates campaign `campaign_id`'s cost evenly over the customers it reached (see
    /// [`REACHED`]: mailed by it, or brought by it), dated on its start, in one transaction:
    /// the shares add up to the cost exactly (the first `cost % n` customers by id get a cent
    /// more), and an earlier allocation of the campaign is replaced. 404 for an unknown
    /// campaign, 409 when it reached nobody or cost nothing.
    pub async fn allocate_campaign_cost(
        &self,
        campaign_id: i64,
        by: &str,
    ) -> Result<CampaignAllocation, StoreError> {
        let pattern = format!("campaign:{campaign_id}:%");
        let out = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let campaign: Option<(i64, NaiveDate)> = sqlx::query_as(
                "SELECT cost_cents, started_on FROM campaigns WHERE id = $1")
                .bind(campaign_id).fetch_optional(&mut *tx).await?;
            let Some((cost, started_on)) = campaign else {
                return Err(StoreError::not_found("campaign", campaign_id));
            };
            let ids: Vec<i64> = sqlx::query_scalar(REACHED)
                .bind(campaign_id).bind(&pattern).fetch_all(&mut *tx).await?;
            if ids.is_empty() || cost <= 0 {
                return Err(StoreError::Conflict {
                    code: None,
                    message: if cost <= 0 {
                        format!("campaign {campaign_id} has no cost to allocate")
                    } else {
                        format!("campaign {campaign_id} reached no customer yet (none started on, mailed by it or brought by it)")
                    },
                    current_version: None,
                });
            }
            let replaced = sqlx::query("DELETE FROM marketing_costs WHERE campaign_id = $1")
                .bind(campaign_id).execute(&mut *tx).await?.rows_affected();
            let n = ids.len() as i64;
            let (share, extra) = (cost / n, cost % n);
            let at = now();
            for (k, id) in ids.iter().enumerate() {
                let cents = share + i64::from((k as i64) < extra);
                if cents == 0 {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO marketing_costs (customer_id, spent_on, kind, amount_cents, note, campaign_id, recorded_by, recorded_at) \
                     VALUES ($1, $2, 'campaign', $3, NULL, $4, $5, $6)")
                    .bind(id).bind(started_on).bind(cents).bind(campaign_id).bind(by).bind(at)
                    .execute(&mut *tx).await?;
            }
            commit!(self, tx, Some(campaign_id));
            CampaignAllocation {
                campaign_id,
                cost: Money(cost),
                customers: ids.len() as u64,
                share: Money(share),
                replaced,
                customer_ids: ids,
            }
        });
        Ok(out)
    }
}
