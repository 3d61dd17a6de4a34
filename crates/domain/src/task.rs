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
    ExportRequested,
    ExportApproved,
    ExportRefused,
    /// Unusual access (one per user, kind and hour; to their manager and the admins).
    UnusualViews,
    UnusualForeignViews,
    UnusualSearches,
    UnusualListPages,
    UnusualExports,
}

text_enum!(NotificationKind {
    HoldApproved = "hold_approved",
    HoldRejected = "hold_rejected",
    TicketEscalated = "ticket_escalated",
    LeadAssigned = "lead_assigned",
    HandedOver = "handed_over",
    TaskAssigned = "task_assigned",
    ExportRequested = "export_requested",
    ExportApproved = "export_approved",
    ExportRefused = "export_refused",
    UnusualViews = "unusual_views",
    UnusualForeignViews = "unusual_foreign_views",
    UnusualSearches = "unusual_searches",
    UnusualListPages = "unusual_list_pages",
    UnusualExports = "unusual_exports",
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
            NotificationKind::ExportRequested => {
                "{by} asks to export {n} customer rows (request {request})"
            }
            NotificationKind::ExportApproved => {
                "{by} approved your export request {request}: download it once within 24 hours"
            }
            NotificationKind::ExportRefused => "{by} refused your export request {request}",
            NotificationKind::UnusualViews => {
                "{user} opened {n} customer cards in the hour from {hour} (usually {usual} an hour)"
            }
            NotificationKind::UnusualForeignViews => {
                "{user} opened {n} cards of customers they do not own in the hour from {hour} (usually {usual} an hour)"
            }
            NotificationKind::UnusualSearches => {
                "{user} ran {n} customer searches in the hour from {hour} (usually {usual} an hour)"
            }
            NotificationKind::UnusualListPages => {
                "{user} opened {n} customer list pages in the hour from {hour} (usually {usual} an hour)"
            }
            NotificationKind::UnusualExports => {
                "{user} exported {n} customer rows in the hour from {hour} (usually {usual} an hour)"
            }
        }
    }

    /// The Chinese wording, with `{param}` placeholders (see [`fill`]).
    pub fn chinese(self) -> &'static str {
        match self {
            NotificationKind::HoldApproved => "{by} 批准了您挂起的订单 {order}（{amount}）",
            NotificationKind::HoldRejected => "{by} 拒绝了您挂起的订单 {order}（{amount}）",
            NotificationKind::TicketEscalated => {
                "工单 #{ticket}「{subject}」已超出 SLA，升级到第 {level} 级"
            }
            NotificationKind::LeadAssigned => "{by} 把线索「{lead}」分配给了您",
            NotificationKind::HandedOver => "{by} 把 {from} 的 {n} 位客户移交给了您",
            NotificationKind::TaskAssigned => "{by} 给您分配了任务，截止 {due}：{note}",
            NotificationKind::ExportRequested => "{by} 申请导出 {n} 行客户数据（申请 {request}）",
            NotificationKind::ExportApproved => {
                "{by} 批准了您的导出申请 {request}：请在 24 小时内下载（仅限一次）"
            }
            NotificationKind::ExportRefused => "{by} 拒绝了您的导出申请 {request}",
            NotificationKind::UnusualViews => {
                "{user} 在 {hour} 起的一小时内打开了 {n} 张客户卡片（通常每小时 {usual}）"
            }
            NotificationKind::UnusualForeignViews => {
                "{user} 在 {hour} 起的一小时内打开了 {n} 张非本人客户的卡片（通常每小时 {usual}）"
            }
            NotificationKind::UnusualSearches => {
                "{user} 在 {hour} 起的一小时内搜索客户 {n} 次（通常每小时 {usual}）"
            }
            NotificationKind::UnusualListPages => {
                "{user} 在 {hour} 起的一小时内打开了 {n} 个客户列表页（通常每小时 {usual}）"
            }
            NotificationKind::UnusualExports => {
                "{user} 在 {hour} 起的一小时内导出了 {n} 行客户数据（通常每小时 {usual}）"
            }
        }
    }

    /// The kind's short title, in English or (`zh`) Chinese.
    pub fn title(self, zh: bool) -> &'static str {
        let (en, cn) = match self {
            NotificationKind::HoldApproved => ("Held order approved", "挂起订单已批准"),
            NotificationKind::HoldRejected => ("Held order rejected", "挂起订单被拒绝"),
            NotificationKind::TicketEscalated => ("Ticket escalated", "工单已升级"),
            NotificationKind::LeadAssigned => ("Lead assigned", "线索已分配"),
            NotificationKind::HandedOver => ("Customers handed over", "客户已移交"),
            NotificationKind::TaskAssigned => ("Task assigned", "任务已分派"),
            NotificationKind::ExportRequested => ("Export request", "导出申请"),
            NotificationKind::ExportApproved => ("Export approved", "导出已批准"),
            NotificationKind::ExportRefused => ("Export refused", "导出被拒绝"),
            NotificationKind::UnusualViews => ("Unusual card views", "异常的客户卡片查看"),
            NotificationKind::UnusualForeignViews => {
                ("Unusual views of others' customers", "异常的非本人客户查看")
            }
            NotificationKind::UnusualSearches => ("Unusual searches", "异常的客户搜索"),
            NotificationKind::UnusualListPages => ("Unusual list pages", "异常的客户列表浏览"),
            NotificationKind::UnusualExports => ("Unusual exports", "异常的客户导出"),
        };
        if zh {
            cn
        } else {
            en
        }
    }

    /// The message in Chinese from its facts (a `reason` after a full-width colon); `None`
    /// when a fact is missing (then show the stored English message).
    pub fn message_zh(self, params: &NotificationParams) -> Option<String> {
        let mut m = fill(self.chinese(), params)?;
        if let Some(r) = params.get("reason") {
            m.push('：');
            m.push_str(r);
        }
        Some(m)
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
