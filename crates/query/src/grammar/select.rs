//! `select`: columns, aliases, aggregates and embeddings, plus the [`Scanner`] that the
//! other grammar files share.
//!
//! The scanner lives here because `mod.rs` declares one file per parameter and no module
//! of its own for lexing; `filter.rs` and `order.rs` import it from here.

use super::ast::{AggregateFunction, GrammarError, SelectItem};

#[cfg(test)]
pub(super) mod properties;
#[cfg(test)]
mod tests;

/// Longest parameter value accepted, in bytes: far above any real request, low enough that
/// a hostile one costs nothing to refuse.
pub(super) const MAX_TEXT_BYTES: usize = 16 * 1024;

/// Deepest nesting of embeddings or logic groups: the parsers recurse once per level, so
/// this bounds their stack use whatever the input.
pub(super) const MAX_NESTING_DEPTH: usize = 32;

const AGGREGATE_NAMES: &str = "count, sum, avg, min, max";

/// A cursor over the characters of one parameter value; positions are character indices,
/// so that errors point at the same place a person counting characters would.
pub(super) struct Scanner<'text> {
    text: &'text str,
    characters: Vec<char>,
    position: usize,
}

impl<'text> Scanner<'text> {
    /// Refuses values over [`MAX_TEXT_BYTES`] before looking at them.
    pub(super) fn new(text: &'text str) -> Result<Self, GrammarError> {
        if text.len() > MAX_TEXT_BYTES {
            // Keep only what fits: the error is echoed in responses and logs.
            let mut kept_bytes = MAX_TEXT_BYTES;
            while !text.is_char_boundary(kept_bytes) {
                kept_bytes -= 1;
            }
            let kept = &text[..kept_bytes];
            return Err(GrammarError {
                message: format!("text is too long: {} bytes (at most {MAX_TEXT_BYTES})", text.len()),
                token: String::new(),
                position: kept.chars().count(),
                text: format!("{kept}…"),
            });
        }
        Ok(Scanner { text, characters: text.chars().collect(), position: 0 })
    }

    pub(super) fn position(&self) -> usize {
        self.position
    }

    pub(super) fn at_end(&self) -> bool {
        self.position >= self.characters.len()
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.characters.get(self.position).copied()
    }

    pub(super) fn starts_with(&self, prefix: &str) -> bool {
        let mut rest = self.characters[self.position..].iter();
        prefix.chars().all(|expected| rest.next() == Some(&expected))
    }

    pub(super) fn advance(&mut self) -> Option<char> {
        let next = self.peek()?;
        self.position += 1;
        Some(next)
    }

    /// Consumes `expected` if it is next.
    pub(super) fn eat(&mut self, expected: char) -> bool {
        let found = self.peek() == Some(expected);
        if found {
            self.position += 1;
        }
        found
    }

    /// Consumes `prefix` if the text continues with it.
    pub(super) fn eat_str(&mut self, prefix: &str) -> bool {
        let found = self.starts_with(prefix);
        if found {
            self.position += prefix.chars().count();
        }
        found
    }

    pub(super) fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.position += 1;
        }
    }

    /// Consumes characters while `keep` holds and returns them.
    pub(super) fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.position;
        while self.peek().is_some_and(&keep) {
            self.position += 1;
        }
        self.characters[start..self.position].iter().collect()
    }

    /// Consumes everything left.
    pub(super) fn take_rest(&mut self) -> String {
        self.take_while(|_| true)
    }

    /// A double-quoted string, the opening quote next: a backslash makes the following
    /// character literal, so `\"` and `\\` stand for `"` and `\`.
    pub(super) fn quoted(&mut self) -> Result<String, GrammarError> {
        let opening = self.position;
        self.advance();
        let mut unquoted = String::new();
        loop {
            match self.advance() {
                Some('"') => return Ok(unquoted),
                Some('\\') => match self.advance() {
                    Some(escaped) => unquoted.push(escaped),
                    None => break,
                },
                Some(character) => unquoted.push(character),
                None => break,
            }
        }
        Err(self.error_at(opening, "\"", format!("unterminated quoted value opened at character {opening}")))
    }

    pub(super) fn error_at(&self, position: usize, token: impl Into<String>, message: String) -> GrammarError {
        GrammarError { message, token: token.into(), position, text: self.text.to_owned() }
    }

    /// "expected {expected}, found {what is next}", pointing at the next token.
    pub(super) fn unexpected(&self, expected: &str) -> GrammarError {
        let token = self.next_token();
        let found = if token.is_empty() { "end of text".to_owned() } else { format!("'{token}'") };
        self.error_at(self.position, token, format!("expected {expected}, found {found}"))
    }

    /// The token at the cursor, for error messages: a run of name characters, or else the
    /// single next character (empty at the end).
    fn next_token(&self) -> String {
        let run: String =
            self.characters[self.position..].iter().take_while(|character| is_name_character(**character)).collect();
        if run.is_empty() { self.peek().map(String::from).unwrap_or_default() } else { run }
    }
}

/// Whether `character` may appear in a column, alias, relation or hint name.
pub(super) fn is_name_character(character: char) -> bool {
    character.is_ascii_alphanumeric() || character == '_'
}

/// Checks that a word read up to the next delimiter is a plain name; `role` says what it
/// was read as ("column", "alias"…) for the message.
pub(super) fn check_name(scanner: &Scanner<'_>, word: &str, start: usize, role: &str) -> Result<(), GrammarError> {
    let message = if word.contains("::") {
        format!("casts ('::') are not supported: found '{word}', write the plain {role} name")
    } else if word.contains("->") {
        format!("JSON paths ('->', '->>') are not supported: found '{word}', write the plain {role} name")
    } else if word.starts_with('"') {
        format!("quoted names are not supported: found {word}, names may contain only letters, digits and '_'")
    } else if let Some(invalid) = word.chars().find(|character| !is_name_character(*character)) {
        format!("invalid character '{invalid}' in {role} '{word}': names may contain only letters, digits and '_'")
    } else {
        return Ok(());
    };
    Err(scanner.error_at(start, word, message))
}

/// The value of `select`, e.g. "id,item:items!item_id(code,title),count()".
pub fn parse_select(text: &str) -> Result<Vec<SelectItem>, GrammarError> {
    let mut scanner = Scanner::new(text)?;
    parse_items(&mut scanner, 0, None)
}

/// Where the items of an embedding began, for the error when its `)` is missing.
struct OpenEmbedding<'name> {
    relation: &'name str,
    opening: usize,
}

/// A comma-separated list of items, up to the end of text (top level) or up to, but not
/// including, the `)` that closes `embedding`.
fn parse_items(
    scanner: &mut Scanner<'_>,
    depth: usize,
    embedding: Option<&OpenEmbedding<'_>>,
) -> Result<Vec<SelectItem>, GrammarError> {
    let mut items = Vec::new();
    scanner.skip_whitespace();
    if embedding.is_some() && scanner.peek() == Some(')') {
        return Ok(items);
    }
    loop {
        items.push(parse_item(scanner, depth)?);
        scanner.skip_whitespace();
        match (scanner.peek(), embedding) {
            (Some(','), _) => {
                scanner.advance();
            }
            (None, None) | (Some(')'), Some(_)) => return Ok(items),
            (None, Some(open)) => {
                return Err(scanner.unexpected(&format!(
                    "')' to close the embedding of '{}' opened at character {}",
                    open.relation, open.opening
                )));
            }
            (Some(')'), None) => {
                return Err(scanner.error_at(
                    scanner.position(),
                    ")",
                    "unbalanced ')': no embedding is open".to_owned(),
                ));
            }
            (Some(_), None) => {
                return Err(scanner.unexpected("',' or end of text after a select item"));
            }
            (Some(_), Some(_)) => return Err(scanner.unexpected("',' or ')' after a select item")),
        }
    }
}

/// Ends a word in `select`: the grammar's own punctuation and whitespace.
fn is_select_delimiter(character: char) -> bool {
    matches!(character, ',' | '(' | ')' | ':' | '!' | '.') || character.is_whitespace()
}

/// Reads a word and checks it as a name in `role`; an empty word is an error saying what
/// `expected` there.
fn read_name(scanner: &mut Scanner<'_>, role: &str, expected: &str) -> Result<(String, usize), GrammarError> {
    scanner.skip_whitespace();
    let start = scanner.position();
    let word = scanner.take_while(|character| !is_select_delimiter(character));
    if word.is_empty() {
        return Err(scanner.unexpected(expected));
    }
    check_name(scanner, &word, start, role)?;
    Ok((word, start))
}

fn refuse_cast(scanner: &mut Scanner<'_>, after: &str) -> Result<(), GrammarError> {
    scanner.skip_whitespace();
    if scanner.starts_with("::") {
        let message = format!("casts ('::') are not supported: found '::' after '{after}'");
        return Err(scanner.error_at(scanner.position(), "::", message));
    }
    Ok(())
}

fn parse_item(scanner: &mut Scanner<'_>, depth: usize) -> Result<SelectItem, GrammarError> {
    const EXPECTED_ITEM: &str = "a column, '*', an aggregate or an embedding";
    scanner.skip_whitespace();
    if scanner.eat('*') {
        return Ok(SelectItem::Star);
    }
    let start = scanner.position();
    if scanner.peek() == Some(':') {
        return Err(scanner.error_at(start, ":", "empty alias before ':'".to_owned()));
    }
    if scanner.starts_with("...") {
        return Err(scanner.error_at(start, "...", "spread embeddings ('...') are not supported".to_owned()));
    }
    let first = scanner.take_while(|character| !is_select_delimiter(character));
    if first.is_empty() {
        return Err(scanner.unexpected(EXPECTED_ITEM));
    }
    refuse_cast(scanner, &first)?;
    let (alias, name, name_start) = if scanner.eat(':') {
        check_name(scanner, &first, start, "alias")?;
        let (name, name_start) = read_name(scanner, "column", &format!("{EXPECTED_ITEM} after '{first}:'"))?;
        refuse_cast(scanner, &name)?;
        (Some(first), name, name_start)
    } else {
        (None, first, start)
    };
    scanner.skip_whitespace();
    match scanner.peek() {
        Some('.') => {
            check_name(scanner, &name, name_start, "column")?;
            scanner.advance();
            let function = parse_aggregate_call(scanner)?;
            Ok(SelectItem::Aggregate { alias, function, column: Some(name) })
        }
        Some('!' | '(') => {
            check_name(scanner, &name, name_start, "relation")?;
            parse_embed_or_bare_aggregate(scanner, depth, alias, name, name_start)
        }
        _ => {
            check_name(scanner, &name, name_start, "column")?;
            Ok(SelectItem::Column { alias, name })
        }
    }
}

fn aggregate_named(name: &str) -> Option<AggregateFunction> {
    match name {
        "count" => Some(AggregateFunction::Count),
        "sum" => Some(AggregateFunction::Sum),
        "avg" => Some(AggregateFunction::Avg),
        "min" => Some(AggregateFunction::Min),
        "max" => Some(AggregateFunction::Max),
        _ => None,
    }
}

/// `function()` after `column.`.
fn parse_aggregate_call(scanner: &mut Scanner<'_>) -> Result<AggregateFunction, GrammarError> {
    let (name, start) =
        read_name(scanner, "aggregate function", &format!("an aggregate function ({AGGREGATE_NAMES}) after '.'"))?;
    let Some(function) = aggregate_named(&name) else {
        let message = format!("unknown aggregate function '{name}' (expected one of {AGGREGATE_NAMES})");
        return Err(scanner.error_at(start, name, message));
    };
    scanner.skip_whitespace();
    if !scanner.eat('(') {
        return Err(scanner.unexpected(&format!("'()' after aggregate function '{name}'")));
    }
    scanner.skip_whitespace();
    if !scanner.eat(')') {
        return Err(scanner.unexpected(&format!("')' after '{name}(': aggregate functions take no arguments")));
    }
    refuse_cast(scanner, &format!("{name}()"))?;
    Ok(function)
}

/// What follows a relation name: `!hint`, `!inner`, `!left`, then `(items)`. An empty
/// `count()` is the row-count aggregate rather than an embedding of a relation "count".
fn parse_embed_or_bare_aggregate(
    scanner: &mut Scanner<'_>,
    depth: usize,
    alias: Option<String>,
    relation: String,
    relation_start: usize,
) -> Result<SelectItem, GrammarError> {
    let mut hint: Option<String> = None;
    let mut join_given = false;
    let mut inner = false;
    let mut had_modifiers = false;
    while scanner.eat('!') {
        had_modifiers = true;
        let (modifier, start) = read_name(scanner, "hint", "a hint, 'inner' or 'left' after '!'")?;
        match modifier.as_str() {
            "inner" | "left" if join_given => {
                let message = format!("more than one join type ('!inner' or '!left') on the embedding of '{relation}'");
                return Err(scanner.error_at(start, modifier, message));
            }
            "inner" | "left" => {
                join_given = true;
                inner = modifier == "inner";
            }
            _ if hint.is_some() => {
                let message = format!("more than one hint on the embedding of '{relation}'");
                return Err(scanner.error_at(start, modifier, message));
            }
            _ => hint = Some(modifier),
        }
        scanner.skip_whitespace();
    }
    let opening = scanner.position();
    if !scanner.eat('(') {
        return Err(scanner.unexpected(&format!("'(' to open the embedding of '{relation}'")));
    }
    scanner.skip_whitespace();
    if !had_modifiers
        && scanner.peek() == Some(')')
        && let Some(function) = aggregate_named(&relation)
    {
        if function != AggregateFunction::Count {
            let message = format!("aggregate function '{relation}' needs a column: write 'column.{relation}()'");
            return Err(scanner.error_at(relation_start, relation, message));
        }
        scanner.advance();
        refuse_cast(scanner, "count()")?;
        return Ok(SelectItem::Aggregate { alias, function, column: None });
    }
    if depth >= MAX_NESTING_DEPTH {
        let message = format!("embeddings are nested deeper than {MAX_NESTING_DEPTH} levels");
        return Err(scanner.error_at(opening, "(", message));
    }
    let open = OpenEmbedding { relation: &relation, opening };
    let items = parse_items(scanner, depth + 1, Some(&open))?;
    scanner.advance();
    Ok(SelectItem::Embed { alias, relation, hint, inner, items })
}
