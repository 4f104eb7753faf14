//! A small HTML → readable text / markdown converter for `web_fetch`. Not a browser and not
//! a readability engine: it drops what is never content (scripts, styles, head, forms' inner
//! machinery), keeps the document's structure as line breaks, headings, list items, code
//! blocks and (in markdown) links, and decodes entities. Pure; never panics on any input (all
//! slicing is at ASCII `<`/`>`/`;` positions found by `find`).

/// Which output the caller wants (`extractMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Markdown,
    Text,
}

/// The converted page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub title: Option<String>,
    pub text: String,
}

/// Elements whose whole content is skipped.
const SKIP: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "iframe", "canvas", "object", "select",
    "button", "head", "title",
];
/// Elements that break lines.
const BLOCK: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "header",
    "footer",
    "main",
    "nav",
    "aside",
    "table",
    "tr",
    "ul",
    "ol",
    "blockquote",
    "form",
    "figure",
    "figcaption",
    "dl",
    "dt",
    "dd",
    "hr",
    "address",
    "details",
    "summary",
    "caption",
    "tbody",
    "thead",
    "tfoot",
    "body",
    "html",
];

struct Out {
    mode: Mode,
    buf: String,
    pre: usize,
    /// Open `<a>` elements: the link target (markdown) and where its text starts.
    links: Vec<(Option<String>, usize)>,
}

impl Out {
    fn newline(&mut self, n: usize) {
        let trailing = self.buf.chars().rev().take_while(|c| *c == '\n').count();
        for _ in trailing..n {
            self.buf.push('\n');
        }
    }

    fn text(&mut self, raw: &str) {
        let decoded = decode_entities(raw);
        if self.pre > 0 {
            self.buf.push_str(&decoded);
            return;
        }
        for (i, word) in decoded.split_whitespace().enumerate() {
            let starts_with_space = decoded.starts_with(char::is_whitespace);
            let needs_space = (i > 0 || starts_with_space)
                && !self.buf.is_empty()
                && !self.buf.ends_with(['\n', ' ', '[', '(']);
            if needs_space {
                self.buf.push(' ');
            }
            self.buf.push_str(word);
        }
        if decoded.ends_with(char::is_whitespace)
            && !decoded.trim().is_empty()
            && !self.buf.ends_with(['\n', ' '])
        {
            self.buf.push(' ');
        }
    }

    fn open(&mut self, name: &str, attrs: &str) {
        let md = self.mode == Mode::Markdown;
        match name {
            "br" => self.buf.push('\n'),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.newline(2);
                if md {
                    let level = name[1..].parse::<usize>().unwrap_or(1);
                    self.buf.push_str(&"#".repeat(level));
                    self.buf.push(' ');
                }
            }
            "li" => {
                self.newline(1);
                self.buf.push_str("- ");
            }
            "pre" => {
                self.newline(2);
                if md {
                    self.buf.push_str("```\n");
                }
                self.pre += 1;
            }
            "code" if self.pre == 0 && md => self.buf.push('`'),
            "a" => {
                let href = attr(attrs, "href").filter(|h| {
                    let h = h.trim().to_ascii_lowercase();
                    !h.is_empty() && !h.starts_with("javascript:") && !h.starts_with('#')
                });
                if md && href.is_some() {
                    if !self.buf.is_empty() && !self.buf.ends_with(['\n', ' ']) {
                        self.buf.push(' ');
                    }
                    self.buf.push('[');
                }
                let start = self.buf.len();
                self.links.push((href.filter(|_| md), start));
            }
            "td" | "th" if !self.buf.ends_with(['\n', ' ']) && !self.buf.is_empty() => {
                self.buf.push(' ');
            }
            "img" if md => {
                if let Some(alt) = attr(attrs, "alt").filter(|a| !a.trim().is_empty()) {
                    self.text(&alt);
                }
            }
            n if BLOCK.contains(&n) => self.newline(if n == "p" { 2 } else { 1 }),
            _ => {}
        }
    }

    fn close(&mut self, name: &str) {
        let md = self.mode == Mode::Markdown;
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "p" => self.newline(2),
            "pre" => {
                self.pre = self.pre.saturating_sub(1);
                if md {
                    self.newline(1);
                    self.buf.push_str("```");
                }
                self.newline(2);
            }
            "code" if self.pre == 0 && md => self.buf.push('`'),
            "a" => {
                if let Some((href, start)) = self.links.pop()
                    && let Some(href) = href
                {
                    let label_empty = self.buf.get(start..).is_none_or(|s| s.trim().is_empty());
                    if label_empty {
                        // `[` with nothing after it: drop it rather than emit `[](…)`.
                        self.buf.truncate(start.saturating_sub(1));
                    } else {
                        while self.buf.ends_with(' ') {
                            self.buf.pop();
                        }
                        self.buf.push_str("](");
                        self.buf.push_str(href.trim());
                        self.buf.push(')');
                    }
                }
            }
            n if BLOCK.contains(&n) || n == "li" => self.newline(1),
            _ => {}
        }
    }
}

/// The value of attribute `name` in a raw attribute string (quoted or bare), entity-decoded.
fn attr(attrs: &str, name: &str) -> Option<String> {
    let lower = attrs.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower.get(from..)?.find(name) {
        let at = from + pos;
        from = at + name.len();
        let before_ok = at == 0 || lower[..at].ends_with(|c: char| c.is_ascii_whitespace());
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let value_start = attrs.len() - rest.len() + 1;
        let value = attrs.get(value_start..)?.trim_start();
        let v = match value.chars().next()? {
            q @ ('"' | '\'') => {
                let inner = &value[1..];
                &inner[..inner.find(q).unwrap_or(inner.len())]
            }
            _ => {
                &value[..value
                    .find(|c: char| c.is_ascii_whitespace() || c == '>')
                    .unwrap_or(value.len())]
            }
        };
        return Some(decode_entities(v));
    }
    None
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find(';').filter(|&e| {
            e <= 12
                && rest[1..e]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '#')
        });
        let Some(end) = end else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..end];
        let decoded = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            "mdash" => Some('—'),
            "ndash" => Some('–'),
            "hellip" => Some('…'),
            "copy" => Some('©'),
            "reg" => Some('®'),
            "trade" => Some('™'),
            "lsquo" => Some('‘'),
            "rsquo" => Some('’'),
            "ldquo" => Some('“'),
            "rdquo" => Some('”'),
            "laquo" => Some('«'),
            "raquo" => Some('»'),
            "middot" => Some('·'),
            "bull" => Some('•'),
            _ => name.strip_prefix('#').and_then(|n| {
                let code = match n.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => n.parse::<u32>().ok(),
                };
                code.and_then(char::from_u32).filter(|c| *c != '\0')
            }),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Index just past the `>` closing a tag that starts at `from` (quotes respected), or the end.
fn tag_end(html: &str, from: usize) -> usize {
    let mut quote: Option<u8> = None;
    for (i, b) in html.as_bytes().iter().enumerate().skip(from) {
        match (quote, *b) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(*b),
            (None, b'>') => return i + 1,
            _ => {}
        }
    }
    html.len()
}

/// Converts `html` to readable text in `mode`.
pub fn extract(html: &str, mode: Mode) -> Extracted {
    let mut out = Out {
        mode,
        buf: String::new(),
        pre: 0,
        links: Vec::new(),
    };
    let lower = html.to_ascii_lowercase();
    let title = title_of(html, &lower);
    let mut i = 0;
    while i < html.len() {
        let Some(rel) = html[i..].find('<') else {
            out.text(&html[i..]);
            break;
        };
        let lt = i + rel;
        if lt > i {
            out.text(&html[i..lt]);
        }
        if lower[lt..].starts_with("<!--") {
            i = lower[lt..].find("-->").map_or(html.len(), |e| lt + e + 3);
            continue;
        }
        let end = tag_end(html, lt);
        let inner = html[lt + 1..end].trim_end_matches('>');
        let (closing, body) = match inner.strip_prefix('/') {
            Some(b) => (true, b),
            None => (false, inner),
        };
        let name_len = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == ':'))
            .unwrap_or(body.len());
        if name_len == 0 {
            // `<!DOCTYPE`, `<?xml`, a stray `<`: not an element.
            if !body.starts_with(['!', '?']) {
                out.text("<");
                i = lt + 1;
            } else {
                i = end;
            }
            continue;
        }
        let name = body[..name_len].to_ascii_lowercase();
        let attrs = &body[name_len..];
        i = end;
        if closing {
            out.close(&name);
            continue;
        }
        if SKIP.contains(&name.as_str()) && !attrs.trim_end().ends_with('/') {
            let needle = format!("</{name}");
            i = lower[i..].find(&needle).map_or(html.len(), |e| {
                let at = i + e;
                tag_end(html, at)
            });
            continue;
        }
        out.open(&name, attrs);
    }
    Extracted {
        title,
        text: tidy(&out.buf),
    }
}

/// The first `<title>`'s text (it sits in `<head>`, which the walk skips).
fn title_of(html: &str, lower: &str) -> Option<String> {
    let open = lower.find("<title")?;
    let start = tag_end(html, open);
    let end = lower
        .get(start..)?
        .find("</title")
        .map_or(html.len(), |e| start + e);
    let t = decode_entities(html.get(start..end)?);
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    (!t.is_empty()).then_some(t)
}

/// Trailing spaces off every line, at most one blank line in a row, no blank edges.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<!DOCTYPE html><html><head><title>The  Page &amp; Co</title>
<style>body{color:red}</style><script>var x = "<p>no</p>";</script></head>
<body><nav><a href="/home">Home</a></nav><h1>Hello&nbsp;world</h1>
<p>First <b>para</b> with a <a href="https://example.com/x?a=1&amp;b=2">link</a>.</p>
<!-- a comment <p>hidden</p> -->
<ul><li>one</li><li>two &lt;3</li></ul><pre>let x = 1;
let y = 2;</pre><p>Caf&#233; &#x2014; done</p></body></html>"#;

    #[test]
    fn markdown_keeps_structure_and_drops_machinery() {
        let e = extract(PAGE, Mode::Markdown);
        assert_eq!(e.title.as_deref(), Some("The Page & Co"));
        assert!(e.text.contains("# Hello world"), "{}", e.text);
        assert!(
            e.text
                .contains("First para with a [link](https://example.com/x?a=1&b=2)."),
            "{}",
            e.text
        );
        assert!(e.text.contains("- one\n- two <3"), "{}", e.text);
        assert!(
            e.text.contains("```\nlet x = 1;\nlet y = 2;\n```"),
            "{}",
            e.text
        );
        assert!(e.text.contains("Café — done"), "{}", e.text);
        for gone in ["color:red", "var x", "hidden", "no</p>"] {
            assert!(!e.text.contains(gone), "{gone} in {}", e.text);
        }
    }

    #[test]
    fn text_mode_has_no_markdown() {
        let e = extract(PAGE, Mode::Text);
        assert!(e.text.contains("Hello world") && !e.text.contains('#'));
        assert!(
            e.text.contains("with a link.") && !e.text.contains("]("),
            "{}",
            e.text
        );
    }

    #[test]
    fn hostile_fragments_do_not_panic() {
        for s in [
            "<",
            "<a",
            "<a href='x",
            "&",
            "&#;",
            "&#xFFFFFFFF;",
            "&#0;",
            "<<<>>>",
            "<p",
            "é<é>é",
            "<script>",
            "<!--",
            "</",
            "<a href=\"x\">",
            "</a></a></pre>",
            "<pre>",
            "&amp",
        ] {
            let _ = extract(s, Mode::Markdown);
            let _ = extract(s, Mode::Text);
        }
        assert_eq!(extract("a < b", Mode::Text).text, "a < b");
    }
}
