//! The load generator: a fixed number of keep-alive connections, each driven by one task,
//! in two kinds of phase.
//!
//! - **Closed loop** ([`closed_loop`]): every connection sends its next request as soon as
//!   the previous answer is read. This finds the most requests per second the server
//!   sustains at that concurrency: the throughput figure, and the one compared with the
//!   database and HTTP limits.
//! - **Fixed rate** ([`fixed_rate`]): requests are due on a constant schedule (connection
//!   `k` of `n` sends request `j` at `start + (k + j·n) / rate`), and each latency is
//!   measured from the time the request was *due*, not from when it could be sent. When a
//!   slow answer holds a connection past the next due time, the wait counts as latency, so
//!   stalls are not hidden (no coordinated omission). Only when the connection was idle and
//!   the timer woke it late is the measurement taken from the wake-up: that lateness (up to
//!   a millisecond of timer granularity) belongs to the generator, not the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fastrand::Rng;
use tokio::time::{Instant, sleep, sleep_until, timeout};

use crate::client::{Answer, Connection};
use crate::stats::Tally;
use crate::workload::BenchRequest;

/// A request that takes longer than this counts as an error (and its connection is replaced).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Tokio's timer wakes up on millisecond ticks: a request due sooner than this is sent
/// at once rather than slept for, so the schedule holds when a connection's interval is
/// below a millisecond.
const TIMER_SLACK: Duration = Duration::from_millis(1);

/// Draws a connection's next request from its random stream.
pub type RequestSource = Arc<dyn Fn(&mut Rng) -> Option<BenchRequest> + Send + Sync>;

/// What to send, where, and which answers are right.
#[derive(Clone)]
pub struct LoadPlan {
    pub address: SocketAddr,
    pub connections: usize,
    /// The random stream of connection `k`.
    pub rng: Arc<dyn Fn(usize) -> Rng + Send + Sync>,
    /// The next request, drawn from a connection's stream.
    pub next_request: RequestSource,
    /// Statuses the scenario expects.
    pub expected_status: fn(u16) -> bool,
}

/// A phase's counts and the rate of answers.
#[derive(Debug, Clone)]
pub struct Phase {
    pub tally: Tally,
    /// Answers per second.
    pub rate: f64,
}

impl Phase {
    /// Answers per second.
    pub fn answers_per_second(&self) -> f64 {
        self.rate
    }
}

/// One worker's answers and the span they were counted over: from the start of its first
/// request that ended in the window to its last answer. Dividing per worker, not by the window, keeps the
/// rate right when a request takes a large part of the window (a request still running at
/// the end would otherwise be lost, and all workers starting together would bunch their
/// answers).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WorkerRate {
    pub answers: u64,
    pub span: Duration,
}

impl WorkerRate {
    /// Answers per second of this worker.
    pub fn per_second(self) -> f64 {
        if self.span.is_zero() { 0.0 } else { self.answers as f64 / self.span.as_secs_f64() }
    }
}

/// The rate of all workers together: the sum of each worker's own rate.
pub fn total_rate(workers: &[WorkerRate]) -> f64 {
    workers.iter().map(|worker| worker.per_second()).sum()
}

/// Statuses a plain request expects.
pub fn success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// Statuses a conditional request expects.
pub fn success_or_not_modified(status: u16) -> bool {
    success(status) || status == 304
}

fn record_answer(tally: &mut Tally, answer: &Answer, expected_status: fn(u16) -> bool) {
    tally.answered += 1;
    *tally.statuses.entry(answer.status).or_default() += 1;
    if !expected_status(answer.status) {
        tally.unexpected += 1;
    }
    let statements = answer.statements();
    tally.statements += u64::from(statements.unwrap_or(0));
    if statements == Some(0) {
        tally.without_statements += 1;
    }
    tally.body_bytes += answer.body_bytes as u64;
}

/// Opens every connection before the clock starts, so connecting is not measured.
async fn open_connections(plan: &LoadPlan) -> Vec<Option<Connection>> {
    let mut connections = Vec::with_capacity(plan.connections);
    for _ in 0..plan.connections {
        connections.push(Connection::open(plan.address).await.ok());
    }
    connections
}

/// One request on a worker's connection, reconnecting first if needed.
async fn exchange(
    plan: &LoadPlan,
    connection: &mut Option<Connection>,
    request: &BenchRequest,
) -> Result<Answer, String> {
    if connection.is_none() {
        match Connection::open(plan.address).await {
            Ok(opened) => *connection = Some(opened),
            Err(error) => {
                // The server may be restarting or gone: do not spin.
                sleep(Duration::from_millis(50)).await;
                return Err(error.to_string());
            }
        }
    }
    let open = connection.as_mut().expect("connected above");
    let http = open.build(request).map_err(|error| error.to_string())?;
    match timeout(REQUEST_TIMEOUT, open.send(http, false)).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(error)) => {
            *connection = None;
            Err(error.to_string())
        }
        Err(_) => {
            *connection = None;
            Err(format!("no answer within {REQUEST_TIMEOUT:?}"))
        }
    }
}

async fn gather(workers: Vec<tokio::task::JoinHandle<(Tally, WorkerRate)>>) -> (Tally, Vec<WorkerRate>) {
    let mut total = Tally::default();
    let mut rates = Vec::with_capacity(workers.len());
    for worker in workers {
        match worker.await {
            Ok((tally, rate)) => {
                total.merge(&tally);
                rates.push(rate);
            }
            Err(error) => total.record_error(format!("a load task failed: {error}")),
        }
    }
    (total, rates)
}

/// Every connection sends back to back: a warm-up, then `duration` counted. A connection
/// that has no answer in the window yet keeps going for up to another `duration`.
pub async fn closed_loop(plan: &LoadPlan, warmup: Duration, duration: Duration) -> Phase {
    let connections = open_connections(plan).await;
    let measure_from = Instant::now() + warmup;
    let end = measure_from + duration;
    let last_chance = end + duration;
    let mut workers = Vec::with_capacity(connections.len());
    for (index, mut connection) in connections.into_iter().enumerate() {
        let plan = plan.clone();
        workers.push(tokio::spawn(async move {
            let mut rng = (plan.rng)(index);
            let mut tally = Tally::default();
            let mut first_sent = None;
            let mut last_answer = None;
            loop {
                let now = Instant::now();
                if now >= end && (tally.answered > 0 || now >= last_chance) {
                    break;
                }
                let Some(request) = (plan.next_request)(&mut rng) else { break };
                let sent = Instant::now();
                let result = exchange(&plan, &mut connection, &request).await;
                let done = Instant::now();
                if done < measure_from {
                    continue;
                }
                // A request that began in the warm-up but ends in the window counts, with
                // its whole duration: slow requests may take longer than the warm-up.
                first_sent.get_or_insert(sent);
                match result {
                    Ok(answer) => {
                        record_answer(&mut tally, &answer, plan.expected_status);
                        tally.record_latency(done - sent);
                        last_answer = Some(done);
                    }
                    Err(error) => tally.record_error(error),
                }
            }
            let span = match (first_sent, last_answer) {
                (Some(first), Some(last)) => last - first,
                _ => Duration::ZERO,
            };
            let rate = WorkerRate { answers: tally.answered, span };
            (tally, rate)
        }));
    }
    let (tally, rates) = gather(workers).await;
    Phase { tally, rate: total_rate(&rates) }
}

/// When connection `worker` of `connections` is due to send its `sequence`-th request on a
/// schedule of `rate` requests per second spread evenly over all connections.
pub fn due_time(start: Instant, rate: f64, connections: usize, worker: usize, sequence: u64) -> Instant {
    let slot = worker as f64 + sequence as f64 * connections as f64;
    start + Duration::from_secs_f64(slot / rate)
}

/// Sends `rate` requests per second in total for `duration`, latency measured from each
/// request's due time (see the module doc).
pub async fn fixed_rate(plan: &LoadPlan, rate: f64, duration: Duration) -> Phase {
    let connections = open_connections(plan).await;
    let count = connections.len();
    let start = Instant::now() + Duration::from_millis(20);
    let end = start + duration;
    let mut workers = Vec::with_capacity(count);
    for (index, mut connection) in connections.into_iter().enumerate() {
        let plan = plan.clone();
        workers.push(tokio::spawn(async move {
            let mut rng = (plan.rng)(index);
            let mut tally = Tally::default();
            let mut sequence = 0;
            loop {
                let due = due_time(start, rate, count, index, sequence);
                if due >= end {
                    break;
                }
                sequence += 1;
                let now = Instant::now();
                if now >= end {
                    // Behind schedule when time ran out: every request still due was never
                    // sent; record how long each had waited already (a lower bound).
                    let mut pending = due;
                    let mut next = sequence;
                    while pending < end {
                        tally.dropped += 1;
                        tally.record_latency(now - pending);
                        pending = due_time(start, rate, count, index, next);
                        next += 1;
                    }
                    break;
                }
                let measured_from = if now + TIMER_SLACK < due {
                    sleep_until(due).await;
                    Instant::now()
                } else if now < due {
                    // Closer than the timer can wait: send a little early, measured from now.
                    now
                } else {
                    due
                };
                let Some(request) = (plan.next_request)(&mut rng) else { break };
                match exchange(&plan, &mut connection, &request).await {
                    Ok(answer) => {
                        record_answer(&mut tally, &answer, plan.expected_status);
                        tally.record_latency(Instant::now() - measured_from);
                    }
                    Err(error) => tally.record_error(error),
                }
            }
            (tally, WorkerRate::default())
        }));
    }
    let (tally, _) = gather(workers).await;
    let rate = tally.answered as f64 / duration.as_secs_f64();
    Phase { tally, rate }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spreads_requests_evenly_over_connections() {
        let start = Instant::now();
        // 1,000 requests/s over 4 connections: one due every millisecond, round robin.
        let offsets: Vec<Duration> = (0..3)
            .flat_map(|sequence| (0..4).map(move |worker| (worker, sequence)))
            .map(|(worker, sequence)| due_time(start, 1000.0, 4, worker, sequence) - start)
            .collect();
        let expected: Vec<Duration> = (0..12).map(Duration::from_millis).collect();
        let mut sorted = offsets.clone();
        sorted.sort();
        assert_eq!(sorted, expected);
        assert_eq!(due_time(start, 1000.0, 4, 1, 2) - start, Duration::from_millis(9));
    }

    #[test]
    fn the_rate_is_summed_over_each_workers_own_span() {
        let workers = [
            WorkerRate { answers: 10, span: Duration::from_secs(2) },
            WorkerRate { answers: 3, span: Duration::from_millis(1500) },
            WorkerRate { answers: 0, span: Duration::ZERO },
        ];
        assert_eq!(total_rate(&workers), 5.0 + 2.0);
        assert_eq!(total_rate(&[]), 0.0);
    }

    #[test]
    fn expected_statuses() {
        assert!(success(200) && success(204) && !success(304) && !success(404));
        assert!(success_or_not_modified(304) && !success_or_not_modified(500));
    }
}
