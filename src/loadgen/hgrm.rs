//! HdrHistogram percentile-distribution text (".hgrm"): rendering a latency
//! histogram recorded in microseconds as the CLASSIC text of Java's
//! `outputPercentileDistribution` / C's `hdr_percentiles_print`, scaled to
//! milliseconds, and parsing that text back. Keeping the exact format means the
//! files load unchanged in HdrHistogram's online plotter. This module never
//! does I/O: it appends to a caller-owned `String` and parses a `&str`.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// Histograms hold µs; reports are in ms (the plotter's "value unit scaling ratio").
const SCALE: f64 = 1000.0;
/// Java's default tick density; the plotter's curves look coarse with fewer.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// One row of the distribution: `percentile` of samples are at or below `value_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct HgrmPoint {
    pub value_ms: f64,
    /// Fraction in `0.0..=1.0`, not percent, matching the text column.
    pub percentile: f64,
    pub total_count: u64,
}

/// A parsed percentile distribution plus the summary footer.
#[derive(Debug, Clone, PartialEq)]
pub struct Hgrm {
    pub points: Vec<HgrmPoint>,
    pub mean_ms: f64,
    pub max_ms: f64,
    pub total_count: u64,
}

/// Append the percentile distribution of `h` (values in µs) to `out`, in ms.
pub fn write_hgrm(h: &Histogram<u64>, out: &mut String) {
    // Writing to a String cannot fail, so the fmt::Results below are ignored.
    let _ = writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total: u64 = 0;
    for v in h.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
        total = total.saturating_add(v.count_since_last_iteration());
        // The iterator already reports the highest equivalent value, as Java does.
        let value = v.value_iterated_to() as f64 / SCALE;
        let q = v.quantile_iterated_to();
        if q < 1.0 {
            let inv = 1.0 / (1.0 - q);
            let _ = writeln!(out, "{value:12.3} {q:2.12} {total:10} {inv:14.2}");
        } else {
            // 1/(1-1) is infinite, so the final row omits that column.
            let _ = writeln!(out, "{value:12.3} {q:2.12} {total:10}");
        }
    }
    let (mean, stdev) = (h.mean() / SCALE, h.stdev() / SCALE);
    let _ = writeln!(
        out,
        "#[Mean    = {mean:12.3}, StdDeviation   = {stdev:12.3}]"
    );
    // An empty histogram reports max() == 0, so this needs no special case.
    let max = h.max() as f64 / SCALE;
    let len = h.len();
    let _ = writeln!(out, "#[Max     = {max:12.3}, Total count    = {len:12}]");
    let _ = writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_bucket_count(h.sigfig())
    );
}

/// The crate does not expose the sub-bucket count; it is the smallest power of
/// two giving unit resolution up to 2 * 10^sigfig, as in the constructor.
fn sub_bucket_count(sigfig: u8) -> u32 {
    (2 * 10u32.pow(u32::from(sigfig.min(5)))).next_power_of_two()
}

/// Parse the text written by write_hgrm (or by HdrHistogram's Java/C tools, same format).
///
/// The footer's Mean, Max and Total count lines are required, because a file
/// without them is most likely truncated. Other `#` lines are treated as comments.
pub fn parse_hgrm(text: &str) -> Result<Hgrm, String> {
    let mut points = Vec::new();
    let mut footer = Footer::default();
    for (idx, raw) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", idx + 1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with("Value") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("#[") {
            footer.parse_line(rest).map_err(at)?;
        } else if !line.starts_with('#') {
            points.push(parse_point(line).map_err(at)?);
        }
    }
    let missing = |what: &str| format!("missing footer field '{what}' (truncated file?)");
    Ok(Hgrm {
        points,
        mean_ms: footer.mean.ok_or_else(|| missing("Mean"))?,
        max_ms: footer.max.ok_or_else(|| missing("Max"))?,
        total_count: footer.total.ok_or_else(|| missing("Total count"))?,
    })
}

fn parse_point(line: &str) -> Result<HgrmPoint, String> {
    let cols: Vec<&str> = line.split_whitespace().collect();
    if !(3..=4).contains(&cols.len()) {
        return Err(format!(
            "expected 3 or 4 columns (Value Percentile TotalCount [1/(1-Percentile)]), found {}: {line:?}",
            cols.len()
        ));
    }
    let value_ms = parse_f64("Value", cols[0])?;
    if value_ms < 0.0 {
        return Err(format!("negative Value {:?}", cols[0]));
    }
    let percentile = parse_f64("Percentile", cols[1])?;
    if !(0.0..=1.0).contains(&percentile) {
        return Err(format!("Percentile {:?} outside 0..=1", cols[1]));
    }
    let total_count = parse_u64("TotalCount", cols[2])?;
    if let Some(inv) = cols.get(3) {
        // Derived from Percentile, so only checked for being a number; it is
        // legitimately huge near the tail, hence no finiteness check.
        inv.parse::<f64>()
            .map_err(|e| format!("bad 1/(1-Percentile) {inv:?}: {e}"))?;
    }
    Ok(HgrmPoint {
        value_ms,
        percentile,
        total_count,
    })
}

/// Footer fields seen so far; duplicates mean two files were concatenated.
#[derive(Default)]
struct Footer {
    mean: Option<f64>,
    max: Option<f64>,
    total: Option<u64>,
}

impl Footer {
    /// `rest` is a footer line after its leading `#[`, e.g. `Max = 1.0, Total count = 5]`.
    fn parse_line(&mut self, rest: &str) -> Result<(), String> {
        let body = rest
            .strip_suffix(']')
            .ok_or_else(|| format!("footer line not closed by ']': {rest:?}"))?;
        for pair in body.split(',') {
            let (key, val) = pair
                .split_once('=')
                .ok_or_else(|| format!("footer field without '=': {pair:?}"))?;
            let (key, val) = (key.trim(), val.trim());
            match key {
                "Mean" => set_once(&mut self.mean, key, parse_f64(key, val)?)?,
                "Max" => set_once(&mut self.max, key, parse_f64(key, val)?)?,
                "Total count" => set_once(&mut self.total, key, parse_u64(key, val)?)?,
                // Validated so a mangled footer is noticed, but not needed.
                "StdDeviation" => {
                    parse_f64(key, val)?;
                }
                "Buckets" | "SubBuckets" => {
                    parse_u64(key, val)?;
                }
                // Unknown keys are tolerated so newer tools' extras don't break parsing.
                _ => {}
            }
        }
        Ok(())
    }
}

fn set_once<T>(slot: &mut Option<T>, key: &str, v: T) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("duplicate footer field '{key}'"));
    }
    *slot = Some(v);
    Ok(())
}

fn parse_f64(what: &str, s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("bad {what} {s:?}: {e}"))?;
    // f64::from_str accepts "NaN" and "inf", which no valid file contains.
    if !v.is_finite() {
        return Err(format!("bad {what} {s:?}: not a finite number"));
    }
    Ok(v)
}

fn parse_u64(what: &str, s: &str) -> Result<u64, String> {
    s.parse().map_err(|e| format!("bad {what} {s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist() -> Histogram<u64> {
        Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
    }

    fn uniform() -> Histogram<u64> {
        let mut h = hist();
        for v in 1..=10_000u64 {
            h.record(v).expect("in range");
        }
        h
    }

    /// 99% fast requests around 200µs plus a slow tail up to ~50ms.
    fn skewed() -> Histogram<u64> {
        let mut h = hist();
        for i in 0..9_900u64 {
            h.record(150 + i % 100).expect("in range");
        }
        for i in 0..100u64 {
            h.record(5_000 + i * 450).expect("in range");
        }
        h
    }

    fn round_trip(h: &Histogram<u64>) -> (String, Hgrm) {
        let mut text = String::new();
        write_hgrm(h, &mut text);
        let parsed = parse_hgrm(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        (text, parsed)
    }

    fn check_round_trip(h: &Histogram<u64>) -> Hgrm {
        let (_, p) = round_trip(h);
        assert_eq!(p.total_count, h.len());
        assert_eq!(p.points.last().map(|x| x.total_count), Some(h.len()));
        // Only the 3-decimal rounding of the text separates the two.
        assert!((p.max_ms - h.max() as f64 / 1000.0).abs() <= 0.0005);
        assert!((p.mean_ms - h.mean() / 1000.0).abs() <= 0.0005);
        for w in p.points.windows(2) {
            assert!(w[0].percentile <= w[1].percentile, "{w:?}");
            assert!(w[0].value_ms <= w[1].value_ms, "{w:?}");
            assert!(w[0].total_count <= w[1].total_count, "{w:?}");
        }
        assert_eq!(p.points.first().map(|x| x.percentile), Some(0.0));
        assert_eq!(p.points.last().map(|x| x.percentile), Some(1.0));
        let median = p
            .points
            .iter()
            .find(|x| x.percentile >= 0.5)
            .expect("has a median row");
        let want = h.value_at_quantile(0.5) as f64 / 1000.0;
        assert!(
            (median.value_ms - want).abs() <= want * 0.01,
            "{median:?} vs {want}"
        );
        p
    }

    #[test]
    fn uniform_round_trips() {
        let p = check_round_trip(&uniform());
        assert!((p.mean_ms - 5.0005).abs() < 0.01, "{}", p.mean_ms);
        assert!((p.max_ms - 10.0).abs() <= 0.01, "{}", p.max_ms);
    }

    #[test]
    fn skewed_round_trips() {
        let p = check_round_trip(&skewed());
        let p999 = p
            .points
            .iter()
            .find(|x| x.percentile >= 0.999)
            .expect("tail row");
        assert!(p999.value_ms > 40.0, "{p999:?}");
    }

    #[test]
    fn text_matches_classic_layout() {
        let (text, _) = round_trip(&uniform());
        let lines: Vec<&str> = text.lines().collect();
        let head = "       Value     Percentile TotalCount 1/(1-Percentile)";
        let first = "       0.001 0.000000000000          1           1.00";
        assert_eq!(lines[..3], [head, "", first]);
        let n = lines.len();
        // 10000 µs shares a bucket with 10001..=10007 at 3 significant digits.
        let last = "      10.007 1.000000000000      10000";
        let mean = "#[Mean    =        5.001, StdDeviation   =        2.887]";
        let max = "#[Max     =       10.007, Total count    =        10000]";
        assert_eq!(lines[n - 4..n - 1], [last, mean, max]);
        assert!(lines[n - 1].starts_with("#[Buckets = "), "{}", lines[n - 1]);
        assert!(lines[n - 1].ends_with(", SubBuckets     =         2048]"));
        for l in &lines[2..n - 4] {
            assert_eq!(l.len(), 12 + 1 + 14 + 1 + 10 + 1 + 14, "{l:?}");
        }
    }

    #[test]
    fn empty_histogram_round_trips() {
        let (text, p) = round_trip(&hist());
        assert!(text.starts_with("       Value     Percentile"));
        assert!(text.contains("Total count    =            0]"));
        assert!(p.points.is_empty());
        assert_eq!((p.total_count, p.mean_ms, p.max_ms), (0, 0.0, 0.0));
    }

    #[test]
    fn parses_foreign_text_with_crlf_and_comments() {
        let text = "# produced elsewhere\r\n       Value     Percentile TotalCount 1/(1-Percentile)\r\n\r\n\
            \x20      0.057 0.000000000000          1           1.00\r\n\
            \x20      0.095 0.100000000000       1043           1.11\r\n\
            \x20     12.345 1.000000000000      10000\r\n\
            #[Mean    =        0.156, StdDeviation   =        0.078]\r\n\
            #[Max     =       12.345, Total count    =        10000]\r\n\
            #[Buckets =           22, SubBuckets     =        2048]\r\n";
        let p = parse_hgrm(text).expect("valid");
        assert_eq!(p.points.len(), 3);
        assert_eq!(p.points[1].total_count, 1043);
        assert_eq!((p.mean_ms, p.max_ms, p.total_count), (0.156, 12.345, 10000));
    }

    #[test]
    fn errors_name_the_line() {
        let (text, _) = round_trip(&uniform());
        let mut lines: Vec<&str> = text.lines().collect();
        lines[6] = "   0.5 garbage 12";
        let err = parse_hgrm(&lines.join("\n")).expect_err("garbage");
        assert!(err.starts_with("line 7: bad Percentile"), "{err}");

        for (text, want) in [
            ("Value\n\n1.0 0.5\n", "line 3: expected 3 or 4 columns"),
            ("1.0 1.5 3\n", "line 1: Percentile"),
            ("#\nNaN 0.5 3\n", "line 2: bad Value"),
            ("#[Max = 1.0, Total count = x]\n", "line 1: bad Total count"),
            ("#[Max     = 1.0\n", "line 1: footer line not closed"),
        ] {
            let err = parse_hgrm(text).expect_err(want);
            assert!(err.starts_with(want), "{err}");
        }
    }

    #[test]
    fn missing_or_duplicate_footer_is_an_error() {
        let (text, _) = round_trip(&uniform());
        let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("#[Max")).collect();
        let cut = kept.join("\n");
        assert!(parse_hgrm(&cut).expect_err("no max").contains("'Max'"));
        let twice = format!("{text}{text}");
        let err = parse_hgrm(&twice).expect_err("concatenated");
        assert!(err.contains("duplicate footer field 'Mean'"), "{err}");
    }

    #[test]
    fn sub_bucket_count_matches_hdrhistogram() {
        let got: Vec<u32> = [0, 2, 3, 5].into_iter().map(sub_bucket_count).collect();
        assert_eq!(got, [2, 256, 2048, 262_144]);
    }
}
