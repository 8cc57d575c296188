//! Compiling a role: which entries of its permissions apply to each resource and action,
//! and the views of the schema it plans against.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use oxbase_schema::Schema;
use oxbase_schema::model::{Action, Permission, Resource, Role};
use oxbase_schema::predicate::{Predicate, UserValue};

use super::{ResourceRules, RoleAccess, Rule, action_index};

/// A role from the schema.
///
/// For each resource and action, the entries naming the resource decide; only when none
/// of them grants the action do the `*` entries. The action reaches the rows any deciding
/// entry reaches (an entry without a filter: every row). A field is visible when a
/// deciding read entry shows it; writable by a create (an update) when a deciding create
/// (update) entry shows it and none of them lists it read-only (or, for a create, presets it).
pub(super) fn role(schema: &Arc<Schema>, role: &Role) -> RoleAccess {
    let mut resources = HashMap::new();
    let mut readable: HashMap<String, HashSet<String>> = HashMap::new();
    // Per create and update: the fields each may write, and those it sees but may not.
    let mut writable: [HashMap<String, Writable>; 2] = Default::default();
    for resource in schema.resources.values() {
        let deciding = |action: Action| -> Vec<&Permission> {
            let grants = |permission: &&Permission| permission.actions.contains(&action);
            let specific: Vec<&Permission> = role
                .permissions
                .iter()
                .filter(|permission| permission.resource.as_deref() == Some(resource.name.as_str()))
                .filter(grants)
                .collect();
            if !specific.is_empty() {
                return specific;
            }
            role.permissions.iter().filter(|permission| permission.resource.is_none()).filter(grants).collect()
        };
        let mut rules = ResourceRules::default();
        for action in Action::ALL {
            let entries = deciding(action);
            if entries.is_empty() {
                continue;
            }
            let rule = if entries.iter().any(|entry| entry.filter.is_none()) {
                Rule::All
            } else {
                Rule::Rows(any(entries.iter().filter_map(|entry| entry.filter.clone()).collect()))
            };
            rules.actions[action_index(action)] = Some(rule);
            let checks: Vec<Predicate> = entries.iter().filter_map(|entry| entry.check.clone()).collect();
            if !checks.is_empty() {
                rules.checks[action_index(action)] = Some(all(checks));
            }
            if action == Action::Create {
                for entry in &entries {
                    for preset in &entry.presets {
                        if !rules.presets.iter().any(|known| known.field == preset.field) {
                            rules.presets.push(preset.clone());
                        }
                    }
                }
            }
        }
        let read_entries = deciding(Action::Read);
        if !read_entries.is_empty() {
            readable.insert(
                resource.name.clone(),
                read_entries.iter().flat_map(|entry| visible(schema, resource, entry)).collect(),
            );
        }
        for (index, action) in [Action::Create, Action::Update].into_iter().enumerate() {
            let entries = deciding(action);
            if entries.is_empty() {
                continue;
            }
            let fields: HashSet<String> = entries.iter().flat_map(|entry| visible(schema, resource, entry)).collect();
            let mut read_only: HashSet<String> =
                entries.iter().flat_map(|entry| entry.read_only.iter().cloned()).collect();
            if action == Action::Create {
                read_only.extend(rules.presets.iter().map(|preset| preset.field.clone()));
            }
            writable[index].insert(resource.name.clone(), (fields, read_only));
        }
        if rules.actions.iter().any(Option::is_some) {
            resources.insert(resource.name.clone(), rules);
        }
    }
    let read_view = view(schema, &readable, &HashMap::new());
    let [create_view, update_view] = writable.map(|writable| {
        let fields: HashMap<String, HashSet<String>> =
            writable.iter().map(|(name, (fields, _))| (name.clone(), fields.clone())).collect();
        let read_only: HashMap<String, HashSet<String>> =
            writable.into_iter().map(|(name, (_, read_only))| (name, read_only)).collect();
        Arc::new(view(schema, &fields, &read_only))
    });
    let read_values = read_values(&resources);
    RoleAccess {
        name: role.name.clone(),
        full: schema.clone(),
        read_values,
        read_view: Arc::new(read_view),
        create_view,
        update_view,
        resources,
    }
}

/// Per resource: the fields an action may write, and those it sees but may not.
type Writable = (HashSet<String>, HashSet<String>);

/// The one role of a schema that declares none: everything, every row (but never an
/// account's password hash).
pub(super) fn open(schema: &Arc<Schema>) -> RoleAccess {
    let mut resources = HashMap::new();
    let mut fields = HashMap::new();
    for resource in schema.resources.values() {
        let mut rules = ResourceRules::default();
        for action in Action::ALL {
            rules.actions[action_index(action)] = Some(Rule::All);
        }
        resources.insert(resource.name.clone(), rules);
        fields.insert(
            resource.name.clone(),
            resource
                .fields
                .iter()
                .filter(|field| !is_password(schema, resource, &field.name))
                .map(|field| field.name.clone())
                .collect(),
        );
    }
    let read_view = Arc::new(view(schema, &fields, &HashMap::new()));
    RoleAccess {
        name: "public".to_owned(),
        full: schema.clone(),
        create_view: read_view.clone(),
        update_view: read_view.clone(),
        read_view,
        resources,
        read_values: Vec::new(),
    }
}

/// A role that may do nothing.
pub(super) fn nothing(schema: &Arc<Schema>) -> RoleAccess {
    let empty = Arc::new(view(schema, &HashMap::new(), &HashMap::new()));
    RoleAccess {
        name: "nobody".to_owned(),
        full: schema.clone(),
        read_view: empty.clone(),
        create_view: empty.clone(),
        update_view: empty,
        resources: HashMap::new(),
        read_values: Vec::new(),
    }
}

/// The fields of `resource` an entry shows: those it lists (or all), less those it hides,
/// and never the password hash. The key is always among them.
fn visible(schema: &Schema, resource: &Resource, entry: &Permission) -> Vec<String> {
    resource
        .fields
        .iter()
        .filter(|field| {
            field.primary_key
                || (entry.fields.as_ref().is_none_or(|fields| fields.contains(&field.name))
                    && !entry.hidden.contains(&field.name)
                    && !is_password(schema, resource, &field.name))
        })
        .map(|field| field.name.clone())
        .collect()
}

fn is_password(schema: &Schema, resource: &Resource, field: &str) -> bool {
    schema
        .accounts
        .as_ref()
        .is_some_and(|accounts| accounts.resource == resource.name && accounts.password_field == field)
}

/// `schema` with only the resources and fields in `keep`; fields in `read_only` marked so.
/// References to what is not kept are dropped (the value stays, it just cannot be
/// embedded), and so are indexes over removed fields.
fn view(
    schema: &Schema,
    keep: &HashMap<String, HashSet<String>>,
    read_only: &HashMap<String, HashSet<String>>,
) -> Schema {
    let mut view = schema.clone();
    view.roles.clear();
    view.resources.retain(|name, _| keep.contains_key(name));
    for resource in view.resources.values_mut() {
        let fields = &keep[&resource.name];
        resource.fields.retain(|field| fields.contains(&field.name));
        resource.indexes.retain(|index| index.columns.iter().all(|column| fields.contains(column)));
        let read_only = read_only.get(&resource.name);
        for field in &mut resource.fields {
            field.read_only = read_only.is_some_and(|read_only| read_only.contains(&field.name));
            let reachable = field.reference.as_ref().is_some_and(|reference| {
                keep.get(&reference.resource).is_some_and(|target| target.contains(&reference.field))
            });
            if !reachable {
                field.reference = None;
            }
        }
    }
    view
}

/// Every caller's value a read rule of the role reads, each once, sorted.
fn read_values(resources: &HashMap<String, ResourceRules>) -> Vec<UserValue> {
    let mut values: Vec<UserValue> = Vec::new();
    for rules in resources.values() {
        if let Some(Rule::Rows(predicate)) = &rules.actions[action_index(Action::Read)] {
            for value in predicate.user_values() {
                if !values.contains(&value) {
                    values.push(value);
                }
            }
        }
    }
    values.sort_by_key(UserValue::text);
    values
}

fn any(mut predicates: Vec<Predicate>) -> Predicate {
    if predicates.len() == 1 { predicates.remove(0) } else { Predicate::Or(predicates) }
}

fn all(mut predicates: Vec<Predicate>) -> Predicate {
    if predicates.len() == 1 { predicates.remove(0) } else { Predicate::And(predicates) }
}
