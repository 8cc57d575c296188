//! The write scenarios' transactions as the server runs them (crates/server
//! `store/transaction.rs`): planned by the same functions the `PATCH` handler calls, rendered
//! by the same statement builders, in the same order. Only what S6 and S7 need is
//! reproduced: updates by filter and bulk updates by key, with no reference checks (the
//! columns they set reference nothing; a request that sets a reference is refused here
//! rather than measured wrong) and no representation read (`return=minimal`).

use oxbase_query::plan::{Limits, plan_filter};
use oxbase_query::sql::write::update_by_keys;
use oxbase_query::sql::write::{bulk_update, bump_version, lock_by_keys, rows_per_statement, select_for_write};
use oxbase_query::write::{plan_bulk_update, plan_update};
use oxbase_schema::Schema;
use oxbase_schema::dialect::Dialect;
use oxbase_schema::model::Resource;
use oxbase_schema::physical::sql_type;
use oxbase_store::change::ChangeOperation;
use oxbase_store::postgres::notify::{ChangeNotice, notify_statement};

use super::{Key, Keys, PlannedWrite, StepKeys, WriteStep};
use crate::BenchError;
use crate::workload::{BenchRequest, Method};

/// Plans each `PATCH` of a write scenario into the statements of its transaction. `now` is
/// the `updated_at` the server would set.
pub fn plan_writes(
    schema: &Schema,
    limits: &Limits,
    requests: &[BenchRequest],
    dialect: Dialect,
    now: &str,
) -> Result<Vec<PlannedWrite>, BenchError> {
    requests.iter().map(|request| plan_write(schema, limits, request, dialect, now)).collect()
}

fn plan_write(
    schema: &Schema,
    limits: &Limits,
    request: &BenchRequest,
    dialect: Dialect,
    now: &str,
) -> Result<PlannedWrite, BenchError> {
    let failed = |error: &dyn std::fmt::Display| BenchError::Plan(format!("{}: {error}", request.path));
    if request.method != Method::Patch {
        return Err(BenchError::Plan(format!("{}: only PATCH writes have a database limit", request.path)));
    }
    let resource_name = request.path.trim_start_matches("/api/v1/");
    let resource = schema.resource(resource_name).ok_or_else(|| failed(&"no such resource"))?;
    let body: serde_json::Value =
        serde_json::from_str(request.body.as_deref().unwrap_or("null")).map_err(|error| failed(&error))?;
    let mut steps = Vec::new();
    match &body {
        serde_json::Value::Array(rows) => {
            let plan = plan_bulk_update(schema, resource_name, rows, now).map_err(|error| failed(&error))?;
            for group in &plan.groups {
                refuse_references(resource, &group.columns)?;
                let keys: Vec<Key> = group.rows.iter().filter_map(|row| Key::of(&row.key)).collect();
                for chunk in keys.chunks(rows_per_statement(dialect, 1)) {
                    let mut given = Keys::default();
                    chunk.iter().cloned().for_each(|key| given.add(key));
                    steps.push(WriteStep {
                        statement: lock_by_keys(&plan.table, &plan.key, &group.columns, dialect),
                        keys: StepKeys::Given(given),
                    });
                }
                let types: Vec<&str> = std::iter::once(&plan.key)
                    .chain(&group.columns)
                    .map(|column| sql_type(dialect, &resource.field(column).expect("columns are fields").field_type))
                    .collect();
                for chunk in group.rows.chunks(rows_per_statement(dialect, group.columns.len() + 1)) {
                    let rows: Vec<_> = chunk.iter().map(|row| (&row.key, row.values.as_slice())).collect();
                    steps.push(WriteStep {
                        statement: bulk_update(&plan.table, &plan.key, &group.columns, &types, &rows, dialect),
                        keys: StepKeys::None,
                    });
                }
            }
        }
        _ => {
            let condition =
                plan_filter(schema, resource_name, &request.query, limits).map_err(|error| failed(&error))?;
            let plan = plan_update(schema, resource_name, &body, condition, now).map_err(|error| failed(&error))?;
            let columns: Vec<String> = plan.set.iter().map(|(column, _)| column.clone()).collect();
            refuse_references(resource, &columns)?;
            steps.push(WriteStep {
                statement: select_for_write(&plan.table, &plan.key, &columns, plan.condition.as_ref(), dialect),
                keys: StepKeys::None,
            });
            steps.push(WriteStep {
                statement: update_by_keys(&plan.table, &plan.key, &plan.set, dialect),
                keys: StepKeys::FromPrevious,
            });
        }
    }
    steps.push(WriteStep { statement: bump_version(&resource.name, dialect), keys: StepKeys::None });
    if dialect == Dialect::Postgres {
        // The server's change notification, sent at commit. Its ids are the request's keys
        // for a bulk update; a filtered update's are only known after its select, so its
        // notification here carries none (a few bytes shorter than the server's).
        let ids = match &body {
            serde_json::Value::Array(rows) => rows.iter().filter_map(|row| row.get("id").cloned()).collect(),
            _ => Vec::new(),
        };
        let notice = ChangeNotice {
            origin: Some("oxbase-bench".to_owned()),
            resource: resource.name.clone(),
            op: ChangeOperation::Update,
            ids,
            versions: [(resource.name.clone(), 1)].into_iter().collect(),
        };
        steps.push(WriteStep { statement: notify_statement(&notice), keys: StepKeys::None });
    }
    Ok(PlannedWrite { steps })
}

/// The server checks that referenced rows exist (one more statement per reference column);
/// the harness does not reproduce that.
fn refuse_references(resource: &Resource, columns: &[String]) -> Result<(), BenchError> {
    match columns.iter().find(|column| resource.field(column).is_some_and(|field| field.reference.is_some())) {
        Some(column) => Err(BenchError::Plan(format!(
            "the write sets {}.{column}, a reference: its existence check is not reproduced",
            resource.name
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use oxbase_store::seed::example_schema;

    use super::*;
    use crate::workload::{Fixture, SCENARIOS, generate, worker_rng};

    fn fixture() -> Fixture {
        Fixture {
            tracker_ids: (1, 5_000),
            effort_ids: (1, 20),
            big_effort: 1,
            statuses: vec!["not_started".into(), "completed".into()],
            hot_efforts: vec![1],
            hot_etags: vec![None],
            deep_pages: Vec::new(),
            viewer_token: None,
        }
    }

    #[test]
    fn writes_plan_into_the_servers_statements() {
        let schema = example_schema("pearl").unwrap();
        for (id, dialect, statements) in [
            ("S6", Dialect::Sqlite, 3),
            ("S6", Dialect::Postgres, 4),
            ("S7", Dialect::Sqlite, 3),
            ("S7", Dialect::Postgres, 4),
        ] {
            let scenario = SCENARIOS.iter().find(|scenario| scenario.id == id).unwrap();
            let request = generate(scenario, &fixture(), &mut worker_rng(1, scenario, 0)).unwrap();
            let now = oxbase_schema::values::format_timestamp(time::OffsetDateTime::now_utc());
            let planned = plan_writes(&schema, &Limits::default(), &[request], dialect, &now).unwrap();
            assert_eq!(planned[0].steps.len(), statements, "{id} on {dialect:?}");
            let versions = if dialect == Dialect::Postgres { statements - 2 } else { statements - 1 };
            assert!(planned[0].steps[versions].statement.sql.contains("_oxbase_versions"));
        }
    }
}
