//! The audit page's "Unusual access" view (the alerts with their figures, the settings, the
//! review that allows a user's exports again) and the evidence report of one user's views and
//! exports over a period, as a page and as CSV (administrators). Everything goes through
//! `patron_app::access` (role gate, audit).

use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::{html, Markup};
use patron_app::access::{hour_text, usual_text};
use patron_app::{AppError, Session};
use patron_store::{hour_start, AccessAlert, AccessWatch, EvidenceReport, ACCESS_KINDS};

use crate::i18n::{self, Lang};
use crate::{get_param, html, layout, parse_pairs, Ctx, WebState};

/// Labels of these pages: `(key, English, Chinese)`.
pub const MESSAGES: &[(&str, &str, &str)] = &[
    ("access.title", "Unusual access", "异常访问"),
    ("access.sub", "One alert per user, kind and hour when the hour's count goes past both the floor and the multiple of the user's usual level (the median count of the hours they worked over the baseline). The user's manager and every administrator are told.", "当某用户某小时的次数同时超过下限和其通常水平（基准期内有访问的小时次数中位数）的倍数时，每位用户、每类、每小时只产生一条提醒，并通知其经理和所有管理员。"),
    ("access.link", "Unusual access", "异常访问"),
    ("access.report_link", "Evidence report", "证据报告"),
    ("access.user", "User", "用户"),
    ("access.kind", "Kind", "类别"),
    ("access.hour", "Hour (UTC)", "小时（UTC）"),
    ("access.count", "Count at alert", "提醒时次数"),
    ("access.count_now", "Count now", "当前次数"),
    ("access.usual", "Usual per hour", "通常每小时"),
    ("access.threshold", "Alert above", "提醒阈值"),
    ("access.suspended", "Exports suspended", "导出已暂停"),
    ("access.state", "State", "状态"),
    ("access.open", "open", "待处理"),
    ("access.reviewed_by", "reviewed by", "审核人"),
    ("access.review", "Mark reviewed", "标记为已审核"),
    ("access.reviewed", "Alert marked reviewed.", "提醒已标记为已审核。"),
    ("access.audit_rows", "Audit rows", "审计记录"),
    ("access.none", "No unusual access.", "没有异常访问。"),
    ("access.yes", "yes", "是"),
    ("access.no", "no", "否"),
    ("access.settings", "Settings", "设置"),
    ("access.multiple", "Multiple of the usual level", "通常水平的倍数"),
    ("access.baseline", "Baseline (days)", "基准期（天）"),
    ("access.suspend", "Suspend the user's exports on an alert until reviewed", "提醒时暂停该用户的导出，直至审核"),
    ("access.floors", "Floors per hour", "每小时下限"),
    ("access.save", "Save settings", "保存设置"),
    ("access.saved", "Settings saved.", "设置已保存。"),
    ("access.kind.view", "Customer cards opened", "打开的客户卡片"),
    ("access.kind.foreign", "Cards of customers they do not own", "非本人客户的卡片"),
    ("access.kind.search", "Customer searches", "客户搜索"),
    ("access.kind.list", "Customer list pages", "客户列表页"),
    ("access.kind.export", "Customer rows exported", "导出的客户行"),
    ("access.bad_number", "must be a number", "必须是数字"),
    ("evidence.title", "Evidence report", "证据报告"),
    ("evidence.sub", "Everything one user viewed, listed and exported over a period, from the audit log (UTC days).", "某用户在一段时间内查看、浏览列表和导出的全部内容，取自审计日志（按 UTC 日期）。"),
    ("evidence.user", "User name", "用户名"),
    ("evidence.from", "From", "开始日期"),
    ("evidence.to", "To", "结束日期"),
    ("evidence.show", "Show", "查看"),
    ("evidence.csv", "Download CSV", "下载 CSV"),
    ("evidence.days", "Per day", "按日统计"),
    ("evidence.day", "Day", "日期"),
    ("evidence.views", "Views", "查看次数"),
    ("evidence.customers", "Customers", "客户数"),
    ("evidence.list_pages", "List pages", "列表页"),
    ("evidence.exports", "Exports", "导出次数"),
    ("evidence.rows", "Rows exported", "导出行数"),
    ("evidence.viewed", "Customers viewed", "查看过的客户"),
    ("evidence.number", "Number", "编号"),
    ("evidence.name", "Name", "名称"),
    ("evidence.first", "First view", "首次查看"),
    ("evidence.last", "Last view", "最后查看"),
    ("evidence.files", "Exports", "导出记录"),
    ("evidence.at", "When", "时间"),
    ("evidence.what", "What", "内容"),
    ("evidence.nothing", "Nothing viewed or exported in this period.", "该期间没有查看或导出记录。"),
    ("evidence.purged", "(purged)", "（已清除）"),
    ("evidence.total", "In all", "合计"),
];

/// The routes of these pages (under `/admin/audit`: administrators, the audit log's gate).
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/admin/audit/unusual", get(unusual))
        .route("/admin/audit/unusual/settings", post(save_settings))
        .route("/admin/audit/unusual/{id}/review", post(review))
        .route("/admin/audit/report", get(report))
        .route("/admin/audit/report.csv", get(report_csv))
}

const ALERTS: i64 = 200;

fn kind_label(lang: Lang, kind: &str) -> &'static str {
    lang.t(&format!("access.kind.{kind}"))
}

/// `GET /admin/audit/unusual`: the alerts, newest first, and the settings.
async fn unusual(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = parse_pairs(raw.unwrap_or_default().as_bytes());
    let notice = match get_param(&pairs, "done") {
        Some("saved") => Some(lang.t("access.saved")),
        Some("reviewed") => Some(lang.t("access.reviewed")),
        _ => None,
    };
    render(&st, lang, &me, notice, None, StatusCode::OK).await
}

async fn render(
    st: &WebState,
    lang: Lang,
    me: &Session,
    notice: Option<&str>,
    problem: Option<String>,
    status: StatusCode,
) -> Response {
    let data = async {
        let w = patron_app::access::watch(&st.store, me).await?;
        let alerts = patron_app::access::alerts(&st.store, me, false, ALERTS).await?;
        Ok::<_, AppError>((w, alerts))
    }
    .await;
    let (w, alerts) = match data {
        Ok(d) => d,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    let body = html! {
        div.pagehead {
            div {
                h1 { (lang.t("access.title")) }
                p.sub { (lang.t("access.sub")) }
            }
            a.button href="/admin/audit/report" { (lang.t("access.report_link")) }
        }
        @if let Some(n) = notice { div.notice.ok role="status" id="notice" { (n) } }
        @if let Some(p) = problem { div.notice.error role="alert" id="problem" { (p) } }
        div.panel.flush {
            @if alerts.is_empty() { p.empty { (lang.t("access.none")) } } @else {
                table.data.compact id="alerts" {
                    thead { tr {
                        th { (lang.t("access.user")) } th { (lang.t("access.kind")) } th { (lang.t("access.hour")) }
                        th.num { (lang.t("access.count")) } th.num { (lang.t("access.count_now")) }
                        th.num { (lang.t("access.usual")) } th.num { (lang.t("access.threshold")) }
                        th { (lang.t("access.suspended")) } th { (lang.t("access.state")) } th {}
                    } }
                    tbody { @for a in &alerts { (alert_row(lang, a)) } }
                }
            }
        }
        (settings_form(lang, &w))
    };
    html(
        status,
        layout::page_at(lang, lang.t("access.title"), "audit", "/admin/audit", body),
    )
}

fn alert_row(lang: Lang, a: &AccessAlert) -> Markup {
    let start = hour_start(a.hour);
    let end = hour_start(a.hour + 1);
    let action = if a.kind == "export" {
        "export"
    } else if a.kind == "search" || a.kind == "list" {
        "list"
    } else {
        "view"
    };
    let rows = form_urlencoded::Serializer::new(String::new())
        .append_pair("actor", &a.username)
        .append_pair("action", action)
        .append_pair("since", &start.to_rfc3339())
        .append_pair("until", &end.to_rfc3339())
        .finish();
    let day = start.date_naive().to_string();
    let report = form_urlencoded::Serializer::new(String::new())
        .append_pair("user", &a.username)
        .append_pair("from", &day)
        .append_pair("to", &day)
        .finish();
    html! {
        tr id=(format!("alert-{}", a.id)) {
            td { (a.username) }
            td { (kind_label(lang, &a.kind)) }
            td.nowrap { (hour_text(a.hour)) }
            td.num { (i18n::count(a.n.max(0) as u64)) }
            td.num { (i18n::count(a.n_now.max(0) as u64)) }
            td.num { (usual_text(a.usual)) }
            td.num { (i18n::count(a.threshold.max(0) as u64)) }
            td { (lang.t(if a.suspended { "access.yes" } else { "access.no" })) }
            td {
                @match &a.reviewed_at {
                    Some(at) => { (lang.t("access.reviewed_by")) " " (a.reviewed_by.as_deref().unwrap_or("")) " " span.muted { (i18n::datetime(lang, *at)) } }
                    None => { span.badge { (lang.t("access.open")) } }
                }
            }
            td {
                a href=(format!("/admin/audit?{rows}")) { (lang.t("access.audit_rows")) }
                " · "
                a href=(format!("/admin/audit/report?{report}")) { (lang.t("access.report_link")) }
                @if a.reviewed_at.is_none() {
                    form.inline method="post" action=(format!("/admin/audit/unusual/{}/review", a.id)) {
                        (crate::auth::csrf_field())
                        button type="submit" { (lang.t("access.review")) }
                    }
                }
            }
        }
    }
}

fn settings_form(lang: Lang, w: &AccessWatch) -> Markup {
    html! {
        div.panel id="settings" {
            h2 { (lang.t("access.settings")) }
            form.filters method="post" action="/admin/audit/unusual/settings" {
                (crate::auth::csrf_field())
                label { (lang.t("access.multiple")) input type="text" inputmode="decimal" name="multiple" value=(w.multiple); }
                label { (lang.t("access.baseline")) input type="text" inputmode="numeric" name="baseline_days" value=(w.baseline_days); }
                @for k in ACCESS_KINDS {
                    label { (lang.t("access.floors")) ": " (kind_label(lang, k))
                        input type="text" inputmode="numeric" name=(format!("floor_{k}")) value=(w.floors.get(k).copied().unwrap_or(1));
                    }
                }
                label.check { input type="checkbox" name="suspend_exports" value="1" checked[w.suspend_exports]; " " (lang.t("access.suspend")) }
                div.actions { button.primary type="submit" { (lang.t("access.save")) } }
            }
        }
    }
}

/// `POST /admin/audit/unusual/settings`.
async fn save_settings(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    let pairs = parse_pairs(&body);
    let number = |k: &str| get_param(&pairs, k).unwrap_or("").trim().to_string();
    // The field as its label on the page names it.
    let bad = |field: &str| {
        let label = match field {
            "multiple" => lang.t("access.multiple").to_string(),
            "baseline_days" => lang.t("access.baseline").to_string(),
            f => match f.strip_prefix("floor_") {
                Some(k) => format!("{}: {}", lang.t("access.floors"), kind_label(lang, k)),
                None => f.to_string(),
            },
        };
        format!("{label}: {}", lang.t("access.bad_number"))
    };
    let parsed = (|| {
        let multiple = number("multiple")
            .parse::<f64>()
            .map_err(|_| bad("multiple"))?;
        let baseline_days = number("baseline_days")
            .parse::<i64>()
            .map_err(|_| bad("baseline_days"))?;
        let mut floors = std::collections::BTreeMap::new();
        for k in ACCESS_KINDS {
            let field = format!("floor_{k}");
            let f = number(&field).parse::<i64>().map_err(|_| bad(&field))?;
            floors.insert(k.to_string(), f);
        }
        Ok::<_, String>(AccessWatch {
            multiple,
            baseline_days,
            suspend_exports: get_param(&pairs, "suspend_exports") == Some("1"),
            floors,
        })
    })();
    let w = match parsed {
        Ok(w) => w,
        Err(msg) => {
            return render(&st, lang, &me, None, Some(msg), StatusCode::BAD_REQUEST).await;
        }
    };
    match patron_app::access::set_watch(&st.store, &me, &w, " (web)").await {
        Ok(_) => Redirect::to("/admin/audit/unusual?done=saved").into_response(),
        Err(e @ AppError::Store(patron_store::StoreError::Invalid(_))) => {
            let msg = crate::errors::app_error_text(lang, &e);
            render(&st, lang, &me, None, Some(msg), StatusCode::BAD_REQUEST).await
        }
        Err(e) => crate::app_error_page(lang, &e),
    }
}

/// `POST /admin/audit/unusual/{id}/review`.
async fn review(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
) -> Response {
    let Some(id) = raw.parse::<i64>().ok().filter(|i| *i > 0) else {
        return crate::store_error_page(lang, &patron_store::StoreError::not_found("alert", raw));
    };
    match patron_app::access::review(&st.store, &me, id, " (web)").await {
        Ok(_) => {
            Redirect::to(&format!("/admin/audit/unusual?done=reviewed#alert-{id}")).into_response()
        }
        Err(e) => crate::app_error_page(lang, &e),
    }
}

struct ReportQuery {
    user: String,
    from: String,
    to: String,
}

impl ReportQuery {
    fn parse(raw: Option<&str>) -> Self {
        let pairs = parse_pairs(raw.unwrap_or_default().as_bytes());
        let text = |k: &str| get_param(&pairs, k).unwrap_or("").trim().to_string();
        ReportQuery {
            user: text("user"),
            from: text("from"),
            to: text("to"),
        }
    }

    /// The days, with `from` alone meaning that one day.
    fn days(&self) -> Result<(chrono::NaiveDate, chrono::NaiveDate), patron_store::StoreError> {
        let from = patron_app::access::parse_day("from", &self.from)?;
        let to = if self.to.is_empty() {
            from
        } else {
            patron_app::access::parse_day("to", &self.to)?
        };
        Ok((from, to))
    }

    fn query_string(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("user", &self.user)
            .append_pair("from", &self.from)
            .append_pair("to", &self.to)
            .finish()
    }
}

/// `GET /admin/audit/report?user=&from=&to=`: the evidence report page (the form alone until
/// a user and a day are given).
async fn report(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = ReportQuery::parse(raw.as_deref());
    let mut problem = None;
    let mut data = None;
    if !q.user.is_empty() || !q.from.is_empty() {
        let result = match q.days() {
            Ok((from, to)) => patron_app::access::evidence(&st.store, &me, &q.user, from, to).await,
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(r) => data = Some(r),
            Err(e @ AppError::Store(patron_store::StoreError::Invalid(_))) => {
                problem = Some(crate::errors::app_error_text(lang, &e))
            }
            Err(e) => return crate::app_error_page(lang, &e),
        }
    }
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = html! {
        div.pagehead {
            div {
                h1 { (lang.t("evidence.title")) }
                p.sub { (lang.t("evidence.sub")) }
            }
            @if data.is_some() {
                a.button href=(format!("/admin/audit/report.csv?{}", q.query_string())) id="evidence-csv" { (lang.t("evidence.csv")) }
            }
        }
        @if let Some(p) = &problem { div.notice.error role="alert" id="problem" { (p) } }
        div.panel {
            form.filters method="get" action="/admin/audit/report" {
                label { (lang.t("evidence.user")) input type="text" name="user" value=(q.user) required; }
                label { (lang.t("evidence.from")) input type="date" name="from" value=(q.from) required; }
                label { (lang.t("evidence.to")) input type="date" name="to" value=(q.to); }
                div.actions { button.primary type="submit" { (lang.t("evidence.show")) } }
            }
        }
        @if let Some(r) = &data { (evidence_body(lang, r)) }
    };
    html(
        status,
        layout::page_at(
            lang,
            lang.t("evidence.title"),
            "audit",
            "/admin/audit",
            body,
        ),
    )
}

fn evidence_body(lang: Lang, r: &EvidenceReport) -> Markup {
    let n = |v: i64| i18n::count(v.max(0) as u64);
    html! {
        @if r.days.is_empty() {
            div.panel { p.empty { (lang.t("evidence.nothing")) } }
        } @else {
            div.panel.flush {
                h2 { (lang.t("evidence.days")) }
                table.data.compact id="evidence-days" {
                    thead { tr {
                        th { (lang.t("evidence.day")) } th.num { (lang.t("evidence.views")) } th.num { (lang.t("evidence.customers")) }
                        th.num { (lang.t("evidence.list_pages")) } th.num { (lang.t("evidence.exports")) } th.num { (lang.t("evidence.rows")) }
                    } }
                    tbody {
                        @for d in &r.days {
                            tr { td.nowrap { (d.day) } td.num { (n(d.views)) } td.num { (n(d.customers)) } td.num { (n(d.list_pages)) } td.num { (n(d.exports)) } td.num { (n(d.rows)) } }
                        }
                        tr { th { (lang.t("evidence.total")) } th.num id="evidence-views" { (n(r.views())) } th.num { (n(r.customers.len() as i64)) } th.num {} th.num { (n(r.exports.len() as i64)) } th.num {} }
                    }
                }
            }
            div.panel.flush {
                h2 { (lang.t("evidence.viewed")) " (" (n(r.customers.len() as i64)) ")" }
                table.data.compact id="evidence-customers" {
                    thead { tr {
                        th { (lang.t("evidence.number")) } th { (lang.t("evidence.name")) } th.num { (lang.t("evidence.views")) }
                        th { (lang.t("evidence.first")) } th { (lang.t("evidence.last")) }
                    } }
                    tbody { @for c in &r.customers { tr {
                        td.mono { a href=(format!("/customers/{}", c.customer_id)) { (c.number.as_deref().unwrap_or("")) } }
                        td { @match &c.name { Some(name) => { (name) } None => { span.muted { (lang.t("evidence.purged")) " #" (c.customer_id) } } } }
                        td.num { (n(c.views)) }
                        td.nowrap { (i18n::datetime(lang, c.first)) }
                        td.nowrap { (i18n::datetime(lang, c.last)) }
                    } } }
                }
            }
            @if !r.exports.is_empty() {
                div.panel.flush {
                    h2 { (lang.t("evidence.files")) }
                    table.data.compact id="evidence-exports" {
                        thead { tr { th { (lang.t("evidence.at")) } th { (lang.t("evidence.what")) } th.num { (lang.t("evidence.rows")) } } }
                        tbody { @for e in &r.exports { tr {
                            td.nowrap { (i18n::datetime(lang, e.at)) } td { (e.detail) } td.num { @if let Some(v) = e.rows { (n(v)) } }
                        } } }
                    }
                }
            }
        }
    }
}

/// `GET /admin/audit/report.csv?user=&from=&to=`: the evidence report as CSV.
async fn report_csv(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = ReportQuery::parse(raw.as_deref());
    let result = match q.days() {
        Ok((from, to)) => patron_app::access::evidence_csv(&st.store, &me, &q.user, from, to).await,
        Err(e) => Err(e.into()),
    };
    let (report, bytes) = match result {
        Ok(r) => r,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    let name = format!(
        "attachment; filename=\"patron-evidence-{}-{}-{}.csv\"",
        report
            .username
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect::<String>(),
        report.from,
        report.to
    );
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&name).unwrap_or(HeaderValue::from_static(
                    "attachment; filename=\"patron-evidence.csv\"",
                )),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        bytes,
    )
        .into_response()
}
