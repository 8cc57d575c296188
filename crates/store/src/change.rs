//! Change events: what one committed write request did, as the store that ran it reports
//! it. The bus carries them; caches, real-time and jobs consume them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a write did to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOperation {
    Insert,
    Update,
    Delete,
}

/// One committed write request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// The resource the request wrote.
    pub resource: String,
    pub op: ChangeOperation,
    /// Primary keys of the rows written, in request order where there is one.
    pub ids: Vec<serde_json::Value>,
    /// For updates: per row, only the fields whose value changed (new values).
    pub changes: Vec<RowChange>,
    /// The resource's version after the write.
    pub version: i64,
    /// Every resource whose version the write bumped (nested children, cascades), with
    /// its new version.
    pub versions: BTreeMap<String, i64>,
    /// The `X-Request-Id` of the request.
    pub request_id: String,
}

/// The fields one row's update changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowChange {
    pub id: serde_json::Value,
    pub fields: serde_json::Map<String, serde_json::Value>,
}
