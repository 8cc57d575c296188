//! Every row checked against the schema file: columns, types, constraints, unique keys
//! and references.

use std::collections::{BTreeMap, BTreeSet};

use oxbase_schema::model::{FieldType, Literal};
use time::format_description;
use time::{Date, PrimitiveDateTime};

use super::{Generated, as_integer, as_text, pearl_schema};

#[test]
fn rows_have_every_schema_column_in_order() {
    let schema = pearl_schema();
    let generated = Generated::small();
    for batch in &generated.batches {
        let resource = schema.resource(&batch.resource).unwrap();
        let field_names: Vec<&str> = resource.fields.iter().map(|field| field.name.as_str()).collect();
        assert_eq!(batch.columns, field_names, "{} columns", batch.resource);
        for row in &batch.rows {
            assert_eq!(row.len(), resource.fields.len(), "a {} row", batch.resource);
        }
    }
    let generated_resources: BTreeSet<&str> = generated.summary.rows.iter().map(|(resource, _)| *resource).collect();
    let schema_resources: BTreeSet<&str> = schema.resources.keys().map(String::as_str).collect();
    assert_eq!(generated_resources, schema_resources, "every resource gets rows");
}

#[test]
fn ids_count_up_from_one() {
    let generated = Generated::small();
    for (resource, _) in &generated.summary.rows {
        for (expected, row) in (1..).zip(generated.rows(resource)) {
            assert_eq!(as_integer(&row[0]), expected, "{resource}");
        }
    }
}

#[test]
fn values_satisfy_field_constraints() {
    let schema = pearl_schema();
    let generated = Generated::small();
    let date_format = format_description::parse_borrowed::<2>("[year]-[month]-[day]").unwrap();
    let timestamp_format =
        format_description::parse_borrowed::<2>("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]")
            .unwrap();
    for batch in &generated.batches {
        let resource = schema.resource(&batch.resource).unwrap();
        for row in &batch.rows {
            for (field, value) in resource.fields.iter().zip(row) {
                let place = format!("{}.{} = {value:?}", resource.name, field.name);
                if *value == Literal::Null {
                    assert!(field.nullable, "{place}: not nullable");
                    continue;
                }
                match &field.field_type {
                    FieldType::Integer | FieldType::Bigint => {
                        let number = as_integer(value) as f64;
                        assert!(field.min.is_none_or(|min| number >= min), "{place}: below min");
                        assert!(field.max.is_none_or(|max| number <= max), "{place}: above max");
                    }
                    FieldType::Boolean => assert!(matches!(value, Literal::Boolean(_)), "{place}"),
                    FieldType::Text | FieldType::Enum(_) => {
                        let text = as_text(value);
                        let length = text.chars().count() as u32;
                        assert!(field.min_length.is_none_or(|min| length >= min), "{place}: too short");
                        assert!(field.max_length.is_none_or(|max| length <= max), "{place}: too long");
                        if let Some(pattern) = &field.pattern {
                            assert!(matches_schema_pattern(pattern, text), "{place}: does not match {pattern}");
                        }
                        if let FieldType::Enum(values) = &field.field_type {
                            assert!(values.iter().any(|allowed| allowed == text), "{place}: not one of {values:?}");
                        }
                    }
                    FieldType::Date => {
                        let text = as_text(value);
                        assert!(text.len() == 10 && Date::parse(text, &date_format).is_ok(), "{place}");
                    }
                    FieldType::Timestamp => {
                        let text = as_text(value);
                        let without_zone = text.strip_suffix('Z').unwrap_or_else(|| panic!("{place}: not UTC"));
                        assert_eq!(text.len(), 27, "{place}: not fixed-width");
                        assert!(PrimitiveDateTime::parse(without_zone, &timestamp_format).is_ok(), "{place}");
                    }
                    other => panic!("{place}: the generator does not produce {} fields", other.name()),
                }
            }
        }
    }
}

#[test]
fn unique_fields_and_unique_indexes_hold() {
    let schema = pearl_schema();
    let generated = Generated::small();
    let mut checked_keys = 0;
    for resource in schema.resources.values() {
        let mut unique_keys: Vec<Vec<String>> =
            resource.fields.iter().filter(|field| field.unique).map(|field| vec![field.name.clone()]).collect();
        unique_keys.extend(resource.indexes.iter().filter(|index| index.unique).map(|index| index.columns.clone()));
        for key in unique_keys {
            let columns: Vec<usize> = key.iter().map(|column| generated.column(&resource.name, column)).collect();
            let mut seen = BTreeSet::new();
            for row in generated.rows(&resource.name) {
                let values: Vec<String> = columns.iter().map(|&column| format!("{:?}", row[column])).collect();
                assert!(seen.insert(values.clone()), "{} {key:?} repeats {values:?}", resource.name);
            }
            checked_keys += 1;
        }
    }
    // usernames, emails, study labels, item keys, one tracker per item, footnotes,
    // tag names and tracker tags at least.
    assert!(checked_keys >= 8, "only {checked_keys} unique keys were checked");
}

#[test]
fn references_point_at_rows_emitted_earlier() {
    let schema = pearl_schema();
    let generated = Generated::small();
    let mut emitted: BTreeMap<&str, i64> = BTreeMap::new();
    for batch in &generated.batches {
        let resource = schema.resource(&batch.resource).unwrap();
        for row in &batch.rows {
            let id = as_integer(&row[0]);
            for (field, value) in resource.fields.iter().zip(row) {
                let Some(reference) = &field.reference else {
                    continue;
                };
                if *value == Literal::Null {
                    continue;
                }
                let target = as_integer(value);
                let emitted_before = if reference.resource == resource.name {
                    id - 1
                } else {
                    emitted.get(reference.resource.as_str()).copied().unwrap_or(0)
                };
                assert!(
                    (1..=emitted_before).contains(&target),
                    "{}.{} = {target} with {emitted_before} {} emitted",
                    resource.name,
                    field.name,
                    reference.resource
                );
            }
        }
        *emitted.entry(resource.name.as_str()).or_default() += batch.rows.len() as i64;
    }
}

/// The schema's patterns, checked by hand so the crate needs no regex engine.
fn matches_schema_pattern(pattern: &str, value: &str) -> bool {
    match pattern {
        "^[a-z0-9_.-]+$" => {
            !value.is_empty()
                && value.chars().all(|character| {
                    character.is_ascii_lowercase() || character.is_ascii_digit() || "_.-".contains(character)
                })
        }
        "^[^@\\s]+@[^@\\s]+$" => match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !value.chars().any(char::is_whitespace)
            }
            None => false,
        },
        "^#[0-9a-fA-F]{6}$" => {
            value.len() == 7
                && value.starts_with('#')
                && value[1..].chars().all(|character| character.is_ascii_hexdigit())
        }
        other => panic!("no hand-written check for pattern {other}: add one here"),
    }
}
