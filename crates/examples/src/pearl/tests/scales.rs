//! Row counts per scale, batch sizes and determinism.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{CountingSink, Generated, as_integer};
use crate::Scale;
use crate::pearl::{BATCH_ROWS, generate};

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
    let resources: Vec<&str> = generated.summary.rows.iter().map(|(resource, _)| *resource).collect();
    assert_eq!(resources, EXPECTED_ORDER);
    for (resource, rows) in &generated.summary.rows {
        assert_eq!(*rows, generated.count(resource), "{resource}: the summary matches what was emitted");
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
    assert!((1_800..=2_200).contains(&footnotes), "about 2 footnotes per item, got {footnotes}");
    let tracker_tags = generated.count("tracker_item_tags");
    assert!((1_350..=1_650).contains(&tracker_tags), "about 1.5 tags per tracker, got {tracker_tags}");
}

#[test]
fn effort_one_is_the_big_effort_at_small_scale() {
    let generated = Generated::small();
    let effort_column = generated.column("reporting_effort_items", "reporting_effort_id");
    let mut items_per_effort: BTreeMap<i64, u64> = BTreeMap::new();
    for row in generated.rows("reporting_effort_items") {
        *items_per_effort.entry(as_integer(&row[effort_column])).or_default() += 1;
    }
    assert_eq!(items_per_effort[&1], 400);
    assert_eq!(items_per_effort.len(), 6);
    assert!(items_per_effort.iter().skip(1).all(|(_, items)| *items == 120));
}

#[test]
fn default_scale_row_counts_are_exact_and_batches_stay_bounded() {
    let mut sink = CountingSink::default();
    let Ok(summary) = generate(Scale::Default, &mut sink);
    let counted: Vec<(&str, u64)> = sink.rows.iter().map(|(resource, rows)| (resource.as_str(), *rows)).collect();
    assert_eq!(counted, summary.rows, "each resource arrives in one contiguous run of batches");
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
    assert_eq!(sink.largest_batch, BATCH_ROWS, "big resources fill whole batches and no more");
    assert_eq!(sink.items_per_effort[&1], 10_000);
    assert_eq!(sink.items_per_effort.len(), 200);
    assert!(sink.items_per_effort.iter().skip(1).all(|(_, items)| (452..=453).contains(items)));
}

#[test]
fn small_batches_stay_within_the_limit() {
    let generated = Generated::small();
    assert!(generated.batches.iter().all(|batch| !batch.rows.is_empty() && batch.rows.len() <= BATCH_ROWS));
}

#[test]
fn same_scale_gives_identical_rows() {
    let first = Generated::small();
    let second = Generated::small();
    assert_eq!(first.summary, second.summary);
    assert!(first.batches == second.batches, "two small generations differ");
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
