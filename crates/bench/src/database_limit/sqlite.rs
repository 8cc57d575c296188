//! The database limit on SQLite: rusqlite prepared statements in a tight loop.
//!
//! Reads run on one OS thread per unit of concurrency, each with its own connection opened
//! with the server's reader settings. Writes run on one writer connection, one IMMEDIATE
//! transaction per request: SQLite runs one write transaction at a time, so more writers
//! would only wait on each other's locks.
//!
//! Connections get the query planner stability guarantee (`SQLITE_DBCONFIG_ENABLE_QPSG`).
//! Without it, a statement whose plan depends on a bound value (`LIMIT ?` does) is marked
//! expired by `sqlite3_clear_bindings`, which rusqlite's statement cache calls on every
//! statement it takes back, so every execution is parsed and planned again. A tight native
//! client does not pay that; the report shows whether the server still does
//! (`reprepares_per_execution_with_server_settings`, measured on a connection set up
//! exactly as the server's readers are).

use std::path::Path;
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

use oxbase_query::sql::Statement;
use oxbase_schema::model::Literal;
use rusqlite::config::DbConfig;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, TransactionBehavior};

use super::{Clock, Key, Keys, PlannedEmbed, PlannedRead, PlannedWrite, StepKeys, Window, WorkerCounts, summarise};
use crate::BenchError;

fn database_error(error: impl std::fmt::Display) -> BenchError {
    BenchError::Database(error.to_string())
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
        if keys.is_empty() {
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

/// Runs one write transaction on the writer; returns how many statements ran.
pub fn execute_write(connection: &mut Connection, write: &PlannedWrite, checksum: &mut u64) -> rusqlite::Result<u32> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut statements = 0;
    let mut previous = Keys::default();
    for step in &write.steps {
        let key_list = match &step.keys {
            StepKeys::None => None,
            StepKeys::Given(keys) => Some(keys.json()),
            StepKeys::FromPrevious if previous.is_empty() => continue,
            StepKeys::FromPrevious => Some(previous.json()),
        };
        let mut keys = run(&transaction, &step.statement, key_list.as_deref(), &[0], checksum)?;
        previous = keys.pop().unwrap_or_default();
        statements += 1;
    }
    transaction.commit()?;
    Ok(statements)
}

/// A reader connection as the server opens it: its pragmas (WAL, cache size, …) plus the
/// reader pool's own.
pub fn open_reader(path: &Path) -> Result<Connection, BenchError> {
    let connection = oxbase_store::sqlite::open_connection(path, Duration::from_secs(5)).map_err(database_error)?;
    connection.execute_batch("PRAGMA query_only = ON; PRAGMA case_sensitive_like = ON").map_err(database_error)?;
    Ok(connection)
}

fn with_stable_plans(connection: Connection) -> Result<Connection, BenchError> {
    connection.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map_err(database_error)?;
    Ok(connection)
}

/// Runs `reads` round robin on `threads` threads, each with its own reader connection.
pub(crate) fn measure_reads(
    path: &Path,
    reads: &[PlannedRead],
    threads: usize,
    window: Window,
) -> Result<super::DatabaseLimit, BenchError> {
    // Fail before the clock starts when the SQL does not run at all; count how often SQLite
    // re-prepares the root statement on a connection set up exactly as the server's.
    let probe = open_reader(path)?;
    let probe_runs = 8;
    for _ in 0..probe_runs {
        execute(&probe, &reads[0], &mut 0).map_err(database_error)?;
    }
    let reprepares = probe
        .prepare_cached(&reads[0].root.sql)
        .map_err(database_error)?
        .get_status(rusqlite::StatementStatus::RePrepare);
    drop(probe);
    let barrier = Barrier::new(threads);
    let clock: OnceLock<Clock> = OnceLock::new();
    let results: Vec<Result<WorkerCounts, BenchError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let (barrier, clock) = (&barrier, &clock);
                scope.spawn(move || {
                    let connection = open_reader(path).and_then(with_stable_plans);
                    barrier.wait();
                    let connection = connection?;
                    let clock = *clock.get_or_init(|| window.start());
                    let mut counts = WorkerCounts::default();
                    let mut checksum = 0u64;
                    let mut next = (thread * 7919) % reads.len();
                    loop {
                        let started = Instant::now();
                        if counts.done(&clock, started) {
                            break;
                        }
                        let result = execute(&connection, &reads[next], &mut checksum);
                        next = (next + 1) % reads.len();
                        counts.record(&clock, started, result.map_err(|error| error.to_string()));
                    }
                    std::hint::black_box(checksum);
                    Ok(counts)
                })
            })
            .collect();
        workers.into_iter().map(|worker| worker.join().expect("a database thread panicked")).collect()
    });
    let workers = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    let client = format!("rusqlite, {threads} threads with a reader connection each");
    Ok(summarise(workers, client, Some(f64::from(reprepares) / f64::from(probe_runs))))
}

/// Runs `writes` round robin on one writer connection, one transaction each.
pub(crate) fn measure_writes(
    path: &Path,
    writes: &[PlannedWrite],
    window: Window,
) -> Result<super::DatabaseLimit, BenchError> {
    let mut connection = oxbase_store::sqlite::open_connection(path, Duration::from_secs(5)).map_err(database_error)?;
    connection = with_stable_plans(connection)?;
    let mut checksum = 0u64;
    // Fail before the clock starts when the SQL does not run at all.
    execute_write(&mut connection, &writes[0], &mut checksum).map_err(database_error)?;
    let clock = window.start();
    let mut counts = WorkerCounts::default();
    let mut next = 0;
    loop {
        let started = Instant::now();
        if counts.done(&clock, started) {
            break;
        }
        let result = execute_write(&mut connection, &writes[next], &mut checksum);
        next = (next + 1) % writes.len();
        counts.record(&clock, started, result.map_err(|error| error.to_string()));
    }
    std::hint::black_box(checksum);
    Ok(summarise(vec![counts], "rusqlite, one writer connection".to_owned(), None))
}
