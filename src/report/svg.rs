//! Charts as standalone SVG documents — grouped bars with uncertainty bars (the post's figure),
//! a strip chart for claims over many prompts, one outcome distribution, and a trend of a figure
//! across recorded versions — so the report needs no script or library to draw them. Pure: data
//! in, markup out; no I/O.
//!
//! Every chart carries a `<title>`, axis labels with units and a legend, and draws no element
//! with an `id`, so that many charts can sit inline in one page without clashing.

use super::markup::{esc, num, px};
use crate::stats::Interval;
use std::fmt::Write;

/// Series colours: Okabe–Ito, which stay distinct for the common forms of colour blindness.
/// Vermillion is left out: it is too close to the mode's red.
const PALETTE: [&str; 6] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#999999",
];

/// The colour of the mode's bar in a distribution: a dark red no series uses.
const MODE_COLOR: &str = "#B2182B";

/// The colour of series `index`, cycling when there are more series than colours.
pub(crate) fn color(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}

/// Approximate width of text in pixels at a font size; SVG has no text measurement without a
/// renderer, and an over-estimate only costs white space.
pub(super) fn text_width(text: &str, font_size: f64) -> f64 {
    text.chars().count() as f64 * font_size * 0.62
}

/// A horizontal dashed line with a legend entry, e.g. the entropy of the uniform distribution.
#[derive(Debug, Clone)]
pub(crate) struct Reference {
    /// Where, in the y axis's units.
    pub value: f64,
    /// Its legend text.
    pub label: String,
}

/// Bars per group (prompt) and series (model), each with its uncertainty bar.
#[derive(Debug, Clone)]
pub(crate) struct GroupedBars {
    /// The chart's title (also its `<title>`).
    pub title: String,
    /// A line under the title.
    pub subtitle: String,
    /// The y axis's label, with units.
    pub y_label: String,
    /// The x axis's label.
    pub x_label: String,
    /// Legend labels, one per series.
    pub series: Vec<String>,
    /// The groups, left to right.
    pub groups: Vec<Group>,
    /// What the uncertainty bar is, for the legend.
    pub interval_label: String,
    /// An optional reference line.
    pub reference: Option<Reference>,
}

/// One group of bars.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// The label under the group.
    pub label: String,
    /// One value per series; `None` is drawn as "n/a".
    pub values: Vec<Option<Interval>>,
}

/// Per series, one value per prompt as dots, with their mean as a bar — the compact form of a
/// grouped bar chart when there are too many prompts for one group each.
#[derive(Debug, Clone)]
pub(crate) struct StripChart {
    /// The chart's title.
    pub title: String,
    /// A line under the title.
    pub subtitle: String,
    /// The y axis's label, with units.
    pub y_label: String,
    /// The x axis's label.
    pub x_label: String,
    /// The columns.
    pub series: Vec<StripSeries>,
    /// What the mean's bar is, for the legend.
    pub interval_label: String,
    /// An optional reference line.
    pub reference: Option<Reference>,
}

/// One column of a strip chart.
#[derive(Debug, Clone)]
pub(crate) struct StripSeries {
    /// The column's label.
    pub label: String,
    /// One point per prompt.
    pub points: Vec<f64>,
    /// The mean with its interval, when there are points.
    pub mean: Option<Interval>,
}

/// One distribution over an outcome set: a bar per outcome with its interval, the mode marked.
#[derive(Debug, Clone)]
pub(crate) struct Distribution {
    /// The chart's title.
    pub title: String,
    /// A line under the title (coverage, method).
    pub subtitle: String,
    /// The x axis's label.
    pub x_label: String,
    /// The y axis's label.
    pub y_label: String,
    /// Tick labels, one per outcome.
    pub outcomes: Vec<String>,
    /// One share per outcome.
    pub shares: Vec<Interval>,
    /// The outcome to mark as the mode.
    pub mode: Option<usize>,
    /// The mode's annotation, e.g. `mode “ 97”`.
    pub mode_label: String,
    /// What the uncertainty bar is, for the legend.
    pub interval_label: String,
    /// The bars' colour.
    pub color: &'static str,
}

/// A linear y axis from `base` (0 for bars) to `top` with gridlines every `step`.
pub(super) struct YScale {
    base: f64,
    pub(super) top: f64,
    step: f64,
    pub(super) plot_top: f64,
    plot_height: f64,
}

impl YScale {
    /// A scale that shows `max`, with about five round ticks.
    pub(super) fn new(max: f64, plot_top: f64, plot_height: f64) -> YScale {
        let max = if max.is_finite() && max > 0.0 {
            max
        } else {
            1.0
        };
        let raw = max / 5.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 2.5, 5.0, 10.0]
            .iter()
            .map(|m| m * magnitude)
            .find(|s| *s >= raw * (1.0 - 1e-9))
            .unwrap_or(10.0 * magnitude);
        let top = (max / step - 1e-9).ceil().max(1.0) * step;
        YScale {
            base: 0.0,
            top,
            step,
            plot_top,
            plot_height,
        }
    }

    /// A scale over `[min, max]` with round ticks that need not start at 0: points joined by
    /// lines carry no length, and a trend of a few hundredths of a nat vanishes on an axis
    /// from 0. At least 0.1 wide, so that equal values still get a readable axis.
    fn span(min: f64, max: f64, plot_top: f64, plot_height: f64) -> YScale {
        let (min, max) = if min.is_finite() && max.is_finite() && min <= max {
            (min, max)
        } else {
            (0.0, 1.0)
        };
        let pad = ((max - min) * 0.1).max(0.05);
        let (lo, hi) = ((min - pad).max(0.0), max + pad);
        let raw = (hi - lo) / 5.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 2.5, 5.0, 10.0]
            .iter()
            .map(|m| m * magnitude)
            .find(|s| *s >= raw * (1.0 - 1e-9))
            .unwrap_or(10.0 * magnitude);
        let base = (lo / step + 1e-9).floor() * step;
        let top = ((hi / step - 1e-9).ceil() * step).max(base + step);
        YScale {
            base,
            top,
            step,
            plot_top,
            plot_height,
        }
    }

    /// The y coordinate of a value, clamped to the plot.
    pub(super) fn y(&self, v: f64) -> f64 {
        self.plot_top + self.plot_height * (1.0 - self.fraction(v))
    }

    /// How far along the axis a value is, from 0 at `base` to 1 at `top`, clamped; a
    /// horizontal axis uses this scale too.
    pub(super) fn fraction(&self, v: f64) -> f64 {
        let v = if v.is_finite() {
            v.clamp(self.base, self.top)
        } else {
            self.base
        };
        (v - self.base) / (self.top - self.base)
    }

    /// The tick values, `base` to `top`.
    pub(super) fn ticks(&self) -> Vec<f64> {
        let n = ((self.top - self.base) / self.step).round() as usize;
        (0..=n).map(|i| self.base + self.step * i as f64).collect()
    }

    pub(super) fn bottom(&self) -> f64 {
        self.plot_top + self.plot_height
    }

    /// Decimals that print every tick exactly (0.25 needs two).
    pub(super) fn decimals(&self) -> usize {
        (0..=4)
            .find(|d| {
                let scaled = self.step * 10f64.powi(*d as i32);
                (scaled - scaled.round()).abs() < 1e-6
            })
            .unwrap_or(4)
    }

    /// Gridlines, tick labels and the rotated axis label.
    pub(super) fn draw(&self, out: &mut String, left: f64, right: f64, label: &str) {
        let decimals = self.decimals();
        out.push_str("<g class=\"y-axis\" font-size=\"11\" fill=\"#333\">");
        for v in self.ticks() {
            let y = self.y(v);
            let _ = write!(
                out,
                "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#e3e3e3\"/>\
                 <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                px(left),
                px(right),
                px(left - 6.0),
                px(self.y(v) + 4.0),
                num(v, decimals),
                y = px(y),
            );
        }
        let _ = write!(
            out,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#333\"/>\
             <text class=\"axis-label\" transform=\"translate({},{}) rotate(-90)\" \
             text-anchor=\"middle\" font-size=\"12\">{}</text></g>",
            px(self.plot_top),
            px(self.bottom()),
            px(left - 46.0),
            px(self.plot_top + self.plot_height / 2.0),
            esc(label),
            x = px(left),
        );
    }
}

/// The height the title and the subtitle's lines take (a subtitle may hold several lines,
/// separated by `\n`).
pub(super) fn header_height(subtitle: &str) -> f64 {
    30.0 + 18.0 * subtitle.lines().count() as f64
}

/// The width the title and the subtitle's lines need.
pub(super) fn header_width(title: &str, subtitle: &str) -> f64 {
    subtitle
        .lines()
        .map(|l| text_width(l, 12.0))
        .fold(text_width(title, 15.0), f64::max)
        + 24.0
}

/// The document's opening: size, `<title>`, white background, title and subtitle lines.
pub(super) fn open(out: &mut String, width: f64, height: f64, title: &str, subtitle: &str) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" font-family=\"DejaVu Sans, Liberation Sans, \
         Arial, sans-serif\" font-size=\"12\">\
         <title>{t}</title>\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\
         <text class=\"title\" x=\"12\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{t}</text>",
        w = px(width),
        h = px(height),
        t = esc(title),
    );
    for (i, line) in subtitle.lines().enumerate() {
        let _ = write!(
            out,
            "<text class=\"subtitle\" x=\"12\" y=\"{}\" fill=\"#444\">{}</text>",
            px(41.0 + 18.0 * i as f64),
            esc(line)
        );
    }
}

/// A vertical uncertainty bar with caps.
pub(super) fn whisker(out: &mut String, x: f64, y_low: f64, y_high: f64, cap: f64) {
    whisker_styled(out, x, y_low, y_high, cap, "#1a1a1a", 1.5);
}

/// A whisker in a given colour and width: thin grey ones keep 101 thin bars readable.
fn whisker_styled(
    out: &mut String,
    x: f64,
    y_low: f64,
    y_high: f64,
    cap: f64,
    stroke: &str,
    width: f64,
) {
    let _ = write!(
        out,
        "<path d=\"M{l},{lo}H{r}M{x},{lo}V{hi}M{l},{hi}H{r}\" stroke=\"{stroke}\" \
         stroke-width=\"{w}\" fill=\"none\"/>",
        w = num(width, 1),
        l = px(x - cap / 2.0),
        r = px(x + cap / 2.0),
        x = px(x),
        lo = px(y_low),
        hi = px(y_high),
    );
}

/// A legend entry's symbol.
pub(super) enum Key {
    Swatch(&'static str),
    Whisker,
    Dashed,
    Dot(&'static str),
    Hollow(&'static str),
    /// A point's marker alone (colour, shape).
    Marker(&'static str, Marker),
    /// A series line (colour, optional dash pattern) with its point's marker.
    Line(&'static str, Option<&'static str>, Marker),
}

/// The legend, one entry per line, starting at (x, y).
pub(super) fn legend(out: &mut String, x: f64, y: f64, entries: &[(Key, String)]) {
    out.push_str("<g class=\"legend\" font-size=\"12\">");
    for (i, (key, label)) in entries.iter().enumerate() {
        let cy = y + 20.0 * i as f64;
        match key {
            Key::Swatch(c) => {
                let _ = write!(
                    out,
                    "<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"14\" fill=\"{c}\"/>",
                    px(x),
                    px(cy - 7.0)
                );
            }
            Key::Hollow(c) => {
                let _ = write!(
                    out,
                    "<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"14\" fill=\"{c}\" \
                     fill-opacity=\"0.25\" stroke=\"{c}\"/>",
                    px(x),
                    px(cy - 7.0)
                );
            }
            Key::Whisker => whisker(out, x + 7.0, cy + 7.0, cy - 7.0, 8.0),
            Key::Dashed => {
                let _ = write!(
                    out,
                    "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#555\" \
                     stroke-dasharray=\"4 3\"/>",
                    px(x - 2.0),
                    px(x + 16.0),
                    y = px(cy)
                );
            }
            Key::Dot(c) => {
                let _ = write!(
                    out,
                    "<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{c}\" fill-opacity=\"0.7\"/>",
                    px(x + 7.0),
                    px(cy)
                );
            }
            Key::Line(c, dash, marker) => {
                let _ = write!(
                    out,
                    "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{c}\" \
                     stroke-width=\"2\"{}/>",
                    px(x - 2.0),
                    px(x + 16.0),
                    dash_attr(*dash),
                    y = px(cy)
                );
                marker.draw(out, x + 7.0, cy, c, "");
            }
            Key::Marker(c, marker) => marker.draw(out, x + 7.0, cy, c, ""),
        }
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            px(x + 22.0),
            px(cy + 4.0),
            esc(label)
        );
    }
    out.push_str("</g>");
}

/// The legend on one line, left to right, starting at (x, y).
fn legend_row(out: &mut String, x: f64, y: f64, entries: &[(Key, String)]) {
    let mut at = x;
    for entry in entries {
        legend(out, at, y, std::slice::from_ref(entry));
        at += 40.0 + text_width(&entry.1, 12.0);
    }
}

fn legend_row_width(entries: &[(Key, String)]) -> f64 {
    entries
        .iter()
        .map(|(_, l)| 40.0 + text_width(l, 12.0))
        .sum()
}

pub(super) fn legend_width(entries: &[(Key, String)]) -> f64 {
    entries
        .iter()
        .map(|(_, l)| 30.0 + text_width(l, 12.0))
        .fold(0.0, f64::max)
}

/// The dashed reference line across the plot.
pub(super) fn reference_line(
    out: &mut String,
    scale: &YScale,
    left: f64,
    right: f64,
    r: &Reference,
) {
    if !r.value.is_finite() || r.value > scale.top || r.value < scale.base {
        return;
    }
    let _ = write!(
        out,
        "<line class=\"reference\" x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#555\" \
         stroke-dasharray=\"4 3\"/>",
        px(left),
        px(right),
        y = px(scale.y(r.value))
    );
}

/// The x axis's baseline and its label centred under the plot.
fn x_axis(out: &mut String, scale: &YScale, left: f64, right: f64, label: &str, label_y: f64) {
    let _ = write!(
        out,
        "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#333\"/>\
         <text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        px(left),
        px(right),
        px((left + right) / 2.0),
        px(label_y),
        esc(label),
        y = px(scale.bottom()),
    );
}

pub(super) const LEFT: f64 = 72.0;
pub(super) const PLOT_HEIGHT: f64 = 260.0;

/// Renders grouped bars with uncertainty bars.
pub(crate) fn grouped_bars(chart: &GroupedBars) -> String {
    const BAR: f64 = 24.0;
    const GAP: f64 = 4.0;
    let ns = chart.series.len().max(1);
    let content = ns as f64 * (BAR + GAP) - GAP;
    let label_w = chart
        .groups
        .iter()
        .map(|g| text_width(&g.label, 11.0))
        .fold(0.0, f64::max);
    let group_w = (content + 28.0).max(label_w + 14.0);
    let plot_w = (group_w * chart.groups.len() as f64).max(120.0);
    let max = chart
        .groups
        .iter()
        .flat_map(|g| g.values.iter().flatten())
        .map(|v| v.high.max(v.point))
        .chain(chart.reference.iter().map(|r| r.value))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let top = header_height(&chart.subtitle) + 24.0;
    let scale = YScale::new(max, top, PLOT_HEIGHT);
    let right = LEFT + plot_w;
    let mut entries: Vec<(Key, String)> = chart
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| (Key::Swatch(color(i)), s.clone()))
        .collect();
    entries.push((Key::Whisker, chart.interval_label.clone()));
    if let Some(r) = &chart.reference {
        entries.push((Key::Dashed, r.label.clone()));
    }
    let width = (right + 28.0 + legend_width(&entries) + 12.0)
        .max(header_width(&chart.title, &chart.subtitle));
    let height = scale.bottom() + 58.0;
    let mut out = String::new();
    open(&mut out, width, height, &chart.title, &chart.subtitle);
    scale.draw(&mut out, LEFT, right, &chart.y_label);
    if let Some(r) = &chart.reference {
        reference_line(&mut out, &scale, LEFT, right, r);
    }
    out.push_str("<g class=\"bars\">");
    for (g, group) in chart.groups.iter().enumerate() {
        let gx = LEFT + group_w * g as f64;
        let start = gx + (group_w - content) / 2.0;
        for (s, value) in group.values.iter().enumerate() {
            let cx = start + s as f64 * (BAR + GAP) + BAR / 2.0;
            let series = chart.series.get(s).map_or("", String::as_str);
            match value {
                Some(v) => {
                    let top = scale.y(v.point);
                    let _ = write!(
                        out,
                        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\">\
                         <title>{} · {}: {} [{}, {}]</title></rect>",
                        px(cx - BAR / 2.0),
                        px(top),
                        px(BAR),
                        px(scale.bottom() - top),
                        color(s),
                        esc(series),
                        esc(&group.label),
                        num(v.point, 3),
                        num(v.low, 3),
                        num(v.high, 3),
                    );
                    whisker(&mut out, cx, scale.y(v.low), scale.y(v.high), 10.0);
                    let _ = write!(
                        out,
                        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" \
                         fill=\"#222\">{}</text>",
                        px(cx),
                        px(scale.y(v.high.max(v.point)) - 5.0),
                        num(v.point, 2)
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" \
                         fill=\"#777\">n/a</text>",
                        px(cx),
                        px(scale.bottom() - 5.0)
                    );
                }
            }
        }
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
            px(gx + group_w / 2.0),
            px(scale.bottom() + 17.0),
            esc(&group.label)
        );
    }
    out.push_str("</g>");
    x_axis(
        &mut out,
        &scale,
        LEFT,
        right,
        &chart.x_label,
        scale.bottom() + 42.0,
    );
    legend(&mut out, right + 28.0, top + 8.0, &entries);
    out.push_str("</svg>\n");
    out
}

/// A fixed spread in (−0.5, 0.5) for the i-th dot: the golden-ratio sequence spreads dots
/// evenly without randomness, so the page is byte-stable.
fn jitter(i: usize) -> f64 {
    (i as f64 * 0.618_033_988_749_895).fract() - 0.5
}

/// Renders a strip chart: per series a bar at the mean with its interval, and a dot per prompt.
pub(crate) fn strip_chart(chart: &StripChart) -> String {
    const BAR: f64 = 64.0;
    let label_w = chart
        .series
        .iter()
        .map(|s| text_width(&s.label, 11.0))
        .fold(0.0, f64::max);
    let col_w = (BAR + 80.0).max(label_w + 16.0);
    let plot_w = col_w * chart.series.len().max(1) as f64;
    let max = chart
        .series
        .iter()
        .flat_map(|s| {
            s.points
                .iter()
                .copied()
                .chain(s.mean.iter().flat_map(|m| [m.point, m.high]))
        })
        .chain(chart.reference.iter().map(|r| r.value))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let top = header_height(&chart.subtitle) + 24.0;
    let scale = YScale::new(max, top, PLOT_HEIGHT);
    let right = LEFT + plot_w;
    let mut entries: Vec<(Key, String)> = chart
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                Key::Hollow(color(i)),
                format!("{}: mean over prompts", s.label),
            )
        })
        .collect();
    entries.push((Key::Dot("#555555"), "one prompt".to_string()));
    entries.push((Key::Whisker, chart.interval_label.clone()));
    if let Some(r) = &chart.reference {
        entries.push((Key::Dashed, r.label.clone()));
    }
    let width = (right + 28.0 + legend_width(&entries) + 12.0)
        .max(header_width(&chart.title, &chart.subtitle));
    let height = scale.bottom() + 58.0;
    let mut out = String::new();
    open(&mut out, width, height, &chart.title, &chart.subtitle);
    scale.draw(&mut out, LEFT, right, &chart.y_label);
    if let Some(r) = &chart.reference {
        reference_line(&mut out, &scale, LEFT, right, r);
    }
    out.push_str("<g class=\"strips\">");
    for (s, series) in chart.series.iter().enumerate() {
        let cx = LEFT + col_w * (s as f64 + 0.5);
        let c = color(s);
        if let Some(m) = &series.mean {
            let top = scale.y(m.point);
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{c}\" \
                 fill-opacity=\"0.25\" stroke=\"{c}\"><title>{}: mean {} [{}, {}]</title></rect>",
                px(cx - BAR / 2.0),
                px(top),
                px(BAR),
                px(scale.bottom() - top),
                esc(&series.label),
                num(m.point, 3),
                num(m.low, 3),
                num(m.high, 3),
            );
        }
        for (i, p) in series.points.iter().enumerate() {
            let _ = write!(
                out,
                "<circle cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"{c}\" fill-opacity=\"0.7\"/>",
                px(cx + jitter(i) * (col_w - 24.0)),
                px(scale.y(*p)),
            );
        }
        if let Some(m) = &series.mean {
            whisker(&mut out, cx, scale.y(m.low), scale.y(m.high), 14.0);
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" \
                 font-weight=\"bold\" fill=\"#222\">mean {}</text>",
                px(cx),
                px(scale.plot_top - 6.0),
                num(m.point, 3)
            );
        }
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
            px(cx),
            px(scale.bottom() + 17.0),
            esc(&series.label)
        );
    }
    out.push_str("</g>");
    x_axis(
        &mut out,
        &scale,
        LEFT,
        right,
        &chart.x_label,
        scale.bottom() + 42.0,
    );
    legend(&mut out, right + 28.0, top + 8.0, &entries);
    out.push_str("</svg>\n");
    out
}

/// Outcome sets larger than this get thin bars and a labelled tick every ten outcomes.
const THIN_ABOVE: usize = 24;

/// Renders one outcome distribution.
pub(crate) fn distribution(chart: &Distribution) -> String {
    let n = chart.outcomes.len().min(chart.shares.len());
    let thin = n > THIN_ABOVE;
    let (bar, step, tick_every) = if thin {
        (4.0, 5.0, 10)
    } else {
        let label_w = chart
            .outcomes
            .iter()
            .map(|o| text_width(o, 11.0))
            .fold(0.0, f64::max);
        (36.0, (36.0 + 16.0f64).max(label_w + 10.0), 1)
    };
    let plot_w = (step * n as f64 + step).max(120.0);
    let max = chart.shares[..n]
        .iter()
        .map(|s| s.high.max(s.point))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .min(1.0);
    // The legend sits on a line of its own above the plot, so that two distributions fit
    // side by side on a page.
    let legend_y = header_height(&chart.subtitle) + 8.0;
    let scale = YScale::new(max, legend_y + 30.0, PLOT_HEIGHT - 60.0);
    let right = LEFT + plot_w;
    let entries = [
        (Key::Swatch(chart.color), "share (point)".to_string()),
        (Key::Swatch(MODE_COLOR), "mode".to_string()),
        (Key::Whisker, chart.interval_label.clone()),
    ];
    let width = (right + 16.0)
        .max(LEFT + legend_row_width(&entries))
        .max(header_width(&chart.title, &chart.subtitle));
    let height = scale.bottom() + 58.0;
    let mut out = String::new();
    open(&mut out, width, height, &chart.title, &chart.subtitle);
    scale.draw(&mut out, LEFT, right, &chart.y_label);
    out.push_str("<g class=\"bars\">");
    let x_of = |i: usize| LEFT + step * (i as f64 + 1.0);
    for i in 0..n {
        let s = chart.shares[i];
        let cx = x_of(i);
        let is_mode = chart.mode == Some(i);
        let top = scale.y(s.point);
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\">\
             <title>{}: {} [{}, {}]</title></rect>",
            px(cx - bar / 2.0),
            px(top),
            px(bar),
            px(scale.bottom() - top),
            if is_mode { MODE_COLOR } else { chart.color },
            esc(&chart.outcomes[i]),
            num(s.point, 3),
            num(s.low, 3),
            num(s.high, 3),
        );
        // A whisker on every one of 101 thin bars would hide the bars; draw those that say
        // something (a share that may be non-zero).
        if !thin {
            whisker(&mut out, cx, scale.y(s.low), scale.y(s.high), 10.0);
        } else if s.high > 0.0 {
            whisker_styled(
                &mut out,
                cx,
                scale.y(s.low),
                scale.y(s.high),
                3.0,
                "#555555",
                1.0,
            );
        }
        if i % tick_every == 0 {
            let _ = write!(
                out,
                "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#333\"/>\
                 <text class=\"tick\" x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
                px(scale.bottom()),
                px(scale.bottom() + 4.0),
                px(scale.bottom() + 16.0),
                esc(&chart.outcomes[i]),
                x = px(cx),
            );
        }
    }
    if let Some(m) = chart.mode.filter(|m| *m < n) {
        let s = chart.shares[m];
        let cx = x_of(m);
        let anchor = if cx < LEFT + 60.0 {
            "start"
        } else if cx > right - 60.0 {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            out,
            "<text class=\"mode\" x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" font-size=\"11\" \
             font-weight=\"bold\" fill=\"{MODE_COLOR}\">{} {}</text>",
            px(cx),
            px(scale.y(s.high.max(s.point)) - 6.0),
            esc(&chart.mode_label),
            num(s.point, 2),
        );
    }
    out.push_str("</g>");
    x_axis(
        &mut out,
        &scale,
        LEFT,
        right,
        &chart.x_label,
        scale.bottom() + 40.0,
    );
    legend_row(&mut out, LEFT, legend_y, &entries);
    out.push_str("</svg>\n");
    out
}

/// One figure per series across the recorded versions of a model set: a point with its
/// uncertainty bar per version, joined by a line, so that a reader sees at a glance whether a
/// figure moved and by more than its uncertainty.
#[derive(Debug, Clone)]
pub(crate) struct TrendChart {
    /// The chart's title.
    pub title: String,
    /// A line under the title.
    pub subtitle: String,
    /// The y axis's label, with units.
    pub y_label: String,
    /// The x axis's label.
    pub x_label: String,
    /// The versions, left to right.
    pub versions: Vec<TrendVersion>,
    /// The lines.
    pub series: Vec<TrendSeries>,
    /// What the uncertainty bar is, for the legend.
    pub interval_label: String,
}

/// One column of a trend chart.
#[derive(Debug, Clone)]
pub(crate) struct TrendVersion {
    /// The tick label: the version's name.
    pub label: String,
    /// A second, smaller line under it (e.g. the recording dates).
    pub note: String,
}

/// One line of a trend chart.
#[derive(Debug, Clone)]
pub(crate) struct TrendSeries {
    /// Its legend text.
    pub label: String,
    /// Its colour.
    pub color: &'static str,
    /// A dash pattern that tells apart series of one colour, e.g. two prompts of one model.
    pub dash: Option<&'static str>,
    /// The points' shape, which tells them apart where no line joins them.
    pub marker: Marker,
    /// One value per version; `None` draws nothing there (the version did not record it).
    pub points: Vec<Option<Interval>>,
}

/// A point's shape in a trend chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marker {
    Circle,
    Square,
    Diamond,
    Triangle,
}

impl Marker {
    /// The i-th shape, cycling.
    pub(crate) fn nth(i: usize) -> Marker {
        [
            Marker::Circle,
            Marker::Square,
            Marker::Diamond,
            Marker::Triangle,
        ][i % 4]
    }

    /// The shape centred on (x, y), filled with `fill`, with `inner` (e.g. a `<title>`) inside;
    /// a data point (not a legend's symbol) is of class `point`, so that tests can count them.
    pub(super) fn draw(self, out: &mut String, x: f64, y: f64, fill: &str, inner: &str) {
        let class = if inner.is_empty() { "key" } else { "point" };
        let shape = match self {
            Marker::Circle => format!(
                "<circle class=\"{class}\" cx=\"{}\" cy=\"{}\" r=\"4\"",
                px(x),
                px(y)
            ),
            Marker::Square => format!(
                "<rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"7.5\" height=\"7.5\"",
                px(x - 3.75),
                px(y - 3.75)
            ),
            Marker::Diamond => format!(
                "<path class=\"{class}\" d=\"M{},{}L{},{}L{},{}L{},{}Z\"",
                px(x),
                px(y - 5.0),
                px(x + 5.0),
                px(y),
                px(x),
                px(y + 5.0),
                px(x - 5.0),
                px(y)
            ),
            Marker::Triangle => format!(
                "<path class=\"{class}\" d=\"M{},{}L{},{}L{},{}Z\"",
                px(x),
                px(y - 5.0),
                px(x + 4.5),
                px(y + 3.5),
                px(x - 4.5),
                px(y + 3.5)
            ),
        };
        let tag = match self {
            Marker::Circle => "circle",
            Marker::Square => "rect",
            Marker::Diamond | Marker::Triangle => "path",
        };
        let _ = write!(
            out,
            "{shape} fill=\"{fill}\" stroke=\"#ffffff\" stroke-width=\"1\">{inner}</{tag}>"
        );
    }
}

/// The `stroke-dasharray` attribute, with its leading space, or nothing for a solid line.
fn dash_attr(dash: Option<&str>) -> String {
    dash.map(|d| format!(" stroke-dasharray=\"{}\"", esc(d)))
        .unwrap_or_default()
}

/// Series up to this many get their point's value written beside it; more would overlap.
const TREND_LABELS_UP_TO: usize = 4;

/// Renders a trend: per series a point and uncertainty bar per version, consecutive points
/// joined; a version missing a point leaves a gap rather than a line drawn through it, since
/// a line would suggest a value that was never measured.
pub(crate) fn trend_chart(chart: &TrendChart) -> String {
    let nv = chart.versions.len().max(1);
    let ns = chart.series.len().max(1);
    let label_w = chart
        .versions
        .iter()
        .map(|v| text_width(&v.label, 11.0).max(text_width(&v.note, 10.0)))
        .fold(0.0, f64::max);
    let col_w = (label_w + 24.0).max(180.0);
    let plot_w = col_w * nv as f64;
    let values: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().flatten())
        .flat_map(|v| [v.low, v.point, v.high])
        .filter(|v| v.is_finite())
        .collect();
    let top = header_height(&chart.subtitle) + 24.0;
    let scale = YScale::span(
        values.iter().copied().fold(f64::INFINITY, f64::min),
        values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        top,
        PLOT_HEIGHT,
    );
    let right = LEFT + plot_w;
    let mut entries: Vec<(Key, String)> = chart
        .series
        .iter()
        .map(|s| (Key::Line(s.color, s.dash, s.marker), s.label.clone()))
        .collect();
    entries.push((Key::Whisker, chart.interval_label.clone()));
    let width = (right + 28.0 + legend_width(&entries) + 12.0)
        .max(header_width(&chart.title, &chart.subtitle));
    let height = (scale.bottom() + 66.0).max(top + 8.0 + 20.0 * entries.len() as f64 + 8.0);
    let mut out = String::new();
    open(&mut out, width, height, &chart.title, &chart.subtitle);
    scale.draw(&mut out, LEFT, right, &chart.y_label);
    // Series side by side within a column, so that equal values keep their bars apart.
    let dodge = (col_w * 0.4 / ns as f64).min(16.0);
    let x_of = |v: usize, s: usize| {
        LEFT + col_w * (v as f64 + 0.5) + (s as f64 - (ns as f64 - 1.0) / 2.0) * dodge
    };
    out.push_str("<g class=\"trend\">");
    for (v, version) in chart.versions.iter().enumerate() {
        let cx = LEFT + col_w * (v as f64 + 0.5);
        let empty = chart
            .series
            .iter()
            .all(|s| s.points.get(v).is_none_or(|p| p.is_none()));
        if empty {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" \
                 fill=\"#777\">no figures</text>",
                px(cx),
                px(scale.plot_top + scale.plot_height / 2.0)
            );
        }
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>\
             <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#555\">{}</text>",
            px(scale.bottom() + 17.0),
            esc(&version.label),
            px(scale.bottom() + 31.0),
            esc(&version.note),
            x = px(cx),
        );
    }
    for (s, series) in chart.series.iter().enumerate() {
        // Runs of consecutive versions that both have a point.
        let mut d = String::new();
        for v in 1..series.points.len().min(nv) {
            if let (Some(a), Some(b)) = (series.points[v - 1], series.points[v]) {
                let _ = write!(
                    d,
                    "M{},{}L{},{}",
                    px(x_of(v - 1, s)),
                    px(scale.y(a.point)),
                    px(x_of(v, s)),
                    px(scale.y(b.point))
                );
            }
        }
        if !d.is_empty() {
            let _ = write!(
                out,
                "<path d=\"{d}\" stroke=\"{}\" stroke-width=\"2\" fill=\"none\"{}/>",
                series.color,
                dash_attr(series.dash)
            );
        }
    }
    for (s, series) in chart.series.iter().enumerate() {
        for (v, point) in series.points.iter().enumerate().take(nv) {
            let Some(p) = point else { continue };
            let (x, y) = (x_of(v, s), scale.y(p.point));
            whisker_styled(
                &mut out,
                x,
                scale.y(p.low),
                scale.y(p.high),
                8.0,
                series.color,
                1.5,
            );
            let version = chart.versions.get(v).map_or("", |v| v.label.as_str());
            let tip = format!(
                "<title>{} · {}: {} [{}, {}]</title>",
                esc(&series.label),
                esc(version),
                num(p.point, 3),
                num(p.low, 3),
                num(p.high, 3),
            );
            series.marker.draw(&mut out, x, y, series.color, &tip);
            if chart.series.len() <= TREND_LABELS_UP_TO {
                let _ = write!(
                    out,
                    "<text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"#222\">{}</text>",
                    px(x + 7.0),
                    px(y + 4.0),
                    num(p.point, 3)
                );
            }
        }
    }
    out.push_str("</g>");
    x_axis(
        &mut out,
        &scale,
        LEFT,
        right,
        &chart.x_label,
        scale.bottom() + 52.0,
    );
    legend(&mut out, right + 28.0, top + 8.0, &entries);
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(point: f64, low: f64, high: f64) -> Interval {
        Interval { point, low, high }
    }

    /// Parses the document and returns every text node's content, joined, for searching.
    fn parse(svg: &str) -> (String, String) {
        let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let title = root
            .children()
            .find(|n| n.has_tag_name("title"))
            .and_then(|n| n.text())
            .expect("the svg's first children include a <title>")
            .to_string();
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        (title, texts.join("\n"))
    }

    fn has_legend(svg: &str) -> bool {
        let doc = roxmltree::Document::parse(svg).unwrap();
        doc.descendants()
            .any(|n| n.has_tag_name("g") && n.attribute("class") == Some("legend"))
    }

    fn nasty() -> &'static str {
        r#"<b>"tom" & 'jerry'</b>"#
    }

    #[test]
    fn grouped_bars_parse_with_title_axes_legend_and_escaped_text() {
        let svg = grouped_bars(&GroupedBars {
            title: format!("entropy {}", nasty()),
            subtitle: "sub & title".into(),
            y_label: "entropy (nats)".into(),
            x_label: "prompt".into(),
            series: vec!["gemma (base)".into(), nasty().into()],
            groups: vec![
                Group {
                    label: "qa".into(),
                    values: vec![Some(iv(1.8, 1.6, 2.2)), None],
                },
                Group {
                    label: nasty().into(),
                    values: vec![Some(iv(0.0, 0.0, 0.0)), Some(iv(f64::NAN, 0.0, 1.0))],
                },
            ],
            interval_label: "bounds [low, high]".into(),
            reference: Some(Reference {
                value: 4.615,
                label: "ln 101".into(),
            }),
        });
        let (title, texts) = parse(&svg);
        assert_eq!(title, format!("entropy {}", nasty()));
        for needle in ["entropy (nats)", "prompt", "gemma (base)", "ln 101", "n/a"] {
            assert!(texts.contains(needle), "{needle} missing in {texts}");
        }
        assert!(
            texts.contains(nasty()),
            "the legend shows the raw text once parsed"
        );
        assert!(has_legend(&svg));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert!(!svg.contains(" id="), "inline charts must not clash on ids");
    }

    #[test]
    fn strip_chart_parses_with_a_dot_per_prompt() {
        let svg = strip_chart(&StripChart {
            title: "entropy over 120 prompts".into(),
            subtitle: String::new(),
            y_label: "entropy (nats)".into(),
            x_label: "model (role)".into(),
            series: vec![
                StripSeries {
                    label: "a (base)".into(),
                    points: (0..120).map(|i| i as f64 / 100.0).collect(),
                    mean: Some(iv(0.6, 0.5, 0.7)),
                },
                StripSeries {
                    label: "b (dpo)".into(),
                    points: vec![],
                    mean: None,
                },
            ],
            interval_label: "mean of bounds".into(),
            reference: None,
        });
        let (title, texts) = parse(&svg);
        assert_eq!(title, "entropy over 120 prompts");
        assert!(texts.contains("entropy (nats)") && texts.contains("model (role)"));
        assert!(has_legend(&svg));
        assert_eq!(
            svg.matches("<circle").count(),
            120 + 1,
            "120 dots and the legend's"
        );
    }

    #[test]
    fn a_distribution_over_101_integers_has_thin_bars_and_a_tick_every_ten() {
        let mut shares = vec![iv(0.0, 0.0, 0.001); 101];
        shares[97] = iv(0.9, 0.85, 0.95);
        let svg = distribution(&Distribution {
            title: "gemma · qa".into(),
            subtitle: "coverage 0.177".into(),
            x_label: "outcome".into(),
            y_label: "share of the outcome set".into(),
            outcomes: (0..=100).map(|i| i.to_string()).collect(),
            shares,
            mode: Some(97),
            mode_label: "mode “ 97”".into(),
            interval_label: "bounds".into(),
            color: color(0),
        });
        let (_, texts) = parse(&svg);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let ticks: Vec<&str> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("tick"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(
            ticks,
            [
                "0", "10", "20", "30", "40", "50", "60", "70", "80", "90", "100"
            ]
        );
        assert!(texts.contains("mode “ 97” 0.90"), "{texts}");
        assert!(texts.contains("share of the outcome set") && texts.contains("outcome"));
        assert!(has_legend(&svg));
    }

    #[test]
    fn a_small_distribution_labels_every_outcome() {
        let svg = distribution(&Distribution {
            title: "t".into(),
            subtitle: String::new(),
            x_label: "outcome".into(),
            y_label: "share".into(),
            outcomes: vec!["leaves".into(), "stays".into()],
            shares: vec![iv(0.0, 0.0, 0.04), iv(1.0, 0.96, 1.0)],
            mode: Some(1),
            mode_label: "mode “stays”".into(),
            interval_label: "95% Wilson interval".into(),
            color: color(1),
        });
        let (_, texts) = parse(&svg);
        assert!(texts.contains("leaves") && texts.contains("stays"));
    }

    #[test]
    fn a_trend_parses_with_title_axes_legend_and_leaves_missing_points_out() {
        let series = |label: &str, marker: Marker, points: Vec<Option<Interval>>| TrendSeries {
            label: label.into(),
            color: color(0),
            dash: Some("6 3"),
            marker,
            points,
        };
        let svg = trend_chart(&TrendChart {
            title: format!("trend {}", nasty()),
            subtitle: "enumerate".into(),
            y_label: "entropy (nats)".into(),
            x_label: "version of local".into(),
            versions: ["local@a", "local@b", "local"]
                .iter()
                .map(|v| TrendVersion {
                    label: v.to_string(),
                    note: format!("note {v}"),
                })
                .collect(),
            series: vec![
                // A gap in the middle: no line is drawn across it.
                series(
                    nasty(),
                    Marker::Circle,
                    vec![Some(iv(2.3, 2.1, 2.7)), None, Some(iv(2.4, 2.2, 2.8))],
                ),
                series(
                    "b (dpo) · p",
                    Marker::Diamond,
                    vec![None, Some(iv(2.9, 2.8, 3.2)), Some(iv(2.9, 2.8, 3.2))],
                ),
            ],
            interval_label: "guaranteed bounds [low, high]".into(),
        });
        let (title, texts) = parse(&svg);
        assert_eq!(title, format!("trend {}", nasty()));
        for needle in [
            "entropy (nats)",
            "version of local",
            "local@a",
            "note local@b",
            "b (dpo) · p",
            "guaranteed bounds [low, high]",
            nasty(),
            "2.300",
            "2.900",
        ] {
            assert!(texts.contains(needle), "{needle} missing in {texts}");
        }
        assert!(has_legend(&svg));
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let count = |class: &str| {
            doc.descendants()
                .filter(|n| n.attribute("class") == Some(class))
                .count()
        };
        assert_eq!(count("point"), 4, "one per present value, none invented");
        assert_eq!(count("axis-label"), 2);
        // One line: b from local@b to local; a's two points are not joined across the gap.
        let lines: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("path") && n.attribute("stroke-width") == Some("2"))
            .filter_map(|n| n.attribute("d"))
            .collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0].matches('M').count(), 1, "{lines:?}");
        assert!(!svg.contains("NaN") && !svg.contains(" id="), "{svg}");
        // The point's tooltip names its series and version.
        assert!(svg.contains("<title>b (dpo) · p · local@b: 2.900 [2.800, 3.200]</title>"));
    }

    #[test]
    fn a_version_without_figures_says_so() {
        let svg = trend_chart(&TrendChart {
            title: "t".into(),
            subtitle: String::new(),
            y_label: "entropy (nats)".into(),
            x_label: "version".into(),
            versions: vec![
                TrendVersion {
                    label: "local@x".into(),
                    note: "not recorded".into(),
                },
                TrendVersion {
                    label: "local".into(),
                    note: "current".into(),
                },
            ],
            series: vec![TrendSeries {
                label: "a".into(),
                color: color(1),
                dash: None,
                marker: Marker::Square,
                points: vec![None, Some(iv(1.0, 1.0, 1.0))],
            }],
            interval_label: "bounds".into(),
        });
        let (_, texts) = parse(&svg);
        assert!(texts.contains("no figures"), "{texts}");
    }

    #[test]
    fn a_span_scale_zooms_to_the_figures_with_round_ticks() {
        let s = YScale::span(2.103, 3.192, 0.0, 100.0);
        assert!(
            s.base > 1.0 && s.base <= 2.103 && s.top >= 3.192,
            "{} {}",
            s.base,
            s.top
        );
        let ticks = (s.top - s.base) / s.step;
        assert!((ticks - ticks.round()).abs() < 1e-9 && ticks <= 8.0);
        assert!((s.y(s.base) - 100.0).abs() < 1e-9 && s.y(s.top).abs() < 1e-9);
        let flat = YScale::span(0.0, 0.0, 0.0, 100.0);
        assert!(flat.base == 0.0 && flat.top > 0.0);
        let none = YScale::span(f64::INFINITY, f64::NEG_INFINITY, 0.0, 100.0);
        assert_eq!((none.base, none.top), (0.0, 1.25), "falls back to [0, 1]");
    }

    #[test]
    fn scales_pick_round_ticks() {
        let s = YScale::new(4.615, 0.0, 100.0);
        assert_eq!((s.top, s.step), (5.0, 1.0));
        let s = YScale::new(0.63, 0.0, 100.0);
        assert!((s.top - 0.8).abs() < 1e-12 && (s.step - 0.2).abs() < 1e-12);
        assert_eq!(s.decimals(), 1);
        let s = YScale::new(f64::NAN, 0.0, 100.0);
        assert_eq!(s.top, 1.0);
        let s = YScale::new(1.1, 0.0, 100.0);
        assert_eq!(s.decimals(), 2, "a step of 0.25");
    }
}
