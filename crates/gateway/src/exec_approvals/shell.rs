//! Which programs a shell command starts, for allowlist matching only (the command itself goes
//! to `sh -c` untouched). Deliberately narrow: plain words, quotes and the list operators
//! `;`, `&&`, `||`, `|`. Anything that can start a program the words do not show — command
//! or parameter substitution, redirections, subshells, braces, globs, background jobs,
//! newlines — makes the command opaque (`None`), and an opaque command is never covered by an
//! allowlist: it needs an approval (or `security: full`).

/// Longest command analysed; longer ones are opaque.
const MAX_COMMAND_BYTES: usize = 16 * 1024;

/// The argv of each simple command in `command`, or `None` when it is opaque.
pub fn segments(command: &str) -> Option<Vec<Vec<String>>> {
    if command.len() > MAX_COMMAND_BYTES {
        return None;
    }
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut argv: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars().peekable();
    let end_segment = |argv: &mut Vec<String>, out: &mut Vec<Vec<String>>| -> bool {
        if argv.is_empty() {
            return false;
        }
        out.push(std::mem::take(argv));
        true
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    argv.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            ';' | '|' | '&' => {
                if in_word {
                    argv.push(std::mem::take(&mut word));
                    in_word = false;
                }
                match c {
                    '&' if chars.peek() == Some(&'&') => {
                        chars.next();
                    }
                    '|' if chars.peek() == Some(&'|') => {
                        chars.next();
                    }
                    '&' => return None,
                    _ => {}
                }
                if !end_segment(&mut argv, &mut out) {
                    return None;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        other => word.push(other),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '$' | '`' => return None,
                        '\\' => match chars.next()? {
                            e @ ('"' | '\\') => word.push(e),
                            '$' | '`' => return None,
                            other => {
                                word.push('\\');
                                word.push(other);
                            }
                        },
                        other => word.push(other),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next()? {
                    '\n' => return None,
                    other => word.push(other),
                }
            }
            '$' | '`' | '<' | '>' | '(' | ')' | '{' | '}' | '*' | '?' | '[' | ']' | '\n' | '\r'
            | '#' | '~' | '!' | '='
                if !in_word || matches!(c, '$' | '`' | '<' | '>') =>
            {
                return None;
            }
            '$' | '`' | '<' | '>' | '(' | ')' | '{' | '}' | '*' | '?' | '[' | ']' | '\n' | '\r' => {
                return None;
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        argv.push(word);
    }
    if !end_segment(&mut argv, &mut out) {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::segments;

    fn seg(s: &str) -> Option<Vec<Vec<String>>> {
        segments(s)
    }

    fn v(parts: &[&[&str]]) -> Option<Vec<Vec<String>>> {
        Some(
            parts
                .iter()
                .map(|a| a.iter().map(|w| w.to_string()).collect())
                .collect(),
        )
    }

    #[test]
    fn plain_lists_split() {
        assert_eq!(seg("echo hi"), v(&[&["echo", "hi"]]));
        assert_eq!(
            seg("git status && ls -l | wc -l; true"),
            v(&[&["git", "status"], &["ls", "-l"], &["wc", "-l"], &["true"]])
        );
        assert_eq!(
            seg("echo 'a b' \"c d\" e\\ f"),
            v(&[&["echo", "a b", "c d", "e f"]])
        );
        // An assignment prefix stays a word: it names no program, so it matches nothing.
        assert_eq!(seg("FOO=1 ls"), v(&[&["FOO=1", "ls"]]));
    }

    #[test]
    fn opaque_commands() {
        for c in [
            "echo $(rm -rf /)",
            "echo `id`",
            "echo \"$HOME\"",
            "cat < /etc/passwd",
            "echo hi > f",
            "(ls)",
            "{ ls; }",
            "ls *",
            "sleep 1 &",
            "ls\nrm x",
            "ls;;",
            "",
            "   ",
            "echo 'unterminated",
            "~/bin/x",
            "! ls",
        ] {
            assert_eq!(segments(c), None, "{c:?}");
        }
    }
}
