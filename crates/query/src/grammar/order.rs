//! `order`: `column[.asc|.desc][.nullsfirst|.nullslast]`, comma-separated.

use super::ast::{GrammarError, NullsOrder, OrderTerm};
use super::select::{Scanner, check_name};

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

const TERM_SHAPE: &str = "column[.asc|.desc][.nullsfirst|.nullslast]";

/// The value of `order`, e.g. "due_date.desc.nullslast,id".
pub fn parse_order(text: &str) -> Result<Vec<OrderTerm>, GrammarError> {
    let mut scanner = Scanner::new(text)?;
    let mut terms = Vec::new();
    loop {
        terms.push(parse_term(&mut scanner)?);
        scanner.skip_whitespace();
        if scanner.at_end() {
            return Ok(terms);
        }
        if !scanner.eat(',') {
            return Err(scanner.unexpected("',' or end of text after an order term"));
        }
    }
}

fn read_word(scanner: &mut Scanner<'_>) -> (String, usize) {
    let start = scanner.position();
    let word = scanner.take_while(|character| !matches!(character, '.' | ',') && !character.is_whitespace());
    (word, start)
}

fn parse_term(scanner: &mut Scanner<'_>) -> Result<OrderTerm, GrammarError> {
    scanner.skip_whitespace();
    let (column, start) = read_word(scanner);
    if column.is_empty() {
        return Err(scanner.unexpected(&format!("a column to order by ({TERM_SHAPE})")));
    }
    check_name(scanner, &column, start, "column")?;
    let mut direction_given = false;
    let mut descending = false;
    let mut nulls = None;
    while scanner.eat('.') {
        let (modifier, start) = read_word(scanner);
        let out_of_place = |scanner: &Scanner<'_>| {
            let message = format!("'{modifier}' is out of place in the order of '{column}' (expected {TERM_SHAPE})");
            scanner.error_at(start, modifier.as_str(), message)
        };
        match modifier.as_str() {
            "asc" | "desc" if direction_given || nulls.is_some() => {
                return Err(out_of_place(scanner));
            }
            "asc" | "desc" => {
                direction_given = true;
                descending = modifier == "desc";
            }
            "nullsfirst" | "nullslast" if nulls.is_some() => return Err(out_of_place(scanner)),
            "nullsfirst" => nulls = Some(NullsOrder::First),
            "nullslast" => nulls = Some(NullsOrder::Last),
            "" => {
                return Err(scanner.unexpected(&format!("asc, desc, nullsfirst or nullslast after '{column}.'")));
            }
            _ => {
                let message =
                    format!("unknown order modifier '{modifier}' (expected asc, desc, nullsfirst or nullslast)");
                return Err(scanner.error_at(start, modifier.as_str(), message));
            }
        }
    }
    Ok(OrderTerm { column, descending, nulls })
}
