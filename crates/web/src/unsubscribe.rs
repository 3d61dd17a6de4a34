//! The one-click unsubscribe of campaign mail, without sign-in: `GET /u/{token}` shows a page
//! with a confirm button, `POST /u/{token}` opts the token's customer out of marketing (the
//! RFC 8058 endpoint that mail clients post to: no session, no CSRF token; the signed token is
//! the proof, and it names one customer only). See `patron_app::mail`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, DOCTYPE};
use patron_app::mail::{self, Unsubscribed};
use patron_app::AppError;
use patron_store::{Store, StoreError};

use crate::{Ctx, Lang};

/// Labels of these pages: `(key, English, Chinese)`.
#[rustfmt::skip]
pub const MESSAGES: &[(&str, &str, &str)] = &[
    ("unsub.title", "Unsubscribe", "退订"),
    ("unsub.ask", "Stop receiving marketing e-mail from us?", "不再接收我们的营销邮件？"),
    ("unsub.confirm", "Unsubscribe", "确认退订"),
    ("unsub.done", "You are unsubscribed: you will receive no more marketing e-mail from us.", "退订成功：您将不再收到我们的营销邮件。"),
    ("unsub.already", "You had unsubscribed already.", "您已退订过。"),
    ("unsub.invalid", "This unsubscribe link is not valid.", "此退订链接无效。"),
    ("unsub.error", "Something went wrong; please try again in a moment.", "出错了，请稍后再试。"),
    ("mail.outbox", "Mail outbox", "邮件发件箱"),
    ("mail.off", "Mail is not configured: nothing is sent, messages stay queued until an administrator sets up the mail server (see the README's E-mail section).", "未配置邮件：不会发送任何邮件，邮件将保留在队列中，直到管理员配置邮件服务器（见 README 的电子邮件一节）。"),
    ("mail.on", "Mail is sent via", "邮件发送方式："),
    ("mail.counts", "{queued} queued, {sending} sending, {sent} sent, {failed} failed", "排队 {queued}，发送中 {sending}，已发送 {sent}，失败 {failed}"),
    ("mail.state", "State", "状态"),
    ("mail.kind", "Kind", "类型"),
    ("mail.recipient", "Recipient", "收件人"),
    ("mail.subject", "Subject", "主题"),
    ("mail.attempts", "Attempts", "尝试次数"),
    ("mail.detail", "Answer or reason", "服务器应答或原因"),
    ("mail.hint", "The outbox: every message queued, sent or failed, with the reason of a failure.", "发件箱：所有排队、已发送和失败的邮件，失败时附原因。"),
];

static MAIL_STATUS: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// Tells the pages how this process sends mail (the SMTP configuration in words, without the
/// password), or that it does not (`None`); set once by `patron serve` before serving. Unset,
/// the pages say that mail is not configured.
pub fn set_mail_status(status: Option<String>) {
    let _ = MAIL_STATUS.set(status);
}

/// See [`set_mail_status`].
pub(crate) fn mail_status() -> Option<&'static str> {
    MAIL_STATUS.get().and_then(|s| s.as_deref())
}

/// `/u/{token}` (no sign-in; the session layer lets `/u/` through).
pub fn routes(store: Store) -> Router {
    Router::new()
        .route("/u/{token}", get(confirm_page).post(one_click))
        .with_state(store)
}

fn page(status: StatusCode, lang: Lang, body: Markup) -> Response {
    crate::html(
        status,
        html! {
            (DOCTYPE)
            html lang=(lang.html_lang()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="robots" content="noindex";
                    title { (lang.t("unsub.title")) " · Patron" }
                    link rel="stylesheet" href="/static/patron.css";
                }
                body { main.content { div.panel.login { h1 { (lang.t("unsub.title")) } (body) } } }
            }
        },
    )
}

/// The page a recipient opens from the link in the body: one button that posts back.
async fn confirm_page(State(store): State<Store>, ctx: Ctx, Path(token): Path<String>) -> Response {
    match mail::token_customer(&store, &token).await {
        Ok(Some(_)) => page(
            StatusCode::OK,
            ctx.lang,
            html! {
                p { (ctx.lang.t("unsub.ask")) }
                form method="post" action=(format!("/u/{token}")) {
                    button type="submit" { (ctx.lang.t("unsub.confirm")) }
                }
            },
        ),
        Ok(None) => invalid(ctx.lang),
        Err(e) => failed(ctx.lang, &e),
    }
}

/// The one-click POST (from the mail client, or the confirm page's button).
async fn one_click(
    State(store): State<Store>,
    ctx: Ctx,
    Path(token): Path<String>,
    req: axum::extract::Request,
) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|p| p.0.ip().to_string());
    match mail::unsubscribe(&store, &token, ip).await {
        Ok(Unsubscribed::Done) => page(
            StatusCode::OK,
            ctx.lang,
            html! { p { (ctx.lang.t("unsub.done")) } },
        ),
        Ok(Unsubscribed::Already) => page(
            StatusCode::OK,
            ctx.lang,
            html! { p { (ctx.lang.t("unsub.already")) } },
        ),
        Err(AppError::Store(StoreError::NotFound { .. })) => invalid(ctx.lang),
        Err(AppError::Store(e)) => failed(ctx.lang, &e),
        Err(AppError::Forbidden(_)) => invalid(ctx.lang),
    }
}

fn invalid(lang: Lang) -> Response {
    page(
        StatusCode::NOT_FOUND,
        lang,
        html! { p { (lang.t("unsub.invalid")) } },
    )
}

fn failed(lang: Lang, e: &StoreError) -> Response {
    tracing::error!(error = %e, "unsubscribe failed");
    let status = if e.is_unavailable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    page(status, lang, html! { p { (lang.t("unsub.error")) } })
}
