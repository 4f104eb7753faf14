//! Rendering of the pairing QR payload the library emits: Unicode art for the terminal
//! (`channels login`) and a PNG data URL for a browser (`web.login.start`; the reference's UI
//! shows it in an `<img>` and its schema wants `data:image/png;base64,…` under 16 KiB).

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

/// Target edge of the PNG in pixels (modules are scaled by a whole factor to about this).
const PNG_EDGE: usize = 264;
/// Quiet zone around the code, in modules (the QR standard's four).
const QUIET: usize = 4;

/// Renders `payload` as a black-on-white QR code PNG, as a `data:image/png;base64,…` URL.
pub fn qr_png_data_url(payload: &str) -> Result<String, LoginError> {
    use base64::Engine;
    let code = qrcode::QrCode::new(payload.as_bytes()).map_err(LoginError::Qr)?;
    let modules = code.width();
    let dark = code.to_colors();
    let size = modules + 2 * QUIET;
    let scale = (PNG_EDGE / size).max(1);
    let edge = size * scale;
    let png = encode_png_1bit(edge, |x, y| {
        let (mx, my) = (x / scale, y / scale);
        mx >= QUIET
            && my >= QUIET
            && mx < QUIET + modules
            && my < QUIET + modules
            && dark[(my - QUIET) * modules + (mx - QUIET)] == qrcode::Color::Dark
    });
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    ))
}

/// A square 1-bit grayscale PNG (`is_dark(x, y)`), its zlib stream made of stored blocks: a QR
/// is small, so compression is not worth a dependency.
fn encode_png_1bit(edge: usize, is_dark: impl Fn(usize, usize) -> bool) -> Vec<u8> {
    let row_bytes = edge.div_ceil(8);
    let mut raw = Vec::with_capacity((row_bytes + 1) * edge);
    for y in 0..edge {
        raw.push(0); // filter: none
        for bx in 0..row_bytes {
            let mut byte = 0u8;
            for bit in 0..8 {
                let x = bx * 8 + bit;
                // 1 = white in a grayscale image; padding bits stay white.
                if x >= edge || !is_dark(x, y) {
                    byte |= 0x80 >> bit;
                }
            }
            raw.push(byte);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let mut chunks = raw.chunks(65_535).peekable();
    while let Some(block) = chunks.next() {
        zlib.push(u8::from(chunks.peek().is_none()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());

    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(edge as u32).to_be_bytes());
    ihdr.extend_from_slice(&(edge as u32).to_be_bytes());
    ihdr.extend_from_slice(&[1, 0, 0, 0, 0]); // bit depth 1, grayscale, deflate, no filter, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr.as_slice()), (b"IDAT", &zlib), (b"IEND", &[])] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    png
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &d in data {
        a = (a + u32::from(d)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &d in data {
        crc ^= u32::from(d);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_data_url_is_a_well_formed_png_of_the_code() {
        use base64::Engine;
        let payload = "2@Qm9ndXNSZWZlcmVuY2VWYWx1ZQ==,aGVsbG8gbm9pc2Uga2V5IGJhc2U2NA==,aWRlbnRpdHkga2V5IGJhc2U2NA==,YWR2IHNlY3JldA==";
        let url = qr_png_data_url(payload).unwrap();
        assert!(
            url.len() < 16_384,
            "fits the reference's schema: {}",
            url.len()
        );
        let b64 = url.strip_prefix("data:image/png;base64,").unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        let edge = u32::from_be_bytes(png[16..20].try_into().unwrap()) as usize;
        let modules = qrcode::QrCode::new(payload.as_bytes()).unwrap().width();
        assert_eq!(edge % (modules + 8), 0, "whole-module scale");
        // Every chunk's CRC checks out and the stream ends with IEND.
        let mut at = 8;
        let mut kinds = Vec::new();
        while at < png.len() {
            let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let body = &png[at + 4..at + 8 + len];
            let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
            assert_eq!(crc32(body), crc);
            kinds.push(String::from_utf8_lossy(&body[..4]).to_string());
            at += 12 + len;
        }
        assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926, "standard check value");
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398, "standard check value");
    }

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
