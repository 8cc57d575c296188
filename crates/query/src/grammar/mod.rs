//! The PostgREST query grammar (a documented subset), parsed into an untyped syntax tree.
//!
//! This module only checks *shape*: brackets, separators, operators, quoting. Whether a
//! name exists, and whether a value fits its column, is [`crate::plan`]'s job, against the
//! schema. Every error names the parameter, the offending token and its position.
//!
//! ```text
//! select   := item ("," item)*
//! item     := "*" | [alias ":"] column | [alias ":"] [column "."] aggregate "()"
//!           | [alias ":"] relation ["!" hint] ["!inner"] "(" select ")"
//! filter   := ["not."] operator "." value          (the value of `column=`)
//! operator := eq | neq | gt | gte | lt | lte | like | ilike | in | is
//! value    := text | "(" item ("," item)* ")" for in | null | true | false for is
//! logic    := "(" condition ("," condition)* ")"   (the value of `or=` / `and=`)
//! condition:= column "." filter | ["not."] ("or" | "and") logic
//! order    := term ("," term)*;  term := column ["." (asc|desc)] ["." (nullsfirst|nullslast)]
//! ```

mod ast;
mod filter;
mod order;
mod select;
#[cfg(test)]
mod test_support;

pub use ast::{AggregateFunction, Condition, GrammarError, NullsOrder, Operator, OrderTerm, SelectItem, Value};
pub use filter::{parse_filter, parse_logic};
pub use order::parse_order;
pub use select::parse_select;
