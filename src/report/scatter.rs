//! A scatter chart with a shaded envelope, as a standalone SVG document: the ladder's entropy
//! against KL from the base. Pure: data in, markup out; no I/O. Shares its axes, legend and
//! markers with the other charts in `svg`.

use super::markup::{esc, num, px};
use super::svg::{
    Key, LEFT, Marker, PLOT_HEIGHT, Reference, YScale, header_height, header_width, legend,
    legend_width, open, reference_line, text_width, whisker,
};
use crate::stats::Interval;
use std::fmt::Write;

/// Points with vertical uncertainty bars over a numeric x axis, and a band drawn behind them.
#[derive(Debug, Clone)]
pub(crate) struct Scatter {
    /// The chart's title (also its `<title>`).
    pub title: String,
    /// Lines under the title, separated by `\n`.
    pub subtitle: String,
    /// The x axis's label, with units.
    pub x_label: String,
    /// The y axis's label, with units.
    pub y_label: String,
    /// The points, drawn in this order.
    pub points: Vec<ScatterPoint>,
    /// One legend entry per kind of point: its marker, colour and text.
    pub kinds: Vec<(Marker, &'static str, String)>,
    /// What the uncertainty bar is, for the legend.
    pub interval_label: String,
    /// A band behind the points.
    pub band: Option<Band>,
    /// An optional horizontal reference line.
    pub reference: Option<Reference>,
}

/// A shaded band behind a scatter chart's points.
#[derive(Debug, Clone)]
pub(crate) struct Band {
    /// (x, low, high) samples, left to right.
    pub samples: Vec<(f64, f64, f64)>,
    /// Its legend text.
    pub label: String,
}

/// One point of a scatter chart.
#[derive(Debug, Clone)]
pub(crate) struct ScatterPoint {
    /// Its label, written beside it.
    pub label: String,
    /// Where on the x axis (finite).
    pub x: f64,
    /// Its value and uncertainty on the y axis.
    pub y: Interval,
    /// Its kind: an index into `Scatter::kinds`.
    pub kind: usize,
}

const PLOT_WIDTH: f64 = 560.0;

/// The x axis of a chart of these points: 0 to a round value past the largest finite x, with
/// room for the labels right of the points.
fn x_axis_scale(points: &[ScatterPoint]) -> YScale {
    let x_max = points
        .iter()
        .map(|p| p.x)
        .filter(|x| x.is_finite())
        .fold(0.0, f64::max);
    YScale::new(x_max * 1.12, 0.0, PLOT_WIDTH)
}

/// Where the x axis of a chart of these points ends, so that a band can be sampled to it.
pub(crate) fn x_axis_end(points: &[ScatterPoint]) -> f64 {
    x_axis_scale(points).top
}

/// Renders a scatter chart.
pub(crate) fn scatter(chart: &Scatter) -> String {
    let x_scale = x_axis_scale(&chart.points);
    let x_of = |v: f64| LEFT + PLOT_WIDTH * x_scale.fraction(v);
    let y_max = chart
        .points
        .iter()
        .map(|p| p.y.high)
        .chain(chart.reference.iter().map(|r| r.value))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let top = header_height(&chart.subtitle) + 24.0;
    let scale = YScale::new(y_max, top, PLOT_HEIGHT);
    let right = LEFT + PLOT_WIDTH;
    let mut entries: Vec<(Key, String)> = chart
        .kinds
        .iter()
        .map(|(marker, c, label)| (Key::Marker(c, *marker), label.clone()))
        .collect();
    entries.push((Key::Whisker, chart.interval_label.clone()));
    if let Some(band) = &chart.band {
        entries.push((Key::Hollow("#777777"), band.label.clone()));
    }
    if let Some(r) = &chart.reference {
        entries.push((Key::Dashed, r.label.clone()));
    }
    let width = (right + 28.0 + legend_width(&entries) + 12.0)
        .max(header_width(&chart.title, &chart.subtitle));
    let height = (scale.bottom() + 58.0).max(top + 8.0 + 20.0 * entries.len() as f64 + 8.0);
    let mut out = String::new();
    open(&mut out, width, height, &chart.title, &chart.subtitle);
    scale.draw(&mut out, LEFT, right, &chart.y_label);
    if let Some(band) = &chart.band {
        let samples = &band.samples;
        let mut d = String::new();
        for (i, (x, _, high)) in samples.iter().enumerate() {
            let _ = write!(
                d,
                "{}{},{}",
                if i == 0 { "M" } else { "L" },
                px(x_of(*x)),
                px(scale.y(*high))
            );
        }
        for (x, low, _) in samples.iter().rev() {
            let _ = write!(d, "L{},{}", px(x_of(*x)), px(scale.y(*low)));
        }
        let _ = write!(
            out,
            "<path class=\"band\" d=\"{d}Z\" fill=\"#777777\" fill-opacity=\"0.12\" \
             stroke=\"#777777\" stroke-width=\"1\"/>"
        );
    }
    if let Some(r) = &chart.reference {
        reference_line(&mut out, &scale, LEFT, right, r);
    }
    // x ticks and gridlines
    out.push_str("<g class=\"x-axis\" font-size=\"11\" fill=\"#333\">");
    for v in x_scale.ticks() {
        let x = px(x_of(v));
        let _ = write!(
            out,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#eeeeee\"/>\
             <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            px(scale.plot_top),
            px(scale.bottom()),
            px(scale.bottom() + 16.0),
            num(v, x_scale.decimals()),
        );
    }
    let _ = write!(
        out,
        "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#333\"/>\
         <text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\">{}</text></g>",
        px(LEFT),
        px(right),
        px((LEFT + right) / 2.0),
        px(scale.bottom() + 38.0),
        esc(&chart.x_label),
        y = px(scale.bottom()),
    );
    out.push_str("<g class=\"points\">");
    let mut placed: Vec<[f64; 4]> = Vec::new();
    for p in chart.points.iter().filter(|p| p.x.is_finite()) {
        let (marker, c, _) = &chart.kinds[p.kind.min(chart.kinds.len().saturating_sub(1))];
        let (x, y) = (x_of(p.x), scale.y(p.y.point));
        whisker(&mut out, x, scale.y(p.y.low), scale.y(p.y.high), 8.0);
        let tip = format!(
            "<title>{}: x {}, y {} [{}, {}]</title>",
            esc(&p.label),
            num(p.x, 3),
            num(p.y.point, 3),
            num(p.y.low, 3),
            num(p.y.high, 3)
        );
        marker.draw(&mut out, x, y, c, &tip);
        let w = text_width(&p.label, 10.0);
        let (lx, ly, anchor) = label_place(&mut placed, x, y, w, right);
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" font-size=\"10\" fill=\"#222\">{}</text>",
            px(lx),
            px(ly),
            esc(&p.label)
        );
    }
    out.push_str("</g>");
    legend(&mut out, right + 28.0, top + 8.0, &entries);
    out.push_str("</svg>\n");
    out
}

/// A label's position beside its point at (x, y): above right, below right, above left or below
/// left, the first whose box overlaps no label placed so far and stays left of `right` (else
/// above right, or above left at the plot's edge). Records the box taken in `placed`.
fn label_place(
    placed: &mut Vec<[f64; 4]>,
    x: f64,
    y: f64,
    width: f64,
    right: f64,
) -> (f64, f64, &'static str) {
    const HEIGHT: f64 = 11.0;
    // (text x, baseline y, anchor, box left)
    let candidates = [
        (x + 8.0, y - 5.0, "start", x + 8.0),
        (x + 8.0, y + 14.0, "start", x + 8.0),
        (x - 8.0, y - 5.0, "end", x - 8.0 - width),
        (x - 8.0, y + 14.0, "end", x - 8.0 - width),
    ];
    let boxed =
        |(_, by, _, left): (f64, f64, &str, f64)| [left, by - HEIGHT + 2.0, left + width, by + 2.0];
    let overlaps = |b: &[f64; 4]| {
        placed
            .iter()
            .any(|o| b[0] < o[2] && o[0] < b[2] && b[1] < o[3] && o[1] < b[3])
    };
    let chosen = candidates
        .iter()
        .copied()
        .find(|c| c.3 + width <= right && !overlaps(&boxed(*c)))
        .unwrap_or(if x + 8.0 + width > right {
            candidates[2]
        } else {
            candidates[0]
        });
    placed.push(boxed(chosen));
    (chosen.0, chosen.1, chosen.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Synthetic chart data (unit test): three points and a band.
    fn chart() -> Scatter {
        Scatter {
            title: "t".into(),
            subtitle: "s".into(),
            x_label: "KL (nats)".into(),
            y_label: "entropy (nats)".into(),
            points: vec![
                ScatterPoint {
                    label: "base".into(),
                    x: 0.0,
                    y: Interval::exact(2.0),
                    kind: 0,
                },
                ScatterPoint {
                    label: "rlhf".into(),
                    x: 0.5,
                    y: Interval {
                        point: 3.5,
                        low: 3.4,
                        high: 3.6,
                    },
                    kind: 0,
                },
                ScatterPoint {
                    label: "inf".into(),
                    x: f64::INFINITY,
                    y: Interval::exact(1.0),
                    kind: 1,
                },
            ],
            kinds: vec![
                (Marker::Circle, "#0072B2", "base".into()),
                (Marker::Square, "#E69F00", "rlhf".into()),
            ],
            interval_label: "bounds".into(),
            band: Some(Band {
                samples: vec![(0.0, 2.0, 2.0), (0.5, 0.0, 4.6)],
                label: "envelope".into(),
            }),
            reference: None,
        }
    }

    #[test]
    fn draws_each_finite_point_once_and_the_band() {
        let svg = scatter(&chart());
        assert_eq!(svg.matches("class=\"point\"").count(), 2, "{svg}");
        assert_eq!(svg.matches("class=\"band\"").count(), 1);
        assert!(svg.contains(">rlhf</text>"));
        assert!(!svg.contains(">inf</text>"), "an infinite x is not drawn");
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn labels_that_would_overlap_move_below() {
        let mut placed = Vec::new();
        let first = label_place(&mut placed, 100.0, 100.0, 60.0, 600.0);
        let second = label_place(&mut placed, 104.0, 101.0, 60.0, 600.0);
        assert_eq!(first.2, "start");
        assert!(second.1 > first.1 + 10.0, "{first:?} {second:?}");
        // At the right edge the label goes left of its point.
        let edge = label_place(&mut placed, 590.0, 300.0, 60.0, 600.0);
        assert_eq!(edge.2, "end");
    }

    #[test]
    fn a_larger_x_moves_a_point_right() {
        let svg = scatter(&chart());
        let cx = |label: &str| -> f64 {
            let at = svg.find(&format!("<title>{label}:")).unwrap();
            let before = &svg[..at];
            let start = before.rfind("cx=\"").unwrap() + 4;
            before[start..].split('"').next().unwrap().parse().unwrap()
        };
        assert!(cx("rlhf") > cx("base") + 100.0);
    }
}
