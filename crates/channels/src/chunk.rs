//! Splitting long replies into channel-sized messages (channels.md §2.6, §3.7) without losing
//! content: paragraph, then line, then word boundaries are preferred; no chunk exceeds the limit.

/// Splits `text` into chunks of at most `limit` characters (Unicode scalar values).
///
/// Boundaries are chosen from the last blank line, else newline, else whitespace within the
/// window; a word longer than the limit is hard-split. Separators at a cut are dropped (one
/// boundary's worth of whitespace); everything else is kept in order. Empty/whitespace-only
/// input yields no chunks.
pub fn chunk_text(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(1);
    let mut out = Vec::new();
    let mut rest = text.trim_end();
    while !rest.is_empty() {
        // Byte index just past `limit` chars, or the whole string.
        let window_end = match rest.char_indices().nth(limit) {
            None => {
                out.push(rest.to_string());
                break;
            }
            Some((i, _)) => i,
        };
        // Look one character past the window: a cut right before whitespace is clean too.
        let probe_end = match rest[window_end..].chars().next() {
            Some(c) if c.is_whitespace() => window_end + c.len_utf8(),
            _ => window_end,
        };
        let probe = &rest[..probe_end];
        let cut = probe
            .rfind("\n\n")
            .filter(|&i| i > 0)
            .map(|i| (i, i + 2))
            .or_else(|| probe.rfind('\n').filter(|&i| i > 0).map(|i| (i, i + 1)))
            .or_else(|| {
                probe
                    .char_indices()
                    .rev()
                    .find(|&(i, c)| c.is_whitespace() && i > 0)
                    .map(|(i, c)| (i, i + c.len_utf8()))
            });
        let (end, resume) = cut.unwrap_or((window_end, window_end));
        let piece = rest[..end].trim_end();
        if !piece.is_empty() {
            out.push(piece.to_string());
        }
        rest = rest[resume..].trim_start_matches('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<&str> {
        s.split_whitespace().collect()
    }

    #[test]
    fn short_text_is_one_chunk() {
        assert_eq!(chunk_text("hello", 4096), vec!["hello"]);
        assert!(chunk_text("", 10).is_empty());
    }

    #[test]
    fn prefers_paragraphs_then_lines_then_words() {
        let t = "aaaa bbbb\n\ncccc dddd";
        assert_eq!(chunk_text(t, 15), vec!["aaaa bbbb", "cccc dddd"]);
        let t = "aaaa bbbb\ncccc dddd";
        assert_eq!(chunk_text(t, 15), vec!["aaaa bbbb", "cccc dddd"]);
        let t = "aaaa bbbb cccc dddd";
        assert_eq!(chunk_text(t, 12), vec!["aaaa bbbb", "cccc dddd"]);
    }

    #[test]
    fn hard_splits_long_words_and_counts_chars_not_bytes() {
        let t = "é".repeat(10);
        let c = chunk_text(&t, 4);
        assert_eq!(c, vec!["éééé", "éééé", "éé"]);
    }

    #[test]
    fn never_exceeds_limit_and_keeps_all_words() {
        let mut t = String::new();
        for i in 0..3000 {
            t.push_str(&format!("word{i} "));
            if i % 37 == 0 {
                t.push('\n');
            }
            if i % 101 == 0 {
                t.push_str("\n\n");
            }
        }
        t.push_str(&"x".repeat(9000));
        let chunks = chunk_text(&t, 4096);
        assert!(chunks.len() > 1);
        for c in &chunks {
            assert!(c.chars().count() <= 4096, "{}", c.chars().count());
        }
        let joined = chunks.join(" ");
        assert_eq!(joined.matches('x').count(), 9000);
        let without_x = |s: &str| -> Vec<String> {
            words(s)
                .into_iter()
                .filter(|w| !w.starts_with('x'))
                .map(String::from)
                .collect()
        };
        assert_eq!(without_x(&joined), without_x(&t));
    }
}
