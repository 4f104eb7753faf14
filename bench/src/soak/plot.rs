//! A small hand-written SVG of a soak run: RSS (MiB, left axis) and open fds (right axis) over
//! time, with the warm-up shaded. No plotting dependency: a few polylines and labels.

use std::fmt::Write;

use super::probe::Sample;

const W: f64 = 800.0;
const H: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 70.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

/// The plot of `samples` (only those with `t_ms >= 0`), warm-up ending at `warmup_ms`.
pub fn svg(samples: &[Sample], warmup_ms: i64, title: &str) -> String {
    let pts: Vec<&Sample> = samples.iter().filter(|s| s.t_ms >= 0).collect();
    let t_max = pts.last().map(|s| s.t_ms).unwrap_or(1).max(1) as f64 / 60_000.0;
    let rss: Vec<f64> = pts.iter().map(|s| s.rss_kb as f64 / 1024.0).collect();
    let fds: Vec<f64> = pts.iter().map(|s| s.fds as f64).collect();
    let (r_lo, r_hi) = range(&rss);
    let (f_lo, f_hi) = range(&fds);
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |t_ms: i64| LEFT + (t_ms as f64 / 60_000.0) / t_max * pw;
    let y = |v: f64, lo: f64, hi: f64| TOP + ph - (v - lo) / (hi - lo) * ph;

    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="{W}" height="{H}" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>
"##,
        W / 2.0,
        escape(title)
    );
    // Warm-up band.
    let wx = x(warmup_ms.max(0)).min(LEFT + pw);
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{ph}" fill="#eeeeee"/><text x="{:.1}" y="{:.1}" fill="#888">warm-up</text>"##,
        wx - LEFT,
        LEFT + 4.0,
        TOP + 14.0
    );
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
    );
    // Ticks: 5 on each axis.
    for i in 0..=5 {
        let f = i as f64 / 5.0;
        let ty = TOP + ph - f * ph;
        let tx = LEFT + f * pw;
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#1f77b4">{:.1}</text><text x="{:.1}" y="{:.1}" fill="#d62728">{:.0}</text><text x="{tx:.1}" y="{:.1}" text-anchor="middle">{:.1}</text><line x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{:.1}" stroke="#333"/>"##,
            LEFT - 6.0,
            ty + 4.0,
            r_lo + f * (r_hi - r_lo),
            LEFT + pw + 6.0,
            ty + 4.0,
            f_lo + f * (f_hi - f_lo),
            TOP + ph + 16.0,
            f * t_max,
            TOP + ph,
            TOP + ph + 4.0
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">time (minutes)</text>"##,
        LEFT + pw / 2.0,
        H - 12.0
    );
    let _ = writeln!(
        s,
        r##"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle" fill="#1f77b4">RSS (MiB)</text>"##,
        TOP + ph / 2.0
    );
    let _ = writeln!(
        s,
        r##"<text transform="translate({:.1} {:.1}) rotate(90)" text-anchor="middle" fill="#d62728">open fds</text>"##,
        W - 18.0,
        TOP + ph / 2.0
    );
    let line = |vals: &[f64], lo: f64, hi: f64| -> String {
        pts.iter()
            .zip(vals)
            .map(|(p, v)| format!("{:.1},{:.1}", x(p.t_ms), y(*v, lo, hi)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(
        s,
        r##"<polyline fill="none" stroke="#d62728" stroke-width="1" points="{}"/>"##,
        line(&fds, f_lo, f_hi)
    );
    let _ = writeln!(
        s,
        r##"<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{}"/>"##,
        line(&rss, r_lo, r_hi)
    );
    s.push_str("</svg>\n");
    s
}

/// An axis range around `vals` with some headroom (never empty).
fn range(vals: &[f64]) -> (f64, f64) {
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.1).max(1.0);
    ((lo - pad).max(0.0), hi + pad)
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_both_series_with_labels() {
        let samples: Vec<Sample> = (0..10)
            .map(|i| Sample {
                t_ms: i * 1000,
                rss_kb: 20_000 + i as u64 * 10,
                anon_kb: 8_000,
                fds: 30 + i as u64 % 3,
                fds_upstream: 0,
                stats: serde_json::Value::Null,
            })
            .collect();
        let out = svg(&samples, 2000, "soak <test>");
        assert!(out.starts_with("<svg"));
        assert_eq!(out.matches("<polyline").count(), 2);
        assert!(out.contains("RSS (MiB)") && out.contains("open fds"));
        assert!(out.contains("soak &lt;test&gt;"));
    }
}
