//! Plain-text tables and ages for the admin commands' human output (`devices list`,
//! `nodes status`…): aligned columns, no colours, nothing the gateway sent can move the cursor.

/// Columns padded to their widest cell, separated by two spaces; the last column is not padded.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i].saturating_sub(cell.chars().count()) + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = vec![line(headers.to_vec())];
    for row in rows {
        out.push(line(
            (0..headers.len())
                .map(|i| row.get(i).map(String::as_str).unwrap_or(""))
                .collect(),
        ));
    }
    out.join("\n")
}

/// `just now`, `5m ago`, `3h ago`, `2d ago` (hours up to 47), as the reference rounds them.
pub fn ago(duration_ms: i64) -> String {
    if duration_ms < 0 {
        return "unknown".into();
    }
    let secs = (duration_ms as f64 / 1000.0).round();
    let minutes = (secs / 60.0).round();
    if minutes < 1.0 {
        return "just now".into();
    }
    if minutes < 60.0 {
        return format!("{minutes}m ago");
    }
    let hours = (minutes / 60.0).round();
    if hours < 48.0 {
        return format!("{hours}h ago");
    }
    format!("{}d ago", (hours / 24.0).round())
}

/// Milliseconds since the Unix epoch, for ages.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A string from a remote peer made safe for a terminal: control characters (escape
/// sequences, newlines) become spaces.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_missing_cells_are_blank() {
        let t = render(
            &["ID", "Name", "IP"],
            &[
                vec!["abc".into(), "x".into(), "1.2.3.4".into()],
                vec!["d".into(), "longer name".into()],
            ],
        );
        assert_eq!(
            t,
            "ID   Name         IP\nabc  x            1.2.3.4\nd    longer name"
        );
    }

    #[test]
    fn ages_round_like_the_reference() {
        assert_eq!(ago(29_000), "just now");
        assert_eq!(ago(31_000), "1m ago");
        assert_eq!(ago(59 * 60_000), "59m ago");
        assert_eq!(ago(90 * 60_000), "2h ago");
        assert_eq!(ago(47 * 3_600_000), "47h ago");
        assert_eq!(ago(72 * 3_600_000), "3d ago");
        assert_eq!(ago(-5), "unknown");
    }

    #[test]
    fn escape_sequences_are_neutralised() {
        assert_eq!(clean("a\u{1b}[2Jb\nc"), "a [2Jb c");
    }
}
