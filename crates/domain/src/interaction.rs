//! Interactions: everything said and done with a customer, feedback included.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::text_enum;
use crate::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InteractionKind {
    Visit,
    Call,
    Email,
    Meeting,
    Quote,
    Promise,
    Complaint,
    Suggestion,
    Request,
    /// The customer brought us another customer (who is named in the referred customer's
    /// `referred_by`).
    Referral,
}

text_enum!(InteractionKind {
    Visit = "visit" | "拜访",
    Call = "call" | "电话",
    Email = "email" | "邮件",
    Meeting = "meeting" | "会议",
    Quote = "quote" | "报价",
    Promise = "promise" | "承诺",
    Complaint = "complaint" | "投诉",
    Suggestion = "suggestion" | "建议",
    Request = "request" | "需求",
    Referral = "referral" | "推荐" | "转介绍",
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InteractionInput {
    pub kind: InteractionKind,
    /// When it happened; now when absent.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// Who on our side (a user name or the rep's name).
    #[serde(default)]
    pub by: Option<String>,
    /// The contact at the customer, if any.
    #[serde(default)]
    pub contact_id: Option<i64>,
    pub text: String,
    /// An external id making repeated imports idempotent.
    #[serde(default)]
    pub external_id: Option<String>,
}

impl InteractionInput {
    pub fn validate(mut self) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        self.text = self.text.trim().to_string();
        if self.text.is_empty() {
            errors.push(FieldError::new(
                "text",
                "is required (what was said or done)",
            ));
        }
        if self.text.chars().count() > 20_000 {
            errors.push(FieldError::new("text", "is longer than 20,000 characters"));
        }
        self.by = self
            .by
            .take()
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty());
        if self.by.as_ref().is_some_and(|b| b.chars().count() > 200) {
            errors.push(FieldError::new("by", "is longer than 200 characters"));
        }
        self.external_id = self
            .external_id
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub customer_id: i64,
    pub id: i64,
    pub kind: InteractionKind,
    pub occurred_at: DateTime<Utc>,
    pub by: Option<String>,
    pub contact_id: Option<i64>,
    pub text: String,
    pub external_id: Option<String>,
}
