//! Typed read plans: the grammar's syntax tree resolved against the schema.
//!
//! A [`ReadPlan`] is a tree of [`Node`]s: the root resource and one node per embedded
//! relation. Every name in it exists, every value has been typed by its column, every
//! limit has been checked. Executing it takes one statement per node (plus one for an
//! exact count), whatever the page size: children are fetched for all parents at once.

mod build;
mod relations;
mod typing;

pub use build::{RowRules, every_row, plan_filter, plan_read};
pub use relations::{EmbeddableRelation, embeddable_relations};
pub use typing::{MAX_REGEX_BYTES, check_regex};

use oxbase_schema::model::{FieldType, Literal};

use crate::grammar::AggregateFunction;

/// Settings and limits that shape every plan.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Rows returned when a request names no limit.
    pub default_page_size: u32,
    /// The largest page (and the largest per-parent `rel.limit`).
    pub max_page_size: u32,
    /// How deep embeddings may nest (the root is depth 0).
    pub max_embed_depth: usize,
    /// How many comparisons all filters of a request may hold together.
    pub max_filter_terms: usize,
    /// How many values one `in.(…)` list may hold.
    pub max_in_list: usize,
    /// How large the response may grow while it is assembled.
    pub bounds: ResponseBounds,
}

/// How large one read response may grow: checked by the store while it reads and encodes
/// (a few bytes of request can otherwise ask for gigabytes: a shared to-one row embedded
/// under every parent repeats its own to-many children each time). Exceeding a bound is a
/// client error naming it; nothing is truncated silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseBounds {
    /// Most rows one embedded array may hold (an explicit `rel.limit` may not ask for more).
    pub max_embed_rows: u32,
    /// Most rows the whole response may hold: root rows plus every embedded row, each time
    /// it appears.
    pub max_rows: u64,
    /// Largest encoded body, in bytes (before compression).
    pub max_bytes: u64,
}

impl Default for ResponseBounds {
    fn default() -> ResponseBounds {
        ResponseBounds { max_embed_rows: 1000, max_rows: 100_000, max_bytes: 32 * 1024 * 1024 }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            default_page_size: 50,
            max_page_size: 1000,
            max_embed_depth: 4,
            max_filter_terms: 50,
            max_in_list: 1000,
            bounds: ResponseBounds::default(),
        }
    }
}

/// What the request's headers ask for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// `Prefer: count=…`
    pub count: CountMode,
    /// `Accept: application/vnd.pgrst.object+json`: exactly one row, as an object.
    pub single_object: bool,
    /// `Range: first-last` (items).
    pub range: Option<(u64, Option<u64>)>,
}

/// Whether and how to count every matching row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CountMode {
    #[default]
    None,
    Exact,
    /// From the engine's statistics where it has them; exact on SQLite.
    Planned,
    /// Exact below a threshold, else planned; exact on SQLite.
    Estimated,
}

/// A validated read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadPlan {
    pub root: Node,
    pub count: CountMode,
    pub single_object: bool,
    /// Keyset position: the values of the root's order terms (ending with the primary
    /// key) of the last row already seen.
    pub after: Option<Vec<Literal>>,
    /// What a cursor must belong to (resource, filters, order): signed into every cursor.
    pub cursor_scope: String,
    /// How large the response may grow.
    pub bounds: ResponseBounds,
}

/// One resource in a plan: what to select, filter, order and embed.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// API name.
    pub resource: String,
    pub table: String,
    /// What the statement selects, in order: the outputs' columns first, then any
    /// columns needed only to join embedded rows.
    pub columns: Vec<SelectedColumn>,
    /// The JSON object's keys in select order.
    pub outputs: Vec<Output>,
    pub condition: Option<Condition>,
    /// Order terms; on non-aggregate nodes the primary key is always the last one.
    pub order: Vec<Ordering>,
    /// Rows at most (per parent for embedded nodes).
    pub limit: Option<u32>,
    /// Rows skipped (per parent for embedded nodes).
    pub offset: u64,
    pub embeds: Vec<Embed>,
    /// Whether the select holds aggregates (the plain columns become the GROUP BY).
    pub grouped: bool,
}

/// A column the statement selects.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectedColumn {
    pub expression: ColumnExpression,
    /// How the value is encoded.
    pub output_type: FieldType,
}

/// What a selected column is.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnExpression {
    /// A field of the node's table.
    Field(String),
    /// An aggregate over a field and its type (`None`: `count()` of rows).
    Aggregate(AggregateFunction, Option<(String, FieldType)>),
    /// A field of the junction table a many-to-many embedding goes through.
    JunctionField(String),
}

/// One key of the output object.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The value of `columns[column]`.
    Column { key: String, column: usize },
    /// The rows of `embeds[embed]`.
    Embed { key: String, embed: usize },
}

/// An embedded relation.
#[derive(Debug, Clone, PartialEq)]
pub struct Embed {
    /// An array of rows (to-many) or one row or null (to-one).
    pub many: bool,
    /// `!inner`: parents without a matching child are left out.
    pub inner: bool,
    pub join: Join,
    /// Index, in the parent's `columns`, of the value children join on.
    pub parent_column: usize,
    /// Index, in the child's `columns`, of the value that matches the parent's.
    pub child_column: usize,
    pub node: Node,
}

/// How a child's rows meet their parent.
#[derive(Debug, Clone, PartialEq)]
pub enum Join {
    /// `child.child_field = parent.parent_field`.
    Direct { parent_field: String, child_field: String },
    /// Through a junction: `junction.junction_parent_field = parent.parent_field` and
    /// `child.child_field = junction.junction_child_field`.
    Through {
        junction_table: String,
        parent_field: String,
        junction_parent_field: String,
        junction_child_field: String,
        child_field: String,
    },
}

/// A typed filter condition on a node's own fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Compare {
        field: String,
        field_type: FieldType,
        operator: CompareOperator,
        value: Literal,
    },
    In {
        field: String,
        field_type: FieldType,
        values: Vec<Literal>,
    },
    /// `like`/`ilike` with the pattern already in SQL form (`%` and `_`).
    Like {
        field: String,
        pattern: String,
        case_insensitive: bool,
    },
    /// `match`/`imatch`: a regular expression (checked when planned) matches somewhere in
    /// the value.
    Match {
        field: String,
        pattern: String,
        case_insensitive: bool,
    },
    IsNull {
        field: String,
    },
    IsBoolean {
        field: String,
        value: bool,
    },
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOperator {
    Equal,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
    /// Differs, null counting as a value: a null column is distinct from a value.
    Distinct,
}

impl CompareOperator {
    /// The SQL operator.
    pub fn sql(self) -> &'static str {
        match self {
            CompareOperator::Equal => "=",
            CompareOperator::NotEqual => "<>",
            CompareOperator::Greater => ">",
            CompareOperator::GreaterOrEqual => ">=",
            CompareOperator::Less => "<",
            CompareOperator::LessOrEqual => "<=",
            // Both engines: PostgreSQL always, SQLite since 3.39 (the bundled one is newer).
            CompareOperator::Distinct => "IS DISTINCT FROM",
        }
    }
}

/// One term of ORDER BY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ordering {
    pub field: String,
    pub descending: bool,
    pub nulls_first: bool,
    /// Whether the column may hold nulls (keyset conditions must then handle them).
    pub nullable: bool,
}
