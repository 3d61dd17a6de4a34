//! The customer record (SPEC section 1) and its contacts and change history.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{FieldError, Money};

/// Where a customer stands in the sales process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CustomerStatus {
    #[default]
    Lead,
    Tracking,
    Intent,
    Won,
}

impl CustomerStatus {
    /// The status an order makes of a customer in this status (the first order turns a lead,
    /// a tracked or an interested customer into a won one); `None`: the order changes nothing.
    /// The one rule the store applies on every path that adds orders (single orders, approved
    /// credit holds, imports).
    pub fn after_first_order(self) -> Option<CustomerStatus> {
        match self {
            CustomerStatus::Lead | CustomerStatus::Tracking | CustomerStatus::Intent => {
                Some(CustomerStatus::Won)
            }
            CustomerStatus::Won => None,
        }
    }

    /// The statuses an order changes, with what it makes of them (from
    /// [`CustomerStatus::after_first_order`]), for set-based updates.
    pub fn advanced_by_order() -> impl Iterator<Item = (CustomerStatus, CustomerStatus)> {
        CustomerStatus::ALL
            .iter()
            .filter_map(|s| s.after_first_order().map(|to| (*s, to)))
    }
}

/// The customer's attitude to us (seed 002): loyal, a brand switcher, or no brand loyalty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Loyalty {
    Loyal,
    Switcher,
    #[default]
    None,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident = $text:literal $(| $alias:literal)*),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;

            /// Accepts the English name in any case, and the usual Chinese term.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let t = s.trim().to_lowercase();
                $(if t == $text $(|| t == $alias)* { return Ok($ty::$variant); })+
                Err(format!(
                    "'{}' is not one of: {}",
                    $crate::text::excerpt(s),
                    [$($text),+].join(", ")
                ))
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(CustomerStatus {
    Lead = "lead" | "线索",
    Tracking = "tracking" | "跟踪",
    Intent = "intent" | "意向",
    Won = "won" | "成单" | "customer",
});
text_enum!(Loyalty {
    Loyal = "loyal" | "忠诚",
    Switcher = "switcher" | "brand switcher" | "转换",
    None = "none" | "" | "无",
});

/// A typed custom-field value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CustomValue {
    Bool(bool),
    Number(f64),
    Date(NaiveDate),
    Text(String),
}

/// Custom fields: every firm keeps its own (seed 003: "collect as widely as you can").
pub type CustomFields = BTreeMap<String, CustomValue>;

/// The editable part of a customer record. Unknown fields are refused, so a typo in an API
/// call or an import mapping is an error rather than silently ignored.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    /// Customer number (an external id); assigned as `C000123` when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub name: String,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub industry: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub fax: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub employees: Option<i64>,
    #[serde(default)]
    pub registered_capital: Option<Money>,
    #[serde(default)]
    pub awards: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub custom_fields: CustomFields,
    #[serde(default)]
    pub status: CustomerStatus,
    #[serde(default)]
    pub loyalty: Loyalty,
    #[serde(default)]
    pub owner_id: Option<i64>,
    #[serde(default)]
    pub credit_rating: Option<String>,
    #[serde(default)]
    pub credit_limit: Option<Money>,
    #[serde(default)]
    pub marketing_opt_out: bool,
    #[serde(default)]
    pub referred_by: Option<i64>,
}

/// A partial update: a JSON object whose keys are fields of [`CustomerInput`]; `null` clears.
pub type CustomerPatch = serde_json::Map<String, serde_json::Value>;

const MAX_TEXT: usize = 500;

/// The largest magnitude of a numeric custom field.
pub const MAX_CUSTOM_NUMBER: f64 = 1e15;

impl CustomerInput {
    /// Trims text fields (empty becomes absent) and checks every rule, returning all problems.
    pub fn validate(mut self) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        self.name = self.name.trim().to_string();
        if self.name.is_empty() {
            errors.push(FieldError::coded("name", "required", vec![], "is required"));
        }
        for (field, value) in [
            ("number", &mut self.number),
            ("company", &mut self.company),
            ("industry", &mut self.industry),
            ("region", &mut self.region),
            ("address", &mut self.address),
            ("phone", &mut self.phone),
            ("fax", &mut self.fax),
            ("email", &mut self.email),
            ("awards", &mut self.awards),
            ("source", &mut self.source),
            ("credit_rating", &mut self.credit_rating),
        ] {
            if let Some(v) = value.take() {
                let v = v.trim().to_string();
                if v.chars().count() > MAX_TEXT {
                    errors.push(FieldError::coded(
                        field,
                        "too_long",
                        vec![("max", MAX_TEXT.to_string())],
                        format!("is longer than {MAX_TEXT} characters"),
                    ));
                }
                if !v.is_empty() {
                    *value = Some(v);
                }
            }
        }
        if self.name.chars().count() > MAX_TEXT {
            errors.push(FieldError::coded(
                "name",
                "too_long",
                vec![("max", MAX_TEXT.to_string())],
                format!("is longer than {MAX_TEXT} characters"),
            ));
        }
        if let Some(e) = &self.email {
            if !is_plausible_email(e) {
                errors.push(FieldError::coded(
                    "email",
                    "email",
                    vec![("value", crate::text::excerpt(e).to_string())],
                    format!(
                        "'{}' is not an e-mail address (expected name@domain.tld)",
                        crate::text::excerpt(e)
                    ),
                ));
            }
        }
        for (field, v) in [("phone", &self.phone), ("fax", &self.fax)] {
            if let Some(p) = v {
                let digits = p.chars().filter(char::is_ascii_digit).count();
                let allowed = p
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-()./x".contains(c));
                if digits < 5 || !allowed {
                    errors.push(FieldError::coded(field, "phone", vec![("value", crate::text::excerpt(p).to_string())], format!("'{}' is not a phone number (digits, spaces, + - ( ) only; at least 5 digits)", crate::text::excerpt(p))));
                }
            }
        }
        if matches!(self.employees, Some(n) if n < 0) {
            errors.push(FieldError::coded(
                "employees",
                "negative",
                vec![],
                "must be 0 or more",
            ));
        }
        for (field, v) in [
            ("registered_capital", self.registered_capital),
            ("credit_limit", self.credit_limit),
        ] {
            if matches!(v, Some(m) if m.cents() < 0) {
                errors.push(FieldError::coded(
                    field,
                    "negative",
                    vec![],
                    "must be 0 or more",
                ));
            }
        }
        let mut tags: Vec<String> = Vec::new();
        for t in std::mem::take(&mut self.tags) {
            let t = t.trim().to_string();
            if t.is_empty() || tags.contains(&t) {
                continue;
            }
            if t.chars().count() > 50 {
                errors.push(FieldError::new(
                    "tags",
                    format!(
                        "tag '{}' is longer than 50 characters",
                        crate::text::excerpt(&t)
                    ),
                ));
            }
            tags.push(t);
        }
        if tags.len() > 50 {
            errors.push(FieldError::new("tags", "at most 50 tags"));
        }
        self.tags = tags;
        if self.custom_fields.len() > 100 {
            errors.push(FieldError::new(
                "custom_fields",
                "at most 100 custom fields",
            ));
        }
        for (k, v) in &self.custom_fields {
            if k.trim().is_empty() || k.chars().count() > 64 {
                errors.push(FieldError::new(
                    "custom_fields",
                    format!(
                        "field name '{}' must be 1 to 64 characters",
                        crate::text::excerpt(k)
                    ),
                ));
            }
            // Stored as JSON and read back as f64: PostgreSQL writes a number near f64::MAX as
            // 309 digits that no longer parse, so figures are kept to a sane range.
            if let CustomValue::Number(x) = v {
                if x.is_nan() || x.abs() > MAX_CUSTOM_NUMBER {
                    errors.push(FieldError::new(
                        format!("custom_fields.{k}"),
                        "must be a number between -1e15 and 1e15",
                    ));
                }
            }
            if let CustomValue::Text(t) = v {
                if t.chars().count() > MAX_TEXT {
                    errors.push(FieldError::new(
                        format!("custom_fields.{k}"),
                        format!("is longer than {MAX_TEXT} characters"),
                    ));
                }
            }
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }

    /// Applies a partial update and validates the result. Type errors name the field.
    pub fn patched(&self, patch: &CustomerPatch) -> Result<Self, Vec<FieldError>> {
        let serde_json::Value::Object(mut map) =
            serde_json::to_value(self).expect("a customer serializes")
        else {
            unreachable!("a customer serializes to an object")
        };
        for (k, v) in patch {
            map.insert(k.clone(), v.clone());
        }
        // A value of the wrong type stops serde at the first one: report it, put back the stored
        // value and try again, so that every bad field is reported at once.
        let before = map.clone();
        let mut errors: Vec<FieldError> = Vec::new();
        let merged: Self = loop {
            match serde_path_to_error::deserialize(serde_json::Value::Object(map.clone())) {
                Ok(m) => break m,
                Err(e) => {
                    let fe = field_error_from_serde(&e);
                    let top = e.path().iter().next().and_then(|s| match s {
                        serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                        _ => None,
                    });
                    errors.push(fe);
                    let Some(top) = top.filter(|k| patch.contains_key(k)) else {
                        return Err(errors);
                    };
                    if errors.len() > patch.len() {
                        return Err(errors);
                    }
                    match serde_json::to_value(self)
                        .ok()
                        .and_then(|v| v.get(&top).cloned())
                    {
                        Some(old) if before.get(&top) != Some(&old) => {
                            map.insert(top, old);
                        }
                        _ => return Err(errors),
                    }
                }
            }
        };
        match merged.validate() {
            Ok(v) if errors.is_empty() => Ok(v),
            Ok(_) => Err(errors),
            Err(more) => {
                let more: Vec<FieldError> = more
                    .into_iter()
                    .filter(|m| !errors.iter().any(|x| x.field == m.field))
                    .collect();
                errors.extend(more);
                Err(errors)
            }
        }
    }

    /// Field-by-field differences `(field, old, new)` as JSON text, for the change history.
    pub fn diff(&self, new: &Self) -> Vec<(String, Option<String>, Option<String>)> {
        let (serde_json::Value::Object(a), serde_json::Value::Object(b)) = (
            serde_json::to_value(self).expect("serializes"),
            serde_json::to_value(new).expect("serializes"),
        ) else {
            unreachable!("customers serialize to objects")
        };
        let show = |v: Option<&serde_json::Value>| match v {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter(|k| a.get(*k) != b.get(*k))
            .map(|k| (k.clone(), show(a.get(k)), show(b.get(k))))
            .collect()
    }
}

/// Turns a serde error at a path into a field error (`employees: invalid type: string "x", expected i64`).
pub fn field_error_from_serde(e: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let path = e.path().to_string();
    let msg = e.inner().to_string();
    // serde_json appends " at line L column C", meaningless for a value built in memory.
    let msg = match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    let field = if path == "." { String::new() } else { path };
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        let name = rest
            .split(',')
            .next()
            .unwrap_or(rest)
            .trim_matches('`')
            .to_string();
        let name = crate::text::excerpt(&name).to_string();
        return FieldError::new(name.clone(), format!("unknown field '{name}'"));
    }
    let code = if msg.contains("is not an amount") {
        Some("amount")
    } else if msg.contains("is not a date") || msg.contains("premature end of input") {
        Some("date")
    } else if msg.contains("expected i64")
        || msg.contains("expected u")
        || msg.contains("expected f64")
        || msg.contains("a number")
    {
        Some("number")
    } else {
        None
    };
    let mut fe = FieldError::new(field, crate::text::excerpt_in(&msg));
    fe.code = code;
    fe
}

fn is_plausible_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c == ',' || c == ';')
        && !domain.contains('@')
}

/// A stored customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: i64,
    /// Incremented on every update: send it back as `expected_version` to update safely.
    pub version: i64,
    #[serde(flatten)]
    pub data: CustomerInput,
    /// Set when this record was merged into another (it is then hidden from lists).
    pub merged_into: Option<i64>,
    /// When the customer was archived (hidden from lists, everything kept; restorable).
    #[serde(default)]
    pub archived_at: Option<DateTime<Utc>>,
    /// Who archived it (the user name the audit log records).
    #[serde(default)]
    pub archived_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A person at a customer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub is_primary: bool,
    #[serde(default)]
    pub notes: Option<String>,
    /// The person's part in buying: decision maker, influencer, buyer, user or gatekeeper.
    #[serde(default)]
    pub purchase_role: Option<PurchaseRole>,
    /// What the person likes or asks for (channel, times, topics, gifts).
    #[serde(default)]
    pub preferences: Option<String>,
    #[serde(default)]
    pub birthday: Option<chrono::NaiveDate>,
}

/// A contact person's part in the customer's purchase decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseRole {
    DecisionMaker,
    Influencer,
    Buyer,
    User,
    Gatekeeper,
}

text_enum!(PurchaseRole {
    DecisionMaker = "decision_maker" | "decision maker" | "决策者",
    Influencer = "influencer" | "影响者",
    Buyer = "buyer" | "采购者" | "采购",
    User = "user" | "使用者",
    Gatekeeper = "gatekeeper" | "把关者",
});

impl ContactInput {
    pub fn validate(mut self) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        self.name = self.name.trim().to_string();
        if self.name.is_empty() {
            errors.push(FieldError::coded("name", "required", vec![], "is required"));
        }
        if let Some(e) = self
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            if !is_plausible_email(e) {
                errors.push(FieldError::coded(
                    "email",
                    "email",
                    vec![("value", crate::text::excerpt(e).to_string())],
                    format!(
                        "'{}' is not an e-mail address (expected name@domain.tld)",
                        crate::text::excerpt(e)
                    ),
                ));
            }
        }
        for (field, v) in [
            ("name", Some(&self.name)),
            ("title", self.title.as_ref()),
            ("notes", self.notes.as_ref()),
            ("phone", self.phone.as_ref()),
            ("preferences", self.preferences.as_ref()),
        ] {
            if v.is_some_and(|v| v.chars().count() > MAX_TEXT) {
                errors.push(FieldError::new(
                    field,
                    format!("is longer than {MAX_TEXT} characters"),
                ));
            }
        }
        if self
            .birthday
            .is_some_and(|b| b.year() < 1900 || b.year() > 2100)
        {
            errors.push(FieldError::new(
                "birthday",
                "is not a plausible birthday (year 1900 to 2100)",
            ));
        }
        for v in [
            &mut self.title,
            &mut self.phone,
            &mut self.email,
            &mut self.notes,
            &mut self.preferences,
        ] {
            if v.as_deref().is_some_and(|t| t.trim().is_empty()) {
                *v = None;
            }
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub customer_id: i64,
    pub id: i64,
    #[serde(flatten)]
    pub data: ContactInput,
}

/// One recorded change of one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub customer_id: i64,
    pub id: i64,
    pub changed_at: DateTime<Utc>,
    /// Who made the change (user name, or `import`, `api`, `merge`).
    pub changed_by: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_makes_a_prospect_won() {
        for s in [
            CustomerStatus::Lead,
            CustomerStatus::Tracking,
            CustomerStatus::Intent,
        ] {
            assert_eq!(s.after_first_order(), Some(CustomerStatus::Won), "{s}");
        }
        assert_eq!(CustomerStatus::Won.after_first_order(), None);
        assert_eq!(CustomerStatus::advanced_by_order().count(), 3);
    }
    use serde_json::json;

    #[test]
    fn custom_numbers_stay_in_a_range_that_reads_back() {
        for (x, ok) in [
            (1e15, true),
            (-1e15, true),
            (1.5, true),
            (1e16, false),
            (f64::MAX, false),
        ] {
            let mut c = valid();
            c.custom_fields
                .insert("size".into(), CustomValue::Number(x));
            match c.validate() {
                Ok(_) => assert!(ok, "{x} accepted"),
                Err(e) => {
                    assert!(!ok, "{x} refused: {e:?}");
                    assert_eq!(e[0].field, "custom_fields.size");
                }
            }
        }
    }

    fn valid() -> CustomerInput {
        CustomerInput {
            name: "Acme".into(),
            ..Default::default()
        }
    }

    #[test]
    fn validation_names_every_bad_field() {
        let c = CustomerInput {
            name: "  ".into(),
            email: Some("not-an-email".into()),
            phone: Some("12".into()),
            employees: Some(-1),
            ..Default::default()
        };
        let errs = c.validate().unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "email", "phone", "employees"]);
    }

    #[test]
    fn trims_and_drops_empty_text() {
        let c = CustomerInput {
            company: Some("  ".into()),
            tags: vec![" a ".into(), "a".into(), "".into()],
            ..valid()
        };
        let c = c.validate().unwrap();
        assert_eq!(c.company, None);
        assert_eq!(c.tags, vec!["a".to_string()]);
    }

    #[test]
    fn patch_type_error_names_the_field() {
        let patch = json!({"employees": "many"}).as_object().unwrap().clone();
        let errs = valid().patched(&patch).unwrap_err();
        assert_eq!(errs[0].field, "employees");
        let patch = json!({"colour": "red"}).as_object().unwrap().clone();
        let errs = valid().patched(&patch).unwrap_err();
        assert_eq!(errs[0].field, "colour");
        assert!(errs[0].message.contains("unknown field"));
    }

    #[test]
    fn patch_and_diff() {
        let old = valid();
        let patch = json!({"status": "won", "phone": "+86 138 0013 8000", "company": null})
            .as_object()
            .unwrap()
            .clone();
        let new = old.patched(&patch).unwrap();
        assert_eq!(new.status, CustomerStatus::Won);
        let d = old.diff(&new);
        assert_eq!(
            d,
            vec![
                (
                    "phone".to_string(),
                    None,
                    Some("+86 138 0013 8000".to_string())
                ),
                (
                    "status".to_string(),
                    Some("lead".to_string()),
                    Some("won".to_string())
                ),
            ]
        );
    }

    #[test]
    fn status_accepts_chinese_terms() {
        assert_eq!(
            "成单".parse::<CustomerStatus>().unwrap(),
            CustomerStatus::Won
        );
        assert_eq!(
            "Tracking".parse::<CustomerStatus>().unwrap(),
            CustomerStatus::Tracking
        );
        assert!("closed"
            .parse::<CustomerStatus>()
            .unwrap_err()
            .contains("lead, tracking, intent, won"));
    }
}
