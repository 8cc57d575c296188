//! Plans → SQL for one dialect.
//!
//! Pure functions: the same plan always renders the same text, so statements are prepared
//! once per plan shape, and the text is snapshot-tested.

use oxbase_schema::model::Literal;

pub mod read;
pub mod write;
mod writer;

/// A statement ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    /// Bound parameters in placeholder order.
    pub parameters: Vec<Literal>,
    /// For child statements: the 1-based placeholder that takes the parents' keys.
    pub key_list: Option<usize>,
}

#[cfg(test)]
mod tests;
