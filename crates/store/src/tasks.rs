//! Tasks and in-app notifications. A task belongs to its assignee (every list is one user's, or
//! the caller filters by customer within its scope); a rule's task carries a key, unique in the
//! table, so running the rules again adds nothing.

use chrono::{DateTime, Utc};
use patron_domain::task::{
    Notification, NotificationKind, NotificationParams, Task, TaskInput, TaskKind,
};

use crate::commit;
use crate::{now, with_pool, BeginWrite, Store, StoreError};

type TaskRow = (
    i64,
    Option<i64>,
    Option<String>,
    i64,
    String,
    DateTime<Utc>,
    String,
    String,
    DateTime<Utc>,
    String,
    Option<DateTime<Utc>>,
    String,
);

const TASK_COLUMNS: &str = "t.id, t.customer_id, c.name, t.assignee_id, t.kind, t.due_at, t.note, t.status, t.created_at, t.created_by, t.done_at, t.source";
const TASK_FROM: &str = "tasks t LEFT JOIN customers c ON c.id = t.customer_id";

fn to_task(
    (
        id,
        customer_id,
        customer_name,
        assignee_id,
        kind,
        due_at,
        note,
        status,
        created_at,
        created_by,
        done_at,
        source,
    ): TaskRow,
) -> Task {
    Task {
        id,
        customer_id,
        customer_name,
        assignee_id,
        kind: kind.parse().unwrap_or(TaskKind::Todo),
        due_at,
        note,
        status,
        created_at,
        created_by,
        done_at,
        source,
    }
}

/// A task a rule wants: added once per `rule_key`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleTask {
    pub rule_key: String,
    /// The rule's name (`reclaim`, `invoice_overdue`, ...), stored as the task's source.
    pub source: &'static str,
    pub customer_id: Option<i64>,
    pub assignee_id: i64,
    pub kind: TaskKind,
    pub due_at: DateTime<Utc>,
    pub note: String,
}

/// Which tasks to list.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub assignee_id: Option<i64>,
    pub customer_id: Option<i64>,
    /// Only open tasks (`Some(true)`), only done ones (`Some(false)`), or both.
    pub open: Option<bool>,
    /// Only tasks due before this time.
    pub due_before: Option<DateTime<Utc>>,
    pub limit: Option<u32>,
}

/// A change to one task.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskChange {
    Done,
    Reopen,
    Snooze(DateTime<Utc>),
    Reassign(i64),
}

impl Store {
    /// Adds a task (validated) for `assignee_id`, written by `by`; `source` says what made it.
    pub async fn create_task(
        &self,
        input: TaskInput,
        assignee_id: i64,
        by: &str,
        source: &str,
    ) -> Result<Task, StoreError> {
        let t = input.validate().map_err(StoreError::Invalid)?;
        let id: i64 = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            if let Some(c) = t.customer_id {
                crate::live_customer!(self, tx, c);
            }
            crate::pool::check_receiver!(&mut *tx, assignee_id, "assignee_id");
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO tasks (customer_id, assignee_id, kind, due_at, note, status, created_at, created_by, source) \
                 VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8) RETURNING id")
                .bind(t.customer_id).bind(assignee_id).bind(t.kind.as_str()).bind(t.due_at)
                .bind(&t.note).bind(now()).bind(by).bind(source)
                .fetch_one(&mut *tx).await?;
            commit!(self, tx, Some(id));
            id
        });
        self.task(id).await
    }

    /// Adds the tasks the rules want, each once per key, in one transaction; answers how many
    /// were new. A task for a disabled user (a leaver) is left out.
    pub async fn add_rule_tasks(&self, tasks: &[RuleTask]) -> Result<u64, StoreError> {
        if tasks.is_empty() {
            return Ok(0);
        }
        let at = now();
        let mut added = 0;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for t in tasks {
                added += sqlx::query(
                    "INSERT INTO tasks (customer_id, assignee_id, kind, due_at, note, status, created_at, created_by, source, rule_key) \
                     SELECT $1, $2, $3, $4, $5, 'open', $6, 'rules', $7, $8 \
                     WHERE EXISTS (SELECT 1 FROM users WHERE id = $2 AND NOT disabled) ON CONFLICT (rule_key) DO NOTHING")
                    .bind(t.customer_id).bind(t.assignee_id).bind(t.kind.as_str()).bind(t.due_at)
                    .bind(&t.note).bind(at).bind(t.source).bind(&t.rule_key)
                    .execute(&mut *tx).await?.rows_affected();
            }
            commit!(self, tx);
        });
        Ok(added)
    }

    pub async fn task(&self, id: i64) -> Result<Task, StoreError> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM {TASK_FROM} WHERE t.id = $1");
        let row: Option<TaskRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.map(to_task)
            .ok_or_else(|| StoreError::not_found("task", id))
    }

    /// Tasks by due time (earliest first), at most `limit` (default 200, at most 1000).
    pub async fn tasks(&self, f: &TaskFilter) -> Result<Vec<Task>, StoreError> {
        let mut conds: Vec<String> = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if f.assignee_id.is_some() {
            conds.push(format!("t.assignee_id = {}", next()));
        }
        if f.customer_id.is_some() {
            conds.push(format!("t.customer_id = {}", next()));
        }
        match f.open {
            Some(true) => conds.push("t.status = 'open'".into()),
            Some(false) => conds.push("t.status = 'done'".into()),
            None => {}
        }
        if f.due_before.is_some() {
            conds.push(format!("t.due_at < {}", next()));
        }
        let limit = f.limit.unwrap_or(200).clamp(1, 1000);
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM {TASK_FROM}{} ORDER BY t.status DESC, t.due_at, t.id LIMIT {limit}",
            if conds.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", conds.join(" AND "))
            }
        );
        let rows: Vec<TaskRow> = with_pool!(self, pool => {
            let mut q = sqlx::query_as(&sql);
            if let Some(a) = f.assignee_id { q = q.bind(a); }
            if let Some(c) = f.customer_id { q = q.bind(c); }
            if let Some(d) = f.due_before { q = q.bind(d); }
            q.fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(to_task).collect())
    }

    /// Marks a task done (or open again), moves its due time, or gives it to another user.
    pub async fn change_task(&self, id: i64, change: &TaskChange) -> Result<Task, StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let q = match change {
                TaskChange::Done => sqlx::query("UPDATE tasks SET status = 'done', done_at = $2 WHERE id = $1").bind(id).bind(now()),
                TaskChange::Reopen => sqlx::query("UPDATE tasks SET status = 'open', done_at = NULL WHERE id = $1").bind(id),
                TaskChange::Snooze(until) => sqlx::query("UPDATE tasks SET due_at = $2, status = 'open', done_at = NULL WHERE id = $1").bind(id).bind(*until),
                TaskChange::Reassign(to) => {
                    crate::pool::check_receiver!(&mut *tx, *to, "assignee_id");
                    sqlx::query("UPDATE tasks SET assignee_id = $2 WHERE id = $1").bind(id).bind(*to)
                }
            };
            if q.execute(&mut *tx).await?.rows_affected() == 0 {
                return Err(StoreError::not_found("task", id));
            }
            commit!(self, tx, Some(id));
        });
        self.task(id).await
    }

    /// Tells a user something (an inbox entry): the message is worded from its facts.
    pub async fn notify(
        &self,
        user_id: i64,
        kind: NotificationKind,
        customer_id: Option<i64>,
        params: &NotificationParams,
        link: Option<&str>,
    ) -> Result<(), StoreError> {
        let message = kind.message(params);
        let params = serde_json::to_string(params).unwrap_or_else(|_| "{}".into());
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO notifications (user_id, kind, customer_id, message, params, link, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(user_id).bind(kind.as_str()).bind(customer_id).bind(&message).bind(&params).bind(link).bind(now())
            .execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// A user's notifications, newest first (unread only with `unread`), at most `limit`.
    pub async fn notifications(
        &self,
        user_id: i64,
        unread: bool,
        limit: u32,
    ) -> Result<Vec<Notification>, StoreError> {
        type Row = (
            i64,
            String,
            Option<i64>,
            String,
            String,
            Option<String>,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
        );
        let sql = format!(
            "SELECT id, kind, customer_id, message, params, link, created_at, read_at FROM notifications \
             WHERE user_id = $1{} ORDER BY id DESC LIMIT {}",
            if unread { " AND read_at IS NULL" } else { "" },
            limit.clamp(1, 500)
        );
        let rows: Vec<Row> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .filter_map(
                |(id, kind, customer_id, message, params, link, created_at, read_at)| {
                    Some(Notification {
                        id,
                        kind: kind.parse().ok()?,
                        customer_id,
                        message,
                        params: serde_json::from_str(&params).unwrap_or_default(),
                        link,
                        created_at,
                        read_at,
                    })
                },
            )
            .collect())
    }

    /// How many of a user's notifications are unread.
    pub async fn unread_notifications(&self, user_id: i64) -> Result<i64, StoreError> {
        Ok(with_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL")
            .bind(user_id).fetch_one(pool).await?))
    }

    /// Marks a user's notifications read: one (`Some(id)`) or all; answers how many changed.
    pub async fn mark_notifications_read(
        &self,
        user_id: i64,
        id: Option<i64>,
    ) -> Result<u64, StoreError> {
        let at = now();
        Ok(with_pool!(self, pool => match id {
            Some(id) => sqlx::query("UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND id = $3 AND read_at IS NULL")
                .bind(at).bind(user_id).bind(id).execute(pool).await?.rows_affected(),
            None => sqlx::query("UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL")
                .bind(at).bind(user_id).execute(pool).await?.rows_affected(),
        }))
    }

    /// The live customers that customer `id` brought (whose `referred_by` is `id`), newest
    /// first, at most `limit`: id and name.
    pub async fn referred_customers(
        &self,
        id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let sql = format!(
            "SELECT id, name FROM customers WHERE referred_by = $1 AND merged_into IS NULL AND archived_at IS NULL ORDER BY id DESC LIMIT {}",
            limit.clamp(1, 500)
        );
        Ok(with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_all(pool).await?))
    }
}
