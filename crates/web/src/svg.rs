//! Small SVG plot helpers: a plot frame with axes, ticks and labels. Every element is written
//! with an explicit end tag (`<line></line>`), as inline SVG in HTML needs.

use maud::{html, Markup};

/// Plot area inside a `W x H` view box.
pub const W: f64 = 560.0;
pub const H: f64 = 320.0;
pub const LEFT: f64 = 64.0;
pub const RIGHT: f64 = 16.0;
pub const TOP: f64 = 16.0;
pub const BOTTOM: f64 = 52.0;

/// Maps data to pixels.
#[derive(Clone, Copy)]
pub struct Frame {
    pub x0: f64,
    pub x1: f64,
    pub y0: f64,
    pub y1: f64,
}

impl Frame {
    pub fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x0) / (self.x1 - self.x0) * (W - LEFT - RIGHT)
    }

    pub fn py(&self, y: f64) -> f64 {
        H - BOTTOM - (y - self.y0) / (self.y1 - self.y0) * (H - TOP - BOTTOM)
    }
}

pub use patron_app::dashboard::ticks;

/// The `<svg>` element with a title for screen readers, followed by the line that shows the
/// value of the mark under the pointer or in focus ([`point`]).
pub fn svg(id: &str, title: &str, body: Markup) -> Markup {
    html! {
        svg id=(id) class="plot" viewBox=(format!("0 0 {W} {H}")) role="group" aria-label=(title) xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            (body)
        }
        p.plotvalue id=(format!("{id}-value")) aria-live="polite" { "\u{a0}" }
    }
}

/// A data mark whose exact value is shown in the chart's visible value line (below the plot,
/// see [`svg`] and `static/keys.js`) while the pointer is on it or it has the keyboard focus:
/// Tab reaches every mark, and the label is also its accessible name, so that no figure is
/// left to the browser's native hover tooltip. `href` makes the mark a link (to the customers
/// it counts, for viewers who may open them).
pub fn point(label: &str, href: Option<String>, mark: Markup) -> Markup {
    html! {
        @if let Some(href) = href {
            a.pt href=(href) aria-label=(label) data-v=(label) { (mark) }
        } @else {
            g.pt tabindex="0" role="img" aria-label=(label) data-v=(label) { (mark) }
        }
    }
}

/// What a chart shows when it has nothing to draw: a sentence, no axes.
pub fn empty(message: &str) -> Markup {
    html! { p.empty.noplot { (message) } }
}

/// Axes with ticks, grid lines and axis titles. `fx`/`fy` format tick labels.
pub fn axes(
    f: &Frame,
    xt: &[f64],
    yt: &[f64],
    fx: impl Fn(f64) -> String,
    fy: impl Fn(f64) -> String,
    x_title: &str,
    y_title: &str,
) -> Markup {
    let (l, r, b, t) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
    html! {
        g.grid {
            @for y in yt {
                line x1=(l) x2=(r) y1=(f.py(*y)) y2=(f.py(*y)) {}
            }
        }
        g.axis {
            line x1=(l) x2=(r) y1=(b) y2=(b) {}
            line x1=(l) x2=(l) y1=(t) y2=(b) {}
            @for x in xt {
                line x1=(f.px(*x)) x2=(f.px(*x)) y1=(b) y2=(b + 4.0) {}
                text x=(f.px(*x)) y=(b + 16.0) text-anchor="middle" { (fx(*x)) }
            }
            @for y in yt {
                text x=(l - 6.0) y=(f.py(*y) + 4.0) text-anchor="end" { (fy(*y)) }
            }
            text.title x=((l + r) / 2.0) y=(H - 8.0) text-anchor="middle" { (x_title) }
            text.title transform=(format!("translate(14 {}) rotate(-90)", (t + b) / 2.0)) text-anchor="middle" { (y_title) }
        }
    }
}

/// A number with at most one decimal, for tick labels.
pub fn num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

/// Short money tick labels: 1.2k, 3M.
pub fn short(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 1e6 {
        format!("{}M", num(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", num(v / 1e3))
    } else {
        num(v)
    };
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(
            ticks(0.0, 100.0, 5),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(ticks(-10.0, 10.0, 4), vec![-10.0, -5.0, 0.0, 5.0, 10.0]);
        assert_eq!(ticks(3.0, 3.0, 4), vec![3.0]);
    }
}
