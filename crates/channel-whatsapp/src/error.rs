//! Why linking a WhatsApp device did not finish. Printed to the user by `channels login`
//! (through `ChannelError::NotLinked`), so the wording is user-facing.

/// A failed or abandoned login (pairing) attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// The pairing payload does not fit in a QR code.
    #[error("cannot encode QR: {0}")]
    Qr(qrcode::types::QrError),
    /// The server refused the pairing; the text is the library's.
    #[error("pairing failed: {0}")]
    Pairing(String),
    #[error("every QR code expired without a scan; run the login again")]
    QrCodesExhausted,
    #[error("logged out during pairing")]
    LoggedOut,
}
