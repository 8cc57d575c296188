//! The SQL each dialect gets for typical pearl reads (snapshots), so a change to the
//! generated SQL is always a reviewed change.

use oxbase_schema::Schema;
use oxbase_schema::dialect::Dialect;

use crate::cursor::CursorKey;
use crate::plan::{CountMode, Limits, ReadOptions, ReadPlan, every_row, plan_read};
use crate::sql::read::{child_statement, count_statement, root_statement};

fn pearl() -> Schema {
    oxbase_schema::parse_schema(include_str!("../../../../examples/pearl/schema.toml"), "pearl").unwrap()
}

fn plan(query: &str, options: ReadOptions) -> ReadPlan {
    let (resource, query) = query.split_once('?').unwrap_or((query, ""));
    let parameters: Vec<(String, String)> = form_pairs(query);
    plan_read(
        &pearl(),
        resource,
        &parameters,
        options,
        &Limits::default(),
        &CursorKey::new(b"test".to_vec()),
        &every_row,
    )
    .unwrap_or_else(|error| panic!("{query}: {error}"))
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// Every statement of a plan, one per line group, for a snapshot.
fn statements(plan: &ReadPlan, dialect: Dialect) -> String {
    let mut out = String::new();
    let root = root_statement(plan, dialect);
    out.push_str(&format!("{}\n  -- {:?}\n", root.sql, root.parameters));
    if plan.count != CountMode::None {
        out.push_str(&format!("{}\n", count_statement(plan, dialect).sql));
    }
    let mut pending: Vec<&crate::plan::Embed> = plan.root.embeds.iter().collect();
    while let Some(embed) = pending.pop() {
        let statement = child_statement(embed, dialect);
        out.push_str(&format!(
            "{}\n  -- {:?} keys at ?{}\n",
            statement.sql,
            &statement.parameters,
            statement.key_list.unwrap()
        ));
        pending.extend(embed.node.embeds.iter());
    }
    out
}

#[test]
fn filtered_ordered_page() {
    let plan = plan(
        "trackers?select=id,production_status,due_date&production_status=eq.in_progress&priority=gte.2&order=due_date&limit=50",
        ReadOptions::default(),
    );
    insta::assert_snapshot!(statements(&plan, Dialect::Sqlite));
    insta::assert_snapshot!(statements(&plan, Dialect::Postgres));
}

#[test]
fn embedded_relations_s3() {
    let plan = plan(
        "trackers?select=id,production_status,item:reporting_effort_items(item_code,title),programmer:users!production_programmer_id(username),qc:users!qc_programmer_id(username),comments:tracker_comments(id,body,replies(id))&reporting_effort_id=eq.3&limit=50&comments.order=created_at.desc&comments.limit=5",
        ReadOptions { count: CountMode::Exact, ..ReadOptions::default() },
    );
    insta::assert_snapshot!(statements(&plan, Dialect::Sqlite));
}

#[test]
fn many_to_many_inner_and_logic() {
    let plan = plan(
        "trackers?select=id,tracker_tags!inner(name)&tracker_tags.name=like.*QC*&or=(priority.eq.1,and(due_date.is.null,qc_status.neq.failed))",
        ReadOptions::default(),
    );
    insta::assert_snapshot!(statements(&plan, Dialect::Sqlite));
}

#[test]
fn aggregate_by_status() {
    let plan = plan(
        "trackers?select=production_status,count(),priority.avg()&reporting_effort_id=eq.1&order=production_status",
        ReadOptions::default(),
    );
    insta::assert_snapshot!(statements(&plan, Dialect::Sqlite));
    insta::assert_snapshot!(statements(&plan, Dialect::Postgres));
}

#[test]
fn keyset_page() {
    let key = CursorKey::new(b"test".to_vec());
    let first = plan("trackers?order=due_date.desc,priority&limit=10", ReadOptions::default());
    let cursor = key.encode(
        &first.cursor_scope,
        &[
            oxbase_schema::model::Literal::Text("2026-01-01".into()),
            oxbase_schema::model::Literal::Integer(2),
            oxbase_schema::model::Literal::Integer(77),
        ],
    );
    let next = plan(&format!("trackers?order=due_date.desc,priority&limit=10&after={cursor}"), ReadOptions::default());
    insta::assert_snapshot!(statements(&next, Dialect::Sqlite));
    let by_key = plan("trackers?limit=10", ReadOptions::default());
    let cursor = key.encode(&by_key.cursor_scope, &[oxbase_schema::model::Literal::Integer(500)]);
    let next = plan(&format!("trackers?limit=10&after={cursor}"), ReadOptions::default());
    insta::assert_snapshot!(statements(&next, Dialect::Postgres));
}
