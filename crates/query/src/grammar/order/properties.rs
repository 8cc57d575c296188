use proptest::prelude::*;

use super::super::ast::{NullsOrder, OrderTerm};
use super::super::select::properties::{grammar_like_text, name};
use super::parse_order;

fn order_term() -> impl Strategy<Value = OrderTerm> {
    let nulls = prop::option::of(prop_oneof![Just(NullsOrder::First), Just(NullsOrder::Last)]);
    (name(), any::<bool>(), nulls).prop_map(|(column, descending, nulls)| OrderTerm { column, descending, nulls })
}

/// `explicit_ascending` writes `.asc`, which the tree does not record.
fn render_term(term: &OrderTerm, explicit_ascending: bool) -> String {
    let direction = match (term.descending, explicit_ascending) {
        (true, _) => ".desc",
        (false, true) => ".asc",
        (false, false) => "",
    };
    let nulls = match term.nulls {
        Some(NullsOrder::First) => ".nullsfirst",
        Some(NullsOrder::Last) => ".nullslast",
        None => "",
    };
    format!("{}{direction}{nulls}", term.column)
}

proptest! {
    #[test]
    fn order_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = parse_order(&text);
    }

    #[test]
    fn order_never_panics_on_grammar_like_text(text in grammar_like_text()) {
        let _ = parse_order(&text);
    }

    #[test]
    fn rendered_order_parses_back_to_the_same_terms(
        terms in prop::collection::vec(order_term(), 1..6),
        explicit_ascending in any::<bool>(),
        separator in prop::sample::select(vec![",", " , ", ", "]),
    ) {
        let text = terms.iter().map(|term| render_term(term, explicit_ascending)).collect::<Vec<_>>().join(separator);
        prop_assert_eq!(parse_order(&text), Ok(terms), "text: {}", text);
    }
}
