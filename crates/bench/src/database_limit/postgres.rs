//! The database limit on PostgreSQL: tokio-postgres with pipelining, not the server's own
//! driver (the synchronous `postgres` client, one statement at a time per connection), so
//! what the server's driver costs shows in the gap.
//!
//! Every statement is prepared on every connection before the clock starts. Reads: a few
//! connections (two per core, at most `concurrency`), and `concurrency` tasks spread over
//! them, each running its requests back to back; a connection carries its tasks' statements
//! in flight at once (pipelining). Within a request, the statements that do not wait for
//! another's rows are sent together: the count with the root, and all embeds of one level.
//! Writes: one connection per task (a transaction holds its connection), `BEGIN` sent with
//! the first statement and `COMMIT` with the last, one round trip per statement that waits
//! for the keys a previous one selected.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use futures_util::future::join_all;
use oxbase_query::sql::Statement;
use tokio_postgres::Client;
use tokio_postgres::types::{ToSql, Type};

use super::{
    Clock, DatabaseLimit, Key, Keys, PlannedEmbed, PlannedRead, PlannedWrite, StepKeys, Window, WorkerCounts, Workload,
    summarise,
};
use crate::BenchError;
use crate::database::connect_postgres;
use crate::postgres_values::{Parameter, WireLength, bind, key_integer, key_text};

/// One connection and every statement of the workload prepared on it.
struct Session {
    client: Client,
    prepared: HashMap<String, tokio_postgres::Statement>,
}

/// What running statements gave: the keys asked for, and a checksum of every value read
/// (so reading them is not optimised away).
type Ran = (Vec<Keys>, u64);

type RunFuture<'a> = Pin<Box<dyn Future<Output = Result<Ran, String>> + Send + 'a>>;

async fn open_session(url: &str, workload: &Workload) -> Result<Session, BenchError> {
    let client = connect_postgres(url).await?;
    let mut prepared = HashMap::new();
    for sql in workload.distinct_sql() {
        let statement =
            client.prepare(sql).await.map_err(|error| BenchError::Database(format!("preparing {sql}: {error}")))?;
        prepared.insert(sql.to_owned(), statement);
    }
    Ok(Session { client, prepared })
}

/// The parents' keys as the array a `= ANY($n)` parameter takes.
fn key_parameter(keys: &Keys, parameter_type: &Type) -> Result<Parameter, String> {
    let integers =
        || keys.ordered.iter().filter_map(|key| if let Key::Integer(number) = key { Some(*number) } else { None });
    let texts =
        || keys.ordered.iter().filter_map(|key| if let Key::Text(text) = key { Some(text.clone()) } else { None });
    Ok(match *parameter_type {
        Type::INT8_ARRAY => Box::new(integers().collect::<Vec<i64>>()),
        Type::INT4_ARRAY => Box::new(integers().filter_map(|number| i32::try_from(number).ok()).collect::<Vec<i32>>()),
        Type::INT2_ARRAY => Box::new(integers().filter_map(|number| i16::try_from(number).ok()).collect::<Vec<i16>>()),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => Box::new(texts().collect::<Vec<String>>()),
        ref other => return Err(format!("cannot bind a key list to a PostgreSQL {other} parameter")),
    })
}

/// Runs one prepared statement, reading every value of every row; returns the keys of
/// `key_columns`.
async fn run(
    session: &Session,
    statement: &Statement,
    keys: Option<&Keys>,
    key_columns: &[usize],
) -> Result<Ran, String> {
    let prepared = session.prepared.get(&statement.sql).ok_or_else(|| format!("not prepared: {}", statement.sql))?;
    let no_keys = Keys::default();
    let mut parameters: Vec<Parameter> = Vec::with_capacity(statement.parameters.len());
    for (index, (value, parameter_type)) in statement.parameters.iter().zip(prepared.params()).enumerate() {
        parameters.push(if statement.key_list == Some(index + 1) {
            key_parameter(keys.unwrap_or(&no_keys), parameter_type)?
        } else {
            bind(value, parameter_type)?
        });
    }
    let references: Vec<&(dyn ToSql + Sync)> =
        parameters.iter().map(|parameter| parameter.as_ref() as &(dyn ToSql + Sync)).collect();
    let rows = session.client.query(prepared, &references).await.map_err(describe)?;
    let mut checksum = 0u64;
    let mut found: Vec<Keys> = key_columns.iter().map(|_| Keys::default()).collect();
    for row in &rows {
        for column in 0..row.len() {
            let length = row.try_get::<_, WireLength>(column).map_err(|error| error.to_string())?;
            checksum = checksum.wrapping_add(length.0 as u64 + 1);
        }
        for (slot, column) in found.iter_mut().zip(key_columns) {
            if let Some(number) = key_integer(row, *column) {
                slot.add(Key::Integer(number));
            } else if let Some(text) = key_text(row, *column) {
                slot.add(Key::Text(text));
            }
        }
    }
    Ok((found, checksum))
}

/// A driver error with PostgreSQL's own code and message (its `Display` is only "db error").
fn describe(error: tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(database) => format!("{} {}", database.code().code(), database.message()),
        None => error.to_string(),
    }
}

fn key_columns(embeds: &[PlannedEmbed]) -> Vec<usize> {
    embeds.iter().map(|embed| embed.parent_column).collect()
}

/// Runs every statement of one read; returns how many ran and the checksum.
async fn execute_read(session: &Session, read: &PlannedRead) -> Result<(u32, u64), String> {
    let root_columns = key_columns(&read.embeds);
    let root = run(session, &read.root, None, &root_columns);
    let ((root_keys, mut checksum), mut statements) = match &read.count {
        Some(count) => {
            let (root, count) = futures_util::future::join(root, run(session, count, None, &[])).await;
            let ((keys, root_sum), (_, count_sum)) = (root?, count?);
            ((keys, root_sum.wrapping_add(count_sum)), 2)
        }
        None => (root.await?, 1),
    };
    let mut level: Vec<(&PlannedEmbed, Keys)> =
        read.embeds.iter().zip(root_keys).filter(|(_, keys)| !keys.is_empty()).collect();
    while !level.is_empty() {
        let results = join_all(level.iter().map(|(embed, keys)| async move {
            run(session, &embed.statement, Some(keys), &key_columns(&embed.embeds)).await
        }))
        .await;
        statements += u32::try_from(level.len()).unwrap_or(u32::MAX);
        let mut next = Vec::new();
        for ((embed, _), result) in level.iter().zip(results) {
            let (child_keys, sum) = result?;
            checksum = checksum.wrapping_add(sum);
            next.extend(embed.embeds.iter().zip(child_keys).filter(|(_, keys)| !keys.is_empty()));
        }
        level = next;
    }
    Ok((statements, checksum))
}

/// Runs one write transaction; returns how many statements ran (`BEGIN` and `COMMIT`
/// not counted, as the server does not count them) and the checksum.
async fn execute_write(session: &Session, write: &PlannedWrite) -> Result<(u32, u64), String> {
    let client = &session.client;
    let steps = &write.steps;
    let (mut statements, mut checksum) = (0u32, 0u64);
    let mut previous = Keys::default();
    let mut start = 0;
    // Once `COMMIT` is sent the transaction ends either way (an aborted one rolls back).
    let mut ended = false;
    let outcome: Result<(), String> = async {
        while start < steps.len() {
            // A round: the statements up to the next one that needs this round's keys.
            let end = (start + 1..steps.len())
                .find(|index| matches!(steps[*index].keys, StepKeys::FromPrevious))
                .unwrap_or(steps.len());
            let mut round: Vec<RunFuture<'_>> = Vec::new();
            if start == 0 {
                round.push(Box::pin(async {
                    client.batch_execute("BEGIN").await.map(|()| (Vec::new(), 0)).map_err(describe)
                }));
            }
            let mut counted = 0;
            for step in &steps[start..end] {
                let keys = match &step.keys {
                    StepKeys::None => None,
                    StepKeys::Given(keys) => Some(keys),
                    StepKeys::FromPrevious if previous.is_empty() => continue,
                    StepKeys::FromPrevious => Some(&previous),
                };
                round.push(Box::pin(run(session, &step.statement, keys, &[0])));
                counted += 1;
            }
            if end == steps.len() {
                ended = true;
                round.push(Box::pin(async {
                    client.batch_execute("COMMIT").await.map(|()| (Vec::new(), 0)).map_err(describe)
                }));
            }
            let results = join_all(round).await;
            statements += counted;
            let mut last_keys = None;
            for result in results {
                let (mut keys, sum) = result?;
                checksum = checksum.wrapping_add(sum);
                if let Some(keys) = keys.pop() {
                    last_keys = Some(keys);
                }
            }
            previous = last_keys.unwrap_or_default();
            start = end;
        }
        Ok(())
    }
    .await;
    if let Err(error) = outcome {
        if !ended {
            let _ = client.batch_execute("ROLLBACK").await;
        }
        return Err(error);
    }
    Ok((statements, checksum))
}

/// Runs `workload` with `concurrency` requests in flight until the window closes.
pub(crate) async fn measure(
    url: &str,
    workload: &Workload,
    concurrency: usize,
    window: Window,
) -> Result<DatabaseLimit, BenchError> {
    let cores = std::thread::available_parallelism().map_or(2, |count| count.get());
    let connections = match workload {
        Workload::Reads(_) => concurrency.min(2 * cores).max(1),
        Workload::Writes(_) => concurrency,
    };
    let mut sessions = Vec::with_capacity(connections);
    for _ in 0..connections {
        sessions.push(Arc::new(open_session(url, workload).await?));
    }
    let workload = Arc::new(workload.clone());
    // Fail before the clock starts when the SQL does not run at all.
    execute(&sessions[0], &workload, 0).await.map_err(BenchError::Database)?;
    let barrier = Arc::new(tokio::sync::Barrier::new(concurrency));
    let clock: Arc<OnceLock<Clock>> = Arc::default();
    let tasks: Vec<_> = (0..concurrency)
        .map(|worker| {
            let (session, workload) = (sessions[worker % connections].clone(), workload.clone());
            let (barrier, clock) = (barrier.clone(), clock.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let clock = *clock.get_or_init(|| window.start());
                let mut counts = WorkerCounts::default();
                let mut checksum = 0u64;
                let requests = match &*workload {
                    Workload::Reads(reads) => reads.len(),
                    Workload::Writes(writes) => writes.len(),
                };
                let mut next = (worker * 7919) % requests;
                loop {
                    let started = Instant::now();
                    if counts.done(&clock, started) {
                        break;
                    }
                    let result = execute(&session, &workload, next).await.map(|(statements, sum)| {
                        checksum = checksum.wrapping_add(sum);
                        statements
                    });
                    next = (next + 1) % requests;
                    counts.record(&clock, started, result);
                }
                std::hint::black_box(checksum);
                counts
            })
        })
        .collect();
    let mut workers = Vec::with_capacity(tasks.len());
    for task in tasks {
        workers.push(task.await.map_err(|error| BenchError::Database(format!("a database task failed: {error}")))?);
    }
    let client = match &*workload {
        Workload::Reads(_) => {
            format!("tokio-postgres, {concurrency} requests in flight over {connections} pipelined connections")
        }
        Workload::Writes(_) => format!("tokio-postgres, {connections} connections with one transaction each"),
    };
    Ok(summarise(workers, client, None))
}

async fn execute(session: &Session, workload: &Workload, index: usize) -> Result<(u32, u64), String> {
    match workload {
        Workload::Reads(reads) => execute_read(session, &reads[index]).await,
        Workload::Writes(writes) => execute_write(session, &writes[index]).await,
    }
}
