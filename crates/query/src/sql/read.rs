//! Read plans → SQL: one statement for the root rows, one per embedded node.
//!
//! The main table of a statement is aliased `t` (a junction `j`); `!inner` filters become
//! `EXISTS` subqueries aliased `e1`, `e2`… by depth. Children are fetched for all parents
//! at once: their statement takes the parents' key values as one parameter, a JSON array
//! on SQLite (`IN (SELECT value FROM json_each(?))`) and an array on PostgreSQL
//! (`= ANY($n)`), so the statement text does not depend on the page size and is prepared
//! once.

use oxbase_schema::dialect::Dialect;
use oxbase_schema::model::{FieldType, Literal};

use crate::grammar::AggregateFunction;
use crate::plan::{ColumnExpression, Embed, Join, Node, Ordering, ReadPlan};
use crate::sql::Statement;
use crate::sql::writer::{Writer, write_condition};

/// The root statement of a plan (with its keyset position, order, limit and offset).
pub fn root_statement(plan: &ReadPlan, dialect: Dialect) -> Statement {
    let node = &plan.root;
    let mut writer = Writer::new(dialect);
    writer.push("SELECT ");
    select_list(&mut writer, node, false);
    writer.push(" FROM ");
    writer.table(&node.table, "t");
    let mut conditions = Conditions::default();
    where_clause(&mut writer, node, "t", 1, &mut conditions);
    if let Some(after) = &plan.after {
        conditions.next(&mut writer);
        keyset(&mut writer, node, after);
    }
    group_by(&mut writer, node);
    order_by(&mut writer, &node.order, "t");
    writer.push(" LIMIT ");
    writer.parameter(Literal::Integer(i64::from(node.limit.unwrap_or(0))));
    writer.push(" OFFSET ");
    writer.parameter(Literal::Integer(i64::try_from(node.offset).unwrap_or(i64::MAX)));
    writer.finish(None)
}

/// The statement counting every row the root matches (ignoring limit, offset and cursor).
pub fn count_statement(plan: &ReadPlan, dialect: Dialect) -> Statement {
    let node = &plan.root;
    let mut writer = Writer::new(dialect);
    // A grouped read returns one row per group: count the groups. With no grouping column
    // the inner aggregate yields exactly one row, which the outer count then counts.
    let (open, close) = match (node.grouped, has_group_columns(node)) {
        (false, _) => ("SELECT count(*) FROM ", ""),
        (true, true) => ("SELECT count(*) FROM (SELECT 1 FROM ", ") AS \"g\""),
        (true, false) => ("SELECT count(*) FROM (SELECT count(*) FROM ", ") AS \"g\""),
    };
    writer.push(open);
    writer.table(&node.table, "t");
    let mut conditions = Conditions::default();
    where_clause(&mut writer, node, "t", 1, &mut conditions);
    group_by(&mut writer, node);
    writer.push(close);
    writer.finish(None)
}

/// The statement fetching an embedded node's rows for every parent key at once.
pub fn child_statement(embed: &Embed, dialect: Dialect) -> Statement {
    let node = &embed.node;
    let mut writer = Writer::new(dialect);
    let windowed = embed.many && (node.limit.is_some() || node.offset > 0);
    writer.push("SELECT ");
    if windowed {
        writer.push("* FROM (SELECT ");
    }
    select_list(&mut writer, node, windowed);
    if windowed {
        writer.push(", row_number() OVER (PARTITION BY ");
        join_key(&mut writer, &embed.join);
        order_by_terms(&mut writer, &node.order, "t", " ORDER BY ");
        writer.push(") AS \"_oxbase_row\"");
    }
    writer.push(" FROM ");
    match &embed.join {
        Join::Direct { .. } => writer.table(&node.table, "t"),
        Join::Through { junction_table, junction_child_field, child_field, .. } => {
            writer.table(junction_table, "j");
            writer.push(" JOIN ");
            writer.table(&node.table, "t");
            writer.push(" ON ");
            writer.column("t", child_field);
            writer.push(" = ");
            writer.column("j", junction_child_field);
        }
    }
    writer.push(" WHERE ");
    join_key(&mut writer, &embed.join);
    let key_list = writer.parameters.len() + 1;
    match dialect {
        Dialect::Sqlite => {
            writer.push(" IN (SELECT value FROM json_each(");
            dialect.push_placeholder(&mut writer.sql, key_list);
            writer.push("))");
        }
        Dialect::Postgres => {
            writer.push(" = ANY(");
            dialect.push_placeholder(&mut writer.sql, key_list);
            writer.push(")");
        }
    }
    // The key list holds a placeholder of its own; later parameters number after it.
    writer.parameters.push(Literal::Null);
    let mut conditions = Conditions { written: 1 };
    where_clause(&mut writer, node, "t", 1, &mut conditions);
    if windowed {
        writer.push(") AS \"w\" WHERE \"_oxbase_row\" > ");
        writer.parameter(Literal::Integer(i64::try_from(node.offset).unwrap_or(i64::MAX)));
        if let Some(limit) = node.limit {
            writer.push(" AND \"_oxbase_row\" <= ");
            writer.parameter(Literal::Integer(
                i64::try_from(node.offset).unwrap_or(i64::MAX).saturating_add(i64::from(limit)),
            ));
        }
        writer.push(" ORDER BY \"_oxbase_row\"");
    } else {
        order_by(&mut writer, &node.order, "t");
    }
    writer.finish(Some(key_list))
}

fn join_key(writer: &mut Writer, join: &Join) {
    match join {
        Join::Direct { child_field, .. } => writer.column("t", child_field),
        Join::Through { junction_parent_field, .. } => writer.column("j", junction_parent_field),
    }
}

/// The selected columns; aliased `c0, c1…` inside a window subquery so names never clash.
fn select_list(writer: &mut Writer, node: &Node, aliased: bool) {
    for (index, column) in node.columns.iter().enumerate() {
        if index > 0 {
            writer.push(", ");
        }
        match &column.expression {
            ColumnExpression::Field(field) => {
                writer.column("t", field);
                if writer.dialect == Dialect::Postgres && column.output_type == FieldType::Decimal {
                    // Exact decimals travel as text and are written into JSON as numbers.
                    writer.push("::text");
                }
            }
            ColumnExpression::JunctionField(field) => writer.column("j", field),
            ColumnExpression::Aggregate(function, input) => aggregate(writer, *function, input.as_ref()),
        }
        if aliased {
            writer.push(&format!(" AS \"c{index}\""));
        }
    }
}

fn aggregate(writer: &mut Writer, function: AggregateFunction, input: Option<&(String, FieldType)>) {
    let name = match function {
        AggregateFunction::Count => "count",
        AggregateFunction::Sum => "sum",
        AggregateFunction::Avg => "avg",
        AggregateFunction::Min => "min",
        AggregateFunction::Max => "max",
    };
    writer.push(name);
    writer.push("(");
    match input {
        None => writer.push("*"),
        Some((field, field_type)) if function != AggregateFunction::Count => writer.comparable("t", field, field_type),
        Some((field, _)) => writer.column("t", field),
    }
    writer.push(")");
    if writer.dialect == Dialect::Postgres {
        // PostgreSQL answers numeric (or bigint) where SQLite answers a float (or an
        // integer); casting keeps the JSON the same on both engines.
        let input_type = input.map(|(_, field_type)| field_type);
        let integer_input = matches!(input_type, Some(FieldType::Integer | FieldType::Bigint));
        match function {
            AggregateFunction::Sum if integer_input => writer.push("::bigint"),
            AggregateFunction::Sum | AggregateFunction::Avg => writer.push("::double precision"),
            AggregateFunction::Min | AggregateFunction::Max if input_type == Some(&FieldType::Decimal) => {
                writer.push("::double precision")
            }
            _ => {}
        }
    }
}

#[derive(Default)]
struct Conditions {
    written: usize,
}

impl Conditions {
    fn next(&mut self, writer: &mut Writer) {
        writer.push(if self.written == 0 { " WHERE " } else { " AND " });
        self.written += 1;
    }
}

/// The node's own filter and its `!inner` embeds, as WHERE terms on `alias`.
fn where_clause(writer: &mut Writer, node: &Node, alias: &str, depth: usize, conditions: &mut Conditions) {
    if let Some(condition) = &node.condition {
        conditions.next(writer);
        write_condition(writer, condition, alias);
    }
    for embed in node.embeds.iter().filter(|embed| embed.inner) {
        conditions.next(writer);
        exists(writer, embed, alias, depth);
    }
}

fn exists(writer: &mut Writer, embed: &Embed, parent_alias: &str, depth: usize) {
    let alias = format!("e{depth}");
    writer.push("EXISTS (SELECT 1 FROM ");
    match &embed.join {
        Join::Direct { parent_field, child_field } => {
            writer.table(&embed.node.table, &alias);
            writer.push(" WHERE ");
            writer.column(&alias, child_field);
            writer.push(" = ");
            writer.column(parent_alias, parent_field);
        }
        Join::Through { junction_table, parent_field, junction_parent_field, junction_child_field, child_field } => {
            let junction_alias = format!("j{depth}");
            writer.table(junction_table, &junction_alias);
            writer.push(" JOIN ");
            writer.table(&embed.node.table, &alias);
            writer.push(" ON ");
            writer.column(&alias, child_field);
            writer.push(" = ");
            writer.column(&junction_alias, junction_child_field);
            writer.push(" WHERE ");
            writer.column(&junction_alias, junction_parent_field);
            writer.push(" = ");
            writer.column(parent_alias, parent_field);
        }
    }
    let mut conditions = Conditions { written: 1 };
    where_clause(writer, &embed.node, &alias, depth + 1, &mut conditions);
    writer.push(")");
}

/// Rows strictly after the keyset position `after` in the node's order.
fn keyset(writer: &mut Writer, node: &Node, after: &[Literal]) {
    let same_direction = node.order.iter().all(|term| term.descending == node.order[0].descending);
    if same_direction && node.order.iter().all(|term| !term.nullable) {
        // A row-value comparison lets both engines seek the matching index directly.
        writer.push("(");
        for (index, term) in node.order.iter().enumerate() {
            if index > 0 {
                writer.push(", ");
            }
            writer.column("t", &term.field);
        }
        writer.push(if node.order[0].descending { ") < (" } else { ") > (" });
        for (index, value) in after.iter().enumerate() {
            if index > 0 {
                writer.push(", ");
            }
            writer.parameter(value.clone());
        }
        writer.push(")");
        return;
    }
    writer.push("(");
    let mut first_disjunct = true;
    for (position, term) in node.order.iter().enumerate() {
        let value = &after[position];
        let strictly_after_is_empty = *value == Literal::Null && !term.nulls_first;
        if strictly_after_is_empty {
            continue;
        }
        if !first_disjunct {
            writer.push(" OR ");
        }
        first_disjunct = false;
        writer.push("(");
        for (earlier, earlier_value) in node.order[..position].iter().zip(after) {
            writer.column("t", &earlier.field);
            if *earlier_value == Literal::Null {
                writer.push(" IS NULL");
            } else {
                writer.push(" = ");
                writer.parameter(earlier_value.clone());
            }
            writer.push(" AND ");
        }
        if *value == Literal::Null {
            writer.column("t", &term.field);
            writer.push(" IS NOT NULL");
        } else {
            let nulls_after = !term.nulls_first && term.nullable;
            if nulls_after {
                writer.push("(");
            }
            writer.column("t", &term.field);
            writer.push(if term.descending { " < " } else { " > " });
            writer.parameter(value.clone());
            if nulls_after {
                writer.push(" OR ");
                writer.column("t", &term.field);
                writer.push(" IS NULL)");
            }
        }
        writer.push(")");
    }
    if first_disjunct {
        writer.push("1 = 0");
    }
    writer.push(")");
}

fn has_group_columns(node: &Node) -> bool {
    node.columns.iter().any(|column| matches!(column.expression, ColumnExpression::Field(_)))
}

fn group_by(writer: &mut Writer, node: &Node) {
    if !node.grouped {
        return;
    }
    let fields: Vec<&String> = node
        .columns
        .iter()
        .filter_map(|column| match &column.expression {
            ColumnExpression::Field(field) => Some(field),
            _ => None,
        })
        .collect();
    if fields.is_empty() {
        return;
    }
    writer.push(" GROUP BY ");
    for (index, field) in fields.into_iter().enumerate() {
        if index > 0 {
            writer.push(", ");
        }
        writer.column("t", field);
    }
}

fn order_by(writer: &mut Writer, order: &[Ordering], alias: &str) {
    order_by_terms(writer, order, alias, " ORDER BY ");
}

fn order_by_terms(writer: &mut Writer, order: &[Ordering], alias: &str, keyword: &str) {
    if order.is_empty() {
        return;
    }
    writer.push(keyword);
    for (index, term) in order.iter().enumerate() {
        if index > 0 {
            writer.push(", ");
        }
        writer.column(alias, &term.field);
        writer.push(if term.descending { " DESC" } else { " ASC" });
        writer.push(if term.nulls_first { " NULLS FIRST" } else { " NULLS LAST" });
    }
}
