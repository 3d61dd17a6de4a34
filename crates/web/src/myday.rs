//! The rep's workplace: "My day" (`/my-day`) and the inbox (`/inbox`).
//!
//! - `GET /my-day`: the signed-in user's open tasks due by the end of today (overdue ones
//!   marked), the next ones, their tickets near (or past) the SLA, their unread notifications
//!   and a form to add a task. Every task has one-click **Done**, **Snooze** (tomorrow 09:00
//!   UTC, or in a week) and, for managers and admins, **Reassign** to a user in their scope;
//! - `POST /my-day/tasks`: adds a task (`patron_app::tasks::add_task`, source `manual`);
//! - `POST /my-day/tasks/{id}/done|snooze|reassign`: changes a task
//!   (`patron_app::tasks::change_task`), then back to `/my-day?ok=...`;
//! - `GET /inbox`: all of the user's notifications, newest first, unread ones marked;
//!   `POST /inbox/read` marks them all read; `POST /inbox/{id}/read` marks one read and goes
//!   to its link (local paths only).
//!
//! The labels of these pages and of the new-customer form live in [`MESSAGES`].

use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use maud::{html, Markup};
use patron_app::{Action, AppError, Session};
use patron_domain::task::{Notification, Task, TaskInput, TaskKind};
use patron_store::{StoreError, TaskChange, User};

use crate::i18n::{self, Lang};
use crate::work::{field, Errors, Form};
use crate::{html, layout, Ctx, WebState};

// ---------------------------------------------------------------------------------------------
// Labels

/// Labels of My day, the inbox and the new-customer form: `(key, English, Chinese)`; [`t`]
/// falls back to the main catalogue.
pub(crate) const MESSAGES: &[(&str, &str, &str)] = &[
    ("myday.nav", "My day", "我的一天"),
    ("myday.title", "My day", "我的一天"),
    ("myday.new_customer", "New customer", "新建客户"),
    ("myday.unread_title", "unread notifications", "条未读通知"),
    ("myday.today", "Overdue and today", "逾期及今日任务"),
    ("myday.upcoming", "Coming up", "即将到来"),
    ("myday.no_tasks", "No open task for today.", "今天没有待办任务。"),
    ("myday.no_upcoming", "Nothing planned later.", "之后暂无安排。"),
    ("myday.overdue", "Overdue", "已逾期"),
    ("myday.done", "Done", "完成"),
    ("myday.snooze", "Snooze", "推迟"),
    ("myday.snooze_tomorrow", "Tomorrow 09:00", "明天 09:00"),
    ("myday.snooze_week", "In a week", "一周后"),
    ("myday.reassign", "Reassign", "转派"),
    ("myday.reassign_to", "Give to", "转派给"),
    ("myday.tickets", "My tickets near breach", "即将超时的工单"),
    (
        "myday.no_tickets",
        "No ticket is near its SLA.",
        "没有即将超时的工单。",
    ),
    ("myday.breached", "Breached", "已超时"),
    ("myday.notifications", "Unread notifications", "未读通知"),
    (
        "myday.no_notifications",
        "No unread notification.",
        "没有未读通知。",
    ),
    ("myday.all_notifications", "All notifications", "全部通知"),
    ("myday.add", "Add a task", "添加任务"),
    ("myday.kind", "Kind", "类型"),
    ("myday.due_at", "Due (UTC)", "到期时间（UTC）"),
    ("myday.note", "What is to be done", "任务内容"),
    ("myday.customer", "Customer (optional)", "客户（可选）"),
    (
        "myday.customer_hint",
        "type a name, number or phone",
        "输入名称、编号或电话",
    ),
    ("myday.add_button", "Add task", "添加任务"),
    (
        "myday.bad_due",
        "is not a date and time (YYYY-MM-DD HH:MM)",
        "不是有效的日期时间（YYYY-MM-DD HH:MM）",
    ),
    ("myday.required", "is required", "必填"),
    (
        "myday.invalid",
        "Some values need fixing; see the messages next to the fields.",
        "部分内容有误，请查看字段旁的提示。",
    ),
    ("myday.bad_user", "is not a user you may give work to", "不是您可以分派任务的用户"),
    ("myday.ok.done", "Task done.", "任务已完成。"),
    ("myday.ok.snoozed", "Task snoozed.", "任务已推迟。"),
    ("myday.ok.reassigned", "Task reassigned.", "任务已转派。"),
    ("myday.ok.added", "Task added.", "任务已添加。"),
    (
        "myday.ok.read",
        "All notifications marked read.",
        "全部通知已标为已读。",
    ),
    ("myday.kind.call", "Call", "电话"),
    ("myday.kind.visit", "Visit", "拜访"),
    ("myday.kind.email", "E-mail", "邮件"),
    ("myday.kind.todo", "To-do", "待办"),
    ("myday.inbox", "Inbox", "消息"),
    ("myday.mark_all", "Mark all read", "全部标为已读"),
    ("myday.new", "New", "未读"),
    ("myday.open", "Open", "打开"),
    ("myday.mark_read", "Mark read", "标为已读"),
    ("myday.empty_inbox", "No notifications.", "没有通知。"),
    // The new-customer form.
    ("nc.title", "New customer", "新建客户"),
    (
        "nc.hint",
        "Before creating, the customers you see are searched for likely duplicates (same phone, e-mail or name).",
        "创建前会在您可见的客户中查找可能的重复（电话、邮箱或名称相同）。",
    ),
    (
        "nc.custom",
        "Custom fields (one key=value a line)",
        "自定义字段（每行一个 键=值）",
    ),
    ("nc.create", "Create customer", "创建客户"),
    (
        "nc.dup_title",
        "Likely duplicates: these customers look the same. Open one of them, or create the new one anyway.",
        "可能重复：以下客户看起来是同一个。可打开其中之一，或仍然创建新客户。",
    ),
    ("nc.open_it", "open it", "打开"),
    ("nc.anyway", "Create anyway", "仍然创建"),
    ("nc.same.phone", "same phone", "电话相同"),
    ("nc.same.email", "same e-mail", "邮箱相同"),
    ("nc.same.name", "same name", "名称相同"),
    (
        "nc.bad_line",
        "line {n}: expected key=value",
        "第 {n} 行：应为 键=值",
    ),
];

/// The label of `key`: this catalogue first, then the main one.
pub(crate) fn t(lang: Lang, key: &str) -> &'static str {
    crate::i18n::lookup(MESSAGES, lang, key).unwrap_or_else(|| lang.t(key))
}

// ---------------------------------------------------------------------------------------------
// Routes

pub(crate) fn routes() -> Router<WebState> {
    Router::new()
        .route("/my-day", get(page))
        .route("/my-day/tasks", post(add))
        .route("/my-day/tasks/{id}/{action}", post(change))
        .route("/inbox", get(inbox))
        .route("/inbox/read", post(read_all))
        .route("/inbox/{id}/read", post(read_one))
}

const KINDS: &[&str] = &["call", "visit", "email", "todo"];

fn kind_label(lang: Lang, k: TaskKind) -> &'static str {
    t(lang, &format!("myday.kind.{}", k.as_str()))
}

/// 09:00 UTC of day `d`.
fn nine(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::from_hms_opt(9, 0, 0).expect("valid time"))
        .and_utc()
}

/// A due time as typed: `YYYY-MM-DDTHH:MM` (the browser's datetime input), `YYYY-MM-DD HH:MM`,
/// or a date alone (09:00), all UTC.
fn parse_due(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let at = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|d| d.and_utc())
        .or_else(|| s.parse::<NaiveDate>().ok().map(nine))?;
    (1900..=2999)
        .contains(&chrono::Datelike::year(&at))
        .then_some(at)
}

/// The users the caller may give tasks to besides themselves (managers and admins: the users
/// in their scope; nobody for reps).
async fn assignees(st: &WebState, me: &Session) -> Result<Vec<User>, StoreError> {
    if !crate::work::manages(me) {
        return Ok(Vec::new());
    }
    Ok(st
        .store
        .users()
        .await?
        .into_iter()
        .filter(|u| {
            !u.disabled
                && u.sees_records()
                && u.id != me.user.id
                && me.visible.allows(Some(u.id), true)
        })
        .collect())
}

fn page_response(
    lang: Lang,
    status: StatusCode,
    title: &str,
    active: &str,
    back: &str,
    body: Markup,
) -> Response {
    html(status, layout::page_at(lang, title, active, back, body))
}

// ---------------------------------------------------------------------------------------------
// My day

async fn page(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    q: RawQuery,
) -> Response {
    let q = Form::query(&q);
    let ok = ["done", "snoozed", "reassigned", "added"]
        .into_iter()
        .find(|k| *k == q.get("ok"));
    render(&st, lang, &me, StatusCode::OK, ok, None, &Errors::default()).await
}

async fn render(
    st: &WebState,
    lang: Lang,
    me: &Session,
    status: StatusCode,
    ok: Option<&str>,
    typed: Option<&Form>,
    errors: &Errors,
) -> Response {
    let now = Utc::now();
    let day = match patron_app::tasks::my_day(&st.store, me, now).await {
        Ok(d) => d,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    let users = match assignees(st, me).await {
        Ok(u) => u,
        Err(e) => return crate::store_error_page(lang, &e),
    };
    let ticket_names = match crate::work::names(
        &st.store,
        day.tickets.iter().map(|t| t.customer_id).collect(),
    )
    .await
    {
        Ok(n) => n,
        Err(e) => return crate::store_error_page(lang, &e),
    };
    let v = |k: &str, default: &str| -> String {
        typed.map_or(default.to_string(), |f| f.get(k).to_string())
    };
    let err = |k: &str| errors.get(k);
    let due_default = (now + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:00")
        .to_string();
    let kind_now = v("kind", "call");
    let body = html! {
        div.pagehead.myday-head {
            h1 { (t(lang, "myday.title")) }
            span.muted { (i18n::date(lang, now.date_naive())) }
        }
        @if let Some(k) = ok { div.notice.ok role="status" id="done" { (t(lang, &format!("myday.ok.{k}"))) } }
        @if !errors.is_empty() {
            div.notice.error role="alert" id="invalid" {
                (t(lang, "myday.invalid"))
                @if let Some(m) = errors.get("") { " " (m) }
            }
        }
        div.myday {
            div.myday-main {
                section.panel id="today" {
                    h2 { (t(lang, "myday.today")) " " span.count { (day.tasks.len()) } }
                    @if day.tasks.is_empty() {
                        p.empty { (t(lang, "myday.no_tasks")) }
                    } @else {
                        ul.tasks { @for task in &day.tasks { (task_item(lang, task, now, &users)) } }
                    }
                }
                section.panel id="upcoming" {
                    h2 { (t(lang, "myday.upcoming")) }
                    @if day.upcoming.is_empty() {
                        p.empty { (t(lang, "myday.no_upcoming")) }
                    } @else {
                        ul.tasks { @for task in &day.upcoming { (task_item(lang, task, now, &users)) } }
                    }
                }
                section.panel id="add-task" {
                    h2 { (t(lang, "myday.add")) }
                    form method="post" action="/my-day/tasks" novalidate { (crate::auth::csrf_field())
                        div.formgrid {
                            (field(t(lang, "myday.kind"), "t-kind", err("kind"), html! {
                                select id="t-kind" name="kind" {
                                    @for k in KINDS {
                                        option value=(k) selected[kind_now == *k] { (t(lang, &format!("myday.kind.{k}"))) }
                                    }
                                }
                            }))
                            (field(t(lang, "myday.due_at"), "t-due", err("due"),
                                crate::work::input("t-due", "due", "datetime-local", &v("due", &due_default), err("due").is_some())))
                        }
                        (field(t(lang, "myday.note"), "t-note", err("note"),
                            crate::work::input("t-note", "note", "text", &v("note", ""), err("note").is_some())))
                        (field(&format!("{} ({})", t(lang, "myday.customer"), t(lang, "myday.customer_hint")), "t-customer", err("customer"),
                            crate::newcustomer::picker_input("t-customer", "customer", &v("customer", ""), err("customer").is_some())))
                        div.formfoot { span {} button.primary type="submit" id="add-task-button" { (t(lang, "myday.add_button")) } }
                    }
                }
            }
            div.myday-side {
                section.panel id="tickets" {
                    h2 { (t(lang, "myday.tickets")) }
                    @if day.tickets.is_empty() {
                        p.empty { (t(lang, "myday.no_tickets")) }
                    } @else {
                        ul.plain {
                            @for tk in &day.tickets {
                                li {
                                    a href=(format!("/work/service?customer=%23{}", tk.customer_id)) { "#" (tk.id) " " (tk.subject) }
                                    br;
                                    a.muted href=(format!("/customers/{}", tk.customer_id)) {
                                        (ticket_names.get(&tk.customer_id).cloned().unwrap_or_else(|| format!("#{}", tk.customer_id)))
                                    }
                                    " · " (i18n::datetime(lang, tk.due_at))
                                    @if tk.due_at <= now { " " span.badge.overdue { (t(lang, "myday.breached")) } }
                                }
                            }
                        }
                    }
                }
                section.panel id="notifications" {
                    h2 { (t(lang, "myday.notifications")) }
                    @if day.notifications.is_empty() {
                        p.empty { (t(lang, "myday.no_notifications")) }
                    } @else {
                        ul.notes { @for n in &day.notifications { (note_item(lang, n)) } }
                    }
                    p { a href="/inbox" { (t(lang, "myday.all_notifications")) " →" } }
                }
            }
        }
    };
    page_response(
        lang,
        status,
        t(lang, "myday.title"),
        "myday",
        "/my-day",
        body,
    )
}

fn task_item(lang: Lang, task: &Task, now: DateTime<Utc>, users: &[User]) -> Markup {
    let overdue = task.due_at < now;
    let base = format!("/my-day/tasks/{}", task.id);
    html! {
        li class=(if overdue { "task overdue" } else { "task" }) id=(format!("task-{}", task.id)) {
            div.taskhead {
                span class=(format!("badge task-{}", task.kind.as_str())) { (kind_label(lang, task.kind)) }
                @if overdue { " " span.badge.overdue { (t(lang, "myday.overdue")) } }
                " " span.due { (i18n::datetime(lang, task.due_at)) }
                @if let Some(c) = task.customer_id {
                    " · " a href=(format!("/customers/{c}")) { (task.customer_name.clone().unwrap_or_else(|| format!("#{c}"))) }
                }
            }
            p.tasknote { (task.note) }
            div.taskactions {
                form.rowform method="post" action=(format!("{base}/done")) { (crate::auth::csrf_field())
                    button.primary type="submit" { "✓ " (t(lang, "myday.done")) }
                }
                form.rowform method="post" action=(format!("{base}/snooze")) { (crate::auth::csrf_field())
                    span.muted { (t(lang, "myday.snooze")) ":" }
                    button type="submit" name="until" value="tomorrow" { (t(lang, "myday.snooze_tomorrow")) }
                    button type="submit" name="until" value="week" { (t(lang, "myday.snooze_week")) }
                }
                @if !users.is_empty() {
                    form.rowform method="post" action=(format!("{base}/reassign")) { (crate::auth::csrf_field())
                        label.sr for=(format!("to-{}", task.id)) { (t(lang, "myday.reassign_to")) }
                        select id=(format!("to-{}", task.id)) name="to" {
                            @for u in users {
                                option value=(u.id) { (u.display_name.as_deref().unwrap_or(&u.username)) }
                            }
                        }
                        button type="submit" { (t(lang, "myday.reassign")) }
                    }
                }
            }
        }
    }
}

/// A notification in the interface language: the stored English message, or the Chinese
/// wording filled from its facts (the English message when a fact is missing).
fn message(lang: Lang, n: &Notification) -> String {
    if lang == Lang::En {
        return n.message.clone();
    }
    n.kind
        .message_zh(&n.params)
        .unwrap_or_else(|| n.message.clone())
}

fn note_item(lang: Lang, n: &Notification) -> Markup {
    let unread = n.read_at.is_none();
    html! {
        li class=(if unread { "note unread" } else { "note" }) id=(format!("note-{}", n.id)) {
            div.notehead {
                span.badge { (n.kind.title(lang == Lang::Zh)) }
                @if unread { " " span.badge.new { (t(lang, "myday.new")) } }
                " " span.muted { (i18n::datetime(lang, n.created_at)) }
            }
            form.noteform method="post" action=(format!("/inbox/{}/read", n.id)) { (crate::auth::csrf_field())
                button.linkish type="submit" { (message(lang, n)) }
                @if n.link.is_some() {
                    " " span.muted { "→ " (t(lang, "myday.open")) }
                } @else if unread {
                    " " span.muted { (t(lang, "myday.mark_read")) }
                }
            }
        }
    }
}

/// `POST /my-day/tasks`: adds a task for the caller.
async fn add(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    let f = Form::parse(&body);
    let mut errors = Errors::default();
    let kind = f
        .choice(lang, "kind", KINDS, true, &mut errors)
        .and_then(|k| k.parse::<TaskKind>().ok());
    let due = match f.get("due") {
        "" => {
            errors.add("due", t(lang, "myday.required"));
            None
        }
        s => {
            let d = parse_due(s);
            if d.is_none() {
                errors.add("due", t(lang, "myday.bad_due"));
            }
            d
        }
    };
    if f.get("note").is_empty() {
        errors.add("note", t(lang, "myday.required"));
    }
    let customer = if f.get("customer").is_empty() {
        None
    } else {
        f.customer(lang, &st.store, &me, "customer", false, &mut errors)
            .await
    };
    let (Some(kind), Some(due_at), true) = (kind, due, errors.is_empty()) else {
        return render(
            &st,
            lang,
            &me,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(&f),
            &errors,
        )
        .await;
    };
    let input = TaskInput {
        customer_id: customer,
        assignee_id: None,
        kind,
        due_at,
        note: f.get("note").to_string(),
    };
    match patron_app::tasks::add_task(&st.store, &me, input, "manual").await {
        Ok(_) => Redirect::to("/my-day?ok=added").into_response(),
        Err(AppError::Store(e)) => match Errors::from_store(lang, &e, &["note", "customer", "due"])
        {
            Some(errors) => {
                render(
                    &st,
                    lang,
                    &me,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(&f),
                    &errors,
                )
                .await
            }
            None => crate::store_error_page(lang, &e),
        },
        Err(e) => crate::app_error_page(lang, &e),
    }
}

/// `POST /my-day/tasks/{id}/done|snooze|reassign`.
async fn change(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path((raw, action)): Path<(String, String)>,
    RawForm(body): RawForm,
) -> Response {
    let f = Form::parse(&body);
    let not_found = || crate::store_error_page(lang, &StoreError::not_found("task", raw.clone()));
    let Some(id) = raw.parse::<i64>().ok().filter(|i| *i > 0) else {
        return not_found();
    };
    let today = Utc::now().date_naive();
    let (change, ok) = match action.as_str() {
        "done" => (TaskChange::Done, "done"),
        "snooze" => {
            let days = if f.get("until") == "week" { 7 } else { 1 };
            (TaskChange::Snooze(nine(today + Days::new(days))), "snoozed")
        }
        "reassign" => match f.get("to").parse::<i64>() {
            Ok(u) if u > 0 => (TaskChange::Reassign(u), "reassigned"),
            _ => {
                return crate::error_page(
                    lang,
                    StatusCode::BAD_REQUEST,
                    lang.t("error.bad_request"),
                    &format!(
                        "{} {}",
                        t(lang, "myday.reassign_to"),
                        t(lang, "myday.bad_user")
                    ),
                )
            }
        },
        _ => return not_found(),
    };
    match patron_app::tasks::change_task(&st.store, &me, id, change).await {
        Ok(_) => Redirect::to(&format!("/my-day?ok={ok}")).into_response(),
        Err(e) => crate::app_error_page(lang, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// Inbox

async fn inbox(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    q: RawQuery,
) -> Response {
    let q = Form::query(&q);
    let list = match patron_app::tasks::inbox(&st.store, &me, false).await {
        Ok(l) => l,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    let unread = list.iter().filter(|n| n.read_at.is_none()).count();
    let body = html! {
        div.pagehead {
            h1 { (t(lang, "myday.inbox")) }
            @if unread > 0 {
                form method="post" action="/inbox/read" { (crate::auth::csrf_field())
                    button type="submit" id="mark-all" { (t(lang, "myday.mark_all")) }
                }
            }
        }
        @if q.get("ok") == "read" { div.notice.ok role="status" id="done" { (t(lang, "myday.ok.read")) } }
        section.panel id="inbox" {
            @if list.is_empty() {
                p.empty { (t(lang, "myday.empty_inbox")) }
            } @else {
                ul.notes { @for n in &list { (note_item(lang, n)) } }
            }
        }
        @if me.may(Action::ReadRecords) {
            p { a href="/my-day" { "← " (t(lang, "myday.title")) } }
        }
    };
    page_response(
        lang,
        StatusCode::OK,
        t(lang, "myday.inbox"),
        "inbox",
        "/inbox",
        body,
    )
}

/// `POST /inbox/read`: marks every notification of the caller read.
async fn read_all(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
) -> Response {
    match patron_app::tasks::mark_read(&st.store, &me, None).await {
        Ok(_) => Redirect::to("/inbox?ok=read").into_response(),
        Err(e) => crate::app_error_page(lang, &e),
    }
}

/// `POST /inbox/{id}/read`: marks one notification read and opens its link (a local path).
async fn read_one(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
) -> Response {
    let Some(id) = raw.parse::<i64>().ok().filter(|i| *i > 0) else {
        return crate::store_error_page(lang, &StoreError::not_found("notification", raw));
    };
    let list = match patron_app::tasks::inbox(&st.store, &me, false).await {
        Ok(l) => l,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    if let Err(e) = patron_app::tasks::mark_read(&st.store, &me, Some(id)).await {
        return crate::app_error_page(lang, &e);
    }
    let link = list
        .iter()
        .find(|n| n.id == id)
        .and_then(|n| n.link.as_deref())
        .filter(|l| crate::is_local_path(l))
        .unwrap_or("/inbox");
    Redirect::to(link).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_complete_unique_and_used_keys_exist() {
        let mut seen = std::collections::HashSet::new();
        for (k, en, zh) in MESSAGES {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!en.is_empty() && !zh.is_empty(), "empty label for {k}");
            assert!(
                !crate::i18n::keys().any(|m| m == *k),
                "{k} is in the main catalogue too"
            );
        }
        let known = |k: &str| {
            MESSAGES.iter().any(|(m, _, _)| *m == k) || crate::i18n::keys().any(|m| m == k)
        };
        for src in [include_str!("myday.rs"), include_str!("newcustomer.rs")] {
            for key in crate::i18n::used_label_keys(src) {
                assert!(known(key), "missing label {key}");
            }
        }
        for k in KINDS {
            assert!(known(&format!("myday.kind.{k}")));
        }
        for k in ["done", "snoozed", "reassigned", "added", "read"] {
            assert!(known(&format!("myday.ok.{k}")));
        }
        for k in ["phone", "email", "name"] {
            assert!(known(&format!("nc.same.{k}")));
        }
    }

    #[test]
    fn every_notification_reads_in_chinese_from_the_facts_of_its_english_words() {
        use patron_domain::task::{fill, NotificationKind, NotificationParams};
        for k in NotificationKind::ALL {
            // The facts the English words need are what the Chinese words may use.
            let english = k.english();
            let facts: NotificationParams = english
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}'))
                .map(|(key, _)| (key.to_string(), format!("<{key}>")))
                .collect();
            let zh = k.chinese();
            let worded = fill(zh, &facts)
                .unwrap_or_else(|| panic!("{k}: {zh} needs a fact the English words do not have"));
            assert!(!worded.is_empty());
        }
        let n = Notification {
            id: 1,
            kind: NotificationKind::HoldRejected,
            customer_id: Some(7),
            message: "mia rejected your held order A-1 ($5.00): too much open".into(),
            params: [
                ("by", "mia"),
                ("order", "A-1"),
                ("amount", "$5.00"),
                ("reason", "too much open"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
            link: None,
            created_at: Utc::now(),
            read_at: None,
        };
        assert_eq!(message(Lang::En, &n), n.message);
        assert_eq!(
            message(Lang::Zh, &n),
            "mia 拒绝了您挂起的订单 A-1（$5.00）：too much open"
        );
        let bare = Notification {
            params: Default::default(),
            ..n
        };
        assert_eq!(
            message(Lang::Zh, &bare),
            bare.message,
            "missing facts: the English words"
        );
    }

    #[test]
    fn due_times_as_typed() {
        assert_eq!(
            parse_due("2030-01-02T13:45").unwrap().to_rfc3339(),
            "2030-01-02T13:45:00+00:00"
        );
        assert_eq!(
            parse_due("2030-01-02").unwrap().to_rfc3339(),
            "2030-01-02T09:00:00+00:00"
        );
        assert!(parse_due("tomorrow").is_none());
        assert!(parse_due("0001-01-01").is_none());
    }
}
