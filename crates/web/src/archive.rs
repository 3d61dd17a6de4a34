//! Archiving on the customer card: what "delete" means for a customer. The card of a live
//! customer offers Archive (behind a confirmation step) to the roles the permission table lets
//! archive; an archived card shows "Archived on ... by ..." with Restore; administrators also
//! get Purge, which asks for the reason the audit log keeps. The list shows the archived
//! customers at `/customers?archived=1`. Every rule (roles, scope, audit) is the application
//! layer's (`patron_app::customers`); these handlers translate forms and answers.

use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Extension, Router};
use maud::{html, Markup};
use patron_app::{Action, Session};
use patron_domain::Customer;

use crate::i18n::Lang;
use crate::{Ctx, WebState};

/// The routes of the card's archive, restore and purge forms.
pub(crate) fn routes() -> Router<WebState> {
    Router::new()
        .route("/customers/{id}/archive", post(archive))
        .route("/customers/{id}/restore", post(restore))
        .route("/customers/{id}/purge", post(purge))
}

/// Labels: `(key, English, Chinese)`; [`t`] falls back to the main catalogue.
const MESSAGES: &[(&str, &str, &str)] = &[
    ("ar.archive", "Archive…", "归档…"),
    (
        "ar.archive_explain",
        "Archiving hides the customer from every list, search and plan. Its orders, invoices and history are kept (they still count in the figures), and it can be restored at any time.",
        "归档后，该客户将不再出现在任何列表、搜索和计划中。其订单、发票和历史记录都会保留（仍计入各项数据），并可随时恢复。",
    ),
    ("ar.archive_confirm", "Archive this customer", "确认归档该客户"),
    ("ar.archived_on", "Archived on", "归档于"),
    ("ar.by", "by", "操作人"),
    (
        "ar.archived_note",
        "It is left out of lists, search and plans; everything recorded about it is kept.",
        "该客户不出现在列表、搜索和计划中；其所有记录均已保留。",
    ),
    ("ar.restore", "Restore", "恢复"),
    ("ar.purge", "Purge for good…", "永久删除…"),
    (
        "ar.purge_explain",
        "Only for a data subject's erasure request: the customer and everything recorded about it (orders, invoices, tickets, contacts, history) are deleted and cannot be restored. The reason is kept in the audit log.",
        "仅用于数据主体的删除请求：该客户及其所有记录（订单、发票、工单、联系人、历史）将被删除且无法恢复。删除原因将记录在审计日志中。",
    ),
    ("ar.reason", "Reason (required)", "原因（必填）"),
    ("ar.purge_confirm", "Purge this customer", "确认永久删除"),
    ("ar.purged", "Customer purged", "客户已永久删除"),
    (
        "ar.purged_note",
        "The customer and everything recorded about it were deleted; the audit log keeps the reason.",
        "该客户及其所有记录已删除；审计日志保留了删除原因。",
    ),
    ("ar.list", "Archived customers", "已归档客户"),
    ("ar.list_link", "Archived customers →", "已归档客户 →"),
    ("ar.live_link", "← Customers", "← 客户"),
];

/// A label in `lang` (this module's, else the main catalogue's).
pub(crate) fn t(lang: Lang, key: &str) -> &'static str {
    crate::i18n::lookup(MESSAGES, lang, key).unwrap_or_else(|| lang.t(key))
}

/// The card's archive panel for `me`: the banner of an archived customer with Restore, or
/// Archive behind a confirmation step; Purge (with its reason) for those who may purge.
/// Nothing for callers who may do neither.
pub(crate) fn panel(lang: Lang, me: &Session, c: &Customer) -> Markup {
    let id = c.id;
    let may_archive = me.may(Action::Archive);
    let may_purge = me.may(Action::Purge);
    html! {
        @if let Some(at) = c.archived_at {
            div.notice.warn role="status" id="archived" {
                strong { (t(lang, "ar.archived_on")) " " (at.format("%Y-%m-%d %H:%M UTC")) }
                @if let Some(by) = &c.archived_by { " " (t(lang, "ar.by")) " " (by) }
                ". " (t(lang, "ar.archived_note"))
                @if may_archive {
                    form.rowform method="post" action=(format!("/customers/{id}/restore")) id="restore" { (crate::auth::csrf_field())
                        button type="submit" { (t(lang, "ar.restore")) }
                    }
                }
            }
        }
        @if (may_archive && c.archived_at.is_none()) || may_purge {
            section.panel id="archive" {
                @if may_archive && c.archived_at.is_none() {
                    details.cardform {
                        summary { (t(lang, "ar.archive")) }
                        p.muted { (t(lang, "ar.archive_explain")) }
                        form method="post" action=(format!("/customers/{id}/archive")) id="archive-form" { (crate::auth::csrf_field())
                            button type="submit" { (t(lang, "ar.archive_confirm")) }
                        }
                    }
                }
                @if may_purge {
                    details.cardform {
                        summary { (t(lang, "ar.purge")) }
                        p.muted { (t(lang, "ar.purge_explain")) }
                        form method="post" action=(format!("/customers/{id}/purge")) id="purge-form" { (crate::auth::csrf_field())
                            label for="purge-reason" { (t(lang, "ar.reason")) }
                            input #purge-reason type="text" name="reason" required maxlength=(patron_app::customers::PURGE_REASON_MAX);
                            button.danger type="submit" { (t(lang, "ar.purge_confirm")) }
                        }
                    }
                }
            }
        }
    }
}

/// The path's customer, when the caller may change it: as on the card's own form, a customer
/// the caller may not change (another rep's, or one in the pool) is "not found".
async fn writable(st: &WebState, lang: Lang, me: &Session, raw: &str) -> Result<i64, Response> {
    let id = raw
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| not_found(lang))?;
    me.check(&st.store, id, true)
        .await
        .map_err(|e| crate::store_error_page(lang, &e))?;
    Ok(id)
}

fn not_found(lang: Lang) -> Response {
    crate::store_error_page(
        lang,
        &patron_store::StoreError::not_found("customer", "in the path"),
    )
}

/// `POST /customers/{id}/archive`: archives the customer, back to its card (now with the banner).
async fn archive(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
) -> Response {
    let id = match writable(&st, lang, &me, &raw).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    match patron_app::customers::archive_customer(&st.store, &me, id, " (web)").await {
        Ok(_) => Redirect::to(&format!("/customers/{id}#archived")).into_response(),
        Err(e) => crate::app_error_page(lang, &e),
    }
}

/// `POST /customers/{id}/restore`: back in the lists, back to its card.
async fn restore(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
) -> Response {
    let id = match writable(&st, lang, &me, &raw).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    match patron_app::customers::restore_customer(&st.store, &me, id, " (web)").await {
        Ok(_) => Redirect::to(&format!("/customers/{id}")).into_response(),
        Err(e) => crate::app_error_page(lang, &e),
    }
}

/// `POST /customers/{id}/purge` (`reason`): deletes the customer for good (administrators;
/// a missing reason is refused naming the field), then a page saying so.
async fn purge(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let id = match writable(&st, lang, &me, &raw).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let form = crate::work::Form::parse(&body);
    let reason = form.get("reason");
    match patron_app::customers::purge_customer(&st.store, &me, id, reason, " (web)").await {
        Ok(()) => crate::html(
            StatusCode::OK,
            crate::layout::page(
                lang,
                t(lang, "ar.purged"),
                "customers",
                html! {
                    div.panel {
                        h1 { (t(lang, "ar.purged")) }
                        p role="status" id="purged" { (t(lang, "ar.purged_note")) }
                        p { a href="/customers" { (lang.t("card.back")) } }
                    }
                },
            ),
        ),
        Err(e) => crate::app_error_page(lang, &e),
    }
}
