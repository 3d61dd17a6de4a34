//! The rep's workplace on the customer card: contact persons (add, edit, remove), the
//! "Log activity" form (any interaction kind; a promise makes a task, a referral names the
//! customer it brought), tasks about the customer (add, mark done), and the card's panels
//! over what the store keeps per customer: owner, custom fields, referrals, open invoices,
//! open tickets, opportunities, surveys, the paged orders and the paged timeline.
//!
//! Every form posts here and goes back to the card (`303`, with `?ok=...` for the notice);
//! a bad value re-renders the card with `422`, the message next to the field and in a
//! notice naming it, and the other forms and panels as they were. Each change is checked
//! against the rep's scope first (another rep's customer is "not found") and audited in
//! the same transaction as the change. Every query is keyed by the customer.

use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Extension, Router};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use maud::{html, Markup};
use patron_app::{AppError, Session};
use patron_domain::receivable::Invoice;
use patron_domain::service::{Survey, Ticket};
use patron_domain::task::{Task, TaskInput, TaskKind};
use patron_domain::{
    Contact, ContactInput, CustomValue, Customer, Interaction, InteractionInput, InteractionKind,
    Order, PurchaseRole,
};
use patron_store::{Opportunity, Page, StoreError, TaskChange};

use crate::customers::CardView;
use crate::i18n::{self, Lang};
use crate::work::{field, input, Errors, Form};
use crate::{Ctx, WebState};

/// The routes of the card's forms (merged into the web router).
pub(crate) fn routes() -> Router<WebState> {
    Router::new()
        .route("/customers/{id}/contacts", post(add_contact))
        .route("/customers/{id}/contacts/{cid}", post(edit_contact))
        .route(
            "/customers/{id}/contacts/{cid}/delete",
            post(delete_contact),
        )
        .route("/customers/{id}/interactions", post(log_activity))
        .route("/customers/{id}/tasks", post(add_task))
        .route("/customers/{id}/tasks/{tid}/done", post(task_done))
        .route("/customers/{id}/marketing-costs", post(add_marketing_cost))
}

// ---------------------------------------------------------------------------------------------
// Labels

/// Labels of the card's workplace: `(key, English, Chinese)`; [`t`] falls back to the work
/// pages' catalogue, then the main one.
const MESSAGES: &[(&str, &str, &str)] = &[
    ("cw.actions", "Start", "新建"),
    ("cw.new_order", "Order", "订单"),
    ("cw.new_opportunity", "Opportunity", "商机"),
    ("cw.new_ticket", "Ticket", "工单"),
    ("cw.new_invoice", "Invoice / payment", "发票 / 收款"),
    ("cw.opportunity_name", "Opportunity name", "商机名称"),
    ("cw.owner", "Owner", "负责人"),
    ("cw.public_pool", "public pool", "公海"),
    ("cw.at_a_glance", "Relations", "客户关系"),
    ("cw.referred_by", "Referred by", "推荐人"),
    (
        "cw.not_referred",
        "not referred by a customer",
        "非客户推荐",
    ),
    (
        "cw.other_customer",
        "a customer you do not see",
        "您无权查看的客户",
    ),
    ("cw.referred", "Referrals it made", "它推荐的客户"),
    (
        "cw.no_referrals",
        "It has not brought any customer yet.",
        "尚未推荐任何客户。",
    ),
    ("cw.custom", "Custom fields", "自定义字段"),
    ("cw.no_custom", "No custom fields.", "无自定义字段。"),
    ("cw.yes", "yes", "是"),
    ("cw.no", "no", "否"),
    // Contacts
    ("cw.contact.add", "Add a contact person", "添加联系人"),
    ("cw.contact.edit", "Edit", "编辑"),
    ("cw.contact.save", "Save contact", "保存联系人"),
    ("cw.contact.delete", "Remove", "删除"),
    ("cw.contact.name", "Name", "姓名"),
    ("cw.contact.title", "Title", "职务"),
    ("cw.contact.phone", "Phone", "电话"),
    ("cw.contact.email", "E-mail", "电子邮件"),
    ("cw.contact.is_primary", "Primary contact", "主要联系人"),
    ("cw.contact.notes", "Notes", "备注"),
    ("cw.contact.purchase_role", "Purchase role", "采购角色"),
    ("cw.contact.preferences", "Preferences", "偏好"),
    ("cw.contact.birthday", "Birthday", "生日"),
    ("cw.role.none", "(not known)", "（未知）"),
    ("cw.role.decision_maker", "Decision maker", "决策者"),
    ("cw.role.influencer", "Influencer", "影响者"),
    ("cw.role.buyer", "Buyer", "采购者"),
    ("cw.role.user", "User", "使用者"),
    ("cw.role.gatekeeper", "Gatekeeper", "把关者"),
    // Activity
    ("cw.activity", "Log activity", "记录活动"),
    ("cw.activity.kind", "Kind", "类型"),
    ("cw.activity.text", "What was said or done", "内容"),
    (
        "cw.activity.when",
        "When (empty: now)",
        "时间（留空为现在）",
    ),
    ("cw.activity.due", "Due date (promises)", "到期日（承诺）"),
    (
        "cw.activity.referred",
        "Referred customer (referrals: number or #id)",
        "被推荐客户（推荐：编号或 #ID）",
    ),
    ("cw.activity.log", "Log", "记录"),
    ("cw.kind.visit", "Visit", "拜访"),
    ("cw.kind.call", "Call", "电话"),
    ("cw.kind.email", "E-mail", "邮件"),
    ("cw.kind.meeting", "Meeting", "会议"),
    ("cw.kind.quote", "Quote", "报价"),
    ("cw.kind.promise", "Promise", "承诺"),
    ("cw.kind.complaint", "Complaint", "投诉"),
    ("cw.kind.suggestion", "Suggestion", "建议"),
    ("cw.kind.request", "Request", "需求"),
    ("cw.kind.referral", "Referral", "推荐"),
    // Tasks
    ("cw.tasks", "Tasks", "任务"),
    ("cw.no_tasks", "No open tasks.", "没有未完成的任务。"),
    ("cw.task.add", "Add task", "添加任务"),
    ("cw.task.kind", "Kind", "类型"),
    ("cw.task.due", "Due", "到期时间"),
    ("cw.task.note", "Note", "内容"),
    ("cw.task.done", "Done", "完成"),
    ("cw.task.overdue", "overdue", "已逾期"),
    ("cw.task.source", "From", "来源"),
    ("cw.tkind.call", "Call", "电话"),
    ("cw.tkind.visit", "Visit", "拜访"),
    ("cw.tkind.email", "E-mail", "邮件"),
    ("cw.tkind.todo", "To-do", "待办"),
    // Money and service
    ("cw.invoices", "Open invoices", "未结发票"),
    ("cw.no_invoices", "No open invoices.", "没有未结发票。"),
    ("cw.invoice", "Invoice", "发票"),
    ("cw.open_amount", "Open", "未付"),
    ("cw.due_on", "Due", "到期日"),
    ("cw.days_overdue", "Days overdue", "逾期天数"),
    ("cw.tickets", "Open tickets", "未结工单"),
    ("cw.no_tickets", "No open tickets.", "没有未结工单。"),
    ("cw.sla_due", "SLA due", "SLA 到期"),
    ("cw.breached", "breached", "已超时"),
    ("cw.opportunities", "Opportunities", "商机"),
    ("cw.no_opportunities", "No opportunities.", "尚无商机。"),
    ("cw.surveys", "Surveys", "满意度调查"),
    ("cw.no_surveys", "No survey answers.", "尚无调查结果。"),
    ("cw.score", "Score", "分数"),
    // Paging
    ("cw.next_orders", "Older orders", "更早的订单"),
    ("cw.first_orders", "Newest orders", "最新订单"),
    ("cw.next_timeline", "Older activities", "更早的活动"),
    ("cw.first_timeline", "Newest activities", "最新活动"),
    (
        "cw.bad_cursor",
        "That page link is no longer valid: showing the first page.",
        "该分页链接已失效：显示第一页。",
    ),
    // Outcomes
    (
        "cw.ok.contact_added",
        "Contact person added.",
        "联系人已添加。",
    ),
    (
        "cw.ok.contact_saved",
        "Contact person saved.",
        "联系人已保存。",
    ),
    (
        "cw.ok.contact_deleted",
        "Contact person removed.",
        "联系人已删除。",
    ),
    ("cw.ok.logged", "Activity logged.", "活动已记录。"),
    ("cw.ok.task_added", "Task added.", "任务已添加。"),
    (
        "cw.ok.cost_added",
        "Marketing cost recorded; the value figures charge it instead of the flat rate.",
        "营销费用已记录；价值数据将按记录扣除，不再按统一费率。",
    ),
    ("cw.mc.title", "Marketing costs", "营销费用"),
    (
        "cw.mc.none",
        "No cost recorded: the value figures charge the flat marketing rate.",
        "尚无记录：价值数据按统一营销费率扣除。",
    ),
    (
        "cw.mc.explain",
        "Recorded costs replace the flat marketing rate in this customer's margin and CLV.",
        "已记录的费用将取代统一营销费率，计入该客户的毛利和终身价值。",
    ),
    ("cw.mc.add", "Record a cost", "记录费用"),
    ("cw.mc.kind", "Kind", "类型"),
    ("cw.mc.amount", "Amount", "金额"),
    ("cw.mc.spent_on", "Date", "日期"),
    ("cw.mc.note", "Note", "备注"),
    ("cw.mc.total", "Total", "合计"),
    ("cw.mc.kind.visit", "Visit", "拜访"),
    ("cw.mc.kind.gift", "Gift", "礼品"),
    ("cw.mc.kind.event", "Event", "活动"),
    ("cw.mc.kind.campaign", "Campaign share", "营销活动分摊"),
    ("cw.mc.kind.other", "Other", "其他"),
    (
        "cw.mc.bad_amount",
        "is not an amount (e.g. 500.00)",
        "不是有效金额（例如 500.00）",
    ),
    (
        "cw.mc.bad_date",
        "is not a date (YYYY-MM-DD)",
        "不是有效日期（YYYY-MM-DD）",
    ),
    ("cw.ok.task_done", "Task done.", "任务已完成。"),
    (
        "cw.ok.survey_sent",
        "Survey queued: the customer gets it by e-mail.",
        "调查已排队：客户将通过邮件收到。",
    ),
    ("cw.not_saved", "Nothing was saved:", "未保存："),
    ("cw.required", "is required", "必填"),
    (
        "cw.bad_datetime",
        "is not a date and time (YYYY-MM-DD HH:MM)",
        "不是有效的日期时间（YYYY-MM-DD HH:MM）",
    ),
    (
        "cw.promise_due",
        "a promise needs the date it is due",
        "承诺必须填写到期日",
    ),
    (
        "cw.referral_needs",
        "a referral names the customer it brought",
        "推荐必须填写被推荐的客户",
    ),
    (
        "cw.self_referral",
        "a customer cannot refer itself",
        "客户不能推荐自己",
    ),
];

/// A label of the card's workplace in `lang` (else of the work pages, else the main one).
pub(crate) fn t(lang: Lang, key: &str) -> &'static str {
    crate::i18n::lookup(MESSAGES, lang, key).unwrap_or_else(|| crate::work::t(lang, key))
}

/// The notice key of an `?ok=` value (unknown values show nothing).
pub(crate) fn ok_key(ok: &str) -> Option<&'static str> {
    let key = format!("cw.ok.{ok}");
    MESSAGES
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(k, _, _)| *k)
}

// ---------------------------------------------------------------------------------------------
// A posted form that needs fixing

/// A form of the card that was refused: which one, what was typed, what is wrong.
pub(crate) struct Posted {
    /// `contact-new`, `contact-{id}`, `activity` or `task`.
    pub form: String,
    pub values: Form,
    pub errors: Errors,
}

impl Posted {
    fn value<'a>(&'a self, form: &str, k: &str) -> Option<&'a str> {
        (self.form == form).then(|| self.values.get(k))
    }

    fn error<'a>(&'a self, form: &str, k: &str) -> Option<&'a str> {
        if self.form == form {
            self.errors.get(k)
        } else {
            None
        }
    }
}

/// The label of a form's field (for the notice naming it).
fn field_label(lang: Lang, form: &str, k: &str) -> &'static str {
    let key = if form.starts_with("contact") {
        format!("cw.contact.{k}")
    } else if form == "task" {
        format!("cw.task.{k}")
    } else if form == "cost" {
        format!("cw.mc.{k}")
    } else {
        match k {
            "kind" | "text" | "when" | "due" | "referred" => format!("cw.activity.{k}"),
            _ => String::new(),
        }
    };
    crate::i18n::lookup(MESSAGES, lang, &key).unwrap_or("")
}

/// The notice over the card when a form was refused: each field with its message.
pub(crate) fn posted_notice(lang: Lang, p: &Posted) -> Markup {
    let fields = FORM_FIELDS
        .iter()
        .find(|(f, _)| p.form.starts_with(f))
        .map(|(_, fs)| *fs)
        .unwrap_or(&[]);
    html! {
        div.notice.error role="alert" id="invalid" {
            (t(lang, "cw.not_saved"))
            @for k in fields.iter().chain([&""]) {
                @if let Some(m) = p.errors.get(k) {
                    " " span.problem { @let l = field_label(lang, &p.form, k); @if !l.is_empty() { strong { (l) } ": " } (m) }
                }
            }
        }
    }
}

const CONTACT_FIELDS: &[&str] = &[
    "name",
    "title",
    "phone",
    "email",
    "is_primary",
    "notes",
    "purchase_role",
    "preferences",
    "birthday",
];
const ACTIVITY_FIELDS: &[&str] = &["kind", "text", "when", "due", "referred"];
const TASK_FIELDS: &[&str] = &["kind", "due", "note"];
const COST_FIELDS: &[&str] = &["kind", "amount", "spent_on", "note"];
const FORM_FIELDS: &[(&str, &[&str])] = &[
    ("cost", COST_FIELDS),
    ("contact", CONTACT_FIELDS),
    ("activity", ACTIVITY_FIELDS),
    ("task", TASK_FIELDS),
];

// ---------------------------------------------------------------------------------------------
// Handlers

fn parse_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

fn not_found(lang: Lang) -> Response {
    crate::error_page(
        lang,
        StatusCode::NOT_FOUND,
        lang.t("error.not_found"),
        lang.t("error.no_customer"),
    )
}

/// The customer of the path, when the caller may change it.
async fn writable(st: &WebState, lang: Lang, me: &Session, raw: &str) -> Result<i64, Response> {
    let id = parse_id(raw).ok_or_else(|| not_found(lang))?;
    me.guard(&st.store, id, true)
        .await
        .map_err(|e| crate::app_error_page(lang, &e))?;
    Ok(id)
}

/// Where a form was posted: the card of customer `id` as seen by `me`.
struct At<'a> {
    st: &'a WebState,
    lang: Lang,
    me: &'a Session,
    id: i64,
}

impl<'a> At<'a> {
    /// The card of the path's customer, when the caller may change it.
    async fn writable(
        st: &'a WebState,
        lang: Lang,
        me: &'a Session,
        raw: &str,
    ) -> Result<At<'a>, Response> {
        let id = writable(st, lang, me, raw).await?;
        Ok(At { st, lang, me, id })
    }

    /// Re-renders the card with the refused form (422).
    async fn refused(&self, form: String, values: Form, errors: Errors) -> Response {
        crate::customers::render_card(
            self.st,
            self.lang,
            self.me,
            self.id,
            StatusCode::UNPROCESSABLE_ENTITY,
            CardView {
                posted: Some(Posted {
                    form,
                    values,
                    errors,
                }),
                ..CardView::default()
            },
        )
        .await
    }

    /// A use case's refusal: bad input re-shows the form, the rest is an error page.
    async fn failed(&self, form: String, values: Form, e: AppError, fields: &[&str]) -> Response {
        if let AppError::Store(se) = &e {
            if let Some(errors) = Errors::from_store(self.lang, se, fields) {
                return self.refused(form, values, errors).await;
            }
        }
        crate::app_error_page(self.lang, &e)
    }
}

/// The form's required `kind`: one of `T`'s values, else a message on the field.
fn required_kind<T: std::str::FromStr>(lang: Lang, form: &Form, errors: &mut Errors) -> Option<T> {
    match form.get("kind") {
        "" => {
            errors.add("kind", t(lang, "cw.required"));
            None
        }
        v => match v.parse::<T>() {
            Ok(k) => Some(k),
            Err(_) => {
                errors.add("kind", t(lang, "work.bad_choice"));
                None
            }
        },
    }
}

fn back(id: i64, ok: &str, anchor: &str) -> Response {
    Redirect::to(&format!("/customers/{id}?ok={ok}#{anchor}")).into_response()
}

/// An optional date and time as typed (`YYYY-MM-DDTHH:MM`, `YYYY-MM-DD HH:MM`, or a date,
/// taken at 09:00), in UTC like every time the card shows.
fn parse_when(v: &str) -> Result<Option<DateTime<Utc>>, ()> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let at = [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
    .or_else(|| {
        v.parse::<NaiveDate>()
            .ok()
            .and_then(|d| NaiveTime::from_hms_opt(9, 0, 0).map(|t| d.and_time(t)))
    });
    match at {
        Some(at) if (1900..=2999).contains(&chrono::Datelike::year(&at)) => Ok(Some(at.and_utc())),
        _ => Err(()),
    }
}

fn when(
    lang: Lang,
    form: &Form,
    k: &str,
    required: bool,
    errors: &mut Errors,
) -> Option<DateTime<Utc>> {
    match parse_when(form.get(k)) {
        Ok(None) => {
            if required {
                errors.add(k, t(lang, "cw.required"));
            }
            None
        }
        Ok(Some(at)) => Some(at),
        Err(()) => {
            errors.add(k, t(lang, "cw.bad_datetime"));
            None
        }
    }
}

/// The contact form's values as a contact; errors for values of the wrong type.
fn contact_input(lang: Lang, form: &Form, errors: &mut Errors) -> ContactInput {
    let opt = |k: &str| Some(form.get(k).to_string()).filter(|s| !s.is_empty());
    if form.get("name").is_empty() {
        errors.add("name", t(lang, "cw.required"));
    }
    let purchase_role = match form.get("purchase_role") {
        "" => None,
        v => match v.parse::<PurchaseRole>() {
            Ok(r) => Some(r),
            Err(_) => {
                errors.add("purchase_role", t(lang, "work.bad_choice"));
                None
            }
        },
    };
    ContactInput {
        name: form.get("name").to_string(),
        title: opt("title"),
        phone: opt("phone"),
        email: opt("email"),
        is_primary: !form.get("is_primary").is_empty(),
        notes: opt("notes"),
        purchase_role,
        preferences: opt("preferences"),
        birthday: form.date(lang, "birthday", errors),
    }
}

/// `POST /customers/{id}/contacts`: adds a contact person.
async fn add_contact(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let at = match At::writable(&st, lang, &me, &raw).await {
        Ok(at) => at,
        Err(r) => return r,
    };
    let id = at.id;
    let form = Form::parse(&body);
    let mut errors = Errors::default();
    let input = contact_input(lang, &form, &mut errors);
    if !errors.is_empty() {
        return at.refused("contact-new".into(), form, errors).await;
    }
    match patron_app::customers::add_contact(&st.store, &me, id, input, " (web)").await {
        Ok(_) => back(id, "contact_added", "contacts"),
        Err(e) => {
            at.failed("contact-new".into(), form, e, CONTACT_FIELDS)
                .await
        }
    }
}

/// `POST /customers/{id}/contacts/{cid}`: saves a contact person.
async fn edit_contact(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path((raw, raw_cid)): Path<(String, String)>,
    RawForm(body): RawForm,
) -> Response {
    let at = match At::writable(&st, lang, &me, &raw).await {
        Ok(at) => at,
        Err(r) => return r,
    };
    let id = at.id;
    let Some(cid) = parse_id(&raw_cid) else {
        return not_found(lang);
    };
    let form = Form::parse(&body);
    let key = format!("contact-{cid}");
    let mut errors = Errors::default();
    let input = contact_input(lang, &form, &mut errors);
    if !errors.is_empty() {
        return at.refused(key, form, errors).await;
    }
    match patron_app::customers::change_contact(&st.store, &me, id, cid, input, " (web)").await {
        Ok(_) => back(id, "contact_saved", "contacts"),
        Err(AppError::Store(e @ StoreError::NotFound { .. })) => crate::store_error_page(lang, &e),
        Err(e) => at.failed(key, form, e, CONTACT_FIELDS).await,
    }
}

/// `POST /customers/{id}/contacts/{cid}/delete`: removes a contact person.
async fn delete_contact(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path((raw, raw_cid)): Path<(String, String)>,
) -> Response {
    let id = match writable(&st, lang, &me, &raw).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let Some(cid) = parse_id(&raw_cid) else {
        return not_found(lang);
    };
    let done = patron_app::customers::remove_contact(&st.store, &me, id, cid, " (web)").await;
    match done {
        Ok(()) => back(id, "contact_deleted", "contacts"),
        Err(e) => crate::app_error_page(lang, &e),
    }
}

/// `POST /customers/{id}/interactions`: logs an activity (a promise also makes a task; a
/// referral sets the referred customer's `referred_by`).
async fn log_activity(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let at = match At::writable(&st, lang, &me, &raw).await {
        Ok(at) => at,
        Err(r) => return r,
    };
    let id = at.id;
    let form = Form::parse(&body);
    let mut errors = Errors::default();
    let kind = required_kind::<InteractionKind>(lang, &form, &mut errors);
    if form.get("text").is_empty() {
        errors.add("text", t(lang, "cw.required"));
    }
    let occurred_at = when(lang, &form, "when", false, &mut errors);
    let due = when(lang, &form, "due", false, &mut errors);
    if kind == Some(InteractionKind::Promise) && due.is_none() && errors.get("due").is_none() {
        errors.add("due", t(lang, "cw.promise_due"));
    }
    let mut referred = None;
    if kind == Some(InteractionKind::Referral) {
        let r = form.get("referred");
        if r.is_empty() {
            errors.add("referred", t(lang, "cw.referral_needs"));
        } else {
            match patron_app::customers::resolve_reference(&st.store, &me, r, false).await {
                Ok(rid) if rid == id => errors.add("referred", t(lang, "cw.self_referral")),
                Ok(rid) => referred = Some(rid),
                Err(StoreError::NotFound { .. }) => {
                    errors.add("referred", t(lang, "work.no_customer"))
                }
                Err(e) => return crate::store_error_page(lang, &e),
            }
        }
    }
    let Some(kind) = kind.filter(|_| errors.is_empty()) else {
        return at.refused("activity".into(), form, errors).await;
    };
    let text = form.get("text").to_string();
    let input = InteractionInput {
        kind,
        occurred_at,
        by: None,
        contact_id: None,
        text,
        external_id: None,
    };
    let due = if kind == InteractionKind::Promise {
        due
    } else {
        None
    };
    match patron_app::tasks::log_interaction(&st.store, &me, id, input, due, referred).await {
        Ok(_) => back(id, "logged", "activity"),
        Err(e) => at.failed("activity".into(), form, e, ACTIVITY_FIELDS).await,
    }
}

/// `POST /customers/{id}/tasks`: adds a task about the customer for the caller.
async fn add_task(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let at = match At::writable(&st, lang, &me, &raw).await {
        Ok(at) => at,
        Err(r) => return r,
    };
    let id = at.id;
    let form = Form::parse(&body);
    let mut errors = Errors::default();
    let kind = required_kind::<TaskKind>(lang, &form, &mut errors);
    let due = when(lang, &form, "due", true, &mut errors);
    if form.get("note").is_empty() {
        errors.add("note", t(lang, "cw.required"));
    }
    let (Some(kind), Some(due_at), true) = (kind, due, errors.is_empty()) else {
        return at.refused("task".into(), form, errors).await;
    };
    let input = TaskInput {
        customer_id: Some(id),
        assignee_id: None,
        kind,
        due_at,
        note: form.get("note").to_string(),
    };
    match patron_app::tasks::add_task(&st.store, &me, input, "manual").await {
        Ok(_) => back(id, "task_added", "tasks"),
        Err(e) => at.failed("task".into(), form, e, TASK_FIELDS).await,
    }
}

/// `POST /customers/{id}/marketing-costs`: records a visit, gift, event or other cost.
async fn add_marketing_cost(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let at = match At::writable(&st, lang, &me, &raw).await {
        Ok(at) => at,
        Err(r) => return r,
    };
    let id = at.id;
    let form = Form::parse(&body);
    let mut errors = Errors::default();
    let kind = form.get("kind").to_string();
    if kind.is_empty() {
        errors.add("kind", t(lang, "cw.required"));
    }
    let amount = match form.get("amount").trim() {
        "" => {
            errors.add("amount", t(lang, "cw.required"));
            None
        }
        v => match v.parse::<patron_domain::Money>() {
            Ok(m) => Some(m),
            Err(_) => {
                errors.add("amount", t(lang, "cw.mc.bad_amount"));
                None
            }
        },
    };
    let spent_on = match form.get("spent_on").trim() {
        "" => Some(patron_domain::order::today()),
        v => match v.parse::<NaiveDate>() {
            Ok(d) => Some(d),
            Err(_) => {
                errors.add("spent_on", t(lang, "cw.mc.bad_date"));
                None
            }
        },
    };
    let (Some(amount), Some(spent_on), true) = (amount, spent_on, errors.is_empty()) else {
        return at.refused("cost".into(), form, errors).await;
    };
    let note = Some(form.get("note").to_string()).filter(|n| !n.trim().is_empty());
    let input = patron_store::MarketingCostInput {
        spent_on,
        kind,
        amount,
        note,
    };
    match patron_app::marketing::record_cost(&st.store, &me, id, input).await {
        Ok(_) => back(id, "cost_added", "marketing-costs"),
        Err(e) => at.failed("cost".into(), form, e, COST_FIELDS).await,
    }
}

/// `POST /customers/{id}/tasks/{tid}/done`: marks a task about the customer done.
async fn task_done(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path((raw, raw_tid)): Path<(String, String)>,
) -> Response {
    let id = match writable(&st, lang, &me, &raw).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let Some(tid) = parse_id(&raw_tid) else {
        return not_found(lang);
    };
    let task = match patron_app::tasks::task(&st.store, &me, tid).await {
        Ok(task) if task.customer_id == Some(id) => task,
        Ok(_) => return crate::store_error_page(lang, &StoreError::not_found("task", tid)),
        Err(e) => return crate::app_error_page(lang, &e),
    };
    match patron_app::tasks::change_task(&st.store, &me, task.id, TaskChange::Done).await {
        Ok(_) => back(id, "task_done", "tasks"),
        Err(e) => crate::app_error_page(lang, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// What the card loads besides the record

/// The card's panels of the workplace, all read by customer id.
pub(crate) struct Extras {
    pub owner: Option<String>,
    /// The referrer: id, and name when the caller sees it.
    pub referrer: Option<(i64, Option<String>)>,
    pub tasks: Vec<Task>,
    pub invoices: Vec<Invoice>,
    pub tickets: Vec<Ticket>,
    pub opportunities: Vec<Opportunity>,
    pub surveys: Vec<Survey>,
    /// The customers it brought: id, and name when the caller sees them.
    pub referrals: Vec<(i64, Option<String>)>,
    /// Recorded relationship-marketing costs, newest first.
    pub marketing_costs: Vec<patron_store::MarketingCostRecord>,
}

/// Rows shown at most in the card's small lists.
const LIST: usize = 20;

pub(crate) async fn load(st: &WebState, me: &Session, c: &Customer) -> Result<Extras, AppError> {
    let store = &st.store;
    let id = c.id;
    let owner = match c.data.owner_id {
        None => None,
        Some(o) => Some(match store.user(o).await {
            Ok(u) => u
                .display_name
                .filter(|d| !d.trim().is_empty())
                .unwrap_or(u.username),
            Err(StoreError::NotFound { .. }) => format!("#{o}"),
            Err(e) => return Err(e.into()),
        }),
    };
    let referrer = match c.data.referred_by {
        None => None,
        Some(r) => {
            let seen = me.readable(store, &[r]).await?.contains(&r);
            let name = if seen {
                store
                    .customer_labels(&[r])
                    .await?
                    .into_iter()
                    .next()
                    .map(|(_, (name, _))| name)
            } else {
                None
            };
            Some((r, name))
        }
    };
    let tasks = patron_app::tasks::customer_tasks(store, me, id, Some(true)).await?;
    let invoices: Vec<Invoice> = store
        .invoices(id)
        .await?
        .into_iter()
        .filter(|i| i.open().cents() > 0)
        .collect();
    let tickets: Vec<Ticket> = store
        .customer_tickets(id, Utc::now())
        .await?
        .into_iter()
        .filter(|tk| tk.status == "open")
        .collect();
    let opportunities = store.customer_opportunities(id).await?;
    let surveys = store.surveys(id).await?;
    let brought = store.referred_customers(id, LIST as u32).await?;
    let seen = me
        .readable(store, &brought.iter().map(|(r, _)| *r).collect::<Vec<_>>())
        .await?;
    let referrals = brought
        .into_iter()
        .map(|(r, name)| (r, seen.contains(&r).then_some(name)))
        .collect();
    let marketing_costs = store.marketing_costs_of(id).await?;
    Ok(Extras {
        owner,
        referrer,
        tasks,
        invoices,
        tickets,
        opportunities,
        surveys,
        referrals,
        marketing_costs,
    })
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// The buttons that start the rep's other work about this customer.
pub(crate) fn actions(lang: Lang, id: i64) -> Markup {
    html! {
        nav.cardactions id="card-actions" aria-label=(t(lang, "cw.actions")) {
            a.button.primary #order-link href=(format!("/customers/{id}/orders/new")) { "+ " (t(lang, "cw.new_order")) }
            a.button #ticket-link href=(format!("/work/service?customer=%23{id}#open-ticket")) { "+ " (t(lang, "cw.new_ticket")) }
            a.button #invoice-link href=(format!("/work/receivables?customer=%23{id}")) { "+ " (t(lang, "cw.new_invoice")) }
            // The pipeline page fills its form only from a posted one: this form lands there
            // with the customer typed in (and creates the opportunity when complete).
            form.rowform method="post" action="/work/pipeline" id="opportunity-start" { (crate::auth::csrf_field())
                input type="hidden" name="customer" value=(format!("#{id}"));
                input type="text" name="name" placeholder=(t(lang, "cw.opportunity_name")) aria-label=(t(lang, "cw.opportunity_name"));
                button type="submit" { "+ " (t(lang, "cw.new_opportunity")) }
            }
        }
    }
}

/// Owner, referrer, referrals made, custom fields.
pub(crate) fn relations(lang: Lang, c: &Customer, x: &Extras) -> Markup {
    let custom = &c.data.custom_fields;
    html! {
        section.panel id="relations" {
            h2 { (t(lang, "cw.at_a_glance")) }
            dl.figures.left {
                dt { (t(lang, "cw.owner")) }
                dd #owner { @match &x.owner { Some(o) => (o), None => em { (t(lang, "cw.public_pool")) } } }
                dt { (t(lang, "cw.referred_by")) }
                dd #referred-by {
                    @match &x.referrer {
                        None => span.muted { (t(lang, "cw.not_referred")) },
                        Some((r, Some(name))) => a href=(format!("/customers/{r}")) { (name) },
                        Some((_, None)) => span.muted { (t(lang, "cw.other_customer")) },
                    }
                }
            }
            h3 { (t(lang, "cw.referred")) }
            @if x.referrals.is_empty() {
                p.empty { (t(lang, "cw.no_referrals")) }
            } @else {
                ul.plain id="referrals" {
                    @for (r, name) in &x.referrals {
                        li {
                            @match name {
                                Some(n) => a href=(format!("/customers/{r}")) { (n) },
                                None => span.muted { (t(lang, "cw.other_customer")) },
                            }
                        }
                    }
                }
            }
            h3 { (t(lang, "cw.custom")) }
            @if custom.is_empty() {
                p.empty { (t(lang, "cw.no_custom")) }
            } @else {
                dl.figures.left id="custom-fields" {
                    @for (k, v) in custom {
                        dt { (k) }
                        dd { (custom_value(lang, v)) }
                    }
                }
            }
        }
    }
}

fn custom_value(lang: Lang, v: &CustomValue) -> String {
    match v {
        CustomValue::Bool(b) => t(lang, if *b { "cw.yes" } else { "cw.no" }).to_string(),
        CustomValue::Number(n) => {
            if n.fract() == 0.0 && n.abs() < 1e15 {
                format!("{n:.0}")
            } else {
                n.to_string()
            }
        }
        CustomValue::Date(d) => i18n::date(lang, *d),
        CustomValue::Text(s) => s.clone(),
    }
}

fn role_label(lang: Lang, r: Option<PurchaseRole>) -> &'static str {
    match r {
        Some(r) => t(lang, &format!("cw.role.{}", r.as_str())),
        None => t(lang, "cw.role.none"),
    }
}

/// The contact persons, each with its edit form and remove button, and the form to add one.
pub(crate) fn contacts(lang: Lang, id: i64, list: &[Contact], posted: Option<&Posted>) -> Markup {
    let new_open = posted.is_some_and(|p| p.form == "contact-new");
    html! {
        section.panel id="contacts" {
            h2 { (lang.t("card.contacts")) }
            @if list.is_empty() {
                p.empty { (lang.t("card.no_contacts")) }
            } @else {
                ul.contacts {
                    @for c in list {
                        @let key = format!("contact-{}", c.id);
                        li id=(key) {
                            strong { (c.data.name) }
                            @if c.data.is_primary { " " span.badge { (lang.t("card.primary")) } }
                            @if let Some(r) = c.data.purchase_role { " " span.badge.role { (role_label(lang, Some(r))) } }
                            @if let Some(ti) = &c.data.title { br; span.muted { (ti) } }
                            @if let Some(p) = &c.data.phone { br; a href=(format!("tel:{p}")) { (p) } }
                            @if let Some(e) = &c.data.email { br; a href=(format!("mailto:{e}")) { (e) } }
                            @if let Some(b) = c.data.birthday { br; small { (t(lang, "cw.contact.birthday")) ": " (i18n::date(lang, b)) } }
                            @if let Some(p) = &c.data.preferences { br; small { (t(lang, "cw.contact.preferences")) ": " (p) } }
                            @if let Some(n) = &c.data.notes { br; small.muted { (n) } }
                            details.cardform open[posted.is_some_and(|p| p.form == key)] {
                                summary { (t(lang, "cw.contact.edit")) }
                                (contact_form(lang, &key, &format!("/customers/{id}/contacts/{}", c.id), Some(&c.data), posted))
                                form.rowform method="post" action=(format!("/customers/{id}/contacts/{}/delete", c.id)) { (crate::auth::csrf_field())
                                    button.danger type="submit" { (t(lang, "cw.contact.delete")) }
                                }
                            }
                        }
                    }
                }
            }
            details.cardform open[new_open] {
                summary { (t(lang, "cw.contact.add")) }
                (contact_form(lang, "contact-new", &format!("/customers/{id}/contacts"), None, posted))
            }
        }
    }
}

fn contact_form(
    lang: Lang,
    key: &str,
    action: &str,
    c: Option<&ContactInput>,
    posted: Option<&Posted>,
) -> Markup {
    let stored = |k: &str| -> String {
        let Some(c) = c else { return String::new() };
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        match k {
            "name" => c.name.clone(),
            "title" => s(&c.title),
            "phone" => s(&c.phone),
            "email" => s(&c.email),
            "notes" => s(&c.notes),
            "preferences" => s(&c.preferences),
            "purchase_role" => c
                .purchase_role
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            "birthday" => c.birthday.map(|b| b.to_string()).unwrap_or_default(),
            "is_primary" => {
                if c.is_primary {
                    "on".into()
                } else {
                    String::new()
                }
            }
            _ => String::new(),
        }
    };
    let v = |k: &str| -> String {
        match posted.and_then(|p| p.value(key, k)) {
            Some(typed) => typed.to_string(),
            None if posted.is_some_and(|p| p.form == key) => String::new(),
            None => stored(k),
        }
    };
    let err = |k: &str| posted.and_then(|p| p.error(key, k));
    let id = |k: &str| format!("{key}-{k}");
    let text = |k: &str, kind: &str| {
        field(
            t(lang, &format!("cw.contact.{k}")),
            &id(k),
            err(k),
            input(&id(k), k, kind, &v(k), err(k).is_some()),
        )
    };
    let role = v("purchase_role");
    html! {
        form method="post" action=(action) novalidate { (crate::auth::csrf_field())
            div.formgrid {
                (text("name", "text"))
                (text("title", "text"))
                (text("phone", "tel"))
                (text("email", "email"))
                (field(t(lang, "cw.contact.purchase_role"), &id("purchase_role"), err("purchase_role"), html! {
                    select id=(id("purchase_role")) name="purchase_role" {
                        option value="" { (role_label(lang, None)) }
                        @for r in PurchaseRole::ALL {
                            option value=(r.as_str()) selected[role == r.as_str()] { (role_label(lang, Some(*r))) }
                        }
                    }
                }))
                (text("birthday", "date"))
                (field(t(lang, "cw.contact.preferences"), &id("preferences"), err("preferences"), html! {
                    textarea id=(id("preferences")) name="preferences" rows="2" { (v("preferences")) }
                }))
                (field(t(lang, "cw.contact.notes"), &id("notes"), err("notes"), html! {
                    textarea id=(id("notes")) name="notes" rows="2" { (v("notes")) }
                }))
                div.field.check {
                    label { input type="checkbox" name="is_primary" checked[!v("is_primary").is_empty()]; " " (t(lang, "cw.contact.is_primary")) }
                }
            }
            div.formfoot { span {} button.primary type="submit" { (t(lang, "cw.contact.save")) } }
        }
    }
}

/// The "Log activity" form.
pub(crate) fn activity(lang: Lang, id: i64, posted: Option<&Posted>) -> Markup {
    const KEY: &str = "activity";
    let v = |k: &str| {
        posted
            .and_then(|p| p.value(KEY, k))
            .unwrap_or("")
            .to_string()
    };
    let err = |k: &str| posted.and_then(|p| p.error(KEY, k));
    let kind = v("kind");
    html! {
        section.panel id="activity" {
            h2 { (t(lang, "cw.activity")) }
            form method="post" action=(format!("/customers/{id}/interactions")) id="activity-form" novalidate { (crate::auth::csrf_field())
                div.formgrid {
                    (field(t(lang, "cw.activity.kind"), "a-kind", err("kind"), html! {
                        select id="a-kind" name="kind" {
                            @for k in InteractionKind::ALL {
                                option value=(k.as_str()) selected[kind == k.as_str()] { (t(lang, &format!("cw.kind.{}", k.as_str()))) }
                            }
                        }
                    }))
                    (field(t(lang, "cw.activity.when"), "a-when", err("when"), input("a-when", "when", "datetime-local", &v("when"), err("when").is_some())))
                    div class=(if err("text").is_some() { "field wide has-error" } else { "field wide" }) {
                        label for="a-text" { (t(lang, "cw.activity.text")) }
                        textarea id="a-text" name="text" rows="3" aria-invalid=[err("text").map(|_| "true")] { (v("text")) }
                        @if let Some(m) = err("text") { p.field-error id="err-a-text" { (m) } }
                    }
                    (field(t(lang, "cw.activity.due"), "a-due", err("due"), input("a-due", "due", "datetime-local", &v("due"), err("due").is_some())))
                    (field(t(lang, "cw.activity.referred"), "a-referred", err("referred"), input("a-referred", "referred", "text", &v("referred"), err("referred").is_some())))
                }
                div.formfoot { span {} button.primary type="submit" { (t(lang, "cw.activity.log")) } }
            }
        }
    }
}

/// The open tasks about the customer, each with "Done", and the form to add one.
pub(crate) fn tasks(lang: Lang, id: i64, list: &[Task], posted: Option<&Posted>) -> Markup {
    const KEY: &str = "task";
    let v = |k: &str| {
        posted
            .and_then(|p| p.value(KEY, k))
            .unwrap_or("")
            .to_string()
    };
    let err = |k: &str| posted.and_then(|p| p.error(KEY, k));
    let kind = v("kind");
    let now = Utc::now();
    html! {
        section.panel id="tasks" {
            h2 { (t(lang, "cw.tasks")) }
            @if list.is_empty() {
                p.empty { (t(lang, "cw.no_tasks")) }
            } @else {
                ul.tasklist {
                    @for task in list.iter().take(LIST) {
                        li id=(format!("task-{}", task.id)) {
                            div {
                                span.badge { (t(lang, &format!("cw.tkind.{}", task.kind.as_str()))) }
                                " " span class=(if task.due_at < now { "due overdue" } else { "due" }) {
                                    (i18n::datetime(lang, task.due_at))
                                    @if task.due_at < now { " · " (t(lang, "cw.task.overdue")) }
                                }
                                p.note { (task.note) }
                            }
                            form.rowform method="post" action=(format!("/customers/{id}/tasks/{}/done", task.id)) { (crate::auth::csrf_field())
                                button type="submit" { "✓ " (t(lang, "cw.task.done")) }
                            }
                        }
                    }
                }
            }
            details.cardform open[posted.is_some_and(|p| p.form == KEY)] {
                summary { (t(lang, "cw.task.add")) }
                form method="post" action=(format!("/customers/{id}/tasks")) id="task-form" novalidate { (crate::auth::csrf_field())
                    div.formgrid {
                        (field(t(lang, "cw.task.kind"), "tk-kind", err("kind"), html! {
                            select id="tk-kind" name="kind" {
                                @for k in TaskKind::ALL {
                                    option value=(k.as_str()) selected[kind == k.as_str()] { (t(lang, &format!("cw.tkind.{}", k.as_str()))) }
                                }
                            }
                        }))
                        (field(t(lang, "cw.task.due"), "tk-due", err("due"), input("tk-due", "due", "datetime-local", &v("due"), err("due").is_some())))
                        (field(t(lang, "cw.task.note"), "tk-note", err("note"), input("tk-note", "note", "text", &v("note"), err("note").is_some())))
                    }
                    div.formfoot { span {} button.primary type="submit" { (t(lang, "cw.task.add")) } }
                }
            }
        }
    }
}

/// Open invoices with the days overdue (of the earliest unpaid instalment, or the invoice).
pub(crate) fn invoices(lang: Lang, list: &[Invoice]) -> Markup {
    let today = Utc::now().date_naive();
    html! {
        section.panel.flush id="invoices" {
            h2 { (t(lang, "cw.invoices")) }
            @if list.is_empty() {
                p.empty { (t(lang, "cw.no_invoices")) }
            } @else {
                table.data.compact {
                    thead { tr {
                        th { (t(lang, "cw.invoice")) } th { (t(lang, "cw.due_on")) }
                        th.num { (t(lang, "cw.open_amount")) } th.num { (t(lang, "cw.days_overdue")) }
                    } }
                    tbody {
                        @for i in list.iter().take(LIST) {
                            @let due = i.instalments.iter().find(|p| p.paid.cents() < p.amount.cents()).map(|p| p.due_on).unwrap_or(i.due_on);
                            @let late = (today - due).num_days();
                            tr {
                                td.mono { (i.number) }
                                td.nowrap { (i18n::date(lang, due)) }
                                td.num { (i18n::money_cents(lang, i.open().cents())) }
                                td.num { @if late > 0 { span.badge.risk { (late) } } @else { "–" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Open tickets with their SLA due time and a badge when breached.
pub(crate) fn tickets(lang: Lang, list: &[Ticket]) -> Markup {
    html! {
        section.panel.flush id="tickets" {
            h2 { (t(lang, "cw.tickets")) }
            @if list.is_empty() {
                p.empty { (t(lang, "cw.no_tickets")) }
            } @else {
                table.data.compact {
                    thead { tr {
                        th { "#" } th { (t(lang, "svc.subject")) } th { (t(lang, "svc.priority")) } th { (t(lang, "cw.sla_due")) }
                    } }
                    tbody {
                        @for tk in list.iter().take(LIST) {
                            tr {
                                td.mono { a href=(format!("/work/service?customer=%23{}#t{}", tk.customer_id, tk.id)) { "#" (tk.id) } }
                                td { (tk.subject) }
                                td { (t(lang, &format!("svc.priority.{}", tk.priority.as_str()))) }
                                td.nowrap {
                                    (i18n::datetime(lang, tk.due_at))
                                    @if tk.breached { " " span.badge.risk.breached { (t(lang, "cw.breached")) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(crate) fn opportunities(lang: Lang, list: &[Opportunity]) -> Markup {
    html! {
        section.panel.flush id="opportunities" {
            h2 { (t(lang, "cw.opportunities")) }
            @if list.is_empty() {
                p.empty { (t(lang, "cw.no_opportunities")) }
            } @else {
                table.data.compact {
                    thead { tr {
                        th { (t(lang, "pl.name")) } th { (t(lang, "pl.stage")) }
                        th.num { (t(lang, "work.amount")) } th { (t(lang, "pl.close")) }
                    } }
                    tbody {
                        @for o in list.iter().take(LIST) {
                            tr {
                                td { (o.name) }
                                td { (t(lang, &format!("pl.stage.{}", o.stage))) }
                                td.num { (i18n::money_cents(lang, o.amount.cents())) }
                                td.nowrap { (i18n::date(lang, o.expected_close)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(crate) fn surveys(lang: Lang, id: i64, list: &[Survey]) -> Markup {
    html! {
        section.panel.flush id="surveys" {
            h2 { (t(lang, "cw.surveys")) }
            (crate::survey_link::send_form(lang, id))
            @if list.is_empty() {
                p.empty { (t(lang, "cw.no_surveys")) }
            } @else {
                table.data.compact {
                    thead { tr { th { (t(lang, "work.date")) } th { (t(lang, "svc.survey_kind")) } th.num { (t(lang, "cw.score")) } th { (t(lang, "svc.comment")) } } }
                    tbody {
                        @for s in list.iter().take(LIST) {
                            tr {
                                td.nowrap { (i18n::date(lang, s.answered_at.date_naive())) }
                                td { (s.kind.as_str().to_uppercase()) }
                                td.num { (s.score) }
                                td { (s.comment.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The recorded marketing costs (with their total) and the form that records one.
pub(crate) fn marketing_costs(
    lang: Lang,
    id: i64,
    list: &[patron_store::MarketingCostRecord],
    posted: Option<&Posted>,
) -> Markup {
    const KEY: &str = "cost";
    let v = |k: &str| {
        posted
            .and_then(|p| p.value(KEY, k))
            .unwrap_or("")
            .to_string()
    };
    let err = |k: &str| posted.and_then(|p| p.error(KEY, k));
    let kind = v("kind");
    let total: i64 = list.iter().map(|r| r.amount.0).sum();
    html! {
        section.panel.flush id="marketing-costs" {
            h2 { (t(lang, "cw.mc.title")) }
            @if list.is_empty() {
                p.empty { (t(lang, "cw.mc.none")) }
            } @else {
                p.sub { (t(lang, "cw.mc.explain")) }
                div.tablewrap {
                    table.data.compact {
                        thead { tr { th { (t(lang, "cw.mc.spent_on")) } th { (t(lang, "cw.mc.kind")) } th.num { (t(lang, "cw.mc.amount")) } th { (t(lang, "cw.mc.note")) } } }
                        tbody {
                            @for r in list.iter().take(LIST) {
                                tr {
                                    td.nowrap { (i18n::date(lang, r.spent_on)) }
                                    td { (t(lang, &format!("cw.mc.kind.{}", r.kind))) }
                                    td.num { (i18n::money_cents(lang, r.amount.0)) }
                                    td { (r.note.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                        tfoot { tr { td { (t(lang, "cw.mc.total")) } td {} td.num id="marketing-total" { (i18n::money_cents(lang, total)) } td {} } }
                    }
                }
            }
            details.cardform open[posted.is_some_and(|p| p.form == KEY)] {
                summary { (t(lang, "cw.mc.add")) }
                form method="post" action=(format!("/customers/{id}/marketing-costs")) id="cost-form" novalidate { (crate::auth::csrf_field())
                    div.formgrid {
                        (field(t(lang, "cw.mc.kind"), "mc-kind", err("kind"), html! {
                            select id="mc-kind" name="kind" {
                                @for k in ["visit", "gift", "event", "other"] {
                                    option value=(k) selected[kind == k] { (t(lang, &format!("cw.mc.kind.{k}"))) }
                                }
                            }
                        }))
                        (field(t(lang, "cw.mc.amount"), "mc-amount", err("amount"), input("mc-amount", "amount", "text", &v("amount"), err("amount").is_some())))
                        (field(t(lang, "cw.mc.spent_on"), "mc-date", err("spent_on"), input("mc-date", "spent_on", "date", &v("spent_on"), err("spent_on").is_some())))
                        (field(t(lang, "cw.mc.note"), "mc-note", err("note"), input("mc-note", "note", "text", &v("note"), err("note").is_some())))
                    }
                    div.formfoot { span {} button.primary type="submit" { (t(lang, "cw.mc.add")) } }
                }
            }
        }
    }
}

/// A card link with one cursor (`orders_after` or `timeline_after`).
fn card_link(id: i64, key: &str, cursor: Option<&str>, anchor: &str) -> String {
    match cursor {
        Some(c) => {
            let q = form_urlencoded::Serializer::new(String::new())
                .append_pair(key, c)
                .finish();
            format!("/customers/{id}?{q}#{anchor}")
        }
        None => format!("/customers/{id}#{anchor}"),
    }
}

/// One page of orders (20), every order ref shown, with the link to the next page.
pub(crate) fn orders(lang: Lang, id: i64, page: &Page<Order>, after: Option<&str>) -> Markup {
    html! {
        section.panel.flush id="orders" {
            h2 { (lang.t("card.orders")) }
            @if page.items.is_empty() {
                p.empty { (lang.t("card.no_orders")) }
            } @else {
                table.data {
                    thead { tr {
                        th { (lang.t("card.date")) }
                        th { (lang.t("card.order_ref")) }
                        th { (lang.t("card.category")) }
                        th.num { (lang.t("card.lines")) }
                        th.num { (lang.t("card.amount")) }
                        th.num { (lang.t("card.cost")) }
                        th.num { (lang.t("card.margin")) }
                    } }
                    tbody {
                        @for o in &page.items {
                            tr {
                                td.nowrap { (i18n::date(lang, o.ordered_on)) }
                                td.mono { (o.order_ref) }
                                td { (o.lines.iter().filter_map(|l| l.category.as_deref()).collect::<Vec<_>>().join(", ")) }
                                td.num { (o.lines.len()) }
                                td.num { (i18n::money_cents(lang, o.amount.cents())) }
                                td.num { (i18n::money_cents(lang, o.cost.cents())) }
                                td.num { (i18n::money_cents(lang, o.amount.cents() - o.cost.cents())) }
                            }
                        }
                    }
                }
            }
            @if after.is_some() || page.next.is_some() {
                nav.pager.pad {
                    @if after.is_some() { a.button href=(card_link(id, "orders_after", None, "orders")) { "« " (t(lang, "cw.first_orders")) } }
                    @if let Some(n) = &page.next {
                        a.button rel="next" id="orders-next" href=(card_link(id, "orders_after", Some(n), "orders")) { (t(lang, "cw.next_orders")) " »" }
                    }
                }
            }
        }
    }
}

/// One page of the timeline (50), with the link to the next page.
pub(crate) fn timeline(
    lang: Lang,
    id: i64,
    page: &Page<Interaction>,
    after: Option<&str>,
) -> Markup {
    html! {
        section.panel id="timeline" {
            h2 { (lang.t("card.timeline")) }
            @if page.items.is_empty() {
                p.empty { (lang.t("card.no_interactions")) }
            } @else {
                ol.timeline {
                    @for i in &page.items {
                        li class=(format!("kind-{}", i.kind.as_str())) {
                            div.when { (i18n::datetime(lang, i.occurred_at)) }
                            div {
                                span class=(format!("badge kind-{}", i.kind.as_str())) { (t(lang, &format!("cw.kind.{}", i.kind.as_str()))) }
                                @if let Some(by) = &i.by { " " span.muted { (lang.t("card.by")) " " (by) } }
                            }
                            p { (i.text) }
                        }
                    }
                }
            }
            @if after.is_some() || page.next.is_some() {
                nav.pager {
                    @if after.is_some() { a.button href=(card_link(id, "timeline_after", None, "timeline")) { "« " (t(lang, "cw.first_timeline")) } }
                    @if let Some(n) = &page.next {
                        a.button rel="next" id="timeline-next" href=(card_link(id, "timeline_after", Some(n), "timeline")) { (t(lang, "cw.next_timeline")) " »" }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_has_both_languages_and_no_key_twice() {
        let mut seen = std::collections::BTreeSet::new();
        for (k, en, zh) in MESSAGES {
            assert!(seen.insert(*k), "{k} twice");
            assert!(!en.is_empty() && !zh.is_empty(), "{k}");
        }
        for k in InteractionKind::ALL {
            assert_ne!(t(Lang::Zh, &format!("cw.kind.{}", k.as_str())), "?");
        }
        for k in TaskKind::ALL {
            assert_ne!(t(Lang::En, &format!("cw.tkind.{}", k.as_str())), "?");
        }
        for r in PurchaseRole::ALL {
            assert_ne!(t(Lang::En, &format!("cw.role.{}", r.as_str())), "?");
        }
        for k in [
            "svc.subject",
            "svc.priority",
            "pl.name",
            "pl.stage",
            "pl.close",
            "svc.survey_kind",
            "svc.comment",
            "work.no_customer",
            "work.bad_choice",
        ] {
            assert_ne!(t(Lang::En, k), "?", "{k}");
        }
    }

    #[test]
    fn times_as_typed() {
        assert!(parse_when("").unwrap().is_none());
        assert_eq!(
            parse_when("2025-03-04T10:30")
                .unwrap()
                .unwrap()
                .to_rfc3339(),
            "2025-03-04T10:30:00+00:00"
        );
        assert_eq!(
            parse_when("2025-03-04").unwrap().unwrap().to_rfc3339(),
            "2025-03-04T09:00:00+00:00"
        );
        assert!(parse_when("tomorrow").is_err());
        assert!(parse_when("0001-01-01").is_err());
    }
}
