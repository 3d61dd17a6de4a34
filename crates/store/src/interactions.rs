//! Interactions: visits, calls, e-mails, meetings, quotes, promises, complaints, suggestions, requests.

use chrono::{DateTime, Utc};
use patron_domain::{Interaction, InteractionInput, InteractionKind};

use crate::commit;
use crate::customers::{bind_all, Bind, Where};
use crate::error::unique_to_conflict;
use crate::page::{decode_cursor, encode_cursor};
use crate::BeginWrite;
use crate::{live_customer, now, with_pool, Page, PageRequest, Store, StoreError};

type Row = (
    i64,
    i64,
    String,
    DateTime<Utc>,
    Option<String>,
    Option<i64>,
    String,
    Option<String>,
);

const COLUMNS: &str = "customer_id, id, kind, occurred_at, by_name, contact_id, body, external_id";

fn to_interaction(
    (customer_id, id, kind, occurred_at, by, contact_id, text, external_id): Row,
) -> Interaction {
    Interaction {
        customer_id,
        id,
        kind: kind.parse().unwrap_or(InteractionKind::Call),
        occurred_at,
        by,
        contact_id,
        text,
        external_id,
    }
}

impl Store {
    pub async fn create_interaction(
        &self,
        customer_id: i64,
        input: InteractionInput,
    ) -> Result<Interaction, StoreError> {
        let i = input.validate().map_err(StoreError::Invalid)?;
        self.require_live_customer(customer_id).await?;
        if let Some(c) = i.contact_id {
            self.contact(customer_id, c).await.map_err(|_| {
                StoreError::invalid(
                    "contact_id",
                    format!("contact {c} does not belong to customer {customer_id}"),
                )
            })?;
        }
        let sql = format!("INSERT INTO interactions (customer_id, kind, occurred_at, by_name, contact_id, body, external_id) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}");
        let row: Row = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // Checked again inside the insert's transaction (see `live_customer!`).
            live_customer!(self, tx, customer_id);
            let row = sqlx::query_as(&sql)
                .bind(customer_id).bind(i.kind.as_str()).bind(i.occurred_at.unwrap_or_else(now)).bind(&i.by).bind(i.contact_id).bind(&i.text).bind(&i.external_id)
                .fetch_one(&mut *tx).await
                .map_err(|e| unique_to_conflict(e, || format!("an interaction with external_id '{}' already exists for customer {customer_id}", patron_domain::excerpt(i.external_id.as_deref().unwrap_or_default()))))?;
            let row: Row = row;
            commit!(self, tx, Some(row.1));
            row
        });
        Ok(to_interaction(row))
    }

    pub async fn interaction(&self, customer_id: i64, id: i64) -> Result<Interaction, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM interactions WHERE customer_id = $1 AND id = $2");
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(&sql).bind(customer_id).bind(id).fetch_optional(pool).await?);
        row.map(to_interaction).ok_or_else(|| {
            StoreError::not_found("interaction", format!("{id} of customer {customer_id}"))
        })
    }

    pub async fn update_interaction(
        &self,
        customer_id: i64,
        id: i64,
        input: InteractionInput,
    ) -> Result<Interaction, StoreError> {
        let i = input.validate().map_err(StoreError::Invalid)?;
        let old = self.interaction(customer_id, id).await?;
        let sql = format!("UPDATE interactions SET kind = $1, occurred_at = $2, by_name = $3, contact_id = $4, body = $5, external_id = $6 WHERE customer_id = $7 AND id = $8 RETURNING {COLUMNS}");
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(i.kind.as_str()).bind(i.occurred_at.unwrap_or(old.occurred_at)).bind(&i.by).bind(i.contact_id).bind(&i.text).bind(&i.external_id).bind(customer_id).bind(id)
            .fetch_optional(pool).await
            .map_err(|e| unique_to_conflict(e, || "another interaction of this customer has that external_id".into()))?);
        row.map(to_interaction)
            .ok_or_else(|| StoreError::not_found("interaction", id))
    }

    pub async fn delete_interaction(&self, customer_id: i64, id: i64) -> Result<(), StoreError> {
        let n = with_pool!(self, pool => sqlx::query("DELETE FROM interactions WHERE customer_id = $1 AND id = $2").bind(customer_id).bind(id).execute(pool).await?.rows_affected());
        if n == 0 {
            return Err(StoreError::not_found(
                "interaction",
                format!("{id} of customer {customer_id}"),
            ));
        }
        Ok(())
    }

    /// A customer's interactions (or everyone's with `customer_id = None`), newest first, in
    /// keyset pages; optionally only one kind.
    pub async fn list_interactions(
        &self,
        customer_id: Option<i64>,
        kind: Option<InteractionKind>,
        page: &PageRequest,
    ) -> Result<Page<Interaction>, StoreError> {
        self.list_visible_interactions(customer_id, kind, &crate::Visibility::All, page)
            .await
    }

    /// Interactions with the customers a user sees, newest first, in keyset pages.
    pub async fn list_visible_interactions(
        &self,
        customer_id: Option<i64>,
        kind: Option<InteractionKind>,
        visible: &crate::Visibility,
        page: &PageRequest,
    ) -> Result<Page<Interaction>, StoreError> {
        let mut w = Where::default();
        visible.push_customer(&mut w, "customer_id");
        if let Some(c) = customer_id {
            self.customer(c).await?;
            w.push("customer_id = ?", [Bind::I64(c)]);
        }
        if let Some(k) = kind {
            w.push("kind = ?", [Bind::Text(k.as_str().into())]);
        }
        if let Some(after) = &page.after {
            let id: i64 = decode_cursor(after)?;
            w.push("id < ?", [Bind::I64(id)]);
        }
        let limit = page.limit();
        let sql = format!(
            "SELECT {COLUMNS} FROM interactions{} ORDER BY id DESC LIMIT {}",
            w.sql(),
            limit + 1
        );
        let mut rows: Vec<Row> = with_pool!(self, pool => bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?);
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let items: Vec<Interaction> = rows.into_iter().map(to_interaction).collect();
        let next = if more {
            items.last().map(|i| encode_cursor(&i.id))
        } else {
            None
        };
        Ok(Page { items, next })
    }
}
