//! Service: tickets with an SLA clock and escalation, their history on the customer, and
//! satisfaction surveys. Every method that depends on time takes `now` from the caller (the
//! CLI passes the wall clock; tests move time freely).
//!
//! Satisfaction feeds the value score: recording a survey sets the customer's custom field
//! `satisfaction` to the answer on the 1-5 scale (CSAT as is, NPS 0-10 mapped to 1-5), which the
//! default score model's `satisfaction` attribute reads at the next value refresh; the change
//! goes to the customer's history like any other edit. [`Store::satisfaction`] answers the
//! latest CSAT, NPS and that figure.

use chrono::{DateTime, Utc};
use patron_domain::service::{
    satisfaction_figure, SlaPolicy, Survey, SurveyInput, SurveyKind, Ticket, TicketEvent,
    TicketInput, TicketKind,
};
use patron_domain::{CustomValue, Customer};
use serde::Serialize;

use crate::commit;
use crate::customers::{bind_all, Where};
use crate::customers::{CustomerRow, CUSTOMER_COLUMNS, INSERT_HISTORY};
use crate::{live_customer, with_pool, BeginWrite, Store, StoreError, Visibility};

type TicketRow = (
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    DateTime<Utc>,
    Option<String>,
    Option<i64>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    i32,
    Option<DateTime<Utc>>,
);
type EventRow = (DateTime<Utc>, String, Option<String>, Option<String>);

const TICKET_COLUMNS: &str =
    "customer_id, id, kind, priority, subject, body, status, opened_at, opened_by, \
     assignee_id, due_at, resolved_at, escalation_level, escalated_at";

const TICKET_EXISTS: &str = "SELECT id FROM tickets WHERE customer_id = $1 AND id = $2";
const TICKET_STATUS: &str = "SELECT status FROM tickets WHERE customer_id = $1 AND id = $2";

fn ticket_not_found(customer_id: i64, id: i64) -> StoreError {
    StoreError::not_found("ticket", format!("{id} of customer {customer_id}"))
}

fn to_ticket(r: TicketRow, now: DateTime<Utc>) -> Ticket {
    let breached = match r.11 {
        Some(done) => done > r.10,
        None => now > r.10,
    };
    Ticket {
        customer_id: r.0,
        id: r.1,
        kind: r.2.parse().unwrap_or(TicketKind::Question),
        priority: r
            .3
            .parse()
            .unwrap_or(patron_domain::service::Priority::Normal),
        subject: r.4,
        body: r.5,
        status: r.6,
        opened_at: r.7,
        opened_by: r.8,
        assignee_id: r.9,
        due_at: r.10,
        resolved_at: r.11,
        escalation_level: r.12,
        escalated_at: r.13,
        breached,
        events: Vec::new(),
    }
}

/// The latest survey answers of a customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Satisfaction {
    pub customer_id: i64,
    pub latest_csat: Option<i32>,
    pub latest_nps: Option<i32>,
    /// The latest answer on the 1-5 scale (what the custom field `satisfaction` holds).
    pub figure: Option<f64>,
    pub surveys: i64,
}

/// Appends an entry to a ticket's history inside transaction `$tx`, with the change it records.
macro_rules! ticket_event {
    ($tx:expr, $customer_id:expr, $ticket_id:expr, $at:expr, $kind:expr, $by:expr, $text:expr) => {
        sqlx::query("INSERT INTO ticket_events (customer_id, ticket_id, at, kind, by_name, body) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind($customer_id)
            .bind($ticket_id)
            .bind($at)
            .bind($kind)
            .bind($by)
            .bind($text)
            .execute(&mut *$tx)
            .await?
    };
}

/// Inside write transaction `$tx`: the status of ticket `$id` of a live customer (see
/// `live_customer!`); fails the enclosing function with 404 when there is no such ticket.
macro_rules! ticket_status {
    ($store:expr, $tx:expr, $customer_id:expr, $id:expr) => {{
        live_customer!($store, $tx, $customer_id);
        let status: Option<String> = sqlx::query_scalar(TICKET_STATUS)
            .bind($customer_id)
            .bind($id)
            .fetch_optional(&mut *$tx)
            .await?;
        match status {
            Some(s) => s,
            None => return Err(ticket_not_found($customer_id, $id)),
        }
    }};
}

/// Inside transaction `$tx`: ticket `$id` of customer `$customer_id` with its history, read
/// before the transaction commits, so that a merge committing right after cannot make an
/// applied change answer 404 (the ticket would already be under the kept customer).
macro_rules! load_ticket {
    ($tx:expr, $customer_id:expr, $id:expr, $now:expr) => {{
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE customer_id = $1 AND id = $2");
        let row: Option<TicketRow> = sqlx::query_as(&sql)
            .bind($customer_id)
            .bind($id)
            .fetch_optional(&mut *$tx)
            .await?;
        let mut t = to_ticket(row.ok_or_else(|| ticket_not_found($customer_id, $id))?, $now);
        let events: Vec<EventRow> = sqlx::query_as(
            "SELECT at, kind, by_name, body FROM ticket_events WHERE customer_id = $1 AND ticket_id = $2 ORDER BY id",
        )
        .bind($customer_id)
        .bind($id)
        .fetch_all(&mut *$tx)
        .await?;
        t.events = events
            .into_iter()
            .map(|(at, kind, by, text)| TicketEvent { at, kind, by, text })
            .collect();
        t
    }};
}

impl Store {
    /// The SLA hours per priority (settings `sla.hours.<priority>`, defaults 4/24/72/168).
    pub async fn sla_policy(&self) -> Result<SlaPolicy, StoreError> {
        let mut p = SlaPolicy::default();
        for (k, slot) in [
            ("urgent", &mut p.urgent),
            ("high", &mut p.high),
            ("normal", &mut p.normal),
            ("low", &mut p.low),
        ] {
            if let Some(h) = self
                .setting(&format!("sla.hours.{k}"))
                .await?
                .and_then(|v| v.parse::<i64>().ok())
                .filter(|h| *h > 0)
            {
                *slot = h;
            }
        }
        Ok(p)
    }

    /// Opens a ticket at `now`; it is due `sla.hours.<priority>` later.
    pub async fn open_ticket(
        &self,
        customer_id: i64,
        input: TicketInput,
        now: DateTime<Utc>,
    ) -> Result<Ticket, StoreError> {
        let t = input.validate().map_err(StoreError::Invalid)?;
        self.require_live_customer(customer_id).await?;
        if let Some(a) = t.assignee_id {
            match self.user(a).await {
                Err(StoreError::NotFound { .. }) => {
                    return Err(StoreError::invalid(
                        "assignee_id",
                        format!("user {a} does not exist"),
                    ))
                }
                // A leaver receives nothing new.
                Ok(u) if u.disabled => {
                    return Err(StoreError::invalid(
                        "assignee_id",
                        format!("user '{}' is disabled", u.username),
                    ))
                }
                other => {
                    other?;
                }
            }
        }
        let due = self.sla_policy().await?.due_at(t.priority, now);
        // The ticket and its first history entry are one transaction, on a live customer.
        let ticket = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            live_customer!(self, tx, customer_id);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO tickets (customer_id, kind, priority, subject, body, status, opened_at, opened_by, assignee_id, due_at, escalation_level) \
                 VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, 0) RETURNING id")
                .bind(customer_id).bind(t.kind.as_str()).bind(t.priority.as_str()).bind(&t.subject).bind(&t.body)
                .bind(now).bind(&t.by).bind(t.assignee_id).bind(due).fetch_one(&mut *tx).await?;
            ticket_event!(tx, customer_id, id, now, "opened", t.by.as_deref(), Some(&t.subject));
            let ticket = load_ticket!(tx, customer_id, id, now);
            commit!(self, tx, Some(id));
            ticket
        });
        Ok(ticket)
    }

    /// One ticket with its history; `breached` as of `now`.
    pub async fn ticket(
        &self,
        customer_id: i64,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Ticket, StoreError> {
        let sql =
            format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE customer_id = $1 AND id = $2");
        let row: Option<TicketRow> = with_pool!(self, pool => sqlx::query_as(&sql).bind(customer_id).bind(id).fetch_optional(pool).await?);
        let mut t = to_ticket(row.ok_or_else(|| ticket_not_found(customer_id, id))?, now);
        let events: Vec<EventRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT at, kind, by_name, body FROM ticket_events WHERE customer_id = $1 AND ticket_id = $2 ORDER BY id")
            .bind(customer_id).bind(id).fetch_all(pool).await?);
        t.events = events
            .into_iter()
            .map(|(at, kind, by, text)| TicketEvent { at, kind, by, text })
            .collect();
        Ok(t)
    }

    /// A customer's tickets with their history, newest first (the service history on the card).
    pub async fn customer_tickets(
        &self,
        customer_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Ticket>, StoreError> {
        self.customer(customer_id).await?;
        let ids: Vec<i64> = with_pool!(self, pool => sqlx::query_scalar("SELECT id FROM tickets WHERE customer_id = $1 ORDER BY id DESC")
            .bind(customer_id).fetch_all(pool).await?);
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.ticket(customer_id, id, now).await?);
        }
        Ok(out)
    }

    /// Open tickets, soonest due first (without history); `breached` as of `now`.
    pub async fn open_tickets(
        &self,
        now: DateTime<Utc>,
        visible: &Visibility,
    ) -> Result<Vec<Ticket>, StoreError> {
        let mut w = Where::default();
        w.push("status = 'open'", []);
        visible.push_customer(&mut w, "customer_id");
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets{} ORDER BY due_at, customer_id, id",
            w.sql()
        );
        let rows: Vec<TicketRow> = with_pool!(self, pool => bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|r| to_ticket(r, now)).collect())
    }

    /// Adds a comment to a ticket's history.
    pub async fn comment_ticket(
        &self,
        customer_id: i64,
        id: i64,
        by: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<Ticket, StoreError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(StoreError::invalid("text", "is required"));
        }
        let ticket = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            ticket_status!(self, tx, customer_id, id);
            ticket_event!(tx, customer_id, id, now, "comment", Some(by), Some(text));
            let ticket = load_ticket!(tx, customer_id, id, now);
            commit!(self, tx);
            ticket
        });
        Ok(ticket)
    }

    /// Resolves an open ticket at `now` (breached when after its due time).
    pub async fn resolve_ticket(
        &self,
        customer_id: i64,
        id: i64,
        by: &str,
        text: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Ticket, StoreError> {
        let ticket = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            match ticket_status!(self, tx, customer_id, id).as_str() {
                "open" => {}
                other => return Err(StoreError::Conflict {
                    code: None,
                    message: format!("ticket {id} is already {other}"),
                    current_version: None,
                }),
            }
            sqlx::query("UPDATE tickets SET status = 'resolved', resolved_at = $1 WHERE customer_id = $2 AND id = $3")
                .bind(now).bind(customer_id).bind(id).execute(&mut *tx).await?;
            ticket_event!(tx, customer_id, id, now, "resolved", Some(by), text);
            let ticket = load_ticket!(tx, customer_id, id, now);
            commit!(self, tx);
            ticket
        });
        Ok(ticket)
    }

    /// Reopens a resolved ticket at `now` with a fresh SLA clock.
    pub async fn reopen_ticket(
        &self,
        customer_id: i64,
        id: i64,
        by: &str,
        text: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Ticket, StoreError> {
        let t = self.ticket(customer_id, id, now).await?;
        let due = self.sla_policy().await?.due_at(t.priority, now);
        let ticket = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            live_customer!(self, tx, customer_id);
            let n = sqlx::query("UPDATE tickets SET status = 'open', resolved_at = NULL, due_at = $1, escalation_level = 0, escalated_at = NULL WHERE customer_id = $2 AND id = $3 AND status = 'resolved'")
                .bind(due).bind(customer_id).bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict {
                    code: None,
                    message: format!("ticket {id} is not resolved"),
                    current_version: None,
                });
            }
            ticket_event!(tx, customer_id, id, now, "reopened", Some(by), text);
            let ticket = load_ticket!(tx, customer_id, id, now);
            commit!(self, tx);
            ticket
        });
        Ok(ticket)
    }

    /// Escalates one open ticket by hand at `now`: one level up (at most 3), with an
    /// `escalated` entry in its history naming who and why. Refused (409) when the ticket is
    /// resolved or already at the highest level, or when it changed meanwhile.
    pub async fn escalate_ticket(
        &self,
        customer_id: i64,
        id: i64,
        by: &str,
        text: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Ticket, StoreError> {
        let t = self.ticket(customer_id, id, now).await?;
        if t.status != "open" {
            return Err(StoreError::Conflict {
                code: None,
                message: format!("ticket {id} is {}: reopen it first", t.status),
                current_version: None,
            });
        }
        if t.escalation_level >= 3 {
            return Err(StoreError::Conflict {
                code: None,
                message: format!("ticket {id} is already at the highest escalation level (3)"),
                current_version: None,
            });
        }
        let level = t.escalation_level + 1;
        let note = match text.map(str::trim).filter(|s| !s.is_empty()) {
            Some(x) => format!("escalated by hand to level {level}: {x}"),
            None => format!("escalated by hand to level {level}"),
        };
        let ticket = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            live_customer!(self, tx, customer_id);
            let n = sqlx::query("UPDATE tickets SET escalation_level = $1, escalated_at = $2 WHERE customer_id = $3 AND id = $4 AND status = 'open' AND escalation_level = $5")
                .bind(level).bind(now).bind(customer_id).bind(id).bind(t.escalation_level).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict { code: None, message: format!("ticket {id} changed meanwhile; reload it"), current_version: None });
            }
            ticket_event!(tx, customer_id, id, now, "escalated", Some(by), Some(&note));
            let ticket = load_ticket!(tx, customer_id, id, now);
            commit!(self, tx);
            ticket
        });
        Ok(ticket)
    }

    /// Escalates every open ticket past its due time to the level the SLA gives at `now`
    /// (1 once breached, +1 per further SLA period, at most 3); answers the tickets raised.
    /// Running it again at the same `now` changes nothing.
    pub async fn escalate_breached(
        &self,
        now: DateTime<Utc>,
        by: &str,
        visible: &Visibility,
    ) -> Result<Vec<Ticket>, StoreError> {
        let sla = self.sla_policy().await?;
        let mut raised = Vec::new();
        for t in self.open_tickets(now, visible).await? {
            let level = sla.escalation_level(t.priority, t.due_at, now);
            if level <= t.escalation_level {
                continue;
            }
            let late = now - t.due_at;
            let text = format!(
                "SLA breached: {} {} ticket due {} is {}h{:02} late; escalation level {level}",
                t.priority,
                t.kind,
                t.due_at.format("%Y-%m-%d %H:%M"),
                late.num_hours(),
                late.num_minutes() % 60
            );
            // The raise and its history entry are one transaction; a ticket resolved, raised or
            // moved by a merge meanwhile is left alone.
            let raised_now = with_pool!(self, pool => {
                let mut tx = pool.begin_write().await?;
                let n = sqlx::query("UPDATE tickets SET escalation_level = $1, escalated_at = $2 WHERE customer_id = $3 AND id = $4 AND status = 'open' AND escalation_level < $1")
                    .bind(level).bind(now).bind(t.customer_id).bind(t.id).execute(&mut *tx).await?.rows_affected();
                if n > 0 {
                    ticket_event!(tx, t.customer_id, t.id, now, "escalated", Some(by), Some(&text));
                    commit!(self, tx);
                }
                n > 0
            });
            if !raised_now {
                continue;
            }
            raised.push(self.ticket(t.customer_id, t.id, now).await?);
        }
        Ok(raised)
    }

    /// Records a survey answer at `now` and sets the customer's custom field `satisfaction`
    /// (1-5) for the value score.
    pub async fn record_survey(
        &self,
        customer_id: i64,
        input: SurveyInput,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Survey, StoreError> {
        self.record_survey_for(customer_id, input, by, now, None)
            .await
    }

    /// [`Store::record_survey`], answering survey mail `request` (see `survey_requests`) when
    /// given: the request is marked answered in the same transaction, and one answered already
    /// is a conflict (nothing is recorded).
    pub(crate) async fn record_survey_for(
        &self,
        customer_id: i64,
        input: SurveyInput,
        by: &str,
        now: DateTime<Utc>,
        request: Option<i64>,
    ) -> Result<Survey, StoreError> {
        let s = input.validate().map_err(StoreError::Invalid)?;
        // The answer and the customer's `satisfaction` field it sets are one transaction, with
        // the customer's row locked: a failure or a concurrent edit leaves neither half alone
        // (a retried request used to store the answer twice).
        let read = match self.kind() {
            crate::BackendKind::Sqlite => {
                format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1")
            }
            crate::BackendKind::Postgres => {
                format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1 FOR UPDATE")
            }
        };
        let id: i64 = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let row: Option<CustomerRow> = sqlx::query_as(&read).bind(customer_id).fetch_optional(&mut *tx).await?;
            let current = Customer::from(row.ok_or_else(|| StoreError::not_found("customer", customer_id))?);
            if let Some(to) = current.merged_into {
                return Err(StoreError::Conflict {
                    code: None,
                    message: format!("customer {customer_id} was merged into customer {to}; use that one"),
                    current_version: None,
                });
            }
            if let Some(t) = s.ticket_id {
                let found: Option<i64> = sqlx::query_scalar(TICKET_EXISTS)
                    .bind(customer_id).bind(t).fetch_optional(&mut *tx).await?;
                if found.is_none() {
                    return Err(StoreError::invalid(
                        "ticket_id",
                        format!("ticket {t} does not belong to customer {customer_id}"),
                    ));
                }
            }
            if let Some(r) = request {
                let claimed = sqlx::query(crate::survey_requests::CLAIM_REQUEST)
                    .bind(now).bind(r).bind(customer_id).execute(&mut *tx).await?.rows_affected();
                if claimed == 0 {
                    return Err(crate::survey_requests::answered_already(r));
                }
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO surveys (customer_id, kind, score, comment, ticket_id, answered_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
                .bind(customer_id).bind(s.kind.as_str()).bind(s.score).bind(&s.comment).bind(s.ticket_id).bind(now)
                .fetch_one(&mut *tx).await?;
            if let Some(r) = request {
                sqlx::query("UPDATE survey_requests SET survey_id = $1 WHERE id = $2")
                    .bind(id).bind(r).execute(&mut *tx).await?;
            }
            let mut fields = current.data.custom_fields.clone();
            fields.insert(
                "satisfaction".into(),
                CustomValue::Number(satisfaction_figure(s.kind, s.score)),
            );
            let mut new = current.data.clone();
            new.custom_fields = fields;
            let at = crate::now();
            let changes = current.data.diff(&new);
            if !changes.is_empty() {
                sqlx::query("UPDATE customers SET custom_fields = $1, version = version + 1, updated_at = $2 WHERE id = $3")
                    .bind(sqlx::types::Json(&new.custom_fields)).bind(at).bind(customer_id)
                    .execute(&mut *tx).await?;
                for (field, old, newv) in &changes {
                    sqlx::query(INSERT_HISTORY)
                        .bind(customer_id).bind(at).bind(by).bind(field).bind(old).bind(newv).execute(&mut *tx).await?;
                }
            }
            commit!(self, tx, Some(id));
            id
        });
        Ok(Survey {
            customer_id,
            id,
            kind: s.kind,
            score: s.score,
            comment: s.comment,
            ticket_id: s.ticket_id,
            answered_at: now,
        })
    }

    /// A customer's survey answers, newest first.
    pub async fn surveys(&self, customer_id: i64) -> Result<Vec<Survey>, StoreError> {
        type Row = (i64, String, i32, Option<String>, Option<i64>, DateTime<Utc>);
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, kind, score, comment, ticket_id, answered_at FROM surveys WHERE customer_id = $1 ORDER BY answered_at DESC, id DESC")
            .bind(customer_id).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(
                |(id, kind, score, comment, ticket_id, answered_at)| Survey {
                    customer_id,
                    id,
                    kind: kind.parse().unwrap_or(SurveyKind::Csat),
                    score,
                    comment,
                    ticket_id,
                    answered_at,
                },
            )
            .collect())
    }

    /// The latest CSAT and NPS answers and the 1-5 figure the value score uses.
    pub async fn satisfaction(&self, customer_id: i64) -> Result<Satisfaction, StoreError> {
        let all = self.surveys(customer_id).await?;
        let latest = |k: SurveyKind| all.iter().find(|s| s.kind == k).map(|s| s.score);
        Ok(Satisfaction {
            customer_id,
            latest_csat: latest(SurveyKind::Csat),
            latest_nps: latest(SurveyKind::Nps),
            figure: all.first().map(|s| satisfaction_figure(s.kind, s.score)),
            surveys: all.len() as i64,
        })
    }
}
