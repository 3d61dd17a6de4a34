//! A new customer from the web, and the customer picker.
//!
//! - `GET /customers/new`: the profile form (name required; company, industry, region,
//!   address, phone, e-mail, source, tags, status, custom fields as `key=value` lines);
//! - `POST /customers/new`: looks for likely duplicates among the customers the user sees
//!   (same phone, same e-mail, same name); when there are some and the form did not say
//!   `anyway=1`, the form comes back (200) with a warning listing them and a "Create anyway"
//!   button. Otherwise the customer is created with the API's owner rule (what a rep or
//!   manager creates is theirs), audited in the same transaction, and the browser goes to its
//!   card. Bad values come back (422) with the messages next to the fields;
//! - `GET /customers/pick?q=...`: the type-ahead of the customer fields (`input[data-picker]`,
//!   see `static/picker.js`): at most 10 customers the user sees whose number, name, company,
//!   phone or e-mail match, as JSON `[{"id","number","name","company"}]`; `[]` for fewer
//!   than 2 characters;
//! - `GET /static/picker.js`: the script.

use std::collections::BTreeMap;

use axum::extract::{RawForm, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use maud::{html, Markup};
use patron_app::{Action, Session};
use patron_domain::normalize::{email_key, name_key, phone_key};
use patron_domain::{CustomValue, Customer, CustomerInput, CustomerStatus, FieldError};
use patron_store::{CustomerFilter, CustomerSort, PageRequest, StoreError};

use crate::i18n::Lang;
use crate::myday::t;
use crate::{get_param, html, layout, parse_pairs, Ctx, WebState};

/// The picker's script (served as `/static/picker.js`; the CSP allows only own scripts).
pub(crate) const PICKER_JS: &str = include_str!("../static/picker.js");

pub(crate) fn routes() -> Router<WebState> {
    Router::new()
        .route("/customers/new", get(form_page).post(create))
        .route("/customers/pick", get(pick))
        .route("/static/picker.js", get(|| crate::script(PICKER_JS)))
}

/// A customer field with the type-ahead: a text input (customer number, `#id`, or a picked
/// `#id Name (Company)`) and the datalist `picker.js` fills.
pub(crate) fn picker_input(id: &str, name: &str, value: &str, err: bool) -> Markup {
    let list = format!("{id}-list");
    html! {
        input id=(id) type="text" name=(name) value=(value) data-picker="" list=(list)
            autocomplete="off"
            aria-invalid=[err.then_some("true")]
            aria-describedby=[err.then(|| format!("err-{id}"))];
        datalist id=(list) {}
    }
}

/// The text fields of the form, in order, with their input type.
const TEXT_FIELDS: &[(&str, &str)] = &[
    ("name", "text"),
    ("company", "text"),
    ("industry", "text"),
    ("region", "text"),
    ("address", "text"),
    ("phone", "tel"),
    ("email", "text"),
    ("source", "text"),
    ("tags", "text"),
];

/// Every field the form posts (what "Create anyway" posts again).
const ALL_FIELDS: &[&str] = &[
    "name",
    "company",
    "industry",
    "region",
    "address",
    "phone",
    "email",
    "source",
    "tags",
    "status",
    "custom_fields",
];

type Values = BTreeMap<String, String>;

/// What the form shows besides the values.
#[derive(Default)]
struct View {
    errors: Vec<FieldError>,
    duplicates: Vec<(Customer, &'static str)>,
}

async fn form_page(Ctx { lang }: Ctx, Extension(me): Extension<Session>) -> Response {
    if !me.may(Action::ReadRecords) {
        return crate::work::forbidden(lang);
    }
    let mut values = Values::new();
    values.insert("status".into(), "lead".into());
    render(lang, StatusCode::OK, &values, &View::default())
}

/// A validation message in the interface language (the domain speaks English).
fn message(lang: Lang, e: &FieldError) -> String {
    if lang == Lang::En || e.message.starts_with("第 ") {
        return e.message.clone();
    }
    crate::errors::field_error_text(lang, e)
}

fn render(lang: Lang, status: StatusCode, values: &Values, view: &View) -> Response {
    let v = |k: &str| values.get(k).map(String::as_str).unwrap_or("");
    let errs_of = |f: &str| -> Option<String> {
        let m: Vec<String> = view
            .errors
            .iter()
            .filter(|e| e.field == f || e.field.starts_with(&format!("{f}.")))
            .map(|e| message(lang, e))
            .collect();
        (!m.is_empty()).then(|| m.join("; "))
    };
    let known = |f: &str| {
        ALL_FIELDS
            .iter()
            .any(|k| f == *k || f.starts_with(&format!("{k}.")))
    };
    let others: Vec<&FieldError> = view.errors.iter().filter(|e| !known(&e.field)).collect();
    let body = html! {
        div.pagehead {
            div {
                p.crumbs { a href="/customers" { "← " (lang.t("card.back")) } }
                h1 { (t(lang, "nc.title")) }
            }
        }
        @if !view.errors.is_empty() {
            div.notice.error role="alert" id="invalid" {
                (t(lang, "myday.invalid"))
                @for e in &others { br; (e.field) ": " (message(lang, e)) }
            }
        }
        @if !view.duplicates.is_empty() {
            div.notice.warn role="alert" id="duplicates" {
                p { strong { (t(lang, "nc.dup_title")) } }
                ul.dups {
                    @for (c, reason) in &view.duplicates {
                        li {
                            strong { (c.data.name) }
                            @if let Some(n) = &c.data.number { " · " span.mono { (n) } }
                            @if let Some(co) = &c.data.company { " · " (co) }
                            @if let Some(p) = &c.data.phone { " · " (p) }
                            " · " em { (t(lang, &format!("nc.same.{reason}"))) }
                            " " a href=(format!("/customers/{}", c.id)) { (t(lang, "nc.open_it")) " →" }
                        }
                    }
                }
                form method="post" action="/customers/new" id="create-anyway" { (crate::auth::csrf_field())
                    @for k in ALL_FIELDS {
                        input type="hidden" name=(k) value=(v(k));
                    }
                    input type="hidden" name="anyway" value="1";
                    button.primary type="submit" { (t(lang, "nc.anyway")) }
                }
            }
        }
        section.panel.ncform {
            p.muted.small { (t(lang, "nc.hint")) }
            form method="post" action="/customers/new" id="new-customer-form" novalidate { (crate::auth::csrf_field())
                div.formgrid {
                    @for (f, kind) in TEXT_FIELDS {
                        @let err = errs_of(f);
                        @let id = format!("n-{f}");
                        div class=(if err.is_some() { "field has-error" } else { "field" }) {
                            label for=(id) {
                                (lang.t(&format!("field.{f}")))
                                @if *f == "name" { " *" }
                                @if *f == "tags" { " " small.muted { "(" (lang.t("field.tags_hint")) ")" } }
                            }
                            input id=(id) type=(kind) name=(f) value=(v(f))
                                required[*f == "name"]
                                inputmode=[(*f == "email").then_some("email")]
                                aria-invalid=[err.as_ref().map(|_| "true")]
                                aria-describedby=[err.as_ref().map(|_| format!("err-{id}"))];
                            @if let Some(m) = &err { p.field-error id=(format!("err-{id}")) { (m) } }
                        }
                    }
                    @let status_err = errs_of("status");
                    div class=(if status_err.is_some() { "field has-error" } else { "field" }) {
                        label for="n-status" { (lang.t("field.status")) }
                        select id="n-status" name="status" {
                            @for s in CustomerStatus::ALL {
                                option value=(s.as_str()) selected[v("status") == s.as_str()] { (lang.t(&format!("status.{}", s.as_str()))) }
                            }
                        }
                        @if let Some(m) = &status_err { p.field-error id="err-n-status" { (m) } }
                    }
                }
                @let custom_err = errs_of("custom_fields");
                div class=(if custom_err.is_some() { "field has-error" } else { "field" }) {
                    label for="n-custom_fields" { (t(lang, "nc.custom")) }
                    textarea id="n-custom_fields" name="custom_fields" rows="3"
                        aria-invalid=[custom_err.as_ref().map(|_| "true")]
                        aria-describedby=[custom_err.as_ref().map(|_| "err-n-custom_fields")] { (v("custom_fields")) }
                    @if let Some(m) = &custom_err { p.field-error id="err-n-custom_fields" { (m) } }
                }
                div.formfoot {
                    span {}
                    button.primary type="submit" id="create" { (t(lang, "nc.create")) }
                }
            }
        }
    };
    html(
        status,
        layout::page_at(
            lang,
            t(lang, "nc.title"),
            "newcustomer",
            "/customers/new",
            body,
        ),
    )
}

/// A custom field's value as typed: `true`/`false`, a date, a number, or text.
fn custom_value(s: &str) -> CustomValue {
    match s {
        "true" => return CustomValue::Bool(true),
        "false" => return CustomValue::Bool(false),
        _ => {}
    }
    if let Ok(d) = s.parse::<chrono::NaiveDate>() {
        return CustomValue::Date(d);
    }
    // A number as numbers are written (not a code with leading zeros such as a postcode).
    let plain = s
        .strip_prefix('-')
        .unwrap_or(s)
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.');
    let leading_zero = s.trim_start_matches('-').starts_with('0')
        && s.trim_start_matches('-').len() > 1
        && !s.trim_start_matches('-').starts_with("0.");
    match s.parse::<f64>() {
        Ok(x) if plain && !leading_zero && x.is_finite() => CustomValue::Number(x),
        _ => CustomValue::Text(s.to_string()),
    }
}

/// The form's text as a customer input, with the errors of values that are not even of the
/// right kind (the domain checks the rest).
fn to_input(lang: Lang, v: &Values) -> (CustomerInput, Vec<FieldError>) {
    let text = |k: &str| v.get(k).map(|s| s.trim()).unwrap_or("");
    let opt = |k: &str| Some(text(k).to_string()).filter(|s| !s.is_empty());
    let mut errors = Vec::new();
    let status = match text("status") {
        "" => CustomerStatus::default(),
        s => s.parse::<CustomerStatus>().unwrap_or_else(|e| {
            errors.push(FieldError::new("status", e));
            CustomerStatus::default()
        }),
    };
    let mut custom_fields = patron_domain::CustomFields::new();
    for (i, line) in text("custom_fields").lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line.split_once(['=', '＝']) {
            Some((k, val)) if !k.trim().is_empty() => {
                custom_fields.insert(k.trim().to_string(), custom_value(val.trim()));
            }
            _ => errors.push(FieldError::new(
                "custom_fields",
                t(lang, "nc.bad_line").replace("{n}", &(i + 1).to_string()),
            )),
        }
    }
    let input = CustomerInput {
        name: text("name").to_string(),
        company: opt("company"),
        industry: opt("industry"),
        region: opt("region"),
        address: opt("address"),
        phone: opt("phone"),
        email: opt("email"),
        source: opt("source"),
        tags: text("tags")
            .split([',', '，', ';', '；'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect(),
        status,
        custom_fields,
        ..CustomerInput::default()
    };
    (input, errors)
}

/// Customers the caller sees that are likely the same as `input`: same phone, same e-mail, or
/// same name (at most 10).
async fn likely_duplicates(
    st: &WebState,
    me: &Session,
    input: &CustomerInput,
) -> Result<Vec<(Customer, &'static str)>, StoreError> {
    let phone = input.phone.as_deref().and_then(phone_key);
    let email = input.email.as_deref().and_then(email_key);
    let name = name_key(&input.name, None);
    let folded = input.name.trim().to_lowercase();
    let mut out: Vec<(Customer, &'static str)> = Vec::new();
    let probes = [
        ("phone", input.phone.clone().filter(|_| phone.is_some())),
        ("email", input.email.clone().filter(|_| email.is_some())),
        ("name", Some(input.name.clone())),
    ];
    for (reason, q) in probes {
        let Some(q) = q else { continue };
        let found = st
            .store
            .list_visible_customers(
                &CustomerFilter {
                    q: Some(q),
                    ..CustomerFilter::default()
                },
                &me.visible,
                CustomerSort::Id,
                &PageRequest {
                    limit: Some(50),
                    after: None,
                },
            )
            .await?;
        for c in found.items {
            let same = match reason {
                "phone" => c.data.phone.as_deref().and_then(phone_key) == phone,
                "email" => c.data.email.as_deref().and_then(email_key) == email,
                _ => {
                    c.data.name.trim().to_lowercase() == folded
                        || (name.is_some() && name_key(&c.data.name, None) == name)
                }
            };
            if same && !out.iter().any(|(o, _)| o.id == c.id) {
                out.push((c, reason));
            }
        }
    }
    out.truncate(10);
    Ok(out)
}

/// `POST /customers/new`.
async fn create(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    if !me.may(Action::ReadRecords) {
        return crate::work::forbidden(lang);
    }
    let pairs = parse_pairs(&body);
    let values: Values = ALL_FIELDS
        .iter()
        .map(|k| {
            (
                k.to_string(),
                get_param(&pairs, k).unwrap_or("").to_string(),
            )
        })
        .collect();
    let invalid = |errors: Vec<FieldError>| {
        render(
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            &values,
            &View {
                errors,
                ..View::default()
            },
        )
    };
    let (input, mut errors) = to_input(lang, &values);
    let mut input = match input.validate() {
        Ok(i) if errors.is_empty() => i,
        Ok(_) => return invalid(errors),
        Err(mut e) => {
            errors.append(&mut e);
            return invalid(errors);
        }
    };
    if get_param(&pairs, "anyway") != Some("1") {
        match likely_duplicates(&st, &me, &input).await {
            Ok(d) if !d.is_empty() => {
                return render(
                    lang,
                    StatusCode::OK,
                    &values,
                    &View {
                        duplicates: d,
                        ..View::default()
                    },
                )
            }
            Ok(_) => {}
            Err(e) => return crate::store_error_page(lang, &e),
        }
    }
    // The API's rule: what a rep or manager creates is theirs.
    if !me.visible.is_all() {
        let owner = *input.owner_id.get_or_insert(me.user.id);
        if !me.visible.allows(Some(owner), true) {
            return crate::work::forbidden(lang);
        }
    }
    // The customer and its audit row are one transaction.
    let audited = me.audited(&st.store, "create", None, "customer {id} created (web)");
    match audited.create_customer(input, &me.user.username).await {
        Ok(c) => match audited.finish_audit().await {
            Ok(_) => {
                // Graded by its attributes at once (a prospect).
                patron_app::value::recompute_after_change(&st.store, &[c.id]).await;
                Redirect::to(&format!("/customers/{}?saved=1", c.id)).into_response()
            }
            Err(e) => crate::store_error_page(lang, &e),
        },
        Err(StoreError::Invalid(errs)) => invalid(errs),
        Err(e) => crate::store_error_page(lang, &e),
    }
}

/// `GET /customers/pick?q=...`: the picker's JSON.
async fn pick(
    State(st): State<WebState>,
    Extension(me): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = parse_pairs(raw.unwrap_or_default().as_bytes());
    let q = get_param(&pairs, "q").unwrap_or("").trim();
    let mut status = StatusCode::OK;
    let items: Vec<serde_json::Value> = if q.chars().count() < 2 || !me.may(Action::ReadRecords) {
        Vec::new()
    } else {
        match st
            .store
            .list_visible_customers(
                &CustomerFilter {
                    q: Some(q.chars().take(200).collect()),
                    ..CustomerFilter::default()
                },
                &me.visible,
                CustomerSort::Name,
                &PageRequest {
                    limit: Some(10),
                    after: None,
                },
            )
            .await
        {
            Ok(page) => page
                .items
                .iter()
                .take(10)
                .map(|c| {
                    serde_json::json!({
                        "id": c.id,
                        "number": c.data.number,
                        "name": c.data.name,
                        "company": c.data.company,
                    })
                })
                .collect(),
            Err(StoreError::Invalid(_)) => Vec::new(),
            Err(e) => {
                tracing::warn!(error = %e, "customer picker failed");
                status = if e.is_unavailable() {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
                Vec::new()
            }
        }
    };
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        serde_json::Value::Array(items).to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_values_as_typed() {
        assert_eq!(custom_value("true"), CustomValue::Bool(true));
        assert_eq!(custom_value("12.5"), CustomValue::Number(12.5));
        assert_eq!(custom_value("00123"), CustomValue::Text("00123".into()));
        assert_eq!(custom_value("+86 1"), CustomValue::Text("+86 1".into()));
        assert!(matches!(custom_value("2024-05-01"), CustomValue::Date(_)));
        assert_eq!(custom_value("红色"), CustomValue::Text("红色".into()));
    }

    #[test]
    fn the_form_reads_lines_tags_and_status() {
        let mut v = Values::new();
        v.insert("name".into(), " 张三 ".into());
        v.insert("tags".into(), "a，b; a".into());
        v.insert("status".into(), "意向".into());
        v.insert("custom_fields".into(), "颜色=红\nbad line\n".into());
        let (input, errors) = to_input(Lang::En, &v);
        assert_eq!(input.name, "张三");
        assert_eq!(input.status, CustomerStatus::Intent);
        assert_eq!(input.custom_fields.len(), 1);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "custom_fields");
        let input = input.validate().unwrap();
        assert_eq!(input.tags, vec!["a".to_string(), "b".to_string()]);
    }
}
