//! Filters: the value of `column=` (`not.in.(1,2)`) and of `or=` / `and=` (logic trees).
//!
//! Quoting differs by place, as in PostgREST: a `column=` value is taken raw to the end of
//! the text, while inside a logic tree or an `in` list a value ends at `,` or `)` unless
//! double-quoted, and quoted values are unquoted.

use super::ast::{Condition, GrammarError, Operator, Value};
use super::select::{MAX_NESTING_DEPTH, Scanner, check_name};

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

const OPERATORS: [Operator; 13] = [
    Operator::Eq,
    Operator::Neq,
    Operator::Gt,
    Operator::Gte,
    Operator::Lt,
    Operator::Lte,
    Operator::Like,
    Operator::Ilike,
    Operator::In,
    Operator::Is,
    Operator::Isdistinct,
    Operator::Match,
    Operator::Imatch,
];

const OPERATOR_NAMES: &str = "eq, neq, gt, gte, lt, lte, like, ilike, match, imatch, in, is, isdistinct";

/// Where an operation is written, which decides where its value ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The whole value of a `column=` parameter: the value runs to the end of the text.
    Parameter,
    /// Inside `or=(...)` / `and=(...)`: the value ends at `,` or `)` unless quoted.
    LogicTree,
}

/// The value of a `column=` parameter, e.g. "eq.5", "not.in.(1,2)", "is.null", "like.*abc*".
pub fn parse_filter(column: &str, text: &str) -> Result<Condition, GrammarError> {
    let mut scanner = Scanner::new(text)?;
    parse_operation(&mut scanner, column.to_owned(), Place::Parameter)
}

/// The value of an `or=` / `and=` parameter, e.g. "(a.eq.1,b.gt.2,and(c.lt.3,not.d.is.null))";
/// `disjunction` is true for or=.
pub fn parse_logic(text: &str, disjunction: bool) -> Result<Condition, GrammarError> {
    let mut scanner = Scanner::new(text)?;
    let keyword = if disjunction { "or" } else { "and" };
    let conditions = parse_group(&mut scanner, 1, keyword)?;
    if !scanner.at_end() {
        return Err(scanner.unexpected(&format!("end of text after the ')' that closes '{keyword}'")));
    }
    Ok(if disjunction { Condition::Or(conditions) } else { Condition::And(conditions) })
}

/// `[not.]operator.value`, the column already read.
fn parse_operation(scanner: &mut Scanner<'_>, column: String, place: Place) -> Result<Condition, GrammarError> {
    let negated = scanner.eat_str("not.");
    let start = scanner.position();
    let name = scanner.take_while(|character| character.is_ascii_alphanumeric() || character == '_');
    if name.is_empty() {
        return Err(scanner.unexpected(&format!("an operator (one of {OPERATOR_NAMES})")));
    }
    let Some(operator) = OPERATORS.into_iter().find(|operator| operator.name() == name) else {
        let message = format!("unknown operator '{name}' (expected one of {OPERATOR_NAMES})");
        return Err(scanner.error_at(start, name, message));
    };
    // `like(any).{a*,b*}`: the comparison with each value, joined by or (any) or and (all).
    let modifier = if scanner.eat_str("(any)") {
        Some(true)
    } else if scanner.eat_str("(all)") {
        Some(false)
    } else {
        None
    };
    if let Some(any) = modifier {
        let written = format!("{name}({})", if any { "any" } else { "all" });
        if matches!(operator, Operator::In | Operator::Is | Operator::Neq | Operator::Isdistinct) {
            let message =
                format!("'{written}': (any) and (all) apply to eq, gt, gte, lt, lte, like, ilike, match and imatch");
            return Err(scanner.error_at(start, &written, message));
        }
        if !scanner.eat('.') {
            return Err(scanner.unexpected(&format!("'.' and a {{list}} after '{written}'")));
        }
        let items = parse_delimited(scanner, place, ('{', '}'), &written)?;
        if items.is_empty() {
            return Err(scanner.error_at(start, &written, format!("'{written}' needs at least one value in {{…}}")));
        }
        let comparisons: Vec<Condition> = items
            .into_iter()
            .map(|item| Condition::Compare { column: column.clone(), operator, value: Value::Text(item) })
            .collect();
        let combined = if any { Condition::Or(comparisons) } else { Condition::And(comparisons) };
        return Ok(if negated { Condition::Not(Box::new(combined)) } else { combined });
    }
    if !scanner.eat('.') {
        return Err(scanner.unexpected(&format!("'.' and a value after operator '{name}'")));
    }
    let value = match (operator, place) {
        (Operator::In, _) => Value::List(parse_list(scanner, place)?),
        (Operator::Is, _) => {
            let start = scanner.position();
            let word = match place {
                Place::Parameter => scanner.take_rest(),
                Place::LogicTree => logic_value(scanner)?,
            };
            is_value(scanner, &word, start)?
        }
        (_, Place::Parameter) => Value::Text(scanner.take_rest()),
        (_, Place::LogicTree) => Value::Text(logic_value(scanner)?),
    };
    let comparison = Condition::Compare { column, operator, value };
    Ok(if negated { Condition::Not(Box::new(comparison)) } else { comparison })
}

fn is_value(scanner: &Scanner<'_>, word: &str, start: usize) -> Result<Value, GrammarError> {
    if word.eq_ignore_ascii_case("null") {
        Ok(Value::Null)
    } else if word.eq_ignore_ascii_case("true") {
        Ok(Value::Boolean(true))
    } else if word.eq_ignore_ascii_case("false") {
        Ok(Value::Boolean(false))
    } else {
        let found = if word.is_empty() { "end of value".to_owned() } else { format!("'{word}'") };
        Err(scanner.error_at(start, word, format!("expected null, true or false after 'is.', found {found}")))
    }
}

/// A value inside a logic tree: quoted (and unquoted here), or raw up to `,` or `)`.
fn logic_value(scanner: &mut Scanner<'_>) -> Result<String, GrammarError> {
    if scanner.peek() != Some('"') {
        return Ok(scanner.take_while(|character| character != ',' && character != ')'));
    }
    let value = scanner.quoted()?;
    if !matches!(scanner.peek(), None | Some(',' | ')')) {
        return Err(scanner.unexpected("',' or ')' after a quoted value"));
    }
    Ok(value)
}

/// `(item,item,…)` after `in.`; unquoted items are kept as written, spaces included.
fn parse_list(scanner: &mut Scanner<'_>, place: Place) -> Result<Vec<String>, GrammarError> {
    parse_delimited(scanner, place, ('(', ')'), "in")
}

/// A list between `open` and `close` (`(…)` after `in.`, `{…}` after `like(any).`), items
/// separated by `,`, each raw or double-quoted; `owner` names what it belongs to in
/// messages.
fn parse_delimited(
    scanner: &mut Scanner<'_>,
    place: Place,
    (open, close): (char, char),
    owner: &str,
) -> Result<Vec<String>, GrammarError> {
    let opening = scanner.position();
    if !scanner.eat(open) {
        return Err(scanner.unexpected(&format!("'{open}' to open the list of '{owner}'")));
    }
    let mut items = Vec::new();
    // `in.()` is an empty list (it matches nothing), not a list of one empty item.
    if !scanner.eat(close) {
        loop {
            let item = if scanner.peek() == Some('"') {
                let item = scanner.quoted()?;
                if scanner.peek().is_some_and(|character| character != ',' && character != close) {
                    return Err(
                        scanner.unexpected(&format!("',' or '{close}' after a quoted item of the '{owner}' list"))
                    );
                }
                item
            } else {
                scanner.take_while(|character| character != ',' && character != close)
            };
            items.push(item);
            if scanner.eat(close) {
                break;
            }
            if !scanner.eat(',') {
                let expected = format!("'{close}' to close the list of '{owner}' opened at character {opening}");
                return Err(scanner.unexpected(&expected));
            }
        }
    }
    if place == Place::Parameter && !scanner.at_end() {
        return Err(scanner.unexpected(&format!("end of text after the list of '{owner}'")));
    }
    Ok(items)
}

/// `(condition,condition,…)` with the cursor on `(`; `keyword` names the group in messages.
fn parse_group(scanner: &mut Scanner<'_>, depth: usize, keyword: &str) -> Result<Vec<Condition>, GrammarError> {
    let opening = scanner.position();
    if !scanner.eat('(') {
        return Err(scanner.unexpected(&format!("'(' to open the conditions of '{keyword}'")));
    }
    if depth > MAX_NESTING_DEPTH {
        let message = format!("logic conditions are nested deeper than {MAX_NESTING_DEPTH} levels");
        return Err(scanner.error_at(opening, "(", message));
    }
    let mut conditions = Vec::new();
    loop {
        conditions.push(parse_condition(scanner, depth)?);
        match scanner.peek() {
            Some(',') => {
                scanner.advance();
            }
            Some(')') => {
                scanner.advance();
                return Ok(conditions);
            }
            None => {
                let expected = format!("')' to close '{keyword}(' opened at character {opening}");
                return Err(scanner.unexpected(&expected));
            }
            Some(_) => return Err(scanner.unexpected("',' or ')' after a condition")),
        }
    }
}

/// `column.[not.]operator.value`, `or(…)`, `and(…)`, `not.or(…)`, `not.and(…)`, or
/// `not.column.operator.value`.
fn parse_condition(scanner: &mut Scanner<'_>, depth: usize) -> Result<Condition, GrammarError> {
    scanner.skip_whitespace();
    let start = scanner.position();
    let word =
        scanner.take_while(|character| !matches!(character, '.' | ',' | '(' | ')') && !character.is_whitespace());
    if word == "not" {
        if let Some(keyword) = ["or", "and"].into_iter().find(|keyword| scanner.starts_with(&format!(".{keyword}("))) {
            scanner.advance();
            scanner.eat_str(keyword);
            let conditions = parse_group(scanner, depth + 1, keyword)?;
            let group = if keyword == "or" { Condition::Or(conditions) } else { Condition::And(conditions) };
            return Ok(Condition::Not(Box::new(group)));
        }
        // PostgREST reads `not.eq.1` as the column "not"; a `not.` that is not followed by
        // an operator can only negate the condition after it, as in `not.d.is.null`.
        if scanner.peek() == Some('.') && !operator_follows(scanner) {
            if depth >= MAX_NESTING_DEPTH {
                let message = format!("logic conditions are nested deeper than {MAX_NESTING_DEPTH} levels");
                return Err(scanner.error_at(start, word, message));
            }
            scanner.advance();
            let negated = parse_condition(scanner, depth + 1)?;
            return Ok(Condition::Not(Box::new(negated)));
        }
    }
    match word.as_str() {
        "or" | "and" if scanner.peek() == Some('(') => {
            let conditions = parse_group(scanner, depth + 1, &word)?;
            return Ok(if word == "or" { Condition::Or(conditions) } else { Condition::And(conditions) });
        }
        "" => {
            return Err(scanner.unexpected("a condition (column.operator.value, or(...), and(...))"));
        }
        _ => {}
    }
    check_name(scanner, &word, start, "column")?;
    if !scanner.eat('.') {
        return Err(scanner.unexpected(&format!("'.' and an operator after column '{word}'")));
    }
    parse_operation(scanner, word, Place::LogicTree)
}

/// Whether the cursor, on a `.`, is followed by an operator name and its `.`.
fn operator_follows(scanner: &Scanner<'_>) -> bool {
    OPERATORS.into_iter().any(|operator| scanner.starts_with(&format!(".{}.", operator.name())))
}
