//! The pearl rules the schema cannot state: trackers follow their items, statuses
//! agree, comment counts match, threads stay within a tracker.

use std::collections::{BTreeMap, BTreeSet};

use oxbase_schema::model::Literal;

use super::{Generated, as_integer, as_text};

#[test]
fn trackers_follow_their_items() {
    let generated = Generated::small();
    let item_effort = generated.column("reporting_effort_items", "reporting_effort_id");
    let efforts_of_items: Vec<i64> =
        generated.rows("reporting_effort_items").map(|row| as_integer(&row[item_effort])).collect();
    let tracker_item = generated.column("trackers", "reporting_effort_item_id");
    let tracker_effort = generated.column("trackers", "reporting_effort_id");
    for row in generated.rows("trackers") {
        let item_id = as_integer(&row[tracker_item]);
        assert_eq!(as_integer(&row[tracker_effort]), efforts_of_items[item_id as usize - 1]);
    }
}

#[test]
fn tracker_fields_follow_their_statuses() {
    let generated = Generated::small();
    let production_status = generated.column("trackers", "production_status");
    let qc_status = generated.column("trackers", "qc_status");
    let qc_completion_date = generated.column("trackers", "qc_completion_date");
    let production_programmer = generated.column("trackers", "production_programmer_id");
    let qc_programmer = generated.column("trackers", "qc_programmer_id");
    let mut statuses = BTreeSet::new();
    for row in generated.rows("trackers") {
        let qc_completed = as_text(&row[qc_status]) == "completed";
        assert_eq!(qc_completed, row[qc_completion_date] != Literal::Null);
        if qc_completed {
            assert_eq!(as_text(&row[production_status]), "completed");
        }
        if row[production_programmer] != Literal::Null {
            assert_ne!(row[production_programmer], row[qc_programmer], "nobody QCs their own work");
        }
        statuses.insert((as_text(&row[production_status]).to_owned(), as_text(&row[qc_status]).to_owned()));
    }
    assert!(statuses.len() >= 8, "a spread of statuses: {statuses:?}");
}

#[test]
fn unresolved_comment_count_matches_comments() {
    let generated = Generated::small();
    let tracker_column = generated.column("tracker_comments", "tracker_id");
    let parent_column = generated.column("tracker_comments", "parent_comment_id");
    let resolved_column = generated.column("tracker_comments", "is_resolved");
    let mut unresolved: BTreeMap<i64, i64> = BTreeMap::new();
    for row in generated.rows("tracker_comments") {
        if row[parent_column] == Literal::Null && row[resolved_column] == Literal::Boolean(false) {
            *unresolved.entry(as_integer(&row[tracker_column])).or_default() += 1;
        }
    }
    let count_column = generated.column("trackers", "unresolved_comment_count");
    for row in generated.rows("trackers") {
        let tracker_id = as_integer(&row[0]);
        let expected = unresolved.get(&tracker_id).copied().unwrap_or(0);
        assert_eq!(as_integer(&row[count_column]), expected, "tracker {tracker_id}");
    }
    assert!(unresolved.values().sum::<i64>() > 0, "some comments stay unresolved");
}

#[test]
fn replies_answer_an_earlier_comment_of_the_same_tracker() {
    let generated = Generated::small();
    let tracker_column = generated.column("tracker_comments", "tracker_id");
    let parent_column = generated.column("tracker_comments", "parent_comment_id");
    let resolved_column = generated.column("tracker_comments", "is_resolved");
    let resolved_at_column = generated.column("tracker_comments", "resolved_at");
    let created_at_column = generated.column("tracker_comments", "created_at");
    let comments: Vec<&Vec<Literal>> = generated.rows("tracker_comments").collect();
    let mut replies = 0;
    for row in &comments {
        let is_resolved = row[resolved_column] == Literal::Boolean(true);
        assert_eq!(is_resolved, row[resolved_at_column] != Literal::Null, "resolved_at iff is_resolved");
        if is_resolved {
            assert!(as_text(&row[resolved_at_column]) > as_text(&row[created_at_column]));
        }
        if row[parent_column] == Literal::Null {
            continue;
        }
        replies += 1;
        let parent = comments[as_integer(&row[parent_column]) as usize - 1];
        assert!(as_integer(&parent[0]) < as_integer(&row[0]));
        assert_eq!(parent[tracker_column], row[tracker_column]);
        assert!(as_text(&parent[created_at_column]) < as_text(&row[created_at_column]));
    }
    let reply_share = replies as f64 / comments.len() as f64;
    assert!((0.25..=0.35).contains(&reply_share), "about 30% replies, got {reply_share}");
}

#[test]
fn users_start_with_admin_and_ten_editors() {
    let generated = Generated::small();
    let users: Vec<&Vec<Literal>> = generated.rows("users").collect();
    assert_eq!(
        users[0][1..4],
        [Literal::Text("admin".into()), Literal::Text("admin@example.com".into()), Literal::Text("admin".into())]
    );
    for (number, user) in (1..=10).zip(&users[1..11]) {
        assert_eq!(as_text(&user[1]), format!("editor{number}"));
        assert_eq!(as_text(&user[3]), "editor");
    }
    let viewers = users.iter().filter(|user| as_text(&user[3]) == "viewer").count();
    assert!(viewers > 10, "most generated users are viewers, got {viewers}");
}

#[test]
fn timestamps_render_in_the_fixed_width_utc_form() {
    use crate::pearl::clock::{START_OF_2025, START_OF_2028, date_text, timestamp_text};
    assert_eq!(timestamp_text(START_OF_2025), "2025-01-01T00:00:00.000000Z");
    assert_eq!(timestamp_text(START_OF_2028 - 1), "2027-12-31T23:59:59.999999Z");
    assert_eq!(date_text(START_OF_2028 - 1), "2027-12-31");
}
