//! What the grammar parsers' tests share.

use crate::grammar::GrammarError;

/// Asserts a grammar error: its message mentions `fragment`, and it names `token` at
/// `position` of `text`.
pub(super) fn assert_grammar_error(error: &GrammarError, text: &str, fragment: &str, token: &str, position: usize) {
    assert!(
        error.message.contains(fragment),
        "message of '{text}' was '{}', expected it to contain '{fragment}'",
        error.message
    );
    assert_eq!(
        (error.token.as_str(), error.position),
        (token, position),
        "token and position for '{text}': {}",
        error.message
    );
    assert_eq!(error.text, text);
}
