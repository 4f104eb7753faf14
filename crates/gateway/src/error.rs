//! The gateway's error for operations whose failure is reported to a person as a sentence
//! (channel account control, log directory checks, queuing an inbound message). Errors with
//! more structure have their own types (`StartError`, `StoreError`, `ForceError`, …).

/// A failure with the sentence that explains it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GatewayError(pub String);

impl From<String> for GatewayError {
    fn from(s: String) -> Self {
        GatewayError(s)
    }
}

impl From<&str> for GatewayError {
    fn from(s: &str) -> Self {
        GatewayError(s.to_string())
    }
}

impl From<GatewayError> for String {
    fn from(e: GatewayError) -> Self {
        e.0
    }
}
