//! The write logic on any engine, inside one open transaction: the data statements, the
//! reference checks, the version bumps, the representation read and, last, the audit
//! batch. The engine's store opens and commits the transaction; any failure here rolls all
//! of it back.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use oxbase_query::plan::{Condition, ReadPlan};
use oxbase_query::sql::Statement;
use oxbase_query::sql::write::{
    bulk_update, bump_version, delete_by_keys, insert_statement, keys_outside, lock_by_keys, rows_per_statement,
    select_by_keys, select_for_write, update_by_keys,
};
use oxbase_query::write::{BulkUpdatePlan, Conflict, InsertPlan, InsertRow, InsertTarget, Problem, UpdatePlan};
use oxbase_schema::Schema;
use oxbase_schema::model::{FieldType, Literal, OnDelete};
use oxbase_schema::physical::sql_type;

use crate::audit::AuditContext;
use crate::audit::record::{PendingRecord, add_change, append_batch};
use crate::change::{ChangeOperation, RowChange};
use crate::exec::{Executor, Refusal, Value};
use crate::json::literal_json;
use crate::postgres::notify;
use crate::read::read_with;
use crate::write::{WriteFailure, WriteGuard, WriteOptions, WriteOutcome, WriteRequest};
use crate::{ReadOutput, StoreError};

/// Runs a write request on `executor`, which is inside a transaction the caller commits.
pub(crate) fn write_in_transaction(
    executor: &mut dyn Executor,
    schema: &Schema,
    request: &WriteRequest,
    options: WriteOptions,
) -> Result<WriteOutcome, WriteFailure> {
    let mut representation = options.representation;
    let started = Instant::now();
    // A write rolled back on purpose leaves nothing, so it records nothing either.
    let audit = options.audit.as_ref().filter(|_| !options.rollback);
    let mut run = Run {
        executor,
        statements: 0,
        resource: request.resource().to_owned(),
        guard: &options.guard,
        audit,
        records: Vec::new(),
    };
    let key_field = schema.resource(request.resource()).expect("requests name resources").primary_key();
    // The written rows as `select` shapes them, read inside the transaction.
    let read_back =
        |run: &mut Run, plan: Option<ReadPlan>, keys: &[Literal]| -> Result<Option<ReadOutput>, WriteFailure> {
            let Some(mut plan) = plan else { return Ok(None) };
            if keys.is_empty() {
                return Ok(None);
            }
            let written = Condition::In {
                field: key_field.name.clone(),
                field_type: key_field.field_type.clone(),
                values: keys.to_vec(),
            };
            // The plan's own root condition is the caller's read rule: the written rows
            // come back as far as the caller may read them.
            plan.root.condition = Some(match plan.root.condition.take() {
                None => written,
                Some(rule) => Condition::And(vec![written, rule]),
            });
            plan.root.limit = Some(u32::try_from(keys.len()).unwrap_or(u32::MAX));
            let output = read_with(run.executor, &plan)?;
            run.statements += output.statements;
            Ok(Some(output))
        };
    let mut deleted_representation = None;
    let (op, keys, changes, mut touched) = match request {
        WriteRequest::Insert(plan) => {
            let (keys, touched) = run.insert(schema, plan)?;
            (ChangeOperation::Insert, keys, Vec::new(), touched)
        }
        WriteRequest::Update(plan) => {
            let (keys, changes) = run.update(schema, plan)?;
            (ChangeOperation::Update, keys, changes, vec![plan.resource.clone()])
        }
        WriteRequest::BulkUpdate(plan) => {
            let (keys, changes) = run.bulk_update(schema, plan)?;
            (ChangeOperation::Update, keys, changes, vec![plan.resource.clone()])
        }
        WriteRequest::Delete { resource, table, key, condition } => {
            // Deleted rows are read back before they go (all their fields when audited).
            let keys = run.select_deleted(schema, resource, table, key, condition.as_ref())?;
            run.check_before(resource, table, key, &keys, "delete")?;
            deleted_representation = read_back(&mut run, representation.take(), &keys)?;
            run.delete_keys(table, key, &keys)?;
            let mut touched = vec![resource.clone()];
            touched.extend(cascaded_resources(schema, resource));
            (ChangeOperation::Delete, keys, Vec::new(), touched)
        }
    };
    touched.dedup();
    if keys.is_empty() {
        // Nothing changed: no version moves, so caches stay valid.
        touched.clear();
    }
    let mut versions = Vec::with_capacity(touched.len());
    for resource in touched {
        let version = run.bump_version(&resource)?;
        versions.push((resource, version));
    }
    if !versions.is_empty() {
        let notice = notify::ChangeNotice {
            origin: options.instance.clone(),
            resource: request.resource().to_owned(),
            op,
            ids: keys.iter().map(|key| literal_json(key, &key_field.field_type)).collect(),
            versions: versions.iter().cloned().collect(),
        };
        if let Some(statement) = run.executor.change_statement(&notice) {
            run.query(&statement, None)?;
        }
    }
    let representation = match deleted_representation {
        Some(output) => Some(output),
        None => read_back(&mut run, representation, &keys)?,
    };
    if let Some(max) = options.max_affected
        && keys.len() > max
    {
        return Err(WriteFailure::TooManyRows { rows: keys.len(), max });
    }
    if options.single_row && keys.len() != 1 {
        return Err(WriteFailure::NotSingleRow { rows: keys.len() });
    }
    if options.deadline.is_some_and(|deadline| Instant::now() > deadline) {
        return Err(WriteFailure::DeadlinePassed);
    }
    if let Some(context) = run.audit {
        // Last, so the chain's head is locked only until the commit that follows.
        let records = std::mem::take(&mut run.records);
        let action = audit_action(request);
        append_batch(
            &mut *run.executor,
            context,
            action,
            request.resource(),
            keys.len(),
            records,
            &mut run.statements,
        )?;
    }
    let statements = run.statements;
    Ok(WriteOutcome { op, keys, changes, versions, representation, statements, database_time: started.elapsed() })
}

/// The action a batch records for the request.
fn audit_action(request: &WriteRequest) -> &'static str {
    match request {
        WriteRequest::Insert(plan) if plan.conflict == Conflict::Merge => "upsert",
        WriteRequest::Insert(_) => "insert",
        WriteRequest::Update(_) | WriteRequest::BulkUpdate(_) => "update",
        WriteRequest::Delete { .. } => "delete",
    }
}

/// Resources whose rows a delete of `resource` may change through ON DELETE CASCADE or
/// SET NULL, transitively.
fn cascaded_resources(schema: &Schema, resource: &str) -> Vec<String> {
    let mut found: BTreeSet<String> = BTreeSet::new();
    let mut pending = vec![resource.to_owned()];
    while let Some(current) = pending.pop() {
        for other in schema.resources.values() {
            let affected = other.fields.iter().any(|field| {
                field.reference.as_ref().is_some_and(|reference| {
                    reference.resource == current
                        && matches!(reference.on_delete, OnDelete::Cascade | OnDelete::SetNull)
                })
            });
            if affected && other.name != resource && found.insert(other.name.clone()) {
                pending.push(other.name.clone());
            }
        }
    }
    found.into_iter().collect()
}

struct Run<'a> {
    executor: &'a mut dyn Executor,
    statements: u32,
    /// The resource the request writes, for the slow-query log.
    resource: String,
    /// The caller's rules the rows must pass.
    guard: &'a WriteGuard,
    /// Who writes, when the write is audited.
    audit: Option<&'a AuditContext>,
    /// The audit records collected so far, in the order the rows were written.
    records: Vec<PendingRecord>,
}

impl Run<'_> {
    fn query(&mut self, statement: &Statement, keys: Option<&[Literal]>) -> Result<Vec<Vec<Value>>, WriteFailure> {
        self.statements += 1;
        let resource = self.resource.clone();
        Ok(self.executor.run(&resource, statement, keys)?)
    }

    /// The rows among `keys` that `condition` does not let through, in key order.
    fn outside(
        &mut self,
        table: &str,
        key: &str,
        keys: &[Literal],
        condition: &Condition,
    ) -> Result<Vec<Literal>, WriteFailure> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self.query(&keys_outside(table, key, condition, self.executor.dialect()), Some(keys))?;
        Ok(rows.iter().map(|row| value_literal(&row[0])).collect())
    }

    /// Rows about to be updated or deleted must pass the caller's rule as they are now.
    fn check_before(
        &mut self,
        resource: &str,
        table: &str,
        key: &str,
        keys: &[Literal],
        action: &str,
    ) -> Result<(), WriteFailure> {
        let Some(condition) = &self.guard.before else { return Ok(()) };
        let outside = self.outside(table, key, keys, condition)?;
        match outside.first() {
            None => Ok(()),
            Some(first) => Err(WriteFailure::Forbidden {
                message: format!(
                    "your role may not {action} {resource} {}{}; nothing was written",
                    literal_text(first),
                    more(outside.len())
                ),
            }),
        }
    }

    /// Rows created or changed must pass the caller's rule for their resource afterwards;
    /// `paths` names each key's row in the body (the key itself when there is none).
    fn check_after(
        &mut self,
        resource: &str,
        table: &str,
        key: &str,
        keys: &[Literal],
        paths: &[&str],
    ) -> Result<(), WriteFailure> {
        let Some(condition) = self.guard.after(resource).cloned() else { return Ok(()) };
        let outside = self.outside(table, key, keys, &condition)?;
        let Some(first) = outside.first() else { return Ok(()) };
        let place = keys
            .iter()
            .position(|candidate| candidate == first)
            .and_then(|index| paths.get(index))
            .filter(|path| !path.is_empty())
            .map_or_else(|| format!("{resource} {}", literal_text(first)), |path| format!("the row at {path}"));
        Err(WriteFailure::Forbidden {
            message: format!(
                "{place}{} would be outside what your role may write in '{resource}'; nothing was written",
                more(outside.len())
            ),
        })
    }

    fn bump_version(&mut self, resource: &str) -> Result<i64, WriteFailure> {
        let rows = self.query(&bump_version(resource, self.executor.dialect()), None)?;
        match rows.first().and_then(|row| row.first()) {
            Some(Value::Integer(version)) => Ok(*version),
            other => Err(WriteFailure::Store(StoreError::Internal(format!("the version bump returned {other:?}")))),
        }
    }

    /// Inserts the plan's rows and their nested children; returns the root keys and every
    /// resource written.
    fn insert(&mut self, schema: &Schema, plan: &InsertPlan) -> Result<(Vec<Literal>, Vec<String>), WriteFailure> {
        let mut rows: Vec<Vec<Literal>> = plan.rows.iter().map(|row| row.values.clone()).collect();
        generate_keys(&plan.target, &mut rows);
        self.check_references(
            schema,
            &plan.target,
            &rows
                .iter()
                .zip(&plan.rows)
                .map(|(values, row)| (row.path.as_str(), values.as_slice()))
                .collect::<Vec<_>>(),
        )?;
        let keys = self.insert_rows(&plan.target, &rows, plan.conflict, &plan.conflict_columns, &plan.provided)?;
        self.check_new_keys(schema, &plan.target, &keys)?;
        let action = if plan.conflict == Conflict::Merge { "upsert" } else { "insert" };
        self.record_inserts(schema, &plan.target, &rows, &keys, action);
        if plan.conflict != Conflict::Ignore || keys.len() == rows.len() {
            // (An ignored duplicate returns no key, so keys and rows no longer pair up; the
            // keys are checked all the same, named by key.)
            let paths: Vec<&str> = plan.rows.iter().map(|row| row.path.as_str()).collect();
            self.check_after(&plan.target.resource, &plan.target.table, &plan.target.key, &keys, &paths)?;
        } else {
            self.check_after(&plan.target.resource, &plan.target.table, &plan.target.key, &keys, &[])?;
        }
        self.advance_identity(&plan.target, &rows)?;
        let mut touched = vec![plan.target.resource.clone()];
        for (position, nested) in plan.target.nested.iter().enumerate() {
            let mut child_rows: Vec<(&InsertRow, Vec<Literal>)> = Vec::new();
            for (parent_index, parent) in plan.rows.iter().enumerate() {
                if parent.children[position].is_empty() {
                    continue;
                }
                let parent_value = if nested.parent_field == plan.target.key {
                    keys[parent_index].clone()
                } else {
                    let column = plan
                        .target
                        .columns
                        .iter()
                        .position(|column| *column == nested.parent_field)
                        .expect("parent fields are columns");
                    rows[parent_index][column].clone()
                };
                for child in &parent.children[position] {
                    let mut values = child.values.clone();
                    values[nested.link_column] = parent_value.clone();
                    child_rows.push((child, values));
                }
            }
            if child_rows.is_empty() {
                continue;
            }
            let mut values: Vec<Vec<Literal>> = child_rows.iter().map(|(_, values)| values.clone()).collect();
            generate_keys(&nested.target, &mut values);
            let labelled: Vec<(&str, &[Literal])> = child_rows
                .iter()
                .zip(&values)
                .map(|((row, _), values)| (row.path.as_str(), values.as_slice()))
                .collect();
            self.check_references(schema, &nested.target, &labelled)?;
            let child_keys = self.insert_rows(&nested.target, &values, Conflict::Fail, &[], &[])?;
            self.check_new_keys(schema, &nested.target, &child_keys)?;
            self.record_inserts(schema, &nested.target, &values, &child_keys, "insert");
            let paths: Vec<&str> = child_rows.iter().map(|(row, _)| row.path.as_str()).collect();
            self.check_after(&nested.target.resource, &nested.target.table, &nested.target.key, &child_keys, &paths)?;
            touched.push(nested.target.resource.clone());
        }
        Ok((keys, touched))
    }

    /// Keys the database assigned must fit the key's declared type: SQLite gives a new row
    /// the largest key plus one whatever the column's declared width, so after an explicit
    /// id at the top of a 32-bit key the next one would be a key no reference can hold.
    /// PostgreSQL's sequence stops there by itself (mapped to the same failure).
    fn check_new_keys(&self, schema: &Schema, target: &InsertTarget, keys: &[Literal]) -> Result<(), WriteFailure> {
        let resource = schema.resource(&target.resource).expect("targets are resources");
        if resource.primary_key().field_type != FieldType::Integer {
            return Ok(());
        }
        match keys.iter().find(|key| matches!(key, Literal::Integer(number) if i32::try_from(*number).is_err())) {
            Some(key) => Err(Refusal::KeysExhausted {
                message: format!(
                    "no new ids are left for '{}': the next one ({}) would not fit its 32-bit integer key",
                    target.resource,
                    literal_text(key)
                ),
            }
            .into()),
            None => Ok(()),
        }
    }

    /// After an upsert that named identity keys itself, the engine is told (PostgreSQL's
    /// sequence does not move for explicit values), so the next plain insert gets a free key.
    fn advance_identity(&mut self, target: &InsertTarget, rows: &[Vec<Literal>]) -> Result<(), WriteFailure> {
        let explicit_keys = target.generated_key.is_none() && target.columns.first() == Some(&target.key);
        if !explicit_keys {
            return Ok(());
        }
        let highest = rows
            .iter()
            .filter_map(|row| match row.first() {
                Some(Literal::Integer(number)) => Some(*number),
                _ => None,
            })
            .max();
        if let Some(statement) =
            highest.and_then(|highest| self.executor.keys_chosen_statement(&target.table, &target.key, highest))
        {
            self.query(&statement, None)?;
        }
        Ok(())
    }

    /// Multi-row inserts, chunked under SQLite's parameter limit; the keys in row order.
    fn insert_rows(
        &mut self,
        target: &InsertTarget,
        rows: &[Vec<Literal>],
        conflict: Conflict,
        conflict_columns: &[String],
        provided: &[String],
    ) -> Result<Vec<Literal>, WriteFailure> {
        let mut keys = Vec::with_capacity(rows.len());
        let merged: Vec<String> = provided.to_vec();
        for chunk in rows.chunks(rows_per_statement(self.executor.dialect(), target.columns.len())) {
            let slices: Vec<&[Literal]> = chunk.iter().map(Vec::as_slice).collect();
            let statement =
                insert_statement(target, &slices, conflict, conflict_columns, &merged, self.executor.dialect());
            let returned = self.query(&statement, None)?;
            let mut chunk_keys: Vec<Literal> = returned.iter().map(|row| value_literal(&row[0])).collect();
            if target.generated_key.is_none() && conflict == Conflict::Fail {
                // New identity keys grow with insertion order under the single writer, so
                // sorting maps them back to the rows whatever order RETURNING used.
                chunk_keys.sort_by_key(|key| match key {
                    Literal::Integer(number) => *number,
                    _ => i64::MAX,
                });
            }
            keys.extend(chunk_keys);
        }
        Ok(keys)
    }

    /// Every reference to another resource must name an existing row: checked in one
    /// statement per reference field, so the error names the row and field.
    fn check_references(
        &mut self,
        schema: &Schema,
        target: &InsertTarget,
        rows: &[(&str, &[Literal])],
    ) -> Result<(), WriteFailure> {
        let resource = schema.resource(&target.resource).expect("targets are resources");
        let mut problems = Vec::new();
        for (column_index, column) in target.columns.iter().enumerate() {
            let field = resource.field(column).expect("columns are fields");
            let Some(reference) = &field.reference else { continue };
            if reference.resource == resource.name {
                // Rows of this same request may be the ones referenced; the database checks.
                continue;
            }
            let wanted: Vec<Literal> = unique_literals(rows.iter().map(|(_, values)| &values[column_index]));
            if wanted.is_empty() {
                continue;
            }
            let target_resource = schema.resource(&reference.resource).expect("references name resources");
            let existing = self.query(
                &select_by_keys(&target_resource.table, &reference.field, &[], self.executor.dialect()),
                Some(&wanted),
            )?;
            let existing: Vec<Literal> = existing.iter().map(|row| value_literal(&row[0])).collect();
            for (path, values) in rows {
                let value = &values[column_index];
                if *value != Literal::Null && !existing.contains(value) {
                    problems.push(Problem {
                        path: if path.is_empty() { column.clone() } else { format!("{path}.{column}") },
                        message: format!("{} {} does not exist", reference.resource, literal_text(value)),
                    });
                }
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(WriteFailure::Rejected { problems }) }
    }

    fn update(&mut self, schema: &Schema, plan: &UpdatePlan) -> Result<(Vec<Literal>, Vec<RowChange>), WriteFailure> {
        let resource = schema.resource(&plan.resource).expect("plans name resources");
        let columns: Vec<String> = plan.set.iter().map(|(column, _)| column.clone()).collect();
        self.check_update_references(schema, &plan.resource, &plan.set)?;
        let old_rows = self.query(
            &select_for_write(&plan.table, &plan.key, &columns, plan.condition.as_ref(), self.executor.dialect()),
            None,
        )?;
        let keys: Vec<Literal> = old_rows.iter().map(|row| value_literal(&row[0])).collect();
        if keys.is_empty() {
            return Ok((keys, Vec::new()));
        }
        self.check_before(&plan.resource, &plan.table, &plan.key, &keys, "update")?;
        self.query(&update_by_keys(&plan.table, &plan.key, &plan.set, self.executor.dialect()), Some(&keys))?;
        self.check_after(&plan.resource, &plan.table, &plan.key, &keys, &[])?;
        let changes = old_rows
            .iter()
            .map(|old| {
                let mut fields = serde_json::Map::new();
                for (index, (column, new_value)) in plan.set.iter().enumerate() {
                    if value_literal(&old[index + 1]) != *new_value {
                        let field_type = &resource.field(column).expect("set columns are fields").field_type;
                        fields.insert(column.clone(), literal_json(new_value, field_type));
                    }
                }
                RowChange { id: literal_json(&value_literal(&old[0]), &FieldType::Bigint), fields }
            })
            .collect();
        for old in &old_rows {
            let new_values: Vec<&Literal> = plan.set.iter().map(|(_, value)| value).collect();
            self.record_update(resource, &value_literal(&old[0]), &columns, &old[1..], &new_values);
        }
        Ok((keys, changes))
    }

    fn check_update_references(
        &mut self,
        schema: &Schema,
        resource_name: &str,
        set: &[(String, Literal)],
    ) -> Result<(), WriteFailure> {
        let resource = schema.resource(resource_name).expect("plans name resources");
        let columns: Vec<String> = set.iter().map(|(column, _)| column.clone()).collect();
        let values: Vec<Literal> = set.iter().map(|(_, value)| value.clone()).collect();
        let target = InsertTarget {
            resource: resource.name.clone(),
            table: resource.table.clone(),
            key: resource.primary_key().name.clone(),
            columns,
            generated_key: None,
            nested: Vec::new(),
        };
        self.check_references(schema, &target, &[("", values.as_slice())])
    }

    fn bulk_update(
        &mut self,
        schema: &Schema,
        plan: &BulkUpdatePlan,
    ) -> Result<(Vec<Literal>, Vec<RowChange>), WriteFailure> {
        let resource = schema.resource(&plan.resource).expect("plans name resources");
        let key_type = resource.primary_key().field_type.clone();
        let mut keys = Vec::new();
        let mut changes = Vec::new();
        for group in &plan.groups {
            let target = InsertTarget {
                resource: resource.name.clone(),
                table: resource.table.clone(),
                key: plan.key.clone(),
                columns: group.columns.clone(),
                generated_key: None,
                nested: Vec::new(),
            };
            let labelled: Vec<(&str, &[Literal])> =
                group.rows.iter().map(|row| (row.path.as_str(), row.values.as_slice())).collect();
            self.check_references(schema, &target, &labelled)?;
            let group_keys: Vec<Literal> = group.rows.iter().map(|row| row.key.clone()).collect();
            let mut old_by_key: HashMap<String, Vec<Value>> = HashMap::new();
            for chunk in group_keys.chunks(rows_per_statement(self.executor.dialect(), 1)) {
                for row in self.query(
                    &lock_by_keys(&plan.table, &plan.key, &group.columns, self.executor.dialect()),
                    Some(chunk),
                )? {
                    old_by_key.insert(literal_text(&value_literal(&row[0])), row);
                }
            }
            // Rows the caller may not see are missing to them, exactly like rows that are not there.
            if let Some(visible) = self.guard.visible.clone() {
                let found: Vec<Literal> =
                    group_keys.iter().filter(|key| old_by_key.contains_key(&literal_text(key))).cloned().collect();
                for hidden in self.outside(&plan.table, &plan.key, &found, &visible)? {
                    old_by_key.remove(&literal_text(&hidden));
                }
            }
            let missing: Vec<String> = group
                .rows
                .iter()
                .filter(|row| !old_by_key.contains_key(&literal_text(&row.key)))
                .map(|row| format!("{} (at {})", literal_text(&row.key), row.path))
                .collect();
            if !missing.is_empty() {
                return Err(WriteFailure::NotFound {
                    message: format!(
                        "no {} with {} {}; nothing was written",
                        plan.resource,
                        plan.key,
                        missing.join(", ")
                    ),
                });
            }
            self.check_before(&plan.resource, &plan.table, &plan.key, &group_keys, "update")?;
            let dialect = self.executor.dialect();
            let types: Vec<&str> = std::iter::once(&plan.key)
                .chain(&group.columns)
                .map(|column| sql_type(dialect, &resource.field(column).expect("columns are fields").field_type))
                .collect();
            for chunk in group.rows.chunks(rows_per_statement(self.executor.dialect(), group.columns.len() + 1)) {
                let rows: Vec<(&Literal, &[Literal])> =
                    chunk.iter().map(|row| (&row.key, row.values.as_slice())).collect();
                let statement =
                    bulk_update(&plan.table, &plan.key, &group.columns, &types, &rows, self.executor.dialect());
                self.query(&statement, None)?;
            }
            for row in &group.rows {
                let old = &old_by_key[&literal_text(&row.key)];
                let mut fields = serde_json::Map::new();
                for (index, column) in group.columns.iter().enumerate() {
                    if value_literal(&old[index + 1]) != row.values[index] {
                        let field_type = &resource.field(column).expect("columns are fields").field_type;
                        fields.insert(column.clone(), literal_json(&row.values[index], field_type));
                    }
                }
                changes.push(RowChange { id: literal_json(&row.key, &key_type), fields });
                keys.push(row.key.clone());
                let new_values: Vec<&Literal> = row.values.iter().collect();
                self.record_update(resource, &row.key, &group.columns, &old[1..], &new_values);
            }
            let paths: Vec<&str> = group.rows.iter().map(|row| row.path.as_str()).collect();
            self.check_after(&plan.resource, &plan.table, &plan.key, &group_keys, &paths)?;
        }
        Ok((keys, changes))
    }

    /// The keys of the rows a delete removes; when audited, their values are recorded as
    /// they were before.
    fn select_deleted(
        &mut self,
        schema: &Schema,
        resource_name: &str,
        table: &str,
        key: &str,
        condition: Option<&Condition>,
    ) -> Result<Vec<Literal>, WriteFailure> {
        let resource = schema.resource(resource_name).expect("requests name resources");
        let audited = self.audit.filter(|_| resource.audit);
        let columns: Vec<String> = match audited {
            Some(_) => resource.fields.iter().skip(1).map(|field| field.name.clone()).collect(),
            None => Vec::new(),
        };
        let rows = self.query(&select_for_write(table, key, &columns, condition, self.executor.dialect()), None)?;
        if let Some(context) = audited {
            for row in &rows {
                let mut changes = serde_json::Map::new();
                for (field, value) in resource.fields.iter().skip(1).zip(&row[1..]) {
                    let before = literal_json(&value_literal(value), &field.field_type);
                    add_change(&mut changes, context, resource, &field.name, before, serde_json::Value::Null);
                }
                self.records.push(PendingRecord {
                    resource: resource.name.clone(),
                    record_id: literal_text(&value_literal(&row[0])),
                    action: "delete",
                    changes,
                });
            }
        }
        Ok(rows.iter().map(|row| value_literal(&row[0])).collect())
    }

    /// Records inserted rows' values (`[null, after]`), row by row with their keys: by the
    /// key column when the rows name their keys, else in order (an ignored duplicate
    /// returns no key, so a row without one is not recorded).
    fn record_inserts(
        &mut self,
        schema: &Schema,
        target: &InsertTarget,
        rows: &[Vec<Literal>],
        keys: &[Literal],
        action: &'static str,
    ) {
        let Some(context) = self.audit else { return };
        let resource = schema.resource(&target.resource).expect("targets are resources");
        if !resource.audit {
            return;
        }
        let key_column = target.columns.iter().position(|column| *column == target.key);
        // Rows by their key's text, when they name it (an upsert's RETURNING order is the
        // engine's): one lookup per key, not a scan.
        let by_key: HashMap<String, &Vec<Literal>> = match key_column {
            Some(column) => rows.iter().map(|row| (literal_text(&row[column]), row)).collect(),
            None => HashMap::new(),
        };
        for (index, key) in keys.iter().enumerate() {
            let row = match key_column {
                Some(_) => by_key.get(&literal_text(key)).copied(),
                None if keys.len() == rows.len() => rows.get(index),
                None => None,
            };
            let mut changes = serde_json::Map::new();
            for (column, value) in target.columns.iter().zip(row.into_iter().flatten()) {
                if *column == target.key {
                    continue;
                }
                let field_type = &resource.field(column).expect("columns are fields").field_type;
                add_change(
                    &mut changes,
                    context,
                    resource,
                    column,
                    serde_json::Value::Null,
                    literal_json(value, field_type),
                );
            }
            self.records.push(PendingRecord {
                resource: resource.name.clone(),
                record_id: literal_text(key),
                action,
                changes,
            });
        }
    }

    /// Records an updated row's changed fields (`[before, after]`); `old` holds the values
    /// of `columns` before the update, `new` after.
    fn record_update(
        &mut self,
        resource: &oxbase_schema::model::Resource,
        key: &Literal,
        columns: &[String],
        old: &[Value],
        new: &[&Literal],
    ) {
        let Some(context) = self.audit.filter(|_| resource.audit) else { return };
        let mut changes = serde_json::Map::new();
        for ((column, old), new) in columns.iter().zip(old).zip(new) {
            let field_type = &resource.field(column).expect("columns are fields").field_type;
            let before = literal_json(&value_literal(old), field_type);
            let after = literal_json(new, field_type);
            if before != after {
                add_change(&mut changes, context, resource, column, before, after);
            }
        }
        self.records.push(PendingRecord {
            resource: resource.name.clone(),
            record_id: literal_text(key),
            action: "update",
            changes,
        });
    }

    fn delete_keys(&mut self, table: &str, key: &str, keys: &[Literal]) -> Result<(), WriteFailure> {
        if !keys.is_empty() {
            self.query(&delete_by_keys(table, key, self.executor.dialect()), Some(keys))?;
        }
        Ok(())
    }
}

/// New uuid keys for rows of a uuid-keyed target that have none.
fn generate_keys(target: &InsertTarget, rows: &mut [Vec<Literal>]) {
    if let Some(position) = target.generated_key {
        for row in rows {
            if row[position] == Literal::Null {
                row[position] = Literal::Text(uuid::Uuid::now_v7().to_string());
            }
        }
    }
}

fn unique_literals<'a>(values: impl Iterator<Item = &'a Literal>) -> Vec<Literal> {
    let mut seen = BTreeSet::new();
    values.filter(|value| **value != Literal::Null).filter(|value| seen.insert(literal_text(value))).cloned().collect()
}

/// " (and N more)" after the first row named, when there are others.
fn more(outside: usize) -> String {
    if outside > 1 { format!(" (and {} more)", outside - 1) } else { String::new() }
}

fn literal_text(value: &Literal) -> String {
    match value {
        Literal::Null => "null".to_owned(),
        Literal::Boolean(flag) => flag.to_string(),
        Literal::Integer(number) => number.to_string(),
        Literal::Float(number) => number.to_string(),
        Literal::Text(text) => text.clone(),
    }
}

/// A stored value as a literal comparable with a plan's.
fn value_literal(value: &Value) -> Literal {
    match value {
        Value::Null => Literal::Null,
        Value::Integer(number) => Literal::Integer(*number),
        Value::Real(number) => Literal::Float(*number),
        Value::Text(text) => Literal::Text(text.clone()),
        Value::Blob(bytes) => Literal::Text(String::from_utf8_lossy(bytes).into_owned()),
    }
}
