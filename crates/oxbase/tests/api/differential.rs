//! Differential testing: generated PostgREST queries (select × filters × order × limit/offset
//! × count) against the pearl small data, each compared row by row, value by value and in
//! order with the same query written independently in SQL on the same database. It runs on
//! both engines; on PostgreSQL the hand-written SQL runs on PostgreSQL, and the same seed
//! generates the same queries on both, since the seeded data is the same.
//!
//! The SQL side is built here from the generated query, not by oxbase: bound parameters,
//! `ORDER BY … NULLS FIRST|LAST` with PostgreSQL's defaults (asc → nulls last, desc → nulls
//! first) and the primary key as the final tie-breaker, `LIKE` made case-sensitive with
//! `PRAGMA case_sensitive_like` (SQLite) and `ilike` as `lower(col) LIKE lower(?)`, `*` → `%`.
//! On PostgreSQL every parameter is bound as text or bigint and cast to the column's type,
//! and dates and timestamps are selected as the text the API should send.
//!
//! The generator is seeded; set `OXBASE_DIFFERENTIAL_SEED` to replay another run.

use std::fmt;

use rusqlite::Connection;
use rusqlite::types::{Value as SqlValue, ValueRef};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::on_both_engines;
use crate::support::{Engine, TestApp};

on_both_engines!(generated_queries_match_sql_on_the_same_database);

/// How many queries one run generates.
const QUERIES: usize = 400;
/// The seed used unless `OXBASE_DIFFERENTIAL_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x0dd_ba5e;
/// oxbase's default page size (pearl's `default_page_size`), used when a query has no limit.
const DEFAULT_PAGE_SIZE: u64 = 50;

// ---------------------------------------------------------------------------------------
// The resources under test, as the pearl schema declares them.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Text,
    Enum(&'static [&'static str]),
    Boolean,
    Date,
    Timestamp,
}

#[derive(Debug)]
struct Column {
    name: &'static str,
    kind: Kind,
    nullable: bool,
}

const fn column(name: &'static str, kind: Kind, nullable: bool) -> Column {
    Column { name, kind, nullable }
}

#[derive(Debug)]
struct Table {
    name: &'static str,
    /// In schema order, `id` first: the order of `select=*`.
    columns: &'static [Column],
}

const PRODUCTION_STATUS: &[&str] = &["not_started", "in_progress", "completed", "on_hold"];
const QC_STATUS: &[&str] = &["not_started", "in_progress", "completed", "failed"];
const COMMENT_TYPE: &[&str] = &["programming", "biostat"];
const ITEM_TYPE: &[&str] = &["TLF", "Dataset"];
const ROLE: &[&str] = &["admin", "editor", "viewer"];

const TABLES: &[Table] = &[
    Table {
        name: "trackers",
        columns: &[
            column("id", Kind::Integer, false),
            column("reporting_effort_item_id", Kind::Integer, false),
            column("reporting_effort_id", Kind::Integer, false),
            column("production_programmer_id", Kind::Integer, true),
            column("qc_programmer_id", Kind::Integer, true),
            column("production_status", Kind::Enum(PRODUCTION_STATUS), false),
            column("qc_status", Kind::Enum(QC_STATUS), false),
            column("priority", Kind::Integer, false),
            column("due_date", Kind::Date, true),
            column("qc_completion_date", Kind::Date, true),
            column("unresolved_comment_count", Kind::Integer, false),
            column("updated_at", Kind::Timestamp, false),
        ],
    },
    Table {
        name: "tracker_comments",
        columns: &[
            column("id", Kind::Integer, false),
            column("tracker_id", Kind::Integer, false),
            column("user_id", Kind::Integer, false),
            column("parent_comment_id", Kind::Integer, true),
            column("body", Kind::Text, false),
            column("comment_type", Kind::Enum(COMMENT_TYPE), false),
            column("is_resolved", Kind::Boolean, false),
            column("resolved_at", Kind::Timestamp, true),
            column("created_at", Kind::Timestamp, false),
        ],
    },
    Table {
        name: "reporting_effort_items",
        columns: &[
            column("id", Kind::Integer, false),
            column("reporting_effort_id", Kind::Integer, false),
            column("item_type", Kind::Enum(ITEM_TYPE), false),
            column("item_subtype", Kind::Text, false),
            column("item_code", Kind::Text, false),
            column("title", Kind::Text, true),
            column("is_active", Kind::Boolean, false),
        ],
    },
    Table {
        name: "users",
        columns: &[
            column("id", Kind::Integer, false),
            column("username", Kind::Text, false),
            column("email", Kind::Text, false),
            column("role", Kind::Enum(ROLE), false),
            column("created_at", Kind::Timestamp, false),
        ],
    },
];

/// A table's rows, loaded once, to draw filter values that really occur in the data.
struct Sample<'a> {
    table: &'a Table,
    rows: Vec<Vec<SqlValue>>,
}

impl Sample<'_> {
    fn load<'a>(oracle: &mut Oracle, table: &'a Table) -> Sample<'a> {
        let columns: Vec<&Column> = table.columns.iter().collect();
        let names: Vec<String> = columns.iter().map(|column| oracle.output_column(column)).collect();
        // In id order, so that one seed draws the same values, and queries, on both engines.
        let text = format!("SELECT {} FROM \"{}\" ORDER BY \"id\"", names.join(", "), table.name);
        let sql = Sql { text, parameters: Vec::new() };
        let rows = oracle.select(&sql, columns.len());
        assert!(!rows.is_empty(), "the pearl small data has {} rows", table.name);
        Sample { table, rows }
    }

    /// A non-null value of the column from a random row, if any row has one.
    fn value(&self, random: &mut fastrand::Rng, column: &Column) -> Option<SqlValue> {
        let index = self.table.columns.iter().position(|candidate| candidate.name == column.name).unwrap();
        for _ in 0..50 {
            let value = &self.rows[random.usize(..self.rows.len())][index];
            if *value != SqlValue::Null {
                return Some(value.clone());
            }
        }
        self.rows.iter().map(|row| row[index].clone()).find(|value| *value != SqlValue::Null)
    }
}

// ---------------------------------------------------------------------------------------
// A generated query.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Like,
    Ilike,
    Isdistinct,
}

impl Operator {
    fn name(self) -> &'static str {
        match self {
            Operator::Eq => "eq",
            Operator::Neq => "neq",
            Operator::Gt => "gt",
            Operator::Gte => "gte",
            Operator::Lt => "lt",
            Operator::Lte => "lte",
            Operator::Like => "like",
            Operator::Ilike => "ilike",
            Operator::Isdistinct => "isdistinct",
        }
    }
}

/// One value of a filter: as written in the URL, and as bound in SQL.
#[derive(Debug, Clone)]
struct Literal {
    text: String,
    sql: SqlValue,
}

#[derive(Debug, Clone)]
enum Test {
    Compare(Operator, Literal),
    In(Vec<Literal>),
    IsNull,
    IsBoolean(bool),
}

#[derive(Debug, Clone)]
enum Filter {
    /// `column=[not.]test` (or `column.[not.]test` inside a logic tree).
    Column { column: &'static str, negated: bool, test: Test, quoted: bool },
    /// `or=(a,b)`.
    Or(Vec<Filter>),
    /// `and(a,b)`, nested inside an `or`.
    And(Vec<Filter>),
}

#[derive(Debug, Clone)]
struct OrderTerm {
    column: &'static str,
    /// None: no direction written (ascending).
    descending: Option<bool>,
    /// None: no nulls modifier written (PostgreSQL's default for the direction).
    nulls_first: Option<bool>,
}

#[derive(Debug, Clone)]
struct Query {
    table: &'static Table,
    /// None: no `select` (all columns); Some(empty) is never generated.
    select: Option<Vec<&'static Column>>,
    star: bool,
    filters: Vec<Filter>,
    order: Vec<OrderTerm>,
    limit: Option<u64>,
    offset: Option<u64>,
    count: bool,
}

// ---------------------------------------------------------------------------------------
// Generation.
// ---------------------------------------------------------------------------------------

fn pick<'a, T>(random: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[random.usize(..items.len())]
}

/// A value for comparing with `column`: usually one that occurs in the data, sometimes a
/// near miss, sometimes one that matches nothing.
fn comparison_value(random: &mut fastrand::Rng, sample: &Sample<'_>, column: &Column) -> Literal {
    let real = sample.value(random, column);
    let roll = random.u8(..100);
    match column.kind {
        Kind::Integer => {
            let number = match (real, roll) {
                (_, 0..10) => *pick(random, &[1_000_000, -7, 0]),
                (Some(SqlValue::Integer(number)), 10..25) => number + random.i64(-2..=2),
                (Some(SqlValue::Integer(number)), _) => number,
                _ => random.i64(0..100),
            };
            Literal { text: number.to_string(), sql: SqlValue::Integer(number) }
        }
        Kind::Enum(values) => {
            let text = match real {
                Some(SqlValue::Text(text)) if roll >= 30 => text,
                _ => (*pick(random, values)).to_owned(),
            };
            Literal { text: text.clone(), sql: SqlValue::Text(text) }
        }
        Kind::Boolean => {
            let flag = random.bool();
            Literal { text: flag.to_string(), sql: SqlValue::Integer(i64::from(flag)) }
        }
        Kind::Text => {
            let text = match real {
                Some(SqlValue::Text(text)) if roll >= 10 => text,
                _ => (*pick(random, &["zz no such value", "A", "m", "Table", "14.2"])).to_owned(),
            };
            Literal { text: text.clone(), sql: SqlValue::Text(text) }
        }
        Kind::Date => {
            let text = match real {
                Some(SqlValue::Text(text)) if roll >= 15 => text,
                _ => (*pick(random, &["1900-01-01", "2025-06-30", "2026-01-01", "2999-12-31"])).to_owned(),
            };
            Literal { text: text.clone(), sql: SqlValue::Text(text) }
        }
        Kind::Timestamp => match real {
            // A date alone means midnight UTC of that day.
            Some(SqlValue::Text(text)) if roll < 20 => {
                let date = text[..10].to_owned();
                Literal { text: date.clone(), sql: SqlValue::Text(format!("{date}T00:00:00.000000Z")) }
            }
            // Other RFC 3339 spellings of an instant: an explicit offset, no fraction.
            Some(SqlValue::Text(text)) if roll < 35 => {
                let hour: u32 = text[11..13].parse().unwrap();
                match random.u8(..3) {
                    0 => Literal { text: format!("{}+00:00", &text[..26]), sql: SqlValue::Text(text) },
                    1 if hour >= 2 => {
                        let local = format!("{}{:02}{}-02:00", &text[..11], hour - 2, &text[13..26]);
                        Literal { text: local, sql: SqlValue::Text(text) }
                    }
                    _ => Literal {
                        text: format!("{}Z", &text[..19]),
                        sql: SqlValue::Text(format!("{}.000000Z", &text[..19])),
                    },
                }
            }
            Some(SqlValue::Text(text)) if roll >= 45 => Literal { text: text.clone(), sql: SqlValue::Text(text) },
            _ => {
                let text = (*pick(random, &["1990-01-01T00:00:00.000000Z", "2025-06-01T12:00:00.000000Z"])).to_owned();
                Literal { text: text.clone(), sql: SqlValue::Text(text) }
            }
        },
    }
}

/// Changes the case of some letters.
fn scramble_case(random: &mut fastrand::Rng, text: &str) -> String {
    text.chars()
        .map(|character| if random.bool() { character.to_ascii_uppercase() } else { character.to_ascii_lowercase() })
        .collect()
}

/// A `like` / `ilike` pattern (with `*`) cut from a value that occurs in the data.
fn like_pattern(random: &mut fastrand::Rng, sample: &Sample<'_>, column: &Column, ilike: bool) -> Literal {
    let text = match sample.value(random, column) {
        Some(SqlValue::Text(text)) if random.u8(..100) >= 8 => text,
        _ => "no such text".to_owned(),
    };
    let characters: Vec<char> = text.chars().collect();
    let length = characters.len();
    let cut = |from: usize, to: usize| characters[from..to].iter().collect::<String>();
    let width = random.usize(1..=length.clamp(1, 12)).min(length);
    let start = random.usize(..=length - width);
    let pattern = match random.u8(..6) {
        0 => text.clone(),
        1 => format!("{}*", cut(0, width)),
        2 => format!("*{}", cut(length - width, length)),
        3 => format!("{}*{}", cut(0, width.div_ceil(2)), cut(length - width / 2, length)),
        4 => "*".to_owned() + &cut(start, start + width) + "*",
        _ => format!("*{}*{}*", cut(0, width / 2), cut(length - width / 2, length)),
    };
    let mut pattern = if ilike || random.u8(..100) < 30 { scramble_case(random, &pattern) } else { pattern };
    // As in PostgreSQL (and PostgREST), `_` is the one-character wildcard.
    if random.u8(..100) < 15 {
        let mut characters: Vec<char> = pattern.chars().collect();
        let index = random.usize(..characters.len());
        characters[index] = '_';
        pattern = characters.into_iter().collect();
    }
    let sql = SqlValue::Text(pattern.replace('*', "%"));
    Literal { text: pattern, sql }
}

/// A filter on one column (no logic tree).
fn column_filter(random: &mut fastrand::Rng, sample: &Sample<'_>) -> Filter {
    // Text columns are few but have the most operators (like, ilike): favour them a little.
    let texts: Vec<&Column> = sample.table.columns.iter().filter(|column| column.kind == Kind::Text).collect();
    let column = if !texts.is_empty() && random.u8(..100) < 30 {
        *pick(random, &texts)
    } else {
        pick(random, sample.table.columns)
    };
    let roll = random.u8(..100);
    let mut negated = random.u8(..100) < 15;
    let test = match column.kind {
        Kind::Boolean => match roll {
            0..55 => Test::IsBoolean(random.bool()),
            55..85 => {
                Test::Compare(*pick(random, &[Operator::Eq, Operator::Neq]), comparison_value(random, sample, column))
            }
            _ => Test::IsNull,
        },
        _ if roll < 8 || (column.nullable && roll < 22) => {
            // `is.null` / `not.is.null`; mostly on the nullable columns.
            negated = random.bool();
            Test::IsNull
        }
        _ if roll < 34 => {
            // Sometimes the empty list `in.()`, which matches nothing.
            let count = if random.u8(..100) < 5 { 0 } else { random.usize(1..=4) };
            Test::In((0..count).map(|_| comparison_value(random, sample, column)).collect())
        }
        Kind::Text if roll < 62 => {
            let ilike = random.bool();
            Test::Compare(
                if ilike { Operator::Ilike } else { Operator::Like },
                like_pattern(random, sample, column, ilike),
            )
        }
        _ => {
            let operator = *pick(
                random,
                &[
                    Operator::Eq,
                    Operator::Eq,
                    Operator::Neq,
                    Operator::Gt,
                    Operator::Gte,
                    Operator::Lt,
                    Operator::Lte,
                    Operator::Isdistinct,
                ],
            );
            Test::Compare(operator, comparison_value(random, sample, column))
        }
    };
    Filter::Column { column: column.name, negated, test, quoted: random.u8(..100) < 20 }
}

fn generate(random: &mut fastrand::Rng, samples: &[Sample<'static>], index: usize) -> Query {
    let sample = pick(random, samples);
    let table = sample.table;
    let (select, star) = match random.u8(..100) {
        0..20 => (None, false),
        20..28 => (None, true),
        _ => {
            let mut columns: Vec<&'static Column> = table.columns.iter().collect();
            random.shuffle(&mut columns);
            columns.truncate(random.usize(1..=columns.len()));
            (Some(columns), false)
        }
    };
    let mut filters = Vec::new();
    let filter_count = *pick(random, &[0, 1, 1, 1, 2, 2, 3]);
    let mut has_or = false;
    for _ in 0..filter_count {
        if !has_or && random.u8(..100) < 25 {
            has_or = true;
            let second = if random.u8(..100) < 20 {
                Filter::And(vec![column_filter(random, sample), column_filter(random, sample)])
            } else {
                column_filter(random, sample)
            };
            filters.push(Filter::Or(vec![column_filter(random, sample), second]));
        } else {
            filters.push(column_filter(random, sample));
        }
    }
    let mut order: Vec<OrderTerm> = Vec::new();
    for _ in 0..*pick(random, &[0, 1, 1, 2, 2]) {
        let column = pick(random, table.columns);
        if order.iter().any(|term| term.column == column.name) {
            continue;
        }
        order.push(OrderTerm {
            column: column.name,
            descending: *pick(random, &[None, Some(false), Some(true), Some(true)]),
            nulls_first: *pick(random, &[None, None, None, Some(true), Some(false)]),
        });
    }
    let limit = (random.u8(..100) >= 12).then(|| random.u64(1..=100));
    // users has 50 rows: keep its offsets mostly inside the data.
    let largest_offset = if table.name == "users" { 60 } else { 200 };
    let offset = match random.u8(..100) {
        0..25 => None,
        25..35 => Some(0),
        _ => Some(random.u64(0..=largest_offset)),
    };
    // A third of the queries (and the first, whatever the dice say) ask for an exact count.
    let count = index == 0 || random.u8(..100) < 35;
    Query { table, select, star, filters, order, limit, offset, count }
}

// ---------------------------------------------------------------------------------------
// The oxbase URL.
// ---------------------------------------------------------------------------------------

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A value inside a logic tree or an `in` list: double-quoted when it has to be (or when the
/// generator chose to), with `"` and `\` escaped.
fn list_value(text: &str, force_quotes: bool) -> String {
    let must =
        text.is_empty() || text.contains([',', '(', ')', '"', '\\']) || text.starts_with(' ') || text.ends_with(' ');
    if must || force_quotes {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        text.to_owned()
    }
}

/// `[not.]operator.value`; `in_tree` when inside `or=(…)`, where values end at `,` or `)`.
fn test_text(negated: bool, test: &Test, quoted: bool, in_tree: bool) -> String {
    let not = if negated { "not." } else { "" };
    let body = match test {
        Test::Compare(operator, literal) => {
            let value = if in_tree { list_value(&literal.text, quoted) } else { literal.text.clone() };
            format!("{}.{value}", operator.name())
        }
        Test::In(values) => {
            let items: Vec<String> = values.iter().map(|value| list_value(&value.text, quoted)).collect();
            format!("in.({})", items.join(","))
        }
        Test::IsNull => "is.null".to_owned(),
        Test::IsBoolean(flag) => format!("is.{flag}"),
    };
    format!("{not}{body}")
}

fn tree_condition(filter: &Filter) -> String {
    match filter {
        Filter::Column { column, negated, test, quoted } => {
            format!("{column}.{}", test_text(*negated, test, *quoted, true))
        }
        Filter::Or(parts) => format!("or({})", parts.iter().map(tree_condition).collect::<Vec<_>>().join(",")),
        Filter::And(parts) => format!("and({})", parts.iter().map(tree_condition).collect::<Vec<_>>().join(",")),
    }
}

fn url(query: &Query) -> String {
    let mut parameters: Vec<(String, String)> = Vec::new();
    if query.star {
        parameters.push(("select".into(), "*".into()));
    } else if let Some(columns) = &query.select {
        parameters.push(("select".into(), columns.iter().map(|column| column.name).collect::<Vec<_>>().join(",")));
    }
    for filter in &query.filters {
        match filter {
            Filter::Column { column, negated, test, quoted } => {
                parameters.push(((*column).into(), test_text(*negated, test, *quoted, false)));
            }
            Filter::Or(parts) => {
                let conditions: Vec<String> = parts.iter().map(tree_condition).collect();
                parameters.push(("or".into(), format!("({})", conditions.join(","))));
            }
            Filter::And(_) => unreachable!("and(…) is only generated inside or(…)"),
        }
    }
    if !query.order.is_empty() {
        let terms: Vec<String> = query
            .order
            .iter()
            .map(|term| {
                let mut text = term.column.to_owned();
                match term.descending {
                    Some(true) => text.push_str(".desc"),
                    Some(false) => text.push_str(".asc"),
                    None => {}
                }
                match term.nulls_first {
                    Some(true) => text.push_str(".nullsfirst"),
                    Some(false) => text.push_str(".nullslast"),
                    None => {}
                }
                text
            })
            .collect();
        parameters.push(("order".into(), terms.join(",")));
    }
    if let Some(limit) = query.limit {
        parameters.push(("limit".into(), limit.to_string()));
    }
    if let Some(offset) = query.offset {
        parameters.push(("offset".into(), offset.to_string()));
    }
    let pairs: Vec<String> =
        parameters.iter().map(|(name, value)| format!("{}={}", encode(name), encode(value))).collect();
    let separator = if pairs.is_empty() { "" } else { "?" };
    format!("/api/v1/{}{separator}{}", query.table.name, pairs.join("&"))
}

// ---------------------------------------------------------------------------------------
// The same query in SQL.
// ---------------------------------------------------------------------------------------

struct Sql {
    text: String,
    parameters: Vec<SqlValue>,
}

impl fmt::Display for Sql {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} -- parameters {:?}", self.text, self.parameters)
    }
}

/// Collects a statement's parameters and writes their placeholders in the engine's style.
struct Binder {
    engine: Engine,
    parameters: Vec<SqlValue>,
}

impl Binder {
    fn new(engine: Engine) -> Binder {
        Binder { engine, parameters: Vec::new() }
    }

    /// The placeholder of a value compared with a column of `kind`. On PostgreSQL the value
    /// is bound as bigint or text and cast to the column's type, as a client would write it.
    fn bind(&mut self, kind: Kind, value: SqlValue) -> String {
        self.parameters.push(value);
        if self.engine == Engine::Sqlite {
            return "?".to_owned();
        }
        let number = self.parameters.len();
        match kind {
            Kind::Integer => format!("${number}::int8"),
            Kind::Boolean => format!("(${number}::int8 <> 0)"),
            Kind::Text | Kind::Enum(_) => format!("${number}::text"),
            Kind::Date => format!("${number}::text::date"),
            Kind::Timestamp => format!("${number}::text::timestamptz"),
        }
    }

    fn finish(self, text: String) -> Sql {
        Sql { text, parameters: self.parameters }
    }
}

fn kind_of(table: &Table, name: &str) -> Kind {
    table.columns.iter().find(|column| column.name == name).unwrap_or_else(|| panic!("{}.{name}", table.name)).kind
}

fn condition_sql(table: &Table, filter: &Filter, binder: &mut Binder) -> String {
    match filter {
        Filter::Column { column, negated, test, .. } => {
            let quoted = format!("\"{column}\"");
            let kind = kind_of(table, column);
            let positive = match test {
                Test::Compare(operator, literal) => {
                    // like and ilike compare text with a text pattern.
                    let mark = binder.bind(kind, literal.sql.clone());
                    match operator {
                        Operator::Eq => format!("{quoted} = {mark}"),
                        Operator::Neq => format!("{quoted} <> {mark}"),
                        Operator::Gt => format!("{quoted} > {mark}"),
                        Operator::Gte => format!("{quoted} >= {mark}"),
                        Operator::Lt => format!("{quoted} < {mark}"),
                        Operator::Lte => format!("{quoted} <= {mark}"),
                        Operator::Like => format!("{quoted} LIKE {mark}"),
                        Operator::Ilike => format!("lower({quoted}) LIKE lower({mark})"),
                        Operator::Isdistinct => format!("{quoted} IS DISTINCT FROM {mark}"),
                    }
                }
                // PostgreSQL has no empty list; `x IN ()` is false in SQLite, even for null.
                Test::In(values) if values.is_empty() && binder.engine == Engine::Postgres => "FALSE".to_owned(),
                Test::In(values) => {
                    let marks: Vec<String> = values.iter().map(|value| binder.bind(kind, value.sql.clone())).collect();
                    format!("{quoted} IN ({})", marks.join(", "))
                }
                Test::IsNull => format!("{quoted} IS NULL"),
                // PostgreSQL's IS TRUE / IS FALSE: never null.
                Test::IsBoolean(flag) => match binder.engine {
                    Engine::Sqlite => format!("{quoted} IS {}", i64::from(*flag)),
                    Engine::Postgres => format!("{quoted} IS {}", if *flag { "TRUE" } else { "FALSE" }),
                },
            };
            if *negated { format!("NOT ({positive})") } else { format!("({positive})") }
        }
        Filter::Or(parts) => {
            let parts: Vec<String> = parts.iter().map(|part| condition_sql(table, part, binder)).collect();
            format!("({})", parts.join(" OR "))
        }
        Filter::And(parts) => {
            let parts: Vec<String> = parts.iter().map(|part| condition_sql(table, part, binder)).collect();
            format!("({})", parts.join(" AND "))
        }
    }
}

fn where_clause(query: &Query, binder: &mut Binder) -> String {
    if query.filters.is_empty() {
        return String::new();
    }
    let conditions: Vec<String> =
        query.filters.iter().map(|filter| condition_sql(query.table, filter, binder)).collect();
    format!(" WHERE {}", conditions.join(" AND "))
}

fn selected_columns(query: &Query) -> Vec<&'static Column> {
    match &query.select {
        Some(columns) => columns.clone(),
        None => query.table.columns.iter().collect(),
    }
}

fn rows_sql(oracle: &Oracle, query: &Query) -> Sql {
    let mut binder = Binder::new(oracle.engine());
    let columns: Vec<String> = selected_columns(query).iter().map(|column| oracle.output_column(column)).collect();
    let mut text = format!("SELECT {} FROM \"{}\"", columns.join(", "), query.table.name);
    text.push_str(&where_clause(query, &mut binder));
    let mut terms: Vec<String> = query
        .order
        .iter()
        .map(|term| {
            let descending = term.descending == Some(true);
            let nulls_first = term.nulls_first.unwrap_or(descending);
            format!(
                "\"{}\" {} NULLS {}",
                term.column,
                if descending { "DESC" } else { "ASC" },
                if nulls_first { "FIRST" } else { "LAST" }
            )
        })
        .collect();
    if !query.order.iter().any(|term| term.column == "id") {
        terms.push("\"id\" ASC".to_owned());
    }
    let limit = binder.bind(Kind::Integer, SqlValue::Integer(query.limit.unwrap_or(DEFAULT_PAGE_SIZE) as i64));
    let offset = binder.bind(Kind::Integer, SqlValue::Integer(query.offset.unwrap_or(0) as i64));
    text.push_str(&format!(" ORDER BY {} LIMIT {limit} OFFSET {offset}", terms.join(", ")));
    binder.finish(text)
}

fn count_sql(oracle: &Oracle, query: &Query) -> Sql {
    let mut binder = Binder::new(oracle.engine());
    let text = format!("SELECT count(*) FROM \"{}\"{}", query.table.name, where_clause(query, &mut binder));
    binder.finish(text)
}

/// A stored value as the API should give it in JSON.
fn json_of(kind: Kind, value: ValueRef<'_>) -> Value {
    match (kind, value) {
        (_, ValueRef::Null) => Value::Null,
        (Kind::Boolean, ValueRef::Integer(number)) => Value::Bool(number != 0),
        (_, ValueRef::Integer(number)) => Value::from(number),
        (_, ValueRef::Real(number)) => Value::from(number),
        (_, ValueRef::Text(text)) => Value::String(String::from_utf8(text.to_vec()).unwrap()),
        (_, ValueRef::Blob(_)) => panic!("no blob columns in pearl"),
    }
}

/// Where the hand-built SQL runs: the test server's own database, through the engine's
/// own driver (not oxbase's).
enum Oracle {
    Sqlite(Connection),
    Postgres(::postgres::Client),
}

impl Oracle {
    /// Blocking: open it on a blocking thread.
    fn open(engine: Engine, app_database: &str) -> Oracle {
        match engine {
            Engine::Sqlite => {
                let database = Connection::open(app_database).unwrap();
                // Makes LIKE case-sensitive, as in PostgreSQL; ilike is written with lower() on
                // both sides.
                database.execute_batch("PRAGMA case_sensitive_like = ON").unwrap();
                let folds: bool = database.query_row("SELECT 'a' LIKE 'A'", [], |row| row.get(0)).unwrap();
                assert!(!folds, "PRAGMA case_sensitive_like has no effect in this SQLite build");
                Oracle::Sqlite(database)
            }
            Engine::Postgres => Oracle::Postgres(::postgres::Client::connect(app_database, ::postgres::NoTls).unwrap()),
        }
    }

    fn engine(&self) -> Engine {
        match self {
            Oracle::Sqlite(_) => Engine::Sqlite,
            Oracle::Postgres(_) => Engine::Postgres,
        }
    }

    /// A column as selected: on PostgreSQL as bigint or text (booleans as 0/1, dates as
    /// YYYY-MM-DD, timestamps as RFC 3339 UTC with microseconds), as SQLite stores them.
    fn output_column(&self, column: &Column) -> String {
        let name = format!("\"{}\"", column.name);
        match (self, column.kind) {
            (Oracle::Sqlite(_), _) => name,
            (Oracle::Postgres(_), Kind::Integer) => format!("{name}::int8"),
            (Oracle::Postgres(_), Kind::Boolean) => format!("{name}::int4::int8"),
            (Oracle::Postgres(_), Kind::Text | Kind::Enum(_)) => name,
            (Oracle::Postgres(_), Kind::Date) => format!("to_char({name}, 'YYYY-MM-DD')"),
            (Oracle::Postgres(_), Kind::Timestamp) => {
                format!("to_char({name} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
            }
        }
    }

    /// Every row of a statement whose columns are [`Oracle::output_column`]s.
    fn select(&mut self, sql: &Sql, columns: usize) -> Vec<Vec<SqlValue>> {
        match self {
            Oracle::Sqlite(database) => {
                let mut statement = database.prepare(&sql.text).unwrap_or_else(|error| panic!("{error}: {sql}"));
                statement
                    .query_map(rusqlite::params_from_iter(sql.parameters.iter()), |row| {
                        (0..columns).map(|index| row.get::<_, SqlValue>(index)).collect()
                    })
                    .unwrap_or_else(|error| panic!("{error}: {sql}"))
                    .map(Result::unwrap)
                    .collect()
            }
            Oracle::Postgres(client) => {
                let parameters = postgres_parameters(sql);
                let references: Vec<&(dyn ::postgres::types::ToSql + Sync)> =
                    parameters.iter().map(|parameter| parameter.as_ref() as _).collect();
                let rows =
                    client.query(sql.text.as_str(), &references).unwrap_or_else(|error| panic!("{error}: {sql}"));
                rows.iter()
                    .map(|row| {
                        (0..columns)
                            .map(|index| match *row.columns()[index].type_() {
                                ::postgres::types::Type::INT8 => {
                                    row.get::<_, Option<i64>>(index).map_or(SqlValue::Null, SqlValue::Integer)
                                }
                                _ => row.get::<_, Option<String>>(index).map_or(SqlValue::Null, SqlValue::Text),
                            })
                            .collect()
                    })
                    .collect()
            }
        }
    }

    fn count(&mut self, sql: &Sql) -> i64 {
        match self.select(sql, 1).as_slice() {
            [row] => match row[0] {
                SqlValue::Integer(count) => count,
                ref other => panic!("{sql} counted {other:?}"),
            },
            rows => panic!("{sql} returned {} rows", rows.len()),
        }
    }
}

/// A statement's parameters for the `postgres` client: every placeholder casts, so bigint
/// and text are all it needs.
fn postgres_parameters(sql: &Sql) -> Vec<Box<dyn ::postgres::types::ToSql + Sync>> {
    sql.parameters
        .iter()
        .map(|value| -> Box<dyn ::postgres::types::ToSql + Sync> {
            match value {
                SqlValue::Integer(number) => Box::new(*number),
                SqlValue::Text(text) => Box::new(text.clone()),
                other => panic!("no {other:?} parameters are generated"),
            }
        })
        .collect()
}

type Row = Vec<(String, Value)>;

fn expected_rows(oracle: &mut Oracle, query: &Query, sql: &Sql) -> Vec<Row> {
    let columns = selected_columns(query);
    oracle
        .select(sql, columns.len())
        .iter()
        .map(|row| {
            columns
                .iter()
                .zip(row)
                .map(|(column, value)| (column.name.to_owned(), json_of(column.kind, ValueRef::from(value))))
                .collect()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The API's rows, keys kept in the order the body has them.
// ---------------------------------------------------------------------------------------

struct OrderedRows(Vec<Row>);

impl<'de> Deserialize<'de> for OrderedRows {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RowsVisitor;
        struct OrderedRow(Row);
        struct RowVisitor;

        impl<'de> Visitor<'de> for RowVisitor {
            type Value = OrderedRow;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedRow, A::Error> {
                let mut row = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    row.push(entry);
                }
                Ok(OrderedRow(row))
            }
        }
        impl<'de> Deserialize<'de> for OrderedRow {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_map(RowVisitor)
            }
        }
        impl<'de> Visitor<'de> for RowsVisitor {
            type Value = OrderedRows;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a JSON array of objects")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<OrderedRows, A::Error> {
                let mut rows = Vec::new();
                while let Some(OrderedRow(row)) = sequence.next_element()? {
                    rows.push(row);
                }
                Ok(OrderedRows(rows))
            }
        }
        deserializer.deserialize_seq(RowsVisitor)
    }
}

fn show(row: &Row) -> String {
    let fields: Vec<String> = row.iter().map(|(name, value)| format!("\"{name}\":{value}")).collect();
    format!("{{{}}}", fields.join(","))
}

/// The first difference between the API's rows and SQL's, if any.
fn first_difference(actual: &[Row], expected: &[Row]) -> Option<String> {
    for (index, (actual_row, expected_row)) in actual.iter().zip(expected).enumerate() {
        if actual_row != expected_row {
            return Some(format!(
                "row {index} differs:\n      expected {}\n      actual   {}",
                show(expected_row),
                show(actual_row)
            ));
        }
    }
    if actual.len() != expected.len() {
        let (longer, which) = if actual.len() > expected.len() { (actual, "extra") } else { (expected, "missing") };
        let shared = actual.len().min(expected.len());
        return Some(format!(
            "{} rows from the API, {} from SQL; first {which} row (index {shared}): {}",
            actual.len(),
            expected.len(),
            show(&longer[shared])
        ));
    }
    None
}

fn expected_range(offset: u64, rows: usize, total: &str) -> String {
    if rows == 0 { format!("*/{total}") } else { format!("{offset}-{}/{total}", offset + rows as u64 - 1) }
}

// ---------------------------------------------------------------------------------------
// The test.
// ---------------------------------------------------------------------------------------

/// One generated query and what the hand-built SQL says it returns.
struct Case {
    query: Query,
    path: String,
    sql: String,
    expected: Vec<Row>,
    /// The exact count, or `*` when the query asks for none.
    total: String,
}

/// Generates the queries and runs their SQL. Blocking: the PostgreSQL client waits on a
/// runtime of its own.
fn cases(engine: Engine, database: &str, seed: u64) -> Vec<Case> {
    let mut oracle = Oracle::open(engine, database);
    let samples: Vec<Sample<'static>> = TABLES.iter().map(|table| Sample::load(&mut oracle, table)).collect();
    let mut random = fastrand::Rng::with_seed(seed);
    (0..QUERIES)
        .map(|index| {
            let query = generate(&mut random, &samples, index);
            let path = url(&query);
            let sql = rows_sql(&oracle, &query);
            let expected = expected_rows(&mut oracle, &query, &sql);
            let total =
                if query.count { oracle.count(&count_sql(&oracle, &query)).to_string() } else { "*".to_owned() };
            Case { query, path, sql: sql.to_string(), expected, total }
        })
        .collect()
}

async fn generated_queries_match_sql_on_the_same_database(engine: Engine) {
    let seed =
        std::env::var("OXBASE_DIFFERENTIAL_SEED").ok().and_then(|seed| seed.parse().ok()).unwrap_or(DEFAULT_SEED);
    let app = TestApp::spawn_on(engine).await;
    let database = app.postgres_url().unwrap_or_else(|| app.database_path.display().to_string());
    let cases = tokio::task::spawn_blocking(move || cases(engine, &database, seed)).await.unwrap();

    let mut failures: Vec<String> = Vec::new();
    let (mut nonempty, mut counted, mut filtered, mut ordered) = (0, 0, 0, 0);
    for (index, Case { query, path, sql, expected, total }) in cases.into_iter().enumerate() {
        let mut request = app.client.get(app.url(&path));
        if query.count {
            request = request.header("prefer", "count=exact");
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let range = response.headers().get("content-range").map(|value| value.to_str().unwrap().to_owned());
        let body = response.text().await.unwrap();
        let context = format!("query #{index} on {engine:?} (seed {seed}): GET {path}\n    SQL: {sql}");
        let acceptable = if query.count { matches!(status, 200 | 206) } else { status == 200 };
        if !acceptable {
            failures.push(format!("{context}\n    status {status}: {body}"));
            continue;
        }
        let actual = match serde_json::from_str::<OrderedRows>(&body) {
            Ok(OrderedRows(rows)) => rows,
            Err(error) => {
                failures.push(format!("{context}\n    the body is not an array of objects ({error}): {body}"));
                continue;
            }
        };
        if let Some(difference) = first_difference(&actual, &expected) {
            failures.push(format!("{context}\n    {difference}"));
            continue;
        }
        let want = expected_range(query.offset.unwrap_or(0), expected.len(), &total);
        if range.as_deref() != Some(want.as_str()) {
            let total_note = if query.count { " (with Prefer: count=exact)" } else { "" };
            failures.push(format!("{context}\n    Content-Range{total_note}: expected {want}, actual {range:?}"));
        }
        nonempty += usize::from(!expected.is_empty());
        counted += usize::from(query.count);
        filtered += usize::from(!query.filters.is_empty());
        ordered += usize::from(!query.order.is_empty());
    }
    eprintln!(
        "{QUERIES} queries (seed {seed}): {nonempty} returned rows, {filtered} filtered, {ordered} ordered, {counted} counted"
    );
    assert!(
        failures.is_empty(),
        "{} of {QUERIES} generated queries differ from SQL; the first ones:\n\n{}",
        failures.len(),
        failures.iter().take(8).cloned().collect::<Vec<_>>().join("\n\n")
    );
    // The generator is only useful if it exercises the data: most queries must return rows.
    assert!(nonempty * 2 >= QUERIES, "only {nonempty} of {QUERIES} queries returned rows");
    assert!(
        counted >= QUERIES / 5 && filtered >= QUERIES / 2 && ordered >= QUERIES / 3,
        "{counted} {filtered} {ordered}"
    );
}
