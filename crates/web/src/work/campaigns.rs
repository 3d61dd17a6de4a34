//! `/work/campaigns`: every campaign with its cost, the customers and leads it brought, their
//! revenue and margin since it started, and the return (margin / cost). Aggregates only, so
//! analysts see it too; reps do not (as in the API). Admins and managers record new campaigns
//! (`POST /work/campaigns`).

use axum::extract::{RawForm, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::html;
use patron_app::Session;
use patron_store::{CampaignInput, Role};

use super::{field, forbidden, input, manages, notices, t, work_page, Errors, Form};
use crate::i18n;
use crate::{store_error_page, Ctx, WebState};

const FIELDS: &[&str] = &["name", "channel", "cost", "started_on"];

pub async fn page(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    raw: RawQuery,
) -> Response {
    let ok = match Form::query(&raw).get("ok") {
        "created" => Some("cp.created"),
        "allocated" => Some("cp.allocated"),
        _ => None,
    };
    render(&st, lang, &me, ok, StatusCode::OK, &Errors::default(), None).await
}

/// `POST /work/campaigns` (`name`, `channel`, `cost`, `started_on`): records a campaign.
pub async fn create(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    let form = Form::parse(&body);
    let mut errors = Errors::default();
    let name = form.get("name").trim().to_string();
    if name.is_empty() {
        errors.add("name", t(lang, "work.required"));
    }
    let cost = form.money(lang, "cost", true, &mut errors);
    let started_on = form.required_date(lang, "started_on", &mut errors);
    let channel = Some(form.get("channel").trim().to_string()).filter(|c| !c.is_empty());
    let (Some(cost), Some(started_on), true) = (cost, started_on, errors.is_empty()) else {
        return render(
            &st,
            lang,
            &me,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            &errors,
            Some(&form),
        )
        .await;
    };
    let input = CampaignInput {
        name,
        channel,
        cost,
        started_on,
    };
    match patron_app::campaigns::create(&st.store, &me, input, &[]).await {
        Ok(_) => Redirect::to("/work/campaigns?ok=created").into_response(),
        Err(patron_app::AppError::Store(e)) => match Errors::from_store(lang, &e, FIELDS) {
            Some(errors) => {
                let status = if matches!(e, patron_store::StoreError::Conflict { .. }) {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                };
                render(&st, lang, &me, None, status, &errors, Some(&form)).await
            }
            None => store_error_page(lang, &e),
        },
        Err(e) => crate::app_error_page(lang, &e),
    }
}

/// `POST /work/campaigns/{id}/allocate-cost`: splits the campaign's cost evenly over the
/// customers it reached as their recorded marketing costs (admins and managers).
pub async fn allocate_cost(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    axum::extract::Path(raw): axum::extract::Path<String>,
) -> Response {
    let Some(id) = raw.parse::<i64>().ok().filter(|id| *id > 0) else {
        return store_error_page(lang, &patron_store::StoreError::not_found("campaign", raw));
    };
    match patron_app::marketing::allocate_campaign(&st.store, &me, id).await {
        Ok(_) => {
            Redirect::to(&format!("/work/campaigns?ok=allocated#campaign-{id}")).into_response()
        }
        Err(e) => crate::app_error_page(lang, &e),
    }
}

async fn render(
    st: &WebState,
    lang: crate::Lang,
    me: &Session,
    ok: Option<&str>,
    status: StatusCode,
    errors: &Errors,
    form: Option<&Form>,
) -> Response {
    if !matches!(me.user.role, Role::Admin | Role::Manager | Role::Analyst) {
        return forbidden(lang);
    }
    let typed = |k: &str| form.map_or("", |f| f.get(k)).to_string();
    let list = match st.store.campaigns().await {
        Ok(l) => l,
        Err(e) => return store_error_page(lang, &e),
    };
    if let Err(e) = st
        .store
        .audit(
            &me.actor,
            "list",
            None,
            Some("campaigns (web)"),
            Some(list.len() as i64),
        )
        .await
    {
        return store_error_page(lang, &e);
    }
    // The outbox (recipients are customer records: admins and managers only).
    let outbox = if manages(me) {
        match (
            st.store.outbox_counts(None).await,
            st.store.outbox(None, 20).await,
        ) {
            (Ok(c), Ok(rows)) => Some((c, rows)),
            (Err(e), _) | (_, Err(e)) => return store_error_page(lang, &e),
        }
    } else {
        None
    };
    let money = |m: patron_domain::Money| i18n::money_cents(lang, m.cents());
    let body = html! {
        (notices(lang, ok, errors))
        @if manages(me) {
            section.panel id="new-campaign" {
                h2 { (t(lang, "cp.new")) }
                form method="post" action="/work/campaigns" { (crate::auth::csrf_field())
                    div.formgrid {
                        (field(t(lang, "cp.name"), "cp-name", errors.get("name"), input("cp-name", "name", "text", &typed("name"), errors.get("name").is_some())))
                        (field(t(lang, "cp.channel"), "cp-channel", errors.get("channel"), input("cp-channel", "channel", "text", &typed("channel"), errors.get("channel").is_some())))
                        (field(t(lang, "cp.cost"), "cp-cost", errors.get("cost"), input("cp-cost", "cost", "text", &typed("cost"), errors.get("cost").is_some())))
                        (field(t(lang, "cp.started"), "cp-started", errors.get("started_on"), input("cp-started", "started_on", "date", &typed("started_on"), errors.get("started_on").is_some())))
                    }
                    div.formfoot { span {} button.primary type="submit" { (t(lang, "cp.create")) } }
                }
            }
        }
        section.panel.flush id="campaigns" {
            h2 { (t(lang, "cp.title")) }
            @if list.is_empty() { p.empty { (t(lang, "work.none")) } } @else {
                div.tablewrap { table.data.compact {
                    thead { tr {
                        th { (t(lang, "cp.name")) } th { (t(lang, "cp.channel")) } th { (t(lang, "cp.started")) }
                        th.num { (t(lang, "cp.cost")) } th.num { (t(lang, "cp.customers")) } th.num { (t(lang, "cp.leads")) } th.num { (t(lang, "cp.leads_captured")) }
                        th.num { (t(lang, "cp.buyers")) } th.num { (t(lang, "cp.revenue")) } th.num { (t(lang, "cp.margin")) }
                        th.num { (t(lang, "cp.return")) }
                        @if manages(me) { th {} }
                    } }
                    tbody { @for c in &list {
                        tr id=(format!("campaign-{}", c.id)) {
                            td { a href=(format!("/work/campaigns/{}/mail", c.id)) { (c.name) } }
                            td { (c.channel.as_deref().unwrap_or("–")) }
                            td.nowrap { (i18n::date(lang, c.started_on)) }
                            td.num { (money(c.cost)) }
                            td.num { (i18n::count(c.customers.max(0) as u64)) }
                            td.num { (i18n::count(c.leads.max(0) as u64)) }
                            td.num { (i18n::count(c.leads_converted.max(0) as u64)) " / " (i18n::count(c.leads_captured.max(0) as u64)) }
                            td.num { (i18n::count(c.buyers.max(0) as u64)) }
                            td.num { (money(c.revenue)) }
                            td.num { (money(c.margin)) }
                            td.num { (c.return_ratio.map_or_else(|| "–".to_string(), |r| format!("{r:.2}×"))) }
                            @if manages(me) {
                                td { form.rowform method="post" action=(format!("/work/campaigns/{}/allocate-cost", c.id)) { (crate::auth::csrf_field())
                                    button type="submit" title=(t(lang, "cp.allocate_help")) { (t(lang, "cp.allocate")) }
                                } }
                            }
                        }
                    } }
                } }
            }
            p.muted.pad { (t(lang, "cp.note")) }
        }
        @if let Some((c, rows)) = &outbox {
            section.panel.flush id="outbox" {
                h2 { (t(lang, "mail.outbox")) }
                @match crate::unsubscribe::mail_status() {
                    Some(how) => p.pad { (t(lang, "mail.on")) " " code { (how) } },
                    None => div.notice.warn id="mail-off" { p { (t(lang, "mail.off")) } },
                }
                p.pad { (t(lang, "mail.counts")
                    .replace("{queued}", &c.queued.to_string())
                    .replace("{sending}", &c.sending.to_string())
                    .replace("{sent}", &c.sent.to_string())
                    .replace("{failed}", &c.failed.to_string())) }
                @if !rows.is_empty() {
                    div.tablewrap { table.data.compact {
                        thead { tr {
                            th { (t(lang, "mail.state")) } th { (t(lang, "mail.kind")) } th { (t(lang, "mail.recipient")) }
                            th { (t(lang, "mail.subject")) } th.num { (t(lang, "mail.attempts")) } th { (t(lang, "mail.detail")) }
                        } }
                        tbody { @for m in rows {
                            tr id=(format!("mail-{}", m.id)) {
                                td { (m.state) }
                                td { (m.kind) }
                                td { (m.recipient) }
                                td { (patron_domain::excerpt_n(&m.subject, 60)) }
                                td.num { (m.attempts) }
                                td { (patron_domain::excerpt_n(
                                    if m.state == "sent" { m.smtp_reply.as_deref().unwrap_or("") } else { m.last_error.as_deref().unwrap_or("") },
                                    120)) }
                            }
                        } }
                    } }
                }
                p.muted.pad { (t(lang, "mail.hint")) }
            }
        }
    };
    work_page(lang, me, status, "campaigns", "/work/campaigns", body)
}
