//! The value dashboard: headline figures and SVG plots drawn on the server.

use std::collections::HashSet;

use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use patron_value::abc::AbcClass;
use patron_value::churn::ReasonKind;

use crate::i18n::{self, Lang};
use crate::svg::{self, Frame, H, LEFT, RIGHT, TOP, W};
use crate::values::{self, Analysis};
use crate::{html, layout, store_error_page, WebState};
use patron_app::Session;

use crate::overview::CHURN_ROWS;

/// The dashboard before the first value refresh, computed live from the orders. The churn
/// list names only the customers the viewer may read (analysts: none).
pub async fn page(st: &WebState, lang: Lang, me: &Session) -> Response {
    let analysis = match values::analyse(&st.store).await {
        Ok(a) => a,
        Err(e) => return store_error_page(lang, &e),
    };
    let readable = match &analysis {
        Some(a) => {
            let listed: Vec<i64> = a
                .churn
                .iter()
                .take(CHURN_ROWS)
                .filter_map(|w| a.ids.get(w.customer as usize).copied())
                .collect();
            match me.readable(&st.store, &listed).await {
                Ok(r) => r,
                Err(e) => return store_error_page(lang, &e),
            }
        }
        None => Default::default(),
    };
    let body = match &analysis {
        None => html! {
            div.pagehead { h1 { (lang.t("dash.title")) } }
            div.panel { p.empty { (lang.t("dash.no_orders")) } }
        },
        Some(a) => dashboard(lang, a, &readable),
    };
    html(
        StatusCode::OK,
        layout::page_at(lang, lang.t("dash.title"), "dashboard", "/dashboard", body),
    )
}

fn dashboard(lang: Lang, a: &Analysis, readable: &HashSet<i64>) -> Markup {
    let buyers = a.summaries.iter().filter(|s| s.first_day.is_some()).count() as u64;
    html! {
        div.pagehead {
            div {
                h1 { (lang.t("dash.title")) }
                p.sub {
                    (lang.t("dash.period")) " " (i18n::date(lang, a.first_day)) " " (lang.t("dash.to")) " " (i18n::date(lang, a.last_day))
                }
            }
            form.recompute method="post" action="/dashboard/recompute" { (crate::auth::csrf_field())
                button.primary type="submit" id="recompute" { (lang.t("dash.recompute")) }
            }
        }
        div.notice.info { (lang.t("dash.computed_from_orders")) }
        div.kpis {
            div.kpi { span { (lang.t("dash.customers")) } strong { (i18n::count(a.customers.max(0) as u64)) } }
            div.kpi { span { (lang.t("dash.buyers")) } strong { (i18n::count(buyers)) } }
            div.kpi { span { (lang.t("dash.revenue")) } strong { (i18n::money_short(lang, a.revenue)) } }
            div.kpi { span { (lang.t("dash.margin")) } strong { (i18n::money_short(lang, a.margin)) } }
        }
        div.plots {
            section.panel.plotpanel { h2 { (lang.t("dash.whale")) } (whale(lang, a)) }
            section.panel.plotpanel { h2 { (lang.t("dash.abc")) } (pareto(lang, a)) }
            section.panel.plotpanel { h2 { (lang.t("dash.rfm")) } (rfm_grid(lang, a)) }
            section.panel.plotpanel { h2 { (lang.t("dash.funnel")) } (funnel(lang, a)) }
            section.panel.plotpanel { h2 { (lang.t("dash.clv")) } (histogram(lang, a)) }
            section.panel.plotpanel { h2 { (lang.t("dash.segments")) } (segments(lang, a)) }
        }
        section.panel.flush id="churn" {
            h2 { (lang.t("dash.churn")) }
            (churn_table(lang, a, readable))
        }
    }
}

fn whale(lang: Lang, a: &Analysis) -> Markup {
    let w = &a.whale;
    if w.curve.is_empty() {
        return svg::empty(lang.t("dash.no_orders"));
    }
    let fig = &w.figures;
    let ymax = w
        .curve
        .iter()
        .map(|p| p.profit_pct)
        .fold(100.0f64, f64::max);
    let ymin = w.curve.iter().map(|p| p.profit_pct).fold(0.0f64, f64::min);
    let yt = svg::ticks(ymin, ymax * 1.05, 5);
    let f = Frame {
        x0: 0.0,
        x1: 100.0,
        y0: yt.first().copied().unwrap_or(0.0).min(ymin),
        y1: yt.last().copied().unwrap_or(100.0).max(ymax),
    };
    let path: String = w
        .curve
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { "L" },
                f.px(p.customers_pct),
                f.py(p.profit_pct)
            )
        })
        .collect();
    let top = fig.top_share;
    html! {
        (svg::svg("whale-plot", lang.t("dash.whale"), html! {
            (svg::axes(&f, &svg::ticks(0.0, 100.0, 5), &yt, |x| format!("{}%", svg::num(x)), |y| format!("{}%", svg::num(y)), lang.t("dash.whale_x"), lang.t("dash.whale_y")))
            line.ref x1=(f.px(0.0)) x2=(f.px(100.0)) y1=(f.py(100.0)) y2=(f.py(100.0)) {}
            line.marker x1=(f.px(20.0)) x2=(f.px(20.0)) y1=(f.py(f.y0)) y2=(f.py(top)) {}
            line.marker x1=(f.px(0.0)) x2=(f.px(20.0)) y1=(f.py(top)) y2=(f.py(top)) {}
            path.curve d=(path) {}
            (svg::point(&format!("{} 20% → {}", lang.t("dash.whale_x"), i18n::pct(top)), None, html! { circle.dot cx=(f.px(20.0)) cy=(f.py(top)) r="4" {} }))
            text.annot x=(f.px(20.0) + 6.0) y=(f.py(top) + 14.0) { "20% → " (i18n::pct(top)) }
            (svg::point(&format!("{} {} ({})", lang.t("dash.peak"), i18n::pct(fig.peak), i18n::pct(fig.peak_at_customers_pct)), None, html! { circle.dot cx=(f.px(fig.peak_at_customers_pct)) cy=(f.py(fig.peak)) r="4" {} }))
            @let anchor = if fig.peak_at_customers_pct > 75.0 { "end" } else { "middle" };
            text.annot x=(f.px(fig.peak_at_customers_pct)) y=(f.py(fig.peak) - 8.0) text-anchor=(anchor) { (lang.t("dash.peak")) " " (i18n::pct(fig.peak)) }
        }))
        ul.figs {
            li { (lang.t("dash.top20")) " " strong { (i18n::pct(fig.top_share)) } " " (lang.t("dash.of_margin")) }
            li { (lang.t("dash.peak")) ": " strong { (i18n::pct(fig.peak)) } " (" (i18n::pct(fig.peak_at_customers_pct)) ")" }
            li { (lang.t("dash.bottom30")) " " strong { (i18n::pct(fig.bottom_destroyed)) } " " (lang.t("dash.of_peak")) }
            li { (lang.t("dash.unprofitable")) ": " strong { (i18n::count(fig.unprofitable_customers)) } }
        }
    }
}

fn pareto(lang: Lang, a: &Analysis) -> Markup {
    let stats = &a.abc.stats;
    if stats.is_empty() {
        return svg::empty(lang.t("dash.no_orders"));
    }
    let f = Frame {
        x0: 0.0,
        x1: 3.0,
        y0: 0.0,
        y1: 100.0,
    };
    let bw = (f.px(1.0) - f.px(0.0)) * 0.6;
    let cum: String = stats
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { "L" },
                f.px(i as f64 + 0.5),
                f.py((s.cumulative_share * 100.0).clamp(0.0, 100.0))
            )
        })
        .collect();
    let class_name = |c: AbcClass| match c {
        AbcClass::A => "A",
        AbcClass::B => "B",
        AbcClass::C => "C",
    };
    html! {
        (svg::svg("abc-plot", lang.t("dash.abc"), html! {
            (svg::axes(&f, &[], &svg::ticks(0.0, 100.0, 5), |_| String::new(), |y| format!("{}%", svg::num(y)), lang.t("dash.class"), lang.t("dash.abc_y")))
            @for (i, s) in stats.iter().enumerate() {
                @let v = (s.value_share * 100.0).clamp(0.0, 100.0);
                (svg::point(&format!("{}: {} · {} ({})", class_name(s.class), i18n::count(s.customers), i18n::money(lang, s.value), i18n::pct(v)), None, html! {
                    rect class=(format!("bar abc-{}", class_name(s.class))) x=(f.px(i as f64 + 0.5) - bw / 2.0) y=(f.py(v)) width=(bw) height=(f.py(0.0) - f.py(v)) {}
                }))
                text.annot x=(f.px(i as f64 + 0.5)) y=(f.py(v) - 6.0) text-anchor="middle" { (i18n::pct(v)) }
                text x=(f.px(i as f64 + 0.5)) y=(f.py(0.0) + 16.0) text-anchor="middle" class="cls" {
                    (class_name(s.class)) " · " (i18n::pct(s.customer_share * 100.0)) " " (lang.t("dash.share_customers"))
                }
            }
            path.cumline d=(cum) {}
            @for (i, s) in stats.iter().enumerate() {
                circle.dot cx=(f.px(i as f64 + 0.5)) cy=(f.py((s.cumulative_share * 100.0).clamp(0.0, 100.0))) r="3.5" {}
            }
            text.annot x=(W - RIGHT - 4.0) y=(TOP + 12.0) text-anchor="end" { "— " (lang.t("dash.cumulative")) }
        }))
    }
}

fn rfm_grid(lang: Lang, a: &Analysis) -> Markup {
    let grid = &a.rfm.grid;
    let max = grid
        .iter()
        .flatten()
        .map(|c| c.customers)
        .max()
        .unwrap_or(0);
    if max == 0 {
        return svg::empty(lang.t("dash.no_orders"));
    }
    let f = Frame {
        x0: 0.5,
        x1: 5.5,
        y0: 0.5,
        y1: 5.5,
    };
    let cw = f.px(1.5) - f.px(0.5);
    let ch = f.py(0.5) - f.py(1.5);
    html! {
        (svg::svg("rfm-plot", lang.t("dash.rfm"), html! {
            (svg::axes(&f, &[1.0, 2.0, 3.0, 4.0, 5.0], &[1.0, 2.0, 3.0, 4.0, 5.0], svg::num, svg::num, lang.t("dash.frequency"), lang.t("dash.recency")))
            @for r in 1..=5usize {
                @for fr in 1..=5usize {
                    @let cell = grid[r - 1][fr - 1];
                    @let t = cell.customers as f64 / max as f64;
                    (svg::point(&format!("R{r} F{fr}: {} · {}", i18n::count(cell.customers), i18n::money(lang, cell.revenue)), None, html! {
                        rect.cell x=(f.px(fr as f64 - 0.5) + 1.0) y=(f.py(r as f64 + 0.5) + 1.0) width=(cw - 2.0) height=(ch - 2.0) fill=(heat(t)) {}
                    }))
                    text x=(f.px(fr as f64)) y=(f.py(r as f64) + 4.0) text-anchor="middle" class=(if t > 0.55 { "celltext light" } else { "celltext" }) {
                        (i18n::count(cell.customers))
                    }
                }
            }
        }))
    }
}

/// A colour from light to dark teal for `t` in 0..=1.
fn heat(t: f64) -> String {
    let t = t.clamp(0.0, 1.0).sqrt();
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    format!(
        "rgb({},{},{})",
        lerp(240.0, 13.0),
        lerp(247.0, 84.0),
        lerp(250.0, 110.0)
    )
}

fn funnel(lang: Lang, a: &Analysis) -> Markup {
    let stages = [
        ("stage.suspect", a.no_order),
        ("stage.first_time_buyer", a.first_time),
        ("stage.repeat_buyer", a.repeat),
        ("stage.advocate", 0u64),
    ];
    let total: u64 = stages.iter().map(|s| s.1).sum();
    if total == 0 {
        return svg::empty(lang.t("dash.no_customers"));
    }
    let max = stages.iter().map(|s| s.1).max().unwrap_or(0).max(1) as f64;
    let row_h = (H - TOP - 24.0) / stages.len() as f64;
    let label_w = 150.0;
    let avail = W - LEFT - RIGHT - label_w + 40.0;
    let cx = label_w + avail / 2.0 + 10.0;
    html! {
        (svg::svg("funnel-plot", lang.t("dash.funnel"), html! {
            @for (i, (key, n)) in stages.iter().enumerate() {
                @let w = (*n as f64 / max * avail).max(2.0);
                @let y = TOP + i as f64 * row_h;
                text.stage x=(label_w) y=(y + row_h / 2.0 + 4.0) text-anchor="end" { (lang.t(key)) }
                @let share = if total > 0 { *n as f64 * 100.0 / total as f64 } else { 0.0 };
                (svg::point(&format!("{}: {} ({})", lang.t(key), i18n::count(*n), i18n::pct(share)), None, html! {
                    rect class=(format!("bar funnel-{i}")) x=(cx - w / 2.0) y=(y + 6.0) width=(w) height=(row_h - 12.0) rx="3" {}
                }))
                @let inside = w > 150.0;
                text x=(if inside { cx } else { cx + w / 2.0 + 8.0 }) y=(y + row_h / 2.0 + 4.0) text-anchor=(if inside { "middle" } else { "start" }) class=(if inside { "annot onbar" } else { "annot" }) {
                    (i18n::count(*n)) " (" (i18n::pct(if total > 0 { *n as f64 * 100.0 / total as f64 } else { 0.0 })) ")"
                }
            }
        }))
    }
}

fn histogram(lang: Lang, a: &Analysis) -> Markup {
    // Margin to date per buying customer, up to the 99th percentile (the last bin holds the rest).
    let mut v: Vec<f64> = a
        .summaries
        .iter()
        .filter(|s| s.first_day.is_some())
        .map(|s| s.margin)
        .filter(|m| m.is_finite())
        .collect();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return html! { p.empty { (lang.t("dash.no_orders")) } };
    }
    let lo = v[0].min(0.0);
    let p99 = v[((v.len() - 1) as f64 * 0.99) as usize].max(lo + 1.0);
    let bins = 20usize;
    let step = svg::ticks(lo, p99, bins)
        .windows(2)
        .map(|w| w[1] - w[0])
        .next()
        .unwrap_or((p99 - lo) / bins as f64);
    let start = (lo / step).floor() * step;
    let n_bins = (((p99 - start) / step).ceil() as usize).clamp(1, 60);
    let mut counts = vec![0u64; n_bins];
    for m in &v {
        let b = (((m - start) / step).floor().max(0.0) as usize).min(n_bins - 1);
        counts[b] += 1;
    }
    let end = start + step * n_bins as f64;
    let cmax = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let yt = svg::ticks(0.0, cmax, 5);
    let f = Frame {
        x0: start,
        x1: end,
        y0: 0.0,
        y1: yt.last().copied().unwrap_or(cmax).max(cmax),
    };
    html! {
        p.plotnote { (lang.t("dash.margin_hist")) }
        (svg::svg("clv-plot", lang.t("dash.clv"), html! {
            (svg::axes(&f, &svg::ticks(start, end, 6), &yt, svg::short, svg::short, lang.t("value.margin_to_date"), lang.t("dash.count")))
            @for (i, c) in counts.iter().enumerate() {
                @let x = start + step * i as f64;
                (svg::point(&format!("{} – {}: {}", i18n::money_short(lang, x), i18n::money_short(lang, x + step), i18n::count(*c)), None, html! {
                    rect.bar.hist x=(f.px(x) + 0.5) y=(f.py(*c as f64)) width=((f.px(x + step) - f.px(x) - 1.0).max(1.0)) height=(f.py(0.0) - f.py(*c as f64)) {}
                }))
            }
        }))
    }
}

fn segments(lang: Lang, a: &Analysis) -> Markup {
    if a.rfm.segments.iter().all(|s| s.customers == 0) {
        return svg::empty(lang.t("dash.no_orders"));
    }
    let total: u64 = a
        .rfm
        .segments
        .iter()
        .map(|s| s.customers)
        .sum::<u64>()
        .max(1);
    let max = a
        .rfm
        .segments
        .iter()
        .map(|s| s.customers)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let n = a.rfm.segments.len().max(1) as f64;
    let row_h = (H - TOP - 8.0) / n;
    let label_w = 150.0;
    let avail = W - label_w - 110.0;
    html! {
        (svg::svg("segments-plot", lang.t("dash.segments"), html! {
            @for (i, s) in a.rfm.segments.iter().enumerate() {
                @let y = TOP + i as f64 * row_h;
                @let w = s.customers as f64 / max * avail;
                @let key = format!("segment.{}", patron_value::rfm::Segment::code(s.segment));
                text.stage x=(label_w) y=(y + row_h / 2.0 + 4.0) text-anchor="end" { (lang.t(&key)) }
                (svg::point(&format!("{}: {} ({})", lang.t(&key), i18n::count(s.customers), i18n::pct(s.customers as f64 * 100.0 / total as f64)), None, html! {
                    rect.bar.seg x=(label_w + 8.0) y=(y + 3.0) width=(w.max(1.0)) height=(row_h - 6.0) rx="2" {}
                }))
                text.annot x=(label_w + 14.0 + w) y=(y + row_h / 2.0 + 4.0) { (i18n::count(s.customers)) " (" (i18n::pct(s.customers as f64 * 100.0 / total as f64)) ")" }
            }
        }))
    }
}

fn churn_table(lang: Lang, a: &Analysis, readable: &HashSet<i64>) -> Markup {
    if a.churn.is_empty() {
        return html! { p.empty { (lang.t("dash.no_churn")) } };
    }
    html! {
        table.data {
            thead { tr {
                th { "#" }
                th { (lang.t("dash.customer")) }
                th.num { (lang.t("value.value_at_risk")) }
                th { (lang.t("dash.reasons")) }
            } }
            tbody {
                @for (k, w) in a.churn.iter().take(CHURN_ROWS).enumerate() {
                    @let id = a.ids.get(w.customer as usize).copied().unwrap_or(0);
                    tr {
                        td.muted { (k + 1) }
                        td {
                            @if readable.contains(&id) {
                                a href=(format!("/customers/{id}")) { "#" (id) }
                            } @else {
                                span.muted { (lang.t("dash.withheld")) }
                            }
                        }
                        td.num { (i18n::money(lang, w.value_at_risk)) }
                        td {
                            @for r in &w.reasons {
                                span.reason { (reason(lang, &r.kind)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(crate) fn reason(lang: Lang, k: &ReasonKind) -> String {
    match k {
        ReasonKind::RevenueDrop {
            current,
            previous,
            change,
            ..
        } => format!(
            "{} {} ({} → {}, {})",
            lang.t("reason.revenue_drop"),
            i18n::pct(change * 100.0),
            i18n::money(lang, *previous),
            i18n::money(lang, *current),
            lang.t("reason.drop_detail")
        ),
        ReasonKind::LongAbsence {
            days_since_last,
            mean_gap_days,
            ..
        } => format!(
            "{}: {:.0} {} {:.0} {}",
            lang.t("reason.long_absence"),
            days_since_last,
            lang.t("reason.absence_detail"),
            mean_gap_days,
            lang.t("reason.days")
        ),
        ReasonKind::LowPAlive { p_alive, threshold } => format!(
            "{}: {:.2} < {:.2}",
            lang.t("reason.low_p_alive"),
            p_alive,
            threshold
        ),
        ReasonKind::NoSecondPurchase {
            days_since_purchase,
            typical_gap_days,
            quantile,
            repeat_buyers,
        } if *repeat_buyers > 0 => format!(
            "{}: {:.0} {}; {} {} {:.0} {}",
            lang.t("reason.no_second_purchase"),
            days_since_purchase,
            lang.t("reason.one_time_since"),
            i18n::pct(quantile * 100.0),
            lang.t("reason.one_time_typical"),
            typical_gap_days,
            lang.t("reason.days")
        ),
        ReasonKind::NoSecondPurchase {
            days_since_purchase,
            typical_gap_days,
            ..
        } => format!(
            "{}: {:.0} {}; {} {:.0} {} ({})",
            lang.t("reason.no_second_purchase"),
            days_since_purchase,
            lang.t("reason.one_time_since"),
            lang.t("reason.one_time_default"),
            typical_gap_days,
            lang.t("reason.days"),
            lang.t("reason.one_time_default_why")
        ),
    }
}
