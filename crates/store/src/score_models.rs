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

impl Store {
    /// Every live customer's id, ascending, and the score profiles ([`Store::score_profiles`])
    /// of those among them that may carry a score attribute (an industry, credit rating,
    /// registered capital or employee count, or custom fields naming `satisfaction`, or any
    /// key with an escape), by id: what the population refresh scores with. Every other live
    /// customer's profile gives no attribute (scoring reads nothing else of a profile), so it
    /// is left for the caller to take as empty rather than read and decoded: at 1 million
    /// customers without profile attributes (SQLite, release) reading every profile took about
    /// 3.6 s, mostly decoding a row per customer through sqlx.
    pub async fn live_score_profiles(
        &self,
    ) -> Result<(Vec<i64>, Vec<crate::ScoreProfile>), StoreError> {
        // The ids as one text rather than a row each: a row through sqlx costs a few
        // microseconds (the whole profiles took 3.6 s at a million customers), while the
        // sqlite3 shell makes the text in about 0.2 s.
        let list = match self.kind() {
            crate::BackendKind::Sqlite => {
                "SELECT group_concat(id) FROM \
                 (SELECT id FROM customers WHERE merged_into IS NULL ORDER BY id)"
            }
            crate::BackendKind::Postgres => {
                "SELECT string_agg(id::text, ',' ORDER BY id) FROM customers \
                 WHERE merged_into IS NULL"
            }
        };
        let text: Option<String> =
            with_pool!(self, pool => sqlx::query_scalar(list).fetch_one(pool).await?);
        let parsed: Result<Vec<i64>, _> = match text.as_deref() {
            None | Some("") => Ok(Vec::new()),
            Some(t) => t.split(',').map(str::parse).collect(),
        };
        let ids = match parsed {
            Ok(mut ids) => {
                // (SQLite does not promise to concatenate in the subquery's order.)
                if !ids.is_sorted() {
                    ids.sort_unstable();
                }
                ids
            }
            // Not a list of numbers: read them a row at a time.
            Err(_) => with_pool!(self, pool => sqlx::query_scalar(
                "SELECT id FROM customers WHERE merged_into IS NULL ORDER BY id")
                .fetch_all(pool).await?),
        };
        // `\` marks a key written with escapes (`satisf\u0061ction`): read those too. With
        // `ESCAPE '!'` the backslash is a plain character on both backends.
        let rows: Vec<crate::values::ScoreProfileRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, industry, registered_capital_cents, employees, credit_rating, loyalty, custom_fields \
             FROM customers WHERE merged_into IS NULL \
             AND (industry IS NOT NULL OR credit_rating IS NOT NULL \
                  OR registered_capital_cents IS NOT NULL OR employees IS NOT NULL \
                  OR CAST(custom_fields AS TEXT) LIKE '%satisfaction%' \
                  OR CAST(custom_fields AS TEXT) LIKE '%\\%' ESCAPE '!') \
             ORDER BY id")
            .fetch_all(pool).await?);
        let profiles = rows.into_iter().map(crate::values::profile_of).collect();
        Ok((ids, profiles))
    }
}
