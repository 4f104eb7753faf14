//! Model text (markdown-ish) → Telegram `parse_mode: "HTML"` (channels.md §2.6). Everything not
//! recognised is escaped, and every tag opened is closed, so the output always parses; if Telegram
//! still rejects it the driver resends the chunk as plain text.

/// Escapes the three characters Telegram HTML requires (`&`, `<`, `>`), plus `"` for attributes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Converts ```` ```fences``` ````, `` `code` ``, `**bold**`, `__bold__`, `*italic*`, `_italic_`,
/// `~~strike~~` and `[text](http…)` to Telegram HTML; escapes the rest.
pub fn to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_fence = false;
    let mut fence_buf = String::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("```") {
            if in_fence {
                flush_pre(&mut out, &fence_buf);
                fence_buf.clear();
                in_fence = false;
                // Keep the line break that followed the closing fence.
                if line.ends_with('\n') {
                    out.push('\n');
                }
            } else {
                in_fence = true;
                let lang: String = rest
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '_'))
                    .collect();
                out.push_str(&if lang.is_empty() {
                    "<pre><code>".to_string()
                } else {
                    format!("<pre><code class=\"language-{lang}\">")
                });
            }
            continue;
        }
        if in_fence {
            fence_buf.push_str(line);
        } else {
            inline(line, &mut out);
        }
    }
    if in_fence {
        // Unclosed fence (e.g. a chunk boundary inside a code block): close it.
        flush_pre(&mut out, &fence_buf);
    }
    out
}

fn flush_pre(out: &mut String, body: &str) {
    out.push_str(&escape_html(body.strip_suffix('\n').unwrap_or(body)));
    out.push_str("</code></pre>");
}

/// Inline markup within one line; unmatched markers are literal.
fn inline(line: &str, out: &mut String) {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '`'
            && let Some(end) = find(&chars, i + 1, "`")
        {
            let s: String = chars[i + 1..end].iter().collect();
            out.push_str(&format!("<code>{}</code>", escape_html(&s)));
            i = end + 1;
            continue;
        }
        if c == '['
            && let Some(close) = find(&chars, i + 1, "](")
            && let Some(paren) = find(&chars, close + 2, ")")
        {
            let label: String = chars[i + 1..close].iter().collect();
            let url: String = chars[close + 2..paren].iter().collect();
            if (url.starts_with("http://") || url.starts_with("https://")) && !url.contains(' ') {
                out.push_str(&format!("<a href=\"{}\">", escape_html(&url)));
                inline(&label, out);
                out.push_str("</a>");
                i = paren + 1;
                continue;
            }
        }
        let mut matched = false;
        for (marker, tag) in [
            ("**", "b"),
            ("__", "b"),
            ("~~", "s"),
            ("*", "i"),
            ("_", "i"),
        ] {
            if starts_with(&chars, i, marker) {
                let start = i + marker.chars().count();
                // Word-internal underscores (snake_case) are not emphasis.
                if marker.starts_with('_') && i > 0 && chars[i - 1].is_alphanumeric() {
                    break;
                }
                if let Some(end) = find(&chars, start, marker).filter(|&e| e > start)
                    && !chars[start].is_whitespace()
                    && !chars[end - 1].is_whitespace()
                {
                    let inner: String = chars[start..end].iter().collect();
                    out.push_str(&format!("<{tag}>"));
                    inline(&inner, out);
                    out.push_str(&format!("</{tag}>"));
                    i = end + marker.chars().count();
                    matched = true;
                }
                break;
            }
        }
        if matched {
            continue;
        }
        out.push_str(&escape_html(&c.to_string()));
        i += 1;
    }
}

fn starts_with(chars: &[char], at: usize, pat: &str) -> bool {
    pat.chars()
        .enumerate()
        .all(|(i, p)| chars.get(at + i) == Some(&p))
}

fn find(chars: &[char], from: usize, pat: &str) -> Option<usize> {
    (from..chars.len()).find(|&k| starts_with(chars, k, pat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_specials() {
        assert_eq!(to_html("a < b && c > d"), "a &lt; b &amp;&amp; c &gt; d");
        assert_eq!(
            to_html("<script>x</script>"),
            "&lt;script&gt;x&lt;/script&gt;"
        );
    }

    #[test]
    fn converts_common_markup() {
        assert_eq!(to_html("**bold** and *it*"), "<b>bold</b> and <i>it</i>");
        assert_eq!(to_html("use `a<b>`"), "use <code>a&lt;b&gt;</code>");
        assert_eq!(to_html("~~old~~"), "<s>old</s>");
        assert_eq!(
            to_html("[site](https://x.io/?a=1&b=\"2\")"),
            "<a href=\"https://x.io/?a=1&amp;b=&quot;2&quot;\">site</a>"
        );
        assert_eq!(to_html("snake_case_name"), "snake_case_name");
        assert_eq!(to_html("2 * 3 * 4"), "2 * 3 * 4");
        assert_eq!(
            to_html("[x](javascript:alert(1))"),
            "[x](javascript:alert(1))"
        );
    }

    #[test]
    fn fences_become_pre_and_are_always_closed() {
        assert_eq!(
            to_html("```rust\nlet a = 1 < 2;\n```\ndone"),
            "<pre><code class=\"language-rust\">let a = 1 &lt; 2;</code></pre>\ndone"
        );
        assert_eq!(
            to_html("```\nopen <b>"),
            "<pre><code>open &lt;b&gt;</code></pre>"
        );
    }
}
