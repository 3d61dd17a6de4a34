//! The value dashboard from the latest stored value snapshot (`value_snapshots.report`, written
//! by the server's value refresh): model-based CLV distribution, loyalty funnel, whale curve
//! with the 20/80/30 figures, ABC Pareto chart, RFM heat map, grade distribution, the churn-risk
//! list, and a period-over-period comparison computed from the order lines. Without a snapshot
//! the page falls back to the figures computed live from the orders ([`crate::dashboard`]).
//! `POST /dashboard/recompute` runs the refresh (the Recompute button).
//!
//! The refresh also stores the figures that need every order line or every value row (the
//! period comparisons and the CLV histogram: [`SnapshotFigures`], under the report's
//! `dashboard` key), so the first view after a refresh costs no more than later ones; it used to
//! take about 11 s at 1 million customers, reading 3 million order lines and 1 million value
//! rows per snapshot and period.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use patron_app::Session;
use patron_store::Role;

use crate::i18n::{self, Lang};
use crate::svg::{self, Frame, H, LEFT, RIGHT, TOP, W};
use crate::{error_page, get_param, html, layout, parse_pairs, store_error_page, Ctx, WebState};
use patron_app::dashboard::clv_range;
use patron_app::period::{self, Comparison, Pair, Period};
use patron_app::report::{
    AbcClass, Churn, Grades, Rfm, SnapshotReport, SnapshotReport as Report, Whale,
};

/// Everything the page shows besides the report.
struct Extra {
    customers: u64,
    advocates: u64,
    /// (lower bound, step, counts) of the CLV histogram.
    clv_bins: Option<(f64, f64, Vec<u64>)>,
    comparison: Option<std::sync::Arc<Comparison>>,
}

pub async fn page(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawQuery(q): RawQuery,
) -> Response {
    let pairs = parse_pairs(q.unwrap_or_default().as_bytes());
    let period = get_param(&pairs, "period")
        .and_then(Period::parse)
        .unwrap_or_default();
    let notice = get_param(&pairs, "recomputed").map(str::to_string);
    let snapshot = match st.store.latest_snapshot().await {
        Ok(s) => s,
        Err(e) => return store_error_page(lang, &e),
    };
    let Some(snapshot) = snapshot else {
        return crate::dashboard::page(&st, lang, &me).await;
    };
    // A report written by an older version: the live figures until the next recompute.
    let Some(report) = SnapshotReport::of(&snapshot) else {
        return crate::dashboard::page(&st, lang, &me).await;
    };
    let extra = match extra(&st, &report, snapshot.id, period).await {
        Ok(x) => x,
        Err(e) => return store_error_page(lang, &e),
    };
    let personal = me.user.sees_records();
    // A manager whose scope is not everything sees the names of the customers in it only.
    let listed: Vec<i64> = report
        .churn
        .top
        .iter()
        .take(CHURN_ROWS)
        .map(|w| w.customer_id)
        .collect();
    let readable = match me.readable(&st.store, &listed).await {
        Ok(r) => r,
        Err(e) => return store_error_page(lang, &e),
    };
    let hidden: std::collections::HashSet<i64> = listed
        .into_iter()
        .filter(|id| !readable.contains(id))
        .collect();
    let who = Audience {
        personal,
        recompute: may_recompute(me.user.role),
        hidden: &hidden,
    };
    let body = dashboard(
        lang,
        &report,
        &extra,
        snapshot.computed_at,
        period,
        notice.as_deref(),
        who,
    );
    // The breakdown by the picked dimension (none picked: nothing computed).
    let by = get_param(&pairs, "by").and_then(patron_app::breakdown::Dimension::parse);
    let breakdown = match by {
        Some(by) => match patron_app::breakdown::breakdown(&st.store, &me, by, period).await {
            Ok(b) => Some(b),
            Err(patron_app::AppError::Store(e)) => return store_error_page(lang, &e),
            Err(patron_app::AppError::Forbidden(_)) => None,
        },
        None => None,
    };
    let body = html! { (body) (crate::breakdown::section(lang, period, breakdown.as_ref())) };
    // Grade and stage movements between two refreshes (default: the latest two).
    let movements = match crate::trajectory::dashboard_section(&st, &me, lang, &pairs).await {
        Ok(m) => m,
        Err(e) => return crate::app_error_page(lang, &e),
    };
    let body = html! { (body) (movements) };
    html(
        StatusCode::OK,
        layout::page_at(lang, lang.t("dash.title"), "dashboard", "/dashboard", body),
    )
}

/// The dashboard's figures read from whole tables (customer count, advocates; the CLV histogram
/// of snapshots without [`SnapshotFigures`]): about 0.4 s at 1 million customers in SQLite, so
/// they are kept per snapshot for [`FIGURES_TTL`]. The histogram changes only with a new
/// snapshot; the counts may lag new customers by at most that long. The first view of a snapshot
/// that carries the counts of its refresh shows those instead of counting (so it reads no whole
/// table at all); the views after [`FIGURES_TTL`] count again.
#[derive(Clone, Default, Debug)]
pub struct FiguresCache(std::sync::Arc<std::sync::Mutex<Option<CachedFigures>>>);

#[derive(Clone, Debug)]
struct CachedFigures {
    snapshot: i64,
    at: std::time::Instant,
    customers: u64,
    advocates: u64,
    clv_bins: Option<(f64, f64, Vec<u64>)>,
}

const FIGURES_TTL: std::time::Duration = std::time::Duration::from_secs(60);

impl FiguresCache {
    async fn get(
        &self,
        st: &WebState,
        r: &Report,
        snapshot: i64,
    ) -> Result<CachedFigures, patron_store::StoreError> {
        let cached = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let first_view = match cached {
            Some(c) if c.snapshot == snapshot && c.at.elapsed() < FIGURES_TTL => return Ok(c),
            Some(c) => c.snapshot != snapshot,
            None => true,
        };
        let stored = r
            .dashboard
            .as_ref()
            .filter(|_| first_view)
            .and_then(|d| Some((d.customers?, d.advocates?)));
        let (customers, advocates) = match stored {
            Some(counts) => counts,
            None => (
                st.store.counts().await?.0.max(0) as u64,
                // The stored stage, as the refresh counted it and the list filters it.
                st.store.stage_count("advocate").await?.max(0) as u64,
            ),
        };
        let clv_bins = match (&r.dashboard, clv_range(&r.clv.deciles)) {
            (Some(d), _) => d.clv_bins.clone(),
            (None, Some((lo, step, n))) => {
                Some((lo, step, st.store.clv_histogram(lo, step, n).await?))
            }
            (None, None) => None,
        };
        let c = CachedFigures {
            snapshot,
            at: std::time::Instant::now(),
            customers,
            advocates,
            clv_bins,
        };
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(c.clone());
        Ok(c)
    }
}

async fn extra(
    st: &WebState,
    r: &Report,
    snapshot: i64,
    period: Period,
) -> Result<Extra, patron_store::StoreError> {
    let figures = st.figures.get(st, r, snapshot).await?;
    let comparison = match &r.dashboard {
        Some(d) => d
            .periods
            .iter()
            .find(|c| c.period == period)
            .cloned()
            .map(std::sync::Arc::new),
        None => st.periods.get(&st.store, snapshot, period).await?,
    };
    Ok(Extra {
        customers: figures.customers,
        advocates: figures.advocates,
        clv_bins: figures.clv_bins,
        comparison,
    })
}

/// Whether `role` may press the dashboard's "Recompute values" (the card links to it then).
pub(crate) fn may_recompute(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Manager)
}

/// `POST /dashboard/recompute`: runs the value refresh as of today (orders dated up to today,
/// with the settings of the last snapshot; see `refresh_like_last_time`), then shows the
/// dashboard.
pub async fn recompute(State(st): State<WebState>, Ctx { lang }: Ctx) -> Response {
    let started = std::time::Instant::now();
    match patron_app::value::refresh_like_last_time(&st.store).await {
        Ok(_) => Redirect::to(&format!(
            "/dashboard?recomputed={:.1}",
            started.elapsed().as_secs_f64()
        ))
        .into_response(),
        // Nothing to analyse yet is the user's situation, not a failure of the server.
        Err(patron_app::value::RefreshError::Analysis(patron_value::AnalysisError::NoOrders)) => {
            error_page(
                lang,
                StatusCode::CONFLICT,
                lang.t("dash.recompute_failed"),
                lang.t("dash.no_orders"),
            )
        }
        Err(patron_app::value::RefreshError::Store(e)) => store_error_page(lang, &e),
        Err(e) => {
            tracing::error!(error = %e, "value refresh from the dashboard failed");
            error_page(
                lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                lang.t("dash.recompute_failed"),
                &e.to_string(),
            )
        }
    }
}

/// The published name of a purchase model (the report holds its code).
fn model_name(kind: &str) -> &str {
    match kind {
        "bgnbd" => "BG/NBD",
        "mbgnbd" => "MBG/NBD",
        "paretonbd" => "Pareto/NBD",
        other => other,
    }
}

fn f(v: Option<f64>) -> f64 {
    v.filter(|x| x.is_finite()).unwrap_or(0.0)
}

fn dashboard(
    lang: Lang,
    r: &Report,
    x: &Extra,
    computed_at: chrono::DateTime<chrono::Utc>,
    period: Period,
    notice: Option<&str>,
    who: Audience<'_>,
) -> Markup {
    let buyers = r.totals.customers;
    html! {
        div.pagehead {
            div {
                h1 { (lang.t("dash.title")) }
                p.sub {
                    (lang.t("dash.period")) " " (i18n::date(lang, r.first_order)) " " (lang.t("dash.to")) " " (i18n::date(lang, r.last_order)) " · "
                    @if let Some(d) = r.as_of {
                        span id="as-of" { (lang.t("dash.analysed_to")) " " (i18n::date(lang, d)) } ", "
                        (lang.t("dash.computed_at")) " " (i18n::datetime(lang, computed_at)) " UTC"
                    } @else {
                        (lang.t("dash.as_of")) " " (i18n::datetime(lang, computed_at)) " UTC"
                    }
                    @if let Some(m) = &r.model {
                        " · " (lang.t("dash.model")) " " span.mono { (model_name(&m.kind)) } " (" (if r.unit == "week" { lang.t("dash.unit_week") } else { lang.t("dash.unit_day") }) ")"
                    }
                }
            }
            @if who.recompute {
                form.recompute method="post" action="/dashboard/recompute" { (crate::auth::csrf_field())
                    button.primary type="submit" id="recompute" { (lang.t("dash.recompute")) }
                }
            }
        }
        @if !who.personal {
            div.notice.info id="redacted" role="note" { (lang.t("dash.redacted")) }
        }
        @if let Some(secs) = notice {
            div.notice.ok id="recomputed" role="status" { (lang.t("dash.recomputed")) " (" (secs) " s)" }
        }
        div.kpis.six {
            div.kpi { span { (lang.t("dash.customers")) } strong { (i18n::count(x.customers)) } }
            div.kpi { span { (lang.t("dash.buyers")) } strong { (i18n::count(buyers)) } }
            div.kpi { span { (lang.t("dash.revenue")) } strong { (i18n::money_short(lang, f(r.totals.revenue))) } }
            div.kpi { span { (lang.t("dash.margin")) } strong { (i18n::money_short(lang, f(r.totals.margin))) } }
            div.kpi { span { (lang.t("dash.total_clv")) } strong { (i18n::money_short(lang, f(r.totals.clv))) } }
            div.kpi.risk { span { (lang.t("dash.total_at_risk")) } strong { (i18n::money_short(lang, f(r.churn.value_at_risk))) } }
        }
        div.plots {
            section.panel.plotpanel { h2 { (lang.t("dash.clv")) } (clv_histogram(lang, r, x)) }
            section.panel.plotpanel { h2 { (lang.t("dash.funnel")) } (funnel(lang, r, x)) }
            section.panel.plotpanel { h2 { (lang.t("dash.whale")) } (whale(lang, &r.whale)) }
            section.panel.plotpanel { h2 { (lang.t("dash.abc")) } (pareto(lang, &r.abc)) }
            section.panel.plotpanel { h2 { (lang.t("dash.rfm")) } (rfm_heat(lang, &r.rfm)) }
            section.panel.plotpanel { h2 { (lang.t("dash.grades")) } (grades(lang, &r.grades)) }
        }
        (purchase_model(lang, r))
        (comparison(lang, x.comparison.as_deref(), period))
        section.panel.flush id="churn" {
            h2 {
                (lang.t("dash.churn"))
                " " small.muted { (i18n::count(r.churn.warned_customers)) " " (lang.t("dash.warned")) }
            }
            (churn_table(lang, &r.churn, who))
            @if who.personal {
                p.pad.small { a href=[list_link("churn=yes&sort=-value_at_risk".into())] { (lang.t("dash.all_at_risk")) " →" } }
            }
        }
    }
}

fn clv_histogram(lang: Lang, r: &Report, x: &Extra) -> Markup {
    let Some((start, step, counts)) = x.clv_bins.as_ref().filter(|b| b.2.iter().any(|c| *c > 0))
    else {
        return svg::empty(lang.t("dash.no_clv"));
    };
    let n = counts.len();
    let end = start + step * n as f64;
    let cmax = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let yt = svg::ticks(0.0, cmax, 5);
    let fr = Frame {
        x0: *start,
        x1: end,
        y0: 0.0,
        y1: yt.last().copied().unwrap_or(cmax).max(cmax),
    };
    let d = &r.clv.deciles;
    let median = d.get(5).copied().unwrap_or(0.0);
    html! {
        p.plotnote {
            (lang.t("dash.clv_note")) " "
            @if let Some(h) = r.clv.horizon { (svg::num(h)) " " (if r.unit == "week" { lang.t("dash.unit_week") } else { lang.t("dash.unit_day") }) }
        }
        (svg::svg("clv-plot", lang.t("dash.clv"), html! {
            (svg::axes(&fr, &svg::ticks(*start, end, 6), &yt, svg::short, svg::short, lang.t("value.clv"), lang.t("dash.count")))
            @for (i, c) in counts.iter().enumerate() {
                @let x0 = start + step * i as f64;
                @let last = i + 1 == n;
                @let label = format!("{}{}: {}", i18n::money_short(lang, x0), if last { " +".to_string() } else { format!(" – {}", i18n::money_short(lang, x0 + step)) }, i18n::count(*c));
                (svg::point(&label, None, html! {
                    rect class=(if last { "bar hist tail" } else { "bar hist" }) x=(fr.px(x0) + 0.5) y=(fr.py(*c as f64)) width=((fr.px(x0 + step) - fr.px(x0) - 1.0).max(1.0)) height=(fr.py(0.0) - fr.py(*c as f64)) {}
                }))
            }
            @if median > *start && median < end {
                line.marker x1=(fr.px(median)) x2=(fr.px(median)) y1=(fr.py(0.0)) y2=(fr.py(fr.y1)) {}
                text.annot x=(fr.px(median) + 4.0) y=(TOP + 12.0) { (lang.t("dash.median")) " " (i18n::money_short(lang, median)) }
            }
        }))
        @if d.len() == 11 {
            ul.figs {
                li { (lang.t("dash.p10")) ": " strong { (i18n::money(lang, d[1])) } }
                li { (lang.t("dash.median")) ": " strong { (i18n::money(lang, d[5])) } }
                li { (lang.t("dash.p90")) ": " strong { (i18n::money(lang, d[9])) } }
                li { (lang.t("dash.max")) ": " strong { (i18n::money(lang, d[10])) } }
            }
        }
    }
}

fn funnel(lang: Lang, r: &Report, x: &Extra) -> Markup {
    let buyers = r.loyalty.first_time_buyer + r.loyalty.repeat_buyer;
    let stages = [
        ("dash.stage_all", x.customers.max(buyers), "/customers"),
        ("dash.stage_buyers", buyers, "/customers?sort=-clv"),
        (
            "stage.repeat_buyer",
            r.loyalty.repeat_buyer,
            "/customers?stage=repeat_buyer",
        ),
        ("stage.advocate", x.advocates, "/customers?stage=advocate"),
    ];
    if stages[0].1 == 0 {
        return svg::empty(lang.t("dash.no_customers"));
    }
    let max = stages[0].1 as f64;
    let row_h = (H - TOP - 24.0) / stages.len() as f64;
    let label_w = 150.0;
    let avail = W - LEFT - RIGHT - label_w + 40.0;
    let cx = label_w + avail / 2.0 + 10.0;
    html! {
        (svg::svg("funnel-plot", lang.t("dash.funnel"), html! {
            @for (i, (key, n, link)) in stages.iter().enumerate() {
                @let w = (*n as f64 / max * avail).max(2.0);
                @let y = TOP + i as f64 * row_h;
                text.stage x=(label_w) y=(y + row_h / 2.0 + 4.0) text-anchor="end" { (lang.t(key)) }
                @let inside = w > 170.0;
                @let conv = if i == 0 { String::new() } else {
                    let prev = stages[i - 1].1;
                    if prev > 0 { format!(" · {}", i18n::pct(*n as f64 * 100.0 / prev as f64)) } else { String::new() }
                };
                @let href = crate::layout::may(patron_app::Action::ReadRecords).then(|| link.to_string());
                (svg::point(&format!("{}: {}{}", lang.t(key), i18n::count(*n), conv), href, html! {
                    rect class=(format!("bar funnel-{i}")) x=(cx - w / 2.0) y=(y + 6.0) width=(w) height=(row_h - 12.0) rx="3" {}
                }))
                text x=(if inside { cx } else { cx + w / 2.0 + 8.0 }) y=(y + row_h / 2.0 + 4.0) text-anchor=(if inside { "middle" } else { "start" }) class=(if inside { "annot onbar" } else { "annot" }) {
                    (i18n::count(*n)) (conv)
                }
            }
        }))
        p.plotnote.below { (lang.t("dash.funnel_note")) }
    }
}

fn whale(lang: Lang, w: &Whale) -> Markup {
    let pts: Vec<(f64, f64)> = w
        .curve
        .iter()
        .filter_map(|p| Some((p.customers_pct?, p.profit_pct?)))
        .collect();
    if pts.is_empty() {
        return html! { p.empty { (lang.t("dash.no_orders")) } };
    }
    let ymax = pts.iter().map(|p| p.1).fold(100.0f64, f64::max);
    let ymin = pts.iter().map(|p| p.1).fold(0.0f64, f64::min);
    let yt = svg::ticks(ymin, ymax * 1.05, 5);
    let fr = Frame {
        x0: 0.0,
        x1: 100.0,
        y0: yt.first().copied().unwrap_or(0.0).min(ymin),
        y1: yt.last().copied().unwrap_or(100.0).max(ymax),
    };
    let path: String = pts
        .iter()
        .enumerate()
        .map(|(i, (x, y))| {
            format!(
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { "L" },
                fr.px(*x),
                fr.py(*y)
            )
        })
        .collect();
    let top = f(w.top_share);
    let peak = f(w.peak);
    let peak_at = f(w.peak_at_customers_pct);
    html! {
        (svg::svg("whale-plot", lang.t("dash.whale"), html! {
            (svg::axes(&fr, &svg::ticks(0.0, 100.0, 5), &yt, |x| format!("{}%", svg::num(x)), |y| format!("{}%", svg::num(y)), lang.t("dash.whale_x"), lang.t("dash.whale_y")))
            line.ref x1=(fr.px(0.0)) x2=(fr.px(100.0)) y1=(fr.py(100.0)) y2=(fr.py(100.0)) {}
            line.marker x1=(fr.px(20.0)) x2=(fr.px(20.0)) y1=(fr.py(fr.y0)) y2=(fr.py(top)) {}
            line.marker x1=(fr.px(0.0)) x2=(fr.px(20.0)) y1=(fr.py(top)) y2=(fr.py(top)) {}
            line.marker x1=(fr.px(70.0)) x2=(fr.px(70.0)) y1=(fr.py(fr.y0)) y2=(fr.py(fr.y1)) {}
            path.curve d=(path) {}
            (svg::point(&format!("{} 20% → {}", lang.t("dash.whale_x"), i18n::pct(top)), None, html! { circle.dot cx=(fr.px(20.0)) cy=(fr.py(top)) r="4" {} }))
            text.annot x=(fr.px(20.0) + 6.0) y=(fr.py(top) + 14.0) { "20% → " (i18n::pct(top)) }
            (svg::point(&format!("{} {} ({})", lang.t("dash.peak"), i18n::pct(peak), i18n::pct(peak_at)), None, html! { circle.dot cx=(fr.px(peak_at)) cy=(fr.py(peak)) r="4" {} }))
            @let anchor = if peak_at > 75.0 { "end" } else { "middle" };
            text.annot x=(fr.px(peak_at)) y=(fr.py(peak) - 8.0) text-anchor=(anchor) { (lang.t("dash.peak")) " " (i18n::pct(peak)) }
            text.annot x=(fr.px(71.0)) y=(fr.py(fr.y0) - 6.0) { (lang.t("dash.bottom30_short")) }
        }))
        ul.figs {
            li { (lang.t("dash.top20")) " " strong { (i18n::pct(top)) } " " (lang.t("dash.of_margin")) }
            li { (lang.t("dash.peak")) ": " strong { (i18n::pct(peak)) } " (" (i18n::pct(peak_at)) ")" }
            li { (lang.t("dash.bottom30")) " " strong { (i18n::pct(f(w.bottom_destroyed))) } " " (lang.t("dash.of_peak")) }
            li { (lang.t("dash.unprofitable")) ": " strong { (i18n::count(w.unprofitable_customers)) } }
        }
    }
}

/// A link to the customer list filtered by `query`, for viewers who may open it (analysts see
/// the figures without links to pages their role does not open).
fn list_link(query: String) -> Option<String> {
    crate::layout::may(patron_app::Action::ReadRecords).then(|| format!("/customers?{query}"))
}

fn pareto(lang: Lang, stats: &[AbcClass]) -> Markup {
    if stats.is_empty() {
        return html! { p.empty { (lang.t("dash.no_orders")) } };
    }
    let n = stats.len() as f64;
    let fr = Frame {
        x0: 0.0,
        x1: n,
        y0: 0.0,
        y1: 100.0,
    };
    let bw = (fr.px(1.0) - fr.px(0.0)) * 0.6;
    let cum: String = stats
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { "L" },
                fr.px(i as f64 + 0.5),
                fr.py((f(s.cumulative_share) * 100.0).clamp(0.0, 100.0))
            )
        })
        .collect();
    html! {
        (svg::svg("abc-plot", lang.t("dash.abc"), html! {
            (svg::axes(&fr, &[], &svg::ticks(0.0, 100.0, 5), |_| String::new(), |y| format!("{}%", svg::num(y)), lang.t("dash.class"), lang.t("dash.abc_y")))
            @for (i, s) in stats.iter().enumerate() {
                @let v = (f(s.value_share) * 100.0).clamp(0.0, 100.0);
                @let label = format!("{}: {} · {} ({})", s.class, i18n::count(s.customers), i18n::money(lang, f(s.value)), i18n::pct(v));
                (svg::point(&label, list_link(format!("abc={}", s.class)), html! {
                    rect class=(format!("bar abc-{}", s.class)) x=(fr.px(i as f64 + 0.5) - bw / 2.0) y=(fr.py(v)) width=(bw) height=(fr.py(0.0) - fr.py(v)) {}
                }))
                text.annot x=(fr.px(i as f64 + 0.5)) y=(fr.py(v) - 6.0) text-anchor="middle" { (i18n::pct(v)) }
                text x=(fr.px(i as f64 + 0.5)) y=(fr.py(0.0) + 16.0) text-anchor="middle" class="cls" {
                    (s.class) " · " (i18n::pct(f(s.customer_share) * 100.0)) " " (lang.t("dash.share_customers"))
                }
            }
            path.cumline d=(cum) {}
            @for (i, s) in stats.iter().enumerate() {
                circle.dot cx=(fr.px(i as f64 + 0.5)) cy=(fr.py((f(s.cumulative_share) * 100.0).clamp(0.0, 100.0))) r="3.5" {}
            }
            text.annot x=(W - RIGHT - 4.0) y=(TOP + 12.0) text-anchor="end" { "— " (lang.t("dash.cumulative")) }
        }))
    }
}

fn rfm_heat(lang: Lang, rfm: &Rfm) -> Markup {
    let grid = &rfm.grid_customers;
    let cell = |r: usize, fq: usize| -> u64 {
        grid.get(r - 1)
            .and_then(|row| row.get(fq - 1))
            .copied()
            .unwrap_or(0)
    };
    let max = grid.iter().flatten().copied().max().unwrap_or(0);
    if max == 0 {
        return svg::empty(lang.t("dash.no_orders"));
    }
    let fr = Frame {
        x0: 0.5,
        x1: 5.5,
        y0: 0.5,
        y1: 5.5,
    };
    let cw = fr.px(1.5) - fr.px(0.5);
    let ch = fr.py(0.5) - fr.py(1.5);
    html! {
        (svg::svg("rfm-plot", lang.t("dash.rfm"), html! {
            (svg::axes(&fr, &[1.0, 2.0, 3.0, 4.0, 5.0], &[1.0, 2.0, 3.0, 4.0, 5.0], svg::num, svg::num, lang.t("dash.frequency"), lang.t("dash.recency")))
            @for r in 1..=5usize {
                @for fq in 1..=5usize {
                    @let n = cell(r, fq);
                    @let t = n as f64 / max as f64;
                    (svg::point(&format!("R{r} F{fq}: {}", i18n::count(n)), None, html! {
                        rect.cell x=(fr.px(fq as f64 - 0.5) + 1.0) y=(fr.py(r as f64 + 0.5) + 1.0) width=(cw - 2.0) height=(ch - 2.0) fill=(heat(t)) {}
                    }))
                    text x=(fr.px(fq as f64)) y=(fr.py(r as f64) + 4.0) text-anchor="middle" class=(if t > 0.55 { "celltext light" } else { "celltext" }) {
                        (i18n::count(n))
                    }
                }
            }
        }))
        @if !rfm.segments.is_empty() {
            div.segchips {
                @for s in &rfm.segments {
                    a.chip href=[list_link(format!("segment={}", s.segment))] {
                        (lang.t(&format!("segment.{}", s.segment))) " " strong { (i18n::count(s.customers)) }
                    }
                }
            }
        }
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

fn grades(lang: Lang, g: &Grades) -> Markup {
    let rows = [("A", g.a), ("B", g.b), ("C", g.c), ("D", g.d), ("E", g.e)];
    grade_bars(lang, "grades-plot", &rows, g.ungraded)
}

/// Horizontal bars of the customers per grade (also used by the score model editor).
pub fn grade_bars(lang: Lang, id: &str, rows: &[(&str, u64)], ungraded: u64) -> Markup {
    let total: u64 = rows.iter().map(|r| r.1).sum::<u64>();
    if total == 0 {
        return svg::empty(lang.t("dash.no_grades"));
    }
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1) as f64;
    let row_h = (H - TOP - 30.0) / rows.len() as f64;
    let label_w = 96.0;
    let avail = W - label_w - 150.0;
    html! {
        (svg::svg(id, lang.t("dash.grades"), html! {
            @for (i, (g, n)) in rows.iter().enumerate() {
                @let y = TOP + i as f64 * row_h;
                @let w = *n as f64 / max * avail;
                text.stage x=(label_w) y=(y + row_h / 2.0 + 4.0) text-anchor="end" { (lang.t("value.grade")) " " (g) }
                @let label = format!("{} {g}: {} ({})", lang.t("value.grade"), i18n::count(*n), i18n::pct(*n as f64 * 100.0 / total as f64));
                (svg::point(&label, list_link(format!("grade={g}")), html! {
                    rect class=(format!("bar grade-{g}")) x=(label_w + 8.0) y=(y + 5.0) width=(w.max(1.0)) height=(row_h - 10.0) rx="2" {}
                }))
                text.annot x=(label_w + 14.0 + w) y=(y + row_h / 2.0 + 4.0) { (i18n::count(*n)) " (" (i18n::pct(*n as f64 * 100.0 / total as f64)) ")" }
            }
            @if ungraded > 0 {
                text.annot x=(label_w) y=(H - 8.0) { (lang.t("dash.ungraded")) ": " (i18n::count(ungraded)) }
            }
        }))
    }
}

fn delta(this: f64, prev: f64) -> Markup {
    match period::change(this, prev) {
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

/// Why no purchase model is used (with the fallback), and how `auto` chose the model: the
/// holdout comparison of BG/NBD, MBG/NBD and Pareto/NBD.
fn purchase_model(lang: Lang, r: &Report) -> Markup {
    let num = |v: Option<f64>, d: usize| v.map_or("–".to_string(), |v| format!("{v:.d$}"));
    html! {
        @if let Some(n) = &r.not_enough_history {
            div.notice.warn id="not-enough-history" role="note" {
                strong { (lang.t("dash.not_enough_history")) } ": "
                (match n.code.as_str() {
                    "no_customers" | "few_repeat_customers" | "same_frequency" => lang.t("dash.nh_few"),
                    _ => lang.t("dash.nh_unidentified"),
                })
                " (" span.reason { (n.reason) } "). "
                (lang.t("dash.nh_fallback"))
            }
        }
        @if let Some(c) = &r.model_choice {
            section.panel.flush id="model-choice" {
                h2 {
                    (lang.t("dash.model_choice")) " " span.mono { (model_name(&c.chosen)) }
                    // Without a comparison the model is the fallback, not the holdout's choice.
                    @if !c.comparison.is_empty() { " " (lang.t("dash.by_holdout")) }
                }
                p.sub {
                    (lang.t("dash.holdout_window")) " " (i18n::date(lang, c.calibration_end)) " – " (i18n::date(lang, c.holdout_end))
                    ". " (lang.t("dash.model_choice_rule"))
                }
                @if c.comparison.is_empty() {
                    p.empty { (c.reason) }
                } @else {
                    table {
                        thead { tr {
                            th { (lang.t("dash.model")) }
                            th.num { (lang.t("dash.mc_predicted")) }
                            th.num { (lang.t("dash.mc_actual")) }
                            th.num { (lang.t("dash.mc_mae")) }
                            th { (lang.t("dash.mc_fit")) }
                        } }
                        tbody {
                            @for m in &c.comparison {
                                tr class=(if m.kind == c.chosen { "chosen" } else { "" }) {
                                    td { (model_name(&m.kind)) @if m.kind == c.chosen { " ✓" } }
                                    td.num { (num(m.predicted_total, 1)) }
                                    td.num { (num(m.actual_total, 0)) }
                                    td.num { (num(m.mean_absolute_error, 4)) }
                                    td {
                                        @if let Some(e) = &m.excluded {
                                            (lang.t("dash.mc_left_out")) ": " (e)
                                        } @else if m.converged == Some(true) {
                                            (lang.t("dash.mc_converged"))
                                        } @else {
                                            (lang.t("dash.mc_not_converged"))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn comparison(lang: Lang, c: Option<&Comparison>, period: Period) -> Markup {
    let Some(c) = c else {
        return html! {};
    };
    let cents = |v: i64| i18n::money_short(lang, v as f64 / 100.0);
    let t = &c.total;
    let row = |label: Markup, p: &Pair| {
        html! {
            tr {
                td { (label) }
                td.num { (cents(p.this.revenue)) } td.num.muted { (cents(p.prev.revenue)) } td.num { (delta(p.this.revenue as f64, p.prev.revenue as f64)) }
                td.num { (cents(p.this.margin)) } td.num { (delta(p.this.margin as f64, p.prev.margin as f64)) }
                td.num { (i18n::count(p.this.active)) } td.num.muted { (i18n::count(p.prev.active)) } td.num { (delta(p.this.active as f64, p.prev.active as f64)) }
                td.num { (i18n::count(p.this.new)) } td.num.muted { (i18n::count(p.prev.new)) }
            }
        }
    };
    let head = html! {
        thead { tr {
            th {}
            th.num { (lang.t("dash.revenue")) } th.num { (lang.t("dash.previous")) } th.num { "Δ" }
            th.num { (lang.t("dash.margin")) } th.num { "Δ" }
            th.num { (lang.t("dash.active")) } th.num { (lang.t("dash.previous")) } th.num { "Δ" }
            th.num { (lang.t("dash.new")) } th.num { (lang.t("dash.previous")) }
        } }
    };
    html! {
        section.panel id="comparison" {
            div.panelhead {
                h2 {
                    (lang.t("dash.compare")) " "
                    small.muted {
                        (i18n::date(lang, c.this.0)) " – " (i18n::date(lang, c.this.1)) " " (lang.t("dash.vs")) " "
                        (i18n::date(lang, c.prev.0)) " – " (i18n::date(lang, c.prev.1))
                    }
                }
                nav.segmented {
                    @for p in Period::ALL {
                        a href=(format!("/dashboard?period={}#comparison", p.code())) class=[(p == period).then_some("on")] { (lang.t(&format!("dash.period_{}", p.code()))) }
                    }
                }
            }
            div.kpis.compare {
                div.kpi { span { (lang.t("dash.revenue")) } strong { (cents(t.this.revenue)) } (delta(t.this.revenue as f64, t.prev.revenue as f64)) small.muted { (lang.t("dash.previous")) " " (cents(t.prev.revenue)) } }
                div.kpi { span { (lang.t("dash.margin")) } strong { (cents(t.this.margin)) } (delta(t.this.margin as f64, t.prev.margin as f64)) small.muted { (lang.t("dash.previous")) " " (cents(t.prev.margin)) } }
                div.kpi { span { (lang.t("dash.active")) } strong { (i18n::count(t.this.active)) } (delta(t.this.active as f64, t.prev.active as f64)) small.muted { (lang.t("dash.previous")) " " (i18n::count(t.prev.active)) } }
                div.kpi { span { (lang.t("dash.new")) } strong { (i18n::count(t.this.new)) } (delta(t.this.new as f64, t.prev.new as f64)) small.muted { (lang.t("dash.previous")) " " (i18n::count(t.prev.new)) } }
            }
            div.tablewrap {
                table.data.compact id="compare-abc" {
                    (head)
                    tbody {
                        @for (class, p) in &c.by_abc {
                            (row(html! {
                                @if class == "-" { span.muted { (lang.t("dash.unclassified")) } }
                                @else { a href=[list_link(format!("abc={class}"))] { span class=(format!("badge abc-{class}")) { (lang.t("value.abc")) " " (class) } } }
                            }, p))
                        }
                        @for (seg, p) in c.by_segment.iter().filter(|(_, p)| p.this.active + p.prev.active > 0) {
                            (row(html! {
                                @if seg == "-" { span.muted { (lang.t("dash.unclassified")) } }
                                @else { a href=[list_link(format!("segment={seg}"))] { (lang.t(&format!("segment.{seg}"))) } }
                            }, p))
                        }
                    }
                }
            }
        }
    }
}

/// Who looks at the dashboard: analysts get the aggregate figures without any customer's name,
/// number or link (SPEC 4: no personal data), and only admins and managers may recompute.
#[derive(Debug, Clone, Copy)]
struct Audience<'a> {
    personal: bool,
    recompute: bool,
    /// Customers of the churn list outside the viewer's scope (shown without name).
    hidden: &'a std::collections::HashSet<i64>,
}

/// Rows of the churn-risk list.
pub(crate) const CHURN_ROWS: usize = 25;

fn churn_table(lang: Lang, c: &Churn, who: Audience) -> Markup {
    if c.top.is_empty() {
        return html! { p.empty { (lang.t("dash.no_churn")) } };
    }
    html! {
        table.data id="churn-list" {
            thead { tr {
                th { "#" }
                th { (lang.t("dash.customer")) }
                th { (lang.t("value.abc")) }
                th.num { (lang.t("value.value_at_risk")) }
                th { (lang.t("dash.reasons")) }
            } }
            tbody {
                @for (k, w) in c.top.iter().take(CHURN_ROWS).enumerate() {
                    tr {
                        td.muted { (k + 1) }
                        td {
                            @if who.personal && !who.hidden.contains(&w.customer_id) {
                                a href=(format!("/customers/{}", w.customer_id)) {
                                    @if w.name.is_empty() { "#" (w.customer_id) } @else { (w.name) }
                                }
                                @if !w.number.is_empty() { " " span.muted.small { (w.number) } }
                            } @else {
                                span.muted { (lang.t("dash.withheld")) }
                            }
                        }
                        td { span class=(format!("badge abc-{}", w.abc_class)) { (w.abc_class) } }
                        td.num { (i18n::money(lang, f(w.value_at_risk))) }
                        td {
                            @for r in &w.reasons {
                                span.reason { (crate::customers::stored_reason(lang, r)) }
                            }
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
    fn clv_bins_cover_most_customers_on_round_steps() {
        let d: Vec<f64> = (0..=10).map(|k| f64::from(k) * 10.0).collect();
        let (lo, step, n) = clv_range(&d).unwrap();
        assert_eq!(lo, 0.0);
        assert!(step > 0.0 && lo + step * n as f64 >= 100.0);
        assert!(clv_range(&[0.0; 11]).is_none());
        assert!(clv_range(&[]).is_none());
    }

    #[test]
    fn empty_charts_say_so_without_axes() {
        // Before: zero counts drew axes with invented ticks (0.2, 0.5, 0.8).
        let none = grade_bars(Lang::En, "g", &[("A", 0), ("B", 0), ("C", 0)], 3);
        let none = none.into_string();
        assert!(!none.contains("<svg"), "{none}");
        assert!(none.contains("No customer has a grade yet"));
        let some = grade_bars(Lang::Zh, "g", &[("A", 2), ("B", 0), ("C", 1)], 0).into_string();
        assert!(some.contains("<svg") && some.contains(r#"id="g-value""#));
        assert!(some.contains(r#"data-v="价值等级 A: 2 (66.7%)""#), "{some}");
    }
}
