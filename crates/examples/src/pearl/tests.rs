//! The generator's promises, checked against the schema file itself where it can be: row
//! counts, determinism, every value within its field's constraints, unique keys, references
//! to rows already emitted, and the pearl-specific invariants.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::time::Instant;

use oxbase_schema::Schema;
use oxbase_schema::model::{FieldType, Literal};
use time::format_description;
use time::{Date, PrimitiveDateTime};

use super::{BATCH_ROWS, SeedSummary, generate};
use crate::{RowSink, Scale};

/// One call the generator made to its sink.
#[derive(Debug, PartialEq)]
struct Batch {
    resource: String,
    columns: Vec<String>,
    rows: Vec<Vec<Literal>>,
}

#[derive(Default)]
struct CollectingSink {
    batches: Vec<Batch>,
}

impl RowSink for CollectingSink {
    type Error = Infallible;

    fn rows(
        &mut self,
        resource: &str,
        columns: &[&str],
        rows: &[Vec<Literal>],
    ) -> Result<(), Infallible> {
        self.batches.push(Batch {
            resource: resource.to_owned(),
            columns: columns.iter().map(|column| (*column).to_owned()).collect(),
            rows: rows.to_vec(),
        });
        Ok(())
    }
}

/// Keeps counts only, for scales too big to collect.
#[derive(Default)]
struct CountingSink {
    rows: Vec<(String, u64)>,
    largest_batch: usize,
    items_per_effort: BTreeMap<i64, u64>,
}

impl RowSink for CountingSink {
    type Error = Infallible;

    fn rows(
        &mut self,
        resource: &str,
        columns: &[&str],
        rows: &[Vec<Literal>],
    ) -> Result<(), Infallible> {
        self.largest_batch = self.largest_batch.max(rows.len());
        match self.rows.last_mut() {
            Some((last, count)) if last == resource => *count += rows.len() as u64,
            _ => self.rows.push((resource.to_owned(), rows.len() as u64)),
        }
        if resource == "reporting_effort_items" {
            let effort_column = columns
                .iter()
                .position(|column| *column == "reporting_effort_id")
                .unwrap();
            for row in rows {
                *self
                    .items_per_effort
                    .entry(as_integer(&row[effort_column]))
                    .or_default() += 1;
            }
        }
        Ok(())
    }
}

/// Everything one generation produced.
struct Generated {
    summary: SeedSummary,
    batches: Vec<Batch>,
}

impl Generated {
    fn small() -> Generated {
        let mut sink = CollectingSink::default();
        let Ok(summary) = generate(Scale::Small, &mut sink);
        Generated {
            summary,
            batches: sink.batches,
        }
    }

    fn rows<'a>(&'a self, resource: &'a str) -> impl Iterator<Item = &'a Vec<Literal>> + 'a {
        self.batches
            .iter()
            .filter(move |batch| batch.resource == resource)
            .flat_map(|batch| &batch.rows)
    }

    fn column(&self, resource: &str, column: &str) -> usize {
        let batch = self
            .batches
            .iter()
            .find(|batch| batch.resource == resource)
            .unwrap();
        batch
            .columns
            .iter()
            .position(|name| name == column)
            .unwrap()
    }

    fn count(&self, resource: &str) -> u64 {
        self.rows(resource).count() as u64
    }
}

fn pearl_schema() -> Schema {
    oxbase_schema::parse_schema(crate::schema_source("pearl").unwrap(), "pearl").unwrap()
}

fn as_integer(value: &Literal) -> i64 {
    match value {
        Literal::Integer(integer) => *integer,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn as_text(value: &Literal) -> &str {
    match value {
        Literal::Text(text) => text,
        other => panic!("expected text, got {other:?}"),
    }
}

/// The schema's patterns, checked by hand so the crate needs no regex engine.
fn matches_schema_pattern(pattern: &str, value: &str) -> bool {
    match pattern {
        "^[a-z0-9_.-]+$" => {
            !value.is_empty()
                && value.chars().all(|character| {
                    character.is_ascii_lowercase()
                        || character.is_ascii_digit()
                        || "_.-".contains(character)
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
                && value[1..]
                    .chars()
                    .all(|character| character.is_ascii_hexdigit())
        }
        other => panic!("no hand-written check for pattern {other}: add one here"),
    }
}

const EXPECTED_ORDER: &[&str] = &[
    "users",
    "studies",
    "database_releases",
    "reporting_efforts",
    "reporting_effort_items",
    "trackers",
    "tracker_comments",
    "text_elements",
    "reporting_effort_item_footnotes",
    "tracker_tags",
    "tracker_item_tags",
];

#[test]
fn small_scale_row_counts_are_exact() {
    let generated = Generated::small();
    let resources: Vec<&str> = generated
        .summary
        .rows
        .iter()
        .map(|(resource, _)| *resource)
        .collect();
    assert_eq!(resources, EXPECTED_ORDER);
    for (resource, rows) in &generated.summary.rows {
        assert_eq!(
            *rows,
            generated.count(resource),
            "{resource}: the summary matches what was emitted"
        );
    }
    let exact = [
        ("users", 50),
        ("studies", 3),
        ("database_releases", 6),
        ("reporting_efforts", 6),
        ("reporting_effort_items", 1_000),
        ("trackers", 1_000),
        ("tracker_comments", 3_000),
        ("text_elements", 100),
        ("tracker_tags", 10),
    ];
    for (resource, rows) in exact {
        assert_eq!(generated.count(resource), rows, "{resource}");
    }
    let footnotes = generated.count("reporting_effort_item_footnotes");
    assert!(
        (1_800..=2_200).contains(&footnotes),
        "about 2 footnotes per item, got {footnotes}"
    );
    let tracker_tags = generated.count("tracker_item_tags");
    assert!(
        (1_350..=1_650).contains(&tracker_tags),
        "about 1.5 tags per tracker, got {tracker_tags}"
    );
}

#[test]
fn effort_one_is_the_big_effort_at_small_scale() {
    let generated = Generated::small();
    let effort_column = generated.column("reporting_effort_items", "reporting_effort_id");
    let mut items_per_effort: BTreeMap<i64, u64> = BTreeMap::new();
    for row in generated.rows("reporting_effort_items") {
        *items_per_effort
            .entry(as_integer(&row[effort_column]))
            .or_default() += 1;
    }
    assert_eq!(items_per_effort[&1], 400);
    assert_eq!(items_per_effort.len(), 6);
    assert!(
        items_per_effort
            .iter()
            .skip(1)
            .all(|(_, items)| *items == 120)
    );
}

#[test]
fn default_scale_row_counts_are_exact_and_batches_stay_bounded() {
    let mut sink = CountingSink::default();
    let Ok(summary) = generate(Scale::Default, &mut sink);
    let counted: Vec<(&str, u64)> = sink
        .rows
        .iter()
        .map(|(resource, rows)| (resource.as_str(), *rows))
        .collect();
    assert_eq!(
        counted, summary.rows,
        "each resource arrives in one contiguous run of batches"
    );
    let rows: BTreeMap<&str, u64> = summary.rows.iter().copied().collect();
    assert_eq!(rows["users"], 500);
    assert_eq!(rows["studies"], 20);
    assert_eq!(rows["database_releases"], 40);
    assert_eq!(rows["reporting_efforts"], 200);
    assert_eq!(rows["reporting_effort_items"], 100_000);
    assert_eq!(rows["trackers"], 100_000);
    assert_eq!(rows["tracker_comments"], 300_000);
    assert_eq!(rows["text_elements"], 1_000);
    assert_eq!(rows["tracker_tags"], 50);
    assert_eq!(
        sink.largest_batch, BATCH_ROWS,
        "big resources fill whole batches and no more"
    );
    assert_eq!(sink.items_per_effort[&1], 10_000);
    assert_eq!(sink.items_per_effort.len(), 200);
    assert!(
        sink.items_per_effort
            .iter()
            .skip(1)
            .all(|(_, items)| (452..=453).contains(items))
    );
}

#[test]
fn small_batches_stay_within_the_limit() {
    let generated = Generated::small();
    assert!(
        generated
            .batches
            .iter()
            .all(|batch| !batch.rows.is_empty() && batch.rows.len() <= BATCH_ROWS)
    );
}

#[test]
fn same_scale_gives_identical_rows() {
    let first = Generated::small();
    let second = Generated::small();
    assert_eq!(first.summary, second.summary);
    assert!(
        first.batches == second.batches,
        "two small generations differ"
    );
}

#[test]
fn rows_have_every_schema_column_in_order() {
    let schema = pearl_schema();
    let generated = Generated::small();
    for batch in &generated.batches {
        let resource = schema.resource(&batch.resource).unwrap();
        let field_names: Vec<&str> = resource
            .fields
            .iter()
            .map(|field| field.name.as_str())
            .collect();
        assert_eq!(batch.columns, field_names, "{} columns", batch.resource);
        for row in &batch.rows {
            assert_eq!(row.len(), resource.fields.len(), "a {} row", batch.resource);
        }
    }
    let generated_resources: BTreeSet<&str> = generated
        .summary
        .rows
        .iter()
        .map(|(resource, _)| *resource)
        .collect();
    let schema_resources: BTreeSet<&str> = schema.resources.keys().map(String::as_str).collect();
    assert_eq!(
        generated_resources, schema_resources,
        "every resource gets rows"
    );
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
    let timestamp_format = format_description::parse_borrowed::<2>(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]",
    )
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
                        assert!(
                            field.min.is_none_or(|min| number >= min),
                            "{place}: below min"
                        );
                        assert!(
                            field.max.is_none_or(|max| number <= max),
                            "{place}: above max"
                        );
                    }
                    FieldType::Boolean => assert!(matches!(value, Literal::Boolean(_)), "{place}"),
                    FieldType::Text | FieldType::Enum(_) => {
                        let text = as_text(value);
                        let length = text.chars().count() as u32;
                        assert!(
                            field.min_length.is_none_or(|min| length >= min),
                            "{place}: too short"
                        );
                        assert!(
                            field.max_length.is_none_or(|max| length <= max),
                            "{place}: too long"
                        );
                        if let Some(pattern) = &field.pattern {
                            assert!(
                                matches_schema_pattern(pattern, text),
                                "{place}: does not match {pattern}"
                            );
                        }
                        if let FieldType::Enum(values) = &field.field_type {
                            assert!(
                                values.iter().any(|allowed| allowed == text),
                                "{place}: not one of {values:?}"
                            );
                        }
                    }
                    FieldType::Date => {
                        let text = as_text(value);
                        assert!(
                            text.len() == 10 && Date::parse(text, &date_format).is_ok(),
                            "{place}"
                        );
                    }
                    FieldType::Timestamp => {
                        let text = as_text(value);
                        let without_zone = text
                            .strip_suffix('Z')
                            .unwrap_or_else(|| panic!("{place}: not UTC"));
                        assert_eq!(text.len(), 27, "{place}: not fixed-width");
                        assert!(
                            PrimitiveDateTime::parse(without_zone, &timestamp_format).is_ok(),
                            "{place}"
                        );
                    }
                    other => panic!(
                        "{place}: the generator does not produce {} fields",
                        other.name()
                    ),
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
        let mut unique_keys: Vec<Vec<String>> = resource
            .fields
            .iter()
            .filter(|field| field.unique)
            .map(|field| vec![field.name.clone()])
            .collect();
        unique_keys.extend(
            resource
                .indexes
                .iter()
                .filter(|index| index.unique)
                .map(|index| index.columns.clone()),
        );
        for key in unique_keys {
            let columns: Vec<usize> = key
                .iter()
                .map(|column| generated.column(&resource.name, column))
                .collect();
            let mut seen = BTreeSet::new();
            for row in generated.rows(&resource.name) {
                let values: Vec<String> = columns
                    .iter()
                    .map(|&column| format!("{:?}", row[column]))
                    .collect();
                assert!(
                    seen.insert(values.clone()),
                    "{} {key:?} repeats {values:?}",
                    resource.name
                );
            }
            checked_keys += 1;
        }
    }
    // usernames, emails, study labels, item keys, one tracker per item, footnotes,
    // tag names and tracker tags at least.
    assert!(
        checked_keys >= 8,
        "only {checked_keys} unique keys were checked"
    );
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
                    emitted
                        .get(reference.resource.as_str())
                        .copied()
                        .unwrap_or(0)
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

#[test]
fn trackers_follow_their_items() {
    let generated = Generated::small();
    let item_effort = generated.column("reporting_effort_items", "reporting_effort_id");
    let efforts_of_items: Vec<i64> = generated
        .rows("reporting_effort_items")
        .map(|row| as_integer(&row[item_effort]))
        .collect();
    let tracker_item = generated.column("trackers", "reporting_effort_item_id");
    let tracker_effort = generated.column("trackers", "reporting_effort_id");
    for row in generated.rows("trackers") {
        let item_id = as_integer(&row[tracker_item]);
        assert_eq!(
            as_integer(&row[tracker_effort]),
            efforts_of_items[item_id as usize - 1]
        );
    }
}

#[test]
fn tracker_fields_follow_their_statuses() {
    let generated = Generated::small();
    let production_status = generated.column("trackers", "production_status");
    let qc_status = generated.column("trackers", "qc_status");
    let qc_completion_date = generated.column("trackers", "qc_completion_date");
    let production_programmer = generated.column("trackers", "production_programmer_id");
    let qc_programmer = generated.column("trackers", "qc_programmer_id");
    let mut statuses = BTreeSet::new();
    for row in generated.rows("trackers") {
        let qc_completed = as_text(&row[qc_status]) == "completed";
        assert_eq!(qc_completed, row[qc_completion_date] != Literal::Null);
        if qc_completed {
            assert_eq!(as_text(&row[production_status]), "completed");
        }
        if row[production_programmer] != Literal::Null {
            assert_ne!(
                row[production_programmer], row[qc_programmer],
                "nobody QCs their own work"
            );
        }
        statuses.insert((
            as_text(&row[production_status]).to_owned(),
            as_text(&row[qc_status]).to_owned(),
        ));
    }
    assert!(statuses.len() >= 8, "a spread of statuses: {statuses:?}");
}

#[test]
fn unresolved_comment_count_matches_comments() {
    let generated = Generated::small();
    let tracker_column = generated.column("tracker_comments", "tracker_id");
    let parent_column = generated.column("tracker_comments", "parent_comment_id");
    let resolved_column = generated.column("tracker_comments", "is_resolved");
    let mut unresolved: BTreeMap<i64, i64> = BTreeMap::new();
    for row in generated.rows("tracker_comments") {
        if row[parent_column] == Literal::Null && row[resolved_column] == Literal::Boolean(false) {
            *unresolved
                .entry(as_integer(&row[tracker_column]))
                .or_default() += 1;
        }
    }
    let count_column = generated.column("trackers", "unresolved_comment_count");
    for row in generated.rows("trackers") {
        let tracker_id = as_integer(&row[0]);
        let expected = unresolved.get(&tracker_id).copied().unwrap_or(0);
        assert_eq!(
            as_integer(&row[count_column]),
            expected,
            "tracker {tracker_id}"
        );
    }
    assert!(
        unresolved.values().sum::<i64>() > 0,
        "some comments stay unresolved"
    );
}

#[test]
fn replies_answer_an_earlier_comment_of_the_same_tracker() {
    let generated = Generated::small();
    let tracker_column = generated.column("tracker_comments", "tracker_id");
    let parent_column = generated.column("tracker_comments", "parent_comment_id");
    let resolved_column = generated.column("tracker_comments", "is_resolved");
    let resolved_at_column = generated.column("tracker_comments", "resolved_at");
    let created_at_column = generated.column("tracker_comments", "created_at");
    let comments: Vec<&Vec<Literal>> = generated.rows("tracker_comments").collect();
    let mut replies = 0;
    for row in &comments {
        let is_resolved = row[resolved_column] == Literal::Boolean(true);
        assert_eq!(
            is_resolved,
            row[resolved_at_column] != Literal::Null,
            "resolved_at iff is_resolved"
        );
        if is_resolved {
            assert!(as_text(&row[resolved_at_column]) > as_text(&row[created_at_column]));
        }
        if row[parent_column] == Literal::Null {
            continue;
        }
        replies += 1;
        let parent = comments[as_integer(&row[parent_column]) as usize - 1];
        assert!(as_integer(&parent[0]) < as_integer(&row[0]));
        assert_eq!(parent[tracker_column], row[tracker_column]);
        assert!(as_text(&parent[created_at_column]) < as_text(&row[created_at_column]));
    }
    let reply_share = replies as f64 / comments.len() as f64;
    assert!(
        (0.25..=0.35).contains(&reply_share),
        "about 30% replies, got {reply_share}"
    );
}

#[test]
fn users_start_with_admin_and_ten_editors() {
    let generated = Generated::small();
    let users: Vec<&Vec<Literal>> = generated.rows("users").collect();
    assert_eq!(
        users[0][1..4],
        [
            Literal::Text("admin".into()),
            Literal::Text("admin@example.com".into()),
            Literal::Text("admin".into())
        ]
    );
    for (number, user) in (1..=10).zip(&users[1..11]) {
        assert_eq!(as_text(&user[1]), format!("editor{number}"));
        assert_eq!(as_text(&user[3]), "editor");
    }
    let viewers = users
        .iter()
        .filter(|user| as_text(&user[3]) == "viewer")
        .count();
    assert!(
        viewers > 10,
        "most generated users are viewers, got {viewers}"
    );
}

#[test]
fn timestamps_render_in_the_fixed_width_utc_form() {
    use super::clock::{START_OF_2025, START_OF_2028, date_text, timestamp_text};
    assert_eq!(timestamp_text(START_OF_2025), "2025-01-01T00:00:00.000000Z");
    assert_eq!(
        timestamp_text(START_OF_2028 - 1),
        "2027-12-31T23:59:59.999999Z"
    );
    assert_eq!(date_text(START_OF_2028 - 1), "2027-12-31");
}

/// Run with `cargo test --release -p oxbase-examples -- --ignored --nocapture`.
#[test]
#[ignore = "a timing, meaningful only in a release build"]
fn default_scale_generation_time() {
    let started = Instant::now();
    let mut sink = CountingSink::default();
    let Ok(summary) = generate(Scale::Default, &mut sink);
    let total: u64 = summary.rows.iter().map(|(_, rows)| rows).sum();
    println!("default scale: {total} rows in {:?}", started.elapsed());
}

#[test]
#[ignore = "slow outside a release build"]
fn large_scale_row_counts_are_exact() {
    let started = Instant::now();
    let mut sink = CountingSink::default();
    let Ok(summary) = generate(Scale::Large, &mut sink);
    let rows: BTreeMap<&str, u64> = summary.rows.iter().copied().collect();
    assert_eq!(rows["users"], 2_000);
    assert_eq!(rows["studies"], 100);
    assert_eq!(rows["database_releases"], 200);
    assert_eq!(rows["reporting_efforts"], 1_000);
    assert_eq!(rows["reporting_effort_items"], 1_000_000);
    assert_eq!(rows["trackers"], 1_000_000);
    assert_eq!(rows["tracker_comments"], 3_000_000);
    assert_eq!(rows["text_elements"], 5_000);
    assert_eq!(rows["tracker_tags"], 100);
    assert_eq!(sink.items_per_effort[&1], 10_000);
    let total: u64 = summary.rows.iter().map(|(_, rows)| rows).sum();
    println!("large scale: {total} rows in {:?}", started.elapsed());
}
