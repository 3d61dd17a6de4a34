//! What several `patron serve` processes on one database share (migration 0023), instead of
//! keeping it in one process's memory:
//! - leases by name ([`Store::try_lease`], [`Store::renew_lease`], [`Store::release_lease`]):
//!   one holder at a time until the lease expires (the holder renews it while it works, so a
//!   process that died frees it after its time to live);
//! - scheduled jobs' periods ([`Store::claim_run`]): one process takes a period (a day, a
//!   quarter of an hour) of a scheduled job, the others skip it;
//! - the sign-in rate limit ([`Store::begin_sign_in`], [`Store::forgive_sign_in`]): attempts per
//!   key in a sliding window, counted by every process;
//! - the web's import jobs ([`ImportJob`] and its files);
//! - customers changed while a population refresh ran ([`Store::note_change_during_lease`],
//!   [`Store::take_changes_noted`]).
//!
//! Times are the processes' own clocks (UTC): keep the servers' clocks in sync (NTP); a skew
//! of a few seconds is far below the leases' times to live.

use chrono::{DateTime, Duration, Utc};

use crate::{now, with_pool, BeginWrite, Store, StoreError};

/// A web import job as stored (see `patron_web::import`).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ImportJob {
    pub id: i64,
    /// The user who started it: only they see the job, its report and its rejected rows.
    pub owner_id: i64,
    pub file_name: String,
    /// `customers`, `orders` or `interactions`.
    pub entity: String,
    /// `mapping` (waiting for the user to map unknown columns), `running`, `done` or `failed`.
    pub state: String,
    /// While mapping: the columns the importer does not know (a JSON array of strings).
    pub unknown_columns: Option<String>,
    pub create_customers: bool,
    pub stop_on_error: bool,
    pub started_at: DateTime<Utc>,
    /// The last sign of life of the process running it (progress is written every second).
    pub heartbeat_at: DateTime<Utc>,
    pub seconds: f64,
    pub bytes: i64,
    pub total_bytes: i64,
    pub rows_read: i64,
    pub inserted: i64,
    pub already_present: i64,
    pub rejected: i64,
    pub customers_created: i64,
    /// Why it failed (bounded text).
    pub error: Option<String>,
}

impl ImportJob {
    /// The columns waiting for a mapping (empty unless `state` is `mapping`).
    pub fn unknown(&self) -> Vec<String> {
        self.unknown_columns
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }
}

/// A new web import job ([`Store::create_import_job`]).
#[derive(Debug, Clone, Default)]
pub struct NewImportJob {
    pub owner_id: i64,
    pub file_name: String,
    pub entity: String,
    /// Columns to map before it runs (none: it runs at once).
    pub unknown_columns: Vec<String>,
    pub create_customers: bool,
    pub stop_on_error: bool,
    pub total_bytes: i64,
    /// Who runs it (the process's [`holder_id`]) when it runs at once.
    pub holder: String,
}

/// The outcome of a finished import job ([`Store::finish_import_job`]).
#[derive(Debug, Clone, Default)]
pub struct ImportOutcome {
    pub seconds: f64,
    pub rows: i64,
    pub inserted: i64,
    pub already_present: i64,
    pub rejected: i64,
    pub customers_created: i64,
    /// `Some`: it failed with this message.
    pub error: Option<String>,
}

/// Import jobs kept per user (older finished ones are deleted as new ones start).
pub const KEEP_IMPORT_JOBS: i64 = 20;

/// A running import job without a sign of life for this long is shown as failed: the process
/// that ran it stopped (progress is written every second).
pub const IMPORT_HEARTBEAT_TIMEOUT: Duration = Duration::seconds(60);

/// This process's name in leases and jobs: host name, process id and a random part (so that
/// a restarted process with the same id is another holder).
pub fn holder_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_string())
            })
            .unwrap_or_else(|| "host".into());
        format!("{host}:{}:{}", std::process::id(), crate::random_secret(6))
    })
}

const JOB_COLUMNS: &str = "id, owner_id, file_name, entity, state, unknown_columns, \
    create_customers, stop_on_error, started_at, heartbeat_at, seconds, bytes, total_bytes, \
    rows_read, inserted, already_present, rejected, customers_created, error";

impl Store {
    // -- leases

    /// Takes lease `name` for `holder` until `ttl` from now, when nobody holds it (or its
    /// holder let it expire, or `holder` holds it already). Answers whether `holder` has it.
    pub async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let at = now();
        let until = at + Duration::from_std(ttl).unwrap_or(Duration::seconds(60));
        let got: Option<String> = with_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO locks (name, holder, acquired_at, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             acquired_at = excluded.acquired_at, expires_at = excluded.expires_at \
             WHERE locks.expires_at <= excluded.acquired_at OR locks.holder = excluded.holder \
             RETURNING holder")
            .bind(name).bind(holder).bind(at).bind(until)
            .fetch_optional(pool).await?);
        Ok(got.as_deref() == Some(holder))
    }

    /// Extends `holder`'s lease `name` to `ttl` from now; false when it no longer holds it.
    pub async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let until = now() + Duration::from_std(ttl).unwrap_or(Duration::seconds(60));
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE locks SET expires_at = $3 WHERE name = $1 AND holder = $2")
            .bind(name).bind(holder).bind(until)
            .execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Gives lease `name` back (nothing when `holder` does not hold it).
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        with_pool!(self, pool => { sqlx::query("DELETE FROM locks WHERE name = $1 AND holder = $2")
            .bind(name).bind(holder).execute(pool).await?; });
        Ok(())
    }

    /// Whether anyone holds lease `name` now.
    pub async fn lease_held(&self, name: &str) -> Result<bool, StoreError> {
        let n: i64 = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT count(*) FROM locks WHERE name = $1 AND expires_at > $2")
            .bind(name).bind(now()).fetch_one(pool).await?);
        Ok(n > 0)
    }

    // -- scheduled jobs

    /// Takes period `slot` of scheduled job `job` for `holder`: true for the first process to
    /// ask, false for every later one. Periods older than `keep_days` are forgotten.
    pub async fn claim_run(
        &self,
        job: &str,
        slot: &str,
        holder: &str,
        keep_days: i64,
    ) -> Result<bool, StoreError> {
        let at = now();
        let n = with_pool!(self, pool => {
            sqlx::query("DELETE FROM scheduled_runs WHERE job = $1 AND started_at < $2")
                .bind(job).bind(at - Duration::days(keep_days)).execute(pool).await?;
            sqlx::query("INSERT INTO scheduled_runs (job, slot, holder, started_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (job, slot) DO NOTHING")
                .bind(job).bind(slot).bind(holder).bind(at)
                .execute(pool).await?.rows_affected()
        });
        Ok(n == 1)
    }

    // -- sign-in rate limit

    /// Counts a sign-in attempt for every key (user name, client address) before the password
    /// is checked, atomically across processes: when any key already has `max` attempts within
    /// `window`, nothing is counted and the answer is `Err(seconds to wait)`; otherwise
    /// `Ok(ids)` of the attempts counted (for [`Store::forgive_sign_in`] after a success).
    /// Concurrent sign-ins with a key in common queue on the key's row (`sign_in_keys`), so a
    /// burst of them cannot all pass the count.
    pub async fn begin_sign_in(
        &self,
        keys: &[String],
        max: i64,
        window: std::time::Duration,
    ) -> Result<Result<Vec<i64>, u64>, StoreError> {
        let at = now();
        let window = Duration::from_std(window).unwrap_or(Duration::seconds(60));
        let since = at - window;
        let mut sorted: Vec<&String> = keys.iter().collect();
        sorted.sort();
        sorted.dedup();
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for k in &sorted {
                sqlx::query("INSERT INTO sign_in_keys (key, last_at) VALUES ($1, $2) \
                             ON CONFLICT (key) DO UPDATE SET last_at = excluded.last_at")
                    .bind(k.as_str()).bind(at).execute(&mut *tx).await?;
            }
            let mut wait: Option<u64> = None;
            for k in &sorted {
                let (count, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
                    "SELECT count(*), min(at) FROM sign_in_attempts WHERE key = $1 AND at > $2")
                    .bind(k.as_str()).bind(since).fetch_one(&mut *tx).await?;
                if count >= max {
                    let left = oldest.map_or(window, |o| window - (at - o));
                    let w = left.num_seconds().max(1) as u64;
                    wait = Some(wait.map_or(w, |x| x.max(w)));
                }
            }
            if let Some(w) = wait {
                tx.commit().await?;
                return Ok(Err(w));
            }
            let mut ids = Vec::with_capacity(sorted.len());
            for k in &sorted {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO sign_in_attempts (key, at) VALUES ($1, $2) RETURNING id")
                    .bind(k.as_str()).bind(at).fetch_one(&mut *tx).await?;
                ids.push(id);
            }
            // Attempts out of every window are of no use any more.
            sqlx::query("DELETE FROM sign_in_attempts WHERE at <= $1")
                .bind(since).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM sign_in_keys WHERE last_at <= $1")
                .bind(since).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(Ok(ids))
        })
    }

    /// Takes back the attempts [`Store::begin_sign_in`] counted, after a successful sign-in.
    pub async fn forgive_sign_in(&self, ids: &[i64]) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            for id in ids {
                sqlx::query("DELETE FROM sign_in_attempts WHERE id = $1")
                    .bind(id).execute(pool).await?;
            }
        });
        Ok(())
    }

    // -- import jobs

    /// Stores a new import job (`mapping` when it has unknown columns, else `running` by
    /// `holder`), with the upload's bytes when it waits for a mapping (any process may then
    /// start it), and forgets the owner's oldest finished jobs beyond [`KEEP_IMPORT_JOBS`].
    pub async fn create_import_job(
        &self,
        job: &NewImportJob,
        upload: Option<&[u8]>,
    ) -> Result<i64, StoreError> {
        if !["customers", "orders", "interactions"].contains(&job.entity.as_str()) {
            return Err(StoreError::invalid(
                "entity",
                "must be customers, orders or interactions",
            ));
        }
        let at = now();
        let mapping = !job.unknown_columns.is_empty();
        let unknown =
            mapping.then(|| serde_json::to_string(&job.unknown_columns).unwrap_or_default());
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO import_jobs (owner_id, file_name, entity, state, unknown_columns, \
                 create_customers, stop_on_error, started_at, heartbeat_at, total_bytes, holder) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10) RETURNING id")
                .bind(job.owner_id).bind(&job.file_name).bind(&job.entity)
                .bind(if mapping { "mapping" } else { "running" }).bind(unknown)
                .bind(job.create_customers).bind(job.stop_on_error).bind(at)
                .bind(job.total_bytes).bind((!mapping).then_some(job.holder.as_str()))
                .fetch_one(&mut *tx).await?;
            if let Some(bytes) = upload.filter(|_| mapping) {
                sqlx::query("INSERT INTO import_job_files (job_id, kind, content) VALUES ($1, 'upload', $2)")
                    .bind(id).bind(bytes).execute(&mut *tx).await?;
            }
            sqlx::query(
                "DELETE FROM import_jobs WHERE owner_id = $1 AND state IN ('done', 'failed') \
                 AND id NOT IN (SELECT id FROM import_jobs WHERE owner_id = $1 ORDER BY id DESC LIMIT $2)")
                .bind(job.owner_id).bind(KEEP_IMPORT_JOBS).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Import job `id` when `owner_id` started it (another user's job is not found). A running
    /// job whose process stopped (no progress for [`IMPORT_HEARTBEAT_TIMEOUT`]) is marked
    /// failed first.
    pub async fn import_job(
        &self,
        id: i64,
        owner_id: i64,
    ) -> Result<Option<ImportJob>, StoreError> {
        self.fail_abandoned_imports().await?;
        let sql = format!("SELECT {JOB_COLUMNS} FROM import_jobs WHERE id = $1 AND owner_id = $2");
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, ImportJob>(&sql)
            .bind(id).bind(owner_id).fetch_optional(pool).await?),
        )
    }

    /// The import jobs `owner_id` started, newest first (at most [`KEEP_IMPORT_JOBS`]).
    pub async fn import_jobs_of(&self, owner_id: i64) -> Result<Vec<ImportJob>, StoreError> {
        self.fail_abandoned_imports().await?;
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM import_jobs WHERE owner_id = $1 ORDER BY id DESC LIMIT $2"
        );
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, ImportJob>(&sql)
            .bind(owner_id).bind(KEEP_IMPORT_JOBS).fetch_all(pool).await?),
        )
    }

    async fn fail_abandoned_imports(&self) -> Result<(), StoreError> {
        let at = now();
        with_pool!(self, pool => { sqlx::query(
            "UPDATE import_jobs SET state = 'failed', error = $1 \
             WHERE state = 'running' AND heartbeat_at < $2")
            .bind(ABANDONED).bind(at - IMPORT_HEARTBEAT_TIMEOUT).execute(pool).await?; });
        Ok(())
    }

    /// Moves `owner_id`'s job `id` from `mapping` to `running` by `holder` and answers its
    /// upload's bytes: `None` when it is not waiting for a mapping any more (another request
    /// started it), so that one process runs it.
    pub async fn start_mapped_import(
        &self,
        id: i64,
        owner_id: i64,
        holder: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let at = now();
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "UPDATE import_jobs SET state = 'running', holder = $3, unknown_columns = NULL, \
                 heartbeat_at = $4 WHERE id = $1 AND owner_id = $2 AND state = 'mapping'")
                .bind(id).bind(owner_id).bind(holder).bind(at)
                .execute(&mut *tx).await?.rows_affected();
            if n != 1 {
                return Ok(None);
            }
            let bytes: Option<Vec<u8>> = sqlx::query_scalar(
                "DELETE FROM import_job_files WHERE job_id = $1 AND kind = 'upload' RETURNING content")
                .bind(id).fetch_optional(&mut *tx).await?;
            tx.commit().await?;
            Ok(Some(bytes.unwrap_or_default()))
        })
    }

    /// Writes a running job's progress (and so its sign of life).
    pub async fn import_job_progress(
        &self,
        id: i64,
        bytes: i64,
        total_bytes: i64,
        rows: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => { sqlx::query(
            "UPDATE import_jobs SET bytes = $2, total_bytes = $3, rows_read = $4, heartbeat_at = $5 \
             WHERE id = $1 AND state = 'running'")
            .bind(id).bind(bytes).bind(total_bytes).bind(rows).bind(now())
            .execute(pool).await?; });
        Ok(())
    }

    /// Records how job `id` ended, with its rejected rows (a CSV file's bytes) when it has any.
    pub async fn finish_import_job(
        &self,
        id: i64,
        outcome: &ImportOutcome,
        rejects: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let state = if outcome.error.is_some() {
            "failed"
        } else {
            "done"
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "UPDATE import_jobs SET state = $2, seconds = $3, rows_read = $4, inserted = $5, \
                 already_present = $6, rejected = $7, customers_created = $8, error = $9, \
                 heartbeat_at = $10, bytes = CASE WHEN $2 = 'done' THEN total_bytes ELSE bytes END \
                 WHERE id = $1")
                .bind(id).bind(state).bind(outcome.seconds).bind(outcome.rows)
                .bind(outcome.inserted).bind(outcome.already_present).bind(outcome.rejected)
                .bind(outcome.customers_created).bind(&outcome.error).bind(now())
                .execute(&mut *tx).await?;
            if let Some(bytes) = rejects {
                sqlx::query("INSERT INTO import_job_files (job_id, kind, content) VALUES ($1, 'rejects', $2) \
                             ON CONFLICT (job_id, kind) DO UPDATE SET content = excluded.content")
                    .bind(id).bind(bytes).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The rejected rows of `owner_id`'s job `id` (a CSV file's bytes), when it has any.
    pub async fn import_job_rejects(
        &self,
        id: i64,
        owner_id: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(with_pool!(self, pool => sqlx::query_scalar(
            "SELECT f.content FROM import_job_files f JOIN import_jobs j ON j.id = f.job_id \
             WHERE f.job_id = $1 AND j.owner_id = $2 AND f.kind = 'rejects'")
            .bind(id).bind(owner_id).fetch_optional(pool).await?))
    }

    // -- changes during a lease

    /// Notes `ids` as changed while lease `name` is held by anyone (nothing otherwise): the
    /// holder's work read them before the change ([`Store::take_changes_noted`]).
    pub async fn note_change_during_lease(
        &self,
        name: &str,
        ids: &[i64],
    ) -> Result<(), StoreError> {
        let at = now();
        with_pool!(self, pool => {
            for id in ids {
                sqlx::query(
                    "INSERT INTO value_refresh_changes (customer_id, noted_at) \
                     SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM locks WHERE name = $3 AND expires_at > $2)")
                    .bind(id).bind(at).bind(name).execute(pool).await?;
            }
        });
        Ok(())
    }

    /// The customers noted by [`Store::note_change_during_lease`], forgotten as they are
    /// answered (each once, ascending).
    pub async fn take_changes_noted(&self) -> Result<Vec<i64>, StoreError> {
        let mut ids: Vec<i64> = with_pool!(self, pool => sqlx::query_scalar(
            "DELETE FROM value_refresh_changes RETURNING customer_id")
            .fetch_all(pool).await?);
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }
}

/// The message of an import job whose process stopped (shown as failed).
pub const ABANDONED: &str = "abandoned: the server running this import stopped before it ended";
