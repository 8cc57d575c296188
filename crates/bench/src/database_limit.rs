//! The database limit: the SQL the planner emits for a scenario's requests, run straight
//! through rusqlite prepared statements by `concurrency` OS threads, each on its own
//! connection with the server's settings, in a tight loop. One "request" is every
//! statement the server would run for it: the root rows, an exact count when asked, and one
//! statement per embedded node taking the parents' keys as a JSON array. Rows are stepped
//! through and every value is read, but nothing is encoded; whatever the server spends
//! beyond this (pooling, threads, encoding, HTTP, how it drives SQLite) shows as the gap.
//!
//! One setting differs from the server's connections: the query planner stability
//! guarantee (`SQLITE_DBCONFIG_ENABLE_QPSG`). Without it, a statement whose plan depends
//! on a bound value (`LIMIT ?` does) is marked expired by `sqlite3_clear_bindings`, which
//! rusqlite's statement cache calls on every statement it takes back, so every execution
//! is parsed and planned again. A tight native client does not pay that; the report shows
//! whether the server still does (`reprepares_per_execution_with_server_settings`).

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

use oxbase_query::cursor::CursorKey;
use oxbase_query::plan::{CountMode, Embed, Limits, plan_read};
use oxbase_query::sql::Statement;
use oxbase_query::sql::read::{child_statement, count_statement, root_statement};
use oxbase_schema::Schema;
use oxbase_schema::dialect::Dialect;
use oxbase_schema::model::Literal;
use rusqlite::Connection;
use rusqlite::config::DbConfig;
use rusqlite::types::ValueRef;
use serde::Serialize;

use crate::BenchError;
use crate::load::{WorkerRate, total_rate};
use crate::workload::ReadRequest;

/// The statements of one planned read.
#[derive(Debug, Clone)]
pub struct PlannedRead {
    root: Statement,
    count: Option<Statement>,
    embeds: Vec<PlannedEmbed>,
}

#[derive(Debug, Clone)]
struct PlannedEmbed {
    statement: Statement,
    /// Index, in the parent statement's columns, of the key children join on.
    parent_column: usize,
    embeds: Vec<PlannedEmbed>,
}

/// Plans reads the way the server does and renders their SQLite statements.
pub fn plan_reads(schema: &Schema, limits: &Limits, reads: &[ReadRequest]) -> Result<Vec<PlannedRead>, BenchError> {
    let cursor_key = CursorKey::new(vec![0; 32]);
    reads
        .iter()
        .map(|read| {
            let mut plan = plan_read(schema, &read.resource, &read.parameters, read.options, limits, &cursor_key)
                .map_err(|error| BenchError::Plan(format!("{}: {error}", read.resource)))?;
            if let Some(after) = &read.after {
                plan.after = Some(after.clone());
            }
            Ok(PlannedRead {
                root: root_statement(&plan, Dialect::Sqlite),
                count: (plan.count != CountMode::None).then(|| count_statement(&plan, Dialect::Sqlite)),
                embeds: plan.root.embeds.iter().map(planned_embed).collect(),
            })
        })
        .collect()
}

fn planned_embed(embed: &Embed) -> PlannedEmbed {
    PlannedEmbed {
        statement: child_statement(embed, Dialect::Sqlite),
        parent_column: embed.parent_column,
        embeds: embed.node.embeds.iter().map(planned_embed).collect(),
    }
}

/// The values of one key column, each once, in row order.
#[derive(Default)]
struct Keys {
    seen: HashSet<Key>,
    ordered: Vec<Key>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Integer(i64),
    Text(String),
}

impl Keys {
    fn add(&mut self, key: Key) {
        if self.seen.insert(key.clone()) {
            self.ordered.push(key);
        }
    }

    /// The keys as the JSON array child statements take.
    fn json(&self) -> String {
        let mut out = String::with_capacity(2 + self.ordered.len() * 8);
        out.push('[');
        for (index, key) in self.ordered.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            match key {
                Key::Integer(number) => out.push_str(&number.to_string()),
                Key::Text(text) => out.push_str(&serde_json::to_string(text).expect("strings serialise")),
            }
        }
        out.push(']');
        out
    }
}

fn bind(statement: &mut rusqlite::CachedStatement<'_>, index: usize, value: &Literal) -> rusqlite::Result<()> {
    match value {
        Literal::Null => statement.raw_bind_parameter(index, rusqlite::types::Null),
        Literal::Boolean(flag) => statement.raw_bind_parameter(index, i64::from(*flag)),
        Literal::Integer(number) => statement.raw_bind_parameter(index, number),
        Literal::Float(number) => statement.raw_bind_parameter(index, number),
        Literal::Text(text) => statement.raw_bind_parameter(index, text.as_str()),
    }
}

/// Runs one statement, reading every value of every row; returns the keys of `key_columns`.
fn run(
    connection: &Connection,
    statement: &Statement,
    key_list: Option<&str>,
    key_columns: &[usize],
    checksum: &mut u64,
) -> rusqlite::Result<Vec<Keys>> {
    let mut prepared = connection.prepare_cached(&statement.sql)?;
    for (position, value) in statement.parameters.iter().enumerate() {
        let index = position + 1;
        if statement.key_list == Some(index) {
            prepared.raw_bind_parameter(index, key_list.unwrap_or("[]"))?;
        } else {
            bind(&mut prepared, index, value)?;
        }
    }
    let columns = prepared.column_count();
    let mut keys: Vec<Keys> = key_columns.iter().map(|_| Keys::default()).collect();
    let mut rows = prepared.raw_query();
    while let Some(row) = rows.next()? {
        for column in 0..columns {
            *checksum = checksum.wrapping_add(match row.get_ref(column)? {
                ValueRef::Null => 1,
                ValueRef::Integer(number) => number as u64,
                ValueRef::Real(number) => number.to_bits(),
                ValueRef::Text(bytes) | ValueRef::Blob(bytes) => bytes.len() as u64,
            });
        }
        for (slot, column) in keys.iter_mut().zip(key_columns) {
            match row.get_ref(*column)? {
                ValueRef::Integer(number) => slot.add(Key::Integer(number)),
                ValueRef::Text(bytes) => slot.add(Key::Text(String::from_utf8_lossy(bytes).into_owned())),
                _ => {}
            }
        }
    }
    Ok(keys)
}

fn run_embeds(
    connection: &Connection,
    embeds: &[PlannedEmbed],
    keys: Vec<Keys>,
    statements: &mut u32,
    checksum: &mut u64,
) -> rusqlite::Result<()> {
    for (embed, keys) in embeds.iter().zip(keys) {
        if keys.ordered.is_empty() {
            continue;
        }
        let key_columns: Vec<usize> = embed.embeds.iter().map(|child| child.parent_column).collect();
        let child_keys = run(connection, &embed.statement, Some(&keys.json()), &key_columns, checksum)?;
        *statements += 1;
        run_embeds(connection, &embed.embeds, child_keys, statements, checksum)?;
    }
    Ok(())
}

/// Runs every statement of one read; returns how many ran.
pub fn execute(connection: &Connection, read: &PlannedRead, checksum: &mut u64) -> rusqlite::Result<u32> {
    let key_columns: Vec<usize> = read.embeds.iter().map(|embed| embed.parent_column).collect();
    let keys = run(connection, &read.root, None, &key_columns, checksum)?;
    let mut statements = 1;
    if let Some(count) = &read.count {
        run(connection, count, None, &[], checksum)?;
        statements += 1;
    }
    run_embeds(connection, &read.embeds, keys, &mut statements, checksum)?;
    Ok(statements)
}

/// A reader connection as the server opens it: its pragmas (WAL, cache size, …) plus the
/// reader pool's own.
pub fn open_reader(path: &Path) -> Result<Connection, BenchError> {
    let connection = oxbase_server::store::sqlite::open_connection(path, Duration::from_secs(5))
        .map_err(|error| BenchError::Database(error.to_string()))?;
    connection
        .execute_batch("PRAGMA query_only = ON; PRAGMA case_sensitive_like = ON")
        .map_err(|error| BenchError::Database(error.to_string()))?;
    Ok(connection)
}

/// One thread's counts: requests, statements, errors, the first error, and the rate.
type ThreadCounts = (u64, u64, u64, Option<String>, WorkerRate);

/// What the database sustains for one scenario's requests.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseLimit {
    /// Request-equivalents per second (every statement of a request counts as one request).
    pub requests_per_second: f64,
    pub requests: u64,
    pub statements_per_request: f64,
    /// How often SQLite re-prepares the root statement per execution on a connection set up
    /// exactly as the server's (1.0: every execution is parsed and planned again; see the
    /// module doc).
    pub reprepares_per_execution_with_server_settings: f64,
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// Runs `reads` round robin on `threads` threads: a warm-up, then `duration` counted, each
/// thread's rate over its own span (as the load generator's closed loop does).
pub fn measure(
    path: &Path,
    reads: &[PlannedRead],
    threads: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<DatabaseLimit, BenchError> {
    if reads.is_empty() {
        return Err(BenchError::Plan("no requests to run".to_owned()));
    }
    // Fail before the clock starts when the SQL does not run at all; count how often SQLite
    // re-prepares the root statement on a connection set up exactly as the server's.
    let probe = open_reader(path)?;
    let probe_runs = 8;
    for _ in 0..probe_runs {
        execute(&probe, &reads[0], &mut 0).map_err(|error| BenchError::Database(error.to_string()))?;
    }
    let reprepares = probe
        .prepare_cached(&reads[0].root.sql)
        .map_err(|error| BenchError::Database(error.to_string()))?
        .get_status(rusqlite::StatementStatus::RePrepare);
    drop(probe);
    let barrier = Barrier::new(threads);
    let window: OnceLock<(Instant, Instant)> = OnceLock::new();
    let results: Vec<Result<ThreadCounts, BenchError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let barrier = &barrier;
                let window = &window;
                scope.spawn(move || {
                    let connection = open_reader(path).and_then(|connection| {
                        connection
                            .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
                            .map_err(|error| BenchError::Database(error.to_string()))?;
                        Ok(connection)
                    });
                    barrier.wait();
                    let connection = connection?;
                    let (from, end) = *window.get_or_init(|| {
                        let from = Instant::now() + warmup;
                        (from, from + duration)
                    });
                    let last_chance = end + duration;
                    let (mut requests, mut statements, mut errors, mut first_error) = (0u64, 0u64, 0u64, None);
                    let (mut first_start, mut last_done) = (None, None);
                    let mut checksum = 0u64;
                    let mut next = (thread * 7919) % reads.len();
                    loop {
                        let started = Instant::now();
                        if started >= end && (requests > 0 || started >= last_chance) {
                            break;
                        }
                        let result = execute(&connection, &reads[next], &mut checksum);
                        next = (next + 1) % reads.len();
                        if Instant::now() < from {
                            continue;
                        }
                        first_start.get_or_insert(started);
                        match result {
                            Ok(count) => {
                                requests += 1;
                                statements += u64::from(count);
                                last_done = Some(Instant::now());
                            }
                            Err(error) => {
                                errors += 1;
                                first_error.get_or_insert_with(|| error.to_string());
                            }
                        }
                    }
                    std::hint::black_box(checksum);
                    let span = match (first_start, last_done) {
                        (Some(first), Some(last)) => last - first,
                        _ => Duration::ZERO,
                    };
                    Ok((requests, statements, errors, first_error, WorkerRate { answers: requests, span }))
                })
            })
            .collect();
        workers.into_iter().map(|worker| worker.join().expect("a database thread panicked")).collect()
    });
    let mut limit = DatabaseLimit {
        requests_per_second: 0.0,
        requests: 0,
        statements_per_request: 0.0,
        reprepares_per_execution_with_server_settings: f64::from(reprepares) / f64::from(probe_runs),
        errors: 0,
        first_error: None,
    };
    let mut statements = 0;
    let mut rates = Vec::with_capacity(results.len());
    for result in results {
        let (requests, thread_statements, errors, first_error, rate) = result?;
        rates.push(rate);
        limit.requests += requests;
        statements += thread_statements;
        limit.errors += errors;
        if limit.first_error.is_none() {
            limit.first_error = first_error;
        }
    }
    limit.requests_per_second = total_rate(&rates);
    if limit.requests > 0 {
        limit.statements_per_request = statements as f64 / limit.requests as f64;
    }
    Ok(limit)
}

#[cfg(test)]
mod tests {
    use oxbase_examples::Scale;
    use oxbase_server::config::DatabaseUrl;
    use oxbase_server::seed::{example_schema, seed_example};

    use super::*;
    use crate::fixture::{keyset_before, read_facts};
    use crate::workload::{SCENARIOS, generate, worker_rng};

    #[test]
    fn reads_run_one_statement_per_node_on_a_real_database() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("pearl.db");
        seed_example(&DatabaseUrl::Sqlite(path.clone()), "pearl", Scale::Small).unwrap();
        let schema = example_schema("pearl").unwrap();
        let limits = Limits { max_page_size: 10_000, ..Limits::default() };
        let connection = open_reader(&path).unwrap();
        let facts = read_facts(&connection, &schema).unwrap();
        assert_eq!((facts.tracker_ids, facts.big_effort), ((1, 1000), 1));
        let after = keyset_before(&connection, &schema, &limits, 450).unwrap();
        assert_eq!(after.len(), 2, "due_date and id: {after:?}");
        let fixture = crate::workload::Fixture {
            tracker_ids: facts.tracker_ids,
            effort_ids: facts.effort_ids,
            big_effort: facts.big_effort,
            statuses: facts.statuses.clone(),
            hot_efforts: vec![2],
            hot_etags: vec![None],
            deep_pages: vec![crate::workload::DeepPage { offset: 450, cursor: Some("x".into()), after }],
        };
        // Root + item + two programmers + comments (S3); + tags through the junction (S10).
        let expected = [("S1", 1), ("S2", 1), ("S3", 5), ("S4-offset", 1), ("S4-cursor", 1), ("S5", 1), ("S10", 5)];
        for (id, statements) in expected {
            let scenario = SCENARIOS.iter().find(|scenario| scenario.id == id).unwrap();
            let mut rng = worker_rng(1, scenario, 0);
            let read = generate(scenario, &fixture, &mut rng).unwrap().read.unwrap();
            let planned = plan_reads(&schema, &limits, &[read]).unwrap();
            assert_eq!(execute(&connection, &planned[0], &mut 0).unwrap(), statements, "{id}");
        }
        let scenario = SCENARIOS.iter().find(|scenario| scenario.id == "S3").unwrap();
        let mut rng = worker_rng(1, scenario, 0);
        let reads: Vec<ReadRequest> =
            (0..8).map(|_| generate(scenario, &fixture, &mut rng).unwrap().read.unwrap()).collect();
        let planned = plan_reads(&schema, &limits, &reads).unwrap();
        let limit = measure(&path, &planned, 2, Duration::from_millis(10), Duration::from_millis(200)).unwrap();
        assert!(limit.requests > 0 && limit.errors == 0, "{limit:?}");
        assert_eq!(limit.statements_per_request, 5.0);
    }

    #[test]
    fn keys_are_sent_once_each_as_a_json_array() {
        let mut keys = Keys::default();
        for key in [Key::Integer(3), Key::Integer(1), Key::Integer(3), Key::Integer(2)] {
            keys.add(key);
        }
        assert_eq!(keys.json(), "[3,1,2]");
        let mut text = Keys::default();
        text.add(Key::Text("a\"b".to_owned()));
        assert_eq!(text.json(), r#"["a\"b"]"#);
        assert_eq!(Keys::default().json(), "[]");
    }
}
