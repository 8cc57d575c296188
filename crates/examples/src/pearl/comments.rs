//! Tracker comments, and the thread plan their trackers' `unresolved_comment_count` is
//! counted from.
//!
//! Trackers are emitted before their comments (comments reference them), yet each tracker
//! must carry the number of its unresolved top-level comments. Rather than holding every
//! comment in memory (3,000,000 at the large scale), each tracker's thread is planned from
//! a random stream seeded by the tracker's id, so the plan can be replayed: once to count
//! while emitting trackers, once to emit the comments themselves.

use fastrand::Rng;
use oxbase_schema::model::Literal;

use super::clock::{self, MICROSECONDS_PER_DAY, MICROSECONDS_PER_HOUR, MICROSECONDS_PER_MINUTE, START_OF_2025};
use super::vocabulary::{COMMENT_SENTENCES, REPLY_SENTENCES};
use super::{
    SeedSummary, Sizes, Table, chance, distinct_ids, integer, optional_integer, optional_text, random_stream,
    stream_seed, text,
};
use crate::RowSink;

const COMMENT_COLUMNS: &[&str] = &[
    "id",
    "tracker_id",
    "user_id",
    "parent_comment_id",
    "body",
    "comment_type",
    "is_resolved",
    "resolved_at",
    "created_at",
];

/// Of the comments after a thread's first, the share (in percent) that are replies; the
/// first comment of a thread never is, so this makes about 30% replies overall.
const REPLY_PERCENT: u32 = 44;

const THREAD_SEED: u64 = stream_seed("tracker_comments.threads");

/// How many comments each tracker gets (index = tracker id − 1).
pub(super) fn comments_per_tracker(sizes: &Sizes) -> Vec<u32> {
    let mut rng = random_stream("tracker_comments.per_tracker");
    let mut counts = vec![0_u32; sizes.items as usize];
    for _ in 0..sizes.comments {
        counts[rng.u64(0..sizes.items) as usize] += 1;
    }
    counts
}

/// The part of one comment that decides its tracker's unresolved count.
#[derive(Debug, Clone, Copy)]
pub(super) struct PlannedComment {
    /// The position, within the tracker's comments, of the top-level comment this replies to.
    pub(super) parent_position: Option<u32>,
    pub(super) is_resolved: bool,
}

/// Plans the thread of tracker `tracker_id` into `thread`, the same way every time.
pub(super) fn plan_thread(tracker_id: u64, comment_count: u32, thread: &mut Vec<PlannedComment>) {
    thread.clear();
    // Multiplying by the 64-bit golden ratio spreads neighbouring tracker ids far apart.
    let mut rng = Rng::with_seed(THREAD_SEED ^ tracker_id.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut top_level_positions = Vec::new();
    for position in 0..comment_count {
        let is_reply = !top_level_positions.is_empty() && chance(&mut rng, REPLY_PERCENT);
        let parent_position =
            is_reply.then(|| top_level_positions[rng.u32(0..top_level_positions.len() as u32) as usize]);
        if parent_position.is_none() {
            top_level_positions.push(position);
        }
        // Reviewers resolve the thread's opening comment; replies are rarely marked.
        let is_resolved = chance(&mut rng, if is_reply { 20 } else { 55 });
        thread.push(PlannedComment { parent_position, is_resolved });
    }
}

/// The tracker's `unresolved_comment_count`: top-level comments not resolved.
pub(super) fn unresolved_count(thread: &[PlannedComment]) -> u32 {
    thread.iter().filter(|comment| comment.parent_position.is_none() && !comment.is_resolved).count() as u32
}

pub(super) fn emit_comments<S: RowSink>(
    sizes: &Sizes,
    comments_per_tracker: &[u32],
    sink: &mut S,
    summary: &mut SeedSummary,
) -> Result<(), S::Error> {
    let mut rng = random_stream("tracker_comments");
    let mut table = Table::new(sink, "tracker_comments", COMMENT_COLUMNS);
    let mut thread = Vec::new();
    let mut sentence_ids = Vec::new();
    let mut next_id = 1;
    for (tracker_id, &comment_count) in (1..).zip(comments_per_tracker) {
        plan_thread(tracker_id, comment_count, &mut thread);
        let first_id = next_id;
        let mut created_at = clock::random_instant(&mut rng, START_OF_2025, START_OF_2025 + 300 * MICROSECONDS_PER_DAY);
        for planned in &thread {
            // Each comment comes after the one before it, so replies follow their parents.
            created_at += rng.i64(10 * MICROSECONDS_PER_MINUTE..3 * MICROSECONDS_PER_DAY);
            let sentences = if planned.parent_position.is_some() { REPLY_SENTENCES } else { COMMENT_SENTENCES };
            let sentence_count = rng.u32(1..=3) as usize;
            distinct_ids(&mut rng, sentences.len() as u64, sentence_count, &mut sentence_ids);
            let body: Vec<&str> = sentence_ids.iter().map(|&id| sentences[id as usize - 1]).collect();
            let comment_type = if chance(&mut rng, 30) { "biostat" } else { "programming" };
            let resolved_at = planned.is_resolved.then(|| {
                let resolved = created_at + rng.i64(MICROSECONDS_PER_HOUR..10 * MICROSECONDS_PER_DAY);
                clock::timestamp_text(resolved)
            });
            table.push(vec![
                integer(next_id),
                integer(tracker_id),
                integer(rng.u64(1..=sizes.users)),
                optional_integer(planned.parent_position.map(|position| first_id + u64::from(position))),
                text(body.join(" ")),
                text(comment_type),
                Literal::Boolean(planned.is_resolved),
                optional_text(resolved_at),
                text(clock::timestamp_text(created_at)),
            ])?;
            next_id += 1;
        }
    }
    table.finish(summary)
}
