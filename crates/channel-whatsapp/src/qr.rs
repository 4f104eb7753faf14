//! Terminal rendering of the pairing QR payload the library emits (`channels login`).

use crate::LoginError;

/// Renders `payload` as a QR code of Unicode half blocks (two modules per character row), with a
/// quiet zone, dark modules drawn as spaces on a light background so it scans on dark terminals.
pub fn render_qr(payload: &str) -> Result<String, LoginError> {
    let code = qrcode::QrCode::new(payload.as_bytes()).map_err(LoginError::Qr)?;
    Ok(code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_fixed_pairing_payload() {
        // Shape of a real WhatsApp pairing payload: ref,noiseKey,identityKey,advSecret.
        let payload = "2@Qm9ndXNSZWZlcmVuY2VWYWx1ZQ==,aGVsbG8gbm9pc2Uga2V5IGJhc2U2NA==,aWRlbnRpdHkga2V5IGJhc2U2NA==,YWR2IHNlY3JldA==";
        let out = render_qr(payload).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        let width = lines[0].chars().count();
        assert!(width >= 21 + 8, "QR plus quiet zone: {width}");
        assert!(lines.iter().all(|l| l.chars().count() == width));
        assert_eq!(lines.len(), width.div_ceil(2));
        assert!(
            out.chars()
                .all(|c| matches!(c, ' ' | '█' | '▀' | '▄' | '\n'))
        );
        assert_eq!(render_qr(payload).unwrap(), out, "deterministic");
    }
}
