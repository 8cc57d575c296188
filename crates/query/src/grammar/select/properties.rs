//! Property tests for `select`, and the strategies the other grammar files' properties share.

use proptest::prelude::*;

use super::super::ast::{AggregateFunction, SelectItem};
use super::parse_select;

/// Names as the grammar allows them.
pub(in super::super) fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_]{1,8}"
}

/// Text made of the grammar's own punctuation and keywords, where parsers are most likely
/// to trip.
pub(in super::super) fn grammar_like_text() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "(",
        ")",
        ",",
        ".",
        ":",
        "!",
        "*",
        "\"",
        "\\",
        " ",
        "::",
        "->",
        "...",
        "é",
        "a",
        "b_1",
        "not",
        "or",
        "and",
        "in",
        "is",
        "eq",
        "like",
        "null",
        "true",
        "count",
        "sum",
        "inner",
        "left",
        "asc",
        "desc",
        "nullsfirst",
    ];
    prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|pieces| pieces.concat())
}

fn aggregate_function() -> impl Strategy<Value = AggregateFunction> {
    prop_oneof![
        Just(AggregateFunction::Count),
        Just(AggregateFunction::Sum),
        Just(AggregateFunction::Avg),
        Just(AggregateFunction::Min),
        Just(AggregateFunction::Max),
    ]
}

fn aggregate_name(function: AggregateFunction) -> &'static str {
    match function {
        AggregateFunction::Count => "count",
        AggregateFunction::Sum => "sum",
        AggregateFunction::Avg => "avg",
        AggregateFunction::Min => "min",
        AggregateFunction::Max => "max",
    }
}

fn leaf_item() -> impl Strategy<Value = SelectItem> {
    prop_oneof![
        Just(SelectItem::Star),
        (prop::option::of(name()), name()).prop_map(|(alias, name)| SelectItem::Column { alias, name }),
        (prop::option::of(name()), aggregate_function(), prop::option::of(name())).prop_map(
            |(alias, function, column)| {
                // Only `count()` may stand without a column.
                let function = if column.is_none() { AggregateFunction::Count } else { function };
                SelectItem::Aggregate { alias, function, column }
            }
        ),
    ]
}

fn item_tree() -> impl Strategy<Value = SelectItem> {
    leaf_item().prop_recursive(5, 48, 5, |inner| {
        // `sum()` is an aggregate, not an embedding, and `!inner` / `!left` are join types,
        // not hints: the grammar gives those spellings away, so the generator avoids them.
        let relation = name().prop_filter("aggregate names read as aggregates", |relation| {
            !["count", "sum", "avg", "min", "max"].contains(&relation.as_str())
        });
        let hint = name().prop_filter("join types are not hints", |hint| hint != "inner" && hint != "left");
        (prop::option::of(name()), relation, prop::option::of(hint), any::<bool>(), prop::collection::vec(inner, 0..5))
            .prop_map(|(alias, relation, hint, inner, items)| SelectItem::Embed { alias, relation, hint, inner, items })
    })
}

fn render_items(items: &[SelectItem], separator: &str) -> String {
    items.iter().map(|item| render_item(item, separator)).collect::<Vec<_>>().join(separator)
}

fn render_item(item: &SelectItem, separator: &str) -> String {
    let with_alias = |alias: &Option<String>, rest: String| match alias {
        Some(alias) => format!("{alias}:{rest}"),
        None => rest,
    };
    match item {
        SelectItem::Star => "*".to_owned(),
        SelectItem::Column { alias, name } => with_alias(alias, name.clone()),
        SelectItem::Aggregate { alias, function, column } => {
            let call = format!("{}()", aggregate_name(*function));
            with_alias(alias, column.as_ref().map_or(call.clone(), |column| format!("{column}.{call}")))
        }
        SelectItem::Embed { alias, relation, hint, inner, items } => {
            let hint = hint.as_ref().map(|hint| format!("!{hint}")).unwrap_or_default();
            let join = if *inner { "!inner" } else { "" };
            with_alias(alias, format!("{relation}{hint}{join}({})", render_items(items, separator)))
        }
    }
}

proptest! {
    #[test]
    fn select_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = parse_select(&text);
    }

    #[test]
    fn select_never_panics_on_grammar_like_text(text in grammar_like_text()) {
        let _ = parse_select(&text);
    }

    #[test]
    fn rendered_select_parses_back_to_the_same_items(
        items in prop::collection::vec(item_tree(), 1..6),
        separator in prop::sample::select(vec![",", " , ", ",\t"]),
    ) {
        let text = render_items(&items, separator);
        prop_assert_eq!(parse_select(&text), Ok(items), "text: {}", text);
    }
}
