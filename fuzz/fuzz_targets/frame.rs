//! Fuzz target for the gateway's single entry point for untrusted bytes: every inbound
//! WebSocket text frame goes through `parse_request`, and the params of `connect` and
//! `system-event` through `parse_params`. None of these may panic, whatever the input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use openclaw_protocol::schema::{parse_params, parse_request};
use openclaw_protocol::{ConnectParams, SystemEventParams};

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = parse_request(data) else {
        return;
    };
    let params = frame.params.as_ref();
    if frame.method == "connect" {
        let _ = parse_params::<ConnectParams>("connect", params);
    }
    let _ = parse_params::<SystemEventParams>("system-event", params);
});
