//! Plans → SQL for one dialect.
//!
//! Pure functions: the same plan always renders the same text, so statements are prepared
//! once per plan shape, and the text is snapshot-tested.

pub mod read;

pub use read::Statement;

#[cfg(test)]
mod tests;
