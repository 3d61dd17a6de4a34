//! Service: tickets (complaint, repair, question) with a priority and an SLA clock, escalation
//! when the clock runs out, and satisfaction surveys (CSAT 1-5, NPS 0-10).
//!
//! Time is never read here: callers pass `now` (the CLI the wall clock, tests whatever moment
//! they need), so the SLA rules can be tested by moving time.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::text_enum;
use crate::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketKind {
    Complaint,
    Repair,
    Question,
}

text_enum!(TicketKind {
    Complaint = "complaint" | "投诉",
    Repair = "repair" | "维修",
    Question = "question" | "咨询",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Urgent,
    High,
    Normal,
    Low,
}

text_enum!(Priority {
    Urgent = "urgent" | "紧急",
    High = "high" | "高",
    Normal = "normal" | "普通",
    Low = "low" | "低",
});

/// Hours to resolve a ticket, by priority (configurable: settings `sla.hours.<priority>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaPolicy {
    pub urgent: i64,
    pub high: i64,
    pub normal: i64,
    pub low: i64,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaPolicy {
            urgent: 4,
            high: 24,
            normal: 72,
            low: 168,
        }
    }
}

impl SlaPolicy {
    pub fn hours(&self, p: Priority) -> i64 {
        match p {
            Priority::Urgent => self.urgent,
            Priority::High => self.high,
            Priority::Normal => self.normal,
            Priority::Low => self.low,
        }
    }

    /// When a ticket of priority `p` opened at `opened_at` must be resolved.
    pub fn due_at(&self, p: Priority, opened_at: DateTime<Utc>) -> DateTime<Utc> {
        opened_at + Duration::hours(self.hours(p))
    }

    /// The escalation level a ticket should have at `now`: 0 until the due time, then 1, and
    /// one more for each further SLA period that passes unresolved, at most 3.
    pub fn escalation_level(&self, p: Priority, due_at: DateTime<Utc>, now: DateTime<Utc>) -> i32 {
        if now <= due_at {
            return 0;
        }
        let period = Duration::hours(self.hours(p).max(1));
        let late = now - due_at;
        let periods = (late.num_seconds() - 1) / period.num_seconds().max(1);
        (1 + periods).min(3) as i32
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketInput {
    pub kind: TicketKind,
    #[serde(default = "normal")]
    pub priority: Priority,
    pub subject: String,
    #[serde(default)]
    pub body: Option<String>,
    /// Who opened it on our side.
    #[serde(default)]
    pub by: Option<String>,
    /// The user in charge.
    #[serde(default)]
    pub assignee_id: Option<i64>,
}

fn normal() -> Priority {
    Priority::Normal
}

impl TicketInput {
    pub fn validate(mut self) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        self.subject = self.subject.trim().to_string();
        if self.subject.is_empty() {
            errors.push(FieldError::new("subject", "is required"));
        }
        if self.subject.chars().count() > 500 {
            errors.push(FieldError::new("subject", "is longer than 500 characters"));
        }
        self.body = self
            .body
            .take()
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty());
        if self
            .body
            .as_ref()
            .is_some_and(|b| b.chars().count() > 20_000)
        {
            errors.push(FieldError::new("body", "is longer than 20,000 characters"));
        }
        self.by = self
            .by
            .take()
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty());
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }
}

/// One entry of a ticket's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketEvent {
    pub at: DateTime<Utc>,
    /// `opened`, `comment`, `escalated`, `resolved`, `reopened`.
    pub kind: String,
    pub by: Option<String>,
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub customer_id: i64,
    pub id: i64,
    pub kind: TicketKind,
    pub priority: Priority,
    pub subject: String,
    pub body: Option<String>,
    /// `open` or `resolved`.
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub opened_by: Option<String>,
    pub assignee_id: Option<i64>,
    pub due_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub escalation_level: i32,
    pub escalated_at: Option<DateTime<Utc>>,
    /// Resolved after the due time, or still open past it (as of when it was read).
    pub breached: bool,
    pub events: Vec<TicketEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SurveyKind {
    /// Customer satisfaction, 1 (very unhappy) to 5 (very happy).
    Csat,
    /// Net promoter: how likely to recommend us, 0 to 10.
    Nps,
}

text_enum!(SurveyKind {
    Csat = "csat" | "满意度",
    Nps = "nps" | "推荐度",
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyInput {
    pub kind: SurveyKind,
    pub score: i32,
    #[serde(default)]
    pub comment: Option<String>,
    /// The ticket it follows up, if any.
    #[serde(default)]
    pub ticket_id: Option<i64>,
}

impl SurveyInput {
    pub fn validate(mut self) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let (lo, hi) = match self.kind {
            SurveyKind::Csat => (1, 5),
            SurveyKind::Nps => (0, 10),
        };
        if !(lo..=hi).contains(&self.score) {
            errors.push(FieldError::new(
                "score",
                format!("a {} answer is {lo} to {hi}", self.kind),
            ));
        }
        self.comment = self
            .comment
            .take()
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty());
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }
}

/// An answer on the 1-5 scale the value score's `satisfaction` attribute reads: CSAT as is,
/// NPS 0-10 mapped linearly (0 -> 1, 10 -> 5).
pub fn satisfaction_figure(kind: SurveyKind, score: i32) -> f64 {
    match kind {
        SurveyKind::Csat => score as f64,
        SurveyKind::Nps => 1.0 + score as f64 * 0.4,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Survey {
    pub customer_id: i64,
    pub id: i64,
    pub kind: SurveyKind,
    pub score: i32,
    pub comment: Option<String>,
    pub ticket_id: Option<i64>,
    pub answered_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalation_levels_follow_the_clock() {
        let sla = SlaPolicy::default();
        let t0: DateTime<Utc> = "2024-01-01T08:00:00Z".parse().unwrap();
        let due = sla.due_at(Priority::Urgent, t0);
        assert_eq!(
            due,
            "2024-01-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let at = |h: i64, m: i64| t0 + Duration::hours(h) + Duration::minutes(m);
        assert_eq!(sla.escalation_level(Priority::Urgent, due, at(4, 0)), 0);
        assert_eq!(sla.escalation_level(Priority::Urgent, due, at(4, 1)), 1);
        assert_eq!(sla.escalation_level(Priority::Urgent, due, at(8, 0)), 1);
        assert_eq!(sla.escalation_level(Priority::Urgent, due, at(8, 1)), 2);
        assert_eq!(sla.escalation_level(Priority::Urgent, due, at(100, 0)), 3);
    }

    #[test]
    fn survey_ranges_and_figure() {
        let s = |kind, score| SurveyInput {
            kind,
            score,
            comment: None,
            ticket_id: None,
        };
        assert!(s(SurveyKind::Csat, 0).validate().is_err());
        assert!(s(SurveyKind::Csat, 5).validate().is_ok());
        assert!(s(SurveyKind::Nps, 11).validate().is_err());
        assert_eq!(satisfaction_figure(SurveyKind::Nps, 10), 5.0);
        assert_eq!(satisfaction_figure(SurveyKind::Nps, 0), 1.0);
    }
}
