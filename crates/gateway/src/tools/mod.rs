//! Tools the gateway provides to agent runs (and to `POST /tools/invoke`): everything that
//! needs the daemon's state rather than just a workspace — processes and exec approvals,
//! channels (`message`), other sessions, the cron scheduler, outbound fetches. The agent crate
//! sees them through its `ToolHost` seam; [`RunTools`] is that host for one run, so each call
//! knows its agent, session, run and the chat it came from.
//!
//! Each tool family is a submodule exposing one [`Family`]; [`FAMILIES`] lists them. The tool
//! policy (`openclaw_agent::ToolPolicy`) is applied by the callers, not here.

mod cron;
pub(crate) mod exec;
mod html;
pub mod jobs;
mod message;
mod process;
mod sessions;
mod web;

use std::sync::Arc;

use openclaw_agent::{ToolCall, ToolFuture, ToolHost, ToolSpec};

use crate::runs::{RunOrigin, RunSpec};
use crate::state::AppState;

/// One family of host tools: its specs (may depend on config, e.g. a search provider) and its
/// dispatcher (`None` = not one of this family's tools).
pub(crate) struct Family {
    pub specs: fn(&RunTools) -> Vec<ToolSpec>,
    pub call: fn(&Arc<RunTools>, ToolCall) -> Option<ToolFuture>,
}

/// Every family, in the order their tools are offered.
const FAMILIES: &[&Family] = &[
    &exec::FAMILY,
    &process::FAMILY,
    &web::FAMILY,
    &message::FAMILY,
    &sessions::FAMILY,
    &cron::FAMILY,
];

/// The host tools of one run (or one HTTP invocation).
pub struct RunTools {
    pub state: Arc<AppState>,
    pub agent_id: String,
    /// `None` for an HTTP invocation without a session and for stateless runs.
    pub session_key: Option<String>,
    pub run_id: Option<String>,
    /// The channel chat the run answers to, if any.
    pub origin: Option<RunOrigin>,
    /// Called over `POST /tools/invoke` (no run, no operator watching).
    pub http: bool,
}

impl std::fmt::Debug for RunTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunTools")
            .field("agent_id", &self.agent_id)
            .field("session_key", &self.session_key)
            .field("run_id", &self.run_id)
            .field("origin", &self.origin)
            .field("http", &self.http)
            .finish()
    }
}

impl RunTools {
    /// The host for an agent run.
    pub fn for_run(state: &Arc<AppState>, spec: &RunSpec) -> Arc<dyn ToolHost> {
        Arc::new(Host(Arc::new(RunTools {
            state: state.clone(),
            agent_id: spec.agent_id.clone(),
            session_key: (!spec.ephemeral).then(|| spec.session_key.clone()),
            run_id: Some(spec.run_id.clone()),
            origin: spec.origin.clone(),
            http: false,
        })))
    }

    /// The host for one `POST /tools/invoke` call.
    pub fn for_http(
        state: &Arc<AppState>,
        agent_id: &str,
        session_key: Option<&str>,
    ) -> Arc<dyn ToolHost> {
        Arc::new(Host(Arc::new(RunTools {
            state: state.clone(),
            agent_id: agent_id.to_string(),
            session_key: session_key.map(str::to_string),
            run_id: None,
            origin: None,
            http: true,
        })))
    }
}

/// The host handed to the agent crate; the `Arc` lets a family's future own a handle to the
/// run's tools (`'static`).
#[derive(Debug)]
struct Host(Arc<RunTools>);

impl ToolHost for Host {
    fn specs(&self) -> Vec<ToolSpec> {
        FAMILIES.iter().flat_map(|f| (f.specs)(&self.0)).collect()
    }

    fn call(&self, call: ToolCall) -> Option<ToolFuture> {
        FAMILIES
            .iter()
            .find_map(|f| (f.call)(&self.0, call.clone()))
    }
}
