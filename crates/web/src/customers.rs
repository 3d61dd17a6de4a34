//! The customer list and the customer card.

use std::collections::BTreeMap;

use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use patron_domain::{Customer, CustomerStatus, FieldError, Loyalty};
use patron_store::{
    CustomerFilter, CustomerSort, CustomerValueRow, OrderFilter, PageRequest, StoreError,
};
use serde_json::Value;

use crate::card;
use crate::i18n::{self, Lang};
use crate::layout;
use crate::{error_page, get_param, html, parse_pairs, store_error_page, Ctx, WebState};
use axum::Extension;
use patron_app::Session;

// ---------------------------------------------------------------------------------------------
// The list

/// Query parameters of the list, as typed (re-shown in the filter form and the next-page link).
#[derive(Default)]
struct ListQuery {
    status: String,
    region: String,
    industry: String,
    q: String,
    abc: String,
    segment: String,
    grade: String,
    stage: String,
    churn: String,
    /// `moved_down` or `unprofitable_growing` (the course over the last two refreshes).
    course: String,
    /// One movement between two refreshes (`grade:3:B:4:C`, see `TransitionFilter`).
    transition: String,
    sort: String,
    limit: String,
    after: String,
    /// `1`: the archived customers instead of the live ones.
    archived: String,
    /// The chosen columns, comma-separated (empty: the default ones).
    cols: String,
    /// The position of the page's first row (0-based), carried by the next-page link.
    at: String,
}

impl ListQuery {
    fn parse(raw: Option<&str>) -> Self {
        let pairs = parse_pairs(raw.unwrap_or("").as_bytes());
        let g = |k: &str| get_param(&pairs, k).unwrap_or("").trim().to_string();
        // `cols` may come once (`cols=a,b`, links) or once per checkbox (the columns form).
        let cols: Vec<&str> = pairs
            .iter()
            .filter(|(k, _)| k == "cols")
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        ListQuery {
            status: g("status"),
            region: g("region"),
            industry: g("industry"),
            q: g("q"),
            abc: g("abc"),
            segment: g("segment"),
            grade: g("grade"),
            stage: g("stage"),
            churn: g("churn"),
            course: g("course"),
            transition: g("transition"),
            sort: g("sort"),
            limit: g("limit"),
            after: g("after"),
            archived: g("archived"),
            cols: cols.join(","),
            at: g("at"),
        }
    }

    /// The query string of these filters (without the cursor), for links.
    fn to_query(&self, after: Option<&str>) -> String {
        self.to_query_at(after, None)
    }

    /// [`ListQuery::to_query`] with the position of the page's first row.
    fn to_query_at(&self, after: Option<&str>, at: Option<u64>) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        // The default columns are left out of the links.
        let cols = if self.cols == DEFAULT_COLS.join(",") {
            ""
        } else {
            self.cols.as_str()
        };
        for (k, v) in [
            ("status", self.status.as_str()),
            ("region", &self.region),
            ("industry", &self.industry),
            ("q", &self.q),
            ("abc", &self.abc),
            ("segment", &self.segment),
            ("grade", &self.grade),
            ("stage", &self.stage),
            ("churn", &self.churn),
            ("course", &self.course),
            ("transition", &self.transition),
            ("sort", &self.sort),
            ("limit", &self.limit),
            ("archived", &self.archived),
            ("cols", cols),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        if let Some(a) = after {
            s.append_pair("after", a);
            if let Some(at) = at.filter(|a| *a > 0) {
                s.append_pair("at", &at.to_string());
            }
        }
        s.finish()
    }

    /// The first page of this list in another sort order.
    fn sorted_by(&self, sort: &str) -> String {
        let mut q = ListQuery {
            sort: sort.to_string(),
            ..self.clone_filters()
        };
        if q.sort == "id" {
            q.sort.clear();
        }
        q.to_query(None)
    }

    fn clone_filters(&self) -> ListQuery {
        ListQuery {
            status: self.status.clone(),
            region: self.region.clone(),
            industry: self.industry.clone(),
            q: self.q.clone(),
            abc: self.abc.clone(),
            segment: self.segment.clone(),
            grade: self.grade.clone(),
            stage: self.stage.clone(),
            churn: self.churn.clone(),
            course: self.course.clone(),
            transition: self.transition.clone(),
            sort: self.sort.clone(),
            limit: self.limit.clone(),
            archived: self.archived.clone(),
            cols: self.cols.clone(),
            ..ListQuery::default()
        }
    }
}

const ABC: &[&str] = &["A", "B", "C"];
const GRADES: &[&str] = &["A", "B", "C", "D", "E"];
pub(crate) const SEGMENTS: &[&str] = &patron_value::rfm::Segment::CODES;
const STAGES: &[&str] = &[
    "suspect",
    "prospect",
    "first_time_buyer",
    "repeat_buyer",
    "advocate",
];

/// The columns a list may show besides number and name, in their order.
const COLUMNS: &[&str] = &[
    "company",
    "industry",
    "region",
    "status",
    "owner",
    "abc",
    "segment",
    "grade",
    "margin",
    "clv",
    "value_at_risk",
    "churn",
    "last_order",
];
/// The columns shown when none are chosen.
const DEFAULT_COLS: &[&str] = &[
    "company", "industry", "region", "status", "abc", "segment", "margin", "clv", "churn",
];

/// Counted exactly up to this many customers; above it the list says "more than".
const COUNT_CAP: i64 = 100_000;

/// Labels of the list tools: `(key, English, Chinese)`; [`lt`] falls back to the catalogue.
const MESSAGES: &[(&str, &str, &str)] = &[
    ("col.company", "Company", "公司"),
    ("col.industry", "Industry", "行业"),
    ("col.region", "Region", "地区"),
    ("col.status", "Status", "状态"),
    ("col.owner", "Owner", "负责人"),
    ("col.abc", "ABC class", "ABC 分类"),
    ("col.segment", "RFM segment", "RFM 细分"),
    ("col.grade", "Value grade", "价值等级"),
    ("col.margin", "Margin to date", "累计毛利"),
    ("col.clv", "CLV", "CLV"),
    ("col.value_at_risk", "Value at risk", "风险价值"),
    ("col.churn", "Churn warning", "流失预警"),
    ("col.last_order", "Last order", "最近订单"),
    ("col.opted_out", "Opted out of marketing", "已退订营销"),
    ("lt.columns", "Columns", "显示列"),
    ("lt.of", "of", "共"),
    ("lt.customers", "customers", "位客户"),
    ("lt.more_than", "more than", "超过"),
    ("lt.none", "No customer", "没有客户"),
    ("lt.csv", "Download CSV", "下载 CSV"),
    ("lt.bad_columns", "Unknown column", "未知的列"),
    (
        "lt.mine",
        "Your customers; unclaimed ones are in the pool.",
        "您的客户；未领取的客户在公海中。",
    ),
    ("lt.pool", "Pool", "公海"),
    ("sort.clv", "CLV (lowest first)", "CLV（从低到高）"),
    (
        "sort.value_at_risk",
        "Value at risk (lowest first)",
        "风险价值（从低到高）",
    ),
    ("lt.back", "Back to the list", "返回列表"),
    ("lt.views", "Saved views", "已保存的视图"),
    ("lt.shared", "shared", "共享"),
    ("lt.delete_view", "Delete", "删除"),
    ("lt.view_name", "Name of this view", "视图名称"),
    ("lt.share", "Share with everyone", "与所有人共享"),
    ("lt.save_view", "Save this view", "保存此视图"),
    ("lt.all_on_page", "All on this page", "选择本页全部"),
    (
        "lt.bulk_action",
        "With the selected customers",
        "对选中的客户",
    ),
    ("lt.assign", "Assign to a user", "分配给用户"),
    ("lt.return", "Return to the pool", "退回公海"),
    ("lt.tag", "Add a tag", "添加标签"),
    ("lt.tag_name", "Tag", "标签"),
    ("lt.to_user", "User", "用户"),
    ("lt.reason", "Reason (return)", "原因（退回）"),
    ("lt.apply", "Apply", "执行"),
    ("lt.select", "Select", "选择"),
    ("lt.done_view_saved", "View saved.", "视图已保存。"),
    ("lt.done_view_deleted", "View deleted.", "视图已删除。"),
    ("lt.done_bulk", "customers changed.", "位客户已更改。"),
    (
        "lt.start_campaign",
        "Start a campaign on them",
        "以所选客户发起营销活动",
    ),
    ("lt.campaign_name", "Campaign name", "活动名称"),
    (
        "lt.campaign_cost",
        "Campaign cost (optional)",
        "活动成本（可选）",
    ),
];

/// A label of the list tools in `lang`.
fn lt(lang: Lang, key: &str) -> &'static str {
    i18n::lookup(MESSAGES, lang, key).unwrap_or_else(|| lang.t(key))
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// The list's filter, sort, columns and page size read from its query, with a notice for
/// each value that is not understood (left out).
struct ParsedList {
    filter: CustomerFilter,
    sort: CustomerSort,
    cols: Vec<&'static str>,
    notices: Vec<String>,
}

fn parse_list(lang: Lang, me: &Session, q: &mut ListQuery) -> ParsedList {
    let mut notices: Vec<String> = Vec::new();
    let mut filter = CustomerFilter {
        region: opt(&q.region),
        industry: opt(&q.industry),
        q: opt(&q.q),
        archived: !q.archived.is_empty() && q.archived != "0",
        ..CustomerFilter::default()
    };
    if !q.status.is_empty() {
        match q.status.parse::<CustomerStatus>() {
            Ok(s) => filter.status = Some(s),
            Err(_) => notices.push(format!(
                "{}: {} '{}'",
                lang.t("error.bad_filter"),
                lang.t("field.status"),
                q.status
            )),
        }
    }
    // Value filters: only known values reach the store.
    let mut bad = |what: &str, v: &str| {
        notices.push(format!(
            "{}: {} '{}'",
            lang.t("error.bad_filter"),
            lt(lang, what),
            v
        ))
    };
    if !q.abc.is_empty() {
        match ABC.iter().find(|c| c.eq_ignore_ascii_case(&q.abc)) {
            Some(c) => filter.abc_class = Some((*c).into()),
            None => bad("value.abc", &q.abc),
        }
    }
    if !q.grade.is_empty() {
        match GRADES.iter().find(|c| c.eq_ignore_ascii_case(&q.grade)) {
            Some(c) => filter.grade = Some((*c).into()),
            None => bad("value.grade", &q.grade),
        }
    }
    if !q.segment.is_empty() {
        match SEGMENTS.iter().find(|c| **c == q.segment) {
            Some(c) => filter.rfm_segment = Some((*c).into()),
            None => bad("value.rfm_segment", &q.segment),
        }
    }
    if !q.stage.is_empty() {
        match STAGES.iter().find(|c| **c == q.stage) {
            Some(c) => filter.loyalty_stage = Some((*c).into()),
            None => bad("value.loyalty_stage", &q.stage),
        }
    }
    match q.churn.as_str() {
        "" => {}
        "yes" => filter.churn_risk = Some(true),
        "no" => filter.churn_risk = Some(false),
        other => bad("value.churn", other),
    }
    // The course filters' notices (their labels are the course's).
    let mut course_notices: Vec<String> = Vec::new();
    if !q.course.is_empty() {
        match patron_store::ValueCourse::parse(&q.course) {
            Some(c) => filter.course = Some(c),
            None => {
                let c = std::mem::take(&mut q.course);
                course_notices.push(format!(
                    "{}: {} '{}'",
                    lang.t("error.bad_filter"),
                    crate::trajectory::t(lang, "vh.filter"),
                    c
                ));
            }
        }
    }
    if !q.transition.is_empty() {
        match patron_app::value_history::parse_transition("transition", &q.transition) {
            Ok(tr) => filter.transition = Some(tr),
            Err(_) => {
                let v = std::mem::take(&mut q.transition);
                course_notices.push(format!(
                    "{}: {} '{}'",
                    lang.t("error.bad_filter"),
                    crate::trajectory::t(lang, "vh.transition_filter"),
                    v
                ));
            }
        }
    }
    let sort = match CustomerSort::from_name(&q.sort) {
        Some(s) => s,
        None if q.sort.is_empty() => CustomerSort::Id,
        None => {
            let s = std::mem::take(&mut q.sort);
            bad("list.sort", &s);
            CustomerSort::Id
        }
    };
    let mut cols: Vec<&'static str> = Vec::new();
    for c in q.cols.split(',').filter(|c| !c.is_empty()) {
        match COLUMNS.iter().find(|k| **k == c) {
            Some(k) if !cols.contains(k) => cols.push(k),
            Some(_) => {}
            None => bad("lt.bad_columns", c),
        }
    }
    if cols.is_empty() {
        cols = DEFAULT_COLS.to_vec();
    }
    // Shown in the table's order, whatever order the URL names them in.
    cols.sort_by_key(|c| COLUMNS.iter().position(|k| k == c));
    q.cols = cols.join(",");
    notices.extend(course_notices);
    ParsedList {
        filter: patron_app::customers::list_filter(me, filter),
        sort,
        cols,
        notices,
    }
}

/// What the optional columns of a page need besides the customers: value figures, owner
/// names and last order dates (each read only when a shown column uses it).
#[derive(Default)]
struct Extras {
    figures: BTreeMap<i64, CustomerValueRow>,
    owners: BTreeMap<i64, String>,
    last_orders: BTreeMap<i64, chrono::NaiveDate>,
}

impl Extras {
    /// Owner names (display name, else username) of every user.
    async fn owners(st: &WebState) -> Result<BTreeMap<i64, String>, StoreError> {
        Ok(st
            .store
            .users()
            .await?
            .into_iter()
            .map(|u| (u.id, u.display_name.clone().unwrap_or(u.username)))
            .collect())
    }

    async fn load(
        st: &WebState,
        cols: &[&str],
        items: &[Customer],
        owners: Option<&BTreeMap<i64, String>>,
    ) -> Result<Extras, StoreError> {
        let ids: Vec<i64> = items.iter().map(|c| c.id).collect();
        let mut x = Extras::default();
        let uses = |k: &[&str]| cols.iter().any(|c| k.contains(c));
        if uses(&[
            "abc",
            "segment",
            "grade",
            "margin",
            "clv",
            "value_at_risk",
            "churn",
        ]) {
            x.figures = st
                .store
                .customer_values_of(&ids)
                .await?
                .into_iter()
                .map(|r| (r.customer_id, r))
                .collect();
        }
        if uses(&["owner"]) {
            x.owners = match owners {
                Some(o) => o.clone(),
                None => Self::owners(st).await?,
            };
        }
        if uses(&["last_order"]) {
            x.last_orders = st.store.last_order_dates(&ids).await?;
        }
        Ok(x)
    }
}

/// The sort a header sorts by: the first click, and the reverse of each.
fn header_sort(col: &str) -> Option<(&'static str, &'static str)> {
    Some(match col {
        "number" => ("id", "-id"),
        "name" => ("name", "-name"),
        "clv" => ("-clv", "clv"),
        "value_at_risk" => ("-value_at_risk", "value_at_risk"),
        _ => return None,
    })
}

fn col_label(lang: Lang, col: &str) -> &'static str {
    match col {
        "number" => lang.t("field.number"),
        "name" => lang.t("field.name"),
        c => lt(lang, &format!("col.{c}")),
    }
}

/// A column header: a link sorting by the column (again: reversed) where the column has a
/// sort, with `aria-sort` on the column the list is sorted by.
fn header(lang: Lang, q: &ListQuery, col: &str) -> Markup {
    let num = matches!(col, "margin" | "clv" | "value_at_risk");
    let current = if q.sort.is_empty() { "id" } else { &q.sort };
    let label = col_label(lang, col);
    match header_sort(col) {
        Some((first, second)) => {
            let active = current == first || current == second;
            let aria = active.then(|| {
                if current.starts_with('-') {
                    "descending"
                } else {
                    "ascending"
                }
            });
            let next = if current == first { second } else { first };
            let arrow = match aria {
                Some("ascending") => " ▲",
                Some(_) => " ▼",
                None => "",
            };
            html! {
                th class=[num.then_some("num")] aria-sort=[aria] data-col=(col) {
                    a.sort href=(format!("/customers?{}", q.sorted_by(next))) { (label) (arrow) }
                }
            }
        }
        None => html! { th class=[num.then_some("num")] data-col=(col) { (label) } },
    }
}

fn cell(lang: Lang, col: &str, c: &Customer, x: &Extras) -> Markup {
    let v = x.figures.get(&c.id);
    let d = &c.data;
    match col {
        "company" => {
            html! { td.company title=(d.company.as_deref().unwrap_or("")) { (d.company.as_deref().unwrap_or("")) } }
        }
        "industry" => html! { td { (d.industry.as_deref().unwrap_or("")) } },
        "region" => html! { td { (d.region.as_deref().unwrap_or("")) } },
        "status" => html! { td { (status_badge(lang, d.status)) } },
        "owner" => html! { td { @if let Some(o) = d.owner_id {
            (x.owners.get(&o).cloned().unwrap_or_else(|| format!("#{o}")))
        } @else { span.muted { (lt(lang, "lt.pool")) } } } },
        "abc" => {
            html! { td { @if let Some(v) = v { span class=(format!("badge abc-{}", v.abc_class)) { (v.abc_class) } } } }
        }
        "segment" => {
            html! { td { @if let Some(seg) = v.and_then(|v| v.rfm_segment.as_deref()) { (lang.t(&format!("segment.{seg}"))) } } }
        }
        "grade" => {
            html! { td { @if let Some(g) = v.and_then(|v| v.grade.as_deref()) { span class=(format!("badge grade-{g}")) { (g) } } } }
        }
        "margin" => {
            html! { td.num { @if let Some(v) = v { (i18n::money_cents(lang, v.margin_cents)) } } }
        }
        "clv" => {
            html! { td.num { @if let Some(clv) = v.and_then(|v| v.clv) { (i18n::money(lang, clv)) } } }
        }
        "value_at_risk" => {
            html! { td.num { @if let Some(v) = v { (i18n::money(lang, v.value_at_risk)) } } }
        }
        "churn" => {
            html! { td { @if v.is_some_and(|v| v.churn_risk) { span.badge.risk { (lang.t("list.churn_yes")) } } } }
        }
        "last_order" => {
            html! { td.mono { @if let Some(d) = x.last_orders.get(&c.id) { (d.format("%Y-%m-%d")) } } }
        }
        _ => html! { td {} },
    }
}

/// The text of a column's cell in the CSV download (text cells neutralised against formulas).
fn csv_cell(col: &str, c: &Customer, x: &Extras) -> String {
    use patron_exchange::cells::safe;
    let v = x.figures.get(&c.id);
    let d = &c.data;
    let o = |s: &Option<String>| safe(s.clone().unwrap_or_default());
    match col {
        "number" => o(&d.number),
        "name" => safe(d.name.clone()),
        "company" => o(&d.company),
        "industry" => o(&d.industry),
        "region" => o(&d.region),
        "status" => d.status.as_str().to_string(),
        "owner" => d
            .owner_id
            .map(|id| safe(x.owners.get(&id).cloned().unwrap_or_else(|| id.to_string())))
            .unwrap_or_default(),
        "abc" => v.map(|v| v.abc_class.clone()).unwrap_or_default(),
        "segment" => v.and_then(|v| v.rfm_segment.clone()).unwrap_or_default(),
        "grade" => v.and_then(|v| v.grade.clone()).unwrap_or_default(),
        "margin" => v
            .map(|v| format!("{:.2}", v.margin_cents as f64 / 100.0))
            .unwrap_or_default(),
        "clv" => v
            .and_then(|v| v.clv)
            .map(|c| format!("{c:.2}"))
            .unwrap_or_default(),
        "value_at_risk" => v
            .map(|v| format!("{:.2}", v.value_at_risk))
            .unwrap_or_default(),
        "churn" => v.map(|v| v.churn_risk.to_string()).unwrap_or_default(),
        "last_order" => x
            .last_orders
            .get(&c.id)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        "opted_out" => d.marketing_opt_out.to_string(),
        _ => String::new(),
    }
}

/// The card's address with the list's query (`?back=`), so its "Back to the list" returns
/// to this very list.
fn card_href(id: i64, back: &str) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    s.append_pair("back", back);
    format!("/customers/{id}?{}", s.finish())
}

/// The list a card's `back` parameter names, when it is a same-site customer list.
pub(crate) fn list_back(back: Option<&str>) -> Option<String> {
    let b = back?.trim();
    (crate::is_local_path(b) && (b == "/customers" || b.starts_with("/customers?")))
        .then(|| b.to_string())
}

pub async fn list(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    let mut q = ListQuery::parse(raw.as_deref());
    let ParsedList {
        filter,
        sort,
        cols,
        mut notices,
    } = parse_list(lang, &me, &mut q);
    let archived = filter.archived;
    let limit = q.limit.parse::<u32>().ok().map(|l| l.clamp(1, 200));
    let mut page = PageRequest {
        limit: Some(limit.unwrap_or(25)),
        after: opt(&q.after),
    };
    let mut at: u64 = q.at.parse().unwrap_or(0);
    // The archived customers are for the roles that may restore them (the use case's gate).
    let result =
        match patron_app::customers::list_customers(&st.store, &me, &filter, sort, &page).await {
            Err(patron_app::AppError::Store(StoreError::Invalid(_))) if page.after.is_some() => {
                notices.push(lang.t("error.bad_cursor").to_string());
                page.after = None;
                at = 0;
                patron_app::customers::list_customers(&st.store, &me, &filter, sort, &page).await
            }
            r => r,
        };
    let result = match result {
        Ok(p) => p,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    if page.after.is_none() {
        at = 0;
    }
    let total = match patron_app::customers::count_customers(
        &st.store, &me, &filter, sort, COUNT_CAP,
    )
    .await
    {
        Ok(n) => n,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    let n = result.items.len() as i64;
    if let Err(e) = st
        .store
        .audit(&me.actor, "list", None, Some("customers (web)"), Some(n))
        .await
    {
        return store_error_page(lang, &e);
    }
    let x = match Extras::load(&st, &cols, &result.items, None).await {
        Ok(x) => x,
        Err(e) => return store_error_page(lang, &e),
    };
    let here = q.to_query_at(page.after.as_deref(), Some(at));
    let back = if here.is_empty() {
        "/customers".to_string()
    } else {
        format!("/customers?{here}")
    };
    let all_cols: Vec<&str> = ["number", "name"]
        .into_iter()
        .chain(cols.iter().copied())
        .collect();
    let range = if result.items.is_empty() {
        lt(lang, "lt.none").to_string()
    } else {
        format!(
            "{}–{}",
            i18n::count(at + 1),
            i18n::count(at + result.items.len() as u64)
        )
    };
    let of_total = if total > COUNT_CAP {
        format!(
            "{} {} {}",
            lt(lang, "lt.more_than"),
            i18n::count(COUNT_CAP as u64),
            lt(lang, "lt.customers")
        )
    } else {
        format!("{} {}", i18n::count(total as u64), lt(lang, "lt.customers"))
    };
    let csv_query = q.to_query(None);
    let views = match patron_app::lists::views(&st.store, &me).await {
        Ok(v) => v,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    let done = {
        let pairs = parse_pairs(raw.as_deref().unwrap_or("").as_bytes());
        match get_param(&pairs, "done").unwrap_or("") {
            "view_saved" => Some(lt(lang, "lt.done_view_saved").to_string()),
            "view_deleted" => Some(lt(lang, "lt.done_view_deleted").to_string()),
            d => d
                .strip_prefix("bulk_")
                .and_then(|n| n.parse::<u64>().ok())
                .map(|n| format!("{} {}", i18n::count(n), lt(lang, "lt.done_bulk"))),
        }
    };
    let bulk = !archived && !result.items.is_empty();
    let users: Vec<(i64, String)> = if bulk && me.may(patron_app::Action::ManageUsers) {
        match st.store.users().await {
            Ok(u) => u
                .into_iter()
                .filter(|u| !u.disabled && me.visible.allows(Some(u.id), true))
                .map(|u| (u.id, u.display_name.unwrap_or(u.username)))
                .collect(),
            Err(e) => return store_error_page(lang, &e),
        }
    } else {
        Vec::new()
    };
    let page_ids = result
        .items
        .iter()
        .map(|c| c.id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let body = html! {
        div.pagehead {
            @if archived {
                h1 { (crate::archive::t(lang, "ar.list")) }
                p { a #live-link href="/customers" { (crate::archive::t(lang, "ar.live_link")) } }
            } @else {
                h1 { (lang.t("list.title")) }
                @if me.may(patron_app::Action::Archive) {
                    p { a #archived-link href="/customers?archived=1" { (crate::archive::t(lang, "ar.list_link")) } }
                }
            }
        }
        @for n in &notices { div.notice.warn role="status" { (n) } }
        @if let Some(d) = &done { div.notice.ok role="status" #done { (d) } }
        @if filter.owned && !archived {
            p.muted #mine-note { (lt(lang, "lt.mine")) " " a href="/pool" { (lt(lang, "lt.pool")) " →" } }
        }
        form.filters.panel method="get" action="/customers" {
            @if archived { input type="hidden" name="archived" value="1"; }
            label.grow {
                span { (lang.t("list.search")) }
                input type="search" name="q" value=(q.q) placeholder=(lang.t("list.search_placeholder"));
            }
            label {
                span { (lang.t("field.status")) }
                select name="status" {
                    option value="" { (lang.t("list.any")) }
                    @for s in CustomerStatus::ALL {
                        option value=(s.as_str()) selected[q.status == s.as_str()] { (status_label(lang, *s)) }
                    }
                }
            }
            label {
                span { (lang.t("field.region")) }
                input type="text" name="region" value=(q.region) size="12";
            }
            label {
                span { (lang.t("field.industry")) }
                input type="text" name="industry" value=(q.industry) size="12";
            }
            label {
                span { (lang.t("value.abc")) }
                select name="abc" {
                    option value="" { (lang.t("list.any")) }
                    @for c in ABC { option value=(c) selected[q.abc == *c] { (c) } }
                }
            }
            label {
                span { (lang.t("value.rfm_segment")) }
                select name="segment" {
                    option value="" { (lang.t("list.any")) }
                    @for c in SEGMENTS { option value=(c) selected[q.segment == *c] { (lang.t(&format!("segment.{c}"))) } }
                }
            }
            label {
                span { (lang.t("value.grade")) }
                select name="grade" {
                    option value="" { (lang.t("list.any")) }
                    @for c in GRADES { option value=(c) selected[q.grade == *c] { (c) } }
                }
            }
            label {
                span { (lang.t("value.loyalty_stage")) }
                select name="stage" {
                    option value="" { (lang.t("list.any")) }
                    @for c in STAGES { option value=(c) selected[q.stage == *c] { (lang.t(&format!("stage.{c}"))) } }
                }
            }
            label {
                span { (lang.t("value.churn")) }
                select name="churn" {
                    option value="" { (lang.t("list.any")) }
                    option value="yes" selected[q.churn == "yes"] { (lang.t("list.churn_yes")) }
                    option value="no" selected[q.churn == "no"] { (lang.t("list.churn_no")) }
                }
            }
            label {
                span { (crate::trajectory::t(lang, "vh.filter")) }
                select name="course" {
                    option value="" { (lang.t("list.any")) }
                    @for c in patron_store::ValueCourse::NAMES {
                        option value=(c) selected[q.course == c] { (crate::trajectory::t(lang, &format!("vh.{c}"))) }
                    }
                }
            }
            @if !q.transition.is_empty() {
                label.check #transition-filter {
                    input type="checkbox" name="transition" value=(q.transition) checked;
                    " " (crate::trajectory::t(lang, "vh.transition_filter"))
                }
            }
            label {
                span { (lang.t("list.sort")) }
                select name="sort" {
                    @for s in CustomerSort::NAMES {
                        option value=(s) selected[q.sort == s || (q.sort.is_empty() && s == "id")] { (lt(lang, &format!("sort.{s}"))) }
                    }
                }
            }
            @if !q.limit.is_empty() { input type="hidden" name="limit" value=(q.limit); }
            details.columns #columns {
                summary { (lt(lang, "lt.columns")) }
                fieldset {
                    legend.sr { (lt(lang, "lt.columns")) }
                    @for c in COLUMNS {
                        label.check {
                            input type="checkbox" name="cols" value=(c) checked[cols.contains(c)];
                            " " (col_label(lang, c))
                        }
                    }
                }
            }
            div.actions {
                button.primary type="submit" { (lang.t("list.filter")) }
                a.button href="/customers" { (lang.t("list.reset")) }
                a.button #csv-link href=(format!("/customers.csv?{csv_query}")) { (lt(lang, "lt.csv")) }
            }
        }
        (views_panel(lang, &me, &views, &csv_query, &back))
        p #total role="status" { strong { (range) } " " (lt(lang, "lt.of")) " " (of_total) }
        @if bulk { (bulk_form(lang, &me, &users, &page_ids, &back)) }
        div.panel.flush {
            @if result.items.is_empty() {
                p.empty { (lang.t("list.empty")) }
            } @else {
                table.data id="customers" {
                    thead { tr {
                        @if bulk { th { span.sr { (lt(lang, "lt.select")) } } }
                        @for c in &all_cols { (header(lang, &q, c)) }
                    } }
                    tbody {
                        @for c in &result.items {
                            @let href = card_href(c.id, &back);
                            tr {
                                @if bulk {
                                    td { input type="checkbox" name="ids" value=(c.id) form="bulk" aria-label=(format!("{} {}", lt(lang, "lt.select"), c.data.name)); }
                                }
                                td.mono.c-number { a href=(href) { (c.data.number.as_deref().unwrap_or("")) } }
                                td.c-name { a href=(href) { (c.data.name) } }
                                @for col in &cols { (cell(lang, col, c, &x)) }
                            }
                        }
                    }
                }
            }
        }
        nav.pager {
            span.muted { (i18n::count(result.items.len() as u64)) " " (lang.t("list.shown")) }
            @if page.after.is_some() {
                a.button href=(format!("/customers?{}", q.to_query(None))) { "« " (lang.t("list.first")) }
            }
            @if let Some(next) = &result.next {
                a.button.primary rel="next" id="next-page" href=(format!("/customers?{}", q.to_query_at(Some(next), Some(at + result.items.len() as u64)))) { (lang.t("list.next")) " »" }
            }
        }
    };
    html(
        StatusCode::OK,
        layout::page_at(lang, lang.t("list.title"), "customers", &back, body),
    )
}

/// The list's filter and sort from its query string, as `/customers` reads it (a rep's own
/// customers), with the query as the list writes it; the first notice when a value is not
/// understood. For the export request form.
pub(crate) fn export_filter(
    lang: Lang,
    me: &Session,
    raw: &str,
) -> Result<(CustomerFilter, CustomerSort, String), String> {
    let mut q = ListQuery::parse(Some(raw));
    let parsed = parse_list(lang, me, &mut q);
    match parsed.notices.into_iter().next() {
        Some(n) => Err(n),
        None => Ok((parsed.filter, parsed.sort, q.to_query(None))),
    }
}

/// Rows read per page of the CSV download (the list's keyset pages: constant memory).
const CSV_PAGE: u32 = 500;

/// `GET /customers.csv?<the list's query>`: the filtered, sorted list as CSV, with the
/// columns the list shows and whether each customer opted out of marketing; streamed page
/// by page and audited (one `export` row with the filter and the row count) at its end.
pub async fn list_csv(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    let mut q = ListQuery::parse(raw.as_deref());
    let parsed = parse_list(lang, &me, &mut q);
    if let Some(n) = parsed.notices.first() {
        return error_page(lang, StatusCode::BAD_REQUEST, lang.t("error.bad_filter"), n);
    }
    // The export rule (`patron_app::exports`): refused (403), or the request form when the
    // export needs a manager's approval.
    match patron_app::exports::check(
        &st.store,
        &me,
        &parsed.filter,
        parsed.sort,
        "customer list (web)",
    )
    .await
    {
        Ok((rows, patron_app::exports::Gate::Allowed)) => {
            // Counted (and audited) before the first byte: a download broken off half-way, or
            // several at once, still count against the day's limit.
            let detail = q.to_query(None);
            if let Err(e) =
                patron_app::customers::record_list_export(&st.store, &me, &detail, rows).await
            {
                return crate::app_error_page(lang, &e);
            }
        }
        Ok(_) => {
            return Redirect::to(&format!("/exports/new?{}", q.to_query(None))).into_response()
        }
        Err(e) => return crate::exports::refused_page(lang, &e),
    }
    // The gates (and a bad filter) answer before the download starts.
    let first = PageRequest {
        limit: Some(CSV_PAGE),
        after: None,
    };
    let first = match patron_app::customers::list_customers(
        &st.store,
        &me,
        &parsed.filter,
        parsed.sort,
        &first,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    let owners = if parsed.cols.contains(&"owner") {
        match Extras::owners(&st).await {
            Ok(o) => Some(o),
            Err(e) => return store_error_page(lang, &e),
        }
    } else {
        None
    };
    let mut header: Vec<&str> = vec!["number", "name"];
    header.extend(parsed.cols.iter().copied());
    header.push("opted_out");
    struct Csv {
        st: WebState,
        me: Session,
        filter: CustomerFilter,
        sort: CustomerSort,
        cols: Vec<&'static str>,
        owners: Option<BTreeMap<i64, String>>,
        header: Vec<&'static str>,
        page: Option<patron_store::Page<Customer>>,
        next: Option<String>,
        rows: i64,
        done: bool,
    }
    let header: Vec<&'static str> = header
        .into_iter()
        .map(|h| {
            COLUMNS
                .iter()
                .chain(["number", "name", "opted_out"].iter())
                .find(|k| **k == h)
                .copied()
                .unwrap_or("")
        })
        .collect();
    let state = Csv {
        st,
        me,
        filter: parsed.filter,
        sort: parsed.sort,
        cols: parsed.cols,
        owners,
        header,
        page: Some(first),
        next: None,
        rows: -1,
        done: false,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        let mut w = csv::Writer::from_writer(Vec::new());
        let io = |e: csv::Error| std::io::Error::other(e.to_string());
        if s.rows < 0 {
            s.rows = 0;
            if let Err(e) = w.write_record(&s.header) {
                return Some((Err(io(e)), s));
            }
        }
        let page = match s.page.take() {
            Some(p) => p,
            None => {
                let req = PageRequest {
                    limit: Some(CSV_PAGE),
                    after: s.next.take(),
                };
                match patron_app::customers::list_customers(
                    &s.st.store,
                    &s.me,
                    &s.filter,
                    s.sort,
                    &req,
                )
                .await
                {
                    Ok(p) => p,
                    Err(e) => {
                        s.done = true;
                        return Some((Err(std::io::Error::other(e.to_string())), s));
                    }
                }
            }
        };
        let x = match Extras::load(&s.st, &s.cols, &page.items, s.owners.as_ref()).await {
            Ok(x) => x,
            Err(e) => {
                s.done = true;
                return Some((Err(std::io::Error::other(e.to_string())), s));
            }
        };
        for c in &page.items {
            let row: Vec<String> = s.header.iter().map(|col| csv_cell(col, c, &x)).collect();
            if let Err(e) = w.write_record(&row) {
                s.done = true;
                return Some((Err(io(e)), s));
            }
        }
        s.rows += page.items.len() as i64;
        s.next = page.next;
        if s.next.is_none() {
            s.done = true;
        }
        match w.into_inner() {
            Ok(bytes) => Some((Ok(axum::body::Bytes::from(bytes)), s)),
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), s)),
        }
    });
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"customers.csv\"",
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Saved views and bulk actions of the list

/// Where a form of the list goes back to: its `back` field when it is a customer list.
fn back_to_list(pairs: &[(String, String)], extra: Option<(&str, String)>) -> Response {
    let mut to = list_back(get_param(pairs, "back")).unwrap_or_else(|| "/customers".into());
    if let Some((k, v)) = extra {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.append_pair(k, &v);
        to.push(if to.contains('?') { '&' } else { '?' });
        to.push_str(&s.finish());
    }
    Redirect::to(&to).into_response()
}

/// `POST /customers/views`: saves the list's query (`query`) as a view named `name`
/// (`shared=1`: for everyone, managers and admins only), then opens it.
pub async fn save_view(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    let pairs = parse_pairs(&body);
    let name = get_param(&pairs, "name").unwrap_or("");
    let query = get_param(&pairs, "query").unwrap_or("");
    let shared = get_param(&pairs, "shared") == Some("1");
    match patron_app::lists::save_view(&st.store, &me, name, query, shared).await {
        Ok(v) => Redirect::to(&if v.query.is_empty() {
            "/customers?done=view_saved".to_string()
        } else {
            format!("/customers?{}&done=view_saved", v.query)
        })
        .into_response(),
        Err(e) => crate::app_error_page(lang, &e),
    }
}

/// `POST /customers/views/{id}/delete`: deletes a saved view (its owner or an admin).
pub async fn delete_view(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let Some(id) = parse_id(&raw) else {
        return not_found(lang);
    };
    let pairs = parse_pairs(&body);
    match patron_app::lists::delete_view(&st.store, &me, id).await {
        Ok(()) => back_to_list(&pairs, Some(("done", "view_deleted".into()))),
        Err(e) => crate::app_error_page(lang, &e),
    }
}

/// `POST /customers/bulk`: a bulk action on the customers ticked on the list (`ids`, or every
/// customer of the page with `all=1` and `page`): `action=assign` with `user_id`,
/// `action=tag` with `tag`, or `action=return` with `reason`. Back to the list (`back`) with the count.
pub async fn bulk(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    let pairs = parse_pairs(&body);
    let field = |k: &str| get_param(&pairs, k).unwrap_or("").trim().to_string();
    let mut raw_ids: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "ids")
        .map(|(_, v)| v.clone())
        .collect();
    if field("all") == "1" {
        raw_ids.extend(field("page").split(',').map(String::from));
    }
    let mut ids = Vec::new();
    for r in raw_ids.iter().map(|r| r.trim()).filter(|r| !r.is_empty()) {
        match parse_id(r) {
            Some(id) => ids.push(id),
            None => {
                return error_page(
                    lang,
                    StatusCode::BAD_REQUEST,
                    lang.t("error.bad_request"),
                    &format!("ids: '{}'", patron_domain::excerpt(r)),
                )
            }
        }
    }
    let result = match field("action").as_str() {
        "assign" => match field("user_id").parse::<i64>() {
            Ok(to) => patron_app::lists::bulk_assign(&st.store, &me, &ids, to).await,
            Err(_) => Err(StoreError::invalid("user_id", "choose a user").into()),
        },
        "return" => patron_app::lists::bulk_return(&st.store, &me, &ids, &field("reason")).await,
        "tag" => patron_app::lists::bulk_tag(&st.store, &me, &ids, &field("tag")).await,
        "campaign" => {
            let cost = field("cost").replace(',', "");
            let cost = if cost.is_empty() {
                Ok(patron_domain::Money(0))
            } else {
                cost.parse::<patron_domain::Money>()
                    .map_err(|_| StoreError::invalid("cost", "is not an amount"))
            };
            match cost {
                Ok(cost) => {
                    let input = patron_store::CampaignInput {
                        name: field("campaign"),
                        channel: Some(field("channel")).filter(|c| !c.is_empty()),
                        cost,
                        started_on: patron_domain::order::today(),
                    };
                    match patron_app::campaigns::create(&st.store, &me, input, &ids).await {
                        Ok(c) => {
                            return Redirect::to(&format!(
                                "/work/campaigns?ok=created#campaign-{}",
                                c.id
                            ))
                            .into_response()
                        }
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e.into()),
            }
        }
        _ => Err(StoreError::invalid("action", "choose assign, tag, return or campaign").into()),
    };
    match result {
        Ok(n) => back_to_list(&pairs, Some(("done", format!("bulk_{n}")))),
        Err(e) => crate::app_error_page(lang, &e),
    }
}

/// The saved views panel and the "Save this view" form.
fn views_panel(
    lang: Lang,
    me: &Session,
    views: &[patron_store::SavedView],
    query: &str,
    back: &str,
) -> Markup {
    html! {
        details.panel.views #views open[!views.is_empty()] {
            summary { (lt(lang, "lt.views")) " (" (views.len()) ")" }
            @if !views.is_empty() {
                ul.viewlist {
                    @for v in views {
                        li {
                            a.view href=(if v.query.is_empty() { "/customers".to_string() } else { format!("/customers?{}", v.query) }) { (v.name) }
                            @if v.shared { " " span.badge { (lt(lang, "lt.shared")) } }
                            @if v.user_id != me.user.id { " " span.muted { "· " (v.owner) } }
                            @if patron_app::lists::may_delete_view(me, v) {
                                form.inline method="post" action=(format!("/customers/views/{}/delete", v.id)) {
                                    (crate::auth::csrf_field())
                                    input type="hidden" name="back" value=(back);
                                    button.linkish type="submit" { (lt(lang, "lt.delete_view")) }
                                }
                            }
                        }
                    }
                }
            }
            form.saveview method="post" action="/customers/views" {
                (crate::auth::csrf_field())
                input type="hidden" name="query" value=(query);
                label {
                    span { (lt(lang, "lt.view_name")) }
                    input type="text" name="name" required maxlength=(patron_store::VIEW_NAME_CHARS);
                }
                @if me.may(patron_app::Action::ShareViews) {
                    label.check { input type="checkbox" name="shared" value="1"; " " (lt(lang, "lt.share")) }
                }
                button type="submit" { (lt(lang, "lt.save_view")) }
            }
        }
    }
}

/// The bulk actions form (its checkboxes sit in the table's rows, `form="bulk"`).
fn bulk_form(
    lang: Lang,
    me: &Session,
    users: &[(i64, String)],
    page_ids: &str,
    back: &str,
) -> Markup {
    html! {
        details.panel.bulkbox {
            summary { (lt(lang, "lt.bulk_action")) }
            form.bulk #bulk method="post" action="/customers/bulk" {
            (crate::auth::csrf_field())
            input type="hidden" name="back" value=(back);
            input type="hidden" name="page" value=(page_ids);
            label.check { input type="checkbox" name="all" value="1"; " " (lt(lang, "lt.all_on_page")) }
            label {
                span { (lt(lang, "lt.bulk_action")) }
                select name="action" {
                    @if me.may(patron_app::Action::ManageUsers) {
                        option value="assign" { (lt(lang, "lt.assign")) }
                    }
                    option value="tag" { (lt(lang, "lt.tag")) }
                    option value="return" { (lt(lang, "lt.return")) }
                    @if me.may(patron_app::Action::ManageCampaigns) {
                        option value="campaign" { (lt(lang, "lt.start_campaign")) }
                    }
                }
            }
            @if me.may(patron_app::Action::ManageUsers) {
                label {
                    span { (lt(lang, "lt.to_user")) }
                    select name="user_id" {
                        @for (id, name) in users { option value=(id) { (name) } }
                    }
                }
            }
            label {
                span { (lt(lang, "lt.tag_name")) }
                input type="text" name="tag" maxlength="64";
            }
            label {
                span { (lt(lang, "lt.reason")) }
                input type="text" name="reason" maxlength="200";
            }
            @if me.may(patron_app::Action::ManageCampaigns) {
                label {
                    span { (lt(lang, "lt.campaign_name")) }
                    input type="text" name="campaign" maxlength="200";
                }
                label {
                    span { (lt(lang, "lt.campaign_cost")) }
                    input type="text" name="cost" inputmode="decimal" placeholder="0.00";
                }
            }
            button type="submit" { (lt(lang, "lt.apply")) }
        }
        }
    }
}

pub(crate) fn status_label(lang: Lang, s: CustomerStatus) -> &'static str {
    lang.t(&format!("status.{}", s.as_str()))
}

fn status_badge(lang: Lang, s: CustomerStatus) -> Markup {
    html! { span class=(format!("badge status-{}", s.as_str())) { (status_label(lang, s)) } }
}

fn loyalty_label(lang: Lang, l: Loyalty) -> &'static str {
    lang.t(&format!("loyalty.{}", l.as_str()))
}

// ---------------------------------------------------------------------------------------------
// The card

/// Orders per page of the card.
const ORDERS_PER_PAGE: u32 = 20;
/// Interactions per page of the card's timeline.
const TIMELINE_PER_PAGE: u32 = 50;

/// Profile fields shown in the form, in order, with their input type.
const TEXT_FIELDS: &[(&str, &str)] = &[
    ("name", "text"),
    ("company", "text"),
    ("industry", "text"),
    ("region", "text"),
    ("address", "text"),
    ("phone", "tel"),
    ("fax", "tel"),
    ("email", "text"),
    ("employees", "text"),
    ("registered_capital", "text"),
    ("source", "text"),
    ("awards", "text"),
    ("credit_rating", "text"),
    ("credit_limit", "text"),
    ("tags", "text"),
];

/// Form values as text, keyed by field name.
type FormValues = BTreeMap<String, String>;

fn form_values(c: &Customer) -> FormValues {
    let d = &c.data;
    let mut v = FormValues::new();
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    v.insert("name".into(), d.name.clone());
    v.insert("company".into(), s(&d.company));
    v.insert("industry".into(), s(&d.industry));
    v.insert("region".into(), s(&d.region));
    v.insert("address".into(), s(&d.address));
    v.insert("phone".into(), s(&d.phone));
    v.insert("fax".into(), s(&d.fax));
    v.insert("email".into(), s(&d.email));
    v.insert(
        "employees".into(),
        d.employees.map(|n| n.to_string()).unwrap_or_default(),
    );
    v.insert(
        "registered_capital".into(),
        d.registered_capital
            .map(|m| m.to_string())
            .unwrap_or_default(),
    );
    v.insert("source".into(), s(&d.source));
    v.insert("awards".into(), s(&d.awards));
    v.insert("credit_rating".into(), s(&d.credit_rating));
    v.insert(
        "credit_limit".into(),
        d.credit_limit.map(|m| m.to_string()).unwrap_or_default(),
    );
    v.insert("tags".into(), d.tags.join(", "));
    v.insert("status".into(), d.status.as_str().into());
    v.insert("loyalty".into(), d.loyalty.as_str().into());
    v.insert(
        "marketing_opt_out".into(),
        if d.marketing_opt_out { "on" } else { "" }.into(),
    );
    v
}

/// What the card shows besides the record.
#[derive(Default)]
pub(crate) struct CardView {
    pub(crate) values: Option<FormValues>,
    pub(crate) errors: Vec<FieldError>,
    pub(crate) saved: bool,
    pub(crate) conflict: Option<FormValues>,
    pub(crate) notice: Option<String>,
    /// The notice of a form of the workplace that went through (`?ok=`).
    pub(crate) ok: Option<&'static str>,
    /// A form of the workplace that was refused.
    pub(crate) posted: Option<card::Posted>,
    /// The cursors of the orders' and the timeline's pages.
    pub(crate) orders_after: Option<String>,
    pub(crate) timeline_after: Option<String>,
    /// The list the card was opened from (`?back=`, a same-site customer list).
    pub(crate) back_list: Option<String>,
}

fn parse_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

fn not_found(lang: Lang) -> Response {
    error_page(
        lang,
        StatusCode::NOT_FOUND,
        lang.t("error.not_found"),
        lang.t("error.no_customer"),
    )
}

pub async fn card(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(id) = parse_id(&raw) else {
        return not_found(lang);
    };
    // Another user's customer is "not found", exactly like a missing one; the view is
    // audited and counted for the unusual-access alerts.
    if let Err(e) = patron_app::customers::open_card(&st.store, &me, id, Some("card (web)")).await {
        return crate::app_error_page(lang, &e);
    }
    let pairs = parse_pairs(query.as_deref().unwrap_or("").as_bytes());
    let saved = get_param(&pairs, "saved") == Some("1");
    let cursor = |k: &str| get_param(&pairs, k).map(str::trim).and_then(opt);
    render_card(
        &st,
        lang,
        &me,
        id,
        StatusCode::OK,
        CardView {
            saved,
            ok: get_param(&pairs, "ok").and_then(card::ok_key),
            orders_after: cursor("orders_after"),
            timeline_after: cursor("timeline_after"),
            back_list: list_back(get_param(&pairs, "back")),
            ..CardView::default()
        },
    )
    .await
}

/// `POST /customers/{id}`: saves the profile form.
pub async fn save(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let Some(id) = parse_id(&raw) else {
        return not_found(lang);
    };
    if let Err(e) = me.check(&st.store, id, true).await {
        return store_error_page(lang, &e);
    }
    let pairs = parse_pairs(&body);
    let Some(version) = get_param(&pairs, "version").and_then(|v| v.trim().parse::<i64>().ok())
    else {
        return render_card(
            &st,
            lang,
            &me,
            id,
            StatusCode::BAD_REQUEST,
            CardView {
                notice: Some(lang.t("error.bad_form").into()),
                ..CardView::default()
            },
        )
        .await;
    };
    let mut submitted = FormValues::new();
    for (f, _) in TEXT_FIELDS {
        submitted.insert((*f).into(), get_param(&pairs, f).unwrap_or("").to_string());
    }
    for f in ["status", "loyalty"] {
        submitted.insert(f.into(), get_param(&pairs, f).unwrap_or("").to_string());
    }
    submitted.insert(
        "marketing_opt_out".into(),
        if get_param(&pairs, "marketing_opt_out").is_some() {
            "on"
        } else {
            ""
        }
        .into(),
    );
    let (patch, mut errors) = to_patch(&submitted);
    if !errors.is_empty() {
        // Show the domain's checks of the other fields too, without writing anything.
        if let Ok(current) = st.store.customer(id).await {
            if let Err(more) = current.data.patched(&patch) {
                let more: Vec<FieldError> = more
                    .into_iter()
                    .filter(|e| !errors.iter().any(|x| x.field == e.field))
                    .collect();
                errors.extend(more);
            }
        }
        return invalid(&st, lang, &me, id, submitted, errors).await;
    }
    // The change and its audit row are one transaction.
    let mut fields: Vec<&str> = patch.keys().map(String::as_str).collect();
    fields.sort_unstable();
    let audited = me.audited(
        &st.store,
        "update",
        Some(id),
        format!("{} (web)", fields.join(",")),
    );
    match audited
        .update_customer(id, &patch, Some(version), &me.user.username)
        .await
    {
        Ok(_) => {
            if let Err(e) = audited.finish_audit().await {
                return store_error_page(lang, &e);
            }
            Redirect::to(&format!("/customers/{id}?saved=1")).into_response()
        }
        Err(StoreError::Invalid(errors)) => invalid(&st, lang, &me, id, submitted, errors).await,
        Err(StoreError::Conflict { .. }) => {
            render_card(
                &st,
                lang,
                &me,
                id,
                StatusCode::CONFLICT,
                CardView {
                    conflict: Some(submitted),
                    ..CardView::default()
                },
            )
            .await
        }
        Err(e) => store_error_page(lang, &e),
    }
}

async fn invalid(
    st: &WebState,
    lang: Lang,
    me: &Session,
    id: i64,
    submitted: FormValues,
    errors: Vec<FieldError>,
) -> Response {
    render_card(
        st,
        lang,
        me,
        id,
        StatusCode::UNPROCESSABLE_ENTITY,
        CardView {
            values: Some(submitted),
            errors,
            ..CardView::default()
        },
    )
    .await
}

/// Turns the submitted text into a customer patch; errors for values that are not even of the
/// right type (the domain checks the rest).
fn to_patch(v: &FormValues) -> (patron_domain::CustomerPatch, Vec<FieldError>) {
    let mut patch = patron_domain::CustomerPatch::new();
    let mut errors = Vec::new();
    let text = |k: &str| v.get(k).map(|s| s.trim()).unwrap_or("");
    for k in [
        "name",
        "company",
        "industry",
        "region",
        "address",
        "phone",
        "fax",
        "email",
        "source",
        "awards",
        "credit_rating",
        "registered_capital",
        "credit_limit",
    ] {
        let t = text(k);
        let value = if t.is_empty() && k != "name" {
            Value::Null
        } else {
            Value::String(t.to_string())
        };
        patch.insert(k.into(), value);
    }
    match text("employees") {
        "" => {
            patch.insert("employees".into(), Value::Null);
        }
        t => match t.replace([',', ' '], "").parse::<i64>() {
            Ok(n) => {
                patch.insert("employees".into(), Value::from(n));
            }
            Err(_) => errors.push(FieldError::new(
                "employees",
                format!("'{t}' is not a whole number"),
            )),
        },
    }
    let tags: Vec<Value> = text("tags")
        .split([',', '，', ';'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| Value::String(t.to_string()))
        .collect();
    patch.insert("tags".into(), Value::Array(tags));
    match text("status").parse::<CustomerStatus>() {
        Ok(s) => {
            patch.insert("status".into(), Value::String(s.as_str().into()));
        }
        Err(e) => errors.push(FieldError::new("status", e)),
    }
    match text("loyalty").parse::<Loyalty>() {
        Ok(l) => {
            patch.insert("loyalty".into(), Value::String(l.as_str().into()));
        }
        Err(e) => errors.push(FieldError::new("loyalty", e)),
    }
    patch.insert(
        "marketing_opt_out".into(),
        Value::Bool(!text("marketing_opt_out").is_empty()),
    );
    (patch, errors)
}

/// A validation message in the interface language (see [`crate::errors`]).
fn error_message(lang: Lang, e: &FieldError) -> String {
    crate::errors::field_error_text(lang, e)
}

/// The card: the profile form, the rep's workplace (contacts, activity, tasks, actions) and
/// every panel about the customer; each query is keyed by the customer's id.
pub(crate) async fn render_card(
    st: &WebState,
    lang: Lang,
    me: &Session,
    id: i64,
    status: StatusCode,
    view: CardView,
) -> Response {
    let customer = match st.store.customer(id).await {
        Ok(c) => c,
        Err(StoreError::NotFound { .. }) => return not_found(lang),
        Err(e) => return store_error_page(lang, &e),
    };
    let order_filter = OrderFilter {
        customer_id: Some(id),
        ..OrderFilter::default()
    };
    let mut orders_after = view.orders_after.clone();
    let mut timeline_after = view.timeline_after.clone();
    let mut bad_cursor = false;
    let loaded = async {
        let contacts = st.store.contacts(id).await?;
        let page = |limit: u32, after: &Option<String>| PageRequest {
            limit: Some(limit),
            after: after.clone(),
        };
        // A stale or edited cursor shows the first page (with a notice), never an error.
        let orders = match st
            .store
            .list_orders(&order_filter, &page(ORDERS_PER_PAGE, &orders_after))
            .await
        {
            Err(StoreError::Invalid(_)) if orders_after.is_some() => {
                bad_cursor = true;
                orders_after = None;
                st.store
                    .list_orders(&order_filter, &page(ORDERS_PER_PAGE, &None))
                    .await?
            }
            r => r?,
        };
        let interactions = match st
            .store
            .list_interactions(Some(id), None, &page(TIMELINE_PER_PAGE, &timeline_after))
            .await
        {
            Err(StoreError::Invalid(_)) if timeline_after.is_some() => {
                bad_cursor = true;
                timeline_after = None;
                st.store
                    .list_interactions(Some(id), None, &page(TIMELINE_PER_PAGE, &None))
                    .await?
            }
            r => r?,
        };
        let mut history = st.store.customer_history(id, 50).await?;
        name_history_values(&st.store, &mut history).await?;
        let stored = st.store.customer_value(id).await?;
        let clv_missing = match &stored {
            Some(v) => patron_app::value::clv_missing(&st.store, v).await?,
            None => None,
        };
        // Without stored figures the value panel adds up the orders themselves (at most 500
        // orders, counted as orders: the store pages orders, not lines).
        let totals = match &stored {
            Some(_) => None,
            None => Some(
                st.store
                    .list_orders(&order_filter, &page(500, &None))
                    .await?,
            ),
        };
        Ok::<_, StoreError>((
            contacts,
            orders,
            interactions,
            history,
            stored,
            totals,
            clv_missing,
        ))
    }
    .await;
    let (contacts, orders, interactions, history, stored, totals, clv_missing) = match loaded {
        Ok(x) => x,
        Err(e) => return store_error_page(lang, &e),
    };
    let extras = match card::load(st, me, &customer).await {
        Ok(x) => x,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    let course = match crate::trajectory::card_panel(st, me, lang, id).await {
        Ok(x) => x,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    let posted = view.posted.as_ref();
    let values = view
        .values
        .clone()
        .unwrap_or_else(|| form_values(&customer));
    let err_for = |field: &str| -> Option<String> {
        view.errors
            .iter()
            .find(|e| e.field == field || e.field.starts_with(&format!("{field}.")))
            .map(|e| error_message(lang, e))
    };
    let d = &customer.data;
    let title = d.name.clone();
    let all_orders = totals.as_ref().map(|p| p.items.as_slice()).unwrap_or(&[]);
    let revenue: i64 = all_orders.iter().map(|o| o.amount.cents()).sum();
    let cost: i64 = all_orders.iter().map(|o| o.cost.cents()).sum();
    let partial = totals.as_ref().is_some_and(|p| p.next.is_some());
    let back = format!("/customers/{id}");
    let body = html! {
        div.pagehead {
            div {
                p.crumbs { a #back-to-list href=(view.back_list.as_deref().unwrap_or("/customers")) { "← " (lang.t("card.back")) } }
                h1 { (d.name) " " small.mono { (d.number.as_deref().unwrap_or("")) } }
                p.sub {
                    (status_badge(lang, d.status))
                    @if let Some(c) = &d.company { " · " (c) }
                    @if let Some(i) = &d.industry { " · " (i) }
                    @if let Some(r) = &d.region { " · " (r) }
                }
                p { a #brief-link href=(format!("/customers/{id}/brief")) { (crate::work::t(lang, "fu.brief")) " →" } }
            }
        }
        (card::actions(lang, id))
        (crate::archive::panel(lang, me, &customer))
        @if let Some(m) = customer.merged_into {
            div.notice.warn { (lang.t("card.merged")) " " a href=(format!("/customers/{m}")) { "#" (m) } }
        }
        @if view.saved { div.notice.ok role="status" id="saved" { (lang.t("card.saved")) } }
        @if let Some(k) = view.ok { div.notice.ok role="status" id="done" { (card::t(lang, k)) } }
        @if bad_cursor { div.notice.warn role="status" { (card::t(lang, "cw.bad_cursor")) } }
        @if let Some(p) = posted { (card::posted_notice(lang, p)) }
        @if let Some(n) = &view.notice { div.notice.warn role="alert" { (n) } }
        @if !view.errors.is_empty() { div.notice.error role="alert" id="invalid" { (lang.t("card.invalid")) } }
        @if let Some(mine) = &view.conflict {
            div.notice.error role="alert" id="conflict" {
                p { (lang.t("card.conflict")) }
                @let current = form_values(&customer);
                @let changed: Vec<_> = mine.iter().filter(|(k, v)| current.get(*k) != Some(*v)).collect();
                @if !changed.is_empty() {
                    p { strong { (lang.t("card.your_values")) ":" } }
                    ul {
                        @for (k, v) in changed {
                            li { (lang.t(&format!("field.{k}"))) ": " code { (v) } }
                        }
                    }
                }
            }
        }
        div.cardgrid {
            section.panel.profile {
                h2 { (lang.t("card.profile")) }
                form method="post" action=(format!("/customers/{id}")) id="profile" novalidate { (crate::auth::csrf_field())
                    input type="hidden" name="version" value=(customer.version);
                    div.formgrid {
                        @for (field, kind) in TEXT_FIELDS {
                            @let err = err_for(field);
                            div class=(if err.is_some() { "field has-error" } else { "field" }) {
                                label for=(format!("f-{field}")) {
                                    (lang.t(&format!("field.{field}")))
                                    @if *field == "tags" { " " small.muted { "(" (lang.t("field.tags_hint")) ")" } }
                                }
                                input id=(format!("f-{field}")) type=(kind) name=(field)
                                    value=(values.get(*field).map(String::as_str).unwrap_or(""))
                                    aria-invalid=[err.as_ref().map(|_| "true")]
                                    aria-describedby=[err.as_ref().map(|_| format!("err-{field}"))];
                                @if let Some(m) = &err {
                                    p.field-error id=(format!("err-{field}")) { (m) }
                                }
                            }
                        }
                        @let status_err = err_for("status");
                        div class=(if status_err.is_some() { "field has-error" } else { "field" }) {
                            label for="f-status" { (lang.t("field.status")) }
                            select id="f-status" name="status" {
                                @for s in CustomerStatus::ALL {
                                    option value=(s.as_str()) selected[values.get("status").map(String::as_str) == Some(s.as_str())] { (status_label(lang, *s)) }
                                }
                            }
                            @if let Some(m) = &status_err { p.field-error id="err-status" { (m) } }
                        }
                        @let loyalty_err = err_for("loyalty");
                        div class=(if loyalty_err.is_some() { "field has-error" } else { "field" }) {
                            label for="f-loyalty" { (lang.t("field.loyalty")) }
                            select id="f-loyalty" name="loyalty" {
                                @for l in Loyalty::ALL {
                                    option value=(l.as_str()) selected[values.get("loyalty").map(String::as_str) == Some(l.as_str())] { (loyalty_label(lang, *l)) }
                                }
                            }
                            @if let Some(m) = &loyalty_err { p.field-error id="err-loyalty" { (m) } }
                        }
                        div.field.check {
                            label {
                                input type="checkbox" name="marketing_opt_out" checked[values.get("marketing_opt_out").is_some_and(|v| !v.is_empty())];
                                " " (lang.t("field.marketing_opt_out"))
                            }
                        }
                    }
                    @let others: Vec<&FieldError> = view.errors.iter().filter(|e| !TEXT_FIELDS.iter().any(|(f, _)| e.field == *f || e.field.starts_with(&format!("{f}."))) && e.field != "status" && e.field != "loyalty").collect();
                    @for e in others { p.field-error { (e.field) ": " (error_message(lang, e)) } }
                    div.formfoot {
                        span.muted { (lang.t("field.version")) " " (customer.version) " · " (lang.t("field.updated_at")) " " (i18n::datetime(lang, customer.updated_at)) }
                        button.primary type="submit" { (lang.t("card.save")) }
                    }
                }
            }
            div.side {
                (value_panel(lang, stored.as_ref(), revenue, cost, all_orders.len(), partial, crate::overview::may_recompute(me.user.role), clv_missing.as_ref()))
                (course)
                (card::relations(lang, &customer, &extras))
                (card::contacts(lang, id, &contacts, posted))
            }
        }
        div.twocol {
            (card::activity(lang, id, posted))
            (card::tasks(lang, id, &extras.tasks, posted))
        }
        div.twocol {
            (card::invoices(lang, &extras.invoices))
            (card::tickets(lang, &extras.tickets))
        }
        div.twocol {
            (card::opportunities(lang, &extras.opportunities))
            (card::surveys(lang, id, &extras.surveys))
        }
        (card::marketing_costs(lang, id, &extras.marketing_costs, posted))
        (card::orders(lang, id, &orders, orders_after.as_deref()))
        div.twocol {
            (card::timeline(lang, id, &interactions, timeline_after.as_deref()))
            section.panel id="history" {
                h2 { (lang.t("card.history")) }
                @if history.is_empty() {
                    p.empty { (lang.t("card.no_history")) }
                } @else {
                    table.data.compact {
                        thead { tr {
                            th { (lang.t("card.when")) }
                            th { (lang.t("card.who")) }
                            th { (lang.t("card.field")) }
                            th { (lang.t("card.old")) }
                            th { (lang.t("card.new")) }
                        } }
                        tbody {
                            @for h in &history {
                                tr {
                                    td.nowrap { (i18n::datetime(lang, h.changed_at)) }
                                    td { (h.changed_by) }
                                    td.nowrap { (field_label(lang, &h.field)) }
                                    td.old.value { (h.old_value.as_deref().unwrap_or("")) }
                                    td.value { (h.new_value.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    html(
        status,
        layout::page_at(lang, &title, "customers", &back, body),
    )
}

/// History values that hold an id (owner: a user; referred by: a customer) shown as the name
/// the reader knows, one look-up per kind for the whole history.
async fn name_history_values(
    store: &patron_store::Store,
    history: &mut [patron_domain::customer::HistoryEntry],
) -> Result<(), StoreError> {
    let ids = |field: &str, history: &[patron_domain::customer::HistoryEntry]| -> Vec<i64> {
        history
            .iter()
            .filter(|h| h.field == field)
            .flat_map(|h| [h.old_value.as_deref(), h.new_value.as_deref()])
            .flatten()
            .filter_map(|v| v.parse().ok())
            .collect()
    };
    let owners = ids("owner_id", history);
    let users: std::collections::HashMap<i64, String> = if owners.is_empty() {
        Default::default()
    } else {
        store
            .users()
            .await?
            .into_iter()
            .map(|u| (u.id, u.username))
            .collect()
    };
    let referrers = store.customer_labels(&ids("referred_by", history)).await?;
    for h in history.iter_mut() {
        let name = |v: &Option<String>| -> Option<String> {
            let id: i64 = v.as_deref()?.parse().ok()?;
            match h.field.as_str() {
                "owner_id" => users.get(&id).cloned(),
                "referred_by" => referrers.get(&id).map(|l| l.0.clone()),
                _ => None,
            }
        };
        if let Some(n) = name(&h.old_value) {
            h.old_value = Some(n);
        }
        if let Some(n) = name(&h.new_value) {
            h.new_value = Some(n);
        }
    }
    Ok(())
}

/// The label of a history field name (unknown names, such as custom fields, as they are).
fn field_label(lang: Lang, field: &str) -> String {
    let key = format!("field.{field}");
    if i18n::keys().any(|k| k == key) {
        lang.t(&key).to_string()
    } else {
        field.to_string()
    }
}

/// The value panel: the stored figures of the last value refresh, or what the orders alone
/// tell (with a link to the dashboard's recompute for those who may press it).
#[allow(clippy::too_many_arguments)]
fn value_panel(
    lang: Lang,
    v: Option<&CustomerValueRow>,
    revenue: i64,
    cost: i64,
    n_orders: usize,
    partial: bool,
    may_recompute: bool,
    clv_missing: Option<&patron_app::value::ClvMissing>,
) -> Markup {
    let opt_num = |x: Option<f64>, digits: usize| match x {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        _ => "–".into(),
    };
    html! {
        section.panel.valuepanel id="value" {
            h2 { (lang.t("value.title")) }
            @if let Some(v) = v {
                dl.figures {
                    dt { (lang.t("value.margin_to_date")) }
                    dd.big { (i18n::money_cents(lang, v.margin_cents)) }
                    dt { (lang.t("value.clv")) }
                    dd.big {
                        @match v.clv {
                            Some(c) => (i18n::money(lang, c)),
                            None => {
                                "–"
                                @if let Some(m) = clv_missing {
                                    " " span.muted.small.clvmissing title=[m.reason.as_deref()] { (lang.t(&format!("value.clv_missing.{}", m.code))) }
                                }
                            },
                        }
                    }
                    dt { (lang.t("value.p_alive")) }
                    dd { (v.p_alive.map(|p| i18n::pct(p * 100.0)).unwrap_or_else(|| "–".into())) }
                    dt { (lang.t("value.expected_purchases")) }
                    dd { (opt_num(v.expected_purchases, 2)) }
                    dt { (lang.t("value.revenue_to_date")) }
                    dd { (i18n::money_cents(lang, v.revenue_cents)) }
                    dt { (lang.t("value.orders_to_date")) }
                    dd { (i18n::count(v.orders.max(0) as u64)) }
                    dt { (lang.t("value.rfm")) }
                    dd {
                        @if let (Some(r), Some(f), Some(m)) = (v.rfm_r, v.rfm_f, v.rfm_m) { "R" (r) " F" (f) " M" (m) } @else { "–" }
                    }
                    dt { (lang.t("value.rfm_segment")) }
                    dd { @match v.rfm_segment.as_deref() { Some(s) => (lang.t(&format!("segment.{s}"))), None => "–" } }
                    dt { (lang.t("value.abc")) }
                    dd { span class=(format!("badge abc-{}", v.abc_class)) { (v.abc_class) } }
                    dt { (lang.t("value.grade")) }
                    dd {
                        @match v.grade.as_deref() {
                            Some(g) => {
                                (g) @if let Some(sc) = v.score { " (" (format!("{sc:.0}")) "/100)" }
                                @if v.orders == 0 && v.frequency.is_none() {
                                    " " span.muted.small { (lang.t("value.grade_attributes")) }
                                }
                            },
                            None => "–",
                        }
                    }
                    dt { (lang.t("value.loyalty_stage")) }
                    dd { @match v.loyalty_stage.as_deref() { Some(s) => (lang.t(&format!("stage.{s}"))), None => "–" } }
                    dt { (lang.t("value.phase")) }
                    dd { @match v.lifecycle_phase.as_deref() { Some(s) => (lang.t(&format!("phase.{s}"))), None => "–" } }
                }
                h3 { (lang.t("value.churn")) }
                @if v.churn_reasons.is_empty() {
                    p.muted { (lang.t("value.no_churn")) }
                } @else {
                    p { (lang.t("value.value_at_risk")) ": " strong { (i18n::money(lang, v.value_at_risk)) } }
                    ul.reasons {
                        @for r in &v.churn_reasons { li.reason { (stored_reason(lang, r)) } }
                    }
                }
                p.muted.small { (lang.t("value.as_of")) " " (i18n::datetime(lang, v.computed_at)) }
            } @else {
                dl.figures {
                    dt { (lang.t("value.margin_to_date")) }
                    dd.big { @if partial { "≥ " } (i18n::money_cents(lang, revenue - cost)) }
                    dt { (lang.t("value.revenue_to_date")) }
                    dd { @if partial { "≥ " } (i18n::money_cents(lang, revenue)) }
                    dt { (lang.t("value.orders_to_date")) }
                    dd { @if partial { "≥ " } (i18n::count(n_orders as u64)) }
                }
                p.notcomputed {
                    (lang.t("value.clv")) ", " (lang.t("value.p_alive")) ", " (lang.t("value.rfm")) ", " (lang.t("value.abc")) ", "
                    (lang.t("value.loyalty_stage")) ", " (lang.t("value.phase")) ", " (lang.t("value.churn")) ": "
                    br;
                    em { (lang.t("value.not_computed")) }
                    @if may_recompute {
                        br;
                        a id="recompute-link" href="/dashboard#recompute" { (lang.t("value.recompute_link")) }
                    }
                }
            }
        }
    }
}

/// A stored churn reason in the interface language: worded from its figures when it has them
/// all, else its stored sentence after the kind's name.
pub(crate) fn stored_reason(lang: Lang, r: &patron_store::StoredChurnReason) -> String {
    use patron_value::churn::ReasonKind;
    // The stored form's figures are those a JSON number holds: a reason with a non-finite
    // figure (or a reason kept as read, from older data) is worded from the finite ones as
    // before reasons were stored as the analysis's own, so it reads as it did.
    let all_finite = |k: &ReasonKind| match *k {
        ReasonKind::RevenueDrop {
            current,
            previous,
            change,
            ..
        } => [current, previous, change].iter().all(|x| x.is_finite()),
        ReasonKind::LongAbsence {
            days_since_last,
            mean_gap_days,
            ratio,
        } => [days_since_last, mean_gap_days, ratio]
            .iter()
            .all(|x| x.is_finite()),
        ReasonKind::LowPAlive { p_alive, threshold } => {
            p_alive.is_finite() && threshold.is_finite()
        }
        ReasonKind::NoSecondPurchase {
            days_since_purchase,
            typical_gap_days,
            quantile,
            ..
        } => [days_since_purchase, typical_gap_days, quantile]
            .iter()
            .all(|x| x.is_finite()),
    };
    let f = |k: &str| r.figure(k);
    let kind =
        match r.known() {
            Some(k) if all_finite(k) => Some(*k),
            _ => match r.kind() {
                "revenue_drop" => f("current").zip(f("previous")).zip(f("change")).map(
                    |((current, previous), change)| ReasonKind::RevenueDrop {
                        current,
                        previous,
                        change,
                        // Snapshots before the figure was stored used the default period.
                        period_days: f("period_days").map_or(90, |d| d as u32),
                    },
                ),
                "long_absence" => f("days_since_last").zip(f("mean_gap_days")).map(|(d, g)| {
                    ReasonKind::LongAbsence {
                        days_since_last: d,
                        mean_gap_days: g,
                        ratio: f("ratio").unwrap_or(d / g),
                    }
                }),
                "low_p_alive" => f("p_alive")
                    .zip(f("threshold"))
                    .map(|(p_alive, threshold)| ReasonKind::LowPAlive { p_alive, threshold }),
                "no_second_purchase" => f("days_since_purchase").zip(f("typical_gap_days")).map(
                    |(days_since_purchase, typical_gap_days)| ReasonKind::NoSecondPurchase {
                        days_since_purchase,
                        typical_gap_days,
                        quantile: f("quantile").unwrap_or(0.9),
                        repeat_buyers: f("repeat_buyers").map_or(0, |n| n.max(0.0) as u32),
                    },
                ),
                _ => None,
            },
        };
    match kind {
        Some(k) => crate::dashboard::reason(lang, &k),
        None => {
            let key = format!("reason.{}", r.kind());
            let detail = r.detail();
            let known = i18n::keys().any(|k| k == key);
            match (known, detail.is_empty()) {
                (true, false) => format!("{}: {detail}", lang.t(&key)),
                (true, true) => lang.t(&key).to_string(),
                // A compact reason of another build's kind carries no sentence.
                (false, true) => r.kind().to_string(),
                (false, false) => detail,
            }
        }
    }
}
