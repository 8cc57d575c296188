//! Users, studies, database releases and reporting efforts: the few rows everything else
//! hangs from.

use super::clock::{self, START_OF_2023, START_OF_2024, START_OF_2025, START_OF_2026};
use super::vocabulary::{self, EFFORT_KINDS, FIRST_NAMES, LAST_NAMES, RELEASE_KINDS, STUDY_PREFIXES};
use super::{SeedSummary, Sizes, Table, chance, integer, optional_text, random_stream, text, weighted};
use crate::RowSink;
use oxbase_schema::model::Literal;

const USER_COLUMNS: &[&str] = &["id", "username", "email", "role", "created_at", "password_hash"];
const STUDY_COLUMNS: &[&str] = &["id", "study_label", "created_at"];
const RELEASE_COLUMNS: &[&str] = &["id", "study_id", "database_release_label", "release_date"];
const EFFORT_COLUMNS: &[&str] = &["id", "study_id", "database_release_id", "name", "created_at"];

/// Users 2 to 11 are always editors, so every scale has people to assign trackers to.
const FIRST_GENERATED_USER: u64 = 12;

/// Emits the users; returns the ids of the editors, who program and QC the trackers.
pub(super) fn emit_users<S: RowSink>(
    sizes: &Sizes,
    sink: &mut S,
    summary: &mut SeedSummary,
) -> Result<Vec<u64>, S::Error> {
    let mut rng = random_stream("users");
    let mut table = Table::new(sink, "users", USER_COLUMNS);
    let mut editors = Vec::new();
    let mut viewer_named = false;
    for id in 1..=sizes.users {
        let (username, role) = match id {
            1 => ("admin".to_owned(), "admin"),
            2..FIRST_GENERATED_USER => (format!("editor{}", id - 1), "editor"),
            _ => {
                let first = vocabulary::pick(&mut rng, FIRST_NAMES);
                let last = vocabulary::pick(&mut rng, LAST_NAMES);
                // The id keeps generated usernames unique however many share a name.
                let role = weighted(&mut rng, &[("admin", 2), ("editor", 38), ("viewer", 60)]);
                if role == "viewer" && !viewer_named {
                    // One viewer with a name to log in with, like admin and editor1 (the
                    // demo's accounts); the random draws are the same either way.
                    viewer_named = true;
                    ("viewer1".to_owned(), role)
                } else {
                    (format!("{first}.{last}{id}"), role)
                }
            }
        };
        if role == "editor" {
            editors.push(id);
        }
        let created_at = clock::spread_instant(&mut rng, START_OF_2023, START_OF_2024, id - 1, sizes.users);
        table.push(vec![
            integer(id),
            text(username.as_str()),
            text(format!("{username}@example.com")),
            text(role),
            text(clock::timestamp_text(created_at)),
            // No passwords: `oxbase demo` sets its demo users' own.
            Literal::Null,
        ])?;
    }
    table.finish(summary)?;
    Ok(editors)
}

/// Emits the studies; returns their labels (index = id − 1), which effort names repeat.
pub(super) fn emit_studies<S: RowSink>(
    sizes: &Sizes,
    sink: &mut S,
    summary: &mut SeedSummary,
) -> Result<Vec<String>, S::Error> {
    let mut rng = random_stream("studies");
    let mut table = Table::new(sink, "studies", STUDY_COLUMNS);
    let mut labels = Vec::with_capacity(sizes.studies as usize);
    for id in 1..=sizes.studies {
        // The number alone keeps labels unique; the prefix only makes them look real.
        let label = format!("{}-{}", vocabulary::pick(&mut rng, STUDY_PREFIXES), 1000 + id);
        let created_at = clock::spread_instant(&mut rng, START_OF_2023, START_OF_2024, id - 1, sizes.studies);
        table.push(vec![integer(id), text(label.as_str()), text(clock::timestamp_text(created_at))])?;
        labels.push(label);
    }
    table.finish(summary)?;
    Ok(labels)
}

/// Each study has the same number of releases, numbered study by study.
fn releases_per_study(sizes: &Sizes) -> u64 {
    (sizes.database_releases / sizes.studies).max(1)
}

pub(super) fn emit_database_releases<S: RowSink>(
    sizes: &Sizes,
    sink: &mut S,
    summary: &mut SeedSummary,
) -> Result<(), S::Error> {
    let mut rng = random_stream("database_releases");
    let mut table = Table::new(sink, "database_releases", RELEASE_COLUMNS);
    let per_study = releases_per_study(sizes);
    for id in 1..=sizes.database_releases {
        let study_id = ((id - 1) / per_study).min(sizes.studies - 1) + 1;
        let position_in_study = (id - 1) % per_study;
        let label = RELEASE_KINDS[(position_in_study as usize) % RELEASE_KINDS.len()];
        // A release not yet locked has no date.
        let release_date = (!chance(&mut rng, 10)).then(|| {
            let half_year = (START_OF_2026 - START_OF_2024) / 4;
            let from = START_OF_2024 + half_year * (position_in_study as i64 % 4);
            clock::date_text(clock::random_instant(&mut rng, from, from + half_year))
        });
        table.push(vec![integer(id), integer(study_id), text(label), optional_text(release_date)])?;
    }
    table.finish(summary)
}

pub(super) fn emit_reporting_efforts<S: RowSink>(
    sizes: &Sizes,
    study_labels: &[String],
    sink: &mut S,
    summary: &mut SeedSummary,
) -> Result<(), S::Error> {
    let mut rng = random_stream("reporting_efforts");
    let mut table = Table::new(sink, "reporting_efforts", EFFORT_COLUMNS);
    let per_study = releases_per_study(sizes);
    for id in 1..=sizes.reporting_efforts {
        let study_id = (id - 1) % sizes.studies + 1;
        // An effort reports on a release of its own study.
        let database_release_id = (study_id - 1) * per_study + 1 + rng.u64(0..per_study);
        let kind = vocabulary::pick(&mut rng, EFFORT_KINDS);
        let name = format!("{} {kind}", study_labels[(study_id - 1) as usize]);
        let created_at = clock::spread_instant(&mut rng, START_OF_2024, START_OF_2025, id - 1, sizes.reporting_efforts);
        table.push(vec![
            integer(id),
            integer(study_id),
            integer(database_release_id),
            text(name),
            text(clock::timestamp_text(created_at)),
        ])?;
    }
    table.finish(summary)
}
