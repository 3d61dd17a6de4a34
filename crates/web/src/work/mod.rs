//! Working the customers: credit and receivables, service tickets and surveys, the follow-up
//! plan and the before-the-visit brief, the opportunity pipeline, campaigns and the manager
//! review — the pages over what the store, the CLI and the JSON API already do.
//!
//! Every page gets the signed-in [`Session`]: population lists show only the customers the
//! viewer sees (a rep: their own), forms about one customer check it like the card does
//! (another rep's customer is "not found"), and the manager pages (approval queue, cadence
//! settings, SLA sweep, review) answer 403 to reps. Analysts see the campaigns only
//! (aggregates, no personal data). A bad form value re-shows the form with the message next
//! to the field (422), never a 5xx.

mod campaigns;
mod followup;
mod orders;
mod pipeline;
mod receivables;
mod review;
mod service;

use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::NaiveDate;
use maud::{html, Markup};
use patron_app::Session;
use patron_domain::Money;
use patron_store::{Role, Store, StoreError};

use crate::i18n::Lang;
use crate::{error_page, get_param, html, layout, parse_pairs, WebState};

/// The routes of these pages (merged into the web router).
pub(crate) fn routes() -> Router<WebState> {
    Router::new()
        .route("/work", get(hub))
        .route("/work/receivables", get(receivables::page))
        .route("/work/receivables/payment", post(receivables::pay))
        .route(
            "/work/receivables/holds/{id}/{decision}",
            post(receivables::decide),
        )
        .route("/work/service", get(service::page))
        .route("/work/service/tickets", post(service::open))
        .route(
            "/work/service/tickets/{customer}/{ticket}/{action}",
            post(service::act),
        )
        .route("/work/service/escalate", post(service::escalate))
        .route("/work/service/surveys", post(service::survey))
        .route("/work/followup", get(followup::page))
        .route("/work/followup/done", post(followup::done))
        .route("/work/followup/cadence", post(followup::cadence))
        .route("/customers/{id}/brief", get(followup::brief))
        .route(
            "/customers/{id}/orders/new",
            get(orders::page).post(orders::place),
        )
        .route("/work/pipeline", get(pipeline::page).post(pipeline::create))
        .route(
            "/work/pipeline/{customer}/{id}/stage",
            post(pipeline::stage),
        )
        .route(
            "/work/campaigns",
            get(campaigns::page).post(campaigns::create),
        )
        .route(
            "/work/campaigns/{id}/allocate-cost",
            post(campaigns::allocate_cost),
        )
        .route("/work/review", get(review::page))
}

/// `/work`: the follow-up plan, or the campaigns for analysts.
async fn hub(Extension(me): Extension<Session>) -> Response {
    if me.user.sees_records() {
        Redirect::to("/work/followup").into_response()
    } else {
        Redirect::to("/work/campaigns").into_response()
    }
}

// ---------------------------------------------------------------------------------------------
// Labels

/// Labels of these pages: `(key, English, Chinese)`; [`t`] falls back to the main catalogue.
pub(crate) const MESSAGES: &[(&str, &str, &str)] = &[
    ("work.nav", "Work", "工作台"),
    ("work.receivables", "Credit & receivables", "信用与应收"),
    ("work.service", "Service", "客户服务"),
    ("work.followup", "Follow-up", "跟进计划"),
    ("work.pipeline", "Pipeline", "商机管道"),
    ("work.campaigns", "Campaigns", "营销活动"),
    ("work.review", "Manager review", "经理评审"),
    ("work.forbidden_title", "Not allowed", "无权访问"),
    (
        "work.forbidden",
        "Your role does not open this page.",
        "您的角色无权打开此页面。",
    ),
    ("work.customer", "Customer", "客户"),
    (
        "work.customer_hint",
        "customer number, or #id",
        "客户编号，或 #ID",
    ),
    (
        "work.no_customer",
        "no such customer among yours",
        "在您的客户中找不到该客户",
    ),
    ("work.required", "is required", "必填"),
    (
        "work.bad_date",
        "is not a date (expected YYYY-MM-DD)",
        "不是有效日期（格式 YYYY-MM-DD）",
    ),
    (
        "work.bad_amount",
        "is not an amount (expected e.g. 12.34)",
        "不是有效金额（例如 12.34）",
    ),
    ("work.not_positive", "must be more than 0", "必须大于 0"),
    ("work.bad_number", "is not a whole number", "不是整数"),
    (
        "work.bad_choice",
        "is not one of the choices",
        "不是可选值之一",
    ),
    (
        "work.bad_period",
        "the start is after the end",
        "开始日期晚于结束日期",
    ),
    (
        "work.invalid",
        "Some values need fixing; see the messages next to the fields.",
        "部分内容有误，请查看字段旁的提示。",
    ),
    ("work.saved", "Saved.", "已保存。"),
    ("work.as_of", "As of", "截至日期"),
    ("work.from", "From", "开始日期"),
    ("work.to", "To", "结束日期"),
    ("work.show", "Show", "显示"),
    ("work.amount", "Amount", "金额"),
    ("work.date", "Date", "日期"),
    ("work.due", "Due", "到期日"),
    ("work.open", "Open", "未付"),
    ("work.paid", "Paid", "已付"),
    ("work.total", "Total", "合计"),
    ("work.none", "Nothing here.", "暂无内容。"),
    ("work.rep", "Rep", "销售代表"),
    ("work.no_owner", "(no owner)", "（无负责人）"),
    ("work.note", "Note", "备注"),
    (
        "work.more",
        "Showing the first {shown} of {total}.",
        "仅显示前 {shown} 条，共 {total} 条。",
    ),
    (
        "work.rows_of",
        "{from}–{to} of {total}",
        "第 {from}–{to} 条，共 {total} 条",
    ),
    ("work.prev", "Previous", "上一页"),
    ("work.next", "Next", "下一页"),
    ("work.search", "Search", "搜索"),
    (
        "work.search_hint",
        "Customer name or number",
        "客户名称或编号",
    ),
    (
        "work.no_match",
        "No row matches the search.",
        "没有符合搜索条件的记录。",
    ),
    // Receivables
    (
        "rcv.holds",
        "Approval queue: orders held over the credit limit",
        "审批队列：超出信用额度而挂起的订单",
    ),
    ("rcv.requested", "Requested", "申请时间"),
    ("rcv.by", "By", "申请人"),
    ("rcv.limit", "Limit", "额度"),
    ("rcv.open_before", "Open before", "申请时未付"),
    ("rcv.approve", "Approve", "批准"),
    ("rcv.reject", "Reject", "拒绝"),
    (
        "rcv.reason",
        "Reason (told to the rep)",
        "理由（通知销售代表）",
    ),
    (
        "rcv.approved",
        "Held order approved: the order and its invoice were created.",
        "挂起订单已批准：订单及发票已创建。",
    ),
    ("rcv.rejected", "Held order rejected.", "挂起订单已拒绝。"),
    ("rcv.ageing", "Ageing of receivables", "应收账龄"),
    ("rcv.not_due", "Not yet due", "未到期"),
    ("rcv.d0_30", "0–30 days", "0–30 天"),
    ("rcv.d31_60", "31–60 days", "31–60 天"),
    ("rcv.d61_90", "61–90 days", "61–90 天"),
    ("rcv.d90_plus", "Over 90 days", "90 天以上"),
    ("rcv.bucket", "Days overdue", "逾期天数"),
    ("rcv.overdue", "Overdue", "逾期"),
    (
        "rcv.overdue_list",
        "Overdue items, most overdue first",
        "逾期款项（按逾期时间排序）",
    ),
    ("rcv.days_overdue", "Days overdue", "逾期天数"),
    ("rcv.invoice", "Invoice", "发票"),
    ("rcv.instalment", "Instalment", "分期"),
    (
        "rcv.open_items",
        "Open invoices and instalments",
        "未付发票与分期",
    ),
    ("rcv.invoices_of", "Invoices of", "发票：客户"),
    ("rcv.issued", "Issued", "开票日期"),
    ("rcv.position", "Credit position", "信用状况"),
    ("rcv.headroom", "Headroom", "可用额度"),
    ("rcv.no_limit", "no limit", "无额度限制"),
    ("rcv.pending", "Held orders waiting", "待审批订单"),
    ("rcv.payment", "Record a payment", "登记收款"),
    (
        "rcv.payment_invoice",
        "Invoice (empty: oldest due first)",
        "发票（留空：从最早到期起冲抵）",
    ),
    ("rcv.reference", "Reference", "付款参考号"),
    ("rcv.paid_on", "Paid on", "付款日期"),
    ("rcv.record", "Record payment", "登记收款"),
    ("rcv.recorded", "Payment recorded.", "收款已登记。"),
    (
        "rcv.collections",
        "Sales vs collections per rep",
        "各销售代表的销售与回款",
    ),
    ("rcv.sales", "Sales", "销售额"),
    ("rcv.invoiced", "Invoiced", "开票额"),
    ("rcv.collected", "Collected", "回款额"),
    ("rcv.overdue_end", "Overdue at end", "期末逾期"),
    ("rcv.show_customer", "Invoices", "发票"),
    // Service
    (
        "svc.tickets",
        "Open tickets: breached first, then soonest due",
        "未结工单：已超时优先，其次按到期时间",
    ),
    ("svc.ticket", "Ticket", "工单"),
    ("svc.kind", "Kind", "类型"),
    ("svc.priority", "Priority", "优先级"),
    ("svc.subject", "Subject", "主题"),
    ("svc.body", "Details", "详情"),
    ("svc.status", "Status", "状态"),
    ("svc.sla", "SLA clock", "SLA 计时"),
    ("svc.due_in", "due in", "剩余"),
    ("svc.late_by", "late by", "已超时"),
    ("svc.breached", "Breached", "已超时"),
    ("svc.level", "Escalation", "升级级别"),
    ("svc.open_ticket", "Open a ticket", "新建工单"),
    ("svc.opened", "Ticket opened.", "工单已创建。"),
    ("svc.resolve", "Resolve", "解决"),
    ("svc.reopen", "Reopen", "重新打开"),
    ("svc.escalate", "Escalate", "升级"),
    ("svc.comment", "Comment", "备注"),
    ("svc.add_comment", "Add comment", "添加备注"),
    ("svc.updated", "Ticket updated.", "工单已更新。"),
    (
        "svc.sweep",
        "Escalate breached tickets now",
        "立即升级超时工单",
    ),
    ("svc.swept", "tickets escalated", "个工单已升级"),
    ("svc.of", "Tickets and surveys of", "工单与满意度调查：客户"),
    ("svc.history", "History", "历史"),
    ("svc.survey", "Record a survey answer", "登记满意度调查"),
    ("svc.survey_kind", "Survey", "调查类型"),
    ("svc.score", "Score", "评分"),
    ("svc.score_hint", "CSAT 1–5, NPS 0–10", "CSAT 1–5，NPS 0–10"),
    (
        "svc.surveyed",
        "Survey answer recorded.",
        "调查结果已登记。",
    ),
    ("svc.surveys", "Survey answers", "调查结果"),
    ("svc.latest", "Latest CSAT / NPS", "最近 CSAT / NPS"),
    ("svc.event.opened", "opened", "创建"),
    ("svc.event.comment", "comment", "备注"),
    ("svc.event.resolved", "resolved", "解决"),
    ("svc.event.reopened", "reopened", "重新打开"),
    ("svc.event.escalated", "escalated", "升级"),
    ("svc.status.open", "Open", "处理中"),
    ("svc.status.resolved", "Resolved", "已解决"),
    ("svc.kind.complaint", "Complaint", "投诉"),
    ("svc.kind.repair", "Repair", "维修"),
    ("svc.kind.question", "Question", "咨询"),
    ("svc.priority.urgent", "Urgent", "紧急"),
    ("svc.priority.high", "High", "高"),
    ("svc.priority.normal", "Normal", "普通"),
    ("svc.priority.low", "Low", "低"),
    // Follow-up
    ("fu.title", "Due and overdue follow-ups", "到期及逾期的跟进"),
    ("fu.upcoming", "Coming up", "即将到期"),
    ("fu.class", "Value tier (ABC)", "价值层级（ABC）"),
    ("fu.prospect_grade", "prospect, grade", "潜在客户，等级"),
    ("fu.every", "Every", "间隔"),
    ("fu.days", "days", "天"),
    ("fu.last", "Last contact", "上次联系"),
    ("fu.never", "never", "从未"),
    ("fu.late", "Days late", "逾期天数"),
    ("fu.done", "Mark done", "标记完成"),
    ("fu.done_ok", "Follow-up recorded.", "跟进已记录。"),
    ("fu.kind", "How", "方式"),
    (
        "fu.cadence",
        "Cadence per value tier",
        "各价值层级的跟进间隔",
    ),
    ("fu.cadence_save", "Save cadence", "保存间隔"),
    ("fu.brief", "Before the visit", "拜访前简报"),
    ("fu.brief_of", "Before visiting", "拜访前简报："),
    (
        "fu.no_values",
        "No value figures yet: run the value refresh; customers without them are not planned.",
        "尚无价值数据：请先运行价值刷新；没有价值数据的客户不会列入计划。",
    ),
    ("fu.last_orders", "Last orders", "最近订单"),
    (
        "fu.promises",
        "Promises made (newest first)",
        "所作承诺（最新在前）",
    ),
    ("fu.complaints", "Complaints", "投诉"),
    ("fu.open_tickets", "Open tickets", "未结工单"),
    ("fu.value", "Value figures", "价值指标"),
    ("fu.revenue", "Revenue to date", "累计销售额"),
    ("fu.margin", "Margin to date", "累计毛利"),
    ("fu.orders", "Orders", "订单数"),
    ("fu.order", "Order", "订单"),
    // Pipeline
    ("pl.title", "Opportunities pipeline", "商机管道"),
    ("pl.stage", "Stage", "阶段"),
    ("pl.count", "Opportunities", "商机数"),
    ("pl.weighted", "Weighted", "加权金额"),
    ("pl.probability", "Probability %", "成交概率 %"),
    (
        "pl.forecast",
        "Forecast per month of expected close",
        "按预计成交月份的预测",
    ),
    ("pl.month", "Month", "月份"),
    ("pl.won", "Won", "已成交"),
    ("pl.open_count", "Open", "未结"),
    ("pl.name", "Opportunity", "商机"),
    ("pl.close", "Expected close", "预计成交日"),
    ("pl.new", "New opportunity", "新建商机"),
    ("pl.create", "Create", "创建"),
    ("pl.created", "Opportunity created.", "商机已创建。"),
    ("pl.move", "Move", "变更阶段"),
    ("pl.moved", "Opportunity moved.", "商机阶段已变更。"),
    ("pl.open_list", "Open opportunities", "未结商机"),
    (
        "pl.chart",
        "Amount and weighted forecast per stage",
        "各阶段金额与加权预测",
    ),
    ("pl.stage.prospecting", "Prospecting", "初步接触"),
    ("pl.stage.qualification", "Qualification", "需求确认"),
    ("pl.stage.proposal", "Proposal", "方案报价"),
    ("pl.stage.negotiation", "Negotiation", "商务谈判"),
    ("pl.stage.won", "Won", "赢单"),
    ("pl.stage.lost", "Lost", "输单"),
    // Campaigns
    ("cp.title", "Campaigns", "营销活动"),
    ("work.orders", "New order", "新订单"),
    ("ord.title", "New order", "新订单"),
    (
        "ord.ref",
        "Order reference (empty: generated)",
        "订单号（留空自动生成）",
    ),
    ("ord.date", "Order date", "订单日期"),
    ("ord.category", "Category", "品类"),
    ("ord.quantity", "Quantity", "数量"),
    ("ord.amount", "Amount", "金额"),
    ("ord.cost", "Product cost", "产品成本"),
    ("ord.due_days", "Invoice due after (days)", "发票账期（天）"),
    (
        "ord.hold",
        "Over the credit limit: hold for a manager's approval instead of refusing",
        "超出信用额度时：提交经理审批而不是直接拒绝",
    ),
    (
        "ord.note",
        "Checked against the credit limit; accepted orders get their invoice.",
        "下单时检查信用额度；接受的订单自动生成发票。",
    ),
    ("ord.place", "Place order", "下单"),
    (
        "ord.placed",
        "Order placed, with its invoice.",
        "订单已下达，并已生成发票。",
    ),
    (
        "ord.held",
        "The order is over the credit limit and waits for a manager's approval.",
        "订单超出信用额度，等待经理审批。",
    ),
    ("ord.credit", "Credit position", "信用状况"),
    ("ord.limit", "Credit limit", "信用额度"),
    ("ord.no_limit", "none", "无"),
    ("ord.open", "Open receivables", "未收应收款"),
    ("ord.headroom", "Headroom", "可用额度"),
    ("ord.overdue", "Overdue", "逾期"),
    ("ord.pending", "Orders waiting for approval", "待审批订单"),
    ("ord.new", "New order", "新订单"),
    ("cp.new", "Record a campaign", "登记营销活动"),
    ("cp.create", "Record", "登记"),
    ("cp.created", "Campaign recorded.", "营销活动已登记。"),
    ("cp.allocate", "Allocate cost", "分摊费用"),
    ("cp.allocate_help", "Splits the campaign's cost evenly over the customers it mailed or brought, as their recorded marketing costs (replacing an earlier split).", "将营销活动费用平均分摊到其发送邮件或带来的客户，记为其营销费用（替换之前的分摊）。"),
    ("cp.allocated", "Campaign cost allocated over the customers it reached.", "营销活动费用已分摊到其触达的客户。"),
    ("cp.name", "Campaign", "活动"),
    ("cp.channel", "Channel", "渠道"),
    ("cp.started", "Started", "开始日期"),
    ("cp.cost", "Cost", "成本"),
    ("cp.customers", "Customers brought", "带来客户"),
    ("cp.leads", "Customers still leads", "仍处线索阶段的客户"),
    (
        "cp.leads_captured",
        "Lead records converted / captured",
        "线索记录：已转化 / 已获取",
    ),
    ("cp.buyers", "Buyers", "已购买"),
    ("cp.revenue", "Revenue since", "此后销售额"),
    ("cp.margin", "Attributed margin", "归因毛利"),
    ("cp.return", "Return (margin / cost)", "回报（毛利 / 成本）"),
    (
        "cp.note",
        "Customers whose source is the campaign's name are attributed to it.",
        "来源字段为活动名称的客户归属于该活动。",
    ),
    // Review
    ("rv.title", "Manager review per rep", "按销售代表的经理评审"),
    ("rv.customers", "Customers", "客户数"),
    ("rv.interactions", "Interactions", "互动"),
    ("rv.promises", "Promises", "承诺"),
    ("rv.completeness", "Card completeness", "资料完整度"),
    ("rv.tickets", "Tickets late / opened", "超时 / 新建工单"),
];

/// The label of `key`: these pages' catalogue first, then the main one.
pub(crate) fn t(lang: Lang, key: &str) -> &'static str {
    crate::i18n::lookup(MESSAGES, lang, key).unwrap_or_else(|| lang.t(key))
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

pub(crate) fn manages(me: &Session) -> bool {
    matches!(me.user.role, Role::Admin | Role::Manager)
}

pub(crate) fn forbidden(lang: Lang) -> Response {
    error_page(
        lang,
        StatusCode::FORBIDDEN,
        t(lang, "work.forbidden_title"),
        t(lang, "work.forbidden"),
    )
}

/// The section links shown on every page of the work area (per role).
fn subnav(lang: Lang, me: &Session, active: &str) -> Markup {
    let records = me.user.sees_records();
    let m = manages(me);
    let links: [(&str, &str, bool); 6] = [
        ("followup", "/work/followup", records),
        ("receivables", "/work/receivables", records),
        ("service", "/work/service", records),
        ("pipeline", "/work/pipeline", records),
        (
            "campaigns",
            "/work/campaigns",
            m || me.user.role == Role::Analyst,
        ),
        ("review", "/work/review", m),
    ];
    html! {
        nav.segmented.worknav aria-label=(t(lang, "work.nav")) {
            @for (k, href, show) in links {
                @if show {
                    a href=(href) class=[(k == active).then_some("on")] { (t(lang, &format!("work.{k}"))) }
                }
            }
        }
    }
}

/// A page of the work area.
pub(crate) fn work_page(
    lang: Lang,
    me: &Session,
    status: StatusCode,
    active: &str,
    back: &str,
    body: Markup,
) -> Response {
    let title = t(lang, &format!("work.{active}"));
    html(
        status,
        layout::page_at(
            lang,
            title,
            "work",
            back,
            html! {
                div.pagehead { h1 { (title) } (subnav(lang, me, active)) }
                (body)
            },
        ),
    )
}

/// Notices at the top of a page: `ok=...` after a successful form, or the form's failure.
pub(crate) fn notices(lang: Lang, ok: Option<&str>, errors: &Errors) -> Markup {
    html! {
        @if let Some(k) = ok { div.notice.ok role="status" id="done" { (t(lang, k)) } }
        @if !errors.is_empty() {
            div.notice.error role="alert" id="invalid" {
                (t(lang, "work.invalid"))
                @if let Some(m) = errors.get("") { " " (m) }
            }
        }
    }
}

/// What a submitted form got wrong, by field name (`""`: the form as a whole).
#[derive(Default, Debug)]
pub(crate) struct Errors(Vec<(String, String)>);

impl Errors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_string(), message.into()));
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A store error as form errors: bad input by field, conflicts for the whole form;
    /// `None` for errors that are not the user's (the caller shows the error page).
    pub fn from_store(lang: Lang, e: &StoreError, fields: &[&str]) -> Option<Errors> {
        let mut out = Errors::default();
        match e {
            StoreError::Invalid(errs) => {
                for fe in errs {
                    let f = fields
                        .iter()
                        .find(|f| fe.field == **f || fe.field.starts_with(*f))
                        .copied()
                        .unwrap_or("");
                    let m = if f.is_empty() {
                        crate::errors::field_error_line(lang, fe)
                    } else {
                        crate::errors::field_error_text(lang, fe)
                    };
                    out.add(f, m);
                }
            }
            StoreError::Conflict { .. } => out.add("", crate::errors::conflict_text(lang, e)),
            _ => return None,
        }
        Some(out)
    }
}

/// A submitted form (or query), as typed.
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(bytes: &[u8]) -> Form {
        Form(parse_pairs(bytes))
    }

    pub fn query(raw: &RawQuery) -> Form {
        Form::parse(raw.0.as_deref().unwrap_or("").as_bytes())
    }

    pub fn get(&self, k: &str) -> &str {
        get_param(&self.0, k).unwrap_or("").trim()
    }

    /// An optional date; a message when typed but not a date.
    pub fn date(&self, lang: Lang, k: &str, errors: &mut Errors) -> Option<NaiveDate> {
        let v = self.get(k);
        if v.is_empty() {
            return None;
        }
        match v.parse::<NaiveDate>() {
            Ok(d) if (1900..=2999).contains(&chrono::Datelike::year(&d)) => Some(d),
            _ => {
                errors.add(k, t(lang, "work.bad_date"));
                None
            }
        }
    }

    pub fn required_date(&self, lang: Lang, k: &str, errors: &mut Errors) -> Option<NaiveDate> {
        if self.get(k).is_empty() {
            errors.add(k, t(lang, "work.required"));
            return None;
        }
        self.date(lang, k, errors)
    }

    /// An amount more than 0 (`required`), or 0 or more when optional and typed.
    pub fn money(&self, lang: Lang, k: &str, required: bool, errors: &mut Errors) -> Option<Money> {
        let v = self.get(k);
        if v.is_empty() {
            if required {
                errors.add(k, t(lang, "work.required"));
            }
            return None;
        }
        match v.replace(',', "").parse::<Money>() {
            Ok(m) if required && m.cents() <= 0 => {
                errors.add(k, t(lang, "work.not_positive"));
                None
            }
            Ok(m) if m.cents() < 0 || m.cents() > 1_000_000_000_000 => {
                errors.add(k, t(lang, "work.bad_amount"));
                None
            }
            Ok(m) => Some(m),
            Err(_) => {
                errors.add(k, t(lang, "work.bad_amount"));
                None
            }
        }
    }

    /// An optional whole number within `range`.
    pub fn int(
        &self,
        lang: Lang,
        k: &str,
        range: std::ops::RangeInclusive<i64>,
        errors: &mut Errors,
    ) -> Option<i64> {
        let v = self.get(k);
        if v.is_empty() {
            return None;
        }
        match v.parse::<i64>() {
            Ok(n) if range.contains(&n) => Some(n),
            Ok(_) => {
                errors.add(
                    k,
                    format!(
                        "{} ({}–{})",
                        t(lang, "work.bad_choice"),
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
            Err(_) => {
                errors.add(k, t(lang, "work.bad_number"));
                None
            }
        }
    }

    /// One of `choices`; a message when typed but unknown, or missing and `required`.
    pub fn choice(
        &self,
        lang: Lang,
        k: &str,
        choices: &[&'static str],
        required: bool,
        errors: &mut Errors,
    ) -> Option<&'static str> {
        let v = self.get(k);
        if v.is_empty() {
            if required {
                errors.add(k, t(lang, "work.required"));
            }
            return None;
        }
        match choices.iter().find(|c| c.eq_ignore_ascii_case(v)) {
            Some(c) => Some(*c),
            None => {
                errors.add(k, t(lang, "work.bad_choice"));
                None
            }
        }
    }

    /// The customer named in field `k` (id or customer number) that the viewer may read
    /// (`write = false`) or change.
    pub async fn customer(
        &self,
        lang: Lang,
        store: &Store,
        me: &Session,
        k: &str,
        write: bool,
        errors: &mut Errors,
    ) -> Option<i64> {
        let v = self.get(k);
        if v.is_empty() {
            errors.add(k, t(lang, "work.required"));
            return None;
        }
        match resolve_customer(store, me, v, write).await {
            Some(id) => Some(id),
            None => {
                errors.add(k, t(lang, "work.no_customer"));
                None
            }
        }
    }
}

/// A customer by number (or `#id`), when the viewer may see (or change) it.
pub(crate) async fn resolve_customer(
    store: &Store,
    me: &Session,
    v: &str,
    write: bool,
) -> Option<i64> {
    patron_app::customers::resolve_reference(store, me, v, write)
        .await
        .ok()
}

/// A labelled form control with its message.
pub(crate) fn field(label: &str, id: &str, err: Option<&str>, control: Markup) -> Markup {
    html! {
        div class=(if err.is_some() { "field has-error" } else { "field" }) {
            label for=(id) { (label) }
            (control)
            @if let Some(m) = err { p.field-error id=(format!("err-{id}")) { (m) } }
        }
    }
}

/// A text input for [`field`]: `name`, value as typed (or `default`).
pub(crate) fn input(id: &str, name: &str, kind: &str, value: &str, err: bool) -> Markup {
    html! {
        input id=(id) type=(kind) name=(name) value=(value)
            aria-invalid=[err.then_some("true")]
            aria-describedby=[err.then(|| format!("err-{id}"))];
    }
}

/// Customer display names by id (for the lists), in one statement per 500 ids.
pub(crate) async fn names(
    store: &Store,
    ids: Vec<i64>,
) -> Result<std::collections::BTreeMap<i64, String>, StoreError> {
    Ok(store
        .customer_labels(&ids)
        .await?
        .into_iter()
        .map(|(id, (name, _))| (id, name))
        .collect())
}

/// The link to a customer's card, by name.
pub(crate) fn customer_link(id: i64, name: &str) -> Markup {
    html! { a href=(format!("/customers/{id}")) { (name) } }
}

/// The rep's display: user name, `user N`, or "(no owner)".
pub(crate) fn rep_name(lang: Lang, owner: Option<i64>, username: Option<&str>) -> String {
    match (username, owner) {
        (Some(u), _) => u.to_string(),
        (None, Some(o)) => format!("#{o}"),
        (None, None) => t(lang, "work.no_owner").to_string(),
    }
}

/// Rows shown at most in one list of these pages.
pub(crate) const ROWS: usize = 200;

/// "Showing the first N of M." under a list cut at [`ROWS`].
pub(crate) fn more(lang: Lang, total: usize) -> Markup {
    html! {
        @if total > ROWS {
            p.muted.pad.more {
                (t(lang, "work.more").replace("{shown}", &crate::i18n::count(ROWS as u64)).replace("{total}", &crate::i18n::count(total as u64)))
            }
        }
    }
}

/// The page (from 1) a list shows, from the query's `key` (1 when absent or not a number).
pub(crate) fn page_number(q: &Form, key: &str) -> usize {
    q.get(key)
        .parse::<usize>()
        .ok()
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

/// The rows of page `page` (from 1) of a list cut in pages of [`ROWS`]; past the end, the last.
pub(crate) fn page_rows<T>(rows: &[T], page: usize) -> (&[T], usize) {
    let pages = rows.len().div_ceil(ROWS).max(1);
    let page = page.min(pages);
    let from = (page - 1) * ROWS;
    (&rows[from..rows.len().min(from + ROWS)], page)
}

/// "201–400 of 23,570" with Previous / Next links that keep every other parameter of the
/// query (filters, the other list's page) and change only `key`.
pub(crate) fn pager(
    lang: Lang,
    path: &str,
    q: &Form,
    key: &str,
    page: usize,
    total: usize,
) -> Markup {
    let link = |p: usize| -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in q.0.iter().filter(|(k, _)| k != key && k != "csrf") {
            s.append_pair(k, v);
        }
        s.append_pair(key, &p.to_string());
        format!("{path}?{}", s.finish())
    };
    let from = (page - 1) * ROWS + 1;
    let to = total.min(page * ROWS);
    html! {
        @if total > ROWS {
            nav.pager.pad {
                span.muted { (t(lang, "work.rows_of").replace("{from}", &crate::i18n::count(from as u64)).replace("{to}", &crate::i18n::count(to as u64)).replace("{total}", &crate::i18n::count(total as u64))) }
                @if page > 1 { " " a.button rel="prev" href=(link(page - 1)) { "« " (t(lang, "work.prev")) } }
                @if to < total { " " a.button rel="next" href=(link(page + 1)) { (t(lang, "work.next")) " »" } }
            }
        }
    }
}

pub(crate) fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_are_paged_keeping_the_other_parameters() {
        let rows: Vec<usize> = (0..450).collect();
        let (p1, n1) = page_rows(&rows, 1);
        assert_eq!((p1.len(), p1[0], n1), (ROWS, 0, 1));
        let (p3, n3) = page_rows(&rows, 3);
        assert_eq!((p3.len(), p3[0], n3), (50, 400, 3));
        let (past, n) = page_rows(&rows, 99);
        assert_eq!((past[0], n), (400, 3), "past the end: the last page");
        assert_eq!(page_rows::<usize>(&[], 2).0.len(), 0);
        let q = Form::parse(b"q=ada+l&page=2&upage=3&csrf=x");
        assert_eq!(page_number(&q, "page"), 2);
        assert_eq!(page_number(&Form::parse(b"page=0"), "page"), 1);
        let html = pager(Lang::En, "/work/followup", &q, "page", 2, 450).into_string();
        assert!(html.contains("201–400 of 450"), "{html}");
        assert!(
            html.contains(r#"href="/work/followup?q=ada+l&amp;upage=3&amp;page=1""#),
            "{html}"
        );
        assert!(
            html.contains(r#"href="/work/followup?q=ada+l&amp;upage=3&amp;page=3""#),
            "{html}"
        );
        assert!(pager(Lang::En, "/x", &q, "page", 1, ROWS)
            .into_string()
            .is_empty());
    }

    /// Every label key these pages use exists, in this catalogue or the main one: the literal
    /// keys of the sources, and the keys built from the choices of the forms.
    #[test]
    fn every_used_key_exists() {
        let known = |k: &str| {
            MESSAGES.iter().any(|(m, _, _)| *m == k) || crate::i18n::keys().any(|m| m == k)
        };
        let sources = [
            include_str!("mod.rs"),
            include_str!("receivables.rs"),
            include_str!("service.rs"),
            include_str!("followup.rs"),
            include_str!("pipeline.rs"),
            include_str!("campaigns.rs"),
            include_str!("orders.rs"),
            include_str!("review.rs"),
        ];
        let mut seen = 0;
        for src in sources {
            for pat in ["t(lang, \"", "lang.t(\""] {
                for (i, _) in src.match_indices(pat) {
                    // `t(` itself, not the end of another name (`form.int(lang, "...")`).
                    let before = src[..i].chars().next_back().unwrap_or(' ');
                    if before.is_alphanumeric() || before == '_' {
                        continue;
                    }
                    let rest = &src[i + pat.len()..];
                    let key = &rest[..rest.find('"').unwrap()];
                    if key.contains('{') {
                        continue;
                    }
                    seen += 1;
                    assert!(known(key), "missing label {key}");
                }
            }
        }
        assert!(seen > 100, "the scan found the keys ({seen})");
        let built = [
            ("svc.kind.", &["complaint", "repair", "question"][..]),
            ("svc.priority.", &["urgent", "high", "normal", "low"][..]),
            ("svc.status.", &["open", "resolved"][..]),
            (
                "svc.event.",
                &["opened", "comment", "resolved", "reopened", "escalated"][..],
            ),
            (
                "work.",
                &[
                    "followup",
                    "receivables",
                    "service",
                    "pipeline",
                    "campaigns",
                    "review",
                ][..],
            ),
            ("kind.", &["visit", "call", "meeting"][..]),
        ];
        for (prefix, values) in built {
            for v in values {
                assert!(known(&format!("{prefix}{v}")), "missing label {prefix}{v}");
            }
        }
        for s in patron_store::STAGES {
            assert!(known(&format!("pl.stage.{s}")), "missing stage label {s}");
        }
    }

    #[test]
    fn labels_are_complete_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for (k, en, zh) in MESSAGES {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!en.is_empty() && !zh.is_empty(), "empty label for {k}");
            assert!(
                !crate::i18n::keys().any(|m| m == *k),
                "{k} is in the main catalogue too"
            );
        }
    }
}
