//! A campaign's chosen audience: the customers picked on the list when a campaign is started on
//! a selection. A campaign with members mails them; one without members mails the filter it is
//! sent with (see the application layer's campaign audience).

use crate::error::unique_to_conflict;
use crate::{
    commit, now, with_pool, Actor, BeginWrite, CampaignInput, CampaignReport, Store, StoreError,
};

impl Store {
    /// Records campaign `input` with the customers `ids` (none: a campaign without chosen
    /// members) as its members, in one transaction with one `campaign` audit row naming the
    /// campaign and counting its members. The caller has checked the customers against its
    /// scope.
    pub async fn start_campaign_on(
        &self,
        input: CampaignInput,
        ids: &[i64],
        actor: &Actor,
    ) -> Result<CampaignReport, StoreError> {
        let name = input.name.trim().to_string();
        if name.is_empty() {
            return Err(StoreError::invalid("name", "is required"));
        }
        if name.chars().count() > 200 {
            return Err(StoreError::invalid("name", "is longer than 200 characters"));
        }
        if input.cost.cents() < 0 {
            return Err(StoreError::invalid("cost", "must not be negative"));
        }
        let at = now();
        let detail = if ids.is_empty() {
            format!("campaign '{}' recorded", patron_domain::excerpt(&name))
        } else {
            format!(
                "campaign '{}' started on {} selected customers",
                patron_domain::excerpt(&name),
                ids.len()
            )
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let (campaign_id,): (i64,) = sqlx::query_as(
                "INSERT INTO campaigns (name, channel, cost_cents, started_on, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(&name).bind(&input.channel).bind(input.cost.cents()).bind(input.started_on).bind(at)
                .fetch_one(&mut *tx).await
                .map_err(|e| unique_to_conflict(e, || format!("a campaign '{}' exists already", patron_domain::excerpt(&name))))?;
            for id in ids {
                sqlx::query(
                    "INSERT INTO campaign_members (customer_id, campaign_id, added_at, added_by) VALUES ($1, $2, $3, $4)")
                    .bind(id).bind(campaign_id).bind(at).bind(&actor.name)
                    .execute(&mut *tx).await?;
            }
            sqlx::query(crate::audit::INSERT_AUDIT)
                .bind(at).bind(actor.id).bind(&actor.name).bind("campaign").bind(None::<i64>)
                .bind(&detail).bind((!ids.is_empty()).then_some(ids.len() as i64)).bind(&actor.ip)
                .execute(&mut *tx).await?;
            commit!(self, tx);
        });
        self.campaigns()
            .await?
            .into_iter()
            .find(|c| c.name == name)
            .ok_or_else(|| StoreError::not_found("campaign", &name))
    }

    /// The ids of campaign `campaign_id`'s members (customers picked for it), ascending; empty
    /// for a campaign started without a selection.
    pub async fn campaign_member_ids(&self, campaign_id: i64) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT customer_id FROM campaign_members WHERE campaign_id = $1 ORDER BY customer_id")
            .bind(campaign_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// How many members each campaign with members has: `(campaign id, members)`.
    pub async fn campaign_member_counts(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        Ok(with_pool!(self, pool => sqlx::query_as(
            "SELECT campaign_id, COUNT(*) FROM campaign_members GROUP BY campaign_id ORDER BY campaign_id")
            .fetch_all(pool).await?))
    }
}
