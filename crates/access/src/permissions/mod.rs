//! The schema's roles, compiled once per role: what the role may do per resource and
//! action, the rows each action reaches (a row rule over the row and the caller), the
//! fields it sees and writes, the values the server writes for it, and a view of the
//! schema holding only what the role may see — so planning against the view makes a
//! hidden field or resource look exactly like an unknown one.
//!
//! A [`Scope`] is a compiled role bound to one caller: the rules with the caller's values
//! in them, as plan conditions, and the name the response cache keeps its answers under.

mod compile;
mod condition;
mod scope;

use std::collections::HashMap;
use std::sync::Arc;

use oxbase_schema::Schema;
use oxbase_schema::model::{ANONYMOUS_ROLE, Action};
use oxbase_schema::predicate::{Predicate, UserValue};

use crate::caller::Caller;

pub use scope::{Denied, Scope};

/// Every role of a schema, compiled.
#[derive(Debug)]
pub struct Permissions {
    /// Whether the schema declares roles at all; without any, the API is open.
    declared: bool,
    roles: HashMap<String, Arc<RoleAccess>>,
    /// Open schemas: one role that may do everything.
    open: Arc<RoleAccess>,
    /// A role that may do nothing: a caller without credentials when the schema declares
    /// no `anonymous` role.
    nothing: Arc<RoleAccess>,
}

/// What one role may do, compiled.
#[derive(Debug)]
pub struct RoleAccess {
    pub name: String,
    /// The whole schema: rules read fields the role may not see.
    full: Arc<Schema>,
    /// Resources the role may read, with the fields it sees.
    read_view: Arc<Schema>,
    /// Resources the role may create rows of, with the fields it sees (those it may not
    /// write marked read-only).
    create_view: Arc<Schema>,
    /// The same for updates.
    update_view: Arc<Schema>,
    resources: HashMap<String, ResourceRules>,
    /// The caller's values the role's read rules read, in a fixed order: what tells one
    /// caller's cache entries from another's.
    read_values: Vec<UserValue>,
}

/// A role's rules on one resource.
#[derive(Debug, Default)]
struct ResourceRules {
    /// Per action (in [`Action::ALL`] order): not granted (`None`), or the rows it reaches.
    actions: [Option<Rule>; 4],
    /// Rules written rows must pass afterwards, per action (create, update).
    checks: [Option<Predicate>; 4],
    /// Values the server writes into rows the role creates.
    presets: Vec<oxbase_schema::model::Preset>,
}

/// The rows an action reaches.
#[derive(Debug, Clone, PartialEq)]
enum Rule {
    /// Every row.
    All,
    /// Rows for which the predicate holds.
    Rows(Predicate),
}

fn action_index(action: Action) -> usize {
    Action::ALL.iter().position(|candidate| *candidate == action).expect("every action is in ALL")
}

impl Permissions {
    /// Compiles every role of `schema`.
    pub fn compile(schema: &Schema) -> Permissions {
        let declared = !schema.roles.is_empty();
        let full = Arc::new(schema.clone());
        let roles =
            schema.roles.values().map(|role| (role.name.clone(), Arc::new(compile::role(&full, role)))).collect();
        Permissions {
            declared,
            roles,
            open: Arc::new(compile::open(&full)),
            nothing: Arc::new(compile::nothing(&full)),
        }
    }

    /// Whether the schema declares roles (else every caller may do everything).
    pub fn declared(&self) -> bool {
        self.declared
    }

    /// The scope `caller` acts in: its role's rules with its values bound.
    pub fn scope(&self, caller: &Caller) -> Result<Scope, Denied> {
        if !self.declared {
            return Ok(Scope::bind(self.open.clone(), caller, true));
        }
        match &caller.role {
            None => Ok(Scope::bind(self.roles.get(ANONYMOUS_ROLE).unwrap_or(&self.nothing).clone(), caller, false)),
            Some(name) => match self.roles.get(name) {
                Some(role) => Ok(Scope::bind(role.clone(), caller, false)),
                None => Err(Denied::UnknownRole(name.clone())),
            },
        }
    }

    /// The compiled role named `name`.
    pub fn role(&self, name: &str) -> Option<&Arc<RoleAccess>> {
        self.roles.get(name)
    }
}

#[cfg(test)]
use crate::caller::KeyScope;

#[cfg(test)]
mod tests;
