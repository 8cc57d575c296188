//! Migration planning on both dialects.

use super::*;
use crate::validate::parse_schema;

fn physical(source: &str) -> PhysicalSchema {
    let schema = parse_schema(source, "test.toml").unwrap_or_else(|errors| panic!("{errors}"));
    PhysicalSchema::of(&schema, Dialect::Sqlite)
}

const BASE: &str = r#"
    [resources.authors.fields]
    name = { type = "text", unique = true }
    [resources.books.fields]
    title = { type = "text", max_length = 200 }
    author_id = { type = "integer", references = "authors", on_delete = "cascade" }
"#;

#[test]
fn creates_everything_on_an_empty_database() {
    let plan = plan_migration(None, &physical(BASE));
    let descriptions: Vec<&str> = plan.steps.iter().map(|step| step.description.as_str()).collect();
    assert_eq!(descriptions, ["create table authors", "create table books"]);
    let statements: Vec<&String> = plan.statements().collect();
    assert!(statements.iter().any(|sql| sql.contains("CREATE UNIQUE INDEX \"authors_name_key\"")));
    assert!(
        statements.iter().any(|sql| sql.contains("CREATE INDEX \"books_author_id_idx\"")),
        "foreign keys are indexed automatically"
    );
    assert!(statements.iter().any(|sql| sql.contains("REFERENCES \"authors\" (\"id\") ON DELETE CASCADE")));
}

#[test]
fn same_schema_plans_nothing() {
    assert!(plan_migration(Some(&physical(BASE)), &physical(BASE)).is_empty());
}

#[test]
fn nullable_column_is_additive() {
    let changed = BASE.replace(
        "max_length = 200 }",
        "max_length = 200 }\n        pages = { type = \"integer\", nullable = true }",
    );
    let plan = plan_migration(Some(&physical(BASE)), &physical(&changed));
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.destructive_steps().count(), 0);
    assert!(plan.steps[0].statements[0].starts_with("ALTER TABLE \"books\" ADD COLUMN \"pages\" INTEGER"));
}

#[test]
fn required_column_without_default_is_impossible() {
    let changed = BASE.replace("max_length = 200 }", "max_length = 200 }\n        pages = { type = \"integer\" }");
    let plan = plan_migration(Some(&physical(BASE)), &physical(&changed));
    assert!(plan.impossible[0].contains("'books.pages' has no default"), "{:?}", plan.impossible);
}

#[test]
fn type_change_and_drops_are_destructive() {
    let changed = BASE.replace("title = { type = \"text\", max_length = 200 }", "title = { type = \"integer\" }");
    let plan = plan_migration(Some(&physical(BASE)), &physical(&changed));
    let reason = plan.destructive_steps().next().unwrap().destructive.clone().unwrap();
    assert!(reason.contains("'books.title' changes type from TEXT to INTEGER"), "{reason}");
    assert!(plan.rebuilds_tables());

    let without_books = BASE.split("[resources.books.fields]").next().unwrap();
    let plan = plan_migration(Some(&physical(BASE)), &physical(without_books));
    assert_eq!(plan.destructive_steps().count(), 1);
    assert_eq!(plan.steps[0].statements, ["DROP TABLE \"books\""]);
}

#[test]
fn new_index_is_additive() {
    let changed = format!(
        "{BASE}\n        [[resources.books.indexes]]\n        columns = [\"title\"]\n        where = \"title <> 'x'\"\n"
    );
    let plan = plan_migration(Some(&physical(BASE)), &physical(&changed));
    assert_eq!(plan.steps.len(), 1, "{plan:?}");
    assert_eq!(
        plan.steps[0].statements[0],
        "CREATE INDEX \"books_title_idx\" ON \"books\" (\"title\") WHERE \"title\" <> 'x'"
    );
}

#[test]
fn decimal_bounds_compare_as_numbers_on_sqlite() {
    let physical = physical("[resources.prices.fields]\namount = { type = \"decimal\", min = 0, max = 10 }\n");
    let connection_sql = plan_migration(None, &physical).statements().cloned().collect::<Vec<_>>();
    assert!(connection_sql[0].contains("CAST(\"amount\" AS REAL) <= 10"), "{}", connection_sql[0]);
}
