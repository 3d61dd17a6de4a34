//! Saved value-score models (`score_models`, migration 0004) and the few population figures the
//! web dashboard reads that a value snapshot does not hold (customer classes for the
//! period-over-period comparison, the CLV histogram, referrers).

use chrono::{DateTime, SubsecRound, Utc};

use crate::{with_pool, Store, StoreError};

/// A saved weighted value-score model (TOML text of `patron_value::score`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredScoreModel {
    pub id: i64,
    pub toml: String,
    pub saved_at: DateTime<Utc>,
    pub saved_by: String,
    pub note: Option<String>,
}

type ModelRow = (i64, String, DateTime<Utc>, String, Option<String>);

fn model_from(r: ModelRow) -> StoredScoreModel {
    StoredScoreModel {
        id: r.0,
        toml: r.1,
        saved_at: r.2,
        saved_by: r.3,
        note: r.4,
    }
}

/// A customer's stored classes: (customer id, ABC class, RFM segment).
pub type ValueClasses = (i64, String, Option<String>);

impl Store {
    /// Saves `toml` as the model in force (the caller validates it); returns the saved row.
    pub async fn save_score_model(
        &self,
        toml: &str,
        by: &str,
        note: Option<&str>,
    ) -> Result<StoredScoreModel, StoreError> {
        let at = Utc::now().trunc_subsecs(6);
        let row: ModelRow = with_pool!(self, pool => sqlx::query_as(
            "INSERT INTO score_models (toml, saved_at, saved_by, note) VALUES ($1, $2, $3, $4) \
             RETURNING id, toml, saved_at, saved_by, note")
            .bind(toml).bind(at).bind(by).bind(note).fetch_one(pool).await?);
        Ok(model_from(row))
    }

    /// The model in force (the newest saved), if one was saved.
    pub async fn current_score_model(&self) -> Result<Option<StoredScoreModel>, StoreError> {
        let row: Option<ModelRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, toml, saved_at, saved_by, note FROM score_models ORDER BY id DESC LIMIT 1")
            .fetch_optional(pool).await?);
        Ok(row.map(model_from))
    }

    /// The newest saved models, newest first.
    pub async fn score_model_history(
        &self,
        limit: i64,
    ) -> Result<Vec<StoredScoreModel>, StoreError> {
        let rows: Vec<ModelRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, toml, saved_at, saved_by, note FROM score_models ORDER BY id DESC LIMIT $1")
            .bind(limit.clamp(1, 1000)).fetch_all(pool).await?);
        Ok(rows.into_iter().map(model_from).collect())
    }

    /// Every stored customer's ABC class and RFM segment, in customer id order.
    pub async fn value_classes(&self) -> Result<Vec<ValueClasses>, StoreError> {
        let rows: Vec<ValueClasses> = with_pool!(self, pool => sqlx::query_as(
            "SELECT customer_id, abc_class, rfm_segment FROM customer_values ORDER BY customer_id")
            .fetch_all(pool).await?);
        Ok(rows)
    }

    /// Customers per CLV bin: bin `k` holds `lo + k*step <= clv < lo + (k+1)*step`; values
    /// below `lo` fall in bin 0 and values beyond the last bin in the last one.
    pub async fn clv_histogram(
        &self,
        lo: f64,
        step: f64,
        bins: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let mut out = vec![0u64; bins.max(1)];
        if !(step > 0.0 && step.is_finite() && lo.is_finite()) {
            return Ok(out);
        }
        // Values below `lo` land in bin 0 either way, so SQLite's truncating cast is as good
        // as a floor; PostgreSQL's cast rounds, hence FLOOR there.
        let bin = match self.kind() {
            crate::BackendKind::Sqlite => "CAST((clv - $1) / $2 AS INTEGER)",
            crate::BackendKind::Postgres => "CAST(FLOOR((clv - $1) / $2) AS BIGINT)",
        };
        let sql = format!(
            "SELECT {bin} AS b, COUNT(*) FROM customer_values WHERE clv IS NOT NULL GROUP BY b"
        );
        let rows: Vec<(i64, i64)> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(lo).bind(step).fetch_all(pool).await?);
        let last = out.len() - 1;
        for (b, n) in rows {
            let k = (b.max(0) as usize).min(last);
            out[k] += n.max(0) as u64;
        }
        Ok(out)
    }

    /// Customers whose stored loyalty stage (of the latest value refresh) is `stage`.
    pub async fn stage_count(&self, stage: &str) -> Result<i64, StoreError> {
        let n: (i64,) = with_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*) FROM customer_values WHERE loyalty_stage = $1")
            .bind(stage).fetch_one(pool).await?);
        Ok(n.0)
    }

    /// Live customers who referred at least one other live customer (buyers or not).
    pub async fn referrer_count(&self) -> Result<i64, StoreError> {
        let n: (i64,) = with_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(DISTINCT referred_by) FROM customers \
             WHERE referred_by IS NOT NULL AND merged_into IS NULL")
            .fetch_one(pool).await?);
        Ok(n.0)
    }
}
