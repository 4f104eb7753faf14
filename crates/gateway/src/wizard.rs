//! The onboarding wizard hosted for `wizard.*` clients (the Control UI, apps): at most one
//! session at a time in the whole gateway, owned by the connection that started it. Another
//! client gets "wizard already running"; only the owner can answer, cancel or read it, and the
//! session ends when the owner disconnects. The steps are [`openclaw_onboard::Wizard`]'s, the
//! same machine the terminal `openclaw onboard` renders.

use std::sync::{Arc, Mutex};

use openclaw_onboard::Wizard;
use openclaw_protocol::ErrorShape;
use openclaw_protocol::wizard::{WizardRunStatus, detail_codes};
use serde_json::json;

use crate::sync::LockExt;

struct Slot {
    id: String,
    owner: String,
    wizard: Arc<tokio::sync::Mutex<Wizard>>,
}

/// The gateway's one wizard slot.
#[derive(Default)]
pub struct WizardSessions {
    slot: Mutex<Option<Slot>>,
}

/// The error for a second client (the reference's code, our words).
pub fn busy() -> ErrorShape {
    let mut e = ErrorShape::unavailable(
        "wizard already running: OpenClaw setup is already in progress; try again when it finishes",
    )
    .with_details(json!({"code": detail_codes::SETUP_ADMISSION_BUSY}));
    e.retryable = Some(true);
    e
}

pub fn not_found() -> ErrorShape {
    ErrorShape::invalid_request("wizard not found")
        .with_details(json!({"code": detail_codes::WIZARD_NOT_FOUND}))
}

impl WizardSessions {
    /// Reserves the slot for `owner`; `None` when a session is running.
    pub fn admit(
        &self,
        id: String,
        owner: &str,
        wizard: Wizard,
    ) -> Option<Arc<tokio::sync::Mutex<Wizard>>> {
        let mut slot = self.slot.locked();
        if slot.is_some() {
            return None;
        }
        let wizard = Arc::new(tokio::sync::Mutex::new(wizard));
        *slot = Some(Slot {
            id,
            owner: owner.to_string(),
            wizard: wizard.clone(),
        });
        Some(wizard)
    }

    /// Whether a session is running (checked before the slow start of a new one).
    pub fn busy(&self) -> bool {
        self.slot.locked().is_some()
    }

    /// The session `id` if `conn` owns it.
    pub fn find(&self, id: &str, conn: &str) -> Option<Arc<tokio::sync::Mutex<Wizard>>> {
        let slot = self.slot.locked();
        slot.as_ref()
            .filter(|s| s.id == id && s.owner == conn)
            .map(|s| s.wizard.clone())
    }

    /// Frees the slot of session `id`.
    pub fn purge(&self, id: &str) {
        let mut slot = self.slot.locked();
        if slot.as_ref().is_some_and(|s| s.id == id) {
            *slot = None;
        }
    }

    /// The owner went away: its session ends (nothing is written unless it already committed).
    pub fn forget_conn(&self, conn: &str) {
        let mut slot = self.slot.locked();
        if slot.as_ref().is_some_and(|s| s.owner == conn)
            && let Some(s) = slot.take()
            && let Ok(mut w) = s.wizard.try_lock()
        {
            w.cancel();
        }
    }
}

/// Whether a finished status frees the slot.
pub fn finished(status: WizardRunStatus) -> bool {
    status != WizardRunStatus::Running
}
