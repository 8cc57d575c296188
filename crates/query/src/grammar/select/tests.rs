use super::super::ast::{AggregateFunction, GrammarError, SelectItem};
use super::{MAX_NESTING_DEPTH, MAX_TEXT_BYTES, parse_select};
use crate::grammar::test_support::assert_grammar_error;

fn column(name: &str) -> SelectItem {
    SelectItem::Column { alias: None, name: name.to_owned() }
}

fn aliased(alias: &str, name: &str) -> SelectItem {
    SelectItem::Column { alias: Some(alias.to_owned()), name: name.to_owned() }
}

fn embed(relation: &str, items: Vec<SelectItem>) -> SelectItem {
    SelectItem::Embed { alias: None, relation: relation.to_owned(), hint: None, inner: false, items }
}

fn parse_error(text: &str) -> GrammarError {
    match parse_select(text) {
        Ok(items) => panic!("'{text}' parsed as {items:?}, expected an error"),
        Err(error) => error,
    }
}

/// Checks the message contains `fragment`, and the token and position.
fn assert_error(text: &str, fragment: &str, token: &str, position: usize) {
    let error = parse_error(text);
    assert_grammar_error(&error, text, fragment, token, position);
}

#[test]
fn star_and_plain_columns() {
    assert_eq!(parse_select("*").unwrap(), vec![SelectItem::Star]);
    assert_eq!(parse_select("id,production_status").unwrap(), vec![column("id"), column("production_status")]);
    assert_eq!(parse_select("*,id").unwrap(), vec![SelectItem::Star, column("id")]);
}

#[test]
fn whitespace_around_items_is_ignored() {
    assert_eq!(parse_select("  id ,\tname  ").unwrap(), vec![column("id"), column("name")]);
    assert_eq!(parse_select("label : name").unwrap(), vec![aliased("label", "name")]);
    assert_eq!(parse_select(" items ( a , b ) ").unwrap(), vec![embed("items", vec![column("a"), column("b")])]);
}

#[test]
fn aliased_columns() {
    assert_eq!(
        parse_select("status:production_status,id").unwrap(),
        vec![aliased("status", "production_status"), column("id")]
    );
}

#[test]
fn embeddings_with_alias_hint_and_inner() {
    let items = parse_select("id,item:reporting_effort_items(item_code,title),comments:tracker_comments(*)").unwrap();
    assert_eq!(
        items,
        vec![
            column("id"),
            SelectItem::Embed {
                alias: Some("item".into()),
                relation: "reporting_effort_items".into(),
                hint: None,
                inner: false,
                items: vec![column("item_code"), column("title")],
            },
            SelectItem::Embed {
                alias: Some("comments".into()),
                relation: "tracker_comments".into(),
                hint: None,
                inner: false,
                items: vec![SelectItem::Star],
            },
        ]
    );
    let hinted = |hint: Option<&str>, inner: bool| SelectItem::Embed {
        alias: None,
        relation: "users".into(),
        hint: hint.map(String::from),
        inner,
        items: vec![column("name")],
    };
    assert_eq!(parse_select("users!author_id(name)").unwrap(), vec![hinted(Some("author_id"), false)]);
    assert_eq!(parse_select("users!inner(name)").unwrap(), vec![hinted(None, true)]);
    assert_eq!(parse_select("users!author_id!inner(name)").unwrap(), vec![hinted(Some("author_id"), true)]);
    assert_eq!(parse_select("users!inner!author_id(name)").unwrap(), vec![hinted(Some("author_id"), true)]);
    assert_eq!(parse_select("users!left(name)").unwrap(), vec![hinted(None, false)]);
}

#[test]
fn nested_embeddings_and_empty_embedding() {
    let items = parse_select("a(b(c(*,d)),e)").unwrap();
    assert_eq!(
        items,
        vec![embed("a", vec![embed("b", vec![embed("c", vec![SelectItem::Star, column("d")])]), column("e")])]
    );
    assert_eq!(parse_select("rel()").unwrap(), vec![embed("rel", vec![])]);
    assert_eq!(parse_select("rel( )").unwrap(), vec![embed("rel", vec![])]);
}

#[test]
fn aggregates() {
    let aggregate = |alias: Option<&str>, function, column: Option<&str>| SelectItem::Aggregate {
        alias: alias.map(String::from),
        function,
        column: column.map(String::from),
    };
    let items = parse_select("production_status,count()").unwrap();
    assert_eq!(items, vec![column("production_status"), aggregate(None, AggregateFunction::Count, None)]);
    assert_eq!(parse_select("total:count()").unwrap(), vec![aggregate(Some("total"), AggregateFunction::Count, None)]);
    let items = parse_select("id.count(),price.sum(),price.avg(),price.min(),highest:price.max()").unwrap();
    assert_eq!(
        items,
        vec![
            aggregate(None, AggregateFunction::Count, Some("id")),
            aggregate(None, AggregateFunction::Sum, Some("price")),
            aggregate(None, AggregateFunction::Avg, Some("price")),
            aggregate(None, AggregateFunction::Min, Some("price")),
            aggregate(Some("highest"), AggregateFunction::Max, Some("price")),
        ]
    );
    // Inside an embedding too, and `count` with arguments is an embedding of "count".
    assert_eq!(
        parse_select("rel(count())").unwrap(),
        vec![embed("rel", vec![aggregate(None, AggregateFunction::Count, None)])]
    );
    assert_eq!(parse_select("count(a)").unwrap(), vec![embed("count", vec![column("a")])]);
}

#[test]
fn unknown_or_malformed_aggregates_are_errors() {
    assert_error(
        "price.median()",
        "unknown aggregate function 'median' (expected one of count, sum, avg, min, max)",
        "median",
        6,
    );
    assert_error("price.sum", "expected '()' after aggregate function 'sum', found end of text", "", 9);
    assert_error("price.sum(x)", "aggregate functions take no arguments, found 'x'", "x", 10);
    assert_error("price.()", "expected an aggregate function", "(", 6);
    assert_error("sum()", "aggregate function 'sum' needs a column: write 'column.sum()'", "sum", 0);
}

#[test]
fn empty_items_are_errors() {
    assert_error("", "expected a column, '*', an aggregate or an embedding, found end of text", "", 0);
    assert_error("a,,b", "found ','", ",", 2);
    assert_error("a,", "found end of text", "", 2);
    assert_error("rel(a,)", "found ')'", ")", 6);
    assert_error("rel(,a)", "found ','", ",", 4);
}

#[test]
fn empty_alias_or_name_is_an_error() {
    assert_error(":name", "empty alias before ':'", ":", 0);
    assert_error("label:", "after 'label:', found end of text", "", 6);
    assert_error("label:,id", "after 'label:', found ','", ",", 6);
    assert_error("!hint(a)", "found '!'", "!", 0);
    assert_error("rel!(a)", "expected a hint, 'inner' or 'left' after '!', found '('", "(", 4);
}

#[test]
fn unbalanced_parentheses_are_errors() {
    assert_error(
        "rel(a",
        "expected ')' to close the embedding of 'rel' opened at character 3, found end of text",
        "",
        5,
    );
    assert_error("a(b(c)", "to close the embedding of 'a' opened at character 1", "", 6);
    assert_error("a)", "unbalanced ')'", ")", 1);
    assert_error("rel(a))", "unbalanced ')'", ")", 6);
    assert_error("(a)", "found '('", "(", 0);
    assert_error("rel!hint", "expected '(' to open the embedding of 'rel', found end of text", "", 8);
}

#[test]
fn characters_outside_names_are_errors_naming_the_token() {
    assert_error("na-me", "invalid character '-' in column 'na-me'", "na-me", 0);
    assert_error("id,na$me", "invalid character '$' in column 'na$me'", "na$me", 3);
    assert_error("al@s:name", "invalid character '@' in alias 'al@s'", "al@s", 0);
    assert_error("rel!hi-nt(a)", "invalid character '-' in hint 'hi-nt'", "hi-nt", 4);
    assert_error("ré(a)", "invalid character 'é' in relation 'ré'", "ré", 0);
    assert_error("a*", "invalid character '*' in column 'a*'", "a*", 0);
    assert_error("\"my col\"", "quoted names are not supported", "\"my", 0);
    assert_error("id name", "expected ',' or end of text after a select item, found 'name'", "name", 3);
    assert_error("*x", "found 'x'", "x", 1);
}

#[test]
fn casts_json_paths_and_spreads_are_refused_clearly() {
    assert_error("amount::text", "casts ('::') are not supported", "::", 6);
    assert_error("total:amount::text", "casts ('::') are not supported", "::", 12);
    assert_error("price.sum()::int", "casts ('::') are not supported", "::", 11);
    assert_error("data->owner", "JSON paths ('->', '->>') are not supported", "data->owner", 0);
    assert_error("id,data->>'owner'", "JSON paths ('->', '->>') are not supported", "data->>'owner'", 3);
    assert_error("...rel(a)", "spread embeddings ('...') are not supported", "...", 0);
}

#[test]
fn repeated_join_types_or_hints_are_errors() {
    assert_error("rel!inner!left(a)", "more than one join type", "left", 10);
    assert_error("rel!a!b(a)", "more than one hint", "b", 6);
}

#[test]
fn nesting_is_capped() {
    let nested = |depth: usize| format!("{}x{}", "r(".repeat(depth), ")".repeat(depth));
    assert!(parse_select(&nested(MAX_NESTING_DEPTH)).is_ok());
    let error = parse_select(&nested(MAX_NESTING_DEPTH + 1)).unwrap_err();
    assert!(error.message.contains("nested deeper than 32 levels"), "{}", error.message);
    assert_eq!((error.token.as_str(), error.position), ("(", 2 * MAX_NESTING_DEPTH + 1));
    // Deep enough to overflow a stack if the cap did not stop the recursion first.
    assert!(parse_select(&nested(5000)).is_err());
}

#[test]
fn oversized_text_is_refused() {
    let text = format!("{}a", "a,".repeat(MAX_TEXT_BYTES / 2));
    let error = parse_select(&text).unwrap_err();
    assert!(error.message.starts_with("text is too long: 16385 bytes (at most 16384)"), "{}", error.message);
    assert!(error.text.chars().count() <= MAX_TEXT_BYTES + 1);
    // Cut on a character boundary, whatever the characters.
    assert!(parse_select(&"é".repeat(MAX_TEXT_BYTES)).is_err());
    assert!(parse_select(&"a,".repeat(MAX_TEXT_BYTES / 2 - 1)).is_err_and(|error| !error.message.contains("too long")));
}

#[test]
fn error_display_names_message_position_and_text() {
    let error = parse_error("a,,b");
    assert_eq!(
        error.to_string(),
        "expected a column, '*', an aggregate or an embedding, found ',' at character 2 of 'a,,b'"
    );
}
