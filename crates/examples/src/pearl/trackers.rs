//! Trackers (one per item), tags, and the tags each tracker carries.

use fastrand::Rng;

use super::clock::{self, MICROSECONDS_PER_DAY, START_OF_2025, START_OF_2026, START_OF_2028};
use super::comments::{plan_thread, unresolved_count};
use super::items::EffortLayout;
use super::vocabulary::TAGS;
use super::{
    SeedSummary, Sizes, Table, chance, distinct_ids, integer, optional_integer, optional_text, random_stream, text,
    weighted,
};
use crate::RowSink;

const TRACKER_COLUMNS: &[&str] = &[
    "id",
    "reporting_effort_item_id",
    "reporting_effort_id",
    "production_programmer_id",
    "qc_programmer_id",
    "production_status",
    "qc_status",
    "priority",
    "due_date",
    "qc_completion_date",
    "unresolved_comment_count",
    "updated_at",
];
const TAG_COLUMNS: &[&str] = &["id", "name", "color", "description"];
const TRACKER_TAG_COLUMNS: &[&str] = &["id", "tracker_id", "tag_id", "created_at"];

/// One tracker per item, with the same id as its item.
pub(super) fn emit_trackers<S: RowSink>(
    layout: &EffortLayout,
    programmers: &[u64],
    comments_per_tracker: &[u32],
    sink: &mut S,
    summary: &mut SeedSummary,
) -> Result<(), S::Error> {
    let mut rng = random_stream("trackers");
    let mut table = Table::new(sink, "trackers", TRACKER_COLUMNS);
    let mut thread = Vec::new();
    for (item, &comment_count) in layout.items().zip(comments_per_tracker) {
        let tracker_id = item.item_id;
        let production_programmer = (!chance(&mut rng, 10)).then(|| pick_programmer(&mut rng, programmers, None));
        let qc_programmer =
            (!chance(&mut rng, 15)).then(|| pick_programmer(&mut rng, programmers, production_programmer));
        let production_status =
            weighted(&mut rng, &[("not_started", 30), ("in_progress", 35), ("completed", 25), ("on_hold", 10)]);
        // QC follows production: it completes only what production has completed.
        let qc_status = match production_status {
            "completed" => {
                weighted(&mut rng, &[("not_started", 5), ("in_progress", 25), ("completed", 60), ("failed", 10)])
            }
            "in_progress" => weighted(&mut rng, &[("not_started", 70), ("in_progress", 30)]),
            _ => weighted(&mut rng, &[("not_started", 90), ("failed", 10)]),
        };
        let priority = weighted(&mut rng, &[(1, 10), (2, 20), (3, 40), (4, 20), (5, 10)]);
        let due_date = (!chance(&mut rng, 10))
            .then(|| clock::date_text(clock::random_instant(&mut rng, START_OF_2025, START_OF_2028)));
        let updated_at = clock::random_instant(&mut rng, START_OF_2025, START_OF_2026);
        // Completing QC is an update, so it happens no later than the last one.
        let qc_completion_date =
            (qc_status == "completed").then(|| clock::date_text(updated_at - rng.i64(0..30 * MICROSECONDS_PER_DAY)));
        plan_thread(tracker_id, comment_count, &mut thread);
        table.push(vec![
            integer(tracker_id),
            integer(item.item_id),
            integer(item.reporting_effort_id),
            optional_integer(production_programmer),
            optional_integer(qc_programmer),
            text(production_status),
            text(qc_status),
            integer(priority),
            optional_text(due_date),
            optional_text(qc_completion_date),
            integer(u64::from(unresolved_count(&thread))),
            text(clock::timestamp_text(updated_at)),
        ])?;
    }
    table.finish(summary)
}

/// A programmer other than `other` when there is one: nobody QCs their own work.
fn pick_programmer(rng: &mut Rng, programmers: &[u64], other: Option<u64>) -> u64 {
    loop {
        let programmer = programmers[rng.u32(0..programmers.len() as u32) as usize];
        if Some(programmer) != other || programmers.len() == 1 {
            return programmer;
        }
    }
}

pub(super) fn emit_tags<S: RowSink>(sizes: &Sizes, sink: &mut S, summary: &mut SeedSummary) -> Result<(), S::Error> {
    let mut rng = random_stream("tracker_tags");
    let mut table = Table::new(sink, "tracker_tags", TAG_COLUMNS);
    for id in 1..=sizes.tags {
        let index = (id - 1) as usize;
        let (base_name, description) = TAGS[index % TAGS.len()];
        // Beyond the named tags, later rounds repeat them numbered, keeping names unique.
        let round = index / TAGS.len();
        let name = if round == 0 { base_name.to_owned() } else { format!("{base_name}-{}", round + 1) };
        let color = format!("#{:06x}", rng.u32(0..0x0100_0000));
        let description = (!chance(&mut rng, 20)).then(|| description.to_owned());
        table.push(vec![integer(id), text(name), text(color), optional_text(description)])?;
    }
    table.finish(summary)
}

/// About 1.5 distinct tags per tracker.
pub(super) fn emit_tracker_tags<S: RowSink>(
    sizes: &Sizes,
    sink: &mut S,
    summary: &mut SeedSummary,
) -> Result<(), S::Error> {
    let mut rng = random_stream("tracker_item_tags");
    let mut table = Table::new(sink, "tracker_item_tags", TRACKER_TAG_COLUMNS);
    let mut tag_ids = Vec::new();
    let mut id = 0;
    for tracker_id in 1..=sizes.items {
        let tag_count = weighted(&mut rng, &[(0, 15), (1, 35), (2, 35), (3, 15)]);
        distinct_ids(&mut rng, sizes.tags, tag_count, &mut tag_ids);
        for &tag_id in &tag_ids {
            id += 1;
            let created_at = clock::random_instant(&mut rng, START_OF_2025, START_OF_2026);
            table.push(vec![
                integer(id),
                integer(tracker_id),
                integer(tag_id),
                text(clock::timestamp_text(created_at)),
            ])?;
        }
    }
    table.finish(summary)
}
