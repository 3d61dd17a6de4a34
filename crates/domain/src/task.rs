//! Tasks (a rep's to-do items, made by hand, from a promise or by the rules) and in-app
//! notifications.

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

/// An in-app notification for one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: i64,
    pub kind: NotificationKind,
    pub customer_id: Option<i64>,
    /// What happened, in words (names, reasons); the interface adds the kind's label.
    pub message: String,
    /// Where to look (a page of the web interface).
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

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
