//! Migration planning on both dialects.

use super::*;
use crate::validate::parse_schema;

fn physical(source: &str) -> PhysicalSchema {
    physical_in(source, Dialect::Sqlite)
}

fn postgres(source: &str) -> PhysicalSchema {
    physical_in(source, Dialect::Postgres)
}

fn physical_in(source: &str, dialect: Dialect) -> PhysicalSchema {
    let schema = parse_schema(source, "test.toml").unwrap_or_else(|errors| panic!("{errors}"));
    PhysicalSchema::of(&schema, dialect)
}

fn descriptions(plan: &MigrationPlan) -> Vec<&str> {
    plan.steps.iter().map(|step| step.description.as_str()).collect()
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
    let changed = BASE
        .replace("max_length = 200 }", "max_length = 200 }\n        pages = { type = \"integer\", nullable = true }");
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

/// Books before the authors they reference, in the file.
const BOOKS_FIRST: &str = r#"
    [resources.books.fields]
    title = { type = "text" }
    author_id = { type = "integer", references = "authors" }
    [resources.authors.fields]
    name = { type = "text" }
    mentor_id = { type = "integer", references = "authors", nullable = true }
"#;

#[test]
fn tables_are_created_after_the_tables_they_reference() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let plan = plan_migration(None, &physical_in(BOOKS_FIRST, dialect));
        assert_eq!(descriptions(&plan), ["create table authors", "create table books"], "{dialect:?}");
        assert!(plan.steps[0].statements[0].contains("REFERENCES \"authors\" (\"id\")"), "self-references stay inline");
        let plan = plan_migration(Some(&physical_in(BOOKS_FIRST, dialect)), &physical_in("", dialect));
        assert_eq!(descriptions(&plan), ["drop table books", "drop table authors"], "{dialect:?}");
        assert_eq!(plan.steps[0].statements, ["DROP TABLE \"books\""]);
    }
}

/// Two tables that reference each other.
const CYCLE: &str = r#"
    [resources.teams.fields]
    captain_id = { type = "integer", references = "players", nullable = true }
    [resources.players.fields]
    team_id = { type = "integer", references = "teams" }
    [resources.leagues.fields]
    champion_id = { type = "integer", references = "teams", nullable = true }
"#;

#[test]
fn a_cycle_keeps_file_order_and_adds_the_forward_reference_last_on_postgres() {
    let plan = plan_migration(None, &postgres(CYCLE));
    assert_eq!(
        descriptions(&plan),
        ["create table teams", "create table players", "create table leagues", "add foreign key teams.captain_id"]
    );
    assert!(!plan.steps[0].statements[0].contains("REFERENCES"), "{}", plan.steps[0].statements[0]);
    assert_eq!(
        plan.steps[3].statements,
        [
            "ALTER TABLE \"teams\" ADD CONSTRAINT \"teams_captain_id_fkey\" FOREIGN KEY (\"captain_id\") REFERENCES \"players\" (\"id\") ON DELETE SET NULL"
        ]
    );

    let plan = plan_migration(None, &physical(CYCLE));
    assert_eq!(descriptions(&plan), ["create table teams", "create table players", "create table leagues"]);
    assert!(plan.steps[0].statements[0].contains("REFERENCES \"players\""), "SQLite accepts forward references");

    let plan = plan_migration(Some(&postgres(CYCLE)), &postgres(""));
    assert_eq!(descriptions(&plan), ["drop table leagues", "drop table players", "drop table teams"]);
    assert_eq!(plan.steps[1].statements, ["DROP TABLE \"players\" CASCADE"], "teams, dropped after, references it");
    assert_eq!(plan.steps[2].statements, ["DROP TABLE \"teams\""]);
}

#[test]
fn postgres_changes_a_column_type_in_place() {
    let changed = BASE.replace("title = { type = \"text\", max_length = 200 }", "title = { type = \"integer\" }");
    let plan = plan_migration(Some(&postgres(BASE)), &postgres(&changed));
    assert!(!plan.rebuilds_tables());
    assert_eq!(descriptions(&plan), ["alter column books.title"]);
    let reason = plan.steps[0].destructive.as_deref().unwrap();
    assert_eq!(reason, "column 'books.title' changes type from TEXT to INTEGER");
    assert_eq!(
        plan.steps[0].statements,
        [
            "ALTER TABLE \"books\" DROP CONSTRAINT \"books_title_max_length_check\"",
            "ALTER TABLE \"books\" ALTER COLUMN \"title\" TYPE INTEGER USING \"title\"::INTEGER",
        ]
    );
    assert!(plan.statements().all(|sql| !sql.contains("DROP TABLE")));
}

#[test]
fn postgres_casts_through_text_where_there_is_no_direct_cast() {
    let before = "[resources.events.fields]\nday = { type = \"date\" }\ncode = { type = \"integer\" }\n";
    let after = "[resources.events.fields]\nday = { type = \"boolean\" }\ncode = { type = \"bigint\" }\n";
    let plan = plan_migration(Some(&postgres(before)), &postgres(after));
    let statements: Vec<&String> = plan.statements().collect();
    assert_eq!(
        statements,
        [
            "ALTER TABLE \"events\" ALTER COLUMN \"day\" TYPE BOOLEAN USING \"day\"::TEXT::BOOLEAN",
            "ALTER TABLE \"events\" ALTER COLUMN \"code\" TYPE BIGINT USING \"code\"::BIGINT",
        ]
    );
    assert_eq!(plan.destructive_steps().count(), 2, "integer to bigint changes the column on PostgreSQL");
}

#[test]
fn postgres_drops_a_column_destructively() {
    let changed = BASE.replace("title = { type = \"text\", max_length = 200 }\n", "");
    let plan = plan_migration(Some(&postgres(BASE)), &postgres(&changed));
    assert_eq!(descriptions(&plan), ["drop column books.title"]);
    assert_eq!(plan.steps[0].destructive.as_deref(), Some("column 'books.title' and its values would be deleted"));
    assert_eq!(plan.steps[0].statements, ["ALTER TABLE \"books\" DROP COLUMN \"title\""]);
}

#[test]
fn postgres_changes_nullability_defaults_and_checks_in_place() {
    let before = r#"
        [resources.tasks.fields]
        title = { type = "text", max_length = 200 }
        note = { type = "text", nullable = true }
        priority = { type = "integer", default = 3 }
        state = { type = "enum", values = ["open", "done"] }
    "#;
    let after = r#"
        [resources.tasks.fields]
        title = { type = "text", max_length = 100, nullable = true }
        note = { type = "text", default = "none" }
        priority = { type = "integer" }
        state = { type = "enum", values = ["open", "done", "dropped"] }
    "#;
    let plan = plan_migration(Some(&postgres(before)), &postgres(after));
    assert_eq!(plan.destructive_steps().count(), 0);
    assert_eq!(
        descriptions(&plan),
        [
            "alter column tasks.title",
            "alter column tasks.note",
            "alter column tasks.priority",
            "alter column tasks.state"
        ]
    );
    let statements: Vec<&String> = plan.statements().collect();
    assert_eq!(
        statements,
        [
            "ALTER TABLE \"tasks\" DROP CONSTRAINT \"tasks_title_max_length_check\"",
            "ALTER TABLE \"tasks\" ALTER COLUMN \"title\" DROP NOT NULL",
            "ALTER TABLE \"tasks\" ADD CONSTRAINT \"tasks_title_max_length_check\" CHECK (char_length(\"title\") <= 100)",
            "ALTER TABLE \"tasks\" ALTER COLUMN \"note\" SET NOT NULL",
            "ALTER TABLE \"tasks\" ALTER COLUMN \"note\" SET DEFAULT 'none'",
            "ALTER TABLE \"tasks\" ALTER COLUMN \"priority\" DROP DEFAULT",
            "ALTER TABLE \"tasks\" DROP CONSTRAINT \"tasks_state_enum_check\"",
            "ALTER TABLE \"tasks\" ADD CONSTRAINT \"tasks_state_enum_check\" CHECK (\"state\" IN ('open', 'done', 'dropped'))",
        ]
    );
}

#[test]
fn postgres_replaces_a_changed_foreign_key() {
    let changed = BASE.replace("on_delete = \"cascade\"", "on_delete = \"restrict\"");
    let plan = plan_migration(Some(&postgres(BASE)), &postgres(&changed));
    assert_eq!(descriptions(&plan), ["drop foreign key books.author_id", "add foreign key books.author_id"]);
    let statements: Vec<&String> = plan.statements().collect();
    assert_eq!(
        statements,
        [
            "ALTER TABLE \"books\" DROP CONSTRAINT \"books_author_id_fkey\"",
            "ALTER TABLE \"books\" ADD CONSTRAINT \"books_author_id_fkey\" FOREIGN KEY (\"author_id\") REFERENCES \"authors\" (\"id\") ON DELETE RESTRICT",
        ]
    );
}

#[test]
fn postgres_adds_a_reference_to_a_new_table_after_creating_it() {
    let changed = format!(
        "{}\n    publisher_id = {{ type = \"integer\", references = \"publishers\", nullable = true }}\n    [resources.publishers.fields]\n    name = {{ type = \"text\" }}\n",
        BASE.trim_end()
    );
    let plan = plan_migration(Some(&postgres(BASE)), &postgres(&changed));
    assert_eq!(
        descriptions(&plan),
        [
            "add column books.publisher_id",
            "create index books_publisher_id_idx",
            "create table publishers",
            "add foreign key books.publisher_id",
        ]
    );
    assert_eq!(plan.steps[0].statements, ["ALTER TABLE \"books\" ADD COLUMN \"publisher_id\" INTEGER"]);
    assert_eq!(plan.destructive_steps().count(), 0);
}

#[test]
fn postgres_drops_foreign_keys_before_the_key_they_rely_on() {
    let before = r#"
        [resources.users.fields]
        email = { type = "text", unique = true }
        [resources.notes.fields]
        author_email = { type = "text", references = "users.email" }
    "#;
    let after = r#"
        [resources.users.fields]
        email = { type = "text", unique = true, max_length = 100 }
        [resources.notes.fields]
        author_email = { type = "text" }
    "#;
    let plan = plan_migration(Some(&postgres(before)), &postgres(after));
    assert_eq!(
        descriptions(&plan),
        ["drop foreign key notes.author_email", "drop index notes_author_email_idx", "alter column users.email"]
    );

    let without_users = "[resources.notes.fields]\nauthor_email = { type = \"text\" }\n";
    let plan = plan_migration(Some(&postgres(before)), &postgres(without_users));
    assert_eq!(
        descriptions(&plan),
        ["drop foreign key notes.author_email", "drop index notes_author_email_idx", "drop table users"]
    );
}

#[test]
fn postgres_new_required_column_without_default_is_impossible() {
    let changed = BASE.replace("max_length = 200 }", "max_length = 200 }\n        pages = { type = \"integer\" }");
    let plan = plan_migration(Some(&postgres(BASE)), &postgres(&changed));
    assert!(plan.impossible[0].contains("'books.pages' has no default"), "{:?}", plan.impossible);
    let with_default = BASE
        .replace("max_length = 200 }", "max_length = 200 }\n        added = { type = \"date\", default = \"now\" }");
    let plan = plan_migration(Some(&postgres(BASE)), &postgres(&with_default));
    assert_eq!(
        plan.steps[0].statements,
        ["ALTER TABLE \"books\" ADD COLUMN \"added\" DATE NOT NULL DEFAULT CURRENT_DATE"]
    );
}

#[test]
fn postgres_foreign_key_names_match_the_ones_postgres_chooses() {
    assert_eq!(postgres_foreign_key_name("books", "author_id"), "books_author_id_fkey");
    // Checked against PostgreSQL 15: the longer part is shortened first.
    assert_eq!(
        postgres_foreign_key_name(
            "reporting_effort_item_footnotes_with_a_very_long_name_xx",
            "reporting_effort_item_identifier_long"
        ),
        "reporting_effort_item_footnot_reporting_effort_item_identi_fkey"
    );
}
