//! `/work/service`: open tickets (breached first, with their SLA clock), one customer's tickets
//! with their history (resolve, reopen, escalate, comment) and survey answers, the forms to open a ticket
//! and to record a CSAT or NPS answer, and the SLA sweep (managers and admins).

use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use patron_app::Session;
use patron_domain::service::{Priority, SurveyInput, SurveyKind, Ticket, TicketInput, TicketKind};
use patron_store::StoreError;

use super::{
    customer_link, field, forbidden, input, manages, more, names, notices, t, work_page, Errors,
    Form, ROWS,
};
use crate::i18n::{self, Lang};
use crate::{store_error_page, Ctx, WebState};

const KINDS: &[&str] = &["complaint", "repair", "question"];
const PRIORITIES: &[&str] = &["urgent", "high", "normal", "low"];
const SURVEYS: &[&str] = &["csat", "nps"];

/// The SLA clock: "due in 3h 20m" or "late by 2h 05m".
fn clock(lang: Lang, due: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let d = due - now;
    let (key, m) = if d.num_minutes() >= 0 {
        ("svc.due_in", d.num_minutes())
    } else {
        ("svc.late_by", -d.num_minutes())
    };
    let (days, hours, mins) = (m / 1440, (m % 1440) / 60, m % 60);
    let span = if days > 0 {
        format!("{days}d {hours}h")
    } else {
        format!("{hours}h {mins:02}m")
    };
    format!("{} {span}", t(lang, key))
}

fn ticket_row(lang: Lang, tk: &Ticket, name: &str, now: DateTime<Utc>) -> Markup {
    html! {
        tr id=(format!("ticket-{}", tk.id)) class=[tk.breached.then_some("breached")] {
            td.mono { a href=(format!("/work/service?customer=%23{}#t{}", tk.customer_id, tk.id)) { "#" (tk.id) } }
            td { (customer_link(tk.customer_id, name)) }
            td { (t(lang, &format!("svc.kind.{}", tk.kind.as_str()))) }
            td { (t(lang, &format!("svc.priority.{}", tk.priority.as_str()))) }
            td { (tk.subject) }
            td.nowrap { (i18n::datetime(lang, tk.due_at)) }
            td.nowrap {
                @if tk.status == "open" {
                    @if tk.breached { span.badge.risk { (t(lang, "svc.breached")) } " " }
                    (clock(lang, tk.due_at, now))
                } @else {
                    (t(lang, &format!("svc.status.{}", tk.status)))
                }
            }
            td.num { (tk.escalation_level) }
        }
    }
}

pub async fn page(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    raw: RawQuery,
) -> Response {
    let q = Form::query(&raw);
    render(&st, lang, &me, &q, StatusCode::OK, Errors::default(), None).await
}

async fn render(
    st: &WebState,
    lang: Lang,
    me: &Session,
    q: &Form,
    status: StatusCode,
    mut errors: Errors,
    submitted: Option<(&'static str, &Form)>,
) -> Response {
    if !me.user.sees_records() {
        return forbidden(lang);
    }
    let raw_customer = q.get("customer").to_string();
    let customer = if raw_customer.is_empty() {
        None
    } else {
        let c = super::resolve_customer(&st.store, me, &raw_customer, false).await;
        if c.is_none() && submitted.is_none() {
            errors.add("customer", t(lang, "work.no_customer"));
        }
        c
    };
    let status = if !errors.is_empty() && status == StatusCode::OK {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        status
    };
    match body(st, lang, me, q, customer, &errors, submitted).await {
        Ok(b) => work_page(lang, me, status, "service", "/work/service", b),
        Err(e) => crate::app_error_page(lang, &e),
    }
}

async fn body(
    st: &WebState,
    lang: Lang,
    me: &Session,
    q: &Form,
    customer: Option<i64>,
    errors: &Errors,
    submitted: Option<(&'static str, &Form)>,
) -> Result<Markup, patron_app::AppError> {
    let store = &st.store;
    let now = Utc::now();
    let mut open = patron_app::work::open_tickets(store, me, now).await?;
    open.sort_by(|a, b| {
        b.breached
            .cmp(&a.breached)
            .then(a.due_at.cmp(&b.due_at))
            .then(a.id.cmp(&b.id))
    });
    let (mine, surveys, satisfaction) = match customer {
        Some(c) => (
            store.customer_tickets(c, now).await?,
            store.surveys(c).await?,
            Some(store.satisfaction(c).await?),
        ),
        None => (Vec::new(), Vec::new(), None),
    };
    let ids: Vec<i64> = open
        .iter()
        .map(|tk| tk.customer_id)
        .chain(customer)
        .collect();
    let customer_names = names(store, ids).await?;
    let name = |id: i64| customer_names.get(&id).cloned().unwrap_or_default();
    store
        .audit(
            &me.actor,
            "list",
            customer,
            Some("tickets (web)"),
            Some(open.len() as i64),
        )
        .await?;
    // Values of the form that was submitted (the other form keeps its defaults).
    let v = |form: &str, k: &str, default: &str| -> String {
        match submitted {
            Some((f, values)) if f == form => values.get(k).to_string(),
            _ => default.to_string(),
        }
    };
    let err = |form: &str, k: &str| -> Option<String> {
        match submitted {
            Some((f, _)) if f == form => errors.get(k).map(String::from),
            _ => None,
        }
    };
    // As a reference the forms read back: `#id` (a bare number is a customer number).
    let cust = customer.map(|c| format!("#{c}")).unwrap_or_default();
    let ok = match q.get("ok") {
        "opened" => Some("svc.opened"),
        "updated" => Some("svc.updated"),
        "surveyed" => Some("svc.surveyed"),
        _ => None,
    };
    let swept = q.get("swept");
    Ok(html! {
        (notices(lang, ok, errors))
        @if !swept.is_empty() {
            div.notice.ok role="status" id="swept" { (swept.parse::<u32>().unwrap_or(0)) " " (t(lang, "svc.swept")) }
        }
        form.filters.panel method="get" action="/work/service" {
            (field(&format!("{} ({})", t(lang, "work.customer"), t(lang, "work.customer_hint")), "q-customer",
                if submitted.is_none() { errors.get("customer") } else { None },
                crate::newcustomer::picker_input("q-customer", "customer", q.get("customer"), false)))
            div.actions { button.primary type="submit" { (t(lang, "work.show")) } }
        }
        @if manages(me) {
            // Its own POST form, so that it carries the session's CSRF token.
            form.rowform.pad method="post" action="/work/service/escalate" id="sweep-form" { (crate::auth::csrf_field())
                button type="submit" id="sweep" { (t(lang, "svc.sweep")) }
            }
        }
        section.panel.flush id="tickets" {
            h2 { (t(lang, "svc.tickets")) }
            @if open.is_empty() { p.empty { (t(lang, "work.none")) } } @else {
                table.data { (ticket_head(lang)) tbody { @for tk in open.iter().take(ROWS) { (ticket_row(lang, tk, &name(tk.customer_id), now)) } } }
                (more(lang, open.len()))
            }
        }
        @if let Some(c) = customer {
            section.panel id="customer-tickets" {
                h2 { (t(lang, "svc.of")) " " (customer_link(c, &name(c))) }
                @if let Some(s) = &satisfaction {
                    p { (t(lang, "svc.latest")) ": "
                        (s.latest_csat.map_or("–".to_string(), |v| v.to_string())) " / "
                        (s.latest_nps.map_or("–".to_string(), |v| v.to_string())) }
                }
                @if mine.is_empty() { p.empty { (t(lang, "work.none")) } }
                @for tk in &mine {
                    div.panel id=(format!("t{}", tk.id)) {
                        h3 {
                            "#" (tk.id) " · " (tk.subject) " "
                            span.badge { (t(lang, &format!("svc.status.{}", tk.status))) }
                            @if tk.breached { " " span.badge.risk { (t(lang, "svc.breached")) } }
                        }
                        p.muted {
                            (t(lang, &format!("svc.kind.{}", tk.kind.as_str()))) " · "
                            (t(lang, &format!("svc.priority.{}", tk.priority.as_str()))) " · "
                            (t(lang, "svc.sla")) ": "
                            @if tk.status == "open" { (clock(lang, tk.due_at, now)) } @else { (i18n::datetime(lang, tk.due_at)) }
                            " · " (t(lang, "svc.level")) " " (tk.escalation_level)
                        }
                        @if let Some(b) = &tk.body { p { (b) } }
                        ol.timeline {
                            @for ev in &tk.events {
                                li { span.when { (i18n::datetime(lang, ev.at)) } " " strong { (event_label(lang, &ev.kind)) }
                                    @if let Some(by) = &ev.by { " · " (by) }
                                    @if let Some(x) = &ev.text { p { (x) } } }
                            }
                        }
                        form method="post" action=(format!("/work/service/tickets/{}/{}/comment", c, tk.id)) class="filters" { (crate::auth::csrf_field())
                            label.grow { span { (t(lang, "svc.comment")) } input type="text" name="text"; }
                            div.actions {
                                button type="submit" { (t(lang, "svc.add_comment")) }
                                @if tk.status == "open" {
                                    @if tk.escalation_level < 3 {
                                        button type="submit" formaction=(format!("/work/service/tickets/{}/{}/escalate", c, tk.id)) { (t(lang, "svc.escalate")) }
                                    }
                                    button.primary type="submit" formaction=(format!("/work/service/tickets/{}/{}/resolve", c, tk.id)) { (t(lang, "svc.resolve")) }
                                } @else {
                                    button type="submit" formaction=(format!("/work/service/tickets/{}/{}/reopen", c, tk.id)) { (t(lang, "svc.reopen")) }
                                }
                            }
                        }
                    }
                }
                h3 { (t(lang, "svc.surveys")) }
                @if surveys.is_empty() { p.empty { (t(lang, "work.none")) } } @else {
                    table.data.compact {
                        thead { tr { th { (t(lang, "work.date")) } th { (t(lang, "svc.survey_kind")) } th.num { (t(lang, "svc.score")) } th { (t(lang, "work.note")) } } }
                        tbody { @for s in &surveys {
                            tr { td.nowrap { (i18n::datetime(lang, s.answered_at)) } td { (s.kind.as_str().to_uppercase()) } td.num { (s.score) } td { (s.comment.as_deref().unwrap_or("")) } }
                        } }
                    }
                }
            }
        }
        div.twocol {
            section.panel id="open-ticket" {
                h2 { (t(lang, "svc.open_ticket")) }
                form method="post" action="/work/service/tickets" id="ticket-form" novalidate { (crate::auth::csrf_field())
                    div.formgrid {
                        (field(&format!("{} ({})", t(lang, "work.customer"), t(lang, "work.customer_hint")), "tk-customer", err("ticket", "customer").as_deref(),
                            crate::newcustomer::picker_input("tk-customer", "customer", &v("ticket", "customer", &cust), err("ticket", "customer").is_some())))
                        (field(t(lang, "svc.kind"), "tk-kind", err("ticket", "kind").as_deref(), html! {
                            select id="tk-kind" name="kind" { @for k in KINDS { option value=(k) selected[v("ticket", "kind", "complaint") == *k] { (t(lang, &format!("svc.kind.{k}"))) } } }
                        }))
                        (field(t(lang, "svc.priority"), "tk-priority", err("ticket", "priority").as_deref(), html! {
                            select id="tk-priority" name="priority" { @for p in PRIORITIES { option value=(p) selected[v("ticket", "priority", "normal") == *p] { (t(lang, &format!("svc.priority.{p}"))) } } }
                        }))
                        (field(t(lang, "svc.subject"), "tk-subject", err("ticket", "subject").as_deref(),
                            input("tk-subject", "subject", "text", &v("ticket", "subject", ""), err("ticket", "subject").is_some())))
                        (field(t(lang, "svc.body"), "tk-body", err("ticket", "body").as_deref(),
                            input("tk-body", "body", "text", &v("ticket", "body", ""), err("ticket", "body").is_some())))
                    }
                    div.formfoot { span {} button.primary type="submit" { (t(lang, "svc.open_ticket")) } }
                }
            }
            section.panel id="survey" {
                h2 { (t(lang, "svc.survey")) }
                form method="post" action="/work/service/surveys" id="survey-form" novalidate { (crate::auth::csrf_field())
                    div.formgrid {
                        (field(&format!("{} ({})", t(lang, "work.customer"), t(lang, "work.customer_hint")), "sv-customer", err("survey", "customer").as_deref(),
                            crate::newcustomer::picker_input("sv-customer", "customer", &v("survey", "customer", &cust), err("survey", "customer").is_some())))
                        (field(t(lang, "svc.survey_kind"), "sv-kind", err("survey", "kind").as_deref(), html! {
                            select id="sv-kind" name="kind" { @for k in SURVEYS { option value=(k) selected[v("survey", "kind", "csat") == *k] { (k.to_uppercase()) } } }
                        }))
                        (field(&format!("{} ({})", t(lang, "svc.score"), t(lang, "svc.score_hint")), "sv-score", err("survey", "score").as_deref(),
                            input("sv-score", "score", "text", &v("survey", "score", ""), err("survey", "score").is_some())))
                        (field(t(lang, "work.note"), "sv-comment", err("survey", "comment").as_deref(),
                            input("sv-comment", "comment", "text", &v("survey", "comment", ""), err("survey", "comment").is_some())))
                    }
                    div.formfoot { span {} button.primary type="submit" { (t(lang, "svc.survey")) } }
                }
            }
        }
    })
}

/// A history entry's kind in the interface language (unknown kinds as stored).
fn event_label(lang: Lang, kind: &str) -> String {
    match kind {
        "opened" | "comment" | "resolved" | "reopened" | "escalated" => {
            t(lang, &format!("svc.event.{kind}")).to_string()
        }
        other => other.to_string(),
    }
}

fn ticket_head(lang: Lang) -> Markup {
    html! {
        thead { tr {
            th { (t(lang, "svc.ticket")) } th { (t(lang, "work.customer")) } th { (t(lang, "svc.kind")) }
            th { (t(lang, "svc.priority")) } th { (t(lang, "svc.subject")) } th { (t(lang, "work.due")) }
            th { (t(lang, "svc.sla")) } th.num { (t(lang, "svc.level")) }
        } }
    }
}

/// Re-shows the page with the submitted form `which` and its errors (422).
async fn fail(
    st: &WebState,
    lang: Lang,
    me: &Session,
    c: Option<i64>,
    errors: Errors,
    which: &'static str,
    form: &Form,
) -> Response {
    render(
        st,
        lang,
        me,
        &for_customer(c),
        StatusCode::UNPROCESSABLE_ENTITY,
        errors,
        Some((which, form)),
    )
    .await
}

/// The query that re-shows the page for customer `c` after a form.
fn for_customer(c: Option<i64>) -> Form {
    Form::parse(
        format!(
            "customer={}",
            c.map(|c| format!("%23{c}")).unwrap_or_default()
        )
        .as_bytes(),
    )
}

/// `POST /work/service/tickets`: opens a ticket.
pub async fn open(
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
    let kind = form.choice(lang, "kind", KINDS, true, &mut errors);
    let priority = form.choice(lang, "priority", PRIORITIES, false, &mut errors);
    if form.get("subject").is_empty() {
        errors.add("subject", t(lang, "work.required"));
    }
    let (Some(c), Some(kind), true) = (c, kind, errors.is_empty()) else {
        return fail(&st, lang, &me, c, errors, "ticket", &form).await;
    };
    let input = TicketInput {
        kind: kind.parse::<TicketKind>().unwrap_or(TicketKind::Question),
        priority: priority
            .and_then(|p| p.parse::<Priority>().ok())
            .unwrap_or(Priority::Normal),
        subject: form.get("subject").to_string(),
        body: Some(form.get("body").to_string()),
        by: Some(me.user.username.clone()),
        assignee_id: None,
    };
    // The ticket and its audit row are one transaction.
    let audited = me.audited(&st.store, "update", Some(c), "ticket {id} opened (web)");
    match audited.open_ticket(c, input, Utc::now()).await {
        Ok(tk) => {
            if let Err(e) = audited.finish_audit().await {
                return store_error_page(lang, &e);
            }
            Redirect::to(&format!(
                "/work/service?customer=%23{c}&ok=opened#t{}",
                tk.id
            ))
            .into_response()
        }
        Err(e) => match Errors::from_store(lang, &e, &["subject", "body", "kind", "priority"]) {
            Some(errors) => fail(&st, lang, &me, Some(c), errors, "ticket", &form).await,
            None => store_error_page(lang, &e),
        },
    }
}

/// `POST /work/service/tickets/{customer}/{ticket}/resolve|reopen|escalate|comment`.
pub async fn act(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path((rc, rt, action)): Path<(String, String, String)>,
    RawForm(body): RawForm,
) -> Response {
    let not_found = || store_error_page(lang, &StoreError::not_found("ticket", rt.clone()));
    let (Ok(c), Ok(id)) = (rc.parse::<i64>(), rt.parse::<i64>()) else {
        return not_found();
    };
    if let Err(e) = me.check(&st.store, c, true).await {
        return store_error_page(lang, &e);
    }
    let form = Form::parse(&body);
    let text = form.get("text");
    let note = (!text.is_empty()).then_some(text);
    let by = me.user.username.clone();
    let now = Utc::now();
    // The change and its audit row are one transaction.
    let audited = me.audited(
        &st.store,
        "update",
        Some(c),
        format!("ticket {id} {action} (web)"),
    );
    let done = match action.as_str() {
        "resolve" => audited.resolve_ticket(c, id, &by, note, now).await,
        "reopen" => audited.reopen_ticket(c, id, &by, note, now).await,
        "escalate" => audited.escalate_ticket(c, id, &by, note, now).await,
        "comment" => {
            if text.is_empty() {
                let mut errors = Errors::default();
                errors.add(
                    "",
                    format!("{}: {}", t(lang, "svc.comment"), t(lang, "work.required")),
                );
                return render(
                    &st,
                    lang,
                    &me,
                    &for_customer(Some(c)),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    errors,
                    Some(("comment", &form)),
                )
                .await;
            }
            audited.comment_ticket(c, id, &by, text, now).await
        }
        _ => return not_found(),
    };
    match done {
        Ok(ticket) => {
            if let Err(e) = audited.finish_audit().await {
                return store_error_page(lang, &e);
            }
            if action == "resolve" {
                patron_app::surveys_mail::after_ticket_resolved(&st.store, c, id).await;
            }
            if action == "escalate" {
                if let Err(e) = patron_app::work::tell_escalated(&st.store, &me, &[ticket]).await {
                    return crate::app_error_page(lang, &e);
                }
            }
            Redirect::to(&format!("/work/service?customer=%23{c}&ok=updated#t{id}")).into_response()
        }
        Err(e) => store_error_page(lang, &e),
    }
}

/// `POST /work/service/escalate` (managers and admins): the SLA sweep.
pub async fn escalate(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
) -> Response {
    let n = match patron_app::work::escalate_breached(&st.store, &me, Utc::now()).await {
        Ok(r) => r.len(),
        Err(e) => return crate::app_error_page(lang, &e),
    };
    Redirect::to(&format!("/work/service?swept={n}")).into_response()
}

/// `POST /work/service/surveys`: records a CSAT or NPS answer.
pub async fn survey(
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
    let kind = form.choice(lang, "kind", SURVEYS, true, &mut errors);
    let range = if kind == Some("nps") { 0..=10 } else { 1..=5 };
    let score = form.int(lang, "score", range, &mut errors);
    if form.get("score").is_empty() {
        errors.add("score", t(lang, "work.required"));
    }
    let (Some(c), Some(kind), Some(score), true) = (c, kind, score, errors.is_empty()) else {
        return fail(&st, lang, &me, c, errors, "survey", &form).await;
    };
    let input = SurveyInput {
        kind: kind.parse::<SurveyKind>().unwrap_or(SurveyKind::Csat),
        score: score as i32,
        comment: Some(form.get("comment").to_string()),
        ticket_id: None,
    };
    let audited = me.audited(&st.store, "update", Some(c), "survey {id} recorded (web)");
    match audited
        .record_survey(c, input, &me.user.username, Utc::now())
        .await
    {
        Ok(_) => {
            if let Err(e) = audited.finish_audit().await {
                return store_error_page(lang, &e);
            }
            patron_app::value::recompute_after_change(&st.store, &[c]).await;
            Redirect::to(&format!("/work/service?customer=%23{c}&ok=surveyed")).into_response()
        }
        Err(e) => match Errors::from_store(lang, &e, &["score", "comment", "kind"]) {
            Some(errors) => fail(&st, lang, &me, Some(c), errors, "survey", &form).await,
            None => store_error_page(lang, &e),
        },
    }
}
