//! First run: what `openclaw onboard` / `configure` (terminal) and `wizard.*` (RPC) share.
//!
//! * [`choices`]: the providers a newcomer can pick, their env keys and default models.
//! * [`probe`]: the outside checks — one real request to the chosen model, Ollama detection,
//!   Telegram `getMe` — each bounded by a timeout; base URLs overridable for tests.
//! * [`plan`]: what the wizard decided ([`plan::Plan`]) and [`plan::commit`], the only writer:
//!   everything is written at the end, atomically (credentials first, then the config), so an
//!   interrupted wizard leaves the previous files byte-identical.
//! * [`machine`]: the step machine ([`machine::Wizard`]), rendered by the terminal front end and
//!   by the gateway's `wizard.*` handlers alike.
//!
//! I/O: outbound HTTP for the checks above; files only through [`plan::commit`].

pub mod choices;
pub mod machine;
pub mod plan;
pub mod probe;

pub use machine::{Advance, Section, Wizard, WizardContext};
pub use plan::{CommitReport, Plan, commit};
