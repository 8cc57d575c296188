//! The database limit on both engines: every scenario's statements run on the pearl
//! example's small data set, on an SQLite file and on a fresh PostgreSQL database
//! (127.0.0.1:5432, started by `.ci/run`), with the statement counts the server has.

use std::time::Duration;

use oxbase_examples::Scale;
use oxbase_query::plan::Limits;
use oxbase_server::config::DatabaseUrl;
use oxbase_store::seed::{example_schema, seed_example};

use super::*;
use crate::database::{Database, create_postgres_database};
use crate::fixture::{keyset_before, read_facts};
use crate::workload::{DeepPage, Fixture, SCENARIOS, generate, worker_rng};

/// Root + item + two programmers + comments (S3, S8); + tags through the junction (S10);
/// select, update, version bump (S6, S7).
const STATEMENTS: &[(&str, f64)] = &[
    ("S1", 1.0),
    ("S2", 1.0),
    ("S3", 5.0),
    ("S4-offset", 1.0),
    ("S4-cursor", 1.0),
    ("S5", 1.0),
    ("S6", 3.0),
    ("S7", 3.0),
    ("S8-hot", 5.0),
    ("S10", 5.0),
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Seeds `url` small, then measures every scenario for a moment.
fn every_scenario_runs(url: &DatabaseUrl, runtime: &tokio::runtime::Runtime) {
    seed_example(url, "pearl", Scale::Small).unwrap();
    let schema = example_schema("pearl").unwrap();
    let limits = Limits { max_page_size: 10_000, ..Limits::default() };
    let database = runtime.block_on(Database::open(url)).unwrap();
    let facts = runtime.block_on(read_facts(&database, &schema)).unwrap();
    assert_eq!((facts.tracker_ids, facts.big_effort), ((1, 1000), 1));
    let after = runtime.block_on(keyset_before(&database, &schema, &limits, 450)).unwrap();
    assert_eq!(after.len(), 2, "due_date and id: {after:?}");
    let fixture = Fixture {
        tracker_ids: facts.tracker_ids,
        effort_ids: facts.effort_ids,
        big_effort: facts.big_effort,
        statuses: facts.statuses.clone(),
        hot_efforts: vec![2],
        hot_etags: vec![None],
        deep_pages: vec![DeepPage { offset: 450, cursor: Some("x".into()), after }],
        viewer_token: None,
    };
    let dialect = database.dialect();
    let now = oxbase_schema::values::format_timestamp(time::OffsetDateTime::now_utc());
    for (id, statements) in STATEMENTS {
        let scenario = SCENARIOS.iter().find(|scenario| scenario.id == *id).unwrap();
        let mut rng = worker_rng(1, scenario, 0);
        let requests: Vec<_> = (0..4).map(|_| generate(scenario, &fixture, &mut rng).unwrap()).collect();
        // Concurrent writes too: rows are locked in key order, so S7's overlapping bulk
        // updates queue rather than deadlock. On PostgreSQL a write also notifies.
        let (workload, expected) = if requests[0].read.is_some() {
            let reads: Vec<_> = requests.into_iter().map(|request| request.read.unwrap()).collect();
            (Workload::Reads(plan_reads(&schema, &limits, &reads, dialect).unwrap()), *statements)
        } else {
            let notify = if dialect == Dialect::Postgres { 1.0 } else { 0.0 };
            (Workload::Writes(plan_writes(&schema, &limits, &requests, dialect, &now).unwrap()), statements + notify)
        };
        let concurrency = 4;
        let (warmup, duration) = (Duration::from_millis(10), Duration::from_millis(100));
        let limit = measure(url, &workload, concurrency, warmup, duration, runtime).unwrap();
        assert!(limit.requests > 0 && limit.errors == 0, "{id} on {dialect:?}: {limit:?}");
        assert_eq!(limit.statements_per_request, expected, "{id} on {dialect:?}");
    }
}

#[test]
fn every_scenario_runs_on_sqlite() {
    let directory = tempfile::tempdir().unwrap();
    every_scenario_runs(&DatabaseUrl::Sqlite(directory.path().join("pearl.db")), &runtime());
}

#[test]
fn every_scenario_runs_on_postgres() {
    let runtime = runtime();
    let suffix: String = (0..12).map(|_| fastrand::lowercase()).collect();
    let name = format!("oxbase_bench_test_{suffix}");
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    assert!(runtime.block_on(create_postgres_database(&url)).unwrap(), "a fresh database");
    assert!(!runtime.block_on(create_postgres_database(&url)).unwrap(), "created once");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        every_scenario_runs(&DatabaseUrl::Postgres(url.clone()), &runtime)
    }));
    runtime.block_on(async {
        let admin = crate::database::connect_postgres("postgres://postgres@127.0.0.1:5432/postgres").await.unwrap();
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.unwrap();
    });
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
