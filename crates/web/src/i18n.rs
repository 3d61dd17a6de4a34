//! Two languages: English and Simplified Chinese. Every label of the interface is a key of the
//! message catalogue ([`t`]); dates and money are formatted per locale.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use patron_domain::Currency;

/// The interface language, chosen with the `lang` cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// The `lang` attribute of the HTML element.
    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    /// The language's own name, for the switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Zh => "简体中文",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" | "en-us" | "en-gb" => Some(Lang::En),
            "zh" | "zh-cn" | "zh-hans" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The language of a request: the `lang` cookie, else English.
    pub fn from_headers(headers: &axum::http::HeaderMap) -> Lang {
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::parse(v))
            .unwrap_or_default()
    }

    /// The label of `key` in this language.
    pub fn t(self, key: &str) -> &'static str {
        t(self, key)
    }
}

/// The message catalogue: `(key, English, Chinese)`.
const MESSAGES: &[(&str, &str, &str)] = &[
    // Shell
    ("app.name", "Patron", "Patron 客户价值"),
    ("app.tagline", "CRM built around customer value", "以客户价值为核心的 CRM"),
    ("nav.customers", "Customers", "客户"),
    ("nav.dashboard", "Value dashboard", "价值看板"),
    ("nav.language", "Language", "语言"),
    ("nav.skip", "Skip to content", "跳到正文"),
    ("nav.search", "Search customers", "搜索客户"),
    ("nav.search_hint", "Search customers ( / )", "搜索客户（/）"),
    ("footer.api", "JSON API", "JSON 接口"),
    // List
    ("list.title", "Customers", "客户列表"),
    ("list.filter", "Filter", "筛选"),
    ("list.reset", "Reset", "重置"),
    ("list.search", "Search", "搜索"),
    ("list.search_placeholder", "Name, company, number, phone or e-mail", "名称、公司、编号、电话或邮箱"),
    ("list.any", "Any", "全部"),
    ("list.sort", "Sort", "排序"),
    ("list.per_page", "Per page", "每页"),
    ("list.next", "Next page", "下一页"),
    ("list.first", "First page", "第一页"),
    ("list.empty", "No customer matches these filters.", "没有符合筛选条件的客户。"),
    ("list.shown", "customers on this page", "位客户（本页）"),
    ("sort.id", "Number (oldest first)", "编号（从旧到新）"),
    ("sort.-id", "Number (newest first)", "编号（从新到旧）"),
    ("sort.name", "Name A–Z", "名称 A–Z"),
    ("sort.-name", "Name Z–A", "名称 Z–A"),
    ("sort.-clv", "CLV (highest first)", "CLV（从高到低）"),
    ("sort.-value_at_risk", "Value at risk (highest first)", "风险价值（从高到低）"),
    ("list.churn_yes", "At risk", "有风险"),
    ("list.churn_no", "No warning", "无预警"),
    // Fields
    ("field.number", "Customer no.", "客户编号"),
    ("field.name", "Name", "名称"),
    ("field.company", "Company", "公司"),
    ("field.industry", "Industry", "行业"),
    ("field.region", "Region", "地区"),
    ("field.address", "Address", "地址"),
    ("field.phone", "Phone", "电话"),
    ("field.fax", "Fax", "传真"),
    ("field.email", "E-mail", "电子邮箱"),
    ("field.employees", "Employees", "员工人数"),
    ("field.registered_capital", "Registered capital", "注册资本"),
    ("field.awards", "Awards", "所获荣誉"),
    ("field.source", "Source", "来源"),
    ("field.tags", "Tags", "标签"),
    ("field.tags_hint", "comma-separated", "用逗号分隔"),
    ("field.status", "Status", "状态"),
    ("field.loyalty", "Loyalty attitude", "忠诚态度"),
    ("field.owner_id", "Owner", "负责人"),
    ("field.credit_rating", "Credit rating", "信用等级"),
    ("field.credit_limit", "Credit limit", "信用额度"),
    ("field.marketing_opt_out", "No marketing mail", "拒收营销信息"),
    ("field.referred_by", "Referred by", "推荐人"),
    ("field.custom_fields", "Custom fields", "自定义字段"),
    ("field.created", "Created", "创建"),
    ("field.updated_at", "Updated", "更新时间"),
    ("field.version", "Version", "版本"),
    // Enumerations
    ("status.lead", "Lead", "线索"),
    ("status.tracking", "Tracking", "跟踪"),
    ("status.intent", "Intent", "意向"),
    ("status.won", "Won", "成单"),
    ("loyalty.loyal", "Loyal", "忠诚"),
    ("loyalty.switcher", "Brand switcher", "品牌转换者"),
    ("loyalty.none", "No brand loyalty", "无品牌忠诚"),
    ("kind.visit", "Visit", "拜访"),
    ("kind.call", "Call", "电话"),
    ("kind.email", "E-mail", "邮件"),
    ("kind.meeting", "Meeting", "会议"),
    ("kind.quote", "Quote", "报价"),
    ("kind.promise", "Promise", "承诺"),
    ("kind.complaint", "Complaint", "投诉"),
    ("kind.suggestion", "Suggestion", "建议"),
    ("kind.request", "Request", "需求"),
    // Card
    ("card.profile", "Profile", "客户档案"),
    ("card.save", "Save changes", "保存修改"),
    ("card.saved", "Changes saved.", "修改已保存。"),
    ("card.invalid", "Nothing was saved: please correct the fields marked below.", "未保存：请更正下方标出的字段。"),
    ("card.conflict", "Nothing was saved: someone else changed this customer since you opened it. The form now shows the current record; your values are listed here, re-enter what still applies.", "未保存：在您打开此客户后，其他人修改了该记录。表单现在显示最新内容；您填写的值列在此处，请重新填写仍需修改的内容。"),
    ("card.your_values", "Your unsaved values", "您未保存的值"),
    ("card.contacts", "Contacts", "联系人"),
    ("card.no_contacts", "No contact persons recorded.", "尚无联系人。"),
    ("card.primary", "primary", "主要"),
    ("card.title", "Title", "职务"),
    ("card.notes", "Notes", "备注"),
    ("card.orders", "Orders", "订单"),
    ("card.no_orders", "No orders.", "尚无订单。"),
    ("card.more_orders", "Showing the newest orders only.", "仅显示最近的订单。"),
    ("card.order_ref", "Order", "订单号"),
    ("card.date", "Date", "日期"),
    ("card.lines", "Lines", "明细行"),
    ("card.category", "Category", "品类"),
    ("card.amount", "Amount", "金额"),
    ("card.cost", "Cost", "成本"),
    ("card.margin", "Margin", "毛利"),
    ("card.timeline", "Interaction timeline", "互动记录"),
    ("card.no_interactions", "No visits, calls, promises or complaints recorded.", "尚无拜访、电话、承诺或投诉记录。"),
    ("card.by", "by", "经办人"),
    ("card.history", "Change history", "变更历史"),
    ("card.no_history", "No changes recorded.", "尚无变更记录。"),
    ("card.when", "When", "时间"),
    ("card.who", "Who", "操作人"),
    ("card.field", "Field", "字段"),
    ("card.old", "Old value", "原值"),
    ("card.new", "New value", "新值"),
    ("card.merged", "This record was merged into", "此记录已合并至"),
    ("card.back", "Back to the list", "返回列表"),
    // Value panel
    ("value.title", "Customer value", "客户价值"),
    ("value.not_computed", "Not computed yet — computed at the next value refresh", "尚未计算——将在下次价值刷新时计算"),
    ("value.recompute_link", "Recompute values now (dashboard)", "立即重新计算客户价值（价值看板）"),
    ("value.margin_to_date", "Margin to date", "累计毛利"),
    ("value.revenue_to_date", "Revenue to date", "累计销售额"),
    ("value.orders_to_date", "Orders to date", "累计订单数"),
    ("value.clv", "Customer lifetime value (CLV)", "客户终身价值（CLV）"),
    ("value.clv_missing.no_orders", "no CLV: no orders yet", "无 CLV：尚无订单"),
    ("value.clv_missing.not_enough_history", "no CLV: not enough purchase history for a purchase model", "无 CLV：购买历史不足，无法使用购买模型"),
    ("value.clv_missing.no_model", "no CLV: no purchase model fitted", "无 CLV：未拟合购买模型"),
    ("value.clv_missing.gamma_gamma_failed", "no CLV: the Gamma-Gamma spend model failed", "无 CLV：Gamma-Gamma 消费模型拟合失败"),
    ("value.p_alive", "P(alive)", "存活概率 P(alive)"),
    ("value.expected_purchases", "Expected purchases (next year)", "预计购买次数（未来一年）"),
    ("value.rfm", "RFM scores", "RFM 评分"),
    ("value.rfm_segment", "RFM segment", "RFM 细分"),
    ("value.abc", "ABC class", "ABC 分类"),
    ("value.grade", "Value grade", "价值等级"),
    ("value.grade_attributes", "from the profile only: no purchase yet", "仅依据客户资料：尚无购买"),
    ("value.loyalty_stage", "Loyalty stage", "忠诚阶段"),
    ("value.phase", "Lifecycle phase", "生命周期阶段"),
    ("value.churn", "Churn warnings", "流失预警"),
    ("value.no_churn", "No active churn warning.", "当前无流失预警。"),
    ("value.value_at_risk", "Value at risk", "风险价值"),
    ("value.as_of", "as of", "截至"),
    // Loyalty stages
    ("stage.suspect", "Suspect", "潜在对象"),
    ("stage.prospect", "Prospect", "潜在客户"),
    ("stage.first_time_buyer", "First-time buyer", "首次购买者"),
    ("stage.repeat_buyer", "Repeat buyer", "重复购买者"),
    ("stage.advocate", "Advocate", "拥护者"),
    // Lifecycle phases
    ("phase.introduction", "Introduction", "导入期"),
    ("phase.growth", "Rapid growth", "快速成长期"),
    ("phase.maturity", "Maturity", "成熟期"),
    ("phase.decline", "Decline", "衰退期"),
    // RFM segments
    ("segment.champions", "Champions", "冠军客户"),
    ("segment.loyal", "Loyal", "忠诚客户"),
    ("segment.potential_loyalist", "Potential loyalist", "潜在忠诚客户"),
    ("segment.new", "New", "新客户"),
    ("segment.promising", "Promising", "有潜力客户"),
    ("segment.need_attention", "Need attention", "需要关注"),
    ("segment.about_to_sleep", "About to sleep", "即将沉睡"),
    ("segment.at_risk", "At risk", "有流失风险"),
    ("segment.cannot_lose", "Cannot lose", "不能失去"),
    ("segment.hibernating", "Hibernating", "休眠客户"),
    ("segment.lost", "Lost", "已流失"),
    // Dashboard
    ("dash.title", "Value dashboard", "客户价值看板"),
    ("dash.computed_from_orders", "Computed live from the stored orders (no stored value snapshot yet: CLV and P(alive) appear after the next value refresh).", "根据已存订单实时计算（尚无已存的价值快照：CLV 与存活概率将在下次价值刷新后显示）。"),
    ("dash.no_orders", "No orders yet: record orders on a customer's card or import them (Import page) to see the value analysis.", "尚无订单：请在客户卡片上录入订单或在导入页面导入订单，以查看价值分析。"),
    ("dash.analysed_to", "Orders up to", "订单截至"),
    ("dash.computed_at", "computed", "计算于"),
    ("dash.customers", "Customers", "客户数"),
    ("dash.buyers", "Customers with orders", "有订单的客户"),
    ("dash.revenue", "Revenue", "销售额"),
    ("dash.margin", "Gross margin", "毛利"),
    ("dash.period", "Orders from", "订单期间"),
    ("dash.to", "to", "至"),
    ("dash.whale", "Customer profitability (whale curve)", "客户盈利曲线（鲸鱼曲线）"),
    ("dash.whale_x", "Customers, most profitable first (%)", "客户（按盈利从高到低，%）"),
    ("dash.whale_y", "Cumulative margin (% of total)", "累计毛利（占总额 %）"),
    ("dash.top20", "Top 20% of customers bring", "前 20% 的客户贡献"),
    ("dash.of_margin", "of the margin", "的毛利"),
    ("dash.peak", "Peak of the curve", "曲线峰值"),
    ("dash.bottom30", "The bottom 30% destroy", "末尾 30% 的客户损耗"),
    ("dash.of_peak", "of the peak", "的峰值利润"),
    ("dash.unprofitable", "Unprofitable customers", "亏损客户"),
    ("dash.abc", "ABC classes (Pareto chart)", "ABC 分类（帕累托图）"),
    ("dash.abc_y", "Share of revenue (%)", "销售额占比（%）"),
    ("dash.cumulative", "Cumulative", "累计"),
    ("dash.class", "Class", "类别"),
    ("dash.share_customers", "of customers", "的客户"),
    ("dash.rfm", "RFM grid (recency × frequency)", "RFM 网格（最近购买 × 购买频率）"),
    ("dash.recency", "Recency score (5 = most recent)", "最近购买评分（5 = 最近）"),
    ("dash.frequency", "Frequency score (5 = most frequent)", "购买频率评分（5 = 最频繁）"),
    ("dash.funnel", "Loyalty stages", "忠诚阶段漏斗"),
    ("dash.clv", "CLV distribution", "CLV 分布"),
    ("dash.margin_hist", "Margin to date per customer (CLV not computed yet)", "每位客户的累计毛利（CLV 尚未计算）"),
    ("dash.count", "Customers", "客户数"),
    ("dash.churn", "Churn risk: biggest value at risk first", "流失风险：按风险价值从高到低"),
    ("dash.no_churn", "No churn warning.", "没有流失预警。"),
    ("dash.reasons", "Reasons", "原因"),
    ("dash.customer", "Customer", "客户"),
    ("dash.segments", "RFM segments", "RFM 细分"),
    ("dash.as_of", "Figures as of", "数据截至"),
    // Churn reasons
    ("reason.revenue_drop", "Revenue dropped", "销售额下降"),
    ("reason.long_absence", "Long absence", "长时间未购买"),
    ("reason.low_p_alive", "Low P(alive)", "存活概率低"),
    ("reason.drop_detail", "revenue of the last 90 days vs the 90 days before", "最近 90 天与之前 90 天的销售额相比"),
    ("reason.absence_detail", "days since the last purchase; usual gap", "天未购买；平时间隔"),
    ("reason.days", "days", "天"),
    ("reason.no_second_purchase", "No second purchase", "未再次购买"),
    ("reason.one_time_since", "days since the only purchase", "天前唯一一次购买"),
    ("reason.one_time_typical", "of the customers who came back bought again within", "的回头客再次购买的间隔不超过"),
    ("reason.one_time_default", "longer than the default gap of", "超过默认间隔"),
    ("reason.one_time_default_why", "too few repeat buyers to measure the usual gap", "回头客太少，无法测算通常间隔"),
    // Errors
    ("error.title", "Something went wrong", "出错了"),
    ("error.not_found", "Not found", "未找到"),
    ("error.no_customer", "There is no customer with this number.", "没有此编号的客户。"),
    ("error.no_page", "There is no page at this address.", "此地址没有页面。"),
    ("error.bad_request", "The request could not be understood", "无法理解该请求"),
    ("error.unavailable", "The database is not available right now; please try again in a moment.", "数据库暂时不可用，请稍后再试。"),
    ("error.internal", "An unexpected error occurred; it has been logged.", "发生意外错误，已记录在日志中。"),
    ("error.bad_filter", "Some filters were not understood and were ignored", "部分筛选条件无法识别，已忽略"),
    ("error.bad_cursor", "The page link is out of date; showing the first page.", "分页链接已失效，显示第一页。"),
    ("error.bad_form", "The form could not be read; please try again.", "无法读取表单，请重试。"),
    // Validation messages (the domain's English messages, translated by kind)
    ("invalid.required", "is required", "必填"),
    ("invalid.email", "is not an e-mail address (expected name@domain.tld)", "不是有效的电子邮箱地址（应为 name@domain.tld）"),
    ("invalid.phone", "is not a phone number (digits, spaces, + - ( ) only; at least 5 digits)", "不是有效的电话号码（仅限数字、空格和 + - ( )，至少 5 位数字）"),
    ("invalid.too_long", "is too long", "过长"),
    ("invalid.negative", "must be 0 or more", "不能为负数"),
    ("invalid.number", "is not a whole number", "不是整数"),
    ("invalid.amount", "is not an amount (expected e.g. 12.34)", "不是有效金额（例如 12.34）"),
    ("invalid.other", "is not valid", "无效"),
    // Sign-in and the session (the server's web_auth: login page, sign-out button, refusals)
    ("auth.sign_in_title", "Sign in to Patron", "登录 Patron"),
    ("auth.sign_in", "Sign in", "登录"),
    ("auth.username", "User name", "用户名"),
    ("auth.password", "Password", "密码"),
    ("auth.sign_out", "Sign out", "退出登录"),
    ("auth.expired", "The form expired or came from elsewhere; please sign in again.", "表单已过期或来自其他网站，请重新登录。"),
    ("auth.too_many", "Too many failed sign-ins; try again in {wait} seconds.", "登录失败次数过多，请 {wait} 秒后再试。"),
    ("auth.wrong", "Wrong user name or password.", "用户名或密码错误。"),
    ("auth.bad_form", "The form could not be read.", "无法读取表单。"),
    ("auth.not_allowed", "Not allowed", "无权访问"),
    ("auth.sign_in_first", "Sign in first.", "请先登录。"),
    ("auth.role", "Your role does not open this page.", "您的角色无权打开此页面。"),
    ("auth.form_too_large", "The form is too large.", "表单过大。"),
    ("auth.csrf", "The form's security token is missing or wrong (CSRF): reload the page and try again.", "表单的安全令牌缺失或错误（CSRF）：请刷新页面后重试。"),
    ("auth.back", "Back", "返回"),
    ("auth.error_title", "Error", "错误"),
    ("auth.error", "Something went wrong", "出错了"),
    ("auth.try_again", "Try again in a moment.", "请稍后再试。"),
];

/// The label of `key` in `lang`; the key itself when missing (a test checks that every key used
/// exists in both languages).
pub fn t(lang: Lang, key: &str) -> &'static str {
    match catalogue().find(|(k, _, _)| *k == key) {
        Some((_, en, zh)) => match lang {
            Lang::En => en,
            Lang::Zh => zh,
        },
        None => {
            tracing::warn!(key, "missing message");
            // Leak-free fallback: an unknown key shows a fixed marker.
            "?"
        }
    }
}

/// Every key of the catalogue (for tests).
pub fn keys() -> impl Iterator<Item = &'static str> {
    catalogue().map(|(k, _, _)| *k)
}

/// Every label of every page: this module's and those kept beside their pages.
fn catalogue() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    MESSAGES
        .iter()
        .chain(crate::catalog::MESSAGES)
        .chain(crate::breakdown::MESSAGES)
        .chain(crate::custody::MESSAGES)
        .chain(crate::access::MESSAGES)
        .chain(crate::unsubscribe::MESSAGES)
        .chain(crate::mailer::MESSAGES)
        .chain(crate::errors::MESSAGES)
}

/// True when the catalogue has `key` (for labels looked up by a name that may have none).
pub fn has_key(key: &str) -> bool {
    catalogue().any(|(k, _, _)| *k == key)
}

/// Groups the digits of a non-negative integer by thousands.
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A count: `12,345` in both locales.
pub fn count(n: u64) -> String {
    group(n)
}

/// Money in cents, in the demo's currency (US dollars: CDNOW's data): `$1,234.56` in English,
/// `US$1,234.56` in Chinese (as CLDR writes dollars for zh-CN).
pub fn money_cents(lang: Lang, cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let a = cents.unsigned_abs();
    let sym = currency().symbol(lang == Lang::Zh);
    format!("{sign}{sym}{}.{:02}", group(a / 100), a % 100)
}

static CURRENCY: std::sync::OnceLock<Currency> = std::sync::OnceLock::new();

/// Sets the installation's currency for every page (once, at start-up: the first call wins).
/// Without it, amounts are shown in the currency of the server's locale (`LC_ALL`,
/// `LC_MONETARY`, `LANG`; US dollars when none names a territory).
pub fn set_currency(c: Currency) {
    let _ = CURRENCY.set(c);
}

/// The currency amounts are shown in (see [`set_currency`]).
pub fn currency() -> Currency {
    *CURRENCY.get_or_init(|| {
        ["LC_ALL", "LC_MONETARY", "LANG"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
            .map_or(Currency::Usd, |l| Currency::from_locale(&l))
    })
}

/// Money as a float amount (analytics figures).
pub fn money(lang: Lang, amount: f64) -> String {
    if !amount.is_finite() {
        return "–".into();
    }
    money_cents(lang, (amount * 100.0).round() as i64)
}

/// Money without cents, for plot labels.
pub fn money_short(lang: Lang, amount: f64) -> String {
    if !amount.is_finite() {
        return "–".into();
    }
    let sign = if amount < 0.0 { "-" } else { "" };
    let a = amount.abs().round() as u64;
    let sym = currency().symbol(lang == Lang::Zh);
    format!("{sign}{sym}{}", group(a))
}

/// A percentage with one decimal.
pub fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}%")
    } else {
        "–".into()
    }
}

const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A date: `5 Jan 1997` in English, `1997年1月5日` in Chinese.
pub fn date(lang: Lang, d: NaiveDate) -> String {
    match lang {
        Lang::En => format!(
            "{} {} {}",
            d.day(),
            MONTHS_EN[d.month0() as usize],
            d.year()
        ),
        Lang::Zh => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
    }
}

/// A time stamp (UTC): `5 Jan 1997 14:03` / `1997年1月5日 14:03`.
pub fn datetime(lang: Lang, t: DateTime<Utc>) -> String {
    format!(
        "{} {:02}:{:02}",
        date(lang, t.date_naive()),
        t.hour(),
        t.minute()
    )
}

/// The label of `key` in `lang` from a page's own catalogue `table` (`(key, English, Chinese)`),
/// if it has one: the pages keep their labels beside them and fall back to another catalogue.
pub(crate) fn lookup(
    table: &'static [(&'static str, &'static str, &'static str)],
    lang: Lang,
    key: &str,
) -> Option<&'static str> {
    table
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, en, zh)| match lang {
            Lang::En => *en,
            Lang::Zh => *zh,
        })
}

/// The label keys a page's source `src` names literally (`t(lang, "…")`, `lang.t("…")`), for
/// the tests that check every one exists.
#[cfg(test)]
pub(crate) fn used_label_keys(src: &str) -> Vec<&str> {
    let mut keys = Vec::new();
    for pat in ["t(lang, \"", "lang.t(\""] {
        for (i, _) in src.match_indices(pat) {
            // `t(` itself, not the end of another name (`form.int(lang, "...")`).
            let before = src[..i].chars().next_back().unwrap_or(' ');
            if before.is_alphanumeric() || before == '_' {
                continue;
            }
            let rest = &src[i + pat.len()..];
            keys.push(&rest[..rest.find('"').unwrap()]);
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_per_locale() {
        assert_eq!(money_cents(Lang::En, 12_345_678), "$123,456.78");
        assert_eq!(money_cents(Lang::Zh, -5), "-US$0.05");
        let d = NaiveDate::from_ymd_opt(1997, 1, 5).unwrap();
        assert_eq!(date(Lang::En, d), "5 Jan 1997");
        assert_eq!(date(Lang::Zh, d), "1997年1月5日");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn catalogue_is_complete_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for (k, en, zh) in catalogue() {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!en.is_empty() && !zh.is_empty(), "empty label for {k}");
        }
    }
}
