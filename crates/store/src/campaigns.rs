//! Campaigns with their cost, the leads and customers they brought (customers whose `source` is
//! the campaign's name) and their return: the margin of those customers' orders since the
//! campaign started, divided by its cost.

use chrono::NaiveDate;
use patron_domain::Money;
use serde::{Deserialize, Serialize};

use crate::error::unique_to_conflict;
use crate::{now, with_pool, Store, StoreError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    pub name: String,
    #[serde(default)]
    pub channel: Option<String>,
    pub cost: Money,
    pub started_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignReport {
    pub id: i64,
    pub name: String,
    pub channel: Option<String>,
    pub cost: Money,
    pub started_on: NaiveDate,
    /// Customers attributed to it (source = its name).
    pub customers: i64,
    /// Of those, still leads (status lead, tracking or intent).
    pub leads: i64,
    /// Lead records attributed to it (`leads.campaign_id`), and how many of them were converted
    /// into customers.
    pub leads_captured: i64,
    pub leads_converted: i64,
    /// Of those customers, with at least one order since it started.
    pub buyers: i64,
    /// Revenue and margin (revenue - product cost) of their orders since it started.
    pub revenue: Money,
    pub margin: Money,
    /// margin / cost (`None` when it cost nothing).
    pub return_ratio: Option<f64>,
}

type Row = (
    i64,
    String,
    Option<String>,
    i64,
    NaiveDate,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

impl Store {
    pub async fn create_campaign(
        &self,
        input: CampaignInput,
    ) -> Result<CampaignReport, StoreError> {
        let name = input.name.trim().to_string();
        if name.is_empty() {
            return Err(StoreError::invalid("name", "is required"));
        }
        if input.cost.cents() < 0 {
            return Err(StoreError::invalid("cost", "must not be negative"));
        }
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO campaigns (name, channel, cost_cents, started_on, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&name).bind(&input.channel).bind(input.cost.cents()).bind(input.started_on).bind(now())
            .execute(pool).await
            .map_err(|e| unique_to_conflict(e, || format!("a campaign '{name}' exists already", name = patron_domain::excerpt(&name))))?.rows_affected());
        self.campaigns()
            .await?
            .into_iter()
            .find(|c| c.name == name)
            .ok_or_else(|| StoreError::not_found("campaign", &name))
    }

    /// Every campaign with its figures, newest start first.
    pub async fn campaigns(&self) -> Result<Vec<CampaignReport>, StoreError> {
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(
            "SELECT k.id, k.name, k.channel, k.cost_cents, k.started_on, \
                (SELECT COUNT(*) FROM customers c WHERE c.source = k.name AND c.merged_into IS NULL), \
                (SELECT COUNT(*) FROM customers c WHERE c.source = k.name AND c.merged_into IS NULL AND c.status IN ('lead', 'tracking', 'intent')), \
                (SELECT COUNT(*) FROM leads l WHERE l.campaign_id = k.id), \
                (SELECT COUNT(*) FROM leads l WHERE l.campaign_id = k.id AND l.status = 'converted'), \
                (SELECT COUNT(DISTINCT o.customer_id) FROM order_lines o JOIN customers c ON c.id = o.customer_id WHERE c.source = k.name AND o.ordered_on >= k.started_on), \
                (SELECT CAST(COALESCE(SUM(o.amount_cents), 0) AS BIGINT) FROM order_lines o JOIN customers c ON c.id = o.customer_id WHERE c.source = k.name AND o.ordered_on >= k.started_on), \
                (SELECT CAST(COALESCE(SUM(o.amount_cents - o.cost_cents), 0) AS BIGINT) FROM order_lines o JOIN customers c ON c.id = o.customer_id WHERE c.source = k.name AND o.ordered_on >= k.started_on) \
             FROM campaigns k ORDER BY k.started_on DESC, k.id DESC")
            .fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|r| CampaignReport {
                id: r.0,
                name: r.1,
                channel: r.2,
                cost: Money(r.3),
                started_on: r.4,
                customers: r.5,
                leads: r.6,
                leads_captured: r.7,
                leads_converted: r.8,
                buyers: r.9,
                revenue: Money(r.10),
                margin: Money(r.11),
                return_ratio: (r.3 > 0).then(|| r.11 as f64 / r.3 as f64),
            })
            .collect())
    }
}
