//! The generator's promises, checked against the schema file itself where it can be: row
//! counts, determinism, every value within its field's constraints, unique keys, references
//! to rows already emitted, and the pearl-specific invariants.
//!
//! # Layout
//!
//! - `scales`: row counts per scale, batch sizes, determinism, timings.
//! - `schema_rules`: every row against the schema file.
//! - `invariants`: the pearl rules the schema cannot state.

mod invariants;
mod scales;
mod schema_rules;

use std::collections::BTreeMap;
use std::convert::Infallible;

use oxbase_schema::Schema;
use oxbase_schema::model::Literal;

use super::{SeedSummary, generate};
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

    fn rows(&mut self, resource: &str, columns: &[&str], rows: &[Vec<Literal>]) -> Result<(), Infallible> {
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

    fn rows(&mut self, resource: &str, columns: &[&str], rows: &[Vec<Literal>]) -> Result<(), Infallible> {
        self.largest_batch = self.largest_batch.max(rows.len());
        match self.rows.last_mut() {
            Some((last, count)) if last == resource => *count += rows.len() as u64,
            _ => self.rows.push((resource.to_owned(), rows.len() as u64)),
        }
        if resource == "reporting_effort_items" {
            let effort_column = columns.iter().position(|column| *column == "reporting_effort_id").unwrap();
            for row in rows {
                *self.items_per_effort.entry(as_integer(&row[effort_column])).or_default() += 1;
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
        Generated { summary, batches: sink.batches }
    }

    fn rows<'a>(&'a self, resource: &'a str) -> impl Iterator<Item = &'a Vec<Literal>> + 'a {
        self.batches.iter().filter(move |batch| batch.resource == resource).flat_map(|batch| &batch.rows)
    }

    fn column(&self, resource: &str, column: &str) -> usize {
        let batch = self.batches.iter().find(|batch| batch.resource == resource).unwrap();
        batch.columns.iter().position(|name| name == column).unwrap()
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
