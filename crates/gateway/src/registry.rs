//! The one method registry: name → handler, required access, and whether it is advertised in
//! `hello-ok.features.methods` (the feature list is derived from here, never written twice).
//! Authorization follows §4: role gate, then scope (admin passes all; read is satisfied by
//! write; unknown methods are admin-only so scope is checked before the method lookup).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use openclaw_protocol::connect::{roles, scopes};
use openclaw_protocol::{ConnectParams, ErrorShape};
use serde_json::Value;

use crate::methods;
use crate::state::AppState;

/// Who may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any authenticated connection, any role (only `health`).
    Any,
    /// An operator with this scope (`operator.read` is also satisfied by `operator.write`).
    Scope(&'static str),
    /// Only `role: node` connections.
    NodeOnly,
    /// Admin, except that a caller holding this scope reaches the handler, which asks for admin
    /// itself (`MethodCtx::require_admin`) unless the request is one the lesser scope may make
    /// (`sessions.delete` of an archived session). A caller with neither is told admin is missing,
    /// as the reference does.
    AdminUnless(&'static str),
}

/// The final answer of a two-phase method: `(ok, payload, error)`.
pub type FinalFuture = Pin<Box<dyn Future<Output = (bool, Value, Option<ErrorShape>)> + Send>>;

/// A method's answer: a JSON value, an already-serialized payload (cached health), or an
/// immediate ack followed later by a second response on the same request id (`agent`).
pub enum Reply {
    Json(Value),
    Raw(Arc<str>),
    TwoPhase {
        ack: Value,
        rest: FinalFuture,
    },
    /// One answer that comes later (`node.invoke` waits for a node); the connection keeps
    /// reading and answering other requests meanwhile.
    Deferred(FinalFuture),
}

/// The caller of a method.
pub struct MethodCtx {
    pub state: Arc<AppState>,
    pub conn_id: String,
    pub role: String,
    pub scopes: Vec<String>,
    pub remote_ip: String,
    pub connect: Arc<ConnectParams>,
}

/// Whether `granted` scopes satisfy `scope`: admin satisfies every scope, write satisfies read.
pub fn holds(granted: &[String], scope: &str) -> bool {
    granted
        .iter()
        .any(|g| g == scopes::ADMIN || g == scope || (scope == scopes::READ && g == scopes::WRITE))
}

impl MethodCtx {
    pub fn is_admin(&self) -> bool {
        self.scopes.iter().any(|s| s == scopes::ADMIN)
    }

    /// `Ok` for an admin caller, else the reference's `missing scope: operator.admin` error.
    pub fn require_admin(&self) -> Result<(), ErrorShape> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ErrorShape::missing_scope(scopes::ADMIN))
        }
    }
}

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<Reply, ErrorShape>> + Send + 'a>>;
pub type Handler = for<'a> fn(&'a MethodCtx, Option<&'a Value>) -> HandlerFuture<'a>;

pub struct MethodSpec {
    pub name: &'static str,
    pub access: Access,
    pub handler: Handler,
}

pub struct Registry {
    methods: Vec<MethodSpec>,
}

impl Registry {
    pub fn build() -> Self {
        let mut methods = Vec::new();
        methods::system::register(&mut methods);
        methods::logs::register(&mut methods);
        methods::config::register(&mut methods);
        methods::agent::register(&mut methods);
        methods::channels::register(&mut methods);
        methods::devices::register(&mut methods);
        methods::nodes::register(&mut methods);
        methods::canvas::register(&mut methods);
        methods::agents::register(&mut methods);
        methods::tools::register(&mut methods);
        methods::session_events::register(&mut methods);
        methods::ui::register(&mut methods);
        methods::approvals::register(&mut methods);
        methods::web::register(&mut methods);
        methods::models::register(&mut methods);
        methods::commands::register(&mut methods);
        methods::sessions::register(&mut methods);
        methods::wizard::register(&mut methods);
        methods::cron::register(&mut methods);
        Self { methods }
    }

    /// Names for `hello-ok.features.methods`.
    pub fn advertised(&self) -> Vec<String> {
        self.methods.iter().map(|m| m.name.to_string()).collect()
    }

    pub fn get(&self, name: &str) -> Option<&MethodSpec> {
        self.methods.iter().find(|m| m.name == name)
    }

    /// Resolves `method` for a caller, or the protocol error to answer with.
    pub fn authorize(
        &self,
        method: &str,
        role: &str,
        granted: &[String],
    ) -> Result<&MethodSpec, ErrorShape> {
        let spec = self.get(method);
        let access = spec
            .map(|s| s.access)
            .unwrap_or(Access::Scope(scopes::ADMIN));
        if access == Access::Any {
            return spec.ok_or_else(|| unknown(method));
        }
        if role == roles::NODE && access != Access::NodeOnly {
            return Err(ErrorShape::invalid_request(format!(
                "unauthorized role: {role}"
            )));
        }
        if access == Access::NodeOnly {
            if role != roles::NODE {
                return Err(ErrorShape::invalid_request(format!(
                    "unauthorized role: {role}"
                )));
            }
            return spec.ok_or_else(|| unknown(method));
        }
        let has = |s: &str| granted.iter().any(|g| g == s);
        if !has(scopes::ADMIN) {
            match access {
                Access::Scope(need) if !holds(granted, need) => {
                    return Err(ErrorShape::missing_scope(need));
                }
                Access::AdminUnless(lesser) if !has(lesser) => {
                    return Err(ErrorShape::missing_scope(scopes::ADMIN));
                }
                _ => {}
            }
        }
        if method == "connect" {
            return Err(ErrorShape::invalid_request(
                "connect is only valid as the first request",
            ));
        }
        spec.ok_or_else(|| unknown(method))
    }
}

fn unknown(method: &str) -> ErrorShape {
    ErrorShape::invalid_request(format!("unknown method: {method}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn scope_before_lookup_as_reference() {
        let r = Registry::build();
        let e = r
            .authorize("no.such.method", "operator", &s(&[scopes::READ]))
            .err()
            .unwrap();
        assert_eq!(e.code, "FORBIDDEN");
        assert_eq!(e.message, "missing scope: operator.admin");
        let e = r
            .authorize("no.such.method", "operator", &s(&[scopes::ADMIN]))
            .err()
            .unwrap();
        assert_eq!(e.message, "unknown method: no.such.method");
        let e = r
            .authorize("connect", "operator", &s(&[scopes::ADMIN]))
            .err()
            .unwrap();
        assert_eq!(e.message, "connect is only valid as the first request");
        assert!(r.authorize("health", "operator", &[]).is_ok());
        assert!(
            r.authorize("status", "operator", &s(&[scopes::WRITE]))
                .is_ok()
        );
        let e = r
            .authorize("system-event", "operator", &s(&[scopes::WRITE]))
            .err()
            .unwrap();
        assert_eq!(e.message, "missing scope: operator.admin");
        let e = r
            .authorize("status", "node", &s(&[scopes::ADMIN]))
            .err()
            .unwrap();
        assert_eq!(e.message, "unauthorized role: node");
        assert!(r.authorize("health", "node", &[]).is_ok());
        // sessions.delete: a reader is told admin is missing, a writer reaches the handler.
        let e = r
            .authorize("sessions.delete", "operator", &s(&[scopes::READ]))
            .err()
            .unwrap();
        assert_eq!(e.message, "missing scope: operator.admin");
        assert!(
            r.authorize("sessions.delete", "operator", &s(&[scopes::WRITE]))
                .is_ok()
        );
        assert!(
            r.authorize("config.schema", "operator", &s(&[scopes::READ]))
                .is_ok()
        );
    }
}
