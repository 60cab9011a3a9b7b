//! The benchmark's chart as a self-contained SVG: on the left the distributions (CDF, log
//! time axis) of dispatch latency and of the watch latency floor measured in the same run; on
//! the right the run's progress over time (jobs created, runner Pods created, jobs finished).

use std::fmt::Write as _;

use crate::measure::Latencies;

const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 430.0;
const PANEL_WIDTH: f64 = 400.0;
const PANEL_HEIGHT: f64 = 300.0;
const TOP: f64 = 60.0;
const LEFTS: [f64; 2] = [70.0, 570.0];
/// Points per drawn curve: enough for a smooth line, few enough for a small file.
const POINTS: usize = 400;

/// A curve of the progress panel: its label, colour and the times (seconds from the start) at
/// which its count went up by one.
pub struct Series<'a> {
    /// Legend text.
    pub label: &'a str,
    /// CSS colour.
    pub colour: &'a str,
    /// Event times in seconds, in any order.
    pub times: Vec<f64>,
}

/// A latency distribution of the latency panel.
pub struct Curve<'a> {
    /// Legend text (p50 and p99 are appended).
    pub label: &'a str,
    /// CSS colour.
    pub colour: &'a str,
    /// The samples.
    pub latencies: &'a Latencies,
    /// Drawn dashed (e.g. a second measurement of the same thing).
    pub dashed: bool,
}

/// What the chart shows.
pub struct ChartData<'a> {
    /// Title line.
    pub title: String,
    /// Second line (machine, settings).
    pub subtitle: String,
    /// Latency distributions, e.g. dispatch (TestJob create sent → runner Pod seen) and its
    /// floor, the watch latency (create sent → a plain watcher saw it).
    pub latencies: Vec<Curve<'a>>,
    /// Progress curves.
    pub progress: Vec<Series<'a>>,
}

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A duration in milliseconds as a short axis label.
fn ms_label(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", ms / 1000.0)
    } else {
        format!("{ms} ms")
    }
}

/// Renders the chart.
pub fn render(data: &ChartData<'_>) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{x}" y="22" font-size="16" font-weight="bold" text-anchor="middle">{title}</text>
<text x="{x}" y="40" fill="#555555" text-anchor="middle">{subtitle}</text>
"##,
        x = WIDTH / 2.0,
        title = escape(&data.title),
        subtitle = escape(&data.subtitle),
    );
    latency_panel(&mut svg, &data.latencies);
    progress_panel(&mut svg, &data.progress);
    svg.push_str("</svg>\n");
    svg
}

/// Frame, title and horizontal grid of a panel; returns its origin (left, bottom).
fn frame(svg: &mut String, left: f64, title: &str, y_label: &str) -> (f64, f64) {
    let bottom = TOP + PANEL_HEIGHT;
    let _ = writeln!(
        svg,
        r##"<text x="{cx}" y="{ty}" font-weight="bold" text-anchor="middle">{title}</text>
<rect x="{left}" y="{TOP}" width="{PANEL_WIDTH}" height="{PANEL_HEIGHT}" fill="none" stroke="#333333"/>
<text transform="translate({lx},{ly}) rotate(-90)" text-anchor="middle">{y_label}</text>"##,
        cx = left + PANEL_WIDTH / 2.0,
        ty = TOP - 8.0,
        title = escape(title),
        lx = left - 45.0,
        ly = TOP + PANEL_HEIGHT / 2.0,
        y_label = escape(y_label),
    );
    (left, bottom)
}

/// A horizontal grid line with its label on the left.
fn y_tick(svg: &mut String, left: f64, y: f64, label: &str) {
    let _ = writeln!(
        svg,
        r##"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#dddddd"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{label}</text>"##,
        right = left + PANEL_WIDTH,
        tx = left - 6.0,
        ty = y + 4.0,
        label = escape(label),
    );
}

/// A vertical grid line with its label below.
fn x_tick(svg: &mut String, x: f64, label: &str) {
    let bottom = TOP + PANEL_HEIGHT;
    let _ = writeln!(
        svg,
        r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{bottom}" stroke="#dddddd"/><text x="{x:.1}" y="{ty}" text-anchor="middle">{label}</text>"##,
        ty = bottom + 16.0,
        label = escape(label),
    );
}

fn polyline(svg: &mut String, points: &[(f64, f64)], colour: &str, dashed: bool) {
    let mut path = String::new();
    for (x, y) in points {
        let _ = write!(path, "{x:.1},{y:.1} ");
    }
    let _ = writeln!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"{}/>"##,
        path.trim_end(),
        if dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        }
    );
}

fn legend(svg: &mut String, left: f64, row: usize, colour: &str, label: &str) {
    let y = TOP + 16.0 + 18.0 * row as f64;
    let _ = writeln!(
        svg,
        r##"<rect x="{x}" y="{ry}" width="14" height="4" fill="{colour}"/><text x="{tx}" y="{ty}">{label}</text>"##,
        x = left + 10.0,
        ry = y - 4.0,
        tx = left + 30.0,
        ty = y,
        label = escape(label),
    );
}

/// Decades (in ms) spanning the samples of both distributions, for a log axis.
fn decades(curves: &[Curve<'_>]) -> (i32, i32) {
    let positive = curves
        .iter()
        .flat_map(|c| c.latencies.sorted_ms())
        .copied()
        .filter(|v| *v > 0.0);
    let (lo, hi) = positive.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi <= 0.0 {
        return (0, 3);
    }
    let lo = (lo.log10().floor() as i32).max(-1);
    let hi = (hi.log10().ceil() as i32).max(lo + 1);
    (lo, hi)
}

fn latency_panel(svg: &mut String, curves: &[Curve<'_>]) {
    let (left, bottom) = frame(
        svg,
        LEFTS[0],
        "Latency distribution (log scale)",
        "fraction of objects",
    );
    let (lo, hi) = decades(curves);
    let span = f64::from(hi - lo);
    let x_of = |ms: f64| {
        let v = ms.max(10f64.powi(lo)).log10();
        left + (v - f64::from(lo)) / span * PANEL_WIDTH
    };
    let y_of = |fraction: f64| bottom - fraction * PANEL_HEIGHT;
    for decade in lo..=hi {
        let ms = 10f64.powi(decade);
        x_tick(svg, x_of(ms), &ms_label(ms));
    }
    for tenth in 0..=4 {
        let fraction = f64::from(tenth) / 4.0;
        y_tick(svg, left, y_of(fraction), &format!("{fraction:.2}"));
    }
    let _ = writeln!(
        svg,
        r##"<text x="{x}" y="{y}" text-anchor="middle">milliseconds</text>"##,
        x = left + PANEL_WIDTH / 2.0,
        y = bottom + 34.0,
    );
    for (row, curve) in curves.iter().enumerate() {
        let Curve {
            label,
            colour,
            latencies,
            dashed,
        } = *curve;
        if latencies.is_empty() {
            continue;
        }
        let points: Vec<(f64, f64)> = (0..=POINTS)
            .map(|i| {
                let p = 100.0 * i as f64 / POINTS as f64;
                (x_of(latencies.percentile(p)), y_of(p / 100.0))
            })
            .collect();
        polyline(svg, &points, colour, dashed);
        let p50 = latencies.percentile(50.0);
        let p99 = latencies.percentile(99.0);
        legend(
            svg,
            left,
            row,
            colour,
            &format!("{label} (p50 {p50:.1} ms, p99 {p99:.1} ms)"),
        );
        let _ = writeln!(
            svg,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{colour}"/>"##,
            x = x_of(p50),
            y = y_of(0.5),
        );
    }
}

/// A round step for an axis spanning `max`, giving about five ticks.
fn nice_step(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * magnitude)
}

/// Round tick values from 0 to `max`.
fn ticks(max: f64) -> Vec<f64> {
    let step = nice_step(max);
    (0..)
        .map(|k| (f64::from(k) * step * 1000.0).round() / 1000.0)
        .take_while(|t| *t <= max + 1e-9)
        .collect()
}

fn progress_panel(svg: &mut String, series: &[Series<'_>]) {
    let (left, bottom) = frame(svg, LEFTS[1], "Progress of the run", "objects");
    let max_time = series
        .iter()
        .flat_map(|s| s.times.iter().copied())
        .fold(0.0f64, f64::max)
        .max(0.001);
    let max_count = series
        .iter()
        .map(|s| s.times.len())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let x_of = |t: f64| left + t / max_time * PANEL_WIDTH;
    let y_of = |count: f64| bottom - count / max_count * PANEL_HEIGHT;
    for t in ticks(max_time) {
        x_tick(svg, x_of(t), &format!("{t}"));
    }
    for c in ticks(max_count) {
        y_tick(svg, left, y_of(c), &format!("{c}"));
    }
    let _ = writeln!(
        svg,
        r##"<text x="{x}" y="{y}" text-anchor="middle">seconds since the first create</text>"##,
        x = left + PANEL_WIDTH / 2.0,
        y = bottom + 34.0,
    );
    for (row, s) in series.iter().enumerate() {
        let mut times = s.times.clone();
        times.sort_by(f64::total_cmp);
        let n = times.len();
        let mut points = vec![(x_of(0.0), y_of(0.0))];
        let stride = n.div_ceil(POINTS).max(1);
        for i in (0..n).step_by(stride).chain(n.checked_sub(1)) {
            points.push((x_of(times[i]), y_of((i + 1) as f64)));
        }
        polyline(svg, &points, s.colour, false);
        legend(svg, left, row, s.colour, &format!("{} ({n})", s.label));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn renders_a_well_formed_svg() {
        let dispatch = Latencies::new((1..=1000).map(|i| Duration::from_micros(i * 50)));
        let watch = Latencies::new((1..=500).map(|i| Duration::from_micros(i * 20)));
        let svg = render(&ChartData {
            title: "t <1>".into(),
            subtitle: "s & s".into(),
            latencies: vec![
                Curve {
                    label: "dispatch",
                    colour: "#d62728",
                    latencies: &dispatch,
                    dashed: false,
                },
                Curve {
                    label: "watch",
                    colour: "#1f77b4",
                    latencies: &watch,
                    dashed: true,
                },
            ],
            progress: vec![Series {
                label: "created",
                colour: "#000",
                times: (0..100).map(|i| f64::from(i) / 10.0).collect(),
            }],
        });
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("t &lt;1&gt;") && svg.contains("s &amp; s"));
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert_eq!(svg.matches("stroke-dasharray").count(), 1);
        // Log axis from 0.01 ms rounded up to 0.1 ms, to 50 ms rounded up to 100 ms.
        assert!(
            svg.contains(">0.1 ms<") && svg.contains(">100 ms<"),
            "{svg}"
        );
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        // Every element opened is closed.
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }

    #[test]
    fn empty_data_still_renders() {
        let empty = Latencies::default();
        let svg = render(&ChartData {
            title: String::new(),
            subtitle: String::new(),
            latencies: vec![Curve {
                label: "none",
                colour: "#000",
                latencies: &empty,
                dashed: false,
            }],
            progress: vec![],
        });
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(100.0), 20.0);
        assert_eq!(nice_step(12.0), 2.5);
        assert_eq!(nice_step(10_000.0), 2_000.0);
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(ticks(0.5), [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]);
    }
}
