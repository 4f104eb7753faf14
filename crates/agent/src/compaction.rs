//! Compaction (agent.md §6): when a session's context no longer fits the model's window, the
//! older part is summarised by the model and replaced, in what the model sees, by that summary.
//!
//! * When: the estimated context exceeds `contextWindow − reserveTokens` before a turn
//!   ([`Trigger::Threshold`]), the provider refused a request as too long
//!   ([`Trigger::Overflow`]), or a user asked (`/compact`, [`Trigger::Manual`]).
//! * What is kept: about `keepRecentTokens` of the newest messages, cut at a user message (else
//!   an assistant message), never between a tool call and its result.
//! * How it is stored: one `compaction` entry appended to the transcript (summary,
//!   `firstKeptEntryId`, `tokensBefore`), fsynced like every reply line. Nothing is rewritten,
//!   so a crash while the summary is being written (or a torn compaction line) leaves the old
//!   context in force, and the transcript keeps every message for `chat.history`.
//!
//! Token counts are estimates: the last provider-reported usage of the current context when
//! there is one, else four characters per token.

use openclaw_config::sections::{CompactionConfig, ModelDefinition};

use crate::messages::{AgentMessage, ContentPart};
use crate::models::{DEFAULT_CONTEXT_WINDOW, ProviderConfig};
use crate::provider::{CancelToken, ChatRequest, ProviderClient, ProviderError};
use crate::transcript::{Compaction, Context, ContextEntry, Transcript};

/// pi's reserve for the reply when the config names none.
pub const DEFAULT_RESERVE_TOKENS: u64 = 16_384;
/// The gateway's floor under that reserve (raises a smaller configured `reserveTokens`).
pub const DEFAULT_RESERVE_TOKENS_FLOOR: u64 = 20_000;
/// About how many tokens of the newest messages stay verbatim.
pub const DEFAULT_KEEP_RECENT_TOKENS: u64 = 20_000;
/// A tool result longer than this is cut in the text sent for summarisation.
const MAX_TOOL_RESULT_CHARS: usize = 2_000;
/// What an image counts for in an estimate (its bytes are not text).
const IMAGE_TOKENS: u64 = 1_200;

/// Why a compaction runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The context estimate crossed `contextWindow − reserveTokens` before a model call.
    Threshold,
    /// The provider answered that the prompt does not fit; the call is retried afterwards.
    Overflow,
    /// `/compact [instructions]`.
    Manual,
}

/// The resolved `agents.defaults.compaction` for one model window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionSettings {
    /// Threshold compaction is on (overflow recovery and `/compact` work regardless).
    pub enabled: bool,
    pub reserve_tokens: u64,
    pub keep_recent_tokens: u64,
}

impl CompactionSettings {
    /// Defaults: reserve `max(16384, 20000)` and keep 20000, each capped at a quarter of the
    /// window, so a small model keeps three quarters of its window for the conversation.
    /// Configured values are taken as they are, except that the reserve never exceeds half
    /// the window (else every turn would compact).
    pub fn resolve(cfg: Option<&CompactionConfig>, context_window: u64) -> Self {
        let quarter = context_window / 4;
        let reserve_cfg = cfg.and_then(|c| ModelDefinition::whole(&c.reserve_tokens));
        let floor_cfg = cfg.and_then(|c| ModelDefinition::whole(&c.reserve_tokens_floor));
        let reserve = match (reserve_cfg, floor_cfg) {
            (None, None) => DEFAULT_RESERVE_TOKENS
                .max(DEFAULT_RESERVE_TOKENS_FLOOR)
                .min(quarter),
            (r, f) => r
                .unwrap_or(DEFAULT_RESERVE_TOKENS)
                .max(f.unwrap_or(0))
                .min(context_window / 2),
        };
        let keep = cfg
            .and_then(|c| ModelDefinition::whole(&c.keep_recent_tokens))
            .unwrap_or_else(|| DEFAULT_KEEP_RECENT_TOKENS.min(quarter));
        CompactionSettings {
            enabled: cfg.and_then(|c| c.enabled).unwrap_or(true),
            reserve_tokens: reserve,
            keep_recent_tokens: keep,
        }
    }

    /// Whether a context of `tokens` must be compacted before the next model call.
    pub fn should_compact(&self, tokens: u64, context_window: u64) -> bool {
        self.enabled && tokens > context_window.saturating_sub(self.reserve_tokens)
    }
}

/// The context window of `model` at `provider` (its catalogue entry, else 200000).
pub fn context_window(provider: &ProviderConfig, model: &str) -> u64 {
    provider
        .model_info(model)
        .map(|m| m.context_window)
        .filter(|w| *w > 0)
        .unwrap_or(DEFAULT_CONTEXT_WINDOW)
}

/// Four characters per token, rounded up.
pub fn estimate_text_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// A message's estimated size in tokens.
pub fn estimate_message_tokens(msg: &AgentMessage) -> u64 {
    let mut chars = 0usize;
    let mut images = 0u64;
    for part in msg.content() {
        match part {
            ContentPart::Text { text } => chars += text.chars().count(),
            ContentPart::Thinking { thinking, .. } => chars += thinking.chars().count(),
            ContentPart::ToolCall {
                name, arguments, ..
            } => chars += name.len() + arguments.to_string().len(),
            ContentPart::Image { .. } => images += 1,
            ContentPart::Other(v) => chars += v.to_string().len(),
        }
    }
    (chars as u64).div_ceil(4) + images * IMAGE_TOKENS
}

/// The user message that stands for the compacted part of the conversation in the model's
/// context.
pub fn summary_message(summary: &str) -> AgentMessage {
    AgentMessage::user_text(format!(
        "[Earlier conversation, compacted to fit the context window. Summary:]\n<summary>\n{summary}\n</summary>"
    ))
}

/// What the model sees: the summary (if any) followed by the kept messages.
pub fn context_messages(ctx: &Context) -> Vec<AgentMessage> {
    ctx.summary
        .iter()
        .map(|c| summary_message(&c.summary))
        .chain(ctx.entries.iter().map(|e| e.message.clone()))
        .collect()
}

/// The estimated size of the context in tokens, system prompt included: the last usage the
/// provider reported for this context (an assistant reply that did not fail) plus an estimate
/// of what came after it; without one, an estimate of everything.
pub fn estimate_context_tokens(system: Option<&str>, ctx: &Context) -> u64 {
    let measured = ctx.entries.iter().enumerate().rev().find_map(|(i, e)| {
        if !e.usage_is_current {
            return None;
        }
        let failed = matches!(e.message.stop_reason(), Some("error" | "aborted"));
        let u = e.message.usage().filter(|_| !failed)?;
        let tokens = (u.input + u.output + u.cache_read + u.cache_write).max(u.total_tokens);
        (tokens > 0).then_some((i, tokens))
    });
    match measured {
        Some((i, tokens)) => {
            tokens
                + ctx.entries[i + 1..]
                    .iter()
                    .map(|e| estimate_message_tokens(&e.message))
                    .sum::<u64>()
        }
        None => {
            system.map(estimate_text_tokens).unwrap_or(0)
                + ctx
                    .summary
                    .as_ref()
                    .map(|c| estimate_message_tokens(&summary_message(&c.summary)))
                    .unwrap_or(0)
                + ctx
                    .entries
                    .iter()
                    .map(|e| estimate_message_tokens(&e.message))
                    .sum::<u64>()
        }
    }
}

/// Index of the first entry to keep, or `None` when nothing can be dropped. About
/// `keep_recent` tokens of the newest entries are kept; the cut lands on a user message at or
/// after that point (else an assistant message, which never separates a tool call from its
/// result). When the newest message alone is larger, the cut is the last possible one. An
/// overflow must drop something, so it keeps only from the last user message on when the
/// whole context is within `keep_recent`.
pub fn cut_point(entries: &[ContextEntry], keep_recent: u64, trigger: Trigger) -> Option<usize> {
    let n = entries.len();
    let mut start = 0;
    let mut acc = 0u64;
    for i in (0..n).rev() {
        acc += estimate_message_tokens(&entries[i].message);
        if acc > keep_recent {
            start = i + 1;
            break;
        }
    }
    let is = |i: &usize, role: &str| entries[*i].id.is_some() && entries[*i].message.role() == role;
    let cut = (start..n)
        .find(|i| is(i, "user"))
        .or_else(|| (start..n).find(|i| is(i, "assistant")))
        .or_else(|| (0..n).rev().find(|i| is(i, "user")))
        .or_else(|| (0..n).rev().find(|i| is(i, "assistant")))?;
    if cut > 0 {
        return Some(cut);
    }
    if trigger == Trigger::Overflow {
        return (1..n).rev().find(|i| is(i, "user"));
    }
    None
}

/// Why a compaction did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    /// Everything in the context is recent: there is nothing older to summarise.
    #[error("nothing to compact")]
    NothingToCompact,
    #[error("the summary request failed: {0}")]
    Summary(#[from] ProviderError),
    #[error("the model returned an empty summary")]
    EmptySummary,
    #[error("cannot write the transcript: {0}")]
    Io(#[from] std::io::Error),
}

/// A compaction that was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Compacted {
    /// The context after the compaction (summary + kept entries).
    pub context: Context,
    pub tokens_before: u64,
    pub tokens_after: u64,
}

/// One compaction's inputs.
pub struct CompactRequest<'a> {
    /// `(provider, model)` in order of preference: the run's chain.
    pub provider_chain: &'a [(ProviderConfig, String)],
    pub settings: CompactionSettings,
    pub context_window: u64,
    /// The run's system prompt (counted in the estimates, not summarised).
    pub system: Option<&'a str>,
    pub trigger: Trigger,
    /// `/compact <instructions>`: what the summary should focus on.
    pub instructions: Option<&'a str>,
}

/// Summarises the older part of `ctx` with the model and appends the `compaction` entry to
/// `transcript` (see the module doc). `ctx` must be what [`Transcript::load_context`] read
/// from that transcript, plus any entries appended since (with their ids).
pub async fn compact(
    client: &ProviderClient,
    transcript: &mut Transcript,
    ctx: &Context,
    req: &CompactRequest<'_>,
    cancel: &CancelToken,
) -> Result<Compacted, CompactError> {
    let tokens_before = estimate_context_tokens(req.system, ctx);
    let cut = cut_point(&ctx.entries, req.settings.keep_recent_tokens, req.trigger)
        .ok_or(CompactError::NothingToCompact)?;
    let first_kept = ctx.entries[cut]
        .id
        .clone()
        .ok_or(CompactError::NothingToCompact)?;
    let dropped: Vec<&AgentMessage> = ctx.entries[..cut].iter().map(|e| &e.message).collect();
    let summary = summarize(
        client,
        req,
        ctx.summary.as_ref().map(|c| c.summary.as_str()),
        &dropped,
        cancel,
    )
    .await?;
    transcript.append_compaction(&summary, &first_kept, tokens_before)?;
    let context = Context {
        summary: Some(Compaction {
            summary,
            first_kept_entry_id: first_kept,
            tokens_before,
        }),
        entries: ctx.entries[cut..]
            .iter()
            .cloned()
            .map(|mut e| {
                e.usage_is_current = false;
                e
            })
            .collect(),
    };
    let tokens_after = estimate_context_tokens(req.system, &context);
    Ok(Compacted {
        context,
        tokens_before,
        tokens_after,
    })
}

const SUMMARY_SYSTEM: &str = "You maintain the working memory of a conversation between a user and an AI assistant. \
The older part of the conversation no longer fits into the model's context window and will be replaced by what you write. \
Write a compact, factual summary from which the assistant can carry on without the original messages: \
the user's goals and requests, decisions and their reasons, facts learned, work done and its results, \
and what is still open or planned next. Keep names, numbers, file paths, commands, URLs and other identifiers exactly as written. \
If an earlier summary is given, merge it with the newer messages into one summary, letting newer information win. \
Answer with the summary only, without preamble and without addressing the user.";

/// The model's summary of `previous` (an earlier summary) and `dropped`, along the provider
/// chain (the next model on the errors a run would fall back on).
async fn summarize(
    client: &ProviderClient,
    req: &CompactRequest<'_>,
    previous: Option<&str>,
    dropped: &[&AgentMessage],
    cancel: &CancelToken,
) -> Result<String, CompactError> {
    let max_tokens = (req.settings.reserve_tokens * 4 / 5).clamp(256, 8_192);
    // Room for the text to summarise: the window less the reply, the instructions and slack.
    let budget_tokens = req
        .context_window
        .saturating_sub(max_tokens + estimate_text_tokens(SUMMARY_SYSTEM) + 256)
        .max(256);
    let prompt = summary_prompt(
        previous,
        dropped,
        req.instructions,
        budget_tokens.saturating_mul(4) as usize,
    );
    let mut last_err = ProviderError::BadRequest("no model provider is configured".into());
    for (provider, model) in req.provider_chain {
        let chat = ChatRequest {
            model: model.clone(),
            system: Some(SUMMARY_SYSTEM.to_string()),
            messages: vec![AgentMessage::user_text(prompt.clone())],
            tools: Vec::new(),
            max_tokens: Some(
                provider
                    .model_info(model)
                    .map_or(max_tokens, |m| max_tokens.min(m.max_tokens.max(256))),
            ),
        };
        match client
            .stream_with_retries(provider, &chat, cancel, &mut |_| {})
            .await
        {
            Ok(msg) => {
                let text = msg.text().trim().to_string();
                return if text.is_empty() {
                    Err(CompactError::EmptySummary)
                } else {
                    Ok(text)
                };
            }
            Err(e) if e.is_failover() => {
                tracing::warn!(provider = %provider.id, %model, error = %e,
                    "summary request failed; trying the next model");
                last_err = e;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(last_err.into())
}

/// The user message of the summary request: the earlier summary, the dropped messages as
/// plain text (long tool results cut, the oldest text dropped first past `max_chars`), and
/// the user's focus.
fn summary_prompt(
    previous: Option<&str>,
    dropped: &[&AgentMessage],
    instructions: Option<&str>,
    max_chars: usize,
) -> String {
    let mut lines: Vec<String> = Vec::new();
    for m in dropped {
        for part in m.content() {
            let line = match (m, part) {
                (AgentMessage::User { .. }, ContentPart::Text { text }) => format!("User: {text}"),
                (AgentMessage::User { .. }, ContentPart::Image { .. }) => "User: [image]".into(),
                (AgentMessage::Assistant { .. }, ContentPart::Text { text }) => {
                    format!("Assistant: {text}")
                }
                (
                    AgentMessage::Assistant { .. },
                    ContentPart::ToolCall {
                        name, arguments, ..
                    },
                ) => format!("Assistant called tool {name} with {arguments}"),
                (AgentMessage::ToolResult { tool_name, .. }, ContentPart::Text { text }) => {
                    let cut: String = text.chars().take(MAX_TOOL_RESULT_CHARS).collect();
                    let more = if cut.len() < text.len() { " […]" } else { "" };
                    format!("Tool {tool_name} returned: {cut}{more}")
                }
                _ => continue,
            };
            lines.push(line);
        }
    }
    let mut conversation = lines.join("\n\n");
    let chars = conversation.chars().count();
    if chars > max_chars {
        let skip = chars - max_chars;
        conversation = format!(
            "[… the oldest part is omitted …]\n{}",
            conversation.chars().skip(skip).collect::<String>()
        );
    }
    let mut out = String::new();
    if let Some(p) = previous.filter(|p| !p.trim().is_empty()) {
        out.push_str("Summary of the conversation before these messages:\n<previous-summary>\n");
        out.push_str(p.trim());
        out.push_str("\n</previous-summary>\n\n");
    }
    out.push_str("Messages to summarise:\n<conversation>\n");
    out.push_str(&conversation);
    out.push_str("\n</conversation>");
    if let Some(i) = instructions.map(str::trim).filter(|i| !i.is_empty()) {
        out.push_str("\n\nThe user asked the summary to focus on: ");
        out.push_str(i);
    }
    out
}

/// A token count as the reference prints it: `950`, `1.2k`, `35k`, `1.2m`.
pub fn format_token_count(n: u64) -> String {
    if n < 1_000 {
        n.to_string()
    } else if n < 10_000 {
        format!("{:.1}k", n as f64 / 1_000.0)
    } else if n < 1_000_000 {
        format!("{}k", (n as f64 / 1_000.0).round() as u64)
    } else {
        format!("{:.1}m", n as f64 / 1_000_000.0)
    }
}

/// A context entry for a message this process just appended under `id` (the run's user turn).
pub fn context_entry(id: String, message: AgentMessage) -> ContextEntry {
    ContextEntry {
        id: Some(id),
        message,
        usage_is_current: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(id: &str, msg: AgentMessage) -> ContextEntry {
        context_entry(id.to_string(), msg)
    }

    fn convo(turns: usize, chars: usize) -> Vec<ContextEntry> {
        (0..turns)
            .flat_map(|i| {
                [
                    e(&format!("u{i}"), AgentMessage::user_text("q".repeat(chars))),
                    e(
                        &format!("a{i}"),
                        AgentMessage::assistant_text("a".repeat(chars)),
                    ),
                ]
            })
            .collect()
    }

    #[test]
    fn defaults_scale_with_small_windows() {
        let s = CompactionSettings::resolve(None, 200_000);
        assert_eq!((s.reserve_tokens, s.keep_recent_tokens), (20_000, 20_000));
        let s = CompactionSettings::resolve(None, 4_000);
        assert_eq!((s.reserve_tokens, s.keep_recent_tokens), (1_000, 1_000));
        assert!(s.should_compact(3_001, 4_000) && !s.should_compact(3_000, 4_000));
    }

    #[test]
    fn configured_values_win_but_the_reserve_stays_under_half() {
        let cfg: CompactionConfig = serde_json::from_value(serde_json::json!({
            "reserveTokens": 500, "keepRecentTokens": 300, "enabled": false
        }))
        .unwrap_or_default();
        let s = CompactionSettings::resolve(Some(&cfg), 4_000);
        assert_eq!((s.reserve_tokens, s.keep_recent_tokens), (500, 300));
        assert!(!s.should_compact(10_000, 4_000));
        let cfg: CompactionConfig =
            serde_json::from_value(serde_json::json!({"reserveTokensFloor": 9_000}))
                .unwrap_or_default();
        assert_eq!(
            CompactionSettings::resolve(Some(&cfg), 4_000).reserve_tokens,
            2_000
        );
    }

    #[test]
    fn the_cut_keeps_recent_turns_and_lands_on_a_user_message() {
        // 10 turns of 2 × 100 tokens; keep 450 → the last 2 turns (400 tokens) stay.
        let entries = convo(10, 400);
        assert_eq!(cut_point(&entries, 450, Trigger::Threshold), Some(16));
        // Everything fits: nothing to compact, except when the provider overflowed.
        assert_eq!(cut_point(&entries, 100_000, Trigger::Manual), None);
        assert_eq!(cut_point(&entries, 100_000, Trigger::Overflow), Some(18));
    }

    #[test]
    fn the_cut_never_starts_with_a_tool_result() {
        let mut entries = convo(2, 400);
        entries.push(e(
            "t",
            AgentMessage::ToolResult {
                tool_call_id: "c".into(),
                tool_name: "read".into(),
                content: vec![ContentPart::text("r".repeat(4000))],
                details: None,
                is_error: false,
                timestamp: 1,
                extra: Default::default(),
            },
        ));
        let cut = cut_point(&entries, 10, Trigger::Threshold);
        assert_eq!(cut, Some(2), "the last user message");
    }

    #[test]
    fn usage_of_the_current_context_beats_the_estimate() {
        let mut a = AgentMessage::assistant_text("x");
        if let AgentMessage::Assistant { usage, .. } = &mut a {
            *usage = Some(crate::Usage {
                input: 900,
                output: 100,
                ..Default::default()
            });
        }
        let mut ctx = Context {
            summary: None,
            entries: vec![
                e("u", AgentMessage::user_text("q")),
                e("a", a),
                e("u2", AgentMessage::user_text("y".repeat(40))),
            ],
        };
        assert_eq!(estimate_context_tokens(None, &ctx), 1_010);
        // Kept from before a compaction: that usage measured the old context.
        ctx.entries[1].usage_is_current = false;
        assert_eq!(estimate_context_tokens(None, &ctx), 1 + 1 + 10);
    }

    #[test]
    fn prompt_cuts_the_oldest_text_and_names_the_focus() {
        let a = AgentMessage::user_text("old ".repeat(100));
        let b = AgentMessage::user_text("new");
        let p = summary_prompt(Some("before"), &[&a, &b], Some("the plan"), 50);
        assert!(p.contains("<previous-summary>\nbefore"));
        assert!(p.contains("User: new"));
        assert!(p.contains("oldest part is omitted"));
        assert!(p.ends_with("focus on: the plan"));
    }

    #[test]
    fn token_counts_print_like_the_reference() {
        assert_eq!(format_token_count(950), "950");
        assert_eq!(format_token_count(1_234), "1.2k");
        assert_eq!(format_token_count(35_400), "35k");
    }
}
