use super::super::ast::{NullsOrder, OrderTerm};
use super::super::select::MAX_TEXT_BYTES;
use super::parse_order;
use crate::grammar::test_support::assert_grammar_error;

fn term(column: &str, descending: bool, nulls: Option<NullsOrder>) -> OrderTerm {
    OrderTerm { column: column.to_owned(), descending, nulls }
}

fn assert_error(text: &str, fragment: &str, token: &str, position: usize) {
    let error = match parse_order(text) {
        Ok(terms) => panic!("'{text}' parsed as {terms:?}, expected an error"),
        Err(error) => error,
    };
    assert_grammar_error(&error, text, fragment, token, position);
}

#[test]
fn every_term_form() {
    assert_eq!(parse_order("id").unwrap(), vec![term("id", false, None)]);
    assert_eq!(parse_order("id.asc").unwrap(), vec![term("id", false, None)]);
    assert_eq!(parse_order("id.desc").unwrap(), vec![term("id", true, None)]);
    assert_eq!(parse_order("id.nullsfirst").unwrap(), vec![term("id", false, Some(NullsOrder::First))]);
    assert_eq!(parse_order("id.asc.nullslast").unwrap(), vec![term("id", false, Some(NullsOrder::Last))]);
    assert_eq!(parse_order("id.desc.nullsfirst").unwrap(), vec![term("id", true, Some(NullsOrder::First))]);
}

#[test]
fn several_terms_with_whitespace() {
    let terms = parse_order("due_date.desc.nullslast,id").unwrap();
    assert_eq!(terms, vec![term("due_date", true, Some(NullsOrder::Last)), term("id", false, None)]);
    let terms = parse_order(" a.desc , b ").unwrap();
    assert_eq!(terms, vec![term("a", true, None), term("b", false, None)]);
}

#[test]
fn unknown_modifiers_are_errors_naming_the_token() {
    assert_error("col.up", "unknown order modifier 'up' (expected asc, desc, nullsfirst or nullslast)", "up", 4);
    assert_error("a,col.desc.first", "unknown order modifier 'first'", "first", 11);
    assert_error("col.DESC", "unknown order modifier 'DESC'", "DESC", 4);
    assert_error("col.", "expected asc, desc, nullsfirst or nullslast after 'col.', found end of text", "", 4);
    assert_error("col..desc", "after 'col.', found '.'", ".", 4);
}

#[test]
fn modifiers_out_of_order_or_repeated_are_errors() {
    assert_error("col.nullsfirst.desc", "'desc' is out of place in the order of 'col'", "desc", 15);
    assert_error("col.asc.desc", "'desc' is out of place", "desc", 8);
    assert_error("col.nullslast.nullsfirst", "'nullsfirst' is out of place", "nullsfirst", 14);
}

#[test]
fn empty_terms_and_bad_columns_are_errors() {
    assert_error(
        "",
        "expected a column to order by (column[.asc|.desc][.nullsfirst|.nullslast]), found end of text",
        "",
        0,
    );
    assert_error("a,,b", "expected a column to order by", ",", 2);
    assert_error("a,", "found end of text", "", 2);
    assert_error(".desc", "expected a column to order by", ".", 0);
    assert_error("na-me.desc", "invalid character '-' in column 'na-me'", "na-me", 0);
    assert_error("data->x.desc", "JSON paths ('->', '->>') are not supported", "data->x", 0);
    assert_error("amount::text", "casts ('::') are not supported", "amount::text", 0);
    assert_error("a b", "expected ',' or end of text after an order term, found 'b'", "b", 2);
}

#[test]
fn oversized_text_is_refused() {
    let text = "a,".repeat(MAX_TEXT_BYTES);
    assert!(parse_order(&text).unwrap_err().message.contains("too long"));
}
