//! `/leads`: the leads the viewer sees, with the funnel (new, contacted, qualified, converted,
//! disqualified: each a filter), the list of one status, and the forms to record a lead, move
//! it (contacted, qualified, disqualified with a reason, reopened) and convert it into a
//! customer (a new one, or an existing one by number). Another rep's lead is "not found"; a
//! bad form value or a refused move re-shows the page with the reason (422 / 409), never a 5xx.
//! Analysts never reach it (the sign-in layer refuses them record pages).

use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::{html, Markup};
use patron_app::Session;
use patron_store::{
    ConvertLead, Lead, LeadFilter, LeadFunnel, LeadInput, LeadStatusChange, PageRequest, Role,
    StoreError, LEAD_STATUSES,
};
use std::collections::hash_map::Entry;
use std::collections::HashMap;

use crate::i18n::{self, Lang};
use crate::{error_page, get_param, html, layout, parse_pairs, store_error_page, Ctx, WebState};

/// Labels of this page: `(key, English, Chinese)`.
const MESSAGES: &[(&str, &str, &str)] = &[
    ("leads.nav", "Leads", "线索"),
    ("leads.title", "Leads", "销售线索"),
    (
        "leads.sub",
        "From the business card to the customer: qualify, then convert.",
        "从名片到客户：先确认，再转化。",
    ),
    ("leads.funnel", "Funnel", "漏斗"),
    ("leads.all", "All", "全部"),
    ("leads.status.new", "New", "新线索"),
    ("leads.status.contacted", "Contacted", "已联系"),
    ("leads.status.qualified", "Qualified", "已确认"),
    ("leads.status.converted", "Converted", "已转化"),
    ("leads.status.disqualified", "Disqualified", "已排除"),
    ("leads.rate", "Converted of all leads", "转化率"),
    ("leads.list", "Leads", "线索列表"),
    ("leads.none", "No leads here.", "暂无线索。"),
    ("leads.name", "Name", "姓名"),
    ("leads.company", "Company", "公司"),
    ("leads.title_field", "Title", "职位"),
    ("leads.phone", "Phone", "电话"),
    ("leads.email", "E-mail", "邮箱"),
    ("leads.region", "Region", "地区"),
    ("leads.industry", "Industry", "行业"),
    ("leads.source", "Source", "来源"),
    ("leads.notes", "Notes", "备注"),
    ("leads.status", "Status", "状态"),
    ("leads.created", "Captured", "录入时间"),
    ("leads.actions", "Next step", "下一步"),
    ("leads.mark_contacted", "Contacted", "标记已联系"),
    ("leads.qualify", "Qualify", "确认"),
    ("leads.reopen", "Reopen", "重新打开"),
    ("leads.reason", "Reason", "原因"),
    ("leads.disqualify", "Disqualify", "排除"),
    ("leads.into", "Into customer no.", "并入客户编号"),
    ("leads.into_hint", "empty: a new customer", "留空：新建客户"),
    (
        "leads.allow_duplicate",
        "new even if similar",
        "即使相似也新建",
    ),
    ("leads.convert", "Convert", "转为客户"),
    ("leads.customer", "Customer", "客户"),
    ("leads.owner", "Owner", "负责人"),
    ("leads.nobody", "unowned", "未分配"),
    ("leads.take", "Take", "认领"),
    ("leads.assign", "Assign", "分配"),
    ("leads.ok.assigned", "Lead handed over.", "线索已分配。"),
    (
        "leads.not_yours",
        "You may not hand this lead over: managers assign leads, a rep takes an unowned one.",
        "您无权分配此线索：由经理分配，销售只能认领未分配的线索。",
    ),
    ("leads.add", "Record a lead", "新增线索"),
    ("leads.save", "Record", "保存"),
    ("leads.next", "Next page", "下一页"),
    ("leads.ok.created", "Lead recorded.", "线索已保存。"),
    ("leads.ok.moved", "Lead moved.", "线索状态已更新。"),
    (
        "leads.ok.converted",
        "Lead converted into a customer.",
        "线索已转为客户。",
    ),
    ("leads.refused", "Not done:", "未完成："),
    (
        "leads.import_hint",
        "Many cards at once: an administrator can import a CSV file of cards for a campaign.",
        "批量导入名片：管理员可按活动导入名片的 CSV 文件。",
    ),
];

/// This page's label for `key` (the main catalogue's for other keys).
pub(crate) fn t(lang: Lang, key: &str) -> &'static str {
    crate::i18n::lookup(MESSAGES, lang, key).unwrap_or_else(|| lang.t(key))
}

pub(crate) fn routes() -> Router<WebState> {
    Router::new()
        .route("/leads", get(page).post(create))
        .route("/leads/{id}/status", post(move_lead))
        .route("/leads/{id}/convert", post(convert))
        .route("/leads/{id}/assign", post(assign))
}

/// What went wrong with a submitted form, shown above the list.
struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    fn from_store(lang: Lang, e: &StoreError) -> Option<Refusal> {
        match e {
            StoreError::Invalid(errs) => Some(Refusal {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: errs
                    .iter()
                    .map(|e| crate::errors::field_error_line(lang, e))
                    .collect::<Vec<_>>()
                    .join(if lang == Lang::Zh { "；" } else { "; " }),
            }),
            StoreError::Conflict { .. } => Some(Refusal {
                status: StatusCode::CONFLICT,
                message: crate::errors::conflict_text(lang, e),
            }),
            _ => None,
        }
    }
}

pub async fn page(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = parse_pairs(raw.unwrap_or_default().as_bytes());
    render(&st, lang, &me, &q, None).await
}

async fn render(
    st: &WebState,
    lang: Lang,
    me: &Session,
    q: &[(String, String)],
    refusal: Option<Refusal>,
) -> Response {
    let status = get_param(q, "status")
        .filter(|s| LEAD_STATUSES.contains(s))
        .map(str::to_string);
    let after = get_param(q, "after")
        .filter(|a| !a.is_empty())
        .map(str::to_string);
    let ok = get_param(q, "ok").and_then(|k| match k {
        "created" | "moved" | "converted" | "assigned" => Some(format!("leads.ok.{k}")),
        _ => None,
    });
    let converted_into = get_param(q, "customer").and_then(|c| c.parse::<i64>().ok());
    let filter = LeadFilter {
        status: status.clone(),
        ..Default::default()
    };
    let funnel = match st
        .store
        .lead_funnel(&LeadFilter::default(), &me.visible)
        .await
    {
        Ok(f) => f,
        Err(e) => return store_error_page(lang, &e),
    };
    let page = match st
        .store
        .list_leads(
            &filter,
            &me.visible,
            &PageRequest {
                limit: Some(50),
                after: after.clone(),
            },
        )
        .await
    {
        Ok(p) => p,
        // A tampered cursor is bad input: the first page instead.
        Err(StoreError::Invalid(_)) if after.is_some() => {
            let mut q = q.to_vec();
            q.retain(|(k, _)| k != "after");
            return Box::pin(render(st, lang, me, &q, refusal)).await;
        }
        Err(e) => return store_error_page(lang, &e),
    };
    if let Err(e) = st
        .store
        .audit(
            &me.actor,
            "list",
            None,
            Some("leads (web)"),
            Some(page.items.len() as i64),
        )
        .await
    {
        return store_error_page(lang, &e);
    }
    // Converted leads link to their customer, by number.
    let mut numbers: HashMap<i64, String> = HashMap::new();
    for c in page
        .items
        .iter()
        .filter_map(|l| l.converted_customer_id)
        .chain(converted_into)
    {
        if let Entry::Vacant(e) = numbers.entry(c) {
            match st.store.customer(c).await {
                Ok(found) => {
                    e.insert(found.data.number.unwrap_or_else(|| c.to_string()));
                }
                Err(StoreError::NotFound { .. }) => {}
                Err(e) => return store_error_page(lang, &e),
            }
        }
    }
    let users = match st.store.users().await {
        Ok(u) => u,
        Err(e) => return store_error_page(lang, &e),
    };
    let names = Names {
        owners: users.iter().map(|u| (u.id, u.username.clone())).collect(),
        // Whom the viewer may give a lead to: administrators and managers, users in scope.
        assignable: if matches!(me.user.role, Role::Admin | Role::Manager) {
            users
                .iter()
                .filter(|u| !u.disabled && u.sees_records() && me.visible.allows(Some(u.id), true))
                .map(|u| (u.id, u.username.clone()))
                .collect()
        } else {
            Vec::new()
        },
        numbers,
    };
    let number = |c: i64| {
        names
            .numbers
            .get(&c)
            .cloned()
            .unwrap_or_else(|| c.to_string())
    };
    let code = refusal.as_ref().map(|r| r.status).unwrap_or(StatusCode::OK);
    let back = match &status {
        Some(s) => format!("/leads?status={s}"),
        None => "/leads".to_string(),
    };
    let body = html! {
        div.pagehead {
            div {
                h1 { (t(lang, "leads.title")) }
                p.sub { (t(lang, "leads.sub")) }
            }
        }
        @if let Some(k) = &ok {
            div.notice.ok role="status" id="done" {
                (t(lang, k))
                @if let Some(c) = converted_into {
                    " " a href=(format!("/customers/{c}")) { (t(lang, "leads.customer")) " " (number(c)) }
                }
            }
        }
        @if let Some(r) = &refusal {
            div.notice.error role="alert" id="refused" { (t(lang, "leads.refused")) " " (r.message) }
        }
        (funnel_panel(lang, &funnel, status.as_deref()))
        section.panel.flush id="leads" {
            h2 {
                (t(lang, "leads.list"))
                @if let Some(s) = &status { " · " (t(lang, &format!("leads.status.{s}"))) }
            }
            @if page.items.is_empty() {
                p.empty { (t(lang, "leads.none")) }
            } @else {
                table.data {
                    thead { tr {
                        th { (t(lang, "leads.name")) } th { (t(lang, "leads.company")) }
                        th { (t(lang, "leads.phone")) " / " (t(lang, "leads.email")) }
                        th { (t(lang, "leads.source")) } th { (t(lang, "leads.status")) }
                        th { (t(lang, "leads.created")) } th { (t(lang, "leads.owner")) } th { (t(lang, "leads.actions")) }
                    } }
                    tbody { @for l in &page.items { (row(lang, me, l, &back, &names)) } }
                }
            }
            @if let Some(next) = &page.next {
                div.pager {
                    a.button href=(format!("/leads?{}", form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(status.iter().map(|s| ("status", s.as_str())))
                        .append_pair("after", next).finish())) { (t(lang, "leads.next")) }
                }
            }
        }
        (add_form(lang))
        p.muted.small { (t(lang, "leads.import_hint")) }
    };
    html(
        code,
        layout::page_at(lang, t(lang, "leads.title"), "leads", &back, body),
    )
}

fn funnel_panel(lang: Lang, f: &LeadFunnel, current: Option<&str>) -> Markup {
    let total = f.new + f.contacted + f.qualified + f.converted + f.disqualified;
    let counts = [
        ("new", f.new),
        ("contacted", f.contacted),
        ("qualified", f.qualified),
        ("converted", f.converted),
        ("disqualified", f.disqualified),
    ];
    let rate = if total > 0 {
        format!("{:.1}%", 100.0 * f.converted as f64 / total as f64)
    } else {
        "–".to_string()
    };
    html! {
        section.panel id="funnel" {
            h2 { (t(lang, "leads.funnel")) }
            div.kpis.six {
                a.kpi href="/leads" aria-current=[current.is_none().then_some("page")] {
                    span { (t(lang, "leads.all")) } strong { (total) }
                }
                @for (s, n) in counts {
                    a.kpi id=(format!("funnel-{s}")) href=(format!("/leads?status={s}"))
                        aria-current=[(current == Some(s)).then_some("page")] {
                        span { (t(lang, &format!("leads.status.{s}"))) }
                        strong { (n) }
                        // The bar: this status's share of all leads.
                        div style=(format!("height:4px;background:var(--accent);margin-top:.3rem;width:{}%", if total > 0 { 100 * n / total } else { 0 })) {}
                    }
                }
            }
            p.muted.small { (t(lang, "leads.rate")) ": " strong { (rate) } }
        }
    }
}

/// What the rows show by name: customers' numbers, users' names, whom leads may go to.
struct Names {
    numbers: HashMap<i64, String>,
    owners: HashMap<i64, String>,
    assignable: Vec<(i64, String)>,
}

fn row(lang: Lang, me: &Session, l: &Lead, back: &str, names: &Names) -> Markup {
    let can_work = me.visible.allows(l.owner_id, true);
    html! {
        tr id=(format!("lead-{}", l.id)) {
            td {
                (l.name)
                @if let Some(ti) = &l.title { br; span.muted.small { (ti) } }
            }
            td { (l.company.as_deref().unwrap_or("")) }
            td.small {
                (l.phone.as_deref().unwrap_or(""))
                @if let Some(e) = &l.email { br; (e) }
            }
            td { (l.source.as_deref().unwrap_or("")) }
            td {
                span.badge { (t(lang, &format!("leads.status.{}", l.status))) }
                @if let Some(r) = &l.disqualified_reason { br; span.muted.small { (r) } }
            }
            td.nowrap.small { (i18n::date(lang, l.created_at.date_naive())) }
            td.small {
                @match l.owner_id {
                    Some(o) => { (names.owners.get(&o).cloned().unwrap_or_else(|| o.to_string())) }
                    None => { span.muted { (t(lang, "leads.nobody")) } }
                }
            }
            td { (actions(lang, me, l, can_work, back, names)) }
        }
    }
}

fn actions(
    lang: Lang,
    me: &Session,
    l: &Lead,
    can_work: bool,
    back: &str,
    names: &Names,
) -> Markup {
    let status_form = |to: &str, label: &str| {
        html! {
            form method="post" action=(format!("/leads/{}/status", l.id)) style="display:inline" { (crate::auth::csrf_field())
                input type="hidden" name="status" value=(to);
                input type="hidden" name="back" value=(back);
                button type="submit" { (t(lang, label)) }
            }
        }
    };
    html! {
        @if let Some(c) = l.converted_customer_id {
            a href=(format!("/customers/{c}")) { (t(lang, "leads.customer")) " " (names.numbers.get(&c).cloned().unwrap_or_else(|| c.to_string())) }
        } @else if can_work {
            @match l.status.as_str() {
                "new" => { (status_form("contacted", "leads.mark_contacted")) " " (status_form("qualified", "leads.qualify")) }
                "contacted" => { (status_form("qualified", "leads.qualify")) }
                "disqualified" => { (status_form("new", "leads.reopen")) }
                _ => {}
            }
            @if l.status == "qualified" {
                form method="post" action=(format!("/leads/{}/convert", l.id)) style="display:inline-flex;gap:.3rem;align-items:center;flex-wrap:wrap" { (crate::auth::csrf_field())
                    input type="hidden" name="back" value=(back);
                    input type="text" name="into" size="9" style="width:10rem" placeholder=(t(lang, "leads.into_hint"))
                        aria-label=(t(lang, "leads.into")) data-picker="" list=(format!("into-{}-list", l.id)) autocomplete="off";
                    datalist id=(format!("into-{}-list", l.id)) {}
                    label.small { input type="checkbox" name="allow_duplicate" value="1"; " " (t(lang, "leads.allow_duplicate")) }
                    button type="submit" { (t(lang, "leads.convert")) }
                }
            }
            @if l.status != "disqualified" {
                form method="post" action=(format!("/leads/{}/status", l.id)) style="display:inline-flex;gap:.3rem;margin-top:.2rem" { (crate::auth::csrf_field())
                    input type="hidden" name="status" value="disqualified";
                    input type="hidden" name="back" value=(back);
                    input type="text" name="reason" size="12" style="width:8rem" placeholder=(t(lang, "leads.reason"))
                        aria-label=(t(lang, "leads.reason")) required;
                    button type="submit" { (t(lang, "leads.disqualify")) }
                }
            }
        }
        @if l.converted_customer_id.is_none() {
            @if l.owner_id.is_none() && !manages(me) && me.user.sees_records() {
                form method="post" action=(format!("/leads/{}/assign", l.id)) style="display:inline" { (crate::auth::csrf_field())
                    input type="hidden" name="owner" value=(me.user.id);
                    input type="hidden" name="back" value=(back);
                    button type="submit" { (t(lang, "leads.take")) }
                }
            }
            @if !names.assignable.is_empty() && (l.owner_id.is_none() || me.visible.allows(l.owner_id, true)) {
                form method="post" action=(format!("/leads/{}/assign", l.id)) style="display:inline-flex;gap:.3rem;margin-top:.2rem" { (crate::auth::csrf_field())
                    input type="hidden" name="back" value=(back);
                    select name="owner" aria-label=(t(lang, "leads.owner")) style="width:auto" {
                        option value="" selected[l.owner_id.is_none()] { (t(lang, "leads.nobody")) }
                        @for (id, name) in &names.assignable {
                            option value=(id) selected[l.owner_id == Some(*id)] { (name) }
                        }
                    }
                    button type="submit" { (t(lang, "leads.assign")) }
                }
            }
        }
    }
}

fn add_form(lang: Lang) -> Markup {
    let field = |name: &str, label: &str, kind: &str| {
        html! {
            div.field {
                label for=(format!("lead-{name}")) { (t(lang, label)) }
                input id=(format!("lead-{name}")) type=(kind) name=(name) required[name == "name"];
            }
        }
    };
    html! {
        section.panel id="add-lead" {
            h2 { (t(lang, "leads.add")) }
            form method="post" action="/leads" { (crate::auth::csrf_field())
                div.formgrid {
                    (field("name", "leads.name", "text"))
                    (field("company", "leads.company", "text"))
                    (field("title", "leads.title_field", "text"))
                    (field("phone", "leads.phone", "tel"))
                    (field("email", "leads.email", "text"))
                    (field("region", "leads.region", "text"))
                    (field("industry", "leads.industry", "text"))
                    (field("source", "leads.source", "text"))
                }
                div.field {
                    label for="lead-notes" { (t(lang, "leads.notes")) }
                    textarea id="lead-notes" name="notes" rows="2"
                        style="width:100%;font:inherit;font-size:.92rem;padding:.42rem .55rem;border:1px solid #c7d0d9;border-radius:6px" {}
                }
                div.formfoot { span {} button.primary type="submit" { (t(lang, "leads.save")) } }
            }
        }
    }
}

fn manages(me: &Session) -> bool {
    matches!(me.user.role, Role::Admin | Role::Manager)
}

/// The list to go back to after a form: a local `/leads...` path only.
fn back_to(pairs: &[(String, String)]) -> String {
    get_param(pairs, "back")
        .filter(|b| b.starts_with("/leads") && !b.contains("//") && !b.contains('\\'))
        .unwrap_or("/leads")
        .to_string()
}

fn with_ok(back: &str, ok: &str) -> String {
    let sep = if back.contains('?') { '&' } else { '?' };
    format!("{back}{sep}ok={ok}")
}

/// Re-shows the list of `back` with the refusal, or the error page for other errors.
async fn refused(st: &WebState, lang: Lang, me: &Session, back: &str, e: StoreError) -> Response {
    match Refusal::from_store(lang, &e) {
        Some(r) => {
            let q = parse_pairs(
                back.split_once('?')
                    .map(|(_, q)| q)
                    .unwrap_or("")
                    .as_bytes(),
            );
            render(st, lang, me, &q, Some(r)).await
        }
        None => store_error_page(lang, &e),
    }
}

pub async fn create(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    let f = parse_pairs(&body);
    let text = |k: &str| {
        get_param(&f, k)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let input = LeadInput {
        name: text("name").unwrap_or_default(),
        company: text("company"),
        title: text("title"),
        phone: text("phone"),
        email: text("email"),
        region: text("region"),
        industry: text("industry"),
        source: text("source"),
        campaign_id: None,
        // What a rep records is theirs; an administrator's goes to the pool until assigned.
        owner_id: (!me.visible.is_all()).then_some(me.user.id),
        notes: text("notes"),
    };
    match st.store.create_lead(input).await {
        Ok(l) => {
            let detail = format!("lead {} created (web)", l.id);
            if let Err(e) = st
                .store
                .audit(&me.actor, "create", None, Some(&detail), None)
                .await
            {
                return store_error_page(lang, &e);
            }
            Redirect::to("/leads?status=new&ok=created").into_response()
        }
        Err(e) => refused(&st, lang, &me, "/leads", e).await,
    }
}

pub async fn move_lead(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(id): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let f = parse_pairs(&body);
    let back = back_to(&f);
    let Ok(id) = id.parse::<i64>() else {
        return store_error_page(lang, &StoreError::not_found("lead", id));
    };
    if let Err(e) = st.store.visible_lead(&me.user, &me.visible, id, true).await {
        return store_error_page(lang, &e);
    }
    let change = LeadStatusChange {
        status: get_param(&f, "status").unwrap_or_default().to_string(),
        reason: get_param(&f, "reason").map(str::to_string),
    };
    match st.store.set_lead_status(id, &change).await {
        Ok(l) => {
            let detail = format!("lead {id} moved to {} (web)", l.status);
            if let Err(e) = st
                .store
                .audit(&me.actor, "update", None, Some(&detail), None)
                .await
            {
                return store_error_page(lang, &e);
            }
            Redirect::to(&with_ok(&back, "moved")).into_response()
        }
        Err(e) => refused(&st, lang, &me, &back, e).await,
    }
}

/// `POST /leads/{id}/assign` with `owner` (a user id; empty: no owner): administrators and
/// managers give a lead they see to a user in their scope; a rep takes an unowned lead.
pub async fn assign(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(id): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let f = parse_pairs(&body);
    let back = back_to(&f);
    let Ok(id) = id.parse::<i64>() else {
        return store_error_page(lang, &StoreError::not_found("lead", id));
    };
    let lead = match st
        .store
        .visible_lead(&me.user, &me.visible, id, false)
        .await
    {
        Ok(l) => l,
        Err(e) => return store_error_page(lang, &e),
    };
    let owner = match get_param(&f, "owner")
        .map(str::trim)
        .filter(|o| !o.is_empty())
    {
        None => None,
        Some(o) => match o.parse::<i64>() {
            Ok(o) => Some(o),
            Err(_) => {
                let e = StoreError::invalid("owner", format!("'{o}' is not a user"));
                return refused(&st, lang, &me, &back, e).await;
            }
        },
    };
    match patron_app::custody::assign_lead(&st.store, &me, &lead, owner, " (web)").await {
        Ok(_) => Redirect::to(&with_ok(&back, "assigned")).into_response(),
        Err(patron_app::AppError::Forbidden(_)) => error_page(
            lang,
            StatusCode::FORBIDDEN,
            lang.t("error.title"),
            t(lang, "leads.not_yours"),
        ),
        Err(patron_app::AppError::Store(e)) => refused(&st, lang, &me, &back, e).await,
    }
}

pub async fn convert(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(id): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let f = parse_pairs(&body);
    let back = back_to(&f);
    let Ok(id) = id.parse::<i64>() else {
        return store_error_page(lang, &StoreError::not_found("lead", id));
    };
    if let Err(e) = st.store.visible_lead(&me.user, &me.visible, id, true).await {
        return store_error_page(lang, &e);
    }
    let into = match get_param(&f, "into")
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        None => None,
        Some(n) => {
            // A customer number (or #id) the viewer may change; others are "does not exist".
            let allowed = patron_app::customers::resolve_reference(&st.store, &me, n, true).await;
            match allowed {
                Ok(c) => Some(c),
                Err(StoreError::NotFound { .. }) => {
                    let e = StoreError::invalid("into", format!("customer '{n}' does not exist"));
                    return refused(&st, lang, &me, &back, e).await;
                }
                Err(e) => return store_error_page(lang, &e),
            }
        }
    };
    let how = ConvertLead {
        into,
        allow_duplicate: get_param(&f, "allow_duplicate").is_some(),
    };
    match st
        .store
        .convert_lead_seen_by(id, &how, &me.actor.name, &me.visible)
        .await
    {
        Ok(done) => {
            let detail = format!(
                "lead {id} converted into {} customer {} (web)",
                if done.created_customer {
                    "new"
                } else {
                    "existing"
                },
                done.customer_number
            );
            if let Err(e) = st
                .store
                .audit(
                    &me.actor,
                    "update",
                    Some(done.customer_id),
                    Some(&detail),
                    None,
                )
                .await
            {
                return store_error_page(lang, &e);
            }
            Redirect::to(&format!(
                "{}&customer={}",
                with_ok(&back, "converted"),
                done.customer_id
            ))
            .into_response()
        }
        Err(e) => refused(&st, lang, &me, &back, e).await,
    }
}
