//! Surveys by mail, without sign-in: `GET /s/{token}` shows the score the customer clicked
//! with an optional comment and a button, `POST /s/{token}` records it (once: a second answer
//! is refused politely and the first stays) and thanks them, in the survey's language (not the
//! browser's). Opening the link records nothing by itself, so that mail scanners following
//! every link cannot answer for the customer. The signed token names one survey and one score
//! (see `patron_app::surveys_mail`). On the card, `POST /customers/{id}/surveys/send` mails a
//! survey on demand.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::{html, Markup, DOCTYPE};
use patron_app::mail::MailLang;
use patron_app::surveys_mail::{self, score_label};
use patron_app::{AppError, Session};
use patron_domain::service::SurveyKind;
use patron_store::{Store, StoreError, SurveyAnswer, SurveyRequest};

use crate::i18n::Lang;
use crate::work::Form;
use crate::{Ctx, WebState};

/// Labels of these pages and of the card's survey form: `(key, English, Chinese)`.
#[rustfmt::skip]
pub(crate) const MESSAGES: &[(&str, &str, &str)] = &[
    ("sv.title", "Your opinion", "您的意见"),
    ("sv.csat", "How satisfied are you with our service?", "您对我们的服务满意吗？"),
    ("sv.nps", "How likely are you to recommend us to a friend or colleague (0 to 10)?", "您有多大可能向朋友或同事推荐我们（0 到 10）？"),
    ("sv.your_answer", "Your answer:", "您的回答："),
    ("sv.comment", "Anything you would like to add? (optional)", "还有什么想告诉我们的吗？（选填）"),
    ("sv.send", "Send my answer", "提交回答"),
    ("sv.thanks", "Thank you! Your answer is recorded.", "谢谢！您的回答已记录。"),
    ("sv.already", "This survey was answered already; the first answer stands. Thank you!", "此调查已回答过，以第一次回答为准。谢谢！"),
    ("sv.first", "The answer recorded:", "已记录的回答："),
    ("sv.invalid", "This survey link is not valid.", "此调查链接无效。"),
    ("sv.error", "Something went wrong; please try again in a moment.", "出错了，请稍后再试。"),
    ("sv.gone", "This survey can no longer be answered. Thank you all the same!", "此调查已无法回答。仍然感谢您！"),
    ("sv.card_send", "Send a survey by e-mail", "通过邮件发送调查"),
    ("sv.card_kind", "Survey", "调查类型"),
    ("sv.card_lang", "Language", "语言"),
    ("sv.card_csat", "Satisfaction (CSAT 1-5)", "满意度（CSAT 1-5）"),
    ("sv.card_nps", "Recommendation (NPS 0-10)", "推荐度（NPS 0-10）"),
    ("sv.card_lang_en", "English", "英文"),
    ("sv.card_lang_zh", "Chinese", "中文"),
    ("sv.card_button", "Send survey", "发送调查"),
    ("sv.no_email", "The customer has no e-mail address: add one before sending a survey.", "该客户没有电子邮件地址：请先填写后再发送调查。"),
    ("sv.no_public_url", "The server's public address is not configured, so the survey's links cannot be made; ask an administrator (see the README's E-mail section).", "服务器的公开地址未配置，无法生成调查链接；请联系管理员（见 README 的电子邮件一节）。"),
];

fn t(lang: Lang, key: &str) -> &'static str {
    crate::i18n::lookup(MESSAGES, lang, key).unwrap_or("")
}

/// `/s/{token}` (no sign-in; the session layer lets `/s/` through).
pub fn routes(store: Store) -> Router {
    Router::new()
        .route("/s/{token}", get(confirm_page).post(record))
        .with_state(store)
}

/// The card's survey form's route (behind the sign-in).
pub(crate) fn card_routes() -> Router<WebState> {
    Router::new().route("/customers/{id}/surveys/send", post(send))
}

fn lang_of(r: &SurveyRequest) -> Lang {
    if r.lang == "zh" {
        Lang::Zh
    } else {
        Lang::En
    }
}

fn mail_lang(lang: Lang) -> MailLang {
    match lang {
        Lang::Zh => MailLang::Zh,
        Lang::En => MailLang::En,
    }
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
                    title { (t(lang, "sv.title")) " · Patron" }
                    link rel="stylesheet" href="/static/patron.css";
                }
                body { main.content { div.panel.login { h1 { (t(lang, "sv.title")) } (body) } } }
            }
        },
    )
}

fn question(lang: Lang, kind: SurveyKind) -> &'static str {
    match kind {
        SurveyKind::Csat => t(lang, "sv.csat"),
        SurveyKind::Nps => t(lang, "sv.nps"),
    }
}

fn already(lang: Lang, r: &SurveyRequest, first: Option<i32>) -> Response {
    page(
        StatusCode::OK,
        lang,
        html! {
            p { (t(lang, "sv.already")) }
            @if let Some(s) = first {
                p { (t(lang, "sv.first")) " " strong { (score_label(r.kind, s, mail_lang(lang))) } }
            }
        },
    )
}

/// The page a customer opens from a score link: the score, an optional comment, one button.
async fn confirm_page(State(store): State<Store>, ctx: Ctx, Path(token): Path<String>) -> Response {
    match surveys_mail::link_request(&store, &token).await {
        Ok(Some((r, score))) => {
            let lang = lang_of(&r);
            if r.answered_at.is_some() {
                let first = match r.survey_id {
                    Some(sid) => store
                        .surveys(r.customer_id)
                        .await
                        .ok()
                        .and_then(|v| v.into_iter().find(|s| s.id == sid))
                        .map(|s| s.score),
                    None => None,
                };
                return already(lang, &r, first);
            }
            page(
                StatusCode::OK,
                lang,
                html! {
                    p { (question(lang, r.kind)) }
                    p { (t(lang, "sv.your_answer")) " " strong { (score_label(r.kind, score, mail_lang(lang))) } }
                    form method="post" action=(format!("/s/{token}")) {
                        label for="comment" { (t(lang, "sv.comment")) }
                        textarea id="comment" name="comment" rows="3" maxlength="2000" {}
                        button.primary type="submit" { (t(lang, "sv.send")) }
                    }
                },
            )
        }
        Ok(None) => invalid(ctx.lang),
        Err(e) => failed(ctx.lang, &e),
    }
}

/// Records the link's answer (from the confirm page's button).
async fn record(
    State(store): State<Store>,
    ctx: Ctx,
    Path(token): Path<String>,
    req: axum::extract::Request,
) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|p| p.0.ip().to_string());
    let body = axum::body::to_bytes(req.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let form = Form::parse(&body);
    let comment = Some(form.get("comment").to_string());
    match surveys_mail::answer(&store, &token, comment, ip).await {
        Ok((r, SurveyAnswer::Recorded(s))) => {
            let lang = lang_of(&r);
            page(
                StatusCode::OK,
                lang,
                html! {
                    p { (t(lang, "sv.thanks")) }
                    p { (t(lang, "sv.your_answer")) " " strong { (score_label(r.kind, s.score, mail_lang(lang))) } }
                },
            )
        }
        Ok((r, SurveyAnswer::AlreadyAnswered(first))) => {
            already(lang_of(&r), &r, first.map(|s| s.score))
        }
        Err(AppError::Store(StoreError::NotFound { .. })) | Err(AppError::Forbidden(_)) => {
            invalid(ctx.lang)
        }
        // The customer was merged or purged since the mail went out: nothing to record.
        Err(AppError::Store(StoreError::Conflict { .. })) => page(
            StatusCode::CONFLICT,
            ctx.lang,
            html! { p { (t(ctx.lang, "sv.gone")) } },
        ),
        Err(AppError::Store(e)) => failed(ctx.lang, &e),
    }
}

fn invalid(lang: Lang) -> Response {
    page(
        StatusCode::NOT_FOUND,
        lang,
        html! { p { (t(lang, "sv.invalid")) } },
    )
}

fn failed(lang: Lang, e: &StoreError) -> Response {
    tracing::error!(error = %e, "survey answer failed");
    let status = if e.is_unavailable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    page(status, lang, html! { p { (t(lang, "sv.error")) } })
}

/// The card's form: mail the customer a survey now.
pub(crate) fn send_form(lang: Lang, id: i64) -> Markup {
    html! {
        div.cardactions { form.rowform method="post" action=(format!("/customers/{id}/surveys/send")) id="survey-send" { (crate::auth::csrf_field())
            label { (t(lang, "sv.card_kind")) " "
                select name="kind" {
                    option value="csat" { (t(lang, "sv.card_csat")) }
                    option value="nps" { (t(lang, "sv.card_nps")) }
                }
            }
            " "
            label { (t(lang, "sv.card_lang")) " "
                select name="lang" {
                    option value="en" selected[lang == Lang::En] { (t(lang, "sv.card_lang_en")) }
                    option value="zh" selected[lang == Lang::Zh] { (t(lang, "sv.card_lang_zh")) }
                }
            }
            " "
            button type="submit" { (t(lang, "sv.card_button")) }
        } }
    }
}

/// `POST /customers/{id}/surveys/send`: mails the survey and goes back to the card.
async fn send(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let Ok(id) = raw.trim().parse::<i64>() else {
        return crate::store_error_page(lang, &StoreError::not_found("customer", raw));
    };
    let form = Form::parse(&body);
    let kind = match form.get("kind") {
        "nps" => SurveyKind::Nps,
        _ => SurveyKind::Csat,
    };
    let mail = match form.get("lang") {
        "zh" => MailLang::Zh,
        _ => MailLang::En,
    };
    match surveys_mail::send_survey(&st.store, &me, id, kind, Some(mail), None).await {
        Ok(_) => Redirect::to(&format!("/customers/{id}?ok=survey_sent#surveys")).into_response(),
        Err(AppError::Store(StoreError::Invalid(errors)))
            if errors
                .iter()
                .any(|e| e.field == "email" || e.field == "public_url") =>
        {
            let key = if errors.iter().any(|e| e.field == "email") {
                "sv.no_email"
            } else {
                "sv.no_public_url"
            };
            crate::error_page(
                lang,
                StatusCode::UNPROCESSABLE_ENTITY,
                lang.t("error.bad_request"),
                t(lang, key),
            )
        }
        Err(e) => crate::app_error_page(lang, &e),
    }
}
