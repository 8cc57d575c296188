use proptest::prelude::*;

use super::super::ast::{Condition, Operator, Value};
use super::super::select::properties::{grammar_like_text, name};
use super::{OPERATORS, parse_filter, parse_logic};

/// Values rich in the characters that need quoting.
fn value_text() -> impl Strategy<Value = String> {
    "[a-z0-9 ,().:*\"\\\\é]{0,8}"
}

fn operation() -> impl Strategy<Value = (Operator, Value)> {
    let plain = prop::sample::select(
        OPERATORS.into_iter().filter(|operator| !matches!(operator, Operator::In | Operator::Is)).collect::<Vec<_>>(),
    );
    prop_oneof![
        (plain, value_text()).prop_map(|(operator, value)| (operator, Value::Text(value))),
        prop::collection::vec(value_text(), 0..4).prop_map(|items| (Operator::In, Value::List(items))),
        prop_oneof![Just(Value::Null), Just(Value::Boolean(true)), Just(Value::Boolean(false))]
            .prop_map(|value| (Operator::Is, value)),
    ]
}

fn comparison() -> impl Strategy<Value = Condition> {
    (name(), operation(), any::<bool>()).prop_map(|(column, (operator, value), negated)| {
        let comparison = Condition::Compare { column, operator, value };
        if negated { Condition::Not(Box::new(comparison)) } else { comparison }
    })
}

fn condition_tree() -> impl Strategy<Value = Condition> {
    comparison().prop_recursive(4, 32, 4, |inner| {
        (prop::collection::vec(inner, 1..4), any::<bool>(), any::<bool>()).prop_map(
            |(conditions, disjunction, negated)| {
                let group = if disjunction { Condition::Or(conditions) } else { Condition::And(conditions) };
                if negated { Condition::Not(Box::new(group)) } else { group }
            },
        )
    })
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn render_list(items: &[String]) -> String {
    // Always quote an empty item: `in.()` is the empty list, not a list of one "".
    let rendered: Vec<String> = items
        .iter()
        .map(
            |item| {
                if item.is_empty() || item.contains([',', '(', ')', '"', '\\']) { quote(item) } else { item.clone() }
            },
        )
        .collect();
    format!("({})", rendered.join(","))
}

/// `operator.value`; inside a logic tree, values that would end early are quoted.
fn render_operation(operator: Operator, value: &Value, in_logic_tree: bool) -> String {
    let value = match value {
        Value::Text(text) if in_logic_tree && text.contains([',', '(', ')', '"', '\\']) => quote(text),
        Value::Text(text) => text.clone(),
        Value::List(items) => render_list(items),
        Value::Null => "null".to_owned(),
        Value::Boolean(boolean) => boolean.to_string(),
    };
    format!("{}.{value}", operator.name())
}

/// A condition inside a logic tree. With `prefix_negation`, negated comparisons are written
/// `not.column.op.value` where that reads unambiguously, else `column.not.op.value`.
fn render_condition(condition: &Condition, prefix_negation: bool) -> String {
    match condition {
        Condition::Compare { column, operator, value } => {
            format!("{column}.{}", render_operation(*operator, value, true))
        }
        Condition::Not(inner) => match inner.as_ref() {
            Condition::Compare { column, operator, value } => {
                let column_is_operator = OPERATORS.iter().any(|operator| operator.name() == column);
                if prefix_negation && !column_is_operator {
                    format!("not.{column}.{}", render_operation(*operator, value, true))
                } else {
                    format!("{column}.not.{}", render_operation(*operator, value, true))
                }
            }
            group => format!("not.{}", render_condition(group, prefix_negation)),
        },
        Condition::Or(conditions) => format!("or{}", render_group(conditions, prefix_negation)),
        Condition::And(conditions) => format!("and{}", render_group(conditions, prefix_negation)),
    }
}

fn render_group(conditions: &[Condition], prefix_negation: bool) -> String {
    let rendered: Vec<String> =
        conditions.iter().map(|condition| render_condition(condition, prefix_negation)).collect();
    format!("({})", rendered.join(","))
}

proptest! {
    #[test]
    fn filter_and_logic_never_panic_on_arbitrary_text(text in any::<String>(), disjunction in any::<bool>()) {
        let _ = parse_filter("column", &text);
        let _ = parse_logic(&text, disjunction);
    }

    #[test]
    fn filter_and_logic_never_panic_on_grammar_like_text(text in grammar_like_text(), disjunction in any::<bool>()) {
        let _ = parse_filter("column", &text);
        let _ = parse_logic(&text, disjunction);
        let _ = parse_logic(&format!("({text})"), disjunction);
    }

    #[test]
    fn rendered_filter_parses_back_to_the_same_condition(column in name(), (operator, value) in operation(), negated in any::<bool>()) {
        let negation = if negated { "not." } else { "" };
        let text = format!("{negation}{}", render_operation(operator, &value, false));
        let comparison = Condition::Compare { column: column.clone(), operator, value };
        let expected = if negated { Condition::Not(Box::new(comparison)) } else { comparison };
        prop_assert_eq!(parse_filter(&column, &text), Ok(expected), "text: {}", text);
    }

    #[test]
    fn rendered_logic_parses_back_to_the_same_tree(
        conditions in prop::collection::vec(condition_tree(), 1..5),
        disjunction in any::<bool>(),
        prefix_negation in any::<bool>(),
    ) {
        let text = render_group(&conditions, prefix_negation);
        let expected = if disjunction { Condition::Or(conditions) } else { Condition::And(conditions) };
        prop_assert_eq!(parse_logic(&text, disjunction), Ok(expected), "text: {}", text);
    }
}
