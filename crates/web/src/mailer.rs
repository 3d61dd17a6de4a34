//! E-mail in the web interface (everything decided in `patron_app::mail`):
//!
//! - `GET /work/campaigns/{id}/mail`: a campaign's mail counts (queued, sent, failed,
//!   unsubscribed through its links, customers it brought) and, for managers and admins, the
//!   composer: a template in English or Chinese (the defaults, editable, with merge fields),
//!   narrowed by status or region when the campaign has no chosen members;
//! - `POST /work/campaigns/{id}/mail` (`do` = `preview`, `test`, `send`, `confirm`): the preview
//!   for one real recipient, a test to the user's own address, then the send after a
//!   confirmation that shows the audience count;
//! - `GET|POST /settings/mail`: the user's own address, notifications by e-mail and the daily
//!   My day digest.

use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use maud::{html, Markup};
use patron_app::mail::{self, Composed, MailLang, MailTemplate, NothingSent};
use patron_app::{Action, AppError, Session};
use patron_store::{CustomerFilter, UserMailSettings};

use crate::i18n::{self, Lang};
use crate::work::{Errors, Form};
use crate::{html, layout, Ctx, WebState};

/// Labels of these pages: `(key, English, Chinese)`.
#[rustfmt::skip]
pub const MESSAGES: &[(&str, &str, &str)] = &[
    ("cm.title", "Campaign mail", "活动邮件"),
    ("cm.open", "Mail", "邮件"),
    ("cm.counts", "Mail of this campaign", "本活动的邮件"),
    ("cm.queued", "Queued", "排队中"),
    ("cm.sent", "Sent", "已发送"),
    ("cm.failed", "Failed", "失败"),
    ("cm.unsubscribed", "Unsubscribed via its links", "经其链接退订"),
    ("cm.customers", "Customers it brought", "带来的客户"),
    ("cm.compose", "Compose", "撰写"),
    ("cm.lang", "Template language", "模板语言"),
    ("cm.lang.en", "English", "英文"),
    ("cm.lang.zh", "Chinese", "中文"),
    ("cm.load", "Load the default template", "载入默认模板"),
    ("cm.subject", "Subject", "主题"),
    ("cm.body", "Body (plain text; the unsubscribe link is added at the end)", "正文（纯文本，末尾会自动附上退订链接）"),
    ("cm.fields", "Merge fields: {name} name, {company} company, {owner} owner, {orders} orders, {revenue} revenue.", "合并字段：{name} 名称，{company} 公司，{owner} 负责人，{orders} 订单数，{revenue} 收入。"),
    ("cm.members", "This campaign has chosen members: it goes to them (never to the opted-out, archived or those without an e-mail).", "本活动已选定成员：邮件只发给他们（不会发给已退订、已归档或无邮箱的客户）。"),
    ("cm.narrow", "Audience: the customers you see, optionally narrowed (never the opted-out, archived or those without an e-mail).", "收件人：您可见的客户，可按条件缩小范围（不会发给已退订、已归档或无邮箱的客户）。"),
    ("cm.status", "Status", "状态"),
    ("cm.region", "Region", "地区"),
    ("cm.any", "Any", "全部"),
    ("cm.preview", "Preview", "预览"),
    ("cm.test", "Send a test to me", "发送测试邮件给我"),
    ("cm.send", "Send…", "发送…"),
    ("cm.preview_for", "Preview for", "预览收件人"),
    ("cm.audience", "Recipients", "收件人数"),
    ("cm.nobody", "Nobody would receive this campaign.", "没有客户会收到本活动邮件。"),
    ("cm.confirm_title", "Send this campaign?", "确认发送本活动邮件？"),
    ("cm.confirm_text", "It goes to {n} recipients (opted-out, archived and those without an e-mail left out). Each recipient gets it once, even if you send again.", "将发送给 {n} 位收件人（已退订、已归档和无邮箱的客户除外）。即使再次发送，每位收件人也只会收到一次。"),
    ("cm.confirm", "Send to {n} recipients", "发送给 {n} 位收件人"),
    ("cm.cancel", "Back", "返回"),
    ("cm.bad_field", "Unknown merge field: use {name}, {company}, {owner}, {orders} or {revenue}.", "未知的合并字段：请使用 {name}、{company}、{owner}、{orders} 或 {revenue}。"),
    ("cm.changed", "The audience changed since you confirmed: check the new count and confirm again.", "确认后收件人已变化：请查看新的人数后再次确认。"),
    ("cm.test_done", "A test message is queued to {to}: it goes out within a few seconds.", "测试邮件已排队发往 {to}，几秒内发出。"),
    ("cm.sent_done", "{queued} messages queued for {n} recipients.", "已为 {n} 位收件人排队 {queued} 封邮件。"),
    ("cm.why.no_address", "Nothing is sent: your user has no e-mail address. Set it in your mail settings.", "未发送任何邮件：您的用户没有邮箱地址。请在邮件设置中填写。"),
    ("cm.why.not_configured", "Nothing is sent: mail is not configured on this server. Ask an administrator.", "未发送任何邮件：此服务器未配置邮件。请联系管理员。"),
    ("cm.why.no_public_url", "Nothing is sent: the server's public address for the unsubscribe links is not configured. Ask an administrator.", "未发送任何邮件：未配置退订链接所用的服务器公开地址。请联系管理员。"),
    ("cm.why.no_recipients", "Nothing is sent: nobody would receive this campaign.", "未发送任何邮件：没有客户会收到本活动邮件。"),
    ("ms.title", "Mail settings", "邮件设置"),
    ("ms.menu", "Mail settings", "邮件设置"),
    ("ms.email", "My e-mail address", "我的邮箱地址"),
    ("ms.notify", "Also send me my notifications by e-mail (held orders decided, tickets escalated, tasks given, ...)", "同时通过邮件接收我的通知（挂起订单的审批结果、工单升级、分派的任务等）"),
    ("ms.digest", "Daily My day digest (overdue and today's tasks, tickets near breach)", "每日“我的一天”摘要（逾期和今日任务、即将超时的工单）"),
    ("ms.digest_off", "No digest", "不发送摘要"),
    ("ms.digest_at", "at {h}:00 UTC", "UTC {h}:00"),
    ("ms.lang", "Language of these messages", "邮件语言"),
    ("ms.save", "Save", "保存"),
    ("ms.saved", "Your mail settings are saved.", "邮件设置已保存。"),
    ("ms.off", "Mail is not configured on this server: nothing is sent until an administrator sets it up.", "此服务器未配置邮件：在管理员配置之前不会发送任何邮件。"),
];

/// The label of `key`: this catalogue first, then the main one.
pub(crate) fn t(lang: Lang, key: &str) -> &'static str {
    i18n::lookup(MESSAGES, lang, key).unwrap_or_else(|| lang.t(key))
}

const FIELDS: &[&str] = &["subject", "body", "confirm", "email", "digest_hour", "lang"];

/// The routes of these pages.
pub(crate) fn routes() -> Router<WebState> {
    Router::new()
        .route("/work/campaigns/{id}/mail", get(page).post(submit))
        .route("/settings/mail", get(settings_page).post(save_settings))
}

fn why_key(why: NothingSent) -> &'static str {
    match why {
        NothingSent::NoAddress => "cm.why.no_address",
        NothingSent::NotConfigured => "cm.why.not_configured",
        NothingSent::NoPublicUrl => "cm.why.no_public_url",
        NothingSent::NoRecipients => "cm.why.no_recipients",
    }
}

/// What the composer was given.
struct Draft {
    lang: MailLang,
    subject: String,
    body: String,
    status: String,
    region: String,
}

impl Draft {
    fn from_form(f: &Form) -> Draft {
        let lang = if f.get("tlang") == "zh" {
            MailLang::Zh
        } else {
            MailLang::En
        };
        let d = MailTemplate::default_for(lang);
        // A submitted form keeps what was typed; the page (and "load") starts from the default.
        let submitted = !f.get("do").is_empty() && f.get("do") != "load";
        let typed = |k: &str, default: String| {
            if submitted {
                f.get(k).replace("\r\n", "\n")
            } else {
                default
            }
        };
        Draft {
            lang,
            subject: typed("subject", d.subject),
            body: typed("body", d.body),
            status: f.get("status").to_string(),
            region: f.get("region").to_string(),
        }
    }

    fn template(&self) -> MailTemplate {
        MailTemplate {
            subject: self.subject.clone(),
            body: self.body.clone(),
            lang: self.lang,
        }
    }

    fn filter(&self) -> CustomerFilter {
        CustomerFilter {
            status: self.status.parse().ok(),
            region: (!self.region.is_empty()).then(|| self.region.clone()),
            exclude_opted_out: true,
            ..CustomerFilter::default()
        }
    }
}

/// What to show under the composer.
enum Outcome {
    None,
    Preview(Composed),
    Confirm(usize),
    Notice(String),
    Problem(String),
}

async fn page(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(id): Path<i64>,
    raw: RawQuery,
) -> Response {
    let q = Form::query(&raw);
    let outcome = match q.get("ok") {
        "sent" => Outcome::Notice(
            t(lang, "cm.sent_done")
                .replace("{queued}", q.get("queued"))
                .replace("{n}", q.get("n")),
        ),
        "test" => Outcome::Notice(t(lang, "cm.test_done").replace("{to}", q.get("to"))),
        _ => Outcome::None,
    };
    render(
        &st,
        lang,
        &me,
        id,
        &Draft::from_form(&q),
        outcome,
        &Errors::default(),
    )
    .await
}

async fn submit(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Response {
    let f = Form::parse(&body);
    let draft = Draft::from_form(&f);
    let (template, filter) = (draft.template(), draft.filter());
    let store = &st.store;
    let result: Result<Outcome, AppError> = match f.get("do") {
        "load" => Ok(Outcome::None),
        "test" => mail::compose_test(store, &me, id, &filter, &template)
            .await
            .map(|r| match r {
                Ok(to) => Outcome::Notice(t(lang, "cm.test_done").replace("{to}", &to)),
                Err(why) => Outcome::Problem(t(lang, why_key(why)).into()),
            }),
        "send" => mail::compose_preview(store, &me, id, &filter, &template)
            .await
            .map(|r| match r {
                Ok(p) if p.audience == 0 => {
                    Outcome::Problem(t(lang, "cm.why.no_recipients").into())
                }
                Ok(p) => Outcome::Confirm(p.audience),
                Err(why) => Outcome::Problem(t(lang, why_key(why)).into()),
            }),
        "confirm" => {
            let expected = f.get("confirm").parse::<usize>().ok();
            match mail::compose_send(store, &me, id, &filter, &template, expected).await {
                Ok(Ok(s)) => {
                    return Redirect::to(&format!(
                        "/work/campaigns/{id}/mail?ok=sent&queued={}&n={}",
                        s.queued, s.audience
                    ))
                    .into_response()
                }
                Ok(Err(why)) => Ok(Outcome::Problem(t(lang, why_key(why)).into())),
                Err(e) => Err(e),
            }
        }
        _ => mail::compose_preview(store, &me, id, &filter, &template)
            .await
            .map(|r| match r {
                Ok(p) => Outcome::Preview(p),
                Err(why) => Outcome::Problem(t(lang, why_key(why)).into()),
            }),
    };
    match result {
        Ok(o) => render(&st, lang, &me, id, &draft, o, &Errors::default()).await,
        Err(AppError::Store(e)) => match composer_errors(lang, &e) {
            Some(errors) => {
                let mut r = render(&st, lang, &me, id, &draft, Outcome::None, &errors).await;
                *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                r
            }
            None => crate::store_error_page(lang, &e),
        },
        Err(e) => crate::app_error_page(lang, &e),
    }
}

/// The composer's input errors: an unknown merge field and a changed audience in the page's
/// words, the others as every form words them.
fn composer_errors(lang: Lang, e: &patron_store::StoreError) -> Option<Errors> {
    let patron_store::StoreError::Invalid(errs) = e else {
        return Errors::from_store(lang, e, FIELDS);
    };
    let mut out = Errors::default();
    for fe in errs {
        if fe.message.contains("unknown merge field") {
            out.add(&fe.field, t(lang, "cm.bad_field"));
        } else if fe.field == "confirm" {
            out.add("confirm", t(lang, "cm.changed"));
        } else {
            let one = patron_store::StoreError::Invalid(vec![fe.clone()]);
            if let Some(o) = Errors::from_store(lang, &one, FIELDS) {
                for f in FIELDS.iter().chain(&[""]) {
                    if let Some(m) = o.get(f) {
                        out.add(f, m);
                    }
                }
            }
        }
    }
    Some(out)
}

async fn render(
    st: &WebState,
    lang: Lang,
    me: &Session,
    id: i64,
    draft: &Draft,
    outcome: Outcome,
    errors: &Errors,
) -> Response {
    let (campaign, counts) = match mail::campaign_mail_counts(&st.store, me, id).await {
        Ok(c) => c,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    let members = match st.store.campaign_member_ids(id).await {
        Ok(m) => m.len(),
        Err(e) => return crate::store_error_page(lang, &e),
    };
    let composes = me.may(Action::ManageCampaigns);
    let n = |v: i64| i18n::count(v.max(0) as u64);
    let hidden = html! {
        input type="hidden" name="tlang" value=(if draft.lang == MailLang::Zh { "zh" } else { "en" });
        input type="hidden" name="subject" value=(draft.subject);
        input type="hidden" name="body" value=(draft.body);
        input type="hidden" name="status" value=(draft.status);
        input type="hidden" name="region" value=(draft.region);
    };
    let action = format!("/work/campaigns/{id}/mail");
    let body = html! {
        div.pagehead { h1 { (t(lang, "cm.title")) " · " (campaign.name) } }
        p { a href="/work/campaigns" { "← " (crate::work::t(lang, "work.campaigns")) } }
        @match &outcome {
            Outcome::Notice(m) => div.notice.ok role="status" id="done" { (m) },
            Outcome::Problem(m) => div.notice.warn role="alert" id="nothing-sent" { (m) },
            _ => {},
        }
        @if let Some(m) = errors.get("") { div.notice.error role="alert" id="invalid" { (m) } }
        @if let Some(m) = errors.get("confirm") { div.notice.error role="alert" id="invalid" { (m) } }
        section.panel id="mail-counts" {
            h2 { (t(lang, "cm.counts")) }
            dl.figures.left {
                dt { (t(lang, "cm.queued")) } dd id="count-queued" { (n(counts.queued)) }
                dt { (t(lang, "cm.sent")) } dd id="count-sent" { (n(counts.sent)) }
                dt { (t(lang, "cm.failed")) } dd id="count-failed" { (n(counts.failed)) }
                dt { (t(lang, "cm.unsubscribed")) } dd id="count-unsubscribed" { (n(counts.unsubscribed)) }
                dt { (t(lang, "cm.customers")) } dd id="count-customers" { (n(counts.customers)) }
            }
        }
        @if let Outcome::Confirm(total) = &outcome {
            section.panel id="confirm" {
                h2 { (t(lang, "cm.confirm_title")) }
                p { (t(lang, "cm.confirm_text").replace("{n}", &total.to_string())) }
                form method="post" action=(action) { (crate::auth::csrf_field())
                    (hidden)
                    input type="hidden" name="confirm" value=(total);
                    div.formfoot style="flex-wrap: wrap; gap: .5rem" {
                        button type="submit" name="do" value="preview" { (t(lang, "cm.cancel")) }
                        button.primary type="submit" name="do" value="confirm" { (t(lang, "cm.confirm").replace("{n}", &total.to_string())) }
                    }
                }
            }
        }
        @if let Outcome::Preview(p) = &outcome {
            section.panel id="preview" {
                h2 { (t(lang, "cm.preview")) }
                p { (t(lang, "cm.audience")) ": " strong id="audience" { (p.audience) } }
                @match &p.mail {
                    Some(m) => {
                        p { (t(lang, "cm.preview_for")) ": " span id="preview-to" { (m.recipient) } }
                        p { strong id="preview-subject" { (m.subject) } }
                        pre.mailbody id="preview-body" style="white-space: pre-wrap; overflow-wrap: anywhere" { (m.body) }
                    },
                    None => p.empty { (t(lang, "cm.nobody")) },
                }
            }
        }
        @if composes && !matches!(outcome, Outcome::Confirm(_)) {
            section.panel id="composer" {
                h2 { (t(lang, "cm.compose")) }
                form method="post" action=(action) { (crate::auth::csrf_field())
                    div.formgrid style="grid-template-columns: repeat(auto-fit, minmax(min(100%, 11rem), 1fr))" {
                        div.field {
                            label for="cm-lang" { (t(lang, "cm.lang")) }
                            select id="cm-lang" name="tlang" {
                                option value="en" selected[draft.lang == MailLang::En] { (t(lang, "cm.lang.en")) }
                                option value="zh" selected[draft.lang == MailLang::Zh] { (t(lang, "cm.lang.zh")) }
                            }
                        }
                        @if members == 0 {
                            div.field {
                                label for="cm-status" { (t(lang, "cm.status")) }
                                select id="cm-status" name="status" {
                                    option value="" { (t(lang, "cm.any")) }
                                    @for s in ["lead", "tracking", "intent", "won"] {
                                        option value=(s) selected[draft.status == s] { (lang.t(&format!("status.{s}"))) }
                                    }
                                }
                            }
                            div.field {
                                label for="cm-region" { (t(lang, "cm.region")) }
                                input id="cm-region" type="text" name="region" value=(draft.region);
                            }
                        }
                    }
                    p.muted { (t(lang, if members > 0 { "cm.members" } else { "cm.narrow" })) }
                    div.formfoot style="flex-wrap: wrap; gap: .5rem" { span {} button type="submit" name="do" value="load" formnovalidate { (t(lang, "cm.load")) } }
                    (crate::work::field(t(lang, "cm.subject"), "cm-subject", errors.get("subject"), html! {
                        input id="cm-subject" type="text" name="subject" value=(draft.subject) style="width: 100%; box-sizing: border-box";
                    }))
                    (crate::work::field(t(lang, "cm.body"), "cm-body", errors.get("body"), html! {
                        textarea id="cm-body" name="body" rows="10" style="width: 100%; box-sizing: border-box" { (draft.body) }
                    }))
                    p.muted { (t(lang, "cm.fields")) }
                    div.formfoot style="flex-wrap: wrap; gap: .5rem" {
                        button type="submit" name="do" value="preview" { (t(lang, "cm.preview")) }
                        button type="submit" name="do" value="test" { (t(lang, "cm.test")) }
                        button.primary type="submit" name="do" value="send" { (t(lang, "cm.send")) }
                    }
                }
            }
        }
    };
    html(
        StatusCode::OK,
        layout::page_at(lang, t(lang, "cm.title"), "work", "/work/campaigns", body),
    )
}

async fn settings_page(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    raw: RawQuery,
) -> Response {
    let saved = Form::query(&raw).get("ok") == "saved";
    match mail::my_mail_settings(&st.store, &me).await {
        Ok(s) => settings_view(lang, &s, saved, &Errors::default(), StatusCode::OK),
        Err(e) => crate::app_error_page(lang, &e),
    }
}

async fn save_settings(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    let f = Form::parse(&body);
    let s = UserMailSettings {
        email: Some(f.get("email").to_string()).filter(|e| !e.is_empty()),
        notify_by_mail: f.get("notify") == "on",
        digest_hour: f.get("digest_hour").parse().ok(),
        lang: if f.get("lang") == "zh" { "zh" } else { "en" }.into(),
    };
    match mail::set_my_mail_settings(&st.store, &me, s.clone()).await {
        Ok(_) => Redirect::to("/settings/mail?ok=saved").into_response(),
        Err(AppError::Store(e)) => match Errors::from_store(lang, &e, FIELDS) {
            Some(errors) => {
                settings_view(lang, &s, false, &errors, StatusCode::UNPROCESSABLE_ENTITY)
            }
            None => crate::store_error_page(lang, &e),
        },
        Err(e) => crate::app_error_page(lang, &e),
    }
}

fn settings_view(
    lang: Lang,
    s: &UserMailSettings,
    saved: bool,
    errors: &Errors,
    status: StatusCode,
) -> Response {
    let body: Markup = html! {
        div.pagehead { h1 { (t(lang, "ms.title")) } }
        @if saved { div.notice.ok role="status" id="done" { (t(lang, "ms.saved")) } }
        @if mail::delivery().smtp.is_none() { div.notice.warn id="mail-off" { (t(lang, "ms.off")) } }
        section.panel id="mail-settings" {
            form method="post" action="/settings/mail" { (crate::auth::csrf_field())
                (crate::work::field(t(lang, "ms.email"), "ms-email", errors.get("email"), html! {
                    input id="ms-email" type="email" name="email" value=(s.email.as_deref().unwrap_or("")) autocomplete="email";
                }))
                div.field {
                    label { input type="checkbox" name="notify" checked[s.notify_by_mail]; " " (t(lang, "ms.notify")) }
                }
                (crate::work::field(t(lang, "ms.digest"), "ms-digest", errors.get("digest_hour"), html! {
                    select id="ms-digest" name="digest_hour" {
                        option value="" selected[s.digest_hour.is_none()] { (t(lang, "ms.digest_off")) }
                        @for h in 0..24 {
                            option value=(h) selected[s.digest_hour == Some(h)] { (t(lang, "ms.digest_at").replace("{h}", &format!("{h:02}"))) }
                        }
                    }
                }))
                div.field {
                    label for="ms-lang" { (t(lang, "ms.lang")) }
                    select id="ms-lang" name="lang" {
                        option value="en" selected[s.lang != "zh"] { (t(lang, "cm.lang.en")) }
                        option value="zh" selected[s.lang == "zh"] { (t(lang, "cm.lang.zh")) }
                    }
                }
                div.formfoot style="flex-wrap: wrap; gap: .5rem" { span {} button.primary type="submit" { (t(lang, "ms.save")) } }
            }
        }
    };
    html(
        status,
        layout::page_at(lang, t(lang, "ms.title"), "", "/my-day", body),
    )
}
