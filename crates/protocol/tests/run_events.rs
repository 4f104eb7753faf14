//! The typed `agent`/`chat` events and the final `agent` result serialise to the same bytes as
//! the `json!` objects the gateway sent before they were typed (keys sorted, same optionals).

use openclaw_protocol::*;
use serde_json::json;

fn usage() -> UsageTotals {
    UsageTotals {
        cache_read: 1,
        cache_write: 2,
        input: 5,
        output: 3,
        total: 8,
    }
}

#[test]
fn agent_events_match_the_untyped_payloads() {
    let end = AgentEvent {
        data: AgentEventData::Lifecycle(LifecycleData {
            aborted: Some(true),
            ended_at: Some(20),
            error: None,
            phase: LifecyclePhase::End,
            started_at: 10,
            stop_reason: Some("aborted".into()),
        }),
        run_id: "r".into(),
        seq: 3,
        session_key: "agent:main:main".into(),
        stream: AgentStream::Lifecycle,
        ts: 21,
    };
    let old = json!({"runId": "r", "seq": 3, "stream": "lifecycle", "ts": 21,
        "data": {"phase": "end", "startedAt": 10, "endedAt": 20, "aborted": true, "stopReason": "aborted"},
        "sessionKey": "agent:main:main"});
    assert_eq!(serde_json::to_string(&end).unwrap(), old.to_string());

    let tool = AgentEventData::Tool(ToolData {
        args: None,
        is_error: Some(false),
        name: "read".into(),
        partial_result: None,
        phase: ToolPhase::Result,
        result: Some("ok".into()),
        tool_call_id: "t1".into(),
    });
    let old = json!({"phase": "result", "name": "read", "toolCallId": "t1", "result": "ok", "isError": false});
    assert_eq!(serde_json::to_string(&tool).unwrap(), old.to_string());
    assert_eq!(tool.stream(), AgentStream::Tool);
}

#[test]
fn chat_events_match_the_untyped_payloads() {
    let mut ev = ChatEvent::new("r", "agent:main:main", 2, ChatState::Final);
    ev.message = Some(ChatMessage::assistant("hi", 7));
    ev.usage = Some(usage());
    ev.stop_reason = Some("stop".into());
    let old = json!({"runId": "r", "sessionKey": "agent:main:main", "seq": 2, "state": "final",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "hi"}], "timestamp": 7},
        "usage": {"input": 5, "output": 3, "cacheRead": 1, "cacheWrite": 2, "total": 8},
        "stopReason": "stop"});
    assert_eq!(serde_json::to_string(&ev).unwrap(), old.to_string());

    let mut err = ChatEvent::new("r", "k", 4, ChatState::Error);
    err.error_message = Some("boom".into());
    err.error_kind = Some("timeout".into());
    let old = json!({"runId": "r", "sessionKey": "k", "seq": 4, "state": "error",
        "errorMessage": "boom", "errorKind": "timeout"});
    assert_eq!(serde_json::to_string(&err).unwrap(), old.to_string());
}

#[test]
fn agent_final_matches_the_untyped_payload() {
    let ok = AgentFinal {
        result: Some(AgentOutput {
            meta: AgentOutputMeta {
                aborted: Some(false),
                agent_meta: Some(AgentMeta {
                    model: "m".into(),
                    provider: "p".into(),
                    session_id: "s".into(),
                    usage: usage(),
                }),
                duration_ms: 9,
                stop_reason: Some("stop".into()),
                ..Default::default()
            },
            payloads: vec![ReplyPayload {
                media_url: None,
                text: "pong".into(),
            }],
        }),
        run_id: "r".into(),
        status: "ok".into(),
        summary: "completed".into(),
    };
    let old = json!({"runId": "r", "status": "ok", "summary": "completed",
        "result": {"payloads": [{"text": "pong", "mediaUrl": null}],
            "meta": {"durationMs": 9,
                "agentMeta": {"sessionId": "s", "provider": "p", "model": "m",
                    "usage": {"input": 5, "output": 3, "cacheRead": 1, "cacheWrite": 2, "total": 8}},
                "aborted": false, "stopReason": "stop"}}});
    assert_eq!(serde_json::to_string(&ok).unwrap(), old.to_string());
    assert_eq!(ok.text(), "pong");

    let failed = AgentFinal::error("r", "aborted");
    let old = json!({"runId": "r", "status": "error", "summary": "aborted"});
    assert_eq!(serde_json::to_string(&failed).unwrap(), old.to_string());
}
