//! The dashboard's breakdown (SPEC R12): a dimension picker (region, industry, product
//! category, owner) and, once one is picked (`/dashboard?by=region#breakdown`), a bar chart of
//! the groups' revenue and a table of their figures with the period comparison of the
//! dashboard's period. Computed by [`patron_app::breakdown::breakdown`] for the viewer (their
//! scope; analysts every customer, owners without names). Nothing is computed before a
//! dimension is picked, so the dashboard itself costs no more.

use maud::{html, Markup};
use patron_app::breakdown::{Breakdown, Dimension, Group};
use patron_app::period::{self, Period};

use crate::i18n::{self, Lang};
use crate::svg::{self, H, TOP, W};

/// The labels of the breakdown: `(key, English, Chinese)`.
pub const MESSAGES: &[(&str, &str, &str)] = &[
    ("bd.title", "Breakdown", "分组分析"),
    ("bd.pick", "Pick a dimension to break the value figures down by it.", "请选择一个维度，按其分组查看价值数据。"),
    ("bd.by_region", "Region", "地区"),
    ("bd.by_industry", "Industry", "行业"),
    ("bd.by_category", "Product category", "产品类别"),
    ("bd.by_owner", "Owner", "负责人"),
    ("bd.group", "Group", "分组"),
    ("bd.customers", "Customers", "客户数"),
    ("bd.revenue", "Revenue", "收入"),
    ("bd.margin", "Margin", "毛利"),
    ("bd.clv", "CLV", "客户终身价值"),
    ("bd.churn", "Churn risks", "流失风险"),
    ("bd.abc", "A / B / C", "A / B / C"),
    ("bd.this", "This period", "本期"),
    ("bd.prev", "Previous", "上期"),
    ("bd.active", "Active", "活跃客户"),
    ("bd.new", "New", "新客户"),
    ("bd.none", "(none)", "（未填）"),
    ("bd.pool", "(public pool)", "（公海）"),
    ("bd.owner_no", "Owner no.", "负责人编号"),
    ("bd.empty", "No customers to break down.", "没有可分组的客户。"),
    ("bd.category_note", "Product categories group order lines, not customers: a customer buying in several categories counts in each, the margin is revenue minus product cost, and CLV, churn risks and ABC classes do not apply.", "产品类别按订单行分组而非按客户：在多个类别购买的客户计入每个类别，毛利为收入减产品成本，客户终身价值、流失风险和 ABC 分类不适用。"),
    ("bd.scoped", "Customers in your scope only.", "仅含您权限范围内的客户。"),
    ("bd.no_names", "Owners are shown by number only.", "负责人仅以编号显示。"),
    ("bd.chart", "Revenue to date by group", "各分组累计收入"),
    ("bd.top", "largest groups", "个最大分组"),
];

/// Bars in the chart at most (the table lists every group).
const BARS: usize = 12;

fn dimension_key(d: Dimension) -> String {
    format!("bd.by_{}", d.code())
}

fn label(lang: Lang, b: &Breakdown, g: &Group) -> String {
    match (b.by, &g.key) {
        (Dimension::Owner, None) => lang.t("bd.pool").to_string(),
        (Dimension::Owner, Some(k)) => g
            .owner_name
            .clone()
            .unwrap_or_else(|| format!("{} {k}", lang.t("bd.owner_no"))),
        (_, Some(k)) => k.clone(),
        (_, None) => lang.t("bd.none").to_string(),
    }
}

fn delta(this: i64, prev: i64) -> Markup {
    match period::change(this as f64, prev as f64) {
        Some(c) => {
            let cls = if c > 0.05 {
                "delta up"
            } else if c < -0.05 {
                "delta down"
            } else {
                "delta"
            };
            html! { span class=(cls) { (if c > 0.0 { "▲ +" } else if c < 0.0 { "▼ " } else { "" }) (format!("{c:.1}%")) } }
        }
        None => html! { span.delta { "–" } },
    }
}

/// The section: the picker, and the chart and table of `b` when a dimension is picked.
pub fn section(lang: Lang, period: Period, b: Option<&Breakdown>) -> Markup {
    let on = b.map(|b| b.by);
    html! {
        section.panel id="breakdown" {
            div.panelhead {
                h2 {
                    (lang.t("bd.title"))
                    @if let Some(b) = b { @if let (Some(t), Some(p)) = (b.this, b.prev) {
                        " " small.muted {
                            (i18n::date(lang, t.0)) " – " (i18n::date(lang, t.1)) " " (lang.t("dash.vs")) " "
                            (i18n::date(lang, p.0)) " – " (i18n::date(lang, p.1))
                        }
                    } }
                }
                nav.segmented id="breakdown-by" {
                    @for d in Dimension::ALL {
                        a href=(format!("/dashboard?by={}&period={}#breakdown", d.code(), period.code()))
                            class=[(on == Some(d)).then_some("on")] { (lang.t(&dimension_key(d))) }
                    }
                }
            }
            @match b {
                None => p.sub { (lang.t("bd.pick")) },
                Some(b) => (body(lang, b)),
            }
        }
    }
}

fn body(lang: Lang, b: &Breakdown) -> Markup {
    if b.groups.is_empty() {
        return html! { p.empty { (lang.t("bd.empty")) } };
    }
    let cents = |v: i64| i18n::money_cents(lang, v);
    let category = b.by == Dimension::Category;
    let opt = |v: Option<i64>| v.map_or("–".to_string(), |n| i18n::count(n.max(0) as u64));
    html! {
        @if category { p.sub id="category-note" { (lang.t("bd.category_note")) } }
        @if b.scoped { p.sub { (lang.t("bd.scoped")) } }
        @if b.by == Dimension::Owner && b.groups.iter().any(|g| g.owner_id.is_some() && g.owner_name.is_none()) {
            p.sub { (lang.t("bd.no_names")) }
        }
        (chart(lang, b))
        div.tablewrap {
            table.data.compact id="breakdown-table" {
                thead { tr {
                    th { (lang.t(&dimension_key(b.by))) }
                    th.num { (lang.t("bd.customers")) }
                    th.num { (lang.t("bd.revenue")) }
                    th.num { (lang.t("bd.margin")) }
                    @if !category {
                        th.num { (lang.t("bd.clv")) }
                        th.num { (lang.t("bd.churn")) }
                        th.num { (lang.t("bd.abc")) }
                    }
                    th.num { (lang.t("bd.revenue")) " · " (lang.t("bd.this")) }
                    th.num { (lang.t("bd.prev")) }
                    th.num { "Δ" }
                    th.num { (lang.t("bd.margin")) " · " (lang.t("bd.this")) }
                    th.num { "Δ" }
                    th.num { (lang.t("bd.active")) }
                    th.num { (lang.t("bd.prev")) }
                    th.num { (lang.t("bd.new")) }
                } }
                tbody {
                    @for g in &b.groups {
                        tr {
                            td { (label(lang, b, g)) }
                            td.num { (i18n::count(g.customers.max(0) as u64)) }
                            td.num { (cents(g.revenue_cents)) }
                            td.num { (cents(g.margin_cents)) }
                            @if !category {
                                td.num { (g.clv.map_or("–".to_string(), |v| i18n::money(lang, v))) }
                                td.num { (opt(g.churn_risk)) }
                                td.num { @if let Some(a) = g.abc { (a.a) " / " (a.b) " / " (a.c) } @else { "–" } }
                            }
                            td.num { (cents(g.this.revenue)) }
                            td.num.muted { (cents(g.prev.revenue)) }
                            td.num { (delta(g.this.revenue, g.prev.revenue)) }
                            td.num { (cents(g.this.margin)) }
                            td.num { (delta(g.this.margin, g.prev.margin)) }
                            td.num { (i18n::count(g.this.active)) }
                            td.num.muted { (i18n::count(g.prev.active)) }
                            td.num { (i18n::count(g.this.new)) }
                        }
                    }
                }
            }
        }
    }
}

/// Horizontal bars of the revenue to date of the largest groups.
fn chart(lang: Lang, b: &Breakdown) -> Markup {
    let groups: Vec<&Group> = b.groups.iter().take(BARS).collect();
    let max = groups
        .iter()
        .map(|g| g.revenue_cents.max(0))
        .max()
        .unwrap_or(0);
    if max == 0 {
        return html! {};
    }
    let n = groups.len() as f64;
    let row_h = ((H - TOP - 8.0) / n).min(40.0);
    let label_w = 150.0;
    let avail = W - label_w - 130.0;
    let title = if b.groups.len() > BARS {
        format!("{} ({BARS} {})", lang.t("bd.chart"), lang.t("bd.top"))
    } else {
        lang.t("bd.chart").to_string()
    };
    html! {
        (svg::svg("breakdown-plot", &title, html! {
            @for (i, g) in groups.iter().enumerate() {
                @let y = TOP + i as f64 * row_h;
                @let w = g.revenue_cents.max(0) as f64 / max as f64 * avail;
                @let name = label(lang, b, g);
                @let short: String = if name.chars().count() > 20 { name.chars().take(19).chain(['…']).collect() } else { name.clone() };
                text.stage x=(label_w) y=(y + row_h / 2.0 + 4.0) text-anchor="end" { (short) }
                (svg::point(&format!("{name}: {}", i18n::money_cents(lang, g.revenue_cents)), None, html! {
                    rect.bar.seg x=(label_w + 8.0) y=(y + 3.0) width=(w.max(1.0)) height=(row_h - 6.0) rx="2" {}
                }))
                text.annot x=(label_w + 14.0 + w) y=(y + row_h / 2.0 + 4.0) { (i18n::money_short(lang, g.revenue_cents as f64 / 100.0)) }
            }
        }))
    }
}
