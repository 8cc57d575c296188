//! The audit trail: who changed what, with the values before and after, written by the
//! write transaction itself ([`record`]), chained batch to batch by SHA-256 so an edit or
//! a deletion shows ([`chain`]), read back for `/admin/audit` and a row's history
//! ([`query`]), checked by `oxbase audit verify` and pruned by age ([`maintain`]).
//!
//! One write request that changes rows is one *batch* (`_oxbase_audit_batches`); each row
//! it wrote is one *record* (`_oxbase_audit_records`) with its changes as JSON,
//! `{"field": [before, after]}` (an insert's before and a delete's after are `null`). A
//! field the writer's role may not read is recorded as changed without its values,
//! `{"field": null}`; a field the schema excludes (`audit_exclude`, the accounts' password
//! field) is not recorded at all.

pub(crate) mod chain;
mod maintain;
mod query;
pub(crate) mod record;
pub mod schema;

pub use chain::{ChainBreak, Verification};
pub use query::{AuditBatch, AuditFilter, AuditRecord};
pub use record::now_millis;

/// Who made a write and where it came from, as the audit trail records it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditContext {
    /// The caller's user id as text; `None` for anonymous callers and API keys.
    pub actor_id: Option<String>,
    /// The role the caller acted in.
    pub role: Option<String>,
    /// The API key's id when the caller used one.
    pub api_key: Option<String>,
    /// The request's `X-Request-Id`.
    pub request_id: Option<String>,
    /// The client's address.
    pub client_ip: Option<String>,
    /// The request's `User-Agent`.
    pub user_agent: Option<String>,
    /// Per resource, the fields the writer's role may not read: recorded as changed
    /// without their values.
    pub masked: Vec<(String, Vec<String>)>,
}

impl AuditContext {
    /// Whether `field` of `resource` is hidden from the writer.
    pub fn masks(&self, resource: &str, field: &str) -> bool {
        self.masked.iter().any(|(name, fields)| name == resource && fields.iter().any(|hidden| hidden == field))
    }
}

/// The value a masked field's change is recorded as: changed, value withheld.
pub const MASKED: serde_json::Value = serde_json::Value::Null;
