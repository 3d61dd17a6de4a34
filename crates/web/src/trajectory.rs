//! A customer's course across value refreshes (SPEC R18): the card's trajectory (CLV and margin
//! per snapshot as a small SVG chart, each point reachable by keyboard, with its grade and
//! stage, and the figures recomputed since the last refresh as a "now" point), and the
//! dashboard's movements between two snapshots (grade and stage: from, to, customers, CLV and
//! margin), each row opening the customer list of those customers. Read through
//! [`patron_app::value_history`] (the caller's scope; analysts: aggregates, no links).

use maud::{html, Markup};
use patron_app::value_history::{CustomerHistory, Transitions};
use patron_app::{Action, AppError, Session};
use patron_store::ValueHistoryPoint;
use patron_store::{SnapshotRef, TransitionFilter, TransitionKind, TransitionRow};

use crate::i18n::{self, Lang};
use crate::svg::{self, Frame, H, LEFT, RIGHT, TOP, W};
use crate::WebState;

/// The labels of the course: `(key, English, Chinese)`.
pub(crate) const MESSAGES: &[(&str, &str, &str)] = &[
    ("vh.course", "Course", "价值轨迹"),
    (
        "vh.chart",
        "CLV and margin at each value refresh",
        "每次价值刷新时的客户终身价值与毛利",
    ),
    (
        "vh.too_few",
        "The course shows from the second value refresh on.",
        "第二次价值刷新后即可显示轨迹。",
    ),
    ("vh.clv", "CLV", "客户终身价值"),
    ("vh.margin", "Margin", "毛利"),
    ("vh.now", "now", "当前"),
    ("vh.refresh", "Refresh", "刷新"),
    ("vh.as_of", "as of", "截至"),
    ("vh.grade", "Grade", "等级"),
    ("vh.stage", "Stage", "阶段"),
    ("vh.when", "When", "时间"),
    ("vh.figures", "Figures per refresh", "每次刷新的数据"),
    ("vh.none", "none", "无"),
    (
        "vh.movements",
        "Movements between two refreshes",
        "两次刷新之间的变动",
    ),
    ("vh.from", "From", "从"),
    ("vh.to", "To", "到"),
    ("vh.show", "Show", "显示"),
    ("vh.grade_moves", "Grade movements", "等级变动"),
    ("vh.stage_moves", "Stage movements", "阶段变动"),
    ("vh.customers", "Customers", "客户数"),
    (
        "vh.clv_change",
        "CLV (before → after)",
        "客户终身价值（之前 → 之后）",
    ),
    (
        "vh.margin_change",
        "Margin (before → after)",
        "毛利（之前 → 之后）",
    ),
    (
        "vh.need_two",
        "Movements show once two value refreshes have run.",
        "运行两次价值刷新后即可显示变动。",
    ),
    (
        "vh.scoped",
        "Customers in your scope only.",
        "仅含您权限范围内的客户。",
    ),
    ("vh.new", "none or new", "无或新增"),
    (
        "vh.no_moves",
        "No customers in these refreshes.",
        "这两次刷新中没有客户。",
    ),
    ("vh.down", "moved down", "下降"),
    ("vh.up", "moved up", "上升"),
    // The customer list's course filter.
    ("vh.filter", "Course", "变化趋势"),
    ("vh.moved_down", "Moved down a grade", "等级下降"),
    (
        "vh.unprofitable_growing",
        "Unprofitable but growing",
        "亏损但在增长",
    ),
    (
        "vh.transition_filter",
        "Customers of one movement between two refreshes",
        "两次刷新之间某一变动的客户",
    ),
];

/// A label of the course in `lang` (else the main catalogue's).
pub(crate) fn t(lang: Lang, key: &str) -> &'static str {
    i18n::lookup(MESSAGES, lang, key).unwrap_or_else(|| lang.t(key))
}

fn stage_label(lang: Lang, stage: Option<&str>) -> String {
    match stage {
        Some(s) => {
            let l = lang.t(&format!("stage.{s}"));
            if l == "?" {
                s.to_string()
            } else {
                l.to_string()
            }
        }
        None => t(lang, "vh.none").to_string(),
    }
}

fn when(lang: Lang, p: &ValueHistoryPoint) -> String {
    match p.as_of {
        Some(d) => i18n::date(lang, d),
        None => i18n::date(lang, p.computed_at.date_naive()),
    }
}

/// The card's course panel: the customer's history as the caller may read it.
pub(crate) async fn card_panel(
    st: &WebState,
    me: &Session,
    lang: Lang,
    id: i64,
) -> Result<Markup, AppError> {
    let h = patron_app::value_history::customer_history(&st.store, me, id).await?;
    Ok(panel(lang, &h))
}

fn panel(lang: Lang, h: &CustomerHistory) -> Markup {
    // (label of the point, the point, is it the "now" point)
    let mut points: Vec<(String, &ValueHistoryPoint, bool)> =
        h.points.iter().map(|p| (when(lang, p), p, false)).collect();
    if let Some(c) = &h.current {
        points.push((t(lang, "vh.now").to_string(), c, true));
    }
    html! {
        section.panel id="course" {
            h2 { (t(lang, "vh.course")) }
            @if points.len() < 2 {
                (svg::empty(t(lang, "vh.too_few")))
            } @else {
                (chart(lang, &points))
                details #course-figures {
                    summary { (t(lang, "vh.figures")) }
                    table.data {
                        thead { tr {
                            th { (t(lang, "vh.when")) }
                            th { (t(lang, "vh.grade")) }
                            th { (t(lang, "vh.stage")) }
                            th.num { (t(lang, "vh.clv")) }
                            th.num { (t(lang, "vh.margin")) }
                        } }
                        tbody {
                            @for (label, p, _) in &points {
                                tr {
                                    td { (label) }
                                    td { (p.grade.as_deref().unwrap_or("–")) }
                                    td { (stage_label(lang, p.stage.as_deref())) }
                                    td.num { (p.clv.map(|v| i18n::money(lang, v)).unwrap_or_else(|| "–".into())) }
                                    td.num { (i18n::money_cents(lang, p.margin_cents)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// CLV (solid) and margin (dashed) per point, evenly spaced; the grade above each point.
fn chart(lang: Lang, points: &[(String, &ValueHistoryPoint, bool)]) -> Markup {
    let n = points.len();
    let clv: Vec<Option<f64>> = points.iter().map(|(_, p, _)| p.clv).collect();
    let margin: Vec<f64> = points
        .iter()
        .map(|(_, p, _)| p.margin_cents as f64 / 100.0)
        .collect();
    let values = clv.iter().flatten().copied().chain(margin.iter().copied());
    let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let hi = if hi - lo < 1.0 { lo + 1.0 } else { hi };
    let yt = svg::ticks(lo, hi, 5);
    let y0 = yt.first().copied().unwrap_or(lo).min(lo);
    let y1 = yt.last().copied().unwrap_or(hi).max(hi);
    let f = Frame {
        x0: -0.5,
        x1: n as f64 - 0.5,
        y0,
        y1: y1 * 1.0 + (y1 - y0) * 0.08,
    };
    // At most about eight date labels under the axis.
    let every = n.div_ceil(8).max(1);
    let line = |ys: Vec<Option<f64>>| {
        let mut d = String::new();
        let mut pen = false;
        for (i, y) in ys.iter().enumerate() {
            match y {
                Some(y) => {
                    d.push_str(&format!(
                        "{}{:.1},{:.1} ",
                        if pen { "L" } else { "M" },
                        f.px(i as f64),
                        f.py(*y)
                    ));
                    pen = true;
                }
                None => pen = false,
            }
        }
        d
    };
    let clv_path = line(clv.clone());
    let margin_path = line(margin.iter().map(|m| Some(*m)).collect());
    let (l, r, b) = (LEFT, W - RIGHT, H - svg::BOTTOM);
    html! {
        (svg::svg("course-plot", t(lang, "vh.chart"), html! {
            g.grid { @for y in &yt { line x1=(l) x2=(r) y1=(f.py(*y)) y2=(f.py(*y)) {} } }
            g.axis {
                line x1=(l) x2=(r) y1=(b) y2=(b) {}
                line x1=(l) x2=(l) y1=(TOP) y2=(b) {}
                @for y in &yt { text x=(l - 6.0) y=(f.py(*y) + 4.0) text-anchor="end" { (svg::short(*y)) } }
                @for (i, (label, _, _)) in points.iter().enumerate() {
                    @if i % every == 0 || i + 1 == n {
                        text x=(f.px(i as f64)) y=(b + 16.0) text-anchor="middle" { (label) }
                    }
                }
            }
            @if y0 < 0.0 { line.ref x1=(l) x2=(r) y1=(f.py(0.0)) y2=(f.py(0.0)) {} }
            path.curve d=(clv_path) {}
            path d=(margin_path) fill="none" stroke="#2f7d32" stroke-width="2" stroke-dasharray="6 4" {}
            // Legend.
            line x1=(l + 8.0) x2=(l + 30.0) y1=(H - 10.0) y2=(H - 10.0) stroke="#3b6ea5" stroke-width="2.5" {}
            text x=(l + 34.0) y=(H - 6.0) { (t(lang, "vh.clv")) }
            line x1=(l + 150.0) x2=(l + 172.0) y1=(H - 10.0) y2=(H - 10.0) stroke="#2f7d32" stroke-width="2" stroke-dasharray="6 4" {}
            text x=(l + 176.0) y=(H - 6.0) { (t(lang, "vh.margin")) }
            @for (i, (label, p, now)) in points.iter().enumerate() {
                @let x = f.px(i as f64);
                @let grade = p.grade.as_deref().unwrap_or("–");
                @let desc = format!(
                    "{}: {} {} · {} {} · {} {} · {} {}",
                    label,
                    t(lang, "vh.clv"),
                    p.clv.map(|v| i18n::money(lang, v)).unwrap_or_else(|| "–".into()),
                    t(lang, "vh.margin"),
                    i18n::money_cents(lang, p.margin_cents),
                    t(lang, "vh.grade"),
                    grade,
                    t(lang, "vh.stage"),
                    stage_label(lang, p.stage.as_deref()),
                );
                text.annot x=(x) y=(TOP + 10.0) text-anchor="middle" { (grade) @if *now { "*" } }
                (svg::point(&desc, None, html! {
                    @if let Some(c) = p.clv { circle.dot cx=(x) cy=(f.py(c)) r="4" {} }
                    circle cx=(x) cy=(f.py(p.margin_cents as f64 / 100.0)) r="4" fill="#2f7d32" stroke="#fff" stroke-width="1.5" {}
                }))
            }
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// The dashboard's movements

/// The dashboard's movements section for `from`/`to` picked on the page (`mfrom`, `mto`;
/// default: the latest two snapshots); nothing for callers who may not see value reports.
pub(crate) async fn dashboard_section(
    st: &WebState,
    me: &Session,
    lang: Lang,
    pairs: &[(String, String)],
) -> Result<Markup, AppError> {
    if !me.may(Action::ViewValueReport) {
        return Ok(html! {});
    }
    let id = |k: &str| {
        crate::get_param(pairs, k)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|v| *v > 0)
    };
    let snapshots = st.store.snapshot_refs(60).await?;
    let known = |v: Option<i64>| v.filter(|v| snapshots.iter().any(|s| s.id == *v));
    let (from, to) = (known(id("mfrom")), known(id("mto")));
    let moves = patron_app::value_history::transitions(&st.store, me, from, to).await?;
    let keep: Vec<(&str, &str)> = ["period", "by"]
        .into_iter()
        .filter_map(|k| crate::get_param(pairs, k).map(|v| (k, v)))
        .collect();
    Ok(section(
        lang,
        me.may(Action::ReadRecords),
        &snapshots,
        &moves,
        &keep,
    ))
}

fn snapshot_label(lang: Lang, s: &SnapshotRef) -> String {
    match s.as_of {
        Some(d) => format!(
            "#{} · {} {} · {}",
            s.id,
            t(lang, "vh.as_of"),
            i18n::date(lang, d),
            i18n::datetime(lang, s.computed_at)
        ),
        None => format!("#{} · {}", s.id, i18n::datetime(lang, s.computed_at)),
    }
}

fn section(
    lang: Lang,
    links: bool,
    snapshots: &[SnapshotRef],
    m: &Transitions,
    keep: &[(&str, &str)],
) -> Markup {
    let picked = |s: Option<&SnapshotRef>| s.map(|s| s.id);
    html! {
        section.panel.flush id="movements" {
            h2 { (t(lang, "vh.movements")) }
            @if let (Some(from), Some(to)) = (&m.from, &m.to) {
                form.filters method="get" action="/dashboard#movements" {
                    @for (k, v) in keep { input type="hidden" name=(k) value=(v); }
                    label {
                        span { (t(lang, "vh.from")) }
                        select name="mfrom" {
                            @for s in snapshots {
                                option value=(s.id) selected[picked(Some(from)) == Some(s.id)] { (snapshot_label(lang, s)) }
                            }
                        }
                    }
                    label {
                        span { (t(lang, "vh.to")) }
                        select name="mto" {
                            @for s in snapshots {
                                option value=(s.id) selected[picked(Some(to)) == Some(s.id)] { (snapshot_label(lang, s)) }
                            }
                        }
                    }
                    div.actions { button type="submit" { (t(lang, "vh.show")) } }
                }
                @if m.scoped { p.muted { (t(lang, "vh.scoped")) } }
                (table(lang, "grade-moves", t(lang, "vh.grade_moves"), TransitionKind::Grade, from.id, to.id, &m.grade, links))
                (table(lang, "stage-moves", t(lang, "vh.stage_moves"), TransitionKind::Stage, from.id, to.id, &m.stage, links))
            } @else {
                p.empty { (t(lang, "vh.need_two")) }
            }
        }
    }
}

fn rank(kind: TransitionKind, v: Option<&str>) -> Option<usize> {
    let order: &[&str] = match kind {
        TransitionKind::Grade => &patron_app::value_history::GRADES,
        TransitionKind::Stage => &patron_app::value_history::STAGES,
    };
    v.and_then(|v| order.iter().position(|o| *o == v))
}

fn value_label(lang: Lang, kind: TransitionKind, v: Option<&str>, from: bool) -> String {
    match (kind, v) {
        (_, None) if from => t(lang, "vh.new").to_string(),
        (TransitionKind::Grade, Some(g)) => g.to_string(),
        (TransitionKind::Stage, s) => stage_label(lang, s),
        (_, None) => t(lang, "vh.none").to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn table(
    lang: Lang,
    id: &str,
    title: &str,
    kind: TransitionKind,
    from: i64,
    to: i64,
    rows: &[TransitionRow],
    links: bool,
) -> Markup {
    let money = |v: Option<f64>| {
        v.map(|v| i18n::money_short(lang, v))
            .unwrap_or_else(|| "–".into())
    };
    html! {
        h3 { (title) }
        @if rows.is_empty() {
            p.empty { (t(lang, "vh.no_moves")) }
        } @else {
            table.data id=(id) {
                thead { tr {
                    th { (t(lang, "vh.from")) }
                    th { (t(lang, "vh.to")) }
                    th.num { (t(lang, "vh.customers")) }
                    th.num { (t(lang, "vh.clv_change")) }
                    th.num { (t(lang, "vh.margin_change")) }
                } }
                tbody {
                    @for r in rows {
                        @let (a, b) = (rank(kind, r.from.as_deref()), rank(kind, r.to.as_deref()));
                        // Grades: A is best (a higher rank is worse); stages: later is further.
                        @let down = match (kind, a, b) {
                            (TransitionKind::Grade, Some(a), Some(b)) => b > a,
                            (TransitionKind::Stage, Some(a), Some(b)) => b < a,
                            _ => false,
                        };
                        @let up = match (kind, a, b) {
                            (TransitionKind::Grade, Some(a), Some(b)) => b < a,
                            (TransitionKind::Stage, Some(a), Some(b)) => b > a,
                            _ => false,
                        };
                        tr class=(if down { "moved down" } else if up { "moved up" } else { "" }) {
                            td { (value_label(lang, kind, r.from.as_deref(), true)) }
                            td {
                                (value_label(lang, kind, r.to.as_deref(), false))
                                @if down { " " span.badge.risk { "↓ " (t(lang, "vh.down")) } }
                                @if up { " " span.badge { "↑ " (t(lang, "vh.up")) } }
                            }
                            td.num {
                                @if links {
                                    @let cell = TransitionFilter { kind, from_snapshot: from, from: r.from.clone(), to_snapshot: to, to: r.to.clone() };
                                    a href=(format!("/customers?transition={}", cell.to_param())) { (i18n::count(r.customers.max(0) as u64)) }
                                } @else {
                                    (i18n::count(r.customers.max(0) as u64))
                                }
                            }
                            td.num { (money(r.clv_from)) " → " (money(r.clv_to)) }
                            td.num { (i18n::money_cents(lang, r.margin_from_cents)) " → " (i18n::money_cents(lang, r.margin_to_cents)) }
                        }
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
        let mut seen = std::collections::HashSet::new();
        for (k, en, zh) in MESSAGES {
            assert!(seen.insert(*k), "{k} twice");
            assert!(!en.is_empty() && !zh.is_empty(), "{k}");
            assert_ne!(en, zh, "{k} is not translated");
        }
        for key in i18n::used_label_keys(include_str!("trajectory.rs")) {
            assert_ne!(t(Lang::En, key), "?", "{key}");
            assert_ne!(t(Lang::Zh, key), "?", "{key}");
        }
    }
}
