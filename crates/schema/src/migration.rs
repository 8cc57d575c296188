//! Migration planning: the DDL that takes the database from the physical schema applied
//! last to the one the schema file asks for.
//!
//! Each step is additive (new table, new column, new or changed index, a relaxed or added
//! constraint) or destructive (a dropped table or column, a changed column type). The store
//! refuses a plan with destructive steps unless the caller allows them. Renames cannot be
//! told from a drop and an add, so they count as destructive too.
//!
//! New tables are created after the tables they reference; tables that reference each
//! other in a cycle keep their file order, and on PostgreSQL the references that point
//! forward are added once every table exists. Removed tables are dropped in the reverse
//! order.
//!
//! SQLite cannot alter a column's type or constraints in place; such a table is rebuilt:
//! create the new shape under a temporary name, copy the rows, drop the old table, rename,
//! re-create the indexes. The store runs that with foreign-key enforcement off and checks
//! every foreign key before committing.
//!
//! PostgreSQL alters tables in place instead (`ALTER TABLE … ALTER COLUMN`, `DROP` and `ADD
//! CONSTRAINT`): a rebuild would have to drop a table other tables reference, which
//! PostgreSQL refuses. Its steps run in phases so each finds what it depends on: foreign keys
//! that change are dropped first, then indexes that change, then columns are dropped, altered
//! and added, indexes created, new tables created, foreign keys added, and removed tables
//! dropped last.

#[cfg(test)]
#[path = "migration_tests.rs"]
mod tests;

use std::collections::HashSet;

use crate::dialect::Dialect;
use crate::physical::{Column, ForeignKey, PhysicalSchema, Table};

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
    let new_tables: Vec<&Table> = wanted.tables.iter().filter(|table| applied.table(&table.name).is_none()).collect();
    let creations = creation_order(&new_tables);
    match dialect {
        Dialect::Sqlite => {
            // SQLite accepts a reference to a table that does not exist yet, so a cycle
            // needs nothing special.
            for creation in &creations {
                plan.steps.push(create_table(creation.table, &[], dialect));
            }
            for table in &wanted.tables {
                if let Some(old) = applied.table(&table.name) {
                    plan_table_rebuild_or_add(old, table, dialect, &mut plan);
                }
            }
        }
        Dialect::Postgres => plan_postgres_changes(applied, wanted, &creations, &mut plan),
    }
    let removed: Vec<&Table> = applied.tables.iter().filter(|old| wanted.table(&old.name).is_none()).collect();
    plan.steps.extend(drop_tables(&removed, dialect));
    plan
}

/// A table to create, and the references it must leave out because they point at a table
/// created after it (a cycle).
#[derive(Debug)]
struct Creation<'a> {
    table: &'a Table,
    deferred_references: Vec<&'a Column>,
}

/// `tables` in an order where each comes after the tables (among them) it references. When
/// only cycles are left, the first table in file order that is part of one goes next, and
/// its references to tables still to come are deferred.
fn creation_order<'a>(tables: &[&'a Table]) -> Vec<Creation<'a>> {
    let mut remaining: Vec<&'a Table> = tables.to_vec();
    let mut order = Vec::with_capacity(tables.len());
    while !remaining.is_empty() {
        let pending: HashSet<&str> = remaining.iter().map(|table| table.name.as_str()).collect();
        let waits_for = |table: &Table, target: &str| target != table.name && pending.contains(target);
        let ready = remaining
            .iter()
            .position(|table| referenced_tables(table).all(|target| !waits_for(table, target)))
            .or_else(|| remaining.iter().position(|table| in_cycle(table, &remaining)))
            .unwrap_or(0);
        let table = remaining.remove(ready);
        let deferred_references = table
            .columns
            .iter()
            .filter(|column| column.references.as_ref().is_some_and(|reference| waits_for(table, &reference.table)))
            .collect();
        order.push(Creation { table, deferred_references });
    }
    order
}

/// The tables `table` references (itself included, when it does).
fn referenced_tables(table: &Table) -> impl Iterator<Item = &str> {
    table.columns.iter().filter_map(|column| column.references.as_ref().map(|reference| reference.table.as_str()))
}

/// Whether `start` reaches itself through references among `tables` (self-references do
/// not count: a table can always be created with those).
fn in_cycle(start: &Table, tables: &[&Table]) -> bool {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack: Vec<&str> = referenced_tables(start).filter(|target| *target != start.name).collect();
    while let Some(name) = stack.pop() {
        if name == start.name {
            return true;
        }
        if !seen.insert(name) {
            continue;
        }
        if let Some(table) = tables.iter().find(|table| table.name == name) {
            stack.extend(referenced_tables(table).filter(|target| *target != name));
        }
    }
    false
}

/// DROP TABLE for every removed table, each before the tables it references. On PostgreSQL
/// a table still referenced by one dropped later (a cycle) is dropped with CASCADE, which
/// removes only that reference: every other table referencing it is being dropped too, or
/// has lost the reference already.
fn drop_tables(removed: &[&Table], dialect: Dialect) -> Vec<MigrationStep> {
    let mut order: Vec<&Table> = creation_order(removed).into_iter().map(|creation| creation.table).collect();
    order.reverse();
    let mut steps = Vec::with_capacity(order.len());
    for (position, old) in order.iter().enumerate() {
        let referenced_later = order[position + 1..]
            .iter()
            .any(|later| later.name != old.name && referenced_tables(later).any(|target| target == old.name));
        let cascade = if dialect == Dialect::Postgres && referenced_later { " CASCADE" } else { "" };
        steps.push(MigrationStep {
            description: format!("drop table {}", old.name),
            destructive: Some(format!("table '{}' and all its rows would be deleted", old.name)),
            rebuilds_table: false,
            statements: vec![format!("DROP TABLE {}{cascade}", dialect.quote(&old.name))],
        });
    }
    steps
}

/// CREATE TABLE and its indexes, leaving out the references in `deferred_references`.
fn create_table(table: &Table, deferred_references: &[&Column], dialect: Dialect) -> MigrationStep {
    let create = if deferred_references.is_empty() {
        table.create_statement(&table.name, dialect)
    } else {
        let mut without = table.clone();
        for column in &mut without.columns {
            if deferred_references.iter().any(|deferred| deferred.name == column.name) {
                column.references = None;
            }
        }
        without.create_statement(&table.name, dialect)
    };
    let mut statements = vec![create];
    statements.extend(table.indexes.iter().map(|index| index.create_statement(&table.name, dialect)));
    MigrationStep {
        description: format!("create table {}", table.name),
        destructive: None,
        rebuilds_table: false,
        statements,
    }
}

/// The error for a new required column with no default, or none.
fn required_column_without_default(table: &Table, column: &Column) -> Option<String> {
    (column.not_null && column.default_sql.is_none()).then(|| {
        format!(
            "new required field '{}.{}' has no default, so existing rows would have no value for it; add a `default` or `nullable = true`",
            table.name, column.name
        )
    })
}

/// SQLite: new columns by ADD COLUMN where it can, anything else by rebuilding the table.
fn plan_table_rebuild_or_add(old: &Table, new: &Table, dialect: Dialect, plan: &mut MigrationPlan) {
    let mut destructive_reasons = Vec::new();
    let mut needs_rebuild = false;
    let mut added_columns = Vec::new();
    for column in &new.columns {
        match old.column(&column.name) {
            None => {
                if let Some(impossible) = required_column_without_default(new, column) {
                    plan.impossible.push(impossible);
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
                    destructive_reasons.push(type_change_reason(new, previous, column));
                }
                if previous.primary_key != column.primary_key || previous.identity != column.identity {
                    destructive_reasons.push(primary_key_change_reason(new));
                }
                needs_rebuild = true;
            }
        }
    }
    for column in &old.columns {
        if new.column(&column.name).is_none() {
            destructive_reasons.push(dropped_column_reason(old, column));
            needs_rebuild = true;
        }
    }
    if needs_rebuild {
        plan.steps.push(rebuild_table(old, new, dialect, destructive_reasons));
        return;
    }
    for column in added_columns {
        plan.steps.push(add_column(new, column, dialect));
    }
    plan.steps.extend(drop_indexes(old, new, dialect));
    plan.steps.extend(create_indexes(old, new, dialect));
}

fn type_change_reason(table: &Table, previous: &Column, column: &Column) -> String {
    format!("column '{}.{}' changes type from {} to {}", table.name, column.name, previous.sql_type, column.sql_type)
}

fn primary_key_change_reason(table: &Table) -> String {
    format!("the primary key of '{}' changes", table.name)
}

fn dropped_column_reason(table: &Table, column: &Column) -> String {
    format!("column '{}.{}' and its values would be deleted", table.name, column.name)
}

/// ALTER TABLE … ADD COLUMN with the column's definition as given.
fn add_column(table: &Table, column: &Column, dialect: Dialect) -> MigrationStep {
    MigrationStep {
        description: format!("add column {}.{}", table.name, column.name),
        destructive: None,
        rebuilds_table: false,
        statements: vec![format!(
            "ALTER TABLE {} ADD COLUMN {}",
            dialect.quote(&table.name),
            column.definition(dialect)
        )],
    }
}

/// DROP INDEX for every index of `old` that `new` does not have exactly.
fn drop_indexes(old: &Table, new: &Table, dialect: Dialect) -> Vec<MigrationStep> {
    old.indexes
        .iter()
        .filter(|index| !new.indexes.contains(index))
        .map(|index| MigrationStep {
            description: format!("drop index {}", index.name),
            destructive: None,
            rebuilds_table: false,
            statements: vec![format!("DROP INDEX {}", dialect.quote(&index.name))],
        })
        .collect()
}

/// CREATE INDEX for every index of `new` that `old` does not have exactly.
fn create_indexes(old: &Table, new: &Table, dialect: Dialect) -> Vec<MigrationStep> {
    new.indexes
        .iter()
        .filter(|index| !old.indexes.contains(index))
        .map(|index| MigrationStep {
            description: format!("create index {}", index.name),
            destructive: None,
            rebuilds_table: false,
            statements: vec![index.create_statement(&new.name, dialect)],
        })
        .collect()
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

/// PostgreSQL: every change in place, in the phases the module documentation lists.
fn plan_postgres_changes(
    applied: &PhysicalSchema,
    wanted: &PhysicalSchema,
    creations: &[Creation<'_>],
    plan: &mut MigrationPlan,
) {
    let dialect = Dialect::Postgres;
    let changed: Vec<(&Table, &Table)> = wanted
        .tables
        .iter()
        .filter_map(|table| applied.table(&table.name).map(|old| (old, table)))
        .filter(|(old, new)| old != new)
        .collect();
    let mut foreign_key_drops = Vec::new();
    let mut index_drops = Vec::new();
    let mut column_changes = Vec::new();
    let mut index_creations = Vec::new();
    let mut foreign_key_additions = Vec::new();
    for (old, new) in &changed {
        for column in &old.columns {
            let kept_column = new.column(&column.name);
            if column.references.is_some() && !foreign_key_kept(applied, wanted, column, kept_column) {
                foreign_key_drops.push(drop_foreign_key(old, column));
            }
        }
        index_drops.extend(drop_indexes(old, new, dialect));
        for column in &old.columns {
            if new.column(&column.name).is_none() {
                column_changes.push(MigrationStep {
                    description: format!("drop column {}.{}", old.name, column.name),
                    destructive: Some(dropped_column_reason(old, column)),
                    rebuilds_table: false,
                    statements: vec![format!(
                        "ALTER TABLE {} DROP COLUMN {}",
                        dialect.quote(&old.name),
                        dialect.quote(&column.name)
                    )],
                });
            }
        }
        for column in &new.columns {
            let previous = old.column(&column.name);
            match previous {
                Some(previous) => column_changes.extend(alter_column(new, previous, column)),
                None => {
                    if let Some(impossible) = required_column_without_default(new, column) {
                        plan.impossible.push(impossible);
                        continue;
                    }
                    // The reference is added with the other foreign keys, once the table it
                    // points at exists.
                    let mut without_reference = column.clone();
                    without_reference.references = None;
                    column_changes.push(add_column(new, &without_reference, dialect));
                }
            }
            let reference_kept =
                previous.is_some_and(|previous| foreign_key_kept(applied, wanted, previous, Some(column)));
            if column.references.is_some() && !reference_kept {
                foreign_key_additions.push(add_foreign_key(new, column));
            }
        }
        index_creations.extend(create_indexes(old, new, dialect));
    }
    for creation in creations {
        for column in &creation.deferred_references {
            foreign_key_additions.push(add_foreign_key(creation.table, column));
        }
    }
    plan.steps.extend(foreign_key_drops);
    plan.steps.extend(index_drops);
    plan.steps.extend(column_changes);
    plan.steps.extend(index_creations);
    plan.steps
        .extend(creations.iter().map(|creation| create_table(creation.table, &creation.deferred_references, dialect)));
    plan.steps.extend(foreign_key_additions);
}

/// Whether the foreign key of `old_column` (a column of the applied schema that has one)
/// stays as it is: the column is kept with the same reference and type, and the column it
/// references keeps its type and the unique index the constraint relies on.
fn foreign_key_kept(
    applied: &PhysicalSchema,
    wanted: &PhysicalSchema,
    old_column: &Column,
    new_column: Option<&Column>,
) -> bool {
    let (Some(old_reference), Some(new_column)) = (&old_column.references, new_column) else {
        return false;
    };
    if new_column.references.as_ref() != Some(old_reference) || new_column.sql_type != old_column.sql_type {
        return false;
    }
    fn target<'a>(schema: &'a PhysicalSchema, reference: &ForeignKey) -> Option<(&'a Table, &'a Column)> {
        let table = schema.table(&reference.table)?;
        Some((table, table.column(&reference.column)?))
    }
    let (Some((old_table, old_target)), Some((new_table, new_target))) =
        (target(applied, old_reference), target(wanted, old_reference))
    else {
        return false;
    };
    let key_index_kept = old_table
        .indexes
        .iter()
        .filter(|index| index.unique && index.predicate.is_none() && index.columns == [old_reference.column.as_str()])
        .all(|index| new_table.indexes.contains(index));
    old_target.sql_type == new_target.sql_type && key_index_kept
}

/// The name PostgreSQL gives the foreign key declared inline on `table.column`
/// (`{table}_{column}_fkey`, the longer part shortened first to fit 63 bytes), which is
/// also the name oxbase gives the foreign keys it adds later, so both are dropped alike.
pub fn postgres_foreign_key_name(table: &str, column: &str) -> String {
    const SUFFIX: &str = "fkey";
    let available = crate::values::MAX_DATABASE_NAME_LENGTH - SUFFIX.len() - 2;
    let (mut table_length, mut column_length) = (table.len(), column.len());
    while table_length + column_length > available {
        if table_length > column_length {
            table_length -= 1;
        } else {
            column_length -= 1;
        }
    }
    // Validated names are ASCII, so any byte length is a character boundary.
    format!("{}_{}_{SUFFIX}", &table[..table_length], &column[..column_length])
}

fn drop_foreign_key(table: &Table, column: &Column) -> MigrationStep {
    let dialect = Dialect::Postgres;
    MigrationStep {
        description: format!("drop foreign key {}.{}", table.name, column.name),
        destructive: None,
        rebuilds_table: false,
        statements: vec![format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            dialect.quote(&table.name),
            dialect.quote(&postgres_foreign_key_name(&table.name, &column.name))
        )],
    }
}

fn add_foreign_key(table: &Table, column: &Column) -> MigrationStep {
    let dialect = Dialect::Postgres;
    let reference = column.references.as_ref().expect("only columns with a reference get a foreign key");
    MigrationStep {
        description: format!("add foreign key {}.{}", table.name, column.name),
        destructive: None,
        rebuilds_table: false,
        statements: vec![format!(
            "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}",
            dialect.quote(&table.name),
            dialect.quote(&postgres_foreign_key_name(&table.name, &column.name)),
            dialect.quote(&column.name),
            dialect.quote(&reference.table),
            dialect.quote(&reference.column),
            reference.on_delete.sql()
        )],
    }
}

/// ALTER COLUMN for everything about a kept column that changed except its foreign key:
/// checks that change are dropped first and added last, and the default is set again after
/// a type change, since the old one may not convert.
fn alter_column(table: &Table, previous: &Column, column: &Column) -> Option<MigrationStep> {
    let dialect = Dialect::Postgres;
    let alter_table = format!("ALTER TABLE {}", dialect.quote(&table.name));
    let name = dialect.quote(&column.name);
    let type_changed = previous.sql_type != column.sql_type;
    let mut statements = Vec::new();
    let mut destructive_reasons = Vec::new();
    for (check_name, condition) in &previous.checks {
        if !column.checks.iter().any(|(name, wanted)| name == check_name && wanted == condition) {
            statements.push(format!("{alter_table} DROP CONSTRAINT {}", dialect.quote(check_name)));
        }
    }
    if previous.identity && !column.identity {
        statements.push(format!("{alter_table} ALTER COLUMN {name} DROP IDENTITY IF EXISTS"));
    }
    let default_changed = previous.default_sql != column.default_sql;
    if previous.default_sql.is_some() && (type_changed || default_changed) {
        statements.push(format!("{alter_table} ALTER COLUMN {name} DROP DEFAULT"));
    }
    if type_changed {
        destructive_reasons.push(type_change_reason(table, previous, column));
        statements.push(format!(
            "{alter_table} ALTER COLUMN {name} TYPE {} USING {}",
            column.sql_type,
            postgres_cast(&name, &previous.sql_type, &column.sql_type)
        ));
    }
    if previous.primary_key != column.primary_key || previous.identity != column.identity {
        destructive_reasons.push(primary_key_change_reason(table));
    }
    if previous.not_null != column.not_null && !column.primary_key {
        let change = if column.not_null { "SET" } else { "DROP" };
        statements.push(format!("{alter_table} ALTER COLUMN {name} {change} NOT NULL"));
    }
    if let Some(default) = &column.default_sql
        && (type_changed || default_changed)
    {
        statements.push(format!("{alter_table} ALTER COLUMN {name} SET DEFAULT {default}"));
    }
    if column.identity && !previous.identity {
        statements.push(format!("{alter_table} ALTER COLUMN {name} ADD GENERATED BY DEFAULT AS IDENTITY"));
    }
    for (check_name, condition) in &column.checks {
        if !previous.checks.iter().any(|(name, applied)| name == check_name && applied == condition) {
            statements.push(format!("{alter_table} ADD CONSTRAINT {} CHECK ({condition})", dialect.quote(check_name)));
        }
    }
    (!statements.is_empty()).then(|| MigrationStep {
        description: format!("alter column {}.{}", table.name, column.name),
        destructive: (!destructive_reasons.is_empty()).then(|| destructive_reasons.join("; ")),
        rebuilds_table: false,
        statements,
    })
}

/// The USING expression converting `column` from one PostgreSQL type to another: a direct
/// cast where PostgreSQL has one, otherwise through text (which fails on the first value
/// that does not convert, rolling the migration back).
fn postgres_cast(column: &str, from: &str, to: &str) -> String {
    let numeric = |sql_type: &str| matches!(sql_type, "INTEGER" | "BIGINT" | "DOUBLE PRECISION" | "NUMERIC");
    let direct = from == "TEXT"
        || to == "TEXT"
        || (numeric(from) && numeric(to))
        || matches!(
            (from, to),
            ("INTEGER", "BOOLEAN") | ("BOOLEAN", "INTEGER") | ("DATE", "TIMESTAMPTZ") | ("TIMESTAMPTZ", "DATE")
        )
        || (from == "JSONB" && (numeric(to) || to == "BOOLEAN"));
    if direct { format!("{column}::{to}") } else { format!("{column}::TEXT::{to}") }
}
