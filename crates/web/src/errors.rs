//! The wording of server errors on the pages, in the interface language: the one place that
//! turns a [`StoreError`], an [`AppError`] or a [`FieldError`] into text a user reads.
//!
//! The store and the domain phrase their messages in English (what the JSON API answers) and
//! give the known kinds a stable code with parameters (`FieldError::code`, `ErrorCode`); in
//! English the message is shown as it is, in Chinese it is worded here from the code. A message
//! without a code is recognised by its English phrasing where it is one of the common kinds,
//! else replaced by a generic Chinese sentence: a Chinese page never shows an English server
//! sentence.

use patron_app::AppError;
use patron_domain::FieldError;
use patron_store::{ErrorCode, StoreError};

use crate::i18n::{self, Lang};

/// The catalogue of this module: `(key, English, Chinese)`; `{name}` is replaced by a parameter.
pub const MESSAGES: &[(&str, &str, &str)] = &[
    ("err.invalid", "Invalid input", "输入无效"),
    ("err.field.date", "is not a date (expected YYYY-MM-DD)", "不是有效日期（应为 YYYY-MM-DD）"),
    ("err.field.min", "must be at least {min}", "不能小于 {min}"),
    ("err.field.max", "must be at most {max}", "不能大于 {max}"),
    ("err.field.too_long", "is longer than {max} characters", "超过 {max} 个字符"),
    ("err.field.number_any", "is not a number", "不是有效数字"),
    ("err.field.unknown", "is not a known field", "不是可识别的字段"),
    ("err.field.decimals", "has more than two decimals", "小数位超过两位"),
    ("err.field.choice", "is not one of the allowed values", "不是允许的取值"),
    ("err.field.missing_customer", "names a customer that does not exist; import the customers first, or tick the option to create missing customers", "引用的客户不存在；请先导入客户，或勾选“自动创建……尚不存在的客户”选项"),
    ("err.not_found", "This record does not exist (or is not yours to see).", "该记录不存在（或您无权查看）。"),
    ("err.not_found_what", "There is no such {what}.", "没有此{what}。"),
    ("err.forbidden", "Your role may not do this.", "您的角色无权执行此操作。"),
    ("err.conflict", "The record was changed by someone else or conflicts with stored data; reload and try again.", "记录已被他人修改或与已有数据冲突，请刷新后重试。"),
    ("err.credit_refused", "Order of {order} refused: customer {customer} has {open} open receivables and a credit limit of {limit}, so only {headroom} of headroom; the order would exceed the limit by {over}.", "订单金额 {order} 被拒绝：客户 {customer} 的未结应收款为 {open}，信用额度为 {limit}，可用额度仅剩 {headroom}；该订单将超出额度 {over}。"),
    ("err.credit_refused_change", "Change of order {order_ref} from {from} to {to} refused: customer {customer} has {open} open receivables and a credit limit of {limit}, so only {headroom} of headroom; the change would exceed the limit by {over}.", "订单 {order_ref} 由 {from} 改为 {to} 被拒绝：客户 {customer} 的未结应收款为 {open}，信用额度为 {limit}，可用额度仅剩 {headroom}；此次修改将超出额度 {over}。"),
    ("err.pool_cap", "You hold {held} customers and one user may hold at most {cap}; return some to the pool first.", "您当前持有 {held} 位客户，每人最多可持有 {cap} 位；请先将部分客户退回公海。"),
    ("err.not_in_pool", "This customer is not in the pool (it has an owner).", "该客户不在公海中（已有负责人）。"),
    ("err.what.customer", "customer", "客户"),
    ("err.what.task", "task", "任务"),
    ("err.what.order", "order", "订单"),
    ("err.what.invoice", "invoice", "发票"),
    ("err.what.user", "user", "用户"),
    ("err.what.ticket", "ticket", "工单"),
    ("err.what.lead", "lead", "线索"),
    ("err.what.notification", "notification", "通知"),
    ("err.what.contact", "contact", "联系人"),
    ("err.what.opportunity", "opportunity", "商机"),
    ("err.what.campaign", "campaign", "营销活动"),
    ("err.what.other", "record", "记录"),
    ("err.import.line", "line {line}", "第 {line} 行"),
    ("err.import.column", "column {column}", "列 {column}"),
];

/// `key` in `lang` with each `{name}` replaced by its value.
fn fill(lang: Lang, key: &str, params: &[(&str, String)]) -> String {
    let mut s = lang.t(key).to_string();
    for (k, v) in params {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

/// The label of a field (`field.NAME` of the catalogue), or its name when there is none.
pub fn field_label(lang: Lang, field: &str) -> String {
    let key = format!("field.{field}");
    if i18n::has_key(&key) {
        lang.t(&key).to_string()
    } else {
        field.to_string()
    }
}

/// The reason of a field error (without the field's name), in `lang`.
pub fn field_error_text(lang: Lang, e: &FieldError) -> String {
    if lang == Lang::En {
        return e.message.clone();
    }
    let param = |k: &str| e.param(k).unwrap_or("").to_string();
    let code = e.code.or_else(|| code_of_message(&e.message));
    match code {
        Some("required") => lang.t("invalid.required").into(),
        Some("email") => lang.t("invalid.email").into(),
        Some("phone") => lang.t("invalid.phone").into(),
        Some("too_long") if e.param("max").is_some() => {
            fill(lang, "err.field.too_long", &[("max", param("max"))])
        }
        Some("too_long") => lang.t("invalid.too_long").into(),
        Some("negative") => lang.t("invalid.negative").into(),
        Some("number") => lang.t("invalid.number").into(),
        Some("number_any") => lang.t("err.field.number_any").into(),
        Some("amount") => lang.t("invalid.amount").into(),
        Some("decimals") => lang.t("err.field.decimals").into(),
        Some("date") => lang.t("err.field.date").into(),
        Some("unknown") => lang.t("err.field.unknown").into(),
        Some("choice") => lang.t("err.field.choice").into(),
        Some("missing_customer") => lang.t("err.field.missing_customer").into(),
        Some("min") => {
            let min = e
                .param("min")
                .map(str::to_string)
                .or_else(|| number_after(&e.message, "at least "))
                .unwrap_or_default();
            fill(lang, "err.field.min", &[("min", min)])
        }
        Some("max") => {
            let max = e
                .param("max")
                .map(str::to_string)
                .or_else(|| number_after(&e.message, "at most "))
                .unwrap_or_default();
            fill(lang, "err.field.max", &[("max", max)])
        }
        _ => lang.t("invalid.other").into(),
    }
}

/// A field error with its field's label: `E-mail: is not ...` / `电子邮箱：不是……`.
pub fn field_error_line(lang: Lang, e: &FieldError) -> String {
    let sep = if lang == Lang::Zh { "：" } else { ": " };
    if e.field.is_empty() {
        return field_error_text(lang, e);
    }
    if lang == Lang::En {
        return e.to_string();
    }
    format!(
        "{}{sep}{}",
        field_label(lang, &e.field),
        field_error_text(lang, e)
    )
}

/// The kind of a message that has no code, recognised by its English phrasing.
fn code_of_message(m: &str) -> Option<&'static str> {
    let kinds: &[(&str, &str)] = &[
        ("does not exist", "missing_customer"),
        ("is required", "required"),
        ("e-mail", "email"),
        ("phone number", "phone"),
        ("longer than", "too_long"),
        ("0 or more", "negative"),
        ("whole number", "number"),
        ("is not an amount", "amount"),
        ("more than two decimals", "decimals"),
        ("is not a date", "date"),
        ("must be at least", "min"),
        ("must be at most", "max"),
        ("at most", "max"),
        ("is not a number", "number_any"),
        ("must be a number", "number_any"),
        ("invalid type", "number_any"),
        ("unknown field", "unknown"),
        ("unknown variant", "choice"),
        ("expected one of", "choice"),
    ];
    kinds.iter().find(|(p, _)| m.contains(p)).map(|(_, c)| *c)
}

/// The figure right after `prefix` in `m` (`must be at least 8 characters` -> `8`).
fn number_after(m: &str, prefix: &str) -> Option<String> {
    let rest = &m[m.find(prefix)? + prefix.len()..];
    let n: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    (!n.is_empty()).then_some(n)
}

/// Cents as a parameter, formatted as money in `lang`.
fn money_param(lang: Lang, c: &ErrorCode, name: &str) -> String {
    match c.param(name).parse::<i64>() {
        Ok(cents) => i18n::money_cents(lang, cents),
        Err(_) => c.param(name).to_string(),
    }
}

/// A refusal of a known kind in `lang` (English too: amounts formatted per language).
fn coded_text(lang: Lang, c: &ErrorCode) -> Option<String> {
    let customer = || {
        let (name, number) = (c.param("name"), c.param("number"));
        match (name.is_empty(), lang) {
            (true, Lang::En) => format!("no. {number}"),
            (true, Lang::Zh) => format!("编号 {number}"),
            (false, Lang::En) => format!("{name} (no. {number})"),
            (false, Lang::Zh) => format!("{name}（编号 {number}）"),
        }
    };
    let m = |n: &str| money_param(lang, c, n);
    Some(match c.code {
        "credit_refused" if !c.param("order_ref").is_empty() => fill(
            lang,
            "err.credit_refused_change",
            &[
                ("order_ref", c.param("order_ref").to_string()),
                ("from", m("from")),
                ("to", m("to")),
                ("customer", customer()),
                ("open", m("open")),
                ("limit", m("limit")),
                ("headroom", m("headroom")),
                ("over", m("over")),
            ],
        ),
        "credit_refused" => fill(
            lang,
            "err.credit_refused",
            &[
                ("order", m("order")),
                ("customer", customer()),
                ("open", m("open")),
                ("limit", m("limit")),
                ("headroom", m("headroom")),
                ("over", m("over")),
            ],
        ),
        "pool_cap" => fill(
            lang,
            "err.pool_cap",
            &[
                ("held", c.param("held").to_string()),
                ("cap", c.param("cap").to_string()),
            ],
        ),
        "not_in_pool" => lang.t("err.not_in_pool").to_string(),
        _ => return None,
    })
}

/// A conflict's message in `lang`.
pub fn conflict_text(lang: Lang, e: &StoreError) -> String {
    if let Some(t) = e.code().and_then(|c| coded_text(lang, c)) {
        return t;
    }
    match (lang, e) {
        (Lang::En, StoreError::Conflict { message, .. }) => message.clone(),
        _ => lang.t("err.conflict").to_string(),
    }
}

/// The message of a store error in `lang` (for the error page or a form's notice).
pub fn store_error_text(lang: Lang, e: &StoreError) -> String {
    match e {
        StoreError::NotFound {
            what: "customer", ..
        } => lang.t("error.no_customer").to_string(),
        StoreError::NotFound { what, .. } => {
            let key = format!("err.what.{what}");
            let what = if i18n::has_key(&key) {
                lang.t(&key)
            } else {
                lang.t("err.what.other")
            };
            fill(lang, "err.not_found_what", &[("what", what.to_string())])
        }
        StoreError::Invalid(errs) => {
            let sep = if lang == Lang::Zh { "；" } else { "; " };
            let colon = if lang == Lang::Zh { "：" } else { ": " };
            format!(
                "{}{colon}{}",
                lang.t("err.invalid"),
                errs.iter()
                    .map(|fe| field_error_line(lang, fe))
                    .collect::<Vec<_>>()
                    .join(sep)
            )
        }
        StoreError::Conflict { .. } => conflict_text(lang, e),
        e if e.is_unavailable() => lang.t("error.unavailable").to_string(),
        _ => lang.t("error.internal").to_string(),
    }
}

/// The message of a refused or failed use case in `lang`.
pub fn app_error_text(lang: Lang, e: &AppError) -> String {
    match e {
        AppError::Forbidden(m) if lang == Lang::En => m.clone(),
        AppError::Forbidden(_) => lang.t("err.forbidden").to_string(),
        AppError::Store(e) => store_error_text(lang, e),
    }
}

/// An import's row error (`line 12: column ordered_on: '31/12' is not a date ...`) in `lang`:
/// English as it is; in Chinese the line and column kept, the reason worded from its kind.
pub fn import_error_text(lang: Lang, m: &str) -> String {
    if lang == Lang::En {
        return m.to_string();
    }
    let mut parts = Vec::new();
    let mut rest = m.trim();
    // An optional `FILE:LINE: ` or `line N: ` prefix, then an optional `column X: `.
    if let Some(r) = rest.strip_prefix("line ") {
        if let Some((n, tail)) = r.split_once(':') {
            parts.push(fill(
                lang,
                "err.import.line",
                &[("line", n.trim().to_string())],
            ));
            rest = tail.trim();
        }
    } else if let Some((head, tail)) = rest.split_once(": ") {
        if let Some((_, n)) = head.rsplit_once(':') {
            if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) {
                parts.push(fill(lang, "err.import.line", &[("line", n.to_string())]));
                rest = tail.trim();
            }
        }
    }
    let mut column = None;
    if let Some(r) = rest.strip_prefix("column ") {
        if let Some((c, tail)) = r.split_once(": ") {
            column = Some(fill(
                lang,
                "err.import.column",
                &[("column", c.trim().to_string())],
            ));
            rest = tail.trim();
        }
    }
    // Several bad cells of one row are joined with "; column X: ...".
    let reasons: Vec<String> = rest
        .split("; ")
        .enumerate()
        .map(|(i, r)| {
            let (col, reason) = match r.strip_prefix("column ").and_then(|c| c.split_once(": ")) {
                Some((c, why)) => (
                    Some(fill(
                        lang,
                        "err.import.column",
                        &[("column", c.trim().to_string())],
                    )),
                    why,
                ),
                None if i == 0 => (column.take(), r),
                None => (None, r),
            };
            let why = field_error_text(lang, &FieldError::new("", reason));
            match col {
                Some(c) => format!("{c}：{why}"),
                None => why,
            }
        })
        .collect();
    parts.push(reasons.join("；"));
    parts.join("，")
}

/// Where a rejected row is: `FILE:LINE: ` in English, `FILE 第 LINE 行：` in Chinese.
pub fn import_where(lang: Lang, file: &str, line: &str) -> String {
    match lang {
        Lang::En => format!("{file}:{line}: "),
        Lang::Zh => format!(
            "{file} {}：",
            fill(lang, "err.import.line", &[("line", line.to_string())])
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_wording_of_known_errors() {
        let c = StoreError::Conflict {
            message: "you hold 2940 customers".into(),
            current_version: None,
            code: Some(ErrorCode::new(
                "pool_cap",
                vec![("held", "2940".into()), ("cap", "500".into())],
            )),
        };
        let zh = store_error_text(Lang::Zh, &c);
        assert!(
            zh.contains("2940") && zh.contains("500") && zh.contains("持有"),
            "{zh}"
        );
        assert!(store_error_text(Lang::En, &c)
            .starts_with("You hold 2940 customers and one user may hold at most 500"));
        let inv = StoreError::Invalid(vec![FieldError::new(
            "email",
            "'x' is not an e-mail address",
        )]);
        let zh = store_error_text(Lang::Zh, &inv);
        assert!(
            zh.contains("电子邮箱") && !zh.contains("e-mail address"),
            "{zh}"
        );
        let nf = StoreError::not_found("task", 7);
        assert_eq!(store_error_text(Lang::Zh, &nf), "没有此任务。");
        let imp = import_error_text(
            Lang::Zh,
            "line 3: column ordered_on: '31/12/2024' is not a date (expected YYYY-MM-DD)",
        );
        assert!(
            imp.contains("第 3 行") && imp.contains("不是有效日期"),
            "{imp}"
        );
        assert!(!imp.contains("is not a date"), "{imp}");
        assert_eq!(
            field_error_text(
                Lang::Zh,
                &FieldError::new("p", "must be at least 8 characters long")
            ),
            "不能小于 8"
        );
    }
}
