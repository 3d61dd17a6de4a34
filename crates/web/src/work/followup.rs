//! `/work/followup`: the viewer's due and overdue visits and calls by value tier (mark one
//! done: a visit, call or meeting recorded on the customer), the cadence per ABC class
//! (editable by managers and admins), and `/customers/{id}/brief`, the one-page brief before
//! a visit.

use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use chrono::{NaiveDate, Utc};
use maud::{html, Markup};
use patron_app::Session;
use patron_domain::{InteractionInput, InteractionKind};
use patron_store::{PlannedContact, StoreError};

use super::{
    customer_link, field, forbidden, input, manages, notices, page_number, page_rows, pager, t,
    today, work_page, Errors, Form,
};
use crate::i18n::{self, Lang};
use crate::{store_error_page, Ctx, WebState};

const HOW: &[&str] = &["visit", "call", "meeting"];
const CLASSES: &[&str] = &["A", "B", "C"];

pub async fn page_handler(
    st: &WebState,
    lang: Lang,
    me: &Session,
    q: &Form,
    status: StatusCode,
    mut errors: Errors,
    submitted: Option<&Form>,
) -> Response {
    if !me.user.sees_records() {
        return forbidden(lang);
    }
    let as_of = q.date(lang, "as_of", &mut errors).unwrap_or_else(today);
    let status = if !errors.is_empty() && status == StatusCode::OK {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        status
    };
    match body(st, lang, me, as_of, q, &errors, submitted).await {
        Ok(b) => work_page(lang, me, status, "followup", "/work/followup", b),
        Err(e) => crate::app_error_page(lang, &e),
    }
}

pub async fn page(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    raw: RawQuery,
) -> Response {
    let q = Form::query(&raw);
    page_handler(&st, lang, &me, &q, StatusCode::OK, Errors::default(), None).await
}

async fn body(
    st: &WebState,
    lang: Lang,
    me: &Session,
    as_of: NaiveDate,
    q: &Form,
    errors: &Errors,
    submitted: Option<&Form>,
) -> Result<Markup, patron_app::AppError> {
    let ok = q.get("ok");
    // A rep's plan is their own customers (not the pool's); a manager's, their scope's.
    let plan: Vec<PlannedContact> =
        patron_app::work::followup_plan(&st.store, me, as_of, (!manages(me)).then_some(me.user.id))
            .await?;
    // The search: customers whose name contains the words typed (any letter case).
    let search = q.get("q").to_lowercase();
    let found = |p: &&PlannedContact| {
        search.is_empty()
            || search
                .split_whitespace()
                .all(|w| p.customer_name.to_lowercase().contains(w))
    };
    let due: Vec<&PlannedContact> = plan
        .iter()
        .filter(|p| p.days_overdue >= 0)
        .filter(found)
        .collect();
    let soon: Vec<&PlannedContact> = plan
        .iter()
        .filter(|p| (-14..0).contains(&p.days_overdue))
        .filter(found)
        .collect();
    let (due_rows, due_page) = page_rows(&due, page_number(q, "page"));
    let (soon_rows, soon_page) = page_rows(&soon, page_number(q, "upage"));
    let cadence = st.store.followup_cadence().await?;
    let ok = match ok {
        "done" => Some("fu.done_ok"),
        "cadence" => Some("work.saved"),
        _ => None,
    };
    let cadence_value = |class: &str, days: i64| -> String {
        submitted
            .map(|f| f.get(class).to_string())
            .unwrap_or_else(|| days.to_string())
    };
    Ok(html! {
        (notices(lang, ok, errors))
        form.filters.panel method="get" action="/work/followup" {
            (field(t(lang, "work.as_of"), "q-as_of", errors.get("as_of"), input("q-as_of", "as_of", "date", &as_of.to_string(), errors.get("as_of").is_some())))
            label for="q-q" {
                span { (t(lang, "work.search")) }
                input #q-q type="search" name="q" value=(q.get("q")) placeholder=(t(lang, "work.search_hint"));
            }
            div.actions { button.primary type="submit" { (t(lang, "work.show")) } }
        }
        section.panel.flush id="due" {
            h2 { (t(lang, "fu.title")) " · " (i18n::date(lang, as_of)) }
            @if plan.is_empty() { p.empty { (t(lang, "fu.no_values")) } }
            @else if due.is_empty() { p.empty { (t(lang, if search.is_empty() { "work.none" } else { "work.no_match" })) } }
            @else { (plan_table(lang, due_rows, true)) (pager(lang, "/work/followup", q, "page", due_page, due.len())) }
        }
        section.panel.flush id="upcoming" {
            h2 { (t(lang, "fu.upcoming")) }
            @if soon.is_empty() { p.empty { (t(lang, "work.none")) } }
            @else { (plan_table(lang, soon_rows, false)) (pager(lang, "/work/followup", q, "upage", soon_page, soon.len())) }
        }
        section.panel id="cadence" {
            h2 { (t(lang, "fu.cadence")) }
            @if manages(me) {
                form method="post" action="/work/followup/cadence" id="cadence-form" novalidate { (crate::auth::csrf_field())
                    div.formgrid {
                        @for (class, days) in &cadence {
                            (field(&format!("{} {} ({})", t(lang, "fu.class"), class, t(lang, "fu.days")), &format!("c-{class}"), errors.get(class),
                                input(&format!("c-{class}"), class, "text", &cadence_value(class, *days), errors.get(class).is_some())))
                        }
                    }
                    div.formfoot { span {} button.primary type="submit" { (t(lang, "fu.cadence_save")) } }
                }
            } @else {
                ul { @for (class, days) in &cadence { li { (class) ": " (t(lang, "fu.every")) " " (days) " " (t(lang, "fu.days")) } } }
            }
        }
    })
}

fn plan_table(lang: Lang, rows: &[&PlannedContact], done: bool) -> Markup {
    html! {
        table.data {
            thead { tr {
                th { (t(lang, "work.customer")) } th { (t(lang, "fu.class")) } th.num { (t(lang, "fu.every")) }
                th { (t(lang, "fu.last")) } th { (t(lang, "work.due")) } th.num { (t(lang, "fu.late")) } th {}
            } }
            tbody {
                @for p in rows {
                    tr id=(format!("plan-{}", p.customer_id)) {
                        td { (customer_link(p.customer_id, &p.customer_name)) " · "
                            a href=(format!("/customers/{}/brief", p.customer_id)) { (t(lang, "fu.brief")) } }
                        td {
                            @if p.prospect {
                                span.badge { (t(lang, "fu.prospect_grade")) " " (p.grade.as_deref().unwrap_or("–")) }
                            } @else {
                                span class=(format!("badge abc-{}", p.abc_class)) { (p.abc_class) }
                            }
                        }
                        td.num { (p.cadence_days) " " (t(lang, "fu.days")) }
                        td.nowrap { (p.last_contact.map_or_else(|| t(lang, "fu.never").to_string(), |l| i18n::date(lang, l.date_naive()))) }
                        td.nowrap { (i18n::date(lang, p.due_on)) }
                        td.num { (p.days_overdue.max(0)) }
                        td.nowrap {
                            @if done {
                                form.rowform method="post" action="/work/followup/done" { (crate::auth::csrf_field())
                                    input type="hidden" name="customer" value=(format!("#{}", p.customer_id));
                                    select name="kind" aria-label=(t(lang, "fu.kind")) {
                                        @for k in HOW { option value=(k) { (lang.t(&format!("kind.{k}"))) } }
                                    }
                                    " "
                                    input type="text" name="text" size="14" placeholder=(t(lang, "work.note")) aria-label=(t(lang, "work.note"));
                                    " "
                                    button type="submit" { (t(lang, "fu.done")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /work/followup/done`: records the visit, call or meeting on the customer (the plan
/// counts from it).
pub async fn done(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    if !me.user.sees_records() {
        return forbidden(lang);
    }
    let form = Form::parse(&body);
    let mut errors = Errors::default();
    let c = form
        .customer(lang, &st.store, &me, "customer", true, &mut errors)
        .await;
    let kind = form.choice(lang, "kind", HOW, true, &mut errors);
    let (Some(c), Some(kind), true) = (c, kind, errors.is_empty()) else {
        // The plan's rows carry no visible field for these: say it above the page.
        let mut all = Errors::default();
        for f in ["customer", "kind"] {
            if let Some(m) = errors.get(f) {
                all.add(
                    "",
                    format!(
                        "{}: {m}",
                        t(
                            lang,
                            if f == "kind" {
                                "fu.kind"
                            } else {
                                "work.customer"
                            }
                        )
                    ),
                );
            }
        }
        return page_handler(
            &st,
            lang,
            &me,
            &Form::parse(b""),
            StatusCode::UNPROCESSABLE_ENTITY,
            all,
            None,
        )
        .await;
    };
    let text = match form.get("text") {
        "" => format!("{kind} (follow-up)"),
        t => t.to_string(),
    };
    let input = InteractionInput {
        kind: kind
            .parse::<InteractionKind>()
            .unwrap_or(InteractionKind::Visit),
        occurred_at: None,
        by: Some(me.user.username.clone()),
        contact_id: None,
        text,
        external_id: None,
    };
    match st.store.create_interaction(c, input).await {
        Ok(_) => {
            if let Err(e) = st
                .store
                .audit(
                    &me.actor,
                    "update",
                    Some(c),
                    Some("follow-up done (web)"),
                    None,
                )
                .await
            {
                return store_error_page(lang, &e);
            }
            Redirect::to("/work/followup?ok=done").into_response()
        }
        Err(e) => match Errors::from_store(lang, &e, &[]) {
            Some(errors) => {
                page_handler(
                    &st,
                    lang,
                    &me,
                    &Form::parse(b""),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    errors,
                    None,
                )
                .await
            }
            None => store_error_page(lang, &e),
        },
    }
}

/// `POST /work/followup/cadence` (managers and admins): days between contacts per ABC class.
pub async fn cadence(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    if !manages(&me) {
        return forbidden(lang);
    }
    let form = Form::parse(&body);
    let mut errors = Errors::default();
    let mut days = Vec::new();
    for class in CLASSES {
        match form.int(lang, class, 1..=3650, &mut errors) {
            Some(d) => days.push((*class, d)),
            None if form.get(class).is_empty() => errors.add(class, t(lang, "work.required")),
            None => {}
        }
    }
    if !errors.is_empty() {
        return page_handler(
            &st,
            lang,
            &me,
            &Form::parse(b""),
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            Some(&form),
        )
        .await;
    }
    for (class, d) in &days {
        if let Err(e) = st
            .store
            .set_setting(&format!("followup.days.{class}"), &d.to_string())
            .await
        {
            return store_error_page(lang, &e);
        }
    }
    let detail = days
        .iter()
        .map(|(c, d)| format!("{c}={d}"))
        .collect::<Vec<_>>()
        .join(",");
    if let Err(e) = st
        .store
        .audit(
            &me.actor,
            "update",
            None,
            Some(&format!("follow-up cadence {detail} (web)")),
            None,
        )
        .await
    {
        return store_error_page(lang, &e);
    }
    Redirect::to("/work/followup?ok=cadence").into_response()
}

/// `GET /customers/{id}/brief`: the one-page brief before visiting a customer.
pub async fn brief(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
) -> Response {
    let Some(id) = raw.parse::<i64>().ok().filter(|i| *i > 0) else {
        return store_error_page(lang, &StoreError::not_found("customer", raw));
    };
    if let Err(e) = me.check(&st.store, id, false).await {
        return store_error_page(lang, &e);
    }
    let b = match st.store.visit_brief(id, Utc::now()).await {
        Ok(b) => b,
        Err(e) => return store_error_page(lang, &e),
    };
    if let Err(e) = st
        .store
        .audit(&me.actor, "view", Some(id), Some("brief (web)"), None)
        .await
    {
        return store_error_page(lang, &e);
    }
    let money = |c: i64| i18n::money_cents(lang, c);
    let d = &b.customer.data;
    let body = html! {
        p.crumbs { a href=(format!("/customers/{id}")) { "← " (d.name) } }
        h2 { (t(lang, "fu.brief_of")) " " (d.name) " " small.mono { (d.number.as_deref().unwrap_or("")) } }
        p.sub {
            @if let Some(c) = &d.company { (c) }
            @if let Some(p) = &d.phone { " · " (p) }
            @if let Some(a) = &d.address { " · " (a) }
        }
        div.cardgrid {
            section.panel id="brief-value" {
                h2 { (t(lang, "fu.value")) }
                @match &b.value {
                    Some(v) => {
                        dl.figures {
                            dt { (t(lang, "fu.revenue")) } dd { (money(v.revenue_cents)) }
                            dt { (t(lang, "fu.margin")) } dd { (money(v.margin_cents)) }
                            dt { (t(lang, "fu.orders")) } dd { (v.orders) }
                            dt { "CLV" } dd { (v.clv.map_or_else(|| "–".to_string(), |c| i18n::money(lang, c))) }
                            dt { (lang.t("value.abc")) } dd { span class=(format!("badge abc-{}", v.abc_class)) { (v.abc_class) } }
                            dt { (lang.t("value.grade")) } dd { (v.grade.as_deref().unwrap_or("–")) }
                            dt { (lang.t("value.churn")) } dd { @if v.churn_risk { span.badge.risk { (lang.t("list.churn_yes")) } } @else { (lang.t("list.churn_no")) } }
                        }
                    }
                    None => p.empty { (t(lang, "fu.no_values")) }
                }
                h3 { (t(lang, "rcv.position")) }
                dl.figures {
                    dt { (t(lang, "rcv.limit")) } dd { (b.credit.limit.map_or_else(|| t(lang, "rcv.no_limit").to_string(), |m| money(m.cents()))) }
                    dt { (t(lang, "work.open")) } dd { (money(b.credit.open.cents())) }
                    dt { (t(lang, "rcv.overdue")) } dd { (money(b.credit.overdue.cents())) }
                }
            }
            div.side {
                section.panel id="brief-orders" {
                    h2 { (t(lang, "fu.last_orders")) }
                    @if b.last_orders.is_empty() { p.empty { (t(lang, "work.none")) } } @else {
                        table.data.compact {
                            thead { tr { th { (t(lang, "work.date")) } th { (t(lang, "fu.order")) } th.num { (t(lang, "work.amount")) } } }
                            tbody { @for o in &b.last_orders {
                                tr { td.nowrap { (i18n::date(lang, o.ordered_on)) } td.mono { (o.order_ref) } td.num { (money(o.amount.cents())) } }
                            } }
                        }
                    }
                }
            }
        }
        div.twocol {
            section.panel id="brief-promises" {
                h2 { (t(lang, "fu.promises")) }
                (interactions(lang, &b.promises))
            }
            section.panel id="brief-complaints" {
                h2 { (t(lang, "fu.complaints")) }
                (interactions(lang, &b.complaints))
                h3 { (t(lang, "fu.open_tickets")) }
                @if b.open_tickets.is_empty() { p.empty { (t(lang, "work.none")) } } @else {
                    ul { @for tk in &b.open_tickets {
                        li { a href=(format!("/work/service?customer=%23{id}#t{}", tk.id)) { "#" (tk.id) " " (tk.subject) }
                            @if tk.breached { " " span.badge.risk { (t(lang, "svc.breached")) } } }
                    } }
                }
            }
        }
    };
    work_page(
        lang,
        &me,
        StatusCode::OK,
        "followup",
        &format!("/customers/{id}/brief"),
        body,
    )
}

fn interactions(lang: Lang, v: &[patron_domain::Interaction]) -> Markup {
    html! {
        @if v.is_empty() { p.empty { (t(lang, "work.none")) } } @else {
            ol.timeline {
                @for i in v {
                    li class=(format!("kind-{}", i.kind.as_str())) {
                        span.when { (i18n::date(lang, i.occurred_at.date_naive())) }
                        @if let Some(by) = &i.by { " · " (by) }
                        p { (i.text) }
                    }
                }
            }
        }
    }
}
