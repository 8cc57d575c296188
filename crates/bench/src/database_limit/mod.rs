//! The database limit: the SQL the server would run for a scenario's requests, run straight
//! through the engine's fastest native client in a tight loop, at the same concurrency as the
//! load and for the same duration. Rows are read value by value, but nothing is encoded;
//! whatever the server spends beyond this (pooling, threads, its driver, encoding, HTTP)
//! shows as the gap.
//!
//! One request-equivalent is every statement the server runs for the request:
//!
//! - a read: the root rows, an exact count when asked, and one statement per embedded node
//!   taking the parents' keys (each once, in row order) as one parameter;
//! - a write (S6, S7): the server's transaction — select the rows with their old values,
//!   update them, bump the resource's version — begun and committed.
//!
//! The engines:
//!
//! - [`sqlite`]: rusqlite prepared statements; reads on one OS thread and connection per
//!   unit of concurrency, writes on one writer connection (SQLite runs one write
//!   transaction at a time, and the server has one writer too).
//! - [`postgres`]: tokio-postgres with pipelining: reads on a few connections, each carrying
//!   many requests in flight; writes on one connection per unit of concurrency (a
//!   transaction holds its connection), the statements that do not wait for another's
//!   rows sent together.

#[cfg(test)]
mod engine_tests;
pub mod postgres;
pub mod sqlite;
mod writes;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use oxbase_query::cursor::CursorKey;
use oxbase_query::plan::{CountMode, Embed, Limits, every_row, plan_read};
use oxbase_query::sql::Statement;
use oxbase_query::sql::read::{child_statement, count_statement, root_statement};
use oxbase_schema::Schema;
use oxbase_schema::dialect::Dialect;
use oxbase_schema::model::Literal;
use oxbase_server::config::DatabaseUrl;
use serde::Serialize;

use crate::BenchError;
use crate::load::{WorkerRate, total_rate};
use crate::workload::ReadRequest;

pub use writes::plan_writes;

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

/// The statements of one write transaction, in the order the server runs them.
#[derive(Debug, Clone)]
pub struct PlannedWrite {
    steps: Vec<WriteStep>,
}

#[derive(Debug, Clone)]
struct WriteStep {
    statement: Statement,
    keys: StepKeys,
}

/// Where a write statement's key list comes from.
#[derive(Debug, Clone)]
enum StepKeys {
    /// The statement takes no key list.
    None,
    /// Keys known from the request (a bulk update's rows).
    Given(Keys),
    /// The first column of the previous statement's rows (the keys a filter selected);
    /// the statement is skipped when there are none, as the server skips it.
    FromPrevious,
}

/// What the database limit of one scenario runs, cycling through the requests.
#[derive(Debug, Clone)]
pub enum Workload {
    Reads(Vec<PlannedRead>),
    Writes(Vec<PlannedWrite>),
}

impl Workload {
    fn is_empty(&self) -> bool {
        match self {
            Workload::Reads(reads) => reads.is_empty(),
            Workload::Writes(writes) => writes.is_empty(),
        }
    }

    /// Every distinct statement text, for preparing them before the clock starts.
    fn distinct_sql(&self) -> Vec<&str> {
        fn embeds<'a>(list: &'a [PlannedEmbed], out: &mut Vec<&'a str>) {
            for embed in list {
                out.push(&embed.statement.sql);
                embeds(&embed.embeds, out);
            }
        }
        let mut all = Vec::new();
        match self {
            Workload::Reads(reads) => {
                for read in reads {
                    all.push(read.root.sql.as_str());
                    if let Some(count) = &read.count {
                        all.push(&count.sql);
                    }
                    embeds(&read.embeds, &mut all);
                }
            }
            Workload::Writes(writes) => {
                all.extend(writes.iter().flat_map(|write| write.steps.iter().map(|step| step.statement.sql.as_str())))
            }
        }
        let mut seen = HashSet::new();
        all.retain(|sql| seen.insert(*sql));
        all
    }
}

/// Plans reads the way the server does and renders their statements in `dialect`.
pub fn plan_reads(
    schema: &Schema,
    limits: &Limits,
    reads: &[ReadRequest],
    dialect: Dialect,
) -> Result<Vec<PlannedRead>, BenchError> {
    let cursor_key = CursorKey::new(vec![0; 32]);
    let planned_embed = |embed: &Embed| -> PlannedEmbed {
        fn build(embed: &Embed, dialect: Dialect) -> PlannedEmbed {
            PlannedEmbed {
                statement: child_statement(embed, dialect),
                parent_column: embed.parent_column,
                embeds: embed.node.embeds.iter().map(|child| build(child, dialect)).collect(),
            }
        }
        build(embed, dialect)
    };
    reads
        .iter()
        .map(|read| {
            let mut plan =
                plan_read(schema, &read.resource, &read.parameters, read.options, limits, &cursor_key, &every_row)
                    .map_err(|error| BenchError::Plan(format!("{}: {error}", read.resource)))?;
            if let Some(after) = &read.after {
                plan.after = Some(after.clone());
            }
            Ok(PlannedRead {
                root: root_statement(&plan, dialect),
                count: (plan.count != CountMode::None).then(|| count_statement(&plan, dialect)),
                embeds: plan.root.embeds.iter().map(planned_embed).collect(),
            })
        })
        .collect()
}

/// The values of one key column, each once, in row order.
#[derive(Debug, Clone, Default)]
struct Keys {
    seen: HashSet<Key>,
    ordered: Vec<Key>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Integer(i64),
    Text(String),
}

impl Key {
    fn of(literal: &Literal) -> Option<Key> {
        match literal {
            Literal::Integer(number) => Some(Key::Integer(*number)),
            Literal::Text(text) => Some(Key::Text(text.clone())),
            _ => None,
        }
    }
}

impl Keys {
    fn add(&mut self, key: Key) {
        if self.seen.insert(key.clone()) {
            self.ordered.push(key);
        }
    }

    fn is_empty(&self) -> bool {
        self.ordered.is_empty()
    }

    /// The keys as the JSON array SQLite's key lists take (`json_each(?)`).
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

/// What the database sustains for one scenario's requests.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseLimit {
    /// Request-equivalents per second (every statement of a request counts as one request).
    pub requests_per_second: f64,
    pub requests: u64,
    pub statements_per_request: f64,
    /// How the statements were run: the client, its connections and requests in flight.
    pub client: String,
    /// SQLite reads only: how often SQLite re-prepares the root statement per execution on
    /// a connection set up exactly as the server's (1.0: every execution is parsed and
    /// planned again; see [`sqlite`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reprepares_per_execution_with_server_settings: Option<f64>,
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// Runs `workload` on the database at `url` with `concurrency` requests at once: a warm-up,
/// then `duration` counted. PostgreSQL runs on `runtime`.
pub fn measure(
    url: &DatabaseUrl,
    workload: &Workload,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    runtime: &tokio::runtime::Runtime,
) -> Result<DatabaseLimit, BenchError> {
    if workload.is_empty() {
        return Err(BenchError::Plan("no requests to run".to_owned()));
    }
    let window = Window { warmup, duration };
    match (url, workload) {
        (DatabaseUrl::Sqlite(path), Workload::Reads(reads)) => sqlite::measure_reads(path, reads, concurrency, window),
        (DatabaseUrl::Sqlite(path), Workload::Writes(writes)) => sqlite::measure_writes(path, writes, window),
        (DatabaseUrl::Postgres(url), workload) => {
            runtime.block_on(postgres::measure(url, workload, concurrency, window))
        }
    }
}

/// The measured span: a warm-up, then `duration` counted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    warmup: Duration,
    duration: Duration,
}

/// Instants of one measured span, fixed when the first worker starts.
#[derive(Debug, Clone, Copy)]
struct Clock {
    from: Instant,
    end: Instant,
    /// A worker with no request done by `end` keeps going until here.
    last_chance: Instant,
}

impl Window {
    fn start(self) -> Clock {
        let from = Instant::now() + self.warmup;
        let end = from + self.duration;
        Clock { from, end, last_chance: end + self.duration }
    }
}

/// One worker's counts, each worker's rate over its own span (as the load generator's
/// closed loop counts).
#[derive(Debug, Default)]
struct WorkerCounts {
    requests: u64,
    statements: u64,
    errors: u64,
    first_error: Option<String>,
    first_start: Option<Instant>,
    last_done: Option<Instant>,
}

impl WorkerCounts {
    /// Whether a worker starting a request at `now` should stop instead.
    fn done(&self, clock: &Clock, now: Instant) -> bool {
        now >= clock.end && (self.requests > 0 || now >= clock.last_chance)
    }

    /// Counts a request that started at `started` (unless it ended in the warm-up).
    fn record(&mut self, clock: &Clock, started: Instant, result: Result<u32, String>) {
        let now = Instant::now();
        if now < clock.from {
            return;
        }
        self.first_start.get_or_insert(started);
        match result {
            Ok(statements) => {
                self.requests += 1;
                self.statements += u64::from(statements);
                self.last_done = Some(now);
            }
            Err(error) => {
                self.errors += 1;
                self.first_error.get_or_insert(error);
            }
        }
    }

    fn rate(&self) -> WorkerRate {
        let span = match (self.first_start, self.last_done) {
            (Some(first), Some(last)) => last - first,
            _ => Duration::ZERO,
        };
        WorkerRate { answers: self.requests, span }
    }
}

/// The workers' counts summed into a limit.
fn summarise(workers: Vec<WorkerCounts>, client: String, reprepares: Option<f64>) -> DatabaseLimit {
    let rates: Vec<WorkerRate> = workers.iter().map(WorkerCounts::rate).collect();
    let requests: u64 = workers.iter().map(|worker| worker.requests).sum();
    let statements: u64 = workers.iter().map(|worker| worker.statements).sum();
    DatabaseLimit {
        requests_per_second: total_rate(&rates),
        requests,
        statements_per_request: if requests > 0 { statements as f64 / requests as f64 } else { 0.0 },
        client,
        reprepares_per_execution_with_server_settings: reprepares,
        errors: workers.iter().map(|worker| worker.errors).sum(),
        first_error: workers.into_iter().find_map(|worker| worker.first_error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_worker_counts_only_after_the_warm_up_and_stops_after_the_window() {
        let now = Instant::now();
        let clock = Clock {
            from: now - Duration::from_secs(1),
            end: now + Duration::from_secs(1),
            last_chance: now + Duration::from_secs(2),
        };
        let mut counts = WorkerCounts::default();
        assert!(!counts.done(&clock, now));
        assert!(!counts.done(&clock, now + Duration::from_millis(1500)), "no request yet: one more window");
        counts.record(&clock, now, Ok(3));
        counts.record(&clock, now, Err("boom".to_owned()));
        assert!(counts.done(&clock, now + Duration::from_millis(1500)));
        let limit = summarise(vec![counts], "test".to_owned(), None);
        assert_eq!((limit.requests, limit.errors, limit.statements_per_request), (1, 1, 3.0));
        assert_eq!(limit.first_error.as_deref(), Some("boom"));
    }
}
