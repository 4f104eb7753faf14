//! The login flow's handling of the library's own pairing events: a `PairingQrCode` event from
//! whatsapp-rust becomes a terminal QR, a `PairingCode` event a code, and the terminal events end
//! the flow. (Producing the event itself needs WhatsApp's servers; docs/whatsapp.md covers that
//! manual test with a real phone.)
#![cfg(feature = "real")]

use std::time::Duration;

use openclaw_channel_whatsapp::{LoginError, LoginPrompt, LoginStep, login_prompt, render_qr};
use whatsapp_rust::types::events::{
    Connected, Event, PairingCode, PairingQrCode, PairingQrCodesExhausted,
};

#[test]
fn a_library_pairing_event_renders_as_a_scannable_qr() {
    let payload = "2@AbCdEf0123456789,Tm9pc2VLZXlCYXNlNjQ=,SWRlbnRpdHlLZXk=,QWR2U2VjcmV0";
    let event = Event::PairingQrCode(
        PairingQrCode::builder()
            .code(payload.to_string())
            .timeout(Duration::from_secs(60))
            .build(),
    );
    let Some(LoginStep::Show(LoginPrompt::Qr(code))) = login_prompt(&event) else {
        panic!("a QR event must be shown");
    };
    assert_eq!(code, payload);
    let art = render_qr(&code).unwrap();
    let lines: Vec<&str> = art.lines().collect();
    assert!(lines.len() >= 15, "{art}");
    assert!(
        lines
            .iter()
            .all(|l| l.chars().count() == lines[0].chars().count())
    );
    // Decoding needs a QR reader; instead check the module grid is not trivially uniform.
    assert!(art.contains('█') && art.contains(' '));

    let code = Event::PairingCode(
        PairingCode::builder()
            .code("ABCD-EFGH".into())
            .timeout(Duration::from_secs(180))
            .build(),
    );
    assert!(matches!(
        login_prompt(&code),
        Some(LoginStep::Show(LoginPrompt::PairCode(c))) if c == "ABCD-EFGH"
    ));
    assert!(matches!(
        login_prompt(&Event::Connected(Connected::builder().build())),
        Some(LoginStep::Done(Ok(())))
    ));
    assert!(matches!(
        login_prompt(&Event::PairingQrCodesExhausted(
            PairingQrCodesExhausted::builder()
                .disconnected(true)
                .build()
        )),
        Some(LoginStep::Done(Err(LoginError::QrCodesExhausted)))
    ));
}
