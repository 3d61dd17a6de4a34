//! Tasks (a rep's to-do items, made by hand, from a promise or by the rules) and in-app
//! notifications.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::text_enum;
use crate::FieldError;

/// What a task asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    Call,
    Visit,
    Email,
    Todo,
}

text_enum!(TaskKind {
    Call = "call" | "电话",
    Visit = "visit" | "拜访",
    Email = "email" | "e-mail" | "邮件",
    Todo = "todo" | "to-do" | "待办",
});

/// A new task, as a caller gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    /// The customer it is about, if any.
    #[serde(default)]
    pub customer_id: Option<i64>,
    /// Who does it (a user id); the caller when absent.
    #[serde(default)]
    pub assignee_id: Option<i64>,
    pub kind: TaskKind,
    pub due_at: DateTime<Utc>,
    pub note: String,
}

/// Longest task note, in characters.
pub const MAX_NOTE: usize = 2000;

impl TaskInput {
    pub fn validate(mut self) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        self.note = self.note.trim().to_string();
        if self.note.is_empty() {
            errors.push(FieldError::new("note", "is required (what is to be done)"));
        }
        if self.note.chars().count() > MAX_NOTE {
            errors.push(FieldError::new(
                "note",
                format!("is longer than {MAX_NOTE} characters"),
            ));
        }
        if self.customer_id.is_some_and(|c| c <= 0) {
            errors.push(FieldError::new("customer_id", "is not a customer id"));
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: i64,
    pub customer_id: Option<i64>,
    /// The customer's name, when the task has one.
    pub customer_name: Option<String>,
    pub assignee_id: i64,
    pub kind: TaskKind,
    pub due_at: DateTime<Utc>,
    pub note: String,
    /// `open` or `done`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub done_at: Option<DateTime<Utc>>,
    /// `manual`, `promise`, or the rule that made it (`reclaim`, `invoice_overdue`,
    /// `ticket_breach`, `lead_untouched`, `followup`).
    pub source: String,
}

/// What a notification tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    HoldApproved,
    HoldRejected,
    TicketEscalated,
    LeadAssigned,
    HandedOver,
    TaskAssigned,
}

text_enum!(NotificationKind {
    HoldApproved = "hold_approved",
    HoldRejected = "hold_rejected",
    TicketEscalated = "ticket_escalated",
    LeadAssigned = "lead_assigned",
    HandedOver = "handed_over",
    TaskAssigned = "task_assigned",
});

/// The facts of a notification (`by`, `order`, `amount`, `reason`, ...), from which each
/// interface words it in its own language.
pub type NotificationParams = BTreeMap<String, String>;

impl NotificationKind {
    /// The English wording, with `{param}` placeholders (see [`fill`]).
    pub fn english(self) -> &'static str {
        match self {
            NotificationKind::HoldApproved => "{by} approved your held order {order} ({amount})",
            NotificationKind::HoldRejected => "{by} rejected your held order {order} ({amount})",
            NotificationKind::TicketEscalated => {
                "Ticket #{ticket} \"{subject}\" breached its SLA and was escalated to level {level}"
            }
            NotificationKind::LeadAssigned => "{by} gave you the lead \"{lead}\"",
            NotificationKind::HandedOver => "{by} handed {n} customers of {from} over to you",
            NotificationKind::TaskAssigned => "{by} gave you a task due {due}: {note}",
        }
    }

    /// The message in English from its facts; a `reason` follows after a colon.
    pub fn message(self, params: &NotificationParams) -> String {
        let mut m = fill(self.english(), params).unwrap_or_else(|| self.as_str().to_string());
        if let Some(r) = params.get("reason") {
            m.push_str(": ");
            m.push_str(r);
        }
        m
    }
}

/// `template` with every `{key}` replaced by its parameter; `None` when one is missing.
pub fn fill(template: &str, params: &NotificationParams) -> Option<String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}')? + open;
        out.push_str(params.get(&rest[open + 1..close])?);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// An in-app notification for one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: i64,
    pub kind: NotificationKind,
    pub customer_id: Option<i64>,
    /// What happened, in English (names, reasons); the interface adds the kind's label.
    pub message: String,
    /// The facts the message was made of, for wording it in another language.
    #[serde(default)]
    pub params: NotificationParams,
    /// Where to look (a page of the web interface).
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_filled_from_their_facts() {
        let p: NotificationParams = [("by", "mia"), ("order", "A-1"), ("amount", "$500.00")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            NotificationKind::HoldApproved.message(&p),
            "mia approved your held order A-1 ($500.00)"
        );
        let mut with_reason = p.clone();
        with_reason.insert("reason".into(), "good payer".into());
        assert_eq!(
            NotificationKind::HoldRejected.message(&with_reason),
            "mia rejected your held order A-1 ($500.00): good payer"
        );
        assert_eq!(fill("{by} and {missing}", &p), None);
        assert_eq!(fill("no braces", &p).as_deref(), Some("no braces"));
    }

    #[test]
    fn a_task_needs_a_note_within_bounds() {
        let t = TaskInput {
            customer_id: None,
            assignee_id: None,
            kind: TaskKind::Call,
            due_at: Utc::now(),
            note: "  ".into(),
        };
        assert_eq!(t.clone().validate().unwrap_err()[0].field, "note");
        let long = TaskInput {
            note: "x".repeat(MAX_NOTE + 1),
            ..t.clone()
        };
        assert!(long.validate().is_err());
        let ok = TaskInput {
            note: " call back ".into(),
            ..t
        };
        assert_eq!(ok.validate().unwrap().note, "call back");
        assert_eq!("待办".parse::<TaskKind>().unwrap(), TaskKind::Todo);
    }
}
