//! Exports as a controlled right, in the web: the request form when the list's CSV needs a
//! manager's approval (`/exports/new`), the requester's requests and one-time downloads
//! (`/exports`), the managers' approval queue (`/exports/queue`), the export rules per role
//! (`/admin/exports`, edited by admins) and leaving users on the users page. Every rule (the
//! gate, scope, roles, audit) is the application layer's (`patron_app::exports`); these
//! handlers translate forms and answers.

use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::NaiveDate;
use maud::{html, Markup};
use patron_app::exports::{self, Gate};
use patron_app::{Action, AppError, Session};
use patron_store::{ExportRequest, ExportRight, ExportRule, Role, StoreError, User};

use crate::i18n::Lang;
use crate::work::Form;
use crate::{html, Ctx, WebState};

/// The routes of the export pages.
pub(crate) fn routes() -> Router<WebState> {
    Router::new()
        .route("/exports", get(mine))
        .route("/exports/new", get(new_request).post(submit_request))
        .route("/exports/queue", get(queue))
        .route("/exports/{id}/decide", post(decide))
        .route("/exports/{id}/download", post(download))
        .route("/admin/exports", get(rules).post(set_rule))
        .route("/admin/leaving", post(leaving))
}

/// Labels: `(key, English, Chinese)`; [`t`] falls back to the main catalogue.
pub(crate) const MESSAGES: &[(&str, &str, &str)] = &[
    ("ex.new", "Request an export", "申请导出"),
    (
        "ex.why.limit",
        "This export would take you over your daily export limit: it needs a manager's approval.",
        "此次导出将超过您的每日导出限额，需经经理批准。",
    ),
    (
        "ex.why.leaving",
        "You are marked as leaving: your exports need a manager's approval.",
        "您已被标记为即将离职：您的导出需经经理批准。",
    ),
    (
        "ex.why.suspended",
        "Your exports are suspended until a manager reviews unusual access: this export needs a manager's approval.",
        "在经理审查异常访问之前，您的导出已暂停：此次导出需经经理批准。",
    ),
    (
        "ex.why.role",
        "Exports of your role need a manager's approval.",
        "您的角色的导出需经经理批准。",
    ),
    (
        "ex.refused",
        "Your role may not export customer rows.",
        "您的角色不能导出客户数据。",
    ),
    ("ex.rows", "Customers to export", "待导出客户数"),
    ("ex.filter", "Filter", "筛选条件"),
    ("ex.all", "all customers you see", "您可见的全部客户"),
    ("ex.reason", "Why do you need this export? (required)", "导出原因（必填）"),
    ("ex.send", "Send the request", "提交申请"),
    (
        "ex.allowed",
        "You may download this list now.",
        "您现在可以下载此列表。",
    ),
    ("ex.download_csv", "Download CSV", "下载 CSV"),
    ("ex.mine", "My export requests", "我的导出申请"),
    (
        "ex.mine_sub",
        "An approved export is downloaded once, within 24 hours of its approval.",
        "已批准的导出须在批准后 24 小时内下载，且只能下载一次。",
    ),
    ("ex.requested", "Your request was sent to your manager.", "您的申请已提交给经理。"),
    ("ex.none", "No export requests.", "没有导出申请。"),
    ("ex.id", "Request", "申请"),
    ("ex.asked", "Asked", "申请时间"),
    ("ex.state", "State", "状态"),
    ("ex.state.pending", "Waiting for approval", "待审批"),
    ("ex.state.approved", "Approved", "已批准"),
    ("ex.state.refused", "Refused", "已拒绝"),
    ("ex.state.downloaded", "Downloaded", "已下载"),
    ("ex.state.expired", "Expired", "已过期"),
    ("ex.decision", "Decision", "审批意见"),
    ("ex.until", "Download until", "下载截止"),
    ("ex.download", "Download (once)", "下载（仅一次）"),
    (
        "ex.gone",
        "This download is not available: it was fetched already, has expired, or was not approved.",
        "此下载不可用：已下载过、已过期或未获批准。",
    ),
    ("ex.queue", "Export approval queue", "导出审批队列"),
    (
        "ex.queue_sub",
        "Requests for exports over a user's daily limit. An approved export can be downloaded once by its requester within 24 hours; a refusal needs a reason, which the requester is told.",
        "超过用户每日限额的导出申请。批准后，申请人可在 24 小时内下载一次；拒绝时须填写原因，并会告知申请人。",
    ),
    ("ex.queue_empty", "No request is waiting.", "没有待审批的申请。"),
    ("ex.who", "Requested by", "申请人"),
    ("ex.decision_reason", "Reason (required to refuse)", "原因（拒绝时必填）"),
    ("ex.approve", "Approve", "批准"),
    ("ex.refuse", "Refuse", "拒绝"),
    ("ex.done.approved", "Request approved.", "申请已批准。"),
    ("ex.done.refused", "Request refused.", "申请已拒绝。"),
    ("ex.rules", "Export rules", "导出规则"),
    (
        "ex.rules_sub",
        "What each role may export: none, within its scope up to a daily number of customer rows (more needs a manager's approval), or only with approval. Leave the limit empty for no limit.",
        "各角色的导出权限：不可导出；在其数据范围内每日导出不超过限额的客户行（超出需经理批准）；或每次导出都需批准。限额留空表示不限。",
    ),
    ("ex.role", "Role", "角色"),
    ("ex.right", "Export right", "导出权限"),
    ("ex.right.none", "None", "不可导出"),
    ("ex.right.own", "Own scope", "本人数据范围"),
    ("ex.right.approval", "With approval", "需审批"),
    ("ex.daily", "Rows a day without approval", "每日免审批行数"),
    ("ex.unlimited", "no limit", "不限"),
    ("ex.save", "Save", "保存"),
    ("ex.saved", "Export rule saved.", "导出规则已保存。"),
    ("ex.leaving", "Leaving users", "离职人员"),
    (
        "ex.leaving_sub",
        "From the moment a user is marked as leaving, their exports need approval; on the day, their customers and open items go to the receiver.",
        "用户被标记为离职后，其导出即需审批；到离职日，其客户及未完成事项将移交给接收人。",
    ),
    ("ex.leaver", "User", "用户"),
    ("ex.on", "Leaving on", "离职日期"),
    ("ex.to", "Customers go to", "客户移交给"),
    ("ex.mark", "Mark as leaving", "标记为离职"),
    ("ex.unmark", "No longer leaving", "取消离职"),
    ("ex.handed", "handed over", "已移交"),
    ("ex.leaving_done", "Leaving user saved.", "离职设置已保存。"),
    ("ex.bad_date", "Give the leaving day as YYYY-MM-DD.", "离职日期格式应为 YYYY-MM-DD。"),
    ("ex.links", "Exports:", "导出："),
];

/// A label in `lang` (this module's, else the main catalogue's).
pub(crate) fn t(lang: Lang, key: &str) -> &'static str {
    crate::i18n::lookup(MESSAGES, lang, key).unwrap_or_else(|| lang.t(key))
}

/// Why an export needs approval, in `lang` (the gate's English reason as it is).
fn why_text(lang: Lang, why: &str) -> String {
    if lang == Lang::En {
        return why.to_string();
    }
    let key = if why.contains("suspended") {
        "ex.why.suspended"
    } else if why.contains("leaving") {
        "ex.why.leaving"
    } else if why.contains("daily limit") {
        "ex.why.limit"
    } else {
        "ex.why.role"
    };
    t(lang, key).to_string()
}

/// The page of a refused export: 403 saying the role may not export (in `lang`).
pub(crate) fn refused_page(lang: Lang, e: &AppError) -> Response {
    match e {
        AppError::Forbidden(m) => crate::error_page(
            lang,
            StatusCode::FORBIDDEN,
            lang.t("auth.not_allowed"),
            &if lang == Lang::En {
                m.clone()
            } else if m.contains("may not export") {
                t(lang, "ex.refused").to_string()
            } else {
                crate::errors::app_error_text(lang, e)
            },
        ),
        e => crate::app_error_page(lang, e),
    }
}

fn page(lang: Lang, title: &str, body: Markup) -> Response {
    html(StatusCode::OK, crate::layout::page(lang, title, "", body))
}

fn state_label(lang: Lang, r: &ExportRequest) -> &'static str {
    let now = chrono::Utc::now();
    match r.status.as_str() {
        "approved" if r.downloaded_at.is_some() => t(lang, "ex.state.downloaded"),
        "approved" if !r.downloadable(now) => t(lang, "ex.state.expired"),
        "approved" => t(lang, "ex.state.approved"),
        "refused" => t(lang, "ex.state.refused"),
        _ => t(lang, "ex.state.pending"),
    }
}

fn described(lang: Lang, r: &str) -> String {
    if r.is_empty() {
        t(lang, "ex.all").to_string()
    } else {
        r.to_string()
    }
}

/// `GET /exports/new?<the list's query>`: what the gate says of exporting this list, with the
/// request form (a reason) when it needs approval.
async fn new_request(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    request_form(&st, lang, &me, raw.as_deref().unwrap_or(""), None, "").await
}

async fn request_form(
    st: &WebState,
    lang: Lang,
    me: &Session,
    raw: &str,
    error: Option<String>,
    reason: &str,
) -> Response {
    let (filter, sort, query) = match crate::customers::export_filter(lang, me, raw) {
        Ok(f) => f,
        Err(n) => {
            return crate::error_page(
                lang,
                StatusCode::BAD_REQUEST,
                lang.t("error.bad_filter"),
                &n,
            )
        }
    };
    let (rows, gate) =
        match exports::check(&st.store, me, &filter, sort, "customer list (web)").await {
            Ok(g) => g,
            Err(e) => return refused_page(lang, &e),
        };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = html! {
        div.pagehead { h1 { (t(lang, "ex.new")) } }
        @if let Some(e) = &error { div.notice.error role="alert" id="problem" { (e) } }
        div.panel {
            dl {
                dt { (t(lang, "ex.rows")) } dd #rows { (crate::i18n::count(rows.max(0) as u64)) }
                dt { (t(lang, "ex.filter")) } dd.mono style="overflow-wrap:anywhere" { (described(lang, &query)) }
            }
            @match &gate {
                Gate::Allowed => {
                    p #allowed { (t(lang, "ex.allowed")) }
                    p { a.button.primary href=(format!("/customers.csv?{query}")) { (t(lang, "ex.download_csv")) } }
                }
                Gate::NeedsApproval(why) | Gate::Refused(why) => {
                    p.notice.warn role="status" #why { (why_text(lang, why)) }
                    form method="post" action="/exports/new" id="request-form" { (crate::auth::csrf_field())
                        input type="hidden" name="query" value=(query);
                        label for="ex-reason" { (t(lang, "ex.reason")) }
                        textarea #ex-reason name="reason" rows="3" required maxlength=(exports::REASON_MAX) { (reason) }
                        div.actions { button.primary type="submit" { (t(lang, "ex.send")) } }
                    }
                }
            }
            p { a href="/exports" { (t(lang, "ex.mine")) } }
        }
    };
    html(
        status,
        crate::layout::page(lang, t(lang, "ex.new"), "customers", body),
    )
}

/// `POST /exports/new` (`query`, `reason`): the request, then the requester's list.
async fn submit_request(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    let form = Form::parse(&body);
    let query = form.get("query").to_string();
    let reason = form.get("reason").to_string();
    let (filter, sort, query) = match crate::customers::export_filter(lang, &me, &query) {
        Ok(f) => f,
        Err(n) => {
            return crate::error_page(
                lang,
                StatusCode::BAD_REQUEST,
                lang.t("error.bad_filter"),
                &n,
            )
        }
    };
    match exports::request(&st.store, &me, &filter, sort, &query, &reason, " (web)").await {
        Ok(_) => Redirect::to("/exports?done=requested").into_response(),
        Err(e @ AppError::Store(StoreError::Invalid(_))) => {
            let msg = crate::errors::app_error_text(lang, &e);
            request_form(&st, lang, &me, &query, Some(msg), &reason).await
        }
        Err(e) => refused_page(lang, &e),
    }
}

/// `GET /exports`: the caller's requests, with the one-time download of approved ones.
async fn mine(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    let list = match exports::mine(&st.store, &me).await {
        Ok(l) => l,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    let done = Form::query(&RawQuery(raw)).get("done") == "requested";
    let now = chrono::Utc::now();
    let body = html! {
        div.pagehead { div {
            h1 { (t(lang, "ex.mine")) }
            p.sub { (t(lang, "ex.mine_sub")) }
        } }
        @if done { div.notice.ok role="status" id="done" { (t(lang, "ex.requested")) } }
        (links(lang, &me))
        div.panel.flush {
            @if list.is_empty() { p.empty { (t(lang, "ex.none")) } } @else {
                table.data id="my-exports" {
                    thead { tr {
                        th { (t(lang, "ex.id")) } th { (t(lang, "ex.asked")) } th { (t(lang, "ex.rows")) }
                        th { (t(lang, "ex.filter")) } th { (t(lang, "ex.state")) } th { (t(lang, "ex.decision")) } th {}
                    } }
                    tbody {
                        @for r in &list {
                            tr id=(format!("request-{}", r.id)) {
                                td.mono { (r.id) }
                                td { (r.created_at.format("%Y-%m-%d %H:%M")) }
                                td.mono { (crate::i18n::count(r.row_count.max(0) as u64)) }
                                td.mono style="overflow-wrap:anywhere;min-width:8rem" { (described(lang, &r.described)) }
                                td { (state_label(lang, r)) }
                                td {
                                    @if let Some(by) = &r.decided_by { (by) }
                                    @if let Some(why) = &r.decision_reason { ": " span.reason { (why) } }
                                }
                                td {
                                    @if r.downloadable(now) {
                                        form method="post" action=(format!("/exports/{}/download", r.id)) { (crate::auth::csrf_field())
                                            button.primary type="submit" { (t(lang, "ex.download")) }
                                        }
                                        @if let Some(e) = r.expires_at { span.muted { (t(lang, "ex.until")) " " (e.format("%Y-%m-%d %H:%M UTC")) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(lang, t(lang, "ex.mine"), body)
}

fn links(lang: Lang, me: &Session) -> Markup {
    html! {
        p.muted {
            (t(lang, "ex.links")) " "
            a href="/exports" { (t(lang, "ex.mine")) }
            @if me.may(Action::ManageUsers) {
                " · " a href="/exports/queue" { (t(lang, "ex.queue")) }
                " · " a href="/admin/exports" { (t(lang, "ex.rules")) }
            }
        }
    }
}

fn parse_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

/// `POST /exports/{id}/download`: the approved export's CSV, once.
async fn download(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
) -> Response {
    let Some(id) = parse_id(&raw) else {
        return crate::store_error_page(lang, &StoreError::not_found("export request", &raw));
    };
    match exports::download(&st.store, &me, id).await {
        Ok((_, file)) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"customers-export-{id}.csv\""),
                ),
                (header::CACHE_CONTROL, "no-store".to_string()),
            ],
            file,
        )
            .into_response(),
        Err(AppError::Store(StoreError::Conflict { message, .. })) => crate::error_page(
            lang,
            StatusCode::GONE,
            lang.t("error.title"),
            &if lang == Lang::En {
                message
            } else {
                t(lang, "ex.gone").to_string()
            },
        ),
        Err(e) => crate::app_error_page(lang, &e),
    }
}

/// `GET /exports/queue`: the requests the caller may decide.
async fn queue(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    let done = match Form::query(&RawQuery(raw)).get("done") {
        "approved" => Some(t(lang, "ex.done.approved")),
        "refused" => Some(t(lang, "ex.done.refused")),
        _ => None,
    };
    queue_page(&st, lang, &me, done, None).await
}

async fn queue_page(
    st: &WebState,
    lang: Lang,
    me: &Session,
    done: Option<&str>,
    error: Option<String>,
) -> Response {
    let list = match exports::queue(&st.store, me).await {
        Ok(l) => l,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    let body = html! {
        div.pagehead { div {
            h1 { (t(lang, "ex.queue")) }
            p.sub { (t(lang, "ex.queue_sub")) }
        } }
        @if let Some(d) = done { div.notice.ok role="status" id="done" { (d) } }
        @if let Some(e) = &error { div.notice.error role="alert" id="problem" { (e) } }
        (links(lang, me))
        @if list.is_empty() { div.panel { p.empty { (t(lang, "ex.queue_empty")) } } }
        @for r in &list {
            section.panel id=(format!("request-{}", r.id)) {
                h2 { (t(lang, "ex.id")) " " (r.id) " · " (r.username) }
                dl {
                    dt { (t(lang, "ex.rows")) } dd { (crate::i18n::count(r.row_count.max(0) as u64)) }
                    dt { (t(lang, "ex.filter")) } dd.mono style="overflow-wrap:anywhere" { (described(lang, &r.described)) }
                    dt { (t(lang, "ex.asked")) } dd { (r.created_at.format("%Y-%m-%d %H:%M UTC")) }
                    dt { (t(lang, "ex.reason")) } dd.reason style="overflow-wrap:anywhere" { (r.reason) }
                }
                form method="post" action=(format!("/exports/{}/decide", r.id)) { (crate::auth::csrf_field())
                    label for=(format!("why-{}", r.id)) { (t(lang, "ex.decision_reason")) }
                    input id=(format!("why-{}", r.id)) type="text" name="reason" maxlength=(exports::REASON_MAX);
                    div.actions {
                        button.primary type="submit" name="decision" value="approve" { (t(lang, "ex.approve")) }
                        button.danger type="submit" name="decision" value="refuse" { (t(lang, "ex.refuse")) }
                    }
                }
            }
        }
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    html(
        status,
        crate::layout::page(lang, t(lang, "ex.queue"), "", body),
    )
}

/// `POST /exports/{id}/decide` (`decision=approve|refuse`, `reason`): back to the queue.
async fn decide(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let Some(id) = parse_id(&raw) else {
        return crate::store_error_page(lang, &StoreError::not_found("export request", &raw));
    };
    let form = Form::parse(&body);
    let approve = match form.get("decision") {
        "approve" => true,
        "refuse" => false,
        _ => {
            let e = StoreError::invalid("decision", "approve or refuse");
            return crate::store_error_page(lang, &e);
        }
    };
    let reason = form.get("reason");
    match exports::decide(&st.store, &me, id, approve, Some(reason), " (web)").await {
        Ok(_) => Redirect::to(if approve {
            "/exports/queue?done=approved"
        } else {
            "/exports/queue?done=refused"
        })
        .into_response(),
        Err(e @ AppError::Store(StoreError::Invalid(_))) => {
            let msg = crate::errors::app_error_text(lang, &e);
            queue_page(&st, lang, &me, None, Some(msg)).await
        }
        Err(e) => crate::app_error_page(lang, &e),
    }
}

fn right_label(lang: Lang, r: ExportRight) -> &'static str {
    t(lang, &format!("ex.right.{}", r.as_str()))
}

/// `GET /admin/exports`: the export rule of each role (admins edit it).
async fn rules(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    let saved = Form::query(&RawQuery(raw)).get("done") == "saved";
    let rules = match exports::rules(&st.store).await {
        Ok(r) => r,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    let admin = me.may(Action::AdministerUsers);
    let body = html! {
        div.pagehead { div {
            h1 { (t(lang, "ex.rules")) }
            p.sub { (t(lang, "ex.rules_sub")) }
        } }
        @if saved { div.notice.ok role="status" id="done" { (t(lang, "ex.saved")) } }
        (links(lang, &me))
        div.panel.flush {
            table.data id="export-rules" {
                thead { tr { th { (t(lang, "ex.role")) } th { (t(lang, "ex.right")) } th { (t(lang, "ex.daily")) } } }
                tbody {
                    @for r in &rules {
                        tr id=(format!("rule-{}", r.role.as_str())) {
                            td { (lang.t(&format!("role.{}", r.role.as_str()))) }
                            @if admin {
                                td colspan="2" {
                                    form.inline method="post" action="/admin/exports" { (crate::auth::csrf_field())
                                        input type="hidden" name="role" value=(r.role.as_str());
                                        select name="right" aria-label=(t(lang, "ex.right")) {
                                            @for n in ExportRight::NAMES {
                                                option value=(n) selected[n == r.right.as_str()] { (t(lang, &format!("ex.right.{n}"))) }
                                            }
                                        }
                                        " "
                                        input type="number" name="daily_rows" min="0" inputmode="numeric" size="8"
                                            aria-label=(t(lang, "ex.daily")) placeholder=(t(lang, "ex.unlimited"))
                                            value=[r.daily_rows];
                                        " "
                                        button type="submit" { (t(lang, "ex.save")) }
                                    }
                                }
                            } @else {
                                td { (right_label(lang, r.right)) }
                                td.mono { @match r.daily_rows { Some(n) => (crate::i18n::count(n.max(0) as u64)), None => (t(lang, "ex.unlimited")) } }
                            }
                        }
                    }
                }
            }
        }
    };
    page(lang, t(lang, "ex.rules"), body)
}

/// `POST /admin/exports` (`role`, `right`, `daily_rows`: empty for no limit): admins only.
async fn set_rule(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    let form = Form::parse(&body);
    let Some(role) = Role::parse(form.get("role")) else {
        return crate::store_error_page(lang, &StoreError::invalid("role", "unknown role"));
    };
    let Some(right) = ExportRight::parse(form.get("right")) else {
        return crate::store_error_page(
            lang,
            &StoreError::invalid("right", "none, own or approval"),
        );
    };
    let daily_rows = match form.get("daily_rows") {
        "" => None,
        n => match n.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return crate::store_error_page(
                    lang,
                    &StoreError::invalid("daily_rows", "a whole number of rows, or empty"),
                )
            }
        },
    };
    let rule = ExportRule {
        role,
        right,
        daily_rows,
    };
    match exports::set_rule(&st.store, &me, rule, " (web)").await {
        Ok(()) => Redirect::to("/admin/exports?done=saved").into_response(),
        Err(e) => crate::app_error_page(lang, &e),
    }
}

/// The users page's panel of leaving users: who leaves when, to whom their customers go, and
/// the form to mark one (`users`: those the viewer manages).
pub(crate) async fn leaving_panel(st: &WebState, lang: Lang, users: &[User]) -> Markup {
    let leavers = st.store.leavers().await.unwrap_or_default();
    let name = |id: i64| {
        users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.username.clone())
    };
    html! {
        div.panel id="leaving" {
            h2 { (t(lang, "ex.leaving")) }
            p.muted { (t(lang, "ex.leaving_sub")) }
            @for (user, on, to, handed) in &leavers {
                @if let Some(n) = name(*user) {
                    form.inline method="post" action="/admin/leaving" id=(format!("leaver-{user}")) { (crate::auth::csrf_field())
                        input type="hidden" name="user" value=(user);
                        input type="hidden" name="clear" value="1";
                        strong { (n) } " " (t(lang, "ex.on")) " " (on.format("%Y-%m-%d"))
                        @if let Some(to) = to.and_then(name) { " → " (to) }
                        @if handed.is_some() { " " span.badge { (t(lang, "ex.handed")) } }
                        " " button type="submit" { (t(lang, "ex.unmark")) }
                    }
                }
            }
            form.filters method="post" action="/admin/leaving" id="leaving-form" { (crate::auth::csrf_field())
                label { (t(lang, "ex.leaver"))
                    select name="user" {
                        @for u in users { option value=(u.id) { (u.username) } }
                    }
                }
                label { (t(lang, "ex.on")) input type="date" name="on" required; }
                label { (t(lang, "ex.to"))
                    select name="to" {
                        @for u in users.iter().filter(|u| !u.disabled) { option value=(u.id) { (u.username) } }
                    }
                }
                div.actions { button.primary type="submit" { (t(lang, "ex.mark")) } }
            }
        }
    }
}

/// `POST /admin/leaving` (`user`, `on`, `to`; or `user` and `clear=1`): back to the users page.
async fn leaving(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    let form = Form::parse(&body);
    let Ok(user) = form.get("user").parse::<i64>() else {
        return crate::store_error_page(lang, &StoreError::invalid("user", "choose a user"));
    };
    let leaving = if form.get("clear") == "1" {
        None
    } else {
        let Ok(on) = form.get("on").parse::<NaiveDate>() else {
            return crate::error_page(
                lang,
                StatusCode::BAD_REQUEST,
                lang.t("error.bad_request"),
                t(lang, "ex.bad_date"),
            );
        };
        let Ok(to) = form.get("to").parse::<i64>() else {
            return crate::store_error_page(lang, &StoreError::invalid("to", "choose a user"));
        };
        Some((on, to))
    };
    match exports::mark_leaving(&st.store, &me, user, leaving, " (web)").await {
        Ok(()) => Redirect::to("/admin/users?done=leaving").into_response(),
        Err(e) => crate::app_error_page(lang, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_is_in_both_languages() {
        let mut seen = std::collections::HashSet::new();
        for (k, en, zh) in MESSAGES {
            assert!(seen.insert(*k), "duplicate {k}");
            assert!(!en.is_empty() && !zh.is_empty(), "empty label for {k}");
            assert!(
                !crate::i18n::keys().any(|m| m == *k),
                "{k} is in the main catalogue too"
            );
        }
        let known = |k: &str| {
            MESSAGES.iter().any(|(m, _, _)| *m == k) || crate::i18n::keys().any(|m| m == k)
        };
        for key in crate::i18n::used_label_keys(include_str!("exports.rs")) {
            assert!(known(key), "missing label {key}");
        }
        for r in ExportRight::NAMES {
            assert!(known(&format!("ex.right.{r}")), "{r}");
        }
        for s in ["pending", "approved", "refused", "downloaded", "expired"] {
            assert!(known(&format!("ex.state.{s}")), "{s}");
        }
        // Each reason the gate gives is worded in Chinese.
        for (why, key) in [
            (
                "3 rows would take you over your daily limit of 2 rows",
                "ex.why.limit",
            ),
            ("you are marked as leaving on 2030-01-02", "ex.why.leaving"),
            ("your exports are suspended until", "ex.why.suspended"),
            (
                "exports of your role (rep) need a manager's approval",
                "ex.why.role",
            ),
        ] {
            assert_eq!(why_text(Lang::Zh, why), t(Lang::Zh, key));
        }
    }
}
