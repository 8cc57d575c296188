use super::super::ast::{Condition, GrammarError, Operator, Value};
use super::super::select::{MAX_NESTING_DEPTH, MAX_TEXT_BYTES};
use super::{parse_filter, parse_logic};
use crate::grammar::test_support::assert_grammar_error;

fn compare(column: &str, operator: Operator, value: Value) -> Condition {
    Condition::Compare { column: column.to_owned(), operator, value }
}

fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|item| (*item).to_owned()).collect())
}

fn not(condition: Condition) -> Condition {
    Condition::Not(Box::new(condition))
}

fn assert_message(error: &GrammarError, text: &str, fragment: &str, token: &str, position: usize) {
    assert_grammar_error(error, text, fragment, token, position);
}

fn assert_filter_error(text: &str, fragment: &str, token: &str, position: usize) {
    match parse_filter("column", text) {
        Ok(condition) => panic!("'{text}' parsed as {condition:?}, expected an error"),
        Err(error) => assert_message(&error, text, fragment, token, position),
    }
}

fn assert_logic_error(text: &str, fragment: &str, token: &str, position: usize) {
    match parse_logic(text, true) {
        Ok(condition) => panic!("'{text}' parsed as {condition:?}, expected an error"),
        Err(error) => assert_message(&error, text, fragment, token, position),
    }
}

#[test]
fn every_operator_with_a_plain_value() {
    for (filter_text, operator) in [
        ("eq.5", Operator::Eq),
        ("neq.5", Operator::Neq),
        ("gt.5", Operator::Gt),
        ("gte.5", Operator::Gte),
        ("lt.5", Operator::Lt),
        ("lte.5", Operator::Lte),
        ("isdistinct.5", Operator::Isdistinct),
        ("like.5", Operator::Like),
        ("ilike.5", Operator::Ilike),
    ] {
        assert_eq!(parse_filter("price", filter_text).unwrap(), compare("price", operator, text("5")), "{filter_text}");
    }
}

#[test]
fn plain_values_are_the_raw_rest_of_the_text() {
    assert_eq!(parse_filter("a", "eq.a.b").unwrap(), compare("a", Operator::Eq, text("a.b")));
    assert_eq!(parse_filter("a", "eq.x,(y)").unwrap(), compare("a", Operator::Eq, text("x,(y)")));
    assert_eq!(parse_filter("a", "eq.\"quoted\"").unwrap(), compare("a", Operator::Eq, text("\"quoted\"")));
    assert_eq!(parse_filter("a", "eq.").unwrap(), compare("a", Operator::Eq, text("")));
    assert_eq!(parse_filter("a", "eq. spaced ").unwrap(), compare("a", Operator::Eq, text(" spaced ")));
    assert_eq!(parse_filter("title", "like.*abc*").unwrap(), compare("title", Operator::Like, text("*abc*")));
    assert_eq!(parse_filter("title", "ilike.ÄÖ*").unwrap(), compare("title", Operator::Ilike, text("ÄÖ*")));
}

#[test]
fn not_prefix_negates() {
    assert_eq!(parse_filter("a", "not.eq.5").unwrap(), not(compare("a", Operator::Eq, text("5"))));
    assert_eq!(parse_filter("a", "not.in.(1,2)").unwrap(), not(compare("a", Operator::In, list(&["1", "2"]))));
    assert_eq!(parse_filter("a", "not.is.null").unwrap(), not(compare("a", Operator::Is, Value::Null)));
}

#[test]
fn in_lists_split_on_commas_outside_quotes() {
    let parsed = parse_filter("a", r#"in.(a,b,"c,d","e\"f","g\\h")"#).unwrap();
    assert_eq!(parsed, compare("a", Operator::In, list(&["a", "b", "c,d", "e\"f", "g\\h"])));
    assert_eq!(parse_filter("a", "in.( a , b )").unwrap(), compare("a", Operator::In, list(&[" a ", " b "])));
    assert_eq!(parse_filter("a", r#"in.(" q ")"#).unwrap(), compare("a", Operator::In, list(&[" q "])));
    assert_eq!(parse_filter("a", "in.()").unwrap(), compare("a", Operator::In, list(&[])));
    assert_eq!(parse_filter("a", r#"in.("")"#).unwrap(), compare("a", Operator::In, list(&[""])));
    assert_eq!(parse_filter("a", "in.(,)").unwrap(), compare("a", Operator::In, list(&["", ""])));
    assert_eq!(parse_filter("a", "in.(x\"y,f(z)").unwrap(), compare("a", Operator::In, list(&["x\"y", "f(z"])));
}

#[test]
fn malformed_in_lists_are_errors() {
    assert_filter_error("in.1,2", "expected '(' to open the list of 'in', found '1'", "1", 3);
    assert_filter_error(
        "in.(1,2",
        "expected ')' to close the list of 'in' opened at character 3, found end of text",
        "",
        7,
    );
    assert_filter_error("in.(1,2)x", "expected end of text after the list of 'in', found 'x'", "x", 8);
    assert_filter_error(r#"in.("a"b)"#, "expected ',' or ')' after a quoted item of the 'in' list, found 'b'", "b", 7);
    assert_filter_error(r#"in.("a,b)"#, "unterminated quoted value opened at character 4", "\"", 4);
    assert_filter_error(r#"in.("a\"#, "unterminated quoted value opened at character 4", "\"", 4);
}

#[test]
fn is_accepts_null_true_false_in_any_case() {
    assert_eq!(parse_filter("a", "is.null").unwrap(), compare("a", Operator::Is, Value::Null));
    assert_eq!(parse_filter("a", "is.NULL").unwrap(), compare("a", Operator::Is, Value::Null));
    assert_eq!(parse_filter("a", "is.True").unwrap(), compare("a", Operator::Is, Value::Boolean(true)));
    assert_eq!(parse_filter("a", "is.false").unwrap(), compare("a", Operator::Is, Value::Boolean(false)));
    assert_filter_error("is.nil", "expected null, true or false after 'is.', found 'nil'", "nil", 3);
    assert_filter_error("is.", "expected null, true or false after 'is.', found end of value", "", 3);
    assert_filter_error("is.unknown", "found 'unknown'", "unknown", 3);
}

#[test]
fn unknown_or_missing_operators_are_errors() {
    let supported = "(expected one of eq, neq, gt, gte, lt, lte, like, ilike, match, imatch, in, is, isdistinct)";
    assert_filter_error("equals.5", &format!("unknown operator 'equals' {supported}"), "equals", 0);
    assert_filter_error("cs.{a}", "unknown operator 'cs'", "cs", 0);
    assert_filter_error("fts.x", "unknown operator 'fts'", "fts", 0);
    assert_filter_error("not.fts.x", "unknown operator 'fts'", "fts", 4);
    assert_filter_error("not.not.eq.1", "unknown operator 'not'", "not", 4);
    assert_filter_error("5", "unknown operator '5'", "5", 0);
    assert_filter_error("", "expected an operator (one of eq, neq", "", 0);
    assert_filter_error("not.", "expected an operator", "", 4);
    assert_filter_error(".5", "expected an operator", ".", 0);
    assert_filter_error("eq", "expected '.' and a value after operator 'eq', found end of text", "", 2);
    assert_filter_error("eq:5", "expected '.' and a value after operator 'eq', found ':'", ":", 2);
    assert_filter_error("é.5", "found 'é'", "é", 0);
}

#[test]
fn logic_trees() {
    let parsed = parse_logic("(a.eq.1,b.gt.2,and(c.lt.3,not.d.is.null))", true).unwrap();
    let expected = Condition::Or(vec![
        compare("a", Operator::Eq, text("1")),
        compare("b", Operator::Gt, text("2")),
        Condition::And(vec![compare("c", Operator::Lt, text("3")), not(compare("d", Operator::Is, Value::Null))]),
    ]);
    assert_eq!(parsed, expected);
    let parsed = parse_logic("(a.eq.1,not.or(b.eq.2,c.eq.3),not.and(d.eq.4))", false).unwrap();
    let expected = Condition::And(vec![
        compare("a", Operator::Eq, text("1")),
        not(Condition::Or(vec![compare("b", Operator::Eq, text("2")), compare("c", Operator::Eq, text("3"))])),
        not(Condition::And(vec![compare("d", Operator::Eq, text("4"))])),
    ]);
    assert_eq!(parsed, expected);
}

#[test]
fn logic_values_are_unquoted_and_end_at_commas_or_parentheses() {
    let parsed = parse_logic(r#"(a.eq."x,y",b.like.*z*,c.eq."(q\"r)",d.eq.,e.eq.a.b)"#, true).unwrap();
    let expected = Condition::Or(vec![
        compare("a", Operator::Eq, text("x,y")),
        compare("b", Operator::Like, text("*z*")),
        compare("c", Operator::Eq, text("(q\"r)")),
        compare("d", Operator::Eq, text("")),
        compare("e", Operator::Eq, text("a.b")),
    ]);
    assert_eq!(parsed, expected);
    let parsed = parse_logic(r#"(a.in.(1,"2,3"),b.not.in.(),c.is."TRUE", d.eq.1)"#, false).unwrap();
    let expected = Condition::And(vec![
        compare("a", Operator::In, list(&["1", "2,3"])),
        not(compare("b", Operator::In, list(&[]))),
        compare("c", Operator::Is, Value::Boolean(true)),
        compare("d", Operator::Eq, text("1")),
    ]);
    assert_eq!(parsed, expected);
}

#[test]
fn columns_called_like_keywords_are_columns() {
    let parsed = parse_logic("(not.eq.1,or.eq.2,and.not.eq.3)", true).unwrap();
    let expected = Condition::Or(vec![
        compare("not", Operator::Eq, text("1")),
        compare("or", Operator::Eq, text("2")),
        not(compare("and", Operator::Eq, text("3"))),
    ]);
    assert_eq!(parsed, expected);
    // `not.` before an operator keeps PostgREST's reading (a column "not"); before anything
    // else it negates the condition that follows.
    let parsed = parse_logic("(not.eq.is.null,not.not.eq.1,not.d.is.null,not.not.d.gt.2)", true).unwrap();
    let expected = Condition::Or(vec![
        compare("not", Operator::Eq, text("is.null")),
        not(compare("not", Operator::Eq, text("1"))),
        not(compare("d", Operator::Is, Value::Null)),
        not(not(compare("d", Operator::Gt, text("2")))),
    ]);
    assert_eq!(parsed, expected);
}

#[test]
fn malformed_logic_trees_are_errors() {
    assert_logic_error("a.eq.1", "expected '(' to open the conditions of 'or', found 'a'", "a", 0);
    assert_logic_error("", "expected '(' to open the conditions of 'or', found end of text", "", 0);
    assert_logic_error("()", "expected a condition (column.operator.value, or(...), and(...)), found ')'", ")", 1);
    assert_logic_error("(a.eq.1,)", "expected a condition", ")", 8);
    assert_logic_error("(a.eq.1", "expected ')' to close 'or(' opened at character 0, found end of text", "", 7);
    assert_logic_error("(a.eq.1,and(b.eq.2)", "expected ')' to close 'or(' opened at character 0", "", 19);
    assert_logic_error("(and(b.eq.2)", "expected ')' to close 'or(' opened at character 0", "", 12);
    assert_logic_error("(a.eq.1))", "expected end of text after the ')' that closes 'or', found ')'", ")", 8);
    assert_logic_error("(a.eq.1)x", "found 'x'", "x", 8);
    assert_logic_error("(a)", "expected '.' and an operator after column 'a', found ')'", ")", 2);
    assert_logic_error("(a.equals.1)", "unknown operator 'equals'", "equals", 3);
    assert_logic_error(r#"(a.eq."x"y)"#, "expected ',' or ')' after a quoted value, found 'y'", "y", 9);
    assert_logic_error(r#"(a.eq."x)"#, "unterminated quoted value opened at character 6", "\"", 6);
    assert_logic_error("(a.is.maybe)", "expected null, true or false after 'is.', found 'maybe'", "maybe", 6);
    assert_logic_error("(a.in.(1)x)", "expected ',' or ')' after a condition, found 'x'", "x", 9);
    assert_logic_error("(na-me.eq.1)", "invalid character '-' in column 'na-me'", "na-me", 1);
    assert_logic_error("(data->x.eq.1)", "JSON paths ('->', '->>') are not supported", "data->x", 1);
    assert_logic_error("(or.(a.eq.1))", "expected an operator", "(", 4);
}

#[test]
fn logic_nesting_is_capped() {
    let nested = |depth: usize| format!("({}a.eq.1{}", "or(".repeat(depth - 1), ")".repeat(depth));
    assert!(parse_logic(&nested(MAX_NESTING_DEPTH), true).is_ok());
    let error = parse_logic(&nested(MAX_NESTING_DEPTH + 1), true).unwrap_err();
    assert!(error.message.contains("nested deeper than 32 levels"), "{}", error.message);
    assert_eq!(error.token, "(");
    assert!(parse_logic(&nested(3000), true).is_err());
    let negated = |depth: usize| format!("({}a.eq.1)", "not.".repeat(depth));
    assert!(parse_logic(&negated(MAX_NESTING_DEPTH - 1), true).is_ok());
    let error = parse_logic(&negated(MAX_NESTING_DEPTH), true).unwrap_err();
    assert!(error.message.contains("nested deeper than 32 levels"), "{}", error.message);
    assert!(parse_logic(&negated(4000), true).is_err());
}

#[test]
fn oversized_values_are_refused() {
    let long = format!("eq.{}", "x".repeat(MAX_TEXT_BYTES));
    assert!(parse_filter("a", &long).unwrap_err().message.contains("too long"));
    let long = format!("(a.eq.{})", "x".repeat(MAX_TEXT_BYTES));
    assert!(parse_logic(&long, false).unwrap_err().message.contains("too long"));
}

#[test]
fn any_and_all_modifiers_join_one_comparison_per_value() {
    let like = |value: &str| compare("name", Operator::Like, text(value));
    assert_eq!(parse_filter("name", "like(any).{O*,P*}").unwrap(), Condition::Or(vec![like("O*"), like("P*")]));
    assert_eq!(
        parse_filter("name", "like(all).{*a*,\"*,b*\"}").unwrap(),
        Condition::And(vec![like("*a*"), like("*,b*")])
    );
    assert_eq!(
        parse_filter("priority", "not.gt(any).{3,4}").unwrap(),
        not(Condition::Or(vec![
            compare("priority", Operator::Gt, text("3")),
            compare("priority", Operator::Gt, text("4"))
        ]))
    );
    assert_eq!(
        parse_logic("(name.ilike(any).{a*,b*},id.eq.1)", true).unwrap(),
        Condition::Or(vec![
            Condition::Or(vec![
                compare("name", Operator::Ilike, text("a*")),
                compare("name", Operator::Ilike, text("b*"))
            ]),
            compare("id", Operator::Eq, text("1")),
        ])
    );
    assert!(parse_filter("id", "in(any).{1,2}").is_err(), "in takes no modifier");
    assert!(parse_filter("name", "like(any).{}").is_err(), "an empty list");
    assert!(parse_filter("name", "like(any).{a*").is_err(), "an open list");
    assert!(parse_filter("name", "like(some).{a*}").is_err(), "an unknown modifier");
}
