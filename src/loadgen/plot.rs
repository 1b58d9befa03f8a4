//! SVG chart of latency by percentile: the classic HdrHistogram plot, with the
//! percentile on a log scale of 1/(1-p) so the tail gets as much room as the
//! body. Owns layout, scaling and escaping only. It never does I/O and never
//! panics on odd data: it returns a complete, self-contained SVG 1.1 string
//! (no fonts, scripts or external references) with only finite numbers in it.

use std::fmt::Write as _;

/// One line on the chart.
pub struct Series {
    pub label: String,
    /// (percentile as a fraction in 0..=1, latency in ms).
    pub points: Vec<(f64, f64)>,
}

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 500.0;
// Plot area; margins leave room for the title, tick labels and axis titles.
const LEFT: f64 = 75.0;
const RIGHT: f64 = 850.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 440.0;
// Clipping to the plot area is what keeps every coordinate inside the viewBox.
const _: () = assert!(0.0 <= LEFT && RIGHT <= WIDTH && 0.0 <= TOP && BOTTOM <= HEIGHT);
/// 99.9999%: beyond this runs are rarely long enough to mean anything.
const MAX_DECADES: f64 = 6.0;
/// Always show up to 99% so short runs still look like the familiar plot.
const MIN_DECADES: f64 = 2.0;
/// Smallest y range: output has µs resolution, so a tighter axis is noise.
const MIN_Y_MS: f64 = 0.001;
/// Largest y range (~11.6 days); keeps absurd inputs from rounding the axis to infinity.
const MAX_Y_MS: f64 = 1e9;
/// Tableau 10: distinct, colour-blind friendlier than pure hues.
const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// A complete SVG document.
pub fn percentile_svg(title: &str, series: &[Series]) -> String {
    let cleaned: Vec<Vec<(f64, f64)>> = series.iter().map(|s| usable(&s.points)).collect();
    let all = cleaned.iter().flatten();
    // Points at p >= 1 have no finite x; they are drawn at the axis end, so
    // they must not decide where the end is.
    let max_dec = all
        .clone()
        .filter(|(p, _)| *p < 1.0)
        .map(|(p, _)| decades(*p))
        .fold(0.0, f64::max);
    // The epsilon keeps log10(1/(1-0.999)) = 3.0000000000000004 on decade 3.
    let x_end = (max_dec - 1e-9).ceil().clamp(MIN_DECADES, MAX_DECADES);
    let max_ms = all.map(|(_, ms)| *ms).fold(0.0, f64::max);
    let (y_max, y_step) = nice_axis(max_ms.clamp(MIN_Y_MS, MAX_Y_MS));

    let mut svg = String::new();
    // Writing to a String cannot fail, so the fmt::Results below are ignored.
    let _ = write!(
        svg,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{WIDTH}\" \
         height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" \
         font-size=\"12\">\n<rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"white\"/>\n\
         <text x=\"{:.1}\" y=\"30\" text-anchor=\"middle\" font-size=\"16\">{}</text>\n",
        WIDTH / 2.0,
        escape(title)
    );
    let ticks = (y_max / y_step).round() as u32;
    for i in 0..=ticks {
        let v = f64::from(i) * y_step;
        let y = y_px(v, y_max);
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{y:.2}\" x2=\"{RIGHT}\" y2=\"{y:.2}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.2}\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            y + 4.0,
            fmt_num(v)
        );
    }
    for d in 0..=(x_end as u32) {
        let x = LEFT + f64::from(d) / x_end * (RIGHT - LEFT);
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.2}\" y1=\"{TOP}\" x2=\"{x:.2}\" y2=\"{BOTTOM}\" stroke=\"#ddd\"/>\
             <text x=\"{x:.2}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            BOTTOM + 18.0,
            tick_label(d)
        );
    }
    let _ = write!(
        svg,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" \
         stroke=\"#333\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">Percentile</text>\n\
         <text transform=\"translate(20 {:.1}) rotate(-90)\" text-anchor=\"middle\">Latency (ms)</text>\n",
        RIGHT - LEFT,
        BOTTOM - TOP,
        (LEFT + RIGHT) / 2.0,
        HEIGHT - 15.0,
        (TOP + BOTTOM) / 2.0
    );

    for (i, pts) in cleaned.iter().enumerate().filter(|(_, p)| !p.is_empty()) {
        let colour = PALETTE[i % PALETTE.len()];
        let mut coords: Vec<String> = pts
            .iter()
            .map(|&(p, ms)| format!("{:.2},{:.2}", x_px(p, x_end), y_px(ms, y_max)))
            .collect();
        // A lone point repeated is a zero-length segment, which round caps
        // draw as a dot; a one-point polyline would draw nothing.
        if coords.len() == 1 {
            coords.push(coords[0].clone());
        }
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" \
             stroke-linecap=\"round\" stroke-linejoin=\"round\" points=\"{}\"/>",
            coords.join(" ")
        );
    }

    if cleaned.iter().all(Vec::is_empty) {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"20\" \
             fill=\"#888\">no data</text>",
            (LEFT + RIGHT) / 2.0,
            (TOP + BOTTOM) / 2.0
        );
    }
    write_legend(&mut svg, series, &cleaned);
    svg.push_str("</svg>\n");
    svg
}

/// Legend in the top-left corner, where latency curves are lowest and rarely drawn.
fn write_legend(svg: &mut String, series: &[Series], cleaned: &[Vec<(f64, f64)>]) {
    if series.is_empty() {
        return;
    }
    let labels: Vec<String> = series
        .iter()
        .zip(cleaned)
        .map(|(s, pts)| {
            format!(
                "{}{}",
                s.label,
                if pts.is_empty() { " (no data)" } else { "" }
            )
        })
        .collect();
    // No font metrics without a renderer; 7px per char fits 12px sans-serif.
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let (x0, y0) = (LEFT + 10.0, TOP + 10.0);
    let _ = writeln!(
        svg,
        "<rect x=\"{x0}\" y=\"{y0}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"white\" \
         fill-opacity=\"0.85\" stroke=\"#999\"/>",
        longest as f64 * 7.0 + 34.0,
        labels.len() as f64 * 18.0 + 8.0
    );
    for (i, label) in labels.iter().enumerate() {
        let y = y0 + 6.0 + i as f64 * 18.0;
        let _ = writeln!(
            svg,
            "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x0 + 6.0,
            PALETTE[i % PALETTE.len()],
            x0 + 24.0,
            y + 10.5,
            escape(label)
        );
    }
}

/// Drops points with NaN percentile or non-finite latency, clamps the rest
/// into range and sorts by percentile, so callers may pass raw data.
fn usable(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = points
        .iter()
        .filter(|(p, ms)| !p.is_nan() && ms.is_finite())
        .map(|&(p, ms)| (p.clamp(0.0, 1.0), ms.max(0.0)))
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// log10(1/(1-p)); only meaningful for p < 1.
fn decades(p: f64) -> f64 {
    -(1.0 - p).log10()
}

/// Horizontal pixel for percentile `p`; p >= 1 (infinite decades) clips to the end.
fn x_px(p: f64, x_end: f64) -> f64 {
    let d = if p < 1.0 { decades(p.max(0.0)) } else { x_end };
    LEFT + d.clamp(0.0, x_end) / x_end * (RIGHT - LEFT)
}

fn y_px(ms: f64, y_max: f64) -> f64 {
    BOTTOM - ms.clamp(0.0, y_max) / y_max * (BOTTOM - TOP)
}

/// Smallest {1, 2, 2.5, 5} x 10^k >= v, with a step giving 4-5 gridlines.
fn nice_axis(v: f64) -> (f64, f64) {
    let base = 10f64.powf(v.log10().floor());
    for (m, step) in [(1.0, 0.2), (2.0, 0.5), (2.5, 0.5), (5.0, 1.0)] {
        // Tolerance so e.g. 2.0000000001 from float noise does not jump to 2.5.
        if m * base >= v * (1.0 - 1e-9) {
            return (m * base, step * base);
        }
    }
    (10.0 * base, 2.0 * base)
}

/// "0%", "90%", "99%", "99.9%", ... for decade `d`.
fn tick_label(d: u32) -> String {
    match d {
        0 => "0%".to_string(),
        1 => "90%".to_string(),
        _ => format!("99.{}%", "9".repeat(d as usize - 2)).replace(".%", "%"),
    }
}

/// Trims float noise so labels read "0.25", not "0.25000000000000006".
fn fmt_num(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// XML-escapes text and drops control characters, which XML 1.0 forbids.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(label: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.to_string(),
            points,
        }
    }

    fn typical(label: &str, scale: f64) -> Series {
        let ps = [0.0, 0.5, 0.9, 0.99, 0.999, 1.0];
        let ms = [1.0, 1.2, 2.0, 3.0, 5.0, 9.0];
        series(label, ps.into_iter().zip(ms.map(|v| v * scale)).collect())
    }

    /// Every (x, y) of every polyline, in document order.
    fn polylines(svg: &str) -> Vec<Vec<(f64, f64)>> {
        svg.split("<polyline")
            .skip(1)
            .map(|rest| {
                let start = rest.find("points=\"").expect("points attr") + 8;
                let body = &rest[start..];
                let body = &body[..body.find('"').expect("closing quote")];
                body.split_whitespace()
                    .map(|pair| {
                        let (x, y) = pair.split_once(',').expect("x,y");
                        (x.parse().expect("x"), y.parse().expect("y"))
                    })
                    .collect()
            })
            .collect()
    }

    /// Also checks every polyline vertex lies in the plot area, hence the viewBox.
    fn assert_well_formed(svg: &str) {
        let decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
        let body = svg.strip_prefix(decl).unwrap_or(svg);
        assert!(body.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert!(svg.contains("viewBox=\"0 0 900 500\""));
        for (x, y) in polylines(svg).into_iter().flatten() {
            let inside = (LEFT..=RIGHT).contains(&x) && (TOP..=BOTTOM).contains(&y);
            assert!(inside, "{x},{y} outside the plot area");
        }
    }

    #[test]
    fn renders_each_series() {
        let all = [
            typical("get", 1.0),
            typical("put", 3.0),
            series("empty", vec![]),
        ];
        let svg = percentile_svg("run 1", &all);
        assert_well_formed(&svg);
        let texts = ["run 1", "get", "put", "empty (no data)"];
        for label in texts.into_iter().chain(["Percentile", "Latency (ms)"]) {
            assert!(svg.contains(label), "missing {label}");
        }
        assert_eq!(polylines(&svg).len(), 2);
        assert!(!svg.contains(">no data<"));
        // p = 0.999 is the largest finite x (3.0000000000000004): axis ends at 99.9%.
        assert!(svg.contains(">99.9%<") && !svg.contains(">99.99%<"));
    }

    #[test]
    fn percentile_axis_is_log_of_inverse_tail() {
        let x = |p| x_px(p, 6.0);
        assert!(x(0.9) < x(0.99) && x(0.99) < x(0.999));
        assert!((x(0.99) - x(0.9) - (x(0.999) - x(0.99))).abs() < 1e-6);
        assert_eq!(x(1.0), RIGHT);
        assert_eq!(x(0.0), LEFT);
        let svg = percentile_svg(
            "t",
            &[series("a", vec![(0.9, 1.0), (0.99, 2.0), (0.999, 3.0)])],
        );
        let xs: Vec<f64> = polylines(&svg)[0].iter().map(|c| c.0).collect();
        assert!(xs[0] < xs[1] && xs[1] < xs[2], "{xs:?}");
    }

    #[test]
    fn odd_points_stay_finite_and_clipped() {
        let pts = vec![
            (1.0, 5.0),
            (2.0, 6.0),
            (f64::INFINITY, 1.0),
            (-0.5, 0.1),
            (0.999_999_999_9, 7.0),
            (0.5, f64::NAN),
            (f64::NAN, 1.0),
            (0.5, -1.0),
            (0.6, f64::MAX),
        ];
        let svg = percentile_svg("odd", &[series("x", pts)]);
        assert_well_formed(&svg);
        assert!(svg.contains(">99.9999%<"), "capped at six decades");
        assert_eq!(polylines(&svg)[0].len(), 7, "NaN points dropped");
        assert!(svg.contains(">1000000000<"), "y axis capped");
    }

    #[test]
    fn escapes_labels_and_title() {
        let svg = percentile_svg("a \"b\" & <c>", &[series("<&>", vec![(0.5, 1.0)])]);
        assert_well_formed(&svg);
        assert!(svg.contains("&lt;&amp;&gt;"));
        assert!(svg.contains("a &quot;b&quot; &amp; &lt;c&gt;"));
        assert!(!svg.contains("<&>"));
        assert_eq!(polylines(&svg)[0].len(), 2, "lone point doubled into a dot");
    }

    #[test]
    fn no_data_is_still_a_chart() {
        for svg in [
            percentile_svg("nothing", &[]),
            percentile_svg(
                "nothing",
                &[series("a", vec![]), series("b", vec![(0.5, f64::NAN)])],
            ),
        ] {
            assert_well_formed(&svg);
            assert!(svg.contains(">no data<"));
            assert!(polylines(&svg).is_empty());
            assert!(svg.contains(">99%<"), "minimum two decades");
        }
    }

    #[test]
    fn nice_axis_rounds_up() {
        assert_eq!(nice_axis(0.7), (1.0, 0.2));
        assert_eq!(nice_axis(1.0), (1.0, 0.2));
        assert_eq!(nice_axis(1.5), (2.0, 0.5));
        assert_eq!(nice_axis(2.2), (2.5, 0.5));
        assert_eq!(nice_axis(3.0), (5.0, 1.0));
        assert_eq!(nice_axis(6.0), (10.0, 2.0));
        assert_eq!(nice_axis(120.0), (200.0, 50.0));
        let (max, step) = nice_axis(0.023);
        assert!((max - 0.025).abs() < 1e-12 && (step - 0.005).abs() < 1e-12);
        assert_eq!(fmt_num(0.30000000000000004), "0.3");
        assert_eq!(fmt_num(50.0), "50");
        assert_eq!(tick_label(2), "99%");
        assert_eq!(tick_label(4), "99.99%");
    }
}
