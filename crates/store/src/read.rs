//! Reads on any engine: run the root statement, then one statement per embedded node for
//! all parents at once, then encode the tree to JSON bytes.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use oxbase_query::plan::{ColumnExpression, CountMode, Node, Output, ReadPlan, ResponseBounds};
use oxbase_query::sql::Statement;
use oxbase_query::sql::read::{child_statement, count_statement, root_statement};
use oxbase_schema::model::{FieldType, Literal};

use crate::exec::{Executor, Value};
use crate::json;
use crate::{ReadOutput, StoreError};

/// Rows of one node and, per embed, its children grouped by parent key.
struct Fetched {
    rows: Vec<Vec<Value>>,
    children: Vec<FetchedChildren>,
}

struct FetchedChildren {
    /// Row indices in `fetched.rows` per parent key, in statement order.
    by_parent: HashMap<Key, Vec<usize>>,
    fetched: Fetched,
}

/// A join key: integer or text (uuid) keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Integer(i64),
    Text(String),
}

impl Key {
    fn of(value: &Value) -> Option<Key> {
        match value {
            Value::Integer(number) => Some(Key::Integer(*number)),
            Value::Text(text) => Some(Key::Text(text.clone())),
            _ => None,
        }
    }

    fn literal(&self) -> Literal {
        match self {
            Key::Integer(number) => Literal::Integer(*number),
            Key::Text(text) => Literal::Text(text.clone()),
        }
    }
}

/// Runs a read plan (on a reader, or on the writer inside a write transaction).
pub(crate) fn read_with(executor: &mut dyn Executor, plan: &ReadPlan) -> Result<ReadOutput, StoreError> {
    let dialect = executor.dialect();
    let started = Instant::now();
    let mut statements = 0;
    let rows = executor.run(&plan.root.resource, &root_statement(plan, dialect), None)?;
    statements += 1;
    let total = match plan.count {
        CountMode::None => None,
        CountMode::Exact => Some(exact_count(executor, plan, &mut statements)?),
        // Where the engine keeps statistics (PostgreSQL), a planned count is the planner's
        // row estimate; an estimated count is exact while that estimate is small.
        CountMode::Planned | CountMode::Estimated => match planned_count(executor, plan, &mut statements)? {
            Some(planned) if plan.count == CountMode::Planned || planned > ESTIMATE_EXACTLY_BELOW => Some(planned),
            _ => Some(exact_count(executor, plan, &mut statements)?),
        },
    };
    let mut budget = Budget::new(plan.bounds);
    budget.fetched(rows.len())?;
    let fetched = fetch(executor, &plan.root, rows, &mut statements, &mut budget)?;
    let mut body = Vec::with_capacity(256 + fetched.rows.len() * 128);
    body.push(b'[');
    for index in 0..fetched.rows.len() {
        if index > 0 {
            body.push(b',');
        }
        encode_row(&mut body, &plan.root, &fetched, index, &mut budget)?;
    }
    body.push(b']');
    let last_order_values = fetched.rows.last().map(|row| order_values(&plan.root, row));
    Ok(ReadOutput {
        body,
        rows: fetched.rows.len(),
        statements,
        database_time: started.elapsed(),
        total,
        last_order_values,
    })
}

/// The order-term values of a root row, for the next page's cursor.
fn order_values(node: &Node, row: &[Value]) -> Vec<Literal> {
    node.order
        .iter()
        .map(|term| {
            let index =
                node.columns.iter().position(|column| column.expression == ColumnExpression::Field(term.field.clone()));
            match index.map(|index| &row[index]) {
                Some(Value::Integer(number)) => Literal::Integer(*number),
                Some(Value::Real(number)) => Literal::Float(*number),
                Some(Value::Text(text)) => Literal::Text(text.clone()),
                _ => Literal::Null,
            }
        })
        .collect()
}

/// What is left of a read's [`ResponseBounds`] as it is fetched and encoded.
struct Budget {
    bounds: ResponseBounds,
    fetched_rows: u64,
    encoded_rows: u64,
}

impl Budget {
    fn new(bounds: ResponseBounds) -> Budget {
        Budget { bounds, fetched_rows: 0, encoded_rows: 0 }
    }

    fn too_many_rows(&self) -> StoreError {
        StoreError::TooLarge {
            bound: "max_response_rows",
            limit: self.bounds.max_rows,
            message: format!(
                "the response would hold more than {} rows (root and embedded rows together)",
                self.bounds.max_rows
            ),
        }
    }

    /// Rows read from the database: every one appears in the response at least once, so
    /// the bound stops a read before it holds more than the response may.
    fn fetched(&mut self, rows: usize) -> Result<(), StoreError> {
        self.fetched_rows += rows as u64;
        if self.fetched_rows > self.bounds.max_rows { Err(self.too_many_rows()) } else { Ok(()) }
    }

    /// One more row encoded, with the body at `bytes`.
    fn encoded(&mut self, bytes: usize) -> Result<(), StoreError> {
        self.encoded_rows += 1;
        if self.encoded_rows > self.bounds.max_rows {
            return Err(self.too_many_rows());
        }
        if bytes as u64 > self.bounds.max_bytes {
            return Err(StoreError::TooLarge {
                bound: "max_response_bytes",
                limit: self.bounds.max_bytes,
                message: format!("the response would be larger than {} bytes", self.bounds.max_bytes),
            });
        }
        Ok(())
    }

    fn embedded_array(&self, key: &str, rows: usize) -> Result<(), StoreError> {
        if rows as u64 > u64::from(self.bounds.max_embed_rows) {
            return Err(StoreError::TooLarge {
                bound: "max_embed_rows",
                limit: u64::from(self.bounds.max_embed_rows),
                message: format!(
                    "the embedded array '{key}' of one row holds {rows} rows; at most {} are sent",
                    self.bounds.max_embed_rows
                ),
            });
        }
        Ok(())
    }
}

fn fetch(
    executor: &mut dyn Executor,
    node: &Node,
    rows: Vec<Vec<Value>>,
    statements: &mut u32,
    budget: &mut Budget,
) -> Result<Fetched, StoreError> {
    let mut children = Vec::with_capacity(node.embeds.len());
    for embed in &node.embeds {
        let mut seen = HashSet::new();
        let keys: Vec<Key> = rows
            .iter()
            .filter_map(|row| Key::of(&row[embed.parent_column]))
            .filter(|key| seen.insert(key.clone()))
            .collect();
        let child_rows = if keys.is_empty() {
            Vec::new()
        } else {
            *statements += 1;
            let keys: Vec<Literal> = keys.iter().map(Key::literal).collect();
            let statement = child_statement(embed, executor.dialect());
            executor.run(&embed.node.resource, &statement, Some(&keys))?
        };
        budget.fetched(child_rows.len())?;
        let mut by_parent: HashMap<Key, Vec<usize>> = HashMap::new();
        for (index, row) in child_rows.iter().enumerate() {
            if let Some(key) = Key::of(&row[embed.child_column]) {
                by_parent.entry(key).or_default().push(index);
            }
        }
        let fetched = fetch(executor, &embed.node, child_rows, statements, budget)?;
        children.push(FetchedChildren { by_parent, fetched });
    }
    Ok(Fetched { rows, children })
}

fn encode_row(
    out: &mut Vec<u8>,
    node: &Node,
    fetched: &Fetched,
    index: usize,
    budget: &mut Budget,
) -> Result<(), StoreError> {
    let row = &fetched.rows[index];
    out.push(b'{');
    for (position, output) in node.outputs.iter().enumerate() {
        if position > 0 {
            out.push(b',');
        }
        match output {
            Output::Column { key, column } => {
                json::write_string(out, key);
                out.push(b':');
                write_value(out, &row[*column], &node.columns[*column].output_type);
            }
            Output::Embed { key, embed } => {
                json::write_string(out, key);
                out.push(b':');
                let definition = &node.embeds[*embed];
                let children = &fetched.children[*embed];
                let matches = Key::of(&row[definition.parent_column]).and_then(|key| children.by_parent.get(&key));
                if definition.many {
                    budget.embedded_array(key, matches.map_or(0, Vec::len))?;
                    out.push(b'[');
                    for (count, child) in matches.into_iter().flatten().enumerate() {
                        if count > 0 {
                            out.push(b',');
                        }
                        encode_row(out, &definition.node, &children.fetched, *child, budget)?;
                    }
                    out.push(b']');
                } else {
                    match matches.and_then(|rows| rows.first()) {
                        Some(child) => encode_row(out, &definition.node, &children.fetched, *child, budget)?,
                        None => out.extend_from_slice(b"null"),
                    }
                }
            }
        }
    }
    out.push(b'}');
    budget.encoded(out.len())
}

/// Encodes one stored value as the JSON its type calls for.
fn write_value(out: &mut Vec<u8>, value: &Value, output_type: &FieldType) {
    match (value, output_type) {
        (Value::Null, _) => out.extend_from_slice(b"null"),
        (Value::Integer(number), FieldType::Boolean) => {
            out.extend_from_slice(if *number != 0 { b"true" } else { b"false" })
        }
        (Value::Integer(number), FieldType::Float | FieldType::Decimal) => json::write_float(out, *number as f64),
        (Value::Integer(number), _) => json::write_integer(out, *number),
        (Value::Real(number), _) => json::write_float(out, *number),
        (Value::Text(text), FieldType::Json | FieldType::Decimal) => json::write_raw_or_string(out, text),
        (Value::Text(text), _) => json::write_string(out, text),
        (Value::Blob(bytes), _) => json::write_string(out, &String::from_utf8_lossy(bytes)),
    }
}

/// Below this many planned rows, `count=estimated` counts exactly.
const ESTIMATE_EXACTLY_BELOW: u64 = 10_000;

fn exact_count(executor: &mut dyn Executor, plan: &ReadPlan, statements: &mut u32) -> Result<u64, StoreError> {
    let statement = count_statement(plan, executor.dialect());
    let count = executor.run(&plan.root.resource, &statement, None)?;
    *statements += 1;
    Ok(match count.first().and_then(|row| row.first()) {
        Some(Value::Integer(count)) => u64::try_from(*count).unwrap_or(0),
        _ => 0,
    })
}

/// The planner's estimate of the rows the count statement counts; `None` on SQLite, which
/// keeps no such statistics.
fn planned_count(
    executor: &mut dyn Executor,
    plan: &ReadPlan,
    statements: &mut u32,
) -> Result<Option<u64>, StoreError> {
    if executor.dialect() != oxbase_schema::dialect::Dialect::Postgres || plan.root.grouped {
        return Ok(None);
    }
    let counted = count_statement(plan, executor.dialect());
    // The count statement's input is what the estimate is about: explain its FROM/WHERE.
    let sql = counted.sql.replacen("SELECT count(*) FROM ", "EXPLAIN (FORMAT JSON) SELECT 1 FROM ", 1);
    let explain = Statement { sql, ..counted };
    let rows = executor.run(&plan.root.resource, &explain, None)?;
    *statements += 1;
    let estimate = match rows.first().and_then(|row| row.first()) {
        Some(Value::Text(json)) => serde_json::from_str::<serde_json::Value>(json)
            .ok()
            .and_then(|plan| plan[0]["Plan"]["Plan Rows"].as_f64())
            .map(|rows| rows.max(0.0) as u64),
        _ => None,
    };
    Ok(estimate)
}

/// The root statement (and the count, when asked for) with the engine's plan for each:
/// `EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` on PostgreSQL.
pub(crate) fn explain_with(executor: &mut dyn Executor, plan: &ReadPlan) -> Result<serde_json::Value, StoreError> {
    let dialect = executor.dialect();
    let mut statements = vec![root_statement(plan, dialect)];
    if plan.count != CountMode::None {
        statements.push(count_statement(plan, dialect));
    }
    let mut explained = Vec::new();
    for statement in statements {
        let prefix = match dialect {
            oxbase_schema::dialect::Dialect::Sqlite => "EXPLAIN QUERY PLAN ",
            oxbase_schema::dialect::Dialect::Postgres => "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ",
        };
        let explain = Statement { sql: format!("{prefix}{}", statement.sql), ..statement.clone() };
        let rows = executor.run(&plan.root.resource, &explain, None)?;
        let engine_plan = match dialect {
            oxbase_schema::dialect::Dialect::Sqlite => serde_json::Value::Array(
                rows.iter()
                    .map(|row| {
                        let text = |index: usize| match row.get(index) {
                            Some(Value::Text(text)) => serde_json::Value::from(text.as_str()),
                            Some(Value::Integer(number)) => serde_json::Value::from(*number),
                            _ => serde_json::Value::Null,
                        };
                        serde_json::json!({ "id": text(0), "parent": text(1), "detail": text(3) })
                    })
                    .collect(),
            ),
            oxbase_schema::dialect::Dialect::Postgres => match rows.first().and_then(|row| row.first()) {
                Some(Value::Text(json)) => serde_json::from_str(json).unwrap_or(serde_json::Value::Null),
                _ => serde_json::Value::Null,
            },
        };
        let parameters: Vec<serde_json::Value> = statement
            .parameters
            .iter()
            .map(|parameter| crate::json::literal_json(parameter, &FieldType::Text))
            .collect();
        explained.push(serde_json::json!({ "sql": statement.sql, "parameters": parameters, "plan": engine_plan }));
    }
    Ok(serde_json::json!({ "dialect": format!("{dialect:?}").to_lowercase(), "statements": explained }))
}
