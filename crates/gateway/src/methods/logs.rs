//! `logs.tail`: read the gateway's own log file by byte cursor, whole lines only, bounded by
//! `limit` lines and `maxBytes`; `reset: true` when the file shrank or rotated under the cursor.

use std::io::{Read, Seek, SeekFrom};

use openclaw_protocol::connect::scopes;
use openclaw_protocol::methods::names_live;
use openclaw_protocol::schema::parse_params;
use openclaw_protocol::{ErrorShape, LogsTailParams, LogsTailResult};
use serde_json::Value;

use crate::registry::{Access, HandlerFuture, MethodCtx, MethodSpec, Reply};

pub fn register(out: &mut Vec<MethodSpec>) {
    out.push(MethodSpec {
        name: names_live::LOGS_TAIL,
        access: Access::Scope(scopes::READ),
        handler: logs_tail,
    });
}

const DEFAULT_LIMIT: usize = 500;
const DEFAULT_MAX_BYTES: u64 = 250_000;

/// Tails `path` from `cursor` (see the module doc). Pure file logic, tested directly.
pub fn tail(
    path: &std::path::Path,
    cursor: Option<u64>,
    limit: usize,
    max_bytes: u64,
) -> std::io::Result<LogsTailResult> {
    let file_name = path.to_string_lossy().into_owned();
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(LogsTailResult {
                file: file_name,
                cursor: 0,
                size: 0,
                lines: Vec::new(),
                truncated: Some(false),
                reset: Some(cursor.is_some_and(|c| c > 0)),
            });
        }
        Err(e) => return Err(e),
    };
    let size = f.metadata()?.len();
    let (start, reset) = match cursor {
        None => (size.saturating_sub(max_bytes), false),
        Some(c) if c > size => (0, true),
        Some(c) => (c, false),
    };
    let want = (size - start).min(max_bytes);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::with_capacity(want as usize);
    f.take(want).read_to_end(&mut buf)?;
    // From the end of a file we may land mid-line: skip to the next line start.
    let mut skip = 0usize;
    if cursor.is_none() && start > 0 {
        skip = buf
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| p + 1)
            .unwrap_or(buf.len());
    }
    // Only whole lines; a partial last line waits for the next call.
    let end = buf
        .iter()
        .rposition(|&b| b == b'\n')
        .map(|p| p + 1)
        .unwrap_or(0)
        .max(skip);
    let body = &buf[skip..end];
    let mut lines: Vec<(usize, String)> = Vec::new();
    let mut offset = skip;
    for raw in body.split_inclusive(|&b| b == b'\n') {
        offset += raw.len();
        let text = String::from_utf8_lossy(raw)
            .trim_end_matches(['\n', '\r'])
            .to_string();
        lines.push((offset, text));
    }
    // Truncated: older lines were left out (no cursor), or more remains after this batch.
    let mut truncated = if cursor.is_none() {
        start > 0
    } else {
        start + want < size
    };
    let consumed;
    if cursor.is_none() {
        if lines.len() > limit {
            lines.drain(..lines.len() - limit);
            truncated = true;
        }
        consumed = end;
    } else if lines.len() > limit {
        lines.truncate(limit);
        consumed = lines.last().map(|l| l.0).unwrap_or(skip);
        truncated = true;
    } else {
        consumed = end;
    }
    Ok(LogsTailResult {
        file: file_name,
        cursor: start + consumed as u64,
        size,
        lines: lines.into_iter().map(|l| l.1).collect(),
        truncated: Some(truncated),
        reset: Some(reset),
    })
}

fn logs_tail<'a>(ctx: &'a MethodCtx, params: Option<&'a Value>) -> HandlerFuture<'a> {
    Box::pin(async move {
        let p = parse_params::<LogsTailParams>(names_live::LOGS_TAIL, params)?;
        let Some(target) = ctx.state.log_target.clone() else {
            return Err(ErrorShape::unavailable("file logging is disabled"));
        };
        let path = target.path_for_today();
        let limit = p.limit.map(|l| l as usize).unwrap_or(DEFAULT_LIMIT);
        let max_bytes = p.max_bytes.map(u64::from).unwrap_or(DEFAULT_MAX_BYTES);
        let result = tokio::task::spawn_blocking(move || tail(&path, p.cursor, limit, max_bytes))
            .await
            .map_err(|e| ErrorShape::unavailable(e.to_string()))?
            .map_err(|e| ErrorShape::unavailable(format!("cannot read the log file: {e}")))?;
        Ok(Reply::Json(
            serde_json::to_value(result).unwrap_or(Value::Null),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn tails_whole_lines_by_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.log");
        let mut f = std::fs::File::create(&p).unwrap();
        writeln!(f, "one\ntwo\nthree").unwrap();
        write!(f, "partial").unwrap();
        let r = tail(&p, None, 500, 250_000).unwrap();
        assert_eq!(r.lines, vec!["one", "two", "three"]);
        assert_eq!(r.cursor, 14);
        let r2 = tail(&p, Some(r.cursor), 500, 250_000).unwrap();
        assert!(r2.lines.is_empty(), "partial line waits");
        writeln!(f, "!").unwrap();
        let r3 = tail(&p, Some(r.cursor), 500, 250_000).unwrap();
        assert_eq!(r3.lines, vec!["partial!"]);
        // limit keeps the last lines without a cursor, the first ones with one.
        let r4 = tail(&p, None, 2, 250_000).unwrap();
        assert_eq!(r4.lines, vec!["three", "partial!"]);
        let r5 = tail(&p, Some(0), 2, 250_000).unwrap();
        assert_eq!(r5.lines, vec!["one", "two"]);
        assert_eq!(r5.truncated, Some(true));
        let r6 = tail(&p, Some(r5.cursor), 10, 250_000).unwrap();
        assert_eq!(r6.lines, vec!["three", "partial!"]);
        // A cursor past the end means the file rotated or shrank.
        let r7 = tail(&p, Some(10_000), 10, 250_000).unwrap();
        assert_eq!(r7.reset, Some(true));
        assert_eq!(r7.lines.len(), 4);
        // maxBytes from the end lands mid-line: the partial first line is skipped.
        let r8 = tail(&p, None, 10, 10).unwrap();
        assert_eq!(r8.lines, vec!["partial!"]);
    }
}
