//! The oxbase benchmark harness: replays an example's workload against a real server,
//! measures the database and HTTP limits in the same run, and reports both.
//!
//! # Layout
//!
//! - [`options`]: the `oxbase bench` flags.
//! - [`workload`]: the pearl scenarios S1–S10 and their requests, drawn from a seeded
//!   random stream (the same seed replays the same requests).
//! - [`fixture`]: what requests are drawn from: id ranges from the database, cursors and
//!   ETags from the server, whether writes are accepted.
//! - [`server`]: the server under test, a child process of this binary (so its memory can
//!   be read), or one already running.
//! - [`access`]: the second server the access variants load (the full schema, roles on) and
//!   the viewer's token they send.
//! - [`client`] and [`load`]: the load generator (hyper, a fixed number of connections;
//!   a closed-loop phase for the maximum rate, a fixed-rate phase for latency).
//! - [`stats`]: HDR histograms and counts.
//! - [`database`]: the database under test as the harness reads it (the fixture's facts),
//!   on either engine.
//! - [`database_limit`]: the same SQL run straight through the engine's fastest native
//!   client (rusqlite, tokio-postgres with pipelining), without the server.
//! - [`postgres_values`]: binding plan literals to tokio-postgres parameters.
//! - [`report`]: JSON and markdown.
//!
//! [`run`] is the whole run; the binary only parses the flags and prints the table.

pub mod access;
pub mod client;
pub mod database;
pub mod database_limit;
pub mod fixture;
pub mod load;
pub mod options;
pub mod postgres_values;
pub mod report;
pub mod server;
pub mod stats;
pub mod workload;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxbase_examples::Scale;
use oxbase_query::plan::Limits;
use oxbase_schema::Schema;
use oxbase_schema::dialect::Dialect;
use oxbase_server::config::DatabaseUrl;
use oxbase_store::seed::{SeedError, example_schema, seed_example};

pub use options::BenchOptions;
pub use report::Report;

use crate::database::{Database, create_postgres_database};
use crate::database_limit::{DatabaseLimit, Workload, measure, plan_reads, plan_writes};
use crate::fixture::{DataFacts, build_fixture, probe_write, read_facts};
use crate::load::{LoadPlan, Phase, closed_loop, fixed_rate, success, success_or_not_modified};
use crate::report::{DataCount, FixedRate, HttpLimit, ScenarioReport, Settings, this_machine};
use crate::server::{ServerProcess, loopback_address};
use crate::stats::LatencySummary;
use crate::workload::{Access, BULK_ROWS, BenchRequest, Fixture, Kind, Method, Scenario, generate, worker_rng};

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Options(String),
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error("the server under test: {0}")]
    Server(String),
    #[error("the database: {0}")]
    Database(String),
    #[error("planning a workload request: {0}")]
    Plan(String),
    #[error("{path}: {source}")]
    Output { path: PathBuf, source: std::io::Error },
}

/// Requests pre-drawn per scenario for the database limit (the threads cycle through them).
const DATABASE_REQUESTS: usize = 64;

/// Everything one run shares.
struct Run<'a> {
    options: &'a BenchOptions,
    schema: Schema,
    database_url: DatabaseUrl,
    limits: Limits,
    warmup: Duration,
    address: SocketAddr,
    server: Option<ServerProcess>,
    /// The server the access variants load, when one is selected.
    access_server: Option<ServerProcess>,
    runtime: tokio::runtime::Runtime,
}

/// Prepares the database, starts (or reaches) the server, measures the HTTP limit and each
/// scenario with its database limit, and writes `bench.json` and `bench.md` to `--out`.
pub fn run(options: &BenchOptions) -> Result<Report, BenchError> {
    let started = Instant::now();
    let load_average_start = report::load_average();
    let started_at =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    if options.example != "pearl" {
        return Err(BenchError::Options(format!("no workload for example '{}': only pearl has one", options.example)));
    }
    let scale = Scale::parse(&options.scale).ok_or_else(|| {
        BenchError::Options(format!("unknown scale '{}': use small, default or large", options.scale))
    })?;
    let scenarios = workload::select_scenarios(&options.scenario).map_err(BenchError::Options)?;
    let url = DatabaseUrl::parse(&options.database).map_err(|error| BenchError::Options(error.to_string()))?;
    let target = options.url.as_deref().map(loopback_address).transpose()?;
    std::fs::create_dir_all(&options.out).map_err(|source| BenchError::Output { path: options.out.clone(), source })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |count| count.get()))
        .enable_all()
        .build()
        .map_err(|error| BenchError::Server(format!("cannot start the load generator's runtime: {error}")))?;

    if let DatabaseUrl::Postgres(postgres_url) = &url
        && runtime.block_on(create_postgres_database(postgres_url))?
    {
        tracing::info!("created the database {url}");
    }
    // Blocking (the server's seeding runs its own PostgreSQL client): outside the runtime.
    prepare_database(&url, &options.example, scale)?;
    let with_access = scenarios.iter().any(|scenario| scenario.access == Access::Viewer);
    let access_schema_path = options.out.join("schema-access.toml");
    if with_access {
        // Before either server starts, so neither sees the account change mid-run.
        access::set_viewer_password(&options.example, &access_schema_path, &options.database)?;
    }
    let schema = example_schema(&options.example)?;
    let schema_path = options.out.join("schema.toml");
    // Access control off: every scenario reads and writes as an anonymous client. (A
    // per-scenario role would measure the rules; see docs/benchmarks.md.)
    let source = oxbase_examples::schema_source_without_access(&options.example).expect("the example exists");
    std::fs::write(&schema_path, source).map_err(|source| BenchError::Output { path: schema_path.clone(), source })?;
    let database = runtime.block_on(Database::open(&url))?;
    let facts = runtime.block_on(read_facts(&database, &schema))?;

    let mut extra = Vec::new();
    if let Some(cache) = &options.cache {
        extra.extend(["--cache".to_owned(), cache.clone()]);
    }
    if let Some(redis) = &options.redis {
        extra.extend(["--redis".to_owned(), redis.clone()]);
    }
    let (server, address) = match target {
        Some(address) => (None, address),
        None => {
            let server =
                ServerProcess::start(&schema_path, &options.database, &extra, &options.out.join("server.log"))?;
            tracing::info!(pid = server.pid(), address = %server.address, "started the server under test");
            let address = server.address;
            (Some(server), address)
        }
    };
    // The server under test takes its page sizes from the same file.
    let file_settings = oxbase_server::config::FileSettings::parse(source, &options.example)
        .map_err(|errors| BenchError::Options(errors.to_string()))?;
    let defaults = oxbase_server::config::settings::ServerSettings::default();
    let limits = Limits {
        default_page_size: file_settings.server.default_page_size.unwrap_or(defaults.default_page_size),
        max_page_size: file_settings.server.max_page_size.unwrap_or(defaults.max_page_size),
        ..Limits::default()
    };
    let mut run = Run {
        options,
        schema,
        database_url: url.clone(),
        limits,
        warmup: (options.duration / 10).clamp(Duration::from_millis(100), Duration::from_secs(1)),
        address,
        server,
        access_server: None,
        runtime,
    };
    run.runtime.block_on(wait_until_ready(address))?;
    let mut fixture =
        run.runtime.block_on(build_fixture(address, &database, &run.schema, &run.limits, &facts, options.seed))?;
    drop(database);
    if with_access {
        // Started even with --url: the harness makes the access server itself either way.
        let access_server =
            access::start(&access_schema_path, &options.database, &extra, &options.out.join("server-access.log"))?;
        tracing::info!(pid = access_server.pid(), address = %access_server.address, "started the access server");
        let access_address = access_server.address;
        run.access_server = Some(access_server);
        run.runtime.block_on(wait_until_ready(access_address))?;
        fixture.viewer_token = Some(run.runtime.block_on(access::log_in(access_address))?);
    }

    let mut overall_peak = run.server.as_ref().and_then(ServerProcess::peak_memory);
    tracing::info!("measuring the HTTP limit: GET /health/live");
    let http_limit = run.http_limit();
    // Reads first: writes change the data the reads draw from, and leave the server holding
    // more memory, which would show in the reads' peak RSS. The report keeps table order.
    let mut execution_order = scenarios.clone();
    execution_order.sort_by_key(|scenario| match scenario.kind {
        Kind::Read => 0,
        Kind::Write => 1,
        Kind::Realtime => 2,
    });
    let mut reports: Vec<ScenarioReport> = Vec::new();
    for &scenario in &execution_order {
        reports.push(run.scenario(scenario, &fixture));
        // An access variant sends its plain scenario's requests, whose statements the
        // database limit measures without the server: measured once for both, after the
        // variant, so the two load phases run back to back on equally warm database caches
        // (the limit runs those statements flat out and would warm them for the second).
        let variant_follows = scenario.access == Access::Off
            && execution_order.iter().any(|other| other.access != Access::Off && other.requests == scenario.id);
        if variant_follows {
            continue;
        }
        let plain = (scenario.access != Access::Off)
            .then(|| reports.iter().position(|report| report.id == scenario.requests))
            .flatten();
        match plain {
            Some(index) => {
                let plain_scenario =
                    execution_order.iter().find(|plain| plain.id == scenario.requests).expect("the plain one ran");
                let mut plain_report = std::mem::take(&mut reports[index]);
                run.measure_database_limit(&mut plain_report, plain_scenario, &fixture);
                let limit = plain_report.database_limit.clone();
                reports[index] = plain_report;
                reports.last_mut().expect("pushed above").database_limit = limit;
            }
            None => run.measure_database_limit(reports.last_mut().expect("pushed above"), scenario, &fixture),
        }
    }
    for report in &mut reports {
        report.compute_fractions(http_limit.as_ref().map(|limit| limit.requests_per_second));
        if let Some(peak) = report.server_peak_rss_mib
            && report.access.is_none()
        {
            overall_peak = Some(overall_peak.unwrap_or(0).max((peak * 1024.0 * 1024.0) as u64));
        }
    }
    reports.sort_by_key(|report| scenarios.iter().position(|scenario| scenario.id == report.id));
    report::compare_access(&mut reports, &scenarios);
    let access_peak = run.access_server.as_ref().and_then(ServerProcess::peak_memory);
    let access_peak = reports
        .iter()
        .filter(|report| report.access.is_some())
        .filter_map(|report| report.server_peak_rss_mib)
        .map(|peak| (peak * 1024.0 * 1024.0) as u64)
        .chain(access_peak)
        .max();
    if let Some(server) = run.server {
        server.stop();
    }
    if let Some(server) = run.access_server {
        server.stop();
    }

    let report = Report {
        oxbase_version: env!("CARGO_PKG_VERSION"),
        started_at,
        elapsed_seconds: started.elapsed().as_secs_f64(),
        machine: report::Machine { load_average_start, ..this_machine() },
        settings: Settings {
            example: options.example.clone(),
            scale: options.scale.clone(),
            database: url.to_string(),
            engine: match url {
                DatabaseUrl::Sqlite(_) => "SQLite",
                DatabaseUrl::Postgres(_) => "PostgreSQL",
            },
            duration_seconds: options.duration.as_secs_f64(),
            warmup_seconds: run.warmup.as_secs_f64(),
            concurrency: options.concurrency,
            rate_fraction: options.rate_fraction,
            seed: options.seed,
            server: options.url.clone().unwrap_or_else(|| {
                let mut server = "started by the harness".to_owned();
                if let Some(cache) = &options.cache {
                    server.push_str(&format!(", --cache {cache}"));
                }
                if options.redis.is_some() {
                    server.push_str(", with --redis");
                }
                server
            }),
        },
        data: facts_rows(&facts),
        http_limit,
        server_peak_rss_mib: overall_peak.map(mebibytes),
        access_server_peak_rss_mib: access_peak.map(mebibytes),
        scenarios: reports,
    };
    write_report(&options.out, &report)?;
    Ok(report)
}

fn facts_rows(facts: &DataFacts) -> Vec<DataCount> {
    facts.rows.iter().map(|(resource, rows)| DataCount { resource: resource.clone(), rows: *rows }).collect()
}

fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

/// Migrates and seeds, unless the database already holds the example's data.
fn prepare_database(url: &DatabaseUrl, example: &str, scale: Scale) -> Result<(), BenchError> {
    match seed_example(url, example, scale) {
        Ok(report) => {
            let rows: u64 = report.rows.iter().map(|(_, rows)| rows).sum();
            tracing::info!(rows, elapsed = ?report.elapsed, "seeded {example} into {url}");
            Ok(())
        }
        Err(SeedError::AlreadySeeded { .. }) => {
            tracing::info!("{url} already holds {example}'s data: using it as it is");
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}

/// Waits for `GET /health/ready` to answer 200.
async fn wait_until_ready(address: SocketAddr) -> Result<(), BenchError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let request = BenchRequest {
        method: Method::Get,
        path: "/health/ready".to_owned(),
        query: Vec::new(),
        headers: Vec::new(),
        body: None,
        read: None,
    };
    loop {
        let answer = async {
            let mut connection = client::Connection::open(address).await.ok()?;
            let http = connection.build(&request).ok()?;
            connection.send(http, false).await.ok()
        }
        .await;
        match answer {
            Some(answer) if answer.status == 200 => return Ok(()),
            _ if Instant::now() > deadline => {
                return Err(BenchError::Server(format!("http://{address}/health/ready did not answer 200 in 30 s")));
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn write_report(out: &Path, report: &Report) -> Result<(), BenchError> {
    let json_path = out.join("bench.json");
    let json = serde_json::to_string_pretty(report).expect("the report serialises");
    std::fs::write(&json_path, json + "\n").map_err(|source| BenchError::Output { path: json_path, source })?;
    let markdown_path = out.join("bench.md");
    std::fs::write(&markdown_path, report.to_markdown())
        .map_err(|source| BenchError::Output { path: markdown_path, source })?;
    Ok(())
}

impl Run<'_> {
    /// The server a scenario loads: the access server for the access variants.
    fn target(&self, scenario: &Scenario) -> (SocketAddr, Option<&ServerProcess>) {
        match (scenario.access, &self.access_server) {
            (Access::Viewer, Some(server)) => (server.address, Some(server)),
            _ => (self.address, self.server.as_ref()),
        }
    }

    fn load_plan(&self, scenario: &'static Scenario, fixture: &Fixture, expected_status: fn(u16) -> bool) -> LoadPlan {
        let seed = self.options.seed;
        let fixture = Arc::new(fixture.clone());
        LoadPlan {
            address: self.target(scenario).0,
            connections: usize::from(self.options.concurrency),
            rng: Arc::new(move |worker| worker_rng(seed, scenario, worker)),
            next_request: Arc::new(move |rng| generate(scenario, &fixture, rng)),
            expected_status,
        }
    }

    fn http_limit(&self) -> Option<HttpLimit> {
        let live = BenchRequest {
            method: Method::Get,
            path: "/health/live".to_owned(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            read: None,
        };
        let plan = LoadPlan {
            address: self.address,
            connections: usize::from(self.options.concurrency),
            rng: Arc::new(|worker| fastrand::Rng::with_seed(worker as u64)),
            next_request: Arc::new(move |_| Some(live.clone())),
            expected_status: success,
        };
        let closed = self.runtime.block_on(closed_loop(&plan, self.warmup, self.options.duration));
        let maximum = closed.answers_per_second();
        if closed.tally.answered == 0 {
            tracing::warn!(first_error = closed.tally.first_error, "GET /health/live got no answer");
            return None;
        }
        // Latency at the same fraction of the maximum as the scenarios', so the rows compare.
        let fixed =
            self.runtime.block_on(fixed_rate(&plan, maximum * self.options.rate_fraction, self.options.duration));
        tracing::info!(requests_per_second = maximum, "HTTP limit");
        Some(HttpLimit {
            requests_per_second: maximum,
            latency: LatencySummary::of(&fixed.tally.histogram),
            errors: closed.tally.errors + closed.tally.unexpected + fixed.tally.errors + fixed.tally.unexpected,
        })
    }

    /// Runs one scenario's load: its availability, the closed-loop and fixed-rate phases
    /// (the database limit is [`Run::measure_database_limit`]).
    fn scenario(&self, scenario: &'static Scenario, fixture: &Fixture) -> ScenarioReport {
        let mut report = ScenarioReport {
            id: scenario.id.to_owned(),
            group: scenario.group.to_owned(),
            name: scenario.name.to_owned(),
            request: scenario.shape.to_owned(),
            access: (scenario.access == Access::Viewer).then(|| workload::VIEWER.to_owned()),
            ..ScenarioReport::default()
        };
        if let Err(reason) = self.availability(scenario, fixture) {
            tracing::info!(scenario = scenario.id, "not available: {reason}");
            report.note = Some(format!("not available: {reason}"));
            return report;
        }
        report.available = true;
        let expected_status = if scenario.id == "S8-conditional" { success_or_not_modified } else { success };
        let plan = self.load_plan(scenario, fixture, expected_status);
        let server = self.target(scenario).1;
        let reset = server.is_some_and(ServerProcess::reset_peak_memory);

        tracing::info!(scenario = scenario.id, "closed loop: the maximum rate");
        let closed = self.runtime.block_on(closed_loop(&plan, self.warmup, self.options.duration));
        let maximum = closed.answers_per_second();
        fill_closed_loop(&mut report, &closed);
        if scenario.id == "S7" {
            report.rows_per_second = Some(maximum * BULK_ROWS as f64);
        }
        if maximum > 0.0 {
            let rate = maximum * self.options.rate_fraction;
            tracing::info!(scenario = scenario.id, rate, "fixed rate: the latency");
            let fixed = self.runtime.block_on(fixed_rate(&plan, rate, self.options.duration));
            report.fixed_rate = Some(FixedRate {
                target_rate: rate,
                achieved_rate: fixed.answers_per_second(),
                latency: LatencySummary::of(&fixed.tally.histogram),
                errors: fixed.tally.errors,
                unexpected_status: fixed.tally.unexpected,
                dropped: fixed.tally.dropped,
            });
            if report.first_error.is_none() {
                report.first_error = fixed.tally.first_error.clone();
            }
        }
        if let Some(server) = server {
            report.server_peak_rss_mib = server.peak_memory().map(mebibytes);
            if !reset {
                report.note = Some("peak RSS is the server's peak since it started".to_owned());
            }
        }
        report
    }

    /// Measures the database limit of a scenario that ran (reads and writes) into its report.
    fn measure_database_limit(&self, report: &mut ScenarioReport, scenario: &'static Scenario, fixture: &Fixture) {
        if report.available && matches!(scenario.kind, Kind::Read | Kind::Write) {
            tracing::info!(scenario = scenario.id, "database limit");
            match self.database_limit(scenario, fixture) {
                Ok(limit) => report.database_limit = Some(limit),
                Err(error) => {
                    tracing::warn!(scenario = scenario.id, "no database limit: {error}");
                    report.note = Some(format!("no database limit: {error}"));
                }
            }
        }
        tracing::info!(
            scenario = scenario.id,
            requests_per_second = report.requests_per_second,
            database_limit = report.database_limit.as_ref().map(|limit| limit.requests_per_second),
            "done"
        );
    }

    /// Whether a scenario can run against this server and data.
    fn availability(&self, scenario: &'static Scenario, fixture: &Fixture) -> Result<(), String> {
        let mut rng = worker_rng(self.options.seed, scenario, usize::MAX);
        match scenario.kind {
            Kind::Realtime => Err("the realtime API (WebSocket subscriptions) does not exist yet".to_owned()),
            Kind::Write => {
                let request = generate(scenario, fixture, &mut rng).ok_or("no request to send")?;
                self.runtime.block_on(probe_write(self.target(scenario).0, &request))
            }
            Kind::Read => match generate(scenario, fixture, &mut rng) {
                Some(_) => Ok(()),
                None if scenario.id == "S8-conditional" => Err("the server sends no ETag".to_owned()),
                None if scenario.id == "S4-cursor" => {
                    Err("the server gave no next-page cursor (Link header) for the deep page".to_owned())
                }
                None => Err("no request to send".to_owned()),
            },
        }
    }

    /// The scenario's database limit: its requests' statements run without the server.
    fn database_limit(&self, scenario: &'static Scenario, fixture: &Fixture) -> Result<DatabaseLimit, BenchError> {
        let mut rng = worker_rng(self.options.seed, scenario, usize::MAX - 1);
        let requests: Vec<BenchRequest> =
            (0..DATABASE_REQUESTS).filter_map(|_| generate(scenario, fixture, &mut rng)).collect();
        let dialect = match self.database_url {
            DatabaseUrl::Sqlite(_) => Dialect::Sqlite,
            DatabaseUrl::Postgres(_) => Dialect::Postgres,
        };
        let workload = match scenario.kind {
            Kind::Write => {
                let now = oxbase_schema::values::format_timestamp(time::OffsetDateTime::now_utc());
                Workload::Writes(plan_writes(&self.schema, &self.limits, &requests, dialect, &now)?)
            }
            _ => {
                let reads: Vec<_> = requests.into_iter().filter_map(|request| request.read).collect();
                Workload::Reads(plan_reads(&self.schema, &self.limits, &reads, dialect)?)
            }
        };
        measure(
            &self.database_url,
            &workload,
            usize::from(self.options.concurrency),
            self.warmup,
            self.options.duration,
            &self.runtime,
        )
    }
}

fn fill_closed_loop(report: &mut ScenarioReport, phase: &Phase) {
    let tally = &phase.tally;
    report.requests_per_second = Some(phase.answers_per_second());
    report.requests = tally.answered;
    report.errors = tally.errors;
    report.unexpected_status = tally.unexpected;
    report.statuses = tally.statuses.clone();
    report.closed_loop_latency = LatencySummary::of(&tally.histogram);
    report.statements_per_request = tally.statements_per_request();
    // Writes never answer without a statement; for reads that is a cache hit.
    report.cache_hit_rate = tally.without_statements_share();
    report.bytes_per_response = tally.bytes_per_response();
    report.first_error = tally.first_error.clone();
}
