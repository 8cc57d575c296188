//! Which relations can be embedded from a resource, and how they join.
//!
//! From resource R:
//! - many-to-one: a field of R references T → embed `T` (one object or null);
//! - one-to-many / one-to-one: a field of C references R → embed C by the reference's
//!   reverse name (the referencing resource's name unless the schema sets `reverse`);
//!   an array, or one object when the reference is unique;
//! - many-to-many: a junction J holds a reference to R and one to T, and a unique index
//!   covers both → embed `T` through J (an array).
//!
//! When several relations share a name, the request tells them apart with `!hint`: the
//! foreign-key field (or the junction resource's name).

use oxbase_schema::Schema;
use oxbase_schema::model::{Reference, Resource};

use crate::plan::Join;

/// One relation that can be embedded from a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddableRelation {
    /// The name to embed it by.
    pub name: String,
    /// The embedded resource.
    pub target: String,
    /// An array of rows (true) or one row or null.
    pub many: bool,
    pub join: Join,
    /// What may follow `!` to select this relation.
    pub hints: Vec<String>,
}

impl EmbeddableRelation {
    /// `name!hint` as a request would write it to pick this relation.
    pub fn disambiguated(&self) -> String {
        format!("{}!{}", self.name, self.hints[0])
    }
}

/// Every relation that can be embedded from `resource`.
pub fn embeddable_relations(schema: &Schema, resource: &Resource) -> Vec<EmbeddableRelation> {
    let mut relations = Vec::new();
    for field in &resource.fields {
        if let Some(reference) = &field.reference {
            relations.push(EmbeddableRelation {
                name: reference.resource.clone(),
                target: reference.resource.clone(),
                many: false,
                join: Join::Direct { parent_field: field.name.clone(), child_field: reference.field.clone() },
                hints: vec![field.name.clone()],
            });
        }
    }
    for other in schema.resources.values() {
        for field in &other.fields {
            let Some(reference) = references(field.reference.as_ref(), resource) else { continue };
            relations.push(EmbeddableRelation {
                name: reference.reverse_name.clone(),
                target: other.name.clone(),
                many: !field.unique,
                join: Join::Direct { parent_field: reference.field.clone(), child_field: field.name.clone() },
                hints: vec![field.name.clone(), other.name.clone()],
            });
        }
        relations.extend(many_to_many(schema, resource, other));
    }
    relations
}

fn references<'a>(reference: Option<&'a Reference>, resource: &Resource) -> Option<&'a Reference> {
    reference.filter(|reference| reference.resource == resource.name)
}

/// Relations from `resource` through `junction` to the other resources it references.
fn many_to_many(schema: &Schema, resource: &Resource, junction: &Resource) -> Vec<EmbeddableRelation> {
    let mut relations = Vec::new();
    if junction.name == resource.name {
        return relations;
    }
    for parent_side in &junction.fields {
        let Some(parent_reference) = references(parent_side.reference.as_ref(), resource) else { continue };
        for child_side in &junction.fields {
            let Some(child_reference) = &child_side.reference else { continue };
            if child_side.name == parent_side.name || child_reference.resource == junction.name {
                continue;
            }
            let pair_is_unique = junction.indexes.iter().any(|index| {
                index.unique
                    && index.predicate.is_none()
                    && index.columns.len() == 2
                    && index.columns.contains(&parent_side.name)
                    && index.columns.contains(&child_side.name)
            });
            if !pair_is_unique || schema.resource(&child_reference.resource).is_none() {
                continue;
            }
            relations.push(EmbeddableRelation {
                name: child_reference.resource.clone(),
                target: child_reference.resource.clone(),
                many: true,
                join: Join::Through {
                    junction_table: junction.table.clone(),
                    parent_field: parent_reference.field.clone(),
                    junction_parent_field: parent_side.name.clone(),
                    junction_child_field: child_side.name.clone(),
                    child_field: child_reference.field.clone(),
                },
                hints: vec![junction.name.clone(), child_side.name.clone()],
            });
        }
    }
    relations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearl_relations_from_trackers() {
        let schema =
            oxbase_schema::parse_schema(include_str!("../../../../examples/pearl/schema.toml"), "pearl").unwrap();
        let trackers = schema.resource("trackers").unwrap();
        let relations = embeddable_relations(&schema, trackers);
        let names: Vec<String> =
            relations.iter().map(|relation| format!("{}:{}", relation.name, relation.many)).collect();
        for expected in [
            "reporting_effort_items:false",
            "users:false",
            "tracker_comments:true",
            "tracker_tags:true",
            "tracker_item_tags:true",
        ] {
            assert!(names.contains(&expected.to_owned()), "{expected} missing from {names:?}");
        }
        let users: Vec<String> = relations
            .iter()
            .filter(|relation| relation.name == "users")
            .map(|relation| relation.disambiguated())
            .collect();
        assert_eq!(users, ["users!production_programmer_id", "users!qc_programmer_id"]);
        assert!(
            !names.iter().any(|name| name.starts_with("users:true")),
            "comments are no junction between trackers and users: {names:?}"
        );
        let items = schema.resource("reporting_effort_items").unwrap();
        let tracker =
            embeddable_relations(&schema, items).into_iter().find(|relation| relation.name == "tracker").unwrap();
        assert!(!tracker.many, "a unique reference embeds one object");
    }
}
