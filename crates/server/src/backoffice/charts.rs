//! Server-rendered SVG charts for the overview: no script, no external asset, only presentation
//! attributes and classes from `app.css` (the CSP allows no inline style). Values are numbers
//! and labels are escaped, so the markup is safe to embed.

/// One bar of a stacked bar chart: a label and its stacked parts (bottom first), each with a
/// CSS class.
pub struct Bar {
    pub label: String,
    pub parts: Vec<(&'static str, i64)>,
}

const W: f64 = 720.0;
const H: f64 = 220.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 10.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round upper bound for the y axis (1, 2 or 5 × 10ⁿ).
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let exp = v.log10().floor();
    let base = 10f64.powf(exp);
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * base)
        .find(|m| *m >= v)
        .unwrap_or(10.0 * base)
}

/// Which x labels to print so they do not overlap (every `step`-th).
fn label_step(n: usize) -> usize {
    n.div_ceil(12).max(1)
}

fn frame(title: &str, body: &str, y_max_label: &str) -> String {
    let x0 = LEFT;
    let y0 = H - BOTTOM;
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{t}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title>{t}</title>\
         <line class=\"axis\" x1=\"{x0}\" y1=\"{TOP}\" x2=\"{x0}\" y2=\"{y0}\"/>\
         <line class=\"axis\" x1=\"{x0}\" y1=\"{y0}\" x2=\"{W}\" y2=\"{y0}\"/>\
         <text class=\"tick\" x=\"{lx}\" y=\"{ly}\" text-anchor=\"end\">{m}</text>\
         <text class=\"tick\" x=\"{lx}\" y=\"{y0}\" text-anchor=\"end\">0</text>{body}</svg>",
        t = escape(title),
        lx = x0 - 4.0,
        ly = TOP + 8.0,
        m = escape(y_max_label),
    )
}

/// A stacked bar chart of `bars`.
pub fn stacked_bars(title: &str, bars: &[Bar]) -> String {
    let max = bars
        .iter()
        .map(|b| b.parts.iter().map(|(_, v)| *v).sum::<i64>())
        .max()
        .unwrap_or(0) as f64;
    let top = nice_max(max);
    let plot_w = W - LEFT - 4.0;
    let plot_h = H - BOTTOM - TOP;
    let slot = if bars.is_empty() {
        plot_w
    } else {
        plot_w / bars.len() as f64
    };
    let bar_w = (slot * 0.7).max(1.0);
    let step = label_step(bars.len());
    let mut body = String::new();
    for (i, bar) in bars.iter().enumerate() {
        let x = LEFT + 2.0 + i as f64 * slot + (slot - bar_w) / 2.0;
        let mut y = H - BOTTOM;
        for (class, v) in &bar.parts {
            if *v <= 0 {
                continue;
            }
            let h = *v as f64 / top * plot_h;
            y -= h;
            body.push_str(&format!(
                "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\"><title>{} {class}: {v}</title></rect>",
                escape(&bar.label)
            ));
        }
        if i % step == 0 {
            body.push_str(&format!(
                "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x + bar_w / 2.0,
                H - BOTTOM + 16.0,
                escape(&bar.label)
            ));
        }
    }
    frame(title, &body, &format!("{top}"))
}

/// A line of percentages (0–100) over `points` (label, value or `None` for no data).
pub fn percent_line(title: &str, points: &[(String, Option<f64>)]) -> String {
    let plot_w = W - LEFT - 4.0;
    let plot_h = H - BOTTOM - TOP;
    let slot = if points.is_empty() {
        plot_w
    } else {
        plot_w / points.len() as f64
    };
    let step = label_step(points.len());
    let mut path = String::new();
    let mut body = String::new();
    for (i, (label, value)) in points.iter().enumerate() {
        let x = LEFT + 2.0 + i as f64 * slot + slot / 2.0;
        if let Some(v) = value {
            let y = H - BOTTOM - v.clamp(0.0, 100.0) / 100.0 * plot_h;
            path.push_str(&format!(
                "{}{x:.1},{y:.1}",
                if path.is_empty() { "M" } else { " L" }
            ));
            body.push_str(&format!(
                "<circle class=\"point\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\"><title>{}: {v:.1}%</title></circle>",
                escape(label)
            ));
        }
        if i % step == 0 {
            body.push_str(&format!(
                "<text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                H - BOTTOM + 16.0,
                escape(label)
            ));
        }
    }
    let line = if path.is_empty() {
        String::new()
    } else {
        format!("<path class=\"line\" d=\"{path}\"/>")
    };
    frame(title, &format!("{line}{body}"), "100%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_scaled_to_a_round_maximum_and_labels_escaped() {
        let svg = stacked_bars(
            "Volume <x>",
            &[
                Bar {
                    label: "a&b".into(),
                    parts: vec![("approved", 30), ("unsuccessful", 10)],
                },
                Bar {
                    label: "c".into(),
                    parts: vec![("approved", 0)],
                },
            ],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("Volume &lt;x&gt;") && svg.contains("a&amp;b"));
        assert!(
            svg.contains(">50</text>"),
            "the axis tops at 50 for 40: {svg}"
        );
        assert_eq!(svg.matches("<rect").count(), 2, "empty parts draw nothing");
        assert!(!svg.contains("style="), "no inline style (CSP)");
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(120.0), 200.0);
    }

    #[test]
    fn lines_skip_buckets_without_data() {
        let svg = percent_line(
            "Acceptance",
            &[
                ("1".into(), Some(50.0)),
                ("2".into(), None),
                ("3".into(), Some(100.0)),
            ],
        );
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("<path class=\"line\" d=\"M"));
    }
}
