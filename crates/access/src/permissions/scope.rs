//! A compiled role bound to one caller.

use std::fmt::Write;
use std::sync::Arc;

use oxbase_query::plan::Condition;
use oxbase_query::write::ServerValue;
use oxbase_schema::Schema;
use oxbase_schema::model::{ADMIN_ROLE, Action, PresetValue};

use super::condition::{Facts, condition, none};
use super::{RoleAccess, Rule, action_index};
use crate::caller::{Caller, KeyScope};

/// Why a caller may not do what it asks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No credentials, and the schema grants callers without any nothing of this.
    #[error("this needs credentials: log in or send an API key")]
    Unauthenticated,
    /// The role may see the resource but not take this action on it.
    #[error("your role may not {action} {resource}")]
    Forbidden { action: &'static str, resource: String },
    /// The credential names a role the schema does not declare.
    #[error("the credential's role '{0}' is not declared in the schema")]
    UnknownRole(String),
}

/// A role's rules bound to one caller's values.
#[derive(Debug, Clone)]
pub struct Scope {
    role: Arc<RoleAccess>,
    facts: Facts,
    key: Option<KeyScope>,
    /// No credentials: what is not granted needs them (401), rather than being forbidden.
    anonymous: bool,
    cache_name: String,
}

impl Scope {
    /// `role` bound to `caller`; `open`: the schema declares no roles, so nothing needs
    /// credentials.
    pub(super) fn bind(role: Arc<RoleAccess>, caller: &Caller, open: bool) -> Scope {
        let facts = Facts { id: caller.user_id.clone(), role: caller.role.clone(), claims: caller.claims.clone() };
        let cache_name = cache_name(&role, &facts, caller.key.as_ref());
        let anonymous = !open && caller.role.is_none() && caller.key.is_none();
        Scope { role, facts, key: caller.key.clone(), anonymous, cache_name }
    }

    /// The role's name.
    pub fn role(&self) -> &str {
        &self.role.name
    }

    /// The caller's user id, as its credential states it; `None` for anonymous callers
    /// and API keys.
    pub fn user_id(&self) -> Option<&serde_json::Value> {
        self.facts.id.as_ref()
    }

    /// The id of the API key the caller presented, if it did.
    pub fn key_id(&self) -> Option<&str> {
        self.key.as_ref().map(|key| key.id.as_str())
    }

    /// Whether the caller acts as the admin role.
    pub fn is_admin(&self) -> bool {
        self.role.name == ADMIN_ROLE
    }

    /// What reads plan against: only the resources and fields the role may read.
    pub fn read_view(&self) -> &Schema {
        &self.role.read_view
    }

    /// What a create (`Action::Create`) or an update (any other action) plans against:
    /// the resources the role may take it on, the fields it may not write marked read-only.
    pub fn write_view(&self, action: Action) -> &Schema {
        match action {
            Action::Create => &self.role.create_view,
            _ => &self.role.update_view,
        }
    }

    /// Whether the role can see `resource` at all (read it, or create or update rows of it).
    pub fn sees(&self, resource: &str) -> bool {
        [&self.role.read_view, &self.role.create_view, &self.role.update_view]
            .iter()
            .any(|view| view.resource(resource).is_some())
    }

    /// The name the response cache keeps this scope's answers under: the role and the
    /// caller's values its read rules read, so callers whose rules resolve the same share
    /// entries and no others do.
    pub fn cache_name(&self) -> &str {
        &self.cache_name
    }

    /// Whether the caller may take `action` on `resource` at all (on some rows). Without
    /// credentials, what is not granted needs them, whether the resource exists or not.
    pub fn permit(&self, resource: &str, action: Action) -> Result<(), Denied> {
        let granted = self.rule(resource, action).is_some()
            && self.key.as_ref().is_none_or(|key| {
                key.resources.as_ref().is_none_or(|resources| resources.iter().any(|name| name == resource))
                    && key.actions.as_ref().is_none_or(|actions| actions.contains(&action))
            });
        match (granted, self.anonymous) {
            (true, _) => Ok(()),
            (false, true) => Err(Denied::Unauthenticated),
            (false, false) => Err(Denied::Forbidden { action: action.name(), resource: resource.to_owned() }),
        }
    }

    /// The rows of `resource` that `action` reaches for this caller: `None` for every
    /// row, a condition matching none when the action is not granted.
    pub fn rows(&self, resource: &str, action: Action) -> Option<Condition> {
        if self.permit(resource, action).is_err() {
            return Some(none());
        }
        match self.rule(resource, action)? {
            Rule::All => None,
            Rule::Rows(predicate) => Some(condition(predicate, self.resource(resource)?, &self.facts)),
        }
    }

    /// What rows `action` (create or update) leaves behind must satisfy: the role's check
    /// rules, and for a create the rows the create reaches (for an update without a check
    /// rule, the rows the update reaches, so an update cannot move a row out of reach).
    pub fn after(&self, resource: &str, action: Action) -> Option<Condition> {
        let rules = self.role.resources.get(resource)?;
        let definition = self.resource(resource)?;
        let check =
            rules.checks[action_index(action)].as_ref().map(|predicate| condition(predicate, definition, &self.facts));
        let reach = match action {
            Action::Create => self.rows(resource, action),
            Action::Update if check.is_none() => self.rows(resource, action),
            _ => None,
        };
        match (reach, check) {
            (None, None) => None,
            (Some(one), None) | (None, Some(one)) => Some(one),
            (Some(reach), Some(check)) => Some(Condition::And(vec![reach, check])),
        }
    }

    /// The values the server writes into rows of `resource` this caller creates.
    pub fn presets(&self, resource: &str) -> Vec<ServerValue> {
        let Some(rules) = self.role.resources.get(resource) else { return Vec::new() };
        let Some(definition) = self.resource(resource) else { return Vec::new() };
        rules
            .presets
            .iter()
            .filter_map(|preset| {
                let field = definition.field(&preset.field)?;
                let value = match &preset.value {
                    PresetValue::Literal(literal) => literal.clone(),
                    PresetValue::User(wanted) => {
                        self.facts.literal(wanted, &field.field_type).unwrap_or(oxbase_schema::model::Literal::Null)
                    }
                };
                Some(ServerValue { resource: resource.to_owned(), field: preset.field.clone(), value })
            })
            .collect()
    }

    fn rule(&self, resource: &str, action: Action) -> Option<&Rule> {
        self.role.resources.get(resource)?.actions[action_index(action)].as_ref()
    }

    /// The full definition (rules may read fields the role does not see).
    fn resource(&self, resource: &str) -> Option<&oxbase_schema::model::Resource> {
        self.role.full.resource(resource)
    }
}

/// The role, then each caller's value its read rules read, then an API key's limits.
fn cache_name(role: &RoleAccess, facts: &Facts, key: Option<&KeyScope>) -> String {
    let mut name = role.name.clone();
    for value in &role.read_values {
        let _ = write!(name, ";{}={}", value.text(), facts.value(value));
    }
    if let Some(key) = key
        && (key.resources.is_some() || key.actions.is_some())
    {
        // Limits narrow what the key's role reads: its answers are its own.
        let _ = write!(name, ";key={}", key.id);
    }
    name
}
