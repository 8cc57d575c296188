//! Migration planning: the DDL that takes the database from the physical schema applied
//! last to the one the schema file asks for.
//!
//! Each step is additive (new table, new column, new or changed index, a relaxed or added
//! constraint) or destructive (a dropped table or column, a changed column type). The store
//! refuses a plan with destructive steps unless the caller allows them. Renames cannot be
//! told from a drop and an add, so they count as destructive too.
//!
//! SQLite cannot alter a column's type or constraints in place; such a table is rebuilt:
//! create the new shape under a temporary name, copy the rows, drop the old table, rename,
//! re-create the indexes. The store runs that with foreign-key enforcement off and checks
//! every foreign key before committing.

use crate::dialect::Dialect;
use crate::physical::{Column, PhysicalSchema, Table};

/// What it takes to bring a database from one physical schema to another.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MigrationPlan {
    pub steps: Vec<MigrationStep>,
    /// Changes that cannot be made at all as declared, each with the fix.
    pub impossible: Vec<String>,
}

/// One change and the statements that make it.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationStep {
    /// What changes, in words.
    pub description: String,
    /// Why this step destroys data, when it does.
    pub destructive: Option<String>,
    /// Whether the step rebuilds a table (foreign keys must be off while it runs).
    pub rebuilds_table: bool,
    pub statements: Vec<String>,
}

impl MigrationPlan {
    /// Whether nothing needs doing.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.impossible.is_empty()
    }

    /// The destructive steps.
    pub fn destructive_steps(&self) -> impl Iterator<Item = &MigrationStep> {
        self.steps.iter().filter(|step| step.destructive.is_some())
    }

    /// Whether any step rebuilds a table.
    pub fn rebuilds_tables(&self) -> bool {
        self.steps.iter().any(|step| step.rebuilds_table)
    }

    /// Every statement of every step, in order.
    pub fn statements(&self) -> impl Iterator<Item = &String> {
        self.steps.iter().flat_map(|step| step.statements.iter())
    }
}

/// Plans the migration from `applied` (none for an empty database) to `wanted`.
pub fn plan_migration(applied: Option<&PhysicalSchema>, wanted: &PhysicalSchema) -> MigrationPlan {
    let dialect = wanted.dialect;
    let mut plan = MigrationPlan::default();
    let empty = PhysicalSchema { dialect, tables: Vec::new() };
    let applied = applied.unwrap_or(&empty);
    for table in &wanted.tables {
        match applied.table(&table.name) {
            None => plan.steps.push(create_table(table, dialect)),
            Some(old) => plan_table_change(old, table, dialect, &mut plan),
        }
    }
    for old in &applied.tables {
        if wanted.table(&old.name).is_none() {
            plan.steps.push(MigrationStep {
                description: format!("drop table {}", old.name),
                destructive: Some(format!("table '{}' and all its rows would be deleted", old.name)),
                rebuilds_table: false,
                statements: vec![format!("DROP TABLE {}", dialect.quote(&old.name))],
            });
        }
    }
    plan
}

fn create_table(table: &Table, dialect: Dialect) -> MigrationStep {
    let mut statements = vec![table.create_statement(&table.name, dialect)];
    statements.extend(table.indexes.iter().map(|index| index.create_statement(&table.name, dialect)));
    MigrationStep {
        description: format!("create table {}", table.name),
        destructive: None,
        rebuilds_table: false,
        statements,
    }
}

fn plan_table_change(old: &Table, new: &Table, dialect: Dialect, plan: &mut MigrationPlan) {
    let mut destructive_reasons = Vec::new();
    let mut needs_rebuild = false;
    let mut added_columns = Vec::new();
    for column in &new.columns {
        match old.column(&column.name) {
            None => {
                if column.not_null && column.default_sql.is_none() {
                    plan.impossible.push(format!(
                        "new required field '{}.{}' has no default, so existing rows would have no value for it; add a `default` or `nullable = true`",
                        new.name, column.name
                    ));
                    continue;
                }
                if can_add_column(column, dialect) {
                    added_columns.push(column);
                } else {
                    needs_rebuild = true;
                }
            }
            Some(previous) if previous == column => {}
            Some(previous) => {
                if previous.sql_type != column.sql_type {
                    destructive_reasons.push(format!(
                        "column '{}.{}' changes type from {} to {}",
                        new.name, column.name, previous.sql_type, column.sql_type
                    ));
                }
                if previous.primary_key != column.primary_key || previous.identity != column.identity {
                    destructive_reasons.push(format!("the primary key of '{}' changes", new.name));
                }
                needs_rebuild = true;
            }
        }
    }
    for column in &old.columns {
        if new.column(&column.name).is_none() {
            destructive_reasons.push(format!("column '{}.{}' and its values would be deleted", old.name, column.name));
            needs_rebuild = true;
        }
    }
    if needs_rebuild {
        plan.steps.push(rebuild_table(old, new, dialect, destructive_reasons));
        return;
    }
    for column in added_columns {
        plan.steps.push(MigrationStep {
            description: format!("add column {}.{}", new.name, column.name),
            destructive: None,
            rebuilds_table: false,
            statements: vec![format!(
                "ALTER TABLE {} ADD COLUMN {}",
                dialect.quote(&new.name),
                column.definition(dialect)
            )],
        });
    }
    for index in &old.indexes {
        let kept = new.indexes.iter().any(|wanted| wanted == index);
        if !kept {
            plan.steps.push(MigrationStep {
                description: format!("drop index {}", index.name),
                destructive: None,
                rebuilds_table: false,
                statements: vec![format!("DROP INDEX {}", dialect.quote(&index.name))],
            });
        }
    }
    for index in &new.indexes {
        if !old.indexes.iter().any(|existing| existing == index) {
            plan.steps.push(MigrationStep {
                description: format!("create index {}", index.name),
                destructive: None,
                rebuilds_table: false,
                statements: vec![index.create_statement(&new.name, dialect)],
            });
        }
    }
}

/// Whether `ALTER TABLE … ADD COLUMN` can add this column as declared.
fn can_add_column(column: &Column, dialect: Dialect) -> bool {
    match dialect {
        // SQLite refuses expression defaults, and non-null defaults on references, in ADD COLUMN.
        Dialect::Sqlite => {
            let reference_with_default =
                column.references.is_some() && column.default_sql.as_deref().is_some_and(|default| default != "NULL");
            !column.primary_key && !column.default_is_expression && !reference_with_default
        }
        Dialect::Postgres => !column.primary_key,
    }
}

fn rebuild_table(old: &Table, new: &Table, dialect: Dialect, destructive_reasons: Vec<String>) -> MigrationStep {
    let temporary = format!("_oxbase_new_{}", new.name);
    let copied: Vec<String> = new
        .columns
        .iter()
        .filter(|column| old.column(&column.name).is_some())
        .map(|column| dialect.quote(&column.name))
        .collect();
    let copied = copied.join(", ");
    let mut statements = vec![
        new.create_statement(&temporary, dialect),
        format!(
            "INSERT INTO {} ({copied}) SELECT {copied} FROM {}",
            dialect.quote(&temporary),
            dialect.quote(&old.name)
        ),
        format!("DROP TABLE {}", dialect.quote(&old.name)),
        format!("ALTER TABLE {} RENAME TO {}", dialect.quote(&temporary), dialect.quote(&new.name)),
    ];
    statements.extend(new.indexes.iter().map(|index| index.create_statement(&new.name, dialect)));
    MigrationStep {
        description: format!("rebuild table {} with its new columns and constraints", new.name),
        destructive: (!destructive_reasons.is_empty()).then(|| destructive_reasons.join("; ")),
        rebuilds_table: true,
        statements,
    }
}

#[cfg(test)]
mod tests {
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
}
