//! Custody pages: the public pool (claim, return, the reclaim rules), users and hand-over
//! (admins and managers), and the audit log (admins), with its CSV download.
//!
//! Every change goes through the store functions the CLI and the JSON API use, so the same
//! rules hold (the cap on customers per user, scopes, audit rows). The server's session layer
//! keeps analysts out of these pages; the handlers check the role again so that the pages are
//! safe on their own.

use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use patron_app::Session;
use patron_store::{AuditEntry, AuditFilter, Role, StoreError, User};

use crate::i18n::Lang;
use crate::{error_page, get_param, html, layout, parse_pairs, store_error_page, Ctx, WebState};

/// Labels of these pages: `(key, English, Chinese)`.
pub const MESSAGES: &[(&str, &str, &str)] = &[
    ("role.admin", "Administrator", "管理员"),
    ("role.manager", "Manager", "经理"),
    ("role.rep", "Sales rep", "销售代表"),
    ("role.analyst", "Analyst", "分析师"),
    ("scope.own", "Own customers", "本人客户"),
    ("scope.subordinates", "Own and subordinates' customers", "本人及下属的客户"),
    ("scope.department", "Department's customers", "本部门客户"),
    ("scope.department_tree", "Department's and sub-departments' customers", "本部门及下级部门客户"),
    ("scope.all", "All customers", "全部客户"),
    ("scope.none", "No customer records (Aggregates only)", "无客户记录（仅汇总数据）"),
    ("nav.pool", "Public pool", "公海"),
    ("nav.users", "Users", "用户"),
    ("nav.audit", "Audit log", "审计日志"),
    ("pool.title", "Public pool", "公海客户"),
    ("pool.sub", "Customers without an owner. Claim one to work it; it returns here when it is left without follow-up for too long.", "没有负责人的客户。领取后即可跟进；长期未跟进的客户会自动退回公海。"),
    ("pool.rules", "Reclaim rules", "回收规则"),
    ("pool.cap", "Most customers one user may hold", "每人最多可持有客户数"),
    ("pool.you_hold", "You hold", "您当前持有"),
    ("pool.days", "Days without an order, follow-up or open deal before a customer returns, by value grade", "按价值等级，客户无订单、跟进或未结商机多少天后退回公海"),
    ("pool.none_grade", "no grade", "未评级"),
    ("pool.claim", "Claim", "领取"),
    ("pool.claimed", "Customer claimed: it is now yours.", "已领取客户，现由您负责。"),
    ("pool.returned", "Customer returned to the pool.", "客户已退回公海。"),
    ("pool.return", "Return a customer of yours to the pool", "将您的客户退回公海"),
    ("pool.return_button", "Return to pool", "退回公海"),
    ("pool.reason", "Reason", "原因"),
    ("pool.reclaim", "Apply the reclaim rules now", "立即执行回收规则"),
    ("pool.preview", "Preview the reclaim", "预览回收"),
    ("pool.preview_title", "Reclaim preview", "回收预览"),
    ("pool.would_return", "customers of your scope would return to the pool today", "位您范围内的客户今天将退回公海"),
    ("pool.owner", "Owner (user id)", "负责人（用户 ID）"),
    ("pool.grade", "Grade", "等级"),
    ("pool.idle_days", "Idle days", "闲置天数"),
    ("pool.reclaimed", "customers returned to the pool by the reclaim rules", "位客户按回收规则退回公海"),
    ("pool.empty", "The pool is empty.", "公海中没有客户。"),
    ("pool.more", "More", "更多"),
    ("users.title", "Users and hand-over", "用户与交接"),
    ("users.sub", "Roles, data scopes and the customers each user holds. Hand a leaving user's customers over in one step; their history stays with the customers.", "角色、数据范围以及每位用户持有的客户。离职员工的客户可一次性交接，客户的历史记录保持不变。"),
    ("users.username", "User", "用户"),
    ("users.role", "Role", "角色"),
    ("users.scope", "Data scope", "数据范围"),
    ("users.customers", "Customers", "客户数"),
    ("users.state", "State", "状态"),
    ("users.active", "active", "启用"),
    ("users.disabled", "disabled", "已停用"),
    ("users.disable", "Disable", "停用"),
    ("users.enable", "Enable", "启用"),
    ("users.set_role", "Change role", "更改角色"),
    ("users.handover", "Hand over customers", "交接客户"),
    ("users.from", "From", "移出用户"),
    ("users.to", "To", "接收用户"),
    ("users.only", "Only these customer ids (comma-separated; empty: all)", "仅这些客户编号（逗号分隔；留空表示全部）"),
    ("users.handed", "customers handed over", "位客户已交接"),
    ("users.changed", "User changed.", "用户已更新。"),
    ("users.bad_ids", "customer ids must be whole numbers separated by commas", "客户编号必须是以逗号分隔的整数"),
    ("users.same", "choose two different users", "请选择两个不同的用户"),
    ("users.outside", "is outside your data scope", "不在您的数据范围内"),
    ("users.no_such", "no such user", "用户不存在"),
    ("users.bad_role", "unknown role", "未知角色"),
    ("users.self_disable", "you cannot disable yourself", "不能停用自己"),
    ("audit.title", "Audit log", "审计日志"),
    ("audit.sub", "Every view, list, export, change, login, failed login, role change, claim, return and hand-over, newest first. Rows are never changed or deleted.", "所有查看、列表、导出、修改、登录、登录失败、角色变更、领取、退回和交接记录，按时间倒序。记录不可修改或删除。"),
    ("audit.at", "When", "时间"),
    ("audit.actor", "Who", "操作人"),
    ("audit.action", "Action", "操作"),
    ("audit.customer", "Customer", "客户"),
    ("audit.detail", "Detail", "详情"),
    ("audit.rows", "Rows", "行数"),
    ("audit.ip", "Address", "地址"),
    ("audit.filter", "Filter", "筛选"),
    ("audit.csv", "Download CSV", "下载 CSV"),
    ("audit.older", "Older", "更早"),
    ("audit.empty", "No audit rows match.", "没有符合条件的审计记录。"),
    ("audit.bad_customer", "the customer filter must be a customer id (a whole number), since and until times (RFC 3339)", "客户筛选必须是客户编号（整数），起止时间须为 RFC 3339 格式"),
    ("custody.admins_only", "This page is for administrators.", "此页面仅限管理员。"),
    ("custody.managers_only", "This page is for administrators and managers.", "此页面仅限管理员和经理。"),
];

const PAGE: i64 = 100;
/// Most audit rows one CSV download holds.
const CSV_ROWS: i64 = 100_000;

fn forbidden(lang: Lang, key: &str) -> Response {
    error_page(
        lang,
        StatusCode::FORBIDDEN,
        lang.t("error.title"),
        lang.t(key),
    )
}

fn is_manager(me: &Session) -> bool {
    matches!(me.user.role, Role::Admin | Role::Manager)
}

// -- the public pool

/// `GET /pool`: the rules, what the viewer holds, and the pool's customers (claimable).
pub async fn pool(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = parse_pairs(raw.unwrap_or_default().as_bytes());
    let after = get_param(&pairs, "after").and_then(|a| a.parse::<i64>().ok());
    let notice = match get_param(&pairs, "done") {
        Some("claimed") => Some(lang.t("pool.claimed").to_string()),
        Some("returned") => Some(lang.t("pool.returned").to_string()),
        Some("reclaimed") => Some(format!(
            "{} {}",
            get_param(&pairs, "n")
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0),
            lang.t("pool.reclaimed")
        )),
        _ => None,
    };
    render_pool(&st, lang, &me, after, notice, None, StatusCode::OK).await
}

async fn render_pool(
    st: &WebState,
    lang: Lang,
    me: &Session,
    after: Option<i64>,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    // Those who cannot see the pool (a scope without it) get an empty list, not an error.
    let sees_pool = me.visible.allows(None, false);
    let data = async {
        let rules = st.store.pool_rules().await?;
        let held = st.store.owned_count(me.user.id).await?;
        let rows = if sees_pool {
            st.store.pool_customers(after, PAGE).await?
        } else {
            Vec::new()
        };
        Ok::<_, StoreError>((rules, held, rows))
    }
    .await;
    let (rules, held, rows) = match data {
        Ok(d) => d,
        Err(e) => return store_error_page(lang, &e),
    };
    if let Err(e) = st
        .store
        .audit(
            &me.actor,
            "list",
            None,
            Some("public pool"),
            Some(rows.len() as i64),
        )
        .await
    {
        return store_error_page(lang, &e);
    }
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let body = html! {
        div.pagehead {
            div {
                h1 { (lang.t("pool.title")) }
                p.sub { (lang.t("pool.sub")) }
            }
        }
        @if let Some(n) = &notice { div.notice.ok role="status" id="done" { (n) } }
        @if let Some(e) = &error { div.notice.error role="alert" id="problem" { (e) } }
        div.twocol {
            div.panel {
                h2 { (lang.t("pool.rules")) }
                dl.figures {
                    dt { (lang.t("pool.cap")) } dd { (rules.cap) }
                    dt { (lang.t("pool.you_hold")) } dd id="held" { (held) }
                }
                p.muted { (lang.t("pool.days")) }
                dl.figures {
                    @for (g, d) in &rules.reclaim_days {
                        dt { @if g == "none" { (lang.t("pool.none_grade")) } @else { (g) } }
                        dd { (d) }
                    }
                }
                @if is_manager(me) {
                    form method="post" action="/pool/reclaim" { (crate::auth::csrf_field())
                        input type="hidden" name="preview" value="1";
                        button type="submit" id="reclaim-preview" { (lang.t("pool.preview")) }
                    }
                    form method="post" action="/pool/reclaim" { (crate::auth::csrf_field())
                        button.primary type="submit" id="reclaim" { (lang.t("pool.reclaim")) }
                    }
                }
            }
            div.panel {
                h2 { (lang.t("pool.return")) }
                form.filters method="post" action="/pool/return" { (crate::auth::csrf_field())
                    label { (lang.t("audit.customer")) (crate::newcustomer::picker_input("return-customer", "customer", "", false)) }
                    label.grow { (lang.t("pool.reason")) input type="text" name="reason" maxlength="200"; }
                    div.actions { button type="submit" { (lang.t("pool.return_button")) } }
                }
            }
        }
        div.panel.flush {
            @if rows.is_empty() {
                p.empty { (lang.t("pool.empty")) }
            } @else {
                table.data id="pool" {
                    thead { tr {
                        th { (lang.t("field.number")) } th { (lang.t("field.name")) } th { (lang.t("field.company")) }
                        th { (lang.t("field.region")) } th { (lang.t("field.industry")) }
                        th { (lang.t("value.grade")) } th {}
                    } }
                    tbody {
                        @for c in &rows {
                            tr {
                                td.mono { a href=(format!("/customers/{}", c.id)) { (c.number.as_deref().unwrap_or("–")) } }
                                td { a href=(format!("/customers/{}", c.id)) { (c.name) } }
                                td { (c.company.as_deref().unwrap_or("")) }
                                td { (c.region.as_deref().unwrap_or("")) }
                                td { (c.industry.as_deref().unwrap_or("")) }
                                td { @if let Some(g) = &c.grade { span.badge { (g) } } }
                                td {
                                    form method="post" action="/pool/claim" { (crate::auth::csrf_field())
                                        input type="hidden" name="id" value=(c.id);
                                        button type="submit" { (lang.t("pool.claim")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(n) = next {
            div.pager { a.button.primary href=(format!("/pool?after={n}")) { (lang.t("pool.more")) " »" } }
        }
    };
    html(
        status,
        layout::page_at(lang, lang.t("pool.title"), "pool", "/pool", body),
    )
}

fn form_id(pairs: &[(String, String)], key: &str) -> Option<i64> {
    get_param(pairs, key).and_then(|v| v.trim().parse::<i64>().ok())
}

/// A store error as a message on the page (conflicts, bad input) or an error page.
async fn pool_problem(st: &WebState, lang: Lang, me: &Session, e: StoreError) -> Response {
    let status = match &e {
        StoreError::Conflict { .. } => StatusCode::CONFLICT,
        StoreError::Invalid(_) => StatusCode::BAD_REQUEST,
        StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
        _ => return store_error_page(lang, &e),
    };
    render_pool(
        st,
        lang,
        me,
        None,
        None,
        Some(crate::errors::store_error_text(lang, &e)),
        status,
    )
    .await
}

/// `POST /pool/claim` (`id`): the viewer becomes the owner (within the cap).
pub async fn claim(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    let pairs = parse_pairs(&body);
    let Some(id) = form_id(&pairs, "id") else {
        let msg = format!("{}: id", lang.t("error.bad_form"));
        return render_pool(
            &st,
            lang,
            &me,
            None,
            None,
            Some(msg),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let result = async {
        me.check(&st.store, id, false).await?;
        st.store.claim(id, me.user.id, &me.actor).await
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/pool?done=claimed").into_response(),
        Err(e) => pool_problem(&st, lang, &me, e).await,
    }
}

/// `POST /pool/return` (`id`, `reason`): a customer the viewer may change goes back to the pool.
pub async fn give_back(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    let pairs = parse_pairs(&body);
    // The form's customer field (a number or `#id`, as the picker fills it), or a row's id.
    let typed = get_param(&pairs, "customer")
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let id = match typed {
        Some(c) => patron_app::customers::resolve_reference(&st.store, &me, c, true)
            .await
            .ok(),
        None => form_id(&pairs, "id"),
    };
    let Some(id) = id else {
        let msg = match typed {
            Some(c) => format!(
                "{} ({})",
                lang.t("error.no_customer"),
                patron_app::tasks::excerpt(c, 40)
            ),
            None => format!("{}: id", lang.t("error.bad_form")),
        };
        return render_pool(
            &st,
            lang,
            &me,
            None,
            None,
            Some(msg),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let reason = get_param(&pairs, "reason")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or("returned to the pool by hand");
    let reason: String = reason.chars().take(200).collect();
    let result = async {
        me.check(&st.store, id, true).await?;
        st.store.release(id, &me.actor, &reason).await
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/pool?done=returned").into_response(),
        Err(e) => pool_problem(&st, lang, &me, e).await,
    }
}

/// `POST /pool/reclaim`: applies the reclaim rules on the server's date to the viewer's scope
/// (admins, managers); with `preview=1`, lists what would return and offers to apply it.
pub async fn reclaim(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    let pairs = parse_pairs(&body);
    let preview = get_param(&pairs, "preview") == Some("1");
    match patron_app::pool::reclaim(&st.store, &me, preview).await {
        Ok(list) if preview => html(
            StatusCode::OK,
            layout::page_at(
                lang,
                lang.t("pool.preview_title"),
                "pool",
                "/pool",
                maud::html! {
                    div.panel {
                        h1 { (lang.t("pool.preview_title")) }
                        p id="preview-count" { (list.len()) " " (lang.t("pool.would_return")) }
                        @if !list.is_empty() {
                            div.table-wrap { table id="preview" {
                                thead { tr {
                                    th { (lang.t("audit.customer")) }
                                    th { (lang.t("pool.owner")) }
                                    th { (lang.t("pool.grade")) }
                                    th.num { (lang.t("pool.idle_days")) }
                                } }
                                tbody { @for r in &list { tr {
                                    td { a href=(format!("/customers/{}", r.customer_id)) { "#" (r.customer_id) } }
                                    td { (r.owner_id) }
                                    td { (r.grade.as_deref().unwrap_or("-")) }
                                    td.num { (r.idle_days) }
                                } } }
                            } }
                            form method="post" action="/pool/reclaim" { (crate::auth::csrf_field())
                                button.primary type="submit" id="reclaim-apply" { (lang.t("pool.reclaim")) }
                            }
                        }
                        p { a href="/pool" { (lang.t("card.back")) } }
                    }
                },
            ),
        ),
        Ok(moved) => {
            Redirect::to(&format!("/pool?done=reclaimed&n={}", moved.len())).into_response()
        }
        Err(patron_app::AppError::Forbidden(_)) => forbidden(lang, "custody.managers_only"),
        Err(patron_app::AppError::Store(e)) => store_error_page(lang, &e),
    }
}

// -- users and hand-over

/// `GET /admin/users`: users with role, scope, state and customers held; hand-over form.
pub async fn users(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    if !is_manager(&me) {
        return forbidden(lang, "custody.managers_only");
    }
    let pairs = parse_pairs(raw.unwrap_or_default().as_bytes());
    let notice = match get_param(&pairs, "done") {
        Some("handover") => Some(format!(
            "{} {}",
            get_param(&pairs, "n")
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0),
            lang.t("users.handed")
        )),
        Some("changed") => Some(lang.t("users.changed").to_string()),
        Some("leaving") => Some(crate::exports::t(lang, "ex.leaving_done").to_string()),
        _ => None,
    };
    render_users(&st, lang, &me, notice, None, StatusCode::OK).await
}

/// The users a viewer may manage: all for admins, those within a manager's scope.
fn manageable(me: &Session, users: Vec<User>) -> Vec<User> {
    users
        .into_iter()
        .filter(|u| me.visible.allows(Some(u.id), true))
        .collect()
}

async fn render_users(
    st: &WebState,
    lang: Lang,
    me: &Session,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let data =
        async { Ok::<_, StoreError>((st.store.users().await?, st.store.owned_counts().await?)) }
            .await;
    let (users, counts) = match data {
        Ok(d) => d,
        Err(e) => return store_error_page(lang, &e),
    };
    let users = manageable(me, users);
    let held = |id: i64| counts.iter().find(|(u, _)| *u == id).map_or(0, |(_, n)| *n);
    let admin = me.user.role == Role::Admin;
    let leaving = crate::exports::leaving_panel(st, lang, &users).await;
    let body = html! {
        div.pagehead {
            div {
                h1 { (lang.t("users.title")) }
                p.sub { (lang.t("users.sub")) }
            }
        }
        @if let Some(n) = &notice { div.notice.ok role="status" id="done" { (n) } }
        @if let Some(e) = &error { div.notice.error role="alert" id="problem" { (e) } }
        div.panel.flush {
            table.data id="users" {
                thead { tr {
                    th { (lang.t("users.username")) } th { (lang.t("users.role")) }
                    th { (lang.t("users.scope")) } th { (lang.t("users.customers")) }
                    th { (lang.t("users.state")) } th {}
                } }
                tbody {
                    @for u in &users {
                        tr {
                            td { strong { (u.username) } @if let Some(d) = &u.display_name { " " span.muted { (d) } } }
                            td {
                                @if admin && u.id != me.user.id {
                                    form.inline method="post" action=(format!("/admin/users/{}/role", u.id)) { (crate::auth::csrf_field())
                                        select name="role" aria-label=(lang.t("users.role")) {
                                            @for r in ["admin", "manager", "rep", "analyst"] {
                                                option value=(r) selected[r == u.role.as_str()] { (lang.t(&format!("role.{r}"))) }
                                            }
                                        }
                                        " "
                                        button type="submit" { (lang.t("users.set_role")) }
                                    }
                                } @else { (lang.t(&format!("role.{}", u.role.as_str()))) }
                            }
                            td { (lang.t(&format!("scope.{}", u.scope.as_str()))) }
                            td.mono { (held(u.id)) }
                            td { @if u.disabled { span.badge { (lang.t("users.disabled")) } } @else { (lang.t("users.active")) } }
                            td {
                                @if admin && u.id != me.user.id {
                                    form method="post" action=(format!("/admin/users/{}/{}", u.id, if u.disabled { "enable" } else { "disable" })) { (crate::auth::csrf_field())
                                        button type="submit" { (lang.t(if u.disabled { "users.enable" } else { "users.disable" })) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        div.panel {
            h2 { (lang.t("users.handover")) }
            form.filters method="post" action="/admin/handover" id="handover" { (crate::auth::csrf_field())
                label { (lang.t("users.from"))
                    select name="from" {
                        @for u in &users { option value=(u.id) { (u.username) " (" (held(u.id)) ")" } }
                    }
                }
                label { (lang.t("users.to"))
                    select name="to" {
                        @for u in users.iter().filter(|u| !u.disabled) { option value=(u.id) { (u.username) } }
                    }
                }
                label.grow { (lang.t("users.only")) input type="text" name="only" inputmode="numeric"; }
                div.actions { button.primary type="submit" { (lang.t("users.handover")) } }
            }
        }
        (leaving)
        p.muted { a href="/admin/exports" { (crate::exports::t(lang, "ex.rules")) } " · " a href="/exports/queue" { (crate::exports::t(lang, "ex.queue")) } }
    };
    html(
        status,
        layout::page_at(lang, lang.t("users.title"), "users", "/admin/users", body),
    )
}

/// `POST /admin/handover` (`from`, `to`, `only`): moves customers between users.
pub async fn handover(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    if !is_manager(&me) {
        return forbidden(lang, "custody.managers_only");
    }
    let pairs = parse_pairs(&body);
    let bad = |msg: String| async {
        render_users(&st, lang, &me, None, Some(msg), StatusCode::BAD_REQUEST).await
    };
    let (Some(from), Some(to)) = (form_id(&pairs, "from"), form_id(&pairs, "to")) else {
        return bad(format!(
            "{}: {} / {}",
            lang.t("error.bad_form"),
            lang.t("users.from"),
            lang.t("users.to")
        ))
        .await;
    };
    if from == to {
        return bad(lang.t("users.same").to_string()).await;
    }
    for u in [from, to] {
        if !me.visible.allows(Some(u), true) {
            return bad(format!("{u}: {}", lang.t("users.outside"))).await;
        }
    }
    let only = get_param(&pairs, "only").unwrap_or("").trim();
    let only: Option<Vec<i64>> = if only.is_empty() {
        None
    } else {
        match only
            .split(',')
            .map(|s| s.trim().parse::<i64>())
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(ids) => Some(ids),
            Err(_) => return bad(lang.t("users.bad_ids").to_string()).await,
        }
    };
    match patron_app::custody::handover(&st.store, &me, from, to, only.as_deref()).await {
        Ok(moved) => {
            Redirect::to(&format!("/admin/users?done=handover&n={}", moved.len())).into_response()
        }
        Err(patron_app::AppError::Store(
            e @ (StoreError::Invalid(_) | StoreError::NotFound { .. }),
        )) => bad(crate::errors::store_error_text(lang, &e)).await,
        Err(e) => crate::app_error_page(lang, &e),
    }
}

/// `POST /admin/users/{id}/{disable|enable|role}`: admins change another user.
pub async fn change_user(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path((id, what)): Path<(String, String)>,
    RawForm(body): RawForm,
) -> Response {
    if !me.may(patron_app::Action::AdministerUsers) {
        return forbidden(lang, "custody.admins_only");
    }
    let Ok(id) = id.parse::<i64>() else {
        return error_page(
            lang,
            StatusCode::NOT_FOUND,
            lang.t("error.not_found"),
            lang.t("users.no_such"),
        );
    };
    let bad = |msg: String| async {
        render_users(&st, lang, &me, None, Some(msg), StatusCode::BAD_REQUEST).await
    };
    if id == me.user.id {
        return bad(lang.t("users.self_disable").to_string()).await;
    }
    let user = match st.store.user(id).await {
        Ok(u) => u,
        Err(StoreError::NotFound { .. }) => {
            return error_page(
                lang,
                StatusCode::NOT_FOUND,
                lang.t("error.not_found"),
                lang.t("users.no_such"),
            )
        }
        Err(e) => return store_error_page(lang, &e),
    };
    let result = match what.as_str() {
        "disable" | "enable" => {
            let disabled = what == "disable";
            let action = if disabled {
                "user_disable"
            } else {
                "user_enable"
            };
            async {
                st.store.set_disabled(id, disabled).await?;
                st.store
                    .audit(&me.actor, action, None, Some(&user.username), None)
                    .await
            }
            .await
        }
        "role" => {
            let pairs = parse_pairs(&body);
            let Some(role) = get_param(&pairs, "role").and_then(Role::parse) else {
                return bad(format!(
                    "{}: {}",
                    lang.t("users.role"),
                    lang.t("users.bad_role")
                ))
                .await;
            };
            async {
                // The scope follows the new role's default, as `patron user role` does without --scope.
                let n = st
                    .store
                    .set_role(id, role, None, user.department_id, user.manager_id)
                    .await?;
                let detail = format!(
                    "{}: role {} -> {}, scope {}",
                    user.username,
                    user.role.as_str(),
                    n.role.as_str(),
                    n.scope.as_str()
                );
                st.store
                    .audit(&me.actor, "role_change", None, Some(&detail), None)
                    .await
            }
            .await
        }
        _ => {
            return error_page(
                lang,
                StatusCode::NOT_FOUND,
                lang.t("error.not_found"),
                lang.t("error.not_found"),
            )
        }
    };
    match result {
        Ok(()) => Redirect::to("/admin/users?done=changed").into_response(),
        Err(e) => store_error_page(lang, &e),
    }
}

// -- the audit log

struct AuditQuery {
    actor: String,
    action: String,
    customer: String,
    /// From and until (RFC 3339 instants; the Unusual access view links an hour's rows).
    since: String,
    until: String,
    before: Option<i64>,
}

impl AuditQuery {
    fn parse(raw: Option<&str>) -> Self {
        let pairs = parse_pairs(raw.unwrap_or_default().as_bytes());
        let text = |k: &str| get_param(&pairs, k).unwrap_or("").trim().to_string();
        AuditQuery {
            actor: text("actor"),
            action: text("action"),
            customer: text("customer"),
            since: text("since"),
            until: text("until"),
            before: get_param(&pairs, "before").and_then(|b| b.parse().ok()),
        }
    }

    /// The store filter, or the message for a bad customer id.
    fn filter(&self, limit: i64) -> Result<AuditFilter, ()> {
        let customer_id = if self.customer.is_empty() {
            None
        } else {
            Some(self.customer.parse::<i64>().map_err(|_| ())?)
        };
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let time = |s: &str| {
            if s.is_empty() {
                return Ok(None);
            }
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| Some(t.with_timezone(&chrono::Utc)))
                .map_err(|_| ())
        };
        Ok(AuditFilter {
            actor: opt(&self.actor),
            action: opt(&self.action),
            customer_id,
            since: time(&self.since)?,
            until: time(&self.until)?,
            before_id: self.before,
            limit,
        })
    }

    fn query_string(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("actor", &self.actor)
            .append_pair("action", &self.action)
            .append_pair("customer", &self.customer)
            .append_pair("since", &self.since)
            .append_pair("until", &self.until)
            .finish()
    }
}

/// `GET /admin/audit`: the audit log, newest first, filtered (admins).
pub async fn audit(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    if me.user.role != Role::Admin {
        return forbidden(lang, "custody.admins_only");
    }
    let q = AuditQuery::parse(raw.as_deref());
    let (rows, problem) = match q.filter(PAGE) {
        Ok(f) => match st.store.audit_log(&f).await {
            Ok(rows) => (rows, None),
            Err(e) => return store_error_page(lang, &e),
        },
        Err(()) => (Vec::new(), Some(lang.t("audit.bad_customer"))),
    };
    // Reading the audit log is itself recorded.
    if let Err(e) = st
        .store
        .audit(
            &me.actor,
            "list",
            None,
            Some("audit log"),
            Some(rows.len() as i64),
        )
        .await
    {
        return store_error_page(lang, &e);
    }
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = html! {
        div.pagehead {
            div {
                h1 { (lang.t("audit.title")) }
                p.sub { (lang.t("audit.sub")) }
            }
            div.actions {
                a.button href="/admin/audit/unusual" id="audit-unusual" { (lang.t("access.link")) }
                a.button href="/admin/audit/report" id="audit-report" { (lang.t("access.report_link")) }
                a.button href=(format!("/admin/audit.csv?{}", q.query_string())) id="audit-csv" { (lang.t("audit.csv")) }
            }
        }
        @if let Some(p) = problem { div.notice.error role="alert" id="problem" { (p) } }
        div.panel {
            form.filters method="get" action="/admin/audit" {
                label { (lang.t("audit.actor")) input type="text" name="actor" value=(q.actor); }
                label { (lang.t("audit.action"))
                    select name="action" {
                        option value="" { "" }
                        @for a in ACTIONS { option value=(a) selected[*a == q.action] { (a) } }
                    }
                }
                label { (lang.t("audit.customer")) input type="text" name="customer" value=(q.customer) inputmode="numeric"; }
                @if !q.since.is_empty() { input type="hidden" name="since" value=(q.since); }
                @if !q.until.is_empty() { input type="hidden" name="until" value=(q.until); }
                div.actions { button.primary type="submit" { (lang.t("audit.filter")) } }
            }
        }
        div.panel.flush {
            @if rows.is_empty() { p.empty { (lang.t("audit.empty")) } } @else {
                table.data.compact id="audit" {
                    thead { tr {
                        th { (lang.t("audit.at")) } th { (lang.t("audit.actor")) } th { (lang.t("audit.action")) }
                        th { (lang.t("audit.customer")) } th { (lang.t("audit.detail")) } th { (lang.t("audit.rows")) }
                        th { (lang.t("audit.ip")) }
                    } }
                    tbody { @for r in &rows { (audit_row(lang, r)) } }
                }
            }
        }
        @if let Some(n) = next {
            div.pager { a.button.primary href=(format!("/admin/audit?{}&before={n}", q.query_string())) { (lang.t("audit.older")) " »" } }
        }
    };
    html(
        status,
        layout::page_at(lang, lang.t("audit.title"), "audit", "/admin/audit", body),
    )
}

/// The actions the audit log knows (see `AuditEntry::action`).
const ACTIONS: &[&str] = &[
    "view",
    "list",
    "export",
    "create",
    "update",
    "delete",
    "merge",
    "login",
    "login_failed",
    "logout",
    "role_change",
    "user_add",
    "user_disable",
    "user_enable",
    "password_change",
    "handover",
    "claim",
    "return",
    "token_create",
    "token_revoke",
];

fn audit_row(lang: Lang, r: &AuditEntry) -> Markup {
    html! {
        tr {
            td.nowrap { (crate::i18n::datetime(lang, r.at)) }
            td { (r.actor) }
            td { span.badge { (r.action) } }
            td.mono { @if let Some(c) = r.customer_id { a href=(format!("/customers/{c}")) { (c) } } }
            td { (r.detail.as_deref().unwrap_or("")) }
            td.mono { @if let Some(n) = r.row_count { (n) } }
            td.mono { (r.ip.as_deref().unwrap_or("")) }
        }
    }
}

/// `GET /admin/audit.csv`: the filtered audit log as CSV (admins; recorded as an export).
pub async fn audit_csv(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    if me.user.role != Role::Admin {
        return forbidden(lang, "custody.admins_only");
    }
    let q = AuditQuery::parse(raw.as_deref());
    let Ok(filter) = q.filter(CSV_ROWS) else {
        return error_page(
            lang,
            StatusCode::BAD_REQUEST,
            lang.t("error.bad_request"),
            lang.t("audit.bad_customer"),
        );
    };
    let rows = match st.store.audit_log(&filter).await {
        Ok(r) => r,
        Err(e) => return store_error_page(lang, &e),
    };
    let mut bytes = Vec::new();
    let written = patron_exchange::write_audit_csv(&mut bytes, &rows).map(|()| bytes);
    let Ok(bytes) = written else {
        return error_page(
            lang,
            StatusCode::INTERNAL_SERVER_ERROR,
            lang.t("error.title"),
            lang.t("error.internal"),
        );
    };
    if let Err(e) = st
        .store
        .audit(
            &me.actor,
            "export",
            None,
            Some("audit log (CSV)"),
            Some(rows.len() as i64),
        )
        .await
    {
        return store_error_page(lang, &e);
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"patron-audit.csv\""),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        bytes,
    )
        .into_response()
}
