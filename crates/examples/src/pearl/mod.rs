//! The pearl example's data generator: users, studies, reporting efforts with their items
//! and trackers, comments, text elements and tags, at three [`Scale`]s.
//!
//! # Layout
//!
//! - `organisation`: users, studies, database releases and reporting efforts.
//! - `items`: reporting-effort items, text elements and the footnotes linking them.
//! - `trackers`: trackers, tags and the tags each tracker carries.
//! - `comments`: tracker comments and the thread plan trackers count them from.
//! - `vocabulary`: the words generated text is made of.
//! - `clock`: dates and timestamps as text.
//!
//! Resources are emitted in schema order, which is also an order where every referenced
//! row is emitted before the rows that reference it. Each resource draws from its own
//! seeded random stream, so changing how one resource is generated leaves the others'
//! rows as they were.

mod clock;
mod comments;
mod items;
mod organisation;
#[cfg(test)]
mod tests;
mod trackers;
mod vocabulary;

use fastrand::Rng;
use oxbase_schema::model::Literal;

use crate::{RowSink, Scale};

/// Rows generated per resource, in insertion order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedSummary {
    pub rows: Vec<(&'static str, u64)>,
}

/// The most rows handed to the sink in one call.
pub const BATCH_ROWS: usize = 5_000;

/// The accounts `oxbase demo` lets log in, one per role of the example (the seed names
/// them at every scale).
pub const DEMO_ACCOUNTS: [&str; 3] = ["admin", "editor1", "viewer1"];

/// The demo accounts' password (the demo listens on loopback by default).
pub const DEMO_PASSWORD: &str = "oxbase-demo";

/// Generates the pearl data set at `scale` into `sink`, batches of at most 5,000 rows,
/// parents before children.
pub fn generate<S: RowSink>(scale: Scale, sink: &mut S) -> Result<SeedSummary, S::Error> {
    let sizes = Sizes::of(scale);
    let layout = items::EffortLayout::new(&sizes);
    let comments_per_tracker = comments::comments_per_tracker(&sizes);
    let mut summary = SeedSummary { rows: Vec::new() };

    let programmers = organisation::emit_users(&sizes, sink, &mut summary)?;
    let study_labels = organisation::emit_studies(&sizes, sink, &mut summary)?;
    organisation::emit_database_releases(&sizes, sink, &mut summary)?;
    organisation::emit_reporting_efforts(&sizes, &study_labels, sink, &mut summary)?;
    items::emit_items(&layout, sink, &mut summary)?;
    trackers::emit_trackers(&layout, &programmers, &comments_per_tracker, sink, &mut summary)?;
    comments::emit_comments(&sizes, &comments_per_tracker, sink, &mut summary)?;
    items::emit_text_elements(&sizes, sink, &mut summary)?;
    items::emit_item_footnotes(&sizes, sink, &mut summary)?;
    trackers::emit_tags(&sizes, sink, &mut summary)?;
    trackers::emit_tracker_tags(&sizes, sink, &mut summary)?;
    Ok(summary)
}

/// How many rows each resource gets at one scale (the link tables get about 2 footnotes
/// per item and 1.5 tags per tracker).
#[derive(Debug, Clone, Copy)]
struct Sizes {
    users: u64,
    studies: u64,
    database_releases: u64,
    reporting_efforts: u64,
    /// Items, and trackers too: every item has exactly one.
    items: u64,
    /// The items of reporting effort 1, the big effort the tracker-grid scenario reads.
    big_effort_items: u64,
    comments: u64,
    text_elements: u64,
    tags: u64,
}

impl Sizes {
    fn of(scale: Scale) -> Sizes {
        match scale {
            Scale::Small => Sizes {
                users: 50,
                studies: 3,
                database_releases: 6,
                reporting_efforts: 6,
                items: 1_000,
                big_effort_items: 400,
                comments: 3_000,
                text_elements: 100,
                tags: 10,
            },
            Scale::Default => Sizes {
                users: 500,
                studies: 20,
                database_releases: 40,
                reporting_efforts: 200,
                items: 100_000,
                big_effort_items: 10_000,
                comments: 300_000,
                text_elements: 1_000,
                tags: 50,
            },
            Scale::Large => Sizes {
                users: 2_000,
                studies: 100,
                database_releases: 200,
                reporting_efforts: 1_000,
                items: 1_000_000,
                big_effort_items: 10_000,
                comments: 3_000_000,
                text_elements: 5_000,
                tags: 100,
            },
        }
    }
}

/// Collects one resource's rows into batches of at most [`BATCH_ROWS`] and hands each full
/// batch to the sink, so memory stays bounded whatever the scale.
struct Table<'sink, S: RowSink> {
    sink: &'sink mut S,
    resource: &'static str,
    columns: &'static [&'static str],
    batch: Vec<Vec<Literal>>,
    rows_written: u64,
}

impl<'sink, S: RowSink> Table<'sink, S> {
    fn new(sink: &'sink mut S, resource: &'static str, columns: &'static [&'static str]) -> Self {
        Table { sink, resource, columns, batch: Vec::with_capacity(BATCH_ROWS), rows_written: 0 }
    }

    fn push(&mut self, row: Vec<Literal>) -> Result<(), S::Error> {
        debug_assert_eq!(row.len(), self.columns.len(), "a {} row", self.resource);
        self.batch.push(row);
        if self.batch.len() == BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), S::Error> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.sink.rows(self.resource, self.columns, &self.batch)?;
        self.rows_written += self.batch.len() as u64;
        self.batch.clear();
        Ok(())
    }

    /// Sends the last partial batch and records the resource's row count.
    fn finish(mut self, summary: &mut SeedSummary) -> Result<(), S::Error> {
        self.flush()?;
        summary.rows.push((self.resource, self.rows_written));
        Ok(())
    }
}

/// The random stream of one part of the data set, seeded from its name so that every part
/// is independent of the others and of the order they are generated in.
fn random_stream(name: &str) -> Rng {
    Rng::with_seed(stream_seed(name))
}

/// FNV-1a of the name: stable across platforms and Rust versions, unlike `std`'s hashers.
const fn stream_seed(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut seed: u64 = 0xcbf2_9ce4_8422_2325;
    let mut index = 0;
    while index < bytes.len() {
        seed ^= bytes[index] as u64;
        seed = seed.wrapping_mul(0x0000_0100_0000_01b3);
        index += 1;
    }
    seed
}

/// Picks one of `choices` with probability proportional to its weight.
fn weighted<T: Copy>(rng: &mut Rng, choices: &[(T, u32)]) -> T {
    let total: u32 = choices.iter().map(|(_, weight)| weight).sum();
    let mut roll = rng.u32(0..total);
    for &(choice, weight) in choices {
        if roll < weight {
            return choice;
        }
        roll -= weight;
    }
    unreachable!("the roll is below the total weight")
}

/// Whether an event with this percentage chance happens.
fn chance(rng: &mut Rng, percent: u32) -> bool {
    rng.u32(0..100) < percent
}

/// An id or count; every one the generator makes is far below `i64::MAX`.
fn integer(value: u64) -> Literal {
    Literal::Integer(value as i64)
}

fn optional_integer(value: Option<u64>) -> Literal {
    value.map_or(Literal::Null, integer)
}

fn text(value: impl Into<String>) -> Literal {
    Literal::Text(value.into())
}

fn optional_text(value: Option<String>) -> Literal {
    value.map_or(Literal::Null, Literal::Text)
}

/// Fills `chosen` with `count` distinct ids from `1..=upper`, in ascending order.
fn distinct_ids(rng: &mut Rng, upper: u64, count: usize, chosen: &mut Vec<u64>) {
    debug_assert!(count as u64 <= upper, "cannot pick {count} distinct ids from {upper}");
    chosen.clear();
    while chosen.len() < count {
        let id = rng.u64(1..=upper);
        if !chosen.contains(&id) {
            chosen.push(id);
        }
    }
    chosen.sort_unstable();
}
