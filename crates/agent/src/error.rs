//! Configuration errors of the agent runtime (bad `models`/`agents` sections). Provider and
//! run failures are [`crate::ProviderError`]; file errors stay `std::io::Error`.

/// A config section the runtime cannot use. The message names the key path.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("invalid config at {path}: {message}")]
    Config { path: String, message: String },
}

impl AgentError {
    pub(crate) fn config(path: impl Into<String>, message: impl Into<String>) -> Self {
        AgentError::Config {
            path: path.into(),
            message: message.into(),
        }
    }
}
