//! The customer list and the customer card.

use std::collections::BTreeMap;

use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use patron_domain::{Customer, CustomerStatus, FieldError, Loyalty};
use patron_store::{
    CustomerFilter, CustomerSort, CustomerValueRow, OrderFilter, PageRequest, StoreError,
};
use serde_json::Value;

use crate::card;
use crate::i18n::{self, Lang};
use crate::layout;
use crate::{error_page, get_param, html, parse_pairs, store_error_page, Ctx, WebState};
use axum::Extension;
use patron_app::Session;

// ---------------------------------------------------------------------------------------------
// The list

/// Query parameters of the list, as typed (re-shown in the filter form and the next-page link).
#[derive(Default)]
struct ListQuery {
    status: String,
    region: String,
    industry: String,
    q: String,
    abc: String,
    segment: String,
    grade: String,
    stage: String,
    churn: String,
    sort: String,
    limit: String,
    after: String,
}

impl ListQuery {
    fn parse(raw: Option<&str>) -> Self {
        let pairs = parse_pairs(raw.unwrap_or("").as_bytes());
        let g = |k: &str| get_param(&pairs, k).unwrap_or("").trim().to_string();
        ListQuery {
            status: g("status"),
            region: g("region"),
            industry: g("industry"),
            q: g("q"),
            abc: g("abc"),
            segment: g("segment"),
            grade: g("grade"),
            stage: g("stage"),
            churn: g("churn"),
            sort: g("sort"),
            limit: g("limit"),
            after: g("after"),
        }
    }

    /// The query string of these filters (without the cursor), for links.
    fn to_query(&self, after: Option<&str>) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("status", &self.status),
            ("region", &self.region),
            ("industry", &self.industry),
            ("q", &self.q),
            ("abc", &self.abc),
            ("segment", &self.segment),
            ("grade", &self.grade),
            ("stage", &self.stage),
            ("churn", &self.churn),
            ("sort", &self.sort),
            ("limit", &self.limit),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        if let Some(a) = after {
            s.append_pair("after", a);
        }
        s.finish()
    }
}

const ABC: &[&str] = &["A", "B", "C"];
const GRADES: &[&str] = &["A", "B", "C", "D", "E"];
pub(crate) const SEGMENTS: &[&str] = &patron_value::rfm::Segment::CODES;
const STAGES: &[&str] = &[
    "suspect",
    "prospect",
    "first_time_buyer",
    "repeat_buyer",
    "advocate",
];

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

pub async fn list(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = ListQuery::parse(raw.as_deref());
    let mut notices: Vec<String> = Vec::new();
    let mut filter = CustomerFilter {
        region: opt(&q.region),
        industry: opt(&q.industry),
        q: opt(&q.q),
        ..CustomerFilter::default()
    };
    if !q.status.is_empty() {
        match q.status.parse::<CustomerStatus>() {
            Ok(s) => filter.status = Some(s),
            Err(_) => notices.push(format!(
                "{}: {} '{}'",
                lang.t("error.bad_filter"),
                lang.t("field.status"),
                q.status
            )),
        }
    }
    // Value filters: only known values reach the store.
    let mut bad = |what: &str, v: &str| {
        notices.push(format!(
            "{}: {} '{}'",
            lang.t("error.bad_filter"),
            lang.t(what),
            v
        ))
    };
    if !q.abc.is_empty() {
        match ABC.iter().find(|c| c.eq_ignore_ascii_case(&q.abc)) {
            Some(c) => filter.abc_class = Some((*c).into()),
            None => bad("value.abc", &q.abc),
        }
    }
    if !q.grade.is_empty() {
        match GRADES.iter().find(|c| c.eq_ignore_ascii_case(&q.grade)) {
            Some(c) => filter.grade = Some((*c).into()),
            None => bad("value.grade", &q.grade),
        }
    }
    if !q.segment.is_empty() {
        match SEGMENTS.iter().find(|c| **c == q.segment) {
            Some(c) => filter.rfm_segment = Some((*c).into()),
            None => bad("value.rfm_segment", &q.segment),
        }
    }
    if !q.stage.is_empty() {
        match STAGES.iter().find(|c| **c == q.stage) {
            Some(c) => filter.loyalty_stage = Some((*c).into()),
            None => bad("value.loyalty_stage", &q.stage),
        }
    }
    match q.churn.as_str() {
        "" => {}
        "yes" => filter.churn_risk = Some(true),
        "no" => filter.churn_risk = Some(false),
        other => bad("value.churn", other),
    }
    let sort = match q.sort.as_str() {
        "" | "id" => CustomerSort::Id,
        "-id" => CustomerSort::IdDesc,
        "name" => CustomerSort::Name,
        "-name" => CustomerSort::NameDesc,
        "-clv" => CustomerSort::ClvDesc,
        "-value_at_risk" => CustomerSort::ValueAtRiskDesc,
        other => {
            notices.push(format!(
                "{}: {} '{}'",
                lang.t("error.bad_filter"),
                lang.t("list.sort"),
                other
            ));
            CustomerSort::Id
        }
    };
    let limit = q.limit.parse::<u32>().ok().map(|l| l.clamp(1, 200));
    let mut page = PageRequest {
        limit: Some(limit.unwrap_or(25)),
        after: opt(&q.after),
    };
    let result = match st
        .store
        .list_visible_customers(&filter, &me.visible, sort, &page)
        .await
    {
        Err(StoreError::Invalid(_)) if page.after.is_some() => {
            notices.push(lang.t("error.bad_cursor").to_string());
            page.after = None;
            st.store
                .list_visible_customers(&filter, &me.visible, sort, &page)
                .await
        }
        r => r,
    };
    let result = match result {
        Ok(p) => p,
        Err(e) => return store_error_page(lang, &e),
    };
    let n = result.items.len() as i64;
    if let Err(e) = st
        .store
        .audit(&me.actor, "list", None, Some("customers (web)"), Some(n))
        .await
    {
        return store_error_page(lang, &e);
    }
    let ids: Vec<i64> = result.items.iter().map(|c| c.id).collect();
    let figures: BTreeMap<i64, CustomerValueRow> = match st.store.customer_values_of(&ids).await {
        Ok(rows) => rows.into_iter().map(|r| (r.customer_id, r)).collect(),
        Err(e) => return store_error_page(lang, &e),
    };
    let back = format!("/customers?{}", q.to_query(page.after.as_deref()));
    let body = html! {
        div.pagehead {
            h1 { (lang.t("list.title")) }
        }
        @for n in &notices { div.notice.warn role="status" { (n) } }
        form.filters.panel method="get" action="/customers" {
            label.grow {
                span { (lang.t("list.search")) }
                input type="search" name="q" value=(q.q) placeholder=(lang.t("list.search_placeholder"));
            }
            label {
                span { (lang.t("field.status")) }
                select name="status" {
                    option value="" { (lang.t("list.any")) }
                    @for s in CustomerStatus::ALL {
                        option value=(s.as_str()) selected[q.status == s.as_str()] { (status_label(lang, *s)) }
                    }
                }
            }
            label {
                span { (lang.t("field.region")) }
                input type="text" name="region" value=(q.region) size="12";
            }
            label {
                span { (lang.t("field.industry")) }
                input type="text" name="industry" value=(q.industry) size="12";
            }
            label {
                span { (lang.t("value.abc")) }
                select name="abc" {
                    option value="" { (lang.t("list.any")) }
                    @for c in ABC { option value=(c) selected[q.abc == *c] { (c) } }
                }
            }
            label {
                span { (lang.t("value.rfm_segment")) }
                select name="segment" {
                    option value="" { (lang.t("list.any")) }
                    @for c in SEGMENTS { option value=(c) selected[q.segment == *c] { (lang.t(&format!("segment.{c}"))) } }
                }
            }
            label {
                span { (lang.t("value.grade")) }
                select name="grade" {
                    option value="" { (lang.t("list.any")) }
                    @for c in GRADES { option value=(c) selected[q.grade == *c] { (c) } }
                }
            }
            label {
                span { (lang.t("value.loyalty_stage")) }
                select name="stage" {
                    option value="" { (lang.t("list.any")) }
                    @for c in STAGES { option value=(c) selected[q.stage == *c] { (lang.t(&format!("stage.{c}"))) } }
                }
            }
            label {
                span { (lang.t("value.churn")) }
                select name="churn" {
                    option value="" { (lang.t("list.any")) }
                    option value="yes" selected[q.churn == "yes"] { (lang.t("list.churn_yes")) }
                    option value="no" selected[q.churn == "no"] { (lang.t("list.churn_no")) }
                }
            }
            label {
                span { (lang.t("list.sort")) }
                select name="sort" {
                    @for s in CustomerSort::NAMES {
                        option value=(s) selected[q.sort == s || (q.sort.is_empty() && s == "id")] { (lang.t(&format!("sort.{s}"))) }
                    }
                }
            }
            div.actions {
                button.primary type="submit" { (lang.t("list.filter")) }
                a.button href="/customers" { (lang.t("list.reset")) }
            }
        }
        div.panel.flush {
            @if result.items.is_empty() {
                p.empty { (lang.t("list.empty")) }
            } @else {
                table.data id="customers" {
                    thead { tr {
                        th { (lang.t("field.number")) }
                        th { (lang.t("field.name")) }
                        th { (lang.t("field.company")) }
                        th { (lang.t("field.industry")) }
                        th { (lang.t("field.region")) }
                        th { (lang.t("field.status")) }
                        th { (lang.t("value.abc")) }
                        th { (lang.t("value.rfm_segment")) }
                        th.num { (lang.t("value.margin_to_date")) }
                        th.num { "CLV" }
                        th { (lang.t("value.churn")) }
                    } }
                    tbody {
                        @for c in &result.items {
                            tr {
                                td.mono { a href=(format!("/customers/{}", c.id)) { (c.data.number.as_deref().unwrap_or("")) } }
                                td { a href=(format!("/customers/{}", c.id)) { (c.data.name) } }
                                td.company title=(c.data.company.as_deref().unwrap_or("")) { (c.data.company.as_deref().unwrap_or("")) }
                                td { (c.data.industry.as_deref().unwrap_or("")) }
                                td { (c.data.region.as_deref().unwrap_or("")) }
                                td { (status_badge(lang, c.data.status)) }
                                @let v = figures.get(&c.id);
                                td { @if let Some(v) = v { span class=(format!("badge abc-{}", v.abc_class)) { (v.abc_class) } } }
                                td { @if let Some(seg) = v.and_then(|v| v.rfm_segment.as_deref()) { (lang.t(&format!("segment.{seg}"))) } }
                                td.num { @if let Some(v) = v { (i18n::money_cents(lang, v.margin_cents)) } }
                                td.num { @if let Some(clv) = v.and_then(|v| v.clv) { (i18n::money(lang, clv)) } }
                                td { @if v.is_some_and(|v| v.churn_risk) { span.badge.risk { (lang.t("list.churn_yes")) } } }
                            }
                        }
                    }
                }
            }
        }
        nav.pager {
            span.muted { (i18n::count(result.items.len() as u64)) " " (lang.t("list.shown")) }
            @if page.after.is_some() {
                a.button href=(format!("/customers?{}", q.to_query(None))) { "« " (lang.t("list.first")) }
            }
            @if let Some(next) = &result.next {
                a.button.primary rel="next" id="next-page" href=(format!("/customers?{}", q.to_query(Some(next)))) { (lang.t("list.next")) " »" }
            }
        }
    };
    html(
        StatusCode::OK,
        layout::page_at(lang, lang.t("list.title"), "customers", &back, body),
    )
}

pub(crate) fn status_label(lang: Lang, s: CustomerStatus) -> &'static str {
    lang.t(&format!("status.{}", s.as_str()))
}

fn status_badge(lang: Lang, s: CustomerStatus) -> Markup {
    html! { span class=(format!("badge status-{}", s.as_str())) { (status_label(lang, s)) } }
}

fn loyalty_label(lang: Lang, l: Loyalty) -> &'static str {
    lang.t(&format!("loyalty.{}", l.as_str()))
}

// ---------------------------------------------------------------------------------------------
// The card

/// Orders per page of the card.
const ORDERS_PER_PAGE: u32 = 20;
/// Interactions per page of the card's timeline.
const TIMELINE_PER_PAGE: u32 = 50;

/// Profile fields shown in the form, in order, with their input type.
const TEXT_FIELDS: &[(&str, &str)] = &[
    ("name", "text"),
    ("company", "text"),
    ("industry", "text"),
    ("region", "text"),
    ("address", "text"),
    ("phone", "tel"),
    ("fax", "tel"),
    ("email", "text"),
    ("employees", "text"),
    ("registered_capital", "text"),
    ("source", "text"),
    ("awards", "text"),
    ("credit_rating", "text"),
    ("credit_limit", "text"),
    ("tags", "text"),
];

/// Form values as text, keyed by field name.
type FormValues = BTreeMap<String, String>;

fn form_values(c: &Customer) -> FormValues {
    let d = &c.data;
    let mut v = FormValues::new();
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    v.insert("name".into(), d.name.clone());
    v.insert("company".into(), s(&d.company));
    v.insert("industry".into(), s(&d.industry));
    v.insert("region".into(), s(&d.region));
    v.insert("address".into(), s(&d.address));
    v.insert("phone".into(), s(&d.phone));
    v.insert("fax".into(), s(&d.fax));
    v.insert("email".into(), s(&d.email));
    v.insert(
        "employees".into(),
        d.employees.map(|n| n.to_string()).unwrap_or_default(),
    );
    v.insert(
        "registered_capital".into(),
        d.registered_capital
            .map(|m| m.to_string())
            .unwrap_or_default(),
    );
    v.insert("source".into(), s(&d.source));
    v.insert("awards".into(), s(&d.awards));
    v.insert("credit_rating".into(), s(&d.credit_rating));
    v.insert(
        "credit_limit".into(),
        d.credit_limit.map(|m| m.to_string()).unwrap_or_default(),
    );
    v.insert("tags".into(), d.tags.join(", "));
    v.insert("status".into(), d.status.as_str().into());
    v.insert("loyalty".into(), d.loyalty.as_str().into());
    v.insert(
        "marketing_opt_out".into(),
        if d.marketing_opt_out { "on" } else { "" }.into(),
    );
    v
}

/// What the card shows besides the record.
#[derive(Default)]
pub(crate) struct CardView {
    pub(crate) values: Option<FormValues>,
    pub(crate) errors: Vec<FieldError>,
    pub(crate) saved: bool,
    pub(crate) conflict: Option<FormValues>,
    pub(crate) notice: Option<String>,
    /// The notice of a form of the workplace that went through (`?ok=`).
    pub(crate) ok: Option<&'static str>,
    /// A form of the workplace that was refused.
    pub(crate) posted: Option<card::Posted>,
    /// The cursors of the orders' and the timeline's pages.
    pub(crate) orders_after: Option<String>,
    pub(crate) timeline_after: Option<String>,
}

fn parse_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

fn not_found(lang: Lang) -> Response {
    error_page(
        lang,
        StatusCode::NOT_FOUND,
        lang.t("error.not_found"),
        lang.t("error.no_customer"),
    )
}

pub async fn card(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(id) = parse_id(&raw) else {
        return not_found(lang);
    };
    // Another user's customer is "not found", exactly like a missing one.
    if let Err(e) = me.check(&st.store, id, false).await {
        return store_error_page(lang, &e);
    }
    if let Err(e) = st
        .store
        .audit(&me.actor, "view", Some(id), Some("card (web)"), None)
        .await
    {
        return store_error_page(lang, &e);
    }
    let pairs = parse_pairs(query.as_deref().unwrap_or("").as_bytes());
    let saved = get_param(&pairs, "saved") == Some("1");
    let cursor = |k: &str| get_param(&pairs, k).map(str::trim).and_then(opt);
    render_card(
        &st,
        lang,
        &me,
        id,
        StatusCode::OK,
        CardView {
            saved,
            ok: get_param(&pairs, "ok").and_then(card::ok_key),
            orders_after: cursor("orders_after"),
            timeline_after: cursor("timeline_after"),
            ..CardView::default()
        },
    )
    .await
}

/// `POST /customers/{id}`: saves the profile form.
pub async fn save(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let Some(id) = parse_id(&raw) else {
        return not_found(lang);
    };
    if let Err(e) = me.check(&st.store, id, true).await {
        return store_error_page(lang, &e);
    }
    let pairs = parse_pairs(&body);
    let Some(version) = get_param(&pairs, "version").and_then(|v| v.trim().parse::<i64>().ok())
    else {
        return render_card(
            &st,
            lang,
            &me,
            id,
            StatusCode::BAD_REQUEST,
            CardView {
                notice: Some(lang.t("error.bad_form").into()),
                ..CardView::default()
            },
        )
        .await;
    };
    let mut submitted = FormValues::new();
    for (f, _) in TEXT_FIELDS {
        submitted.insert((*f).into(), get_param(&pairs, f).unwrap_or("").to_string());
    }
    for f in ["status", "loyalty"] {
        submitted.insert(f.into(), get_param(&pairs, f).unwrap_or("").to_string());
    }
    submitted.insert(
        "marketing_opt_out".into(),
        if get_param(&pairs, "marketing_opt_out").is_some() {
            "on"
        } else {
            ""
        }
        .into(),
    );
    let (patch, mut errors) = to_patch(&submitted);
    if !errors.is_empty() {
        // Show the domain's checks of the other fields too, without writing anything.
        if let Ok(current) = st.store.customer(id).await {
            if let Err(more) = current.data.patched(&patch) {
                let more: Vec<FieldError> = more
                    .into_iter()
                    .filter(|e| !errors.iter().any(|x| x.field == e.field))
                    .collect();
                errors.extend(more);
            }
        }
        return invalid(&st, lang, &me, id, submitted, errors).await;
    }
    // The change and its audit row are one transaction.
    let mut fields: Vec<&str> = patch.keys().map(String::as_str).collect();
    fields.sort_unstable();
    let audited = me.audited(
        &st.store,
        "update",
        Some(id),
        format!("{} (web)", fields.join(",")),
    );
    match audited
        .update_customer(id, &patch, Some(version), &me.user.username)
        .await
    {
        Ok(_) => {
            if let Err(e) = audited.finish_audit().await {
                return store_error_page(lang, &e);
            }
            Redirect::to(&format!("/customers/{id}?saved=1")).into_response()
        }
        Err(StoreError::Invalid(errors)) => invalid(&st, lang, &me, id, submitted, errors).await,
        Err(StoreError::Conflict { .. }) => {
            render_card(
                &st,
                lang,
                &me,
                id,
                StatusCode::CONFLICT,
                CardView {
                    conflict: Some(submitted),
                    ..CardView::default()
                },
            )
            .await
        }
        Err(e) => store_error_page(lang, &e),
    }
}

async fn invalid(
    st: &WebState,
    lang: Lang,
    me: &Session,
    id: i64,
    submitted: FormValues,
    errors: Vec<FieldError>,
) -> Response {
    render_card(
        st,
        lang,
        me,
        id,
        StatusCode::UNPROCESSABLE_ENTITY,
        CardView {
            values: Some(submitted),
            errors,
            ..CardView::default()
        },
    )
    .await
}

/// Turns the submitted text into a customer patch; errors for values that are not even of the
/// right type (the domain checks the rest).
fn to_patch(v: &FormValues) -> (patron_domain::CustomerPatch, Vec<FieldError>) {
    let mut patch = patron_domain::CustomerPatch::new();
    let mut errors = Vec::new();
    let text = |k: &str| v.get(k).map(|s| s.trim()).unwrap_or("");
    for k in [
        "name",
        "company",
        "industry",
        "region",
        "address",
        "phone",
        "fax",
        "email",
        "source",
        "awards",
        "credit_rating",
        "registered_capital",
        "credit_limit",
    ] {
        let t = text(k);
        let value = if t.is_empty() && k != "name" {
            Value::Null
        } else {
            Value::String(t.to_string())
        };
        patch.insert(k.into(), value);
    }
    match text("employees") {
        "" => {
            patch.insert("employees".into(), Value::Null);
        }
        t => match t.replace([',', ' '], "").parse::<i64>() {
            Ok(n) => {
                patch.insert("employees".into(), Value::from(n));
            }
            Err(_) => errors.push(FieldError::new(
                "employees",
                format!("'{t}' is not a whole number"),
            )),
        },
    }
    let tags: Vec<Value> = text("tags")
        .split([',', '，', ';'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| Value::String(t.to_string()))
        .collect();
    patch.insert("tags".into(), Value::Array(tags));
    match text("status").parse::<CustomerStatus>() {
        Ok(s) => {
            patch.insert("status".into(), Value::String(s.as_str().into()));
        }
        Err(e) => errors.push(FieldError::new("status", e)),
    }
    match text("loyalty").parse::<Loyalty>() {
        Ok(l) => {
            patch.insert("loyalty".into(), Value::String(l.as_str().into()));
        }
        Err(e) => errors.push(FieldError::new("loyalty", e)),
    }
    patch.insert(
        "marketing_opt_out".into(),
        Value::Bool(!text("marketing_opt_out").is_empty()),
    );
    (patch, errors)
}

/// A validation message in the interface language. The domain phrases its messages in
/// English; in Chinese the known kinds are translated.
fn error_message(lang: Lang, e: &FieldError) -> String {
    if lang == Lang::En {
        return e.message.clone();
    }
    let m = e.message.as_str();
    let key = if m.contains("is required") {
        "invalid.required"
    } else if m.contains("e-mail") {
        "invalid.email"
    } else if m.contains("phone number") {
        "invalid.phone"
    } else if m.contains("longer than") {
        "invalid.too_long"
    } else if m.contains("0 or more") {
        "invalid.negative"
    } else if m.contains("whole number") {
        "invalid.number"
    } else if m.contains("amount") || m.contains("decimals") {
        "invalid.amount"
    } else {
        "invalid.other"
    };
    lang.t(key).to_string()
}

/// The card: the profile form, the rep's workplace (contacts, activity, tasks, actions) and
/// every panel about the customer; each query is keyed by the customer's id.
pub(crate) async fn render_card(
    st: &WebState,
    lang: Lang,
    me: &Session,
    id: i64,
    status: StatusCode,
    view: CardView,
) -> Response {
    let customer = match st.store.customer(id).await {
        Ok(c) => c,
        Err(StoreError::NotFound { .. }) => return not_found(lang),
        Err(e) => return store_error_page(lang, &e),
    };
    let order_filter = OrderFilter {
        customer_id: Some(id),
        ..OrderFilter::default()
    };
    let mut orders_after = view.orders_after.clone();
    let mut timeline_after = view.timeline_after.clone();
    let mut bad_cursor = false;
    let loaded = async {
        let contacts = st.store.contacts(id).await?;
        let page = |limit: u32, after: &Option<String>| PageRequest {
            limit: Some(limit),
            after: after.clone(),
        };
        // A stale or edited cursor shows the first page (with a notice), never an error.
        let orders = match st
            .store
            .list_orders(&order_filter, &page(ORDERS_PER_PAGE, &orders_after))
            .await
        {
            Err(StoreError::Invalid(_)) if orders_after.is_some() => {
                bad_cursor = true;
                orders_after = None;
                st.store
                    .list_orders(&order_filter, &page(ORDERS_PER_PAGE, &None))
                    .await?
            }
            r => r?,
        };
        let interactions = match st
            .store
            .list_interactions(Some(id), None, &page(TIMELINE_PER_PAGE, &timeline_after))
            .await
        {
            Err(StoreError::Invalid(_)) if timeline_after.is_some() => {
                bad_cursor = true;
                timeline_after = None;
                st.store
                    .list_interactions(Some(id), None, &page(TIMELINE_PER_PAGE, &None))
                    .await?
            }
            r => r?,
        };
        let history = st.store.customer_history(id, 50).await?;
        let stored = st.store.customer_value(id).await?;
        // Without stored figures the value panel adds up the orders themselves (at most 500
        // orders, counted as orders: the store pages orders, not lines).
        let totals = match &stored {
            Some(_) => None,
            None => Some(
                st.store
                    .list_orders(&order_filter, &page(500, &None))
                    .await?,
            ),
        };
        Ok::<_, StoreError>((contacts, orders, interactions, history, stored, totals))
    }
    .await;
    let (contacts, orders, interactions, history, stored, totals) = match loaded {
        Ok(x) => x,
        Err(e) => return store_error_page(lang, &e),
    };
    let extras = match card::load(st, me, &customer).await {
        Ok(x) => x,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    let posted = view.posted.as_ref();
    let values = view
        .values
        .clone()
        .unwrap_or_else(|| form_values(&customer));
    let err_for = |field: &str| -> Option<String> {
        view.errors
            .iter()
            .find(|e| e.field == field || e.field.starts_with(&format!("{field}.")))
            .map(|e| error_message(lang, e))
    };
    let d = &customer.data;
    let title = d.name.clone();
    let all_orders = totals.as_ref().map(|p| p.items.as_slice()).unwrap_or(&[]);
    let revenue: i64 = all_orders.iter().map(|o| o.amount.cents()).sum();
    let cost: i64 = all_orders.iter().map(|o| o.cost.cents()).sum();
    let partial = totals.as_ref().is_some_and(|p| p.next.is_some());
    let back = format!("/customers/{id}");
    let body = html! {
        div.pagehead {
            div {
                p.crumbs { a href="/customers" { "← " (lang.t("card.back")) } }
                h1 { (d.name) " " small.mono { (d.number.as_deref().unwrap_or("")) } }
                p.sub {
                    (status_badge(lang, d.status))
                    @if let Some(c) = &d.company { " · " (c) }
                    @if let Some(i) = &d.industry { " · " (i) }
                    @if let Some(r) = &d.region { " · " (r) }
                }
                p { a #brief-link href=(format!("/customers/{id}/brief")) { (crate::work::t(lang, "fu.brief")) " →" } }
            }
        }
        (card::actions(lang, id))
        @if let Some(m) = customer.merged_into {
            div.notice.warn { (lang.t("card.merged")) " " a href=(format!("/customers/{m}")) { "#" (m) } }
        }
        @if view.saved { div.notice.ok role="status" id="saved" { (lang.t("card.saved")) } }
        @if let Some(k) = view.ok { div.notice.ok role="status" id="done" { (card::t(lang, k)) } }
        @if bad_cursor { div.notice.warn role="status" { (card::t(lang, "cw.bad_cursor")) } }
        @if let Some(p) = posted { (card::posted_notice(lang, p)) }
        @if let Some(n) = &view.notice { div.notice.warn role="alert" { (n) } }
        @if !view.errors.is_empty() { div.notice.error role="alert" id="invalid" { (lang.t("card.invalid")) } }
        @if let Some(mine) = &view.conflict {
            div.notice.error role="alert" id="conflict" {
                p { (lang.t("card.conflict")) }
                @let current = form_values(&customer);
                @let changed: Vec<_> = mine.iter().filter(|(k, v)| current.get(*k) != Some(*v)).collect();
                @if !changed.is_empty() {
                    p { strong { (lang.t("card.your_values")) ":" } }
                    ul {
                        @for (k, v) in changed {
                            li { (lang.t(&format!("field.{k}"))) ": " code { (v) } }
                        }
                    }
                }
            }
        }
        div.cardgrid {
            section.panel.profile {
                h2 { (lang.t("card.profile")) }
                form method="post" action=(format!("/customers/{id}")) id="profile" novalidate { (crate::auth::csrf_field())
                    input type="hidden" name="version" value=(customer.version);
                    div.formgrid {
                        @for (field, kind) in TEXT_FIELDS {
                            @let err = err_for(field);
                            div class=(if err.is_some() { "field has-error" } else { "field" }) {
                                label for=(format!("f-{field}")) {
                                    (lang.t(&format!("field.{field}")))
                                    @if *field == "tags" { " " small.muted { "(" (lang.t("field.tags_hint")) ")" } }
                                }
                                input id=(format!("f-{field}")) type=(kind) name=(field)
                                    value=(values.get(*field).map(String::as_str).unwrap_or(""))
                                    aria-invalid=[err.as_ref().map(|_| "true")]
                                    aria-describedby=[err.as_ref().map(|_| format!("err-{field}"))];
                                @if let Some(m) = &err {
                                    p.field-error id=(format!("err-{field}")) { (m) }
                                }
                            }
                        }
                        @let status_err = err_for("status");
                        div class=(if status_err.is_some() { "field has-error" } else { "field" }) {
                            label for="f-status" { (lang.t("field.status")) }
                            select id="f-status" name="status" {
                                @for s in CustomerStatus::ALL {
                                    option value=(s.as_str()) selected[values.get("status").map(String::as_str) == Some(s.as_str())] { (status_label(lang, *s)) }
                                }
                            }
                            @if let Some(m) = &status_err { p.field-error id="err-status" { (m) } }
                        }
                        @let loyalty_err = err_for("loyalty");
                        div class=(if loyalty_err.is_some() { "field has-error" } else { "field" }) {
                            label for="f-loyalty" { (lang.t("field.loyalty")) }
                            select id="f-loyalty" name="loyalty" {
                                @for l in Loyalty::ALL {
                                    option value=(l.as_str()) selected[values.get("loyalty").map(String::as_str) == Some(l.as_str())] { (loyalty_label(lang, *l)) }
                                }
                            }
                            @if let Some(m) = &loyalty_err { p.field-error id="err-loyalty" { (m) } }
                        }
                        div.field.check {
                            label {
                                input type="checkbox" name="marketing_opt_out" checked[values.get("marketing_opt_out").is_some_and(|v| !v.is_empty())];
                                " " (lang.t("field.marketing_opt_out"))
                            }
                        }
                    }
                    @let others: Vec<&FieldError> = view.errors.iter().filter(|e| !TEXT_FIELDS.iter().any(|(f, _)| e.field == *f || e.field.starts_with(&format!("{f}."))) && e.field != "status" && e.field != "loyalty").collect();
                    @for e in others { p.field-error { (e.field) ": " (error_message(lang, e)) } }
                    div.formfoot {
                        span.muted { (lang.t("field.version")) " " (customer.version) " · " (lang.t("field.updated_at")) " " (i18n::datetime(lang, customer.updated_at)) }
                        button.primary type="submit" { (lang.t("card.save")) }
                    }
                }
            }
            div.side {
                (value_panel(lang, stored.as_ref(), revenue, cost, all_orders.len(), partial, crate::overview::may_recompute(me.user.role)))
                (card::relations(lang, &customer, &extras))
                (card::contacts(lang, id, &contacts, posted))
            }
        }
        div.twocol {
            (card::activity(lang, id, posted))
            (card::tasks(lang, id, &extras.tasks, posted))
        }
        div.twocol {
            (card::invoices(lang, &extras.invoices))
            (card::tickets(lang, &extras.tickets))
        }
        div.twocol {
            (card::opportunities(lang, &extras.opportunities))
            (card::surveys(lang, &extras.surveys))
        }
        (card::orders(lang, id, &orders, orders_after.as_deref()))
        div.twocol {
            (card::timeline(lang, id, &interactions, timeline_after.as_deref()))
            section.panel id="history" {
                h2 { (lang.t("card.history")) }
                @if history.is_empty() {
                    p.empty { (lang.t("card.no_history")) }
                } @else {
                    table.data.compact {
                        thead { tr {
                            th { (lang.t("card.when")) }
                            th { (lang.t("card.who")) }
                            th { (lang.t("card.field")) }
                            th { (lang.t("card.old")) }
                            th { (lang.t("card.new")) }
                        } }
                        tbody {
                            @for h in &history {
                                tr {
                                    td.nowrap { (i18n::datetime(lang, h.changed_at)) }
                                    td { (h.changed_by) }
                                    td.nowrap { (field_label(lang, &h.field)) }
                                    td.old.value { (h.old_value.as_deref().unwrap_or("")) }
                                    td.value { (h.new_value.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    html(
        status,
        layout::page_at(lang, &title, "customers", &back, body),
    )
}

/// The label of a history field name (unknown names, such as custom fields, as they are).
fn field_label(lang: Lang, field: &str) -> String {
    let key = format!("field.{field}");
    if i18n::keys().any(|k| k == key) {
        lang.t(&key).to_string()
    } else {
        field.to_string()
    }
}

/// The value panel: the stored figures of the last value refresh, or what the orders alone
/// tell (with a link to the dashboard's recompute for those who may press it).
fn value_panel(
    lang: Lang,
    v: Option<&CustomerValueRow>,
    revenue: i64,
    cost: i64,
    n_orders: usize,
    partial: bool,
    may_recompute: bool,
) -> Markup {
    let opt_num = |x: Option<f64>, digits: usize| match x {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        _ => "–".into(),
    };
    html! {
        section.panel.valuepanel id="value" {
            h2 { (lang.t("value.title")) }
            @if let Some(v) = v {
                dl.figures {
                    dt { (lang.t("value.margin_to_date")) }
                    dd.big { (i18n::money_cents(lang, v.margin_cents)) }
                    dt { (lang.t("value.clv")) }
                    dd.big { @match v.clv { Some(c) => (i18n::money(lang, c)), None => "–" } }
                    dt { (lang.t("value.p_alive")) }
                    dd { (v.p_alive.map(|p| i18n::pct(p * 100.0)).unwrap_or_else(|| "–".into())) }
                    dt { (lang.t("value.expected_purchases")) }
                    dd { (opt_num(v.expected_purchases, 2)) }
                    dt { (lang.t("value.revenue_to_date")) }
                    dd { (i18n::money_cents(lang, v.revenue_cents)) }
                    dt { (lang.t("value.orders_to_date")) }
                    dd { (i18n::count(v.orders.max(0) as u64)) }
                    dt { (lang.t("value.rfm")) }
                    dd {
                        @if let (Some(r), Some(f), Some(m)) = (v.rfm_r, v.rfm_f, v.rfm_m) { "R" (r) " F" (f) " M" (m) } @else { "–" }
                    }
                    dt { (lang.t("value.rfm_segment")) }
                    dd { @match v.rfm_segment.as_deref() { Some(s) => (lang.t(&format!("segment.{s}"))), None => "–" } }
                    dt { (lang.t("value.abc")) }
                    dd { span class=(format!("badge abc-{}", v.abc_class)) { (v.abc_class) } }
                    dt { (lang.t("value.grade")) }
                    dd {
                        @match v.grade.as_deref() {
                            Some(g) => {
                                (g) @if let Some(sc) = v.score { " (" (format!("{sc:.0}")) "/100)" }
                                @if v.orders == 0 && v.frequency.is_none() {
                                    " " span.muted.small { (lang.t("value.grade_attributes")) }
                                }
                            },
                            None => "–",
                        }
                    }
                    dt { (lang.t("value.loyalty_stage")) }
                    dd { @match v.loyalty_stage.as_deref() { Some(s) => (lang.t(&format!("stage.{s}"))), None => "–" } }
                    dt { (lang.t("value.phase")) }
                    dd { @match v.lifecycle_phase.as_deref() { Some(s) => (lang.t(&format!("phase.{s}"))), None => "–" } }
                }
                h3 { (lang.t("value.churn")) }
                @if v.churn_reasons.is_empty() {
                    p.muted { (lang.t("value.no_churn")) }
                } @else {
                    p { (lang.t("value.value_at_risk")) ": " strong { (i18n::money(lang, v.value_at_risk)) } }
                    ul.reasons {
                        @for r in &v.churn_reasons { li.reason { (stored_reason(lang, r)) } }
                    }
                }
                p.muted.small { (lang.t("value.as_of")) " " (i18n::datetime(lang, v.computed_at)) }
            } @else {
                dl.figures {
                    dt { (lang.t("value.margin_to_date")) }
                    dd.big { @if partial { "≥ " } (i18n::money_cents(lang, revenue - cost)) }
                    dt { (lang.t("value.revenue_to_date")) }
                    dd { @if partial { "≥ " } (i18n::money_cents(lang, revenue)) }
                    dt { (lang.t("value.orders_to_date")) }
                    dd { @if partial { "≥ " } (i18n::count(n_orders as u64)) }
                }
                p.notcomputed {
                    (lang.t("value.clv")) ", " (lang.t("value.p_alive")) ", " (lang.t("value.rfm")) ", " (lang.t("value.abc")) ", "
                    (lang.t("value.loyalty_stage")) ", " (lang.t("value.phase")) ", " (lang.t("value.churn")) ": "
                    br;
                    em { (lang.t("value.not_computed")) }
                    @if may_recompute {
                        br;
                        a id="recompute-link" href="/dashboard#recompute" { (lang.t("value.recompute_link")) }
                    }
                }
            }
        }
    }
}

/// A stored churn reason in the interface language (from its figures when present).
pub(crate) fn stored_reason(lang: Lang, r: &patron_store::StoredChurnReason) -> String {
    use patron_value::churn::ReasonKind;
    // Read through JSON: the figures map is newer than the reason's kind and detail.
    let json = serde_json::to_value(r).unwrap_or_default();
    let f = |k: &str| {
        json.get("figures")
            .and_then(|m| m.get(k))
            .and_then(Value::as_f64)
    };
    let kind =
        match r.kind.as_str() {
            "revenue_drop" => f("current").zip(f("previous")).zip(f("change")).map(
                |((current, previous), change)| ReasonKind::RevenueDrop {
                    current,
                    previous,
                    change,
                    // Snapshots before the figure was stored used the default period.
                    period_days: f("period_days").map_or(90, |d| d as u32),
                },
            ),
            "long_absence" => {
                f("days_since_last")
                    .zip(f("mean_gap_days"))
                    .map(|(d, g)| ReasonKind::LongAbsence {
                        days_since_last: d,
                        mean_gap_days: g,
                        ratio: f("ratio").unwrap_or(d / g),
                    })
            }
            "low_p_alive" => f("p_alive")
                .zip(f("threshold"))
                .map(|(p_alive, threshold)| ReasonKind::LowPAlive { p_alive, threshold }),
            "no_second_purchase" => f("days_since_purchase").zip(f("typical_gap_days")).map(
                |(days_since_purchase, typical_gap_days)| ReasonKind::NoSecondPurchase {
                    days_since_purchase,
                    typical_gap_days,
                    quantile: f("quantile").unwrap_or(0.9),
                    repeat_buyers: f("repeat_buyers").map_or(0, |n| n.max(0.0) as u32),
                },
            ),
            _ => None,
        };
    match kind {
        Some(k) => crate::dashboard::reason(lang, &k),
        None => {
            let key = format!("reason.{}", r.kind);
            if i18n::keys().any(|k| k == key) {
                format!("{}: {}", lang.t(&key), r.detail)
            } else {
                r.detail.clone()
            }
        }
    }
}
