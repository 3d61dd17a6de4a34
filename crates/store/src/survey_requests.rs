//! Mail that asks or reminds (see migration 0021_survey_requests):
//!
//! - survey mail: [`Store::create_survey_request`] records a survey question (CSAT or NPS, after
//!   a resolved ticket or on demand) and queues its message in one transaction (one request per
//!   ticket); [`Store::answer_survey_request`] records the first answer into `surveys` (which
//!   sets the customer's `satisfaction` for the value score) and refuses any later one;
//! - payment reminders: their outbox key ([`reminder_key`]: one message per item and step) and
//!   [`Store::reminder_still_owed`], which the mail worker asks before sending one.

use chrono::{DateTime, Utc};
use patron_domain::service::{Survey, SurveyInput, SurveyKind};
use serde::Serialize;

use crate::outbox::{check, INSERT_MAIL};
use crate::{commit, live_customer, with_pool, BeginWrite, NewMail, Store, StoreError};

/// Marks request `$2` of customer `$3` answered at `$1`, when it is not yet.
pub(crate) const CLAIM_REQUEST: &str = "UPDATE survey_requests SET answered_at = $1 WHERE id = $2 AND customer_id = $3 AND answered_at IS NULL";

/// The refusal of a second answer.
pub(crate) fn answered_already(id: i64) -> StoreError {
    StoreError::Conflict {
        code: None,
        message: format!("survey {id} was answered already; the first answer stands"),
        current_version: None,
    }
}

/// The outbox key of the payment reminder of `step` (days from the due date) for an invoice's
/// instalment (`None`: the invoice without a plan): `reminder:{invoice}:{instalment or 0}:{step}`.
pub fn reminder_key(invoice_id: i64, instalment: Option<i32>, step: i64) -> String {
    format!("reminder:{invoice_id}:{}:{step}", instalment.unwrap_or(0))
}

/// Reads [`reminder_key`] back: invoice, instalment and step.
pub fn parse_reminder_key(key: &str) -> Option<(i64, Option<i32>, i64)> {
    let mut p = key.strip_prefix("reminder:")?.split(':');
    let inv = p.next()?.parse().ok()?;
    let seq: i32 = p.next()?.parse().ok()?;
    let step = p.next()?.parse().ok()?;
    Some((inv, (seq != 0).then_some(seq), step))
}

/// A survey question sent by mail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SurveyRequest {
    /// What the links' tokens name.
    pub id: i64,
    /// Who was asked.
    pub customer_id: i64,
    /// The resolved ticket it follows, if any.
    pub ticket_id: Option<i64>,
    /// CSAT (1-5) or NPS (0-10).
    pub kind: SurveyKind,
    /// `en` or `zh`: the mail's and the answer page's language.
    pub lang: String,
    /// Who sent it (a user, or `system` after a resolved ticket).
    pub requested_by: String,
    /// When it was queued.
    pub requested_at: DateTime<Utc>,
    /// When the (one) answer came.
    pub answered_at: Option<DateTime<Utc>>,
    /// The answer in `surveys`.
    pub survey_id: Option<i64>,
}

/// A survey question to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSurveyRequest {
    /// Who is asked.
    pub customer_id: i64,
    /// The resolved ticket it follows (one request per ticket).
    pub ticket_id: Option<i64>,
    /// CSAT or NPS.
    pub kind: SurveyKind,
    /// `en` or `zh`.
    pub lang: String,
    /// Who sends it.
    pub by: String,
}

/// What [`Store::answer_survey_request`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum SurveyAnswer {
    /// The answer is recorded.
    Recorded(Survey),
    /// The request had been answered: nothing changed; the first answer (when still there).
    AlreadyAnswered(Option<Survey>),
}

type Row = (
    i64,
    i64,
    Option<i64>,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<i64>,
);

const COLUMNS: &str =
    "id, customer_id, ticket_id, kind, lang, requested_by, requested_at, answered_at, survey_id";

fn to_request(r: Row) -> SurveyRequest {
    SurveyRequest {
        id: r.0,
        customer_id: r.1,
        ticket_id: r.2,
        kind: r.3.parse().unwrap_or(SurveyKind::Csat),
        lang: r.4,
        requested_by: r.5,
        requested_at: r.6,
        answered_at: r.7,
        survey_id: r.8,
    }
}

impl Store {
    /// Records survey request `req` and queues its message, `mail(request id)`, in one
    /// transaction (with the handle's audit row). `None` when ticket `req.ticket_id` has a
    /// request already (nothing is queued). The customer must exist and not be merged; the
    /// ticket must be the customer's.
    pub async fn create_survey_request(
        &self,
        req: &NewSurveyRequest,
        mail: impl FnOnce(i64) -> NewMail,
    ) -> Result<Option<SurveyRequest>, StoreError> {
        if !["en", "zh"].contains(&req.lang.as_str()) {
            return Err(StoreError::invalid("lang", "must be en or zh"));
        }
        let at = crate::now();
        let sql = format!(
            "INSERT INTO survey_requests (customer_id, ticket_id, kind, lang, requested_by, requested_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (customer_id, ticket_id) WHERE ticket_id IS NOT NULL DO NOTHING RETURNING {COLUMNS}"
        );
        let row: Option<Row> = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            live_customer!(self, tx, req.customer_id);
            if let Some(t) = req.ticket_id {
                let found: Option<i64> = sqlx::query_scalar("SELECT id FROM tickets WHERE customer_id = $1 AND id = $2")
                    .bind(req.customer_id).bind(t).fetch_optional(&mut *tx).await?;
                if found.is_none() {
                    return Err(StoreError::invalid(
                        "ticket_id",
                        format!("ticket {t} does not belong to customer {}", req.customer_id),
                    ));
                }
            }
            let row: Option<Row> = sqlx::query_as(&sql)
                .bind(req.customer_id).bind(req.ticket_id).bind(req.kind.as_str()).bind(&req.lang)
                .bind(&req.by).bind(at)
                .fetch_optional(&mut *tx).await?;
            if let Some(r) = &row {
                let m = mail(r.0);
                check(&m)?;
                let headers = serde_json::to_string(&m.headers).unwrap_or_else(|_| "{}".into());
                sqlx::query(INSERT_MAIL)
                    .bind(&m.message_key).bind(m.customer_id).bind(m.recipient.trim()).bind(&m.kind)
                    .bind(&m.subject).bind(&m.body_text).bind(&m.body_html).bind(headers)
                    .bind(at).bind(&req.by)
                    .execute(&mut *tx).await?;
                commit!(self, tx, Some(r.0));
            }
            row
        });
        Ok(row.map(to_request))
    }

    /// Survey request `id`, if any.
    pub async fn survey_request(&self, id: i64) -> Result<Option<SurveyRequest>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM survey_requests WHERE id = $1");
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(id).fetch_optional(pool).await?);
        Ok(row.map(to_request))
    }

    /// A customer's survey requests, newest first.
    pub async fn survey_requests(
        &self,
        customer_id: i64,
    ) -> Result<Vec<SurveyRequest>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM survey_requests WHERE customer_id = $1 ORDER BY id DESC"
        );
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(customer_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(to_request).collect())
    }

    /// Records `score` as the answer to request `id` (by `by`, at `now`), like
    /// [`Store::record_survey`] with the request's kind and ticket, once: a request answered
    /// already changes nothing. `NotFound` for an unknown request; the score is checked
    /// against the kind (CSAT 1-5, NPS 0-10).
    pub async fn answer_survey_request(
        &self,
        id: i64,
        score: i32,
        comment: Option<String>,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<SurveyAnswer, StoreError> {
        let req = self
            .survey_request(id)
            .await?
            .ok_or_else(|| StoreError::not_found("survey", id))?;
        let first = |req: &SurveyRequest| {
            let survey_id = req.survey_id;
            let customer_id = req.customer_id;
            async move {
                Ok::<_, StoreError>(match survey_id {
                    Some(s) => self
                        .surveys(customer_id)
                        .await?
                        .into_iter()
                        .find(|x| x.id == s),
                    None => None,
                })
            }
        };
        if req.answered_at.is_some() {
            return Ok(SurveyAnswer::AlreadyAnswered(first(&req).await?));
        }
        let input = SurveyInput {
            kind: req.kind,
            score,
            comment,
            ticket_id: req.ticket_id,
        };
        match self
            .record_survey_for(req.customer_id, input, by, now, Some(id))
            .await
        {
            Ok(s) => Ok(SurveyAnswer::Recorded(s)),
            Err(StoreError::Conflict { .. })
                if self
                    .survey_request(id)
                    .await?
                    .is_some_and(|r| r.answered_at.is_some()) =>
            {
                let req = self.survey_request(id).await?.unwrap_or(req);
                Ok(SurveyAnswer::AlreadyAnswered(first(&req).await?))
            }
            Err(e) => Err(e),
        }
    }

    /// Whether the item of payment reminder `key` (see [`reminder_key`]) of customer
    /// `customer_id` is still unpaid (a key of another form: true).
    pub async fn reminder_still_owed(
        &self,
        customer_id: i64,
        key: &str,
    ) -> Result<bool, StoreError> {
        let Some((inv, seq, _)) = parse_reminder_key(key) else {
            return Ok(true);
        };
        Ok(self
            .open_items(Some(customer_id), &crate::Visibility::All)
            .await?
            .iter()
            .any(|i| i.invoice_id == inv && i.instalment == seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminder_keys_read_back() {
        let k = reminder_key(7, Some(2), -3);
        assert_eq!(k, "reminder:7:2:-3");
        assert_eq!(parse_reminder_key(&k), Some((7, Some(2), -3)));
        assert_eq!(
            parse_reminder_key(&reminder_key(7, None, 30)),
            Some((7, None, 30))
        );
        assert_eq!(parse_reminder_key("campaign:1:2"), None);
    }
}
