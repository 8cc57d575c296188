//! The syntax tree of a read request's parameters.

/// One entry of `select`.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*`: every column.
    Star,
    /// `column` or `alias:column`.
    Column { alias: Option<String>, name: String },
    /// `count()`, `alias:count()`, `column.sum()`, `alias:column.max()`…
    Aggregate { alias: Option<String>, function: AggregateFunction, column: Option<String> },
    /// `relation(...)`, `alias:relation!hint!inner(...)`.
    Embed {
        alias: Option<String>,
        relation: String,
        /// What follows `!` when it is not `inner`: a foreign-key column or a resource name
        /// that tells two relations to the same resource apart.
        hint: Option<String>,
        /// `!inner`: keep only parents that have a matching embedded row.
        inner: bool,
        items: Vec<SelectItem>,
    },
}

/// An aggregate function in `select`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateFunction {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

/// A filter condition tree (the value of `column=`, `or=`, `and=`).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Compare { column: String, operator: Operator, value: Value },
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Like,
    Ilike,
    In,
    Is,
    /// `isdistinct`: differs, counting null as a value (SQL `IS DISTINCT FROM`).
    Isdistinct,
    /// `match`: a regular expression matches somewhere in the value (`~`).
    Match,
    /// `imatch`: the same, ignoring case (`~*`).
    Imatch,
}

impl Operator {
    /// The operator as written in a URL.
    pub fn name(self) -> &'static str {
        match self {
            Operator::Eq => "eq",
            Operator::Neq => "neq",
            Operator::Gt => "gt",
            Operator::Gte => "gte",
            Operator::Lt => "lt",
            Operator::Lte => "lte",
            Operator::Like => "like",
            Operator::Ilike => "ilike",
            Operator::In => "in",
            Operator::Is => "is",
            Operator::Isdistinct => "isdistinct",
            Operator::Match => "match",
            Operator::Imatch => "imatch",
        }
    }
}

/// An operand as written (untyped): typing against the column happens in planning.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// One value (`eq.5`, `like.ab*`): the raw text after the operator, unquoted.
    Text(String),
    /// `in.(a,b,"c,d")`: the list items, unquoted.
    List(Vec<String>),
    /// `is.null`
    Null,
    /// `is.true` / `is.false`
    Boolean(bool),
}

/// One `order` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTerm {
    pub column: String,
    pub descending: bool,
    /// Explicit `nullsfirst` / `nullslast`; `None` means the default (nulls last when
    /// ascending, first when descending, as in PostgreSQL).
    pub nulls: Option<NullsOrder>,
}

/// Where nulls sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullsOrder {
    First,
    Last,
}

/// Malformed grammar: what was expected, the token found and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at character {position} of '{text}'")]
pub struct GrammarError {
    /// What is wrong, e.g. "expected ')' to close the embedding of 'comments'".
    pub message: String,
    /// The offending token (empty at end of input).
    pub token: String,
    /// 0-based character position in `text`.
    pub position: usize,
    /// The whole parameter value that failed to parse.
    pub text: String,
}
