//! The predicate language of partial-index `where` clauses and of role rules.
//!
//! A deliberately small subset of SQL, parsed so that every column is checked against the
//! schema and the predicate can be rendered for each dialect:
//!
//! ```text
//! expr    := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | "(" expr ")" | compare
//! compare := column op operand | column "is" ["not"] "null" | column ["not"] "in" "(" literal, ... ")"
//! op      := = | <> | != | < | <= | > | >=
//! operand := literal | user
//! literal := 'text' | number | true | false | null
//! user    := "$user" | "$user.id" | "$user.role" | "$user.claims." name ("." name)*
//! ```
//!
//! `$user…` names a value of the caller's (role rules only; a partial index refuses it).

use serde::{Deserialize, Serialize};

use crate::dialect::Dialect;
use crate::model::Literal;

/// A parsed predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Predicate {
    And(Vec<Predicate>),
    Or(Vec<Predicate>),
    Not(Box<Predicate>),
    Compare {
        column: String,
        operator: CompareOperator,
        value: Literal,
    },
    /// `column op $user…`: compared with a value of the caller's, known per request.
    CompareUser {
        column: String,
        operator: CompareOperator,
        value: UserValue,
    },
    IsNull {
        column: String,
        negated: bool,
    },
    In {
        column: String,
        values: Vec<Literal>,
        negated: bool,
    },
}

/// A value of the caller's that a role rule reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UserValue {
    /// `$user` or `$user.id`: the caller's user id (null for anonymous callers and API keys).
    Id,
    /// `$user.role`: the role the caller acts in.
    Role,
    /// `$user.claims.a.b`: a claim of the caller's token, by its path.
    Claim(Vec<String>),
}

impl UserValue {
    /// Reads `$user`, `$user.id`, `$user.role` or `$user.claims.…`.
    pub fn parse(text: &str) -> Option<UserValue> {
        match text {
            "$user" | "$user.id" => Some(UserValue::Id),
            "$user.role" => Some(UserValue::Role),
            _ => {
                let path = text.strip_prefix("$user.claims.")?;
                let parts: Vec<String> = path.split('.').map(str::to_owned).collect();
                parts.iter().all(|part| !part.is_empty()).then_some(UserValue::Claim(parts))
            }
        }
    }

    /// As written in a rule.
    pub fn text(&self) -> String {
        match self {
            UserValue::Id => "$user.id".to_owned(),
            UserValue::Role => "$user.role".to_owned(),
            UserValue::Claim(path) => format!("$user.claims.{}", path.join(".")),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareOperator {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl CompareOperator {
    pub fn sql(self) -> &'static str {
        match self {
            CompareOperator::Equal => "=",
            CompareOperator::NotEqual => "<>",
            CompareOperator::Less => "<",
            CompareOperator::LessOrEqual => "<=",
            CompareOperator::Greater => ">",
            CompareOperator::GreaterOrEqual => ">=",
        }
    }
}

/// Why a predicate did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at character {position}")]
pub struct PredicateError {
    pub message: String,
    /// 0-based character offset into the predicate text.
    pub position: usize,
}

impl Predicate {
    /// Parses predicate text.
    pub fn parse(text: &str) -> Result<Predicate, PredicateError> {
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens, next: 0, end: text.chars().count() };
        let predicate = parser.expression(0)?;
        match parser.peek() {
            None => Ok(predicate),
            Some((token, position)) => {
                Err(PredicateError { message: format!("unexpected {}", token.describe()), position })
            }
        }
    }

    /// Calls `visit` with every column and its literal operand (`None` for `is null`), letting
    /// it replace the literal with a canonical form.
    pub fn for_each_operand_mut(&mut self, visit: &mut impl FnMut(&str, Option<&mut Literal>)) {
        match self {
            Predicate::And(parts) | Predicate::Or(parts) => {
                parts.iter_mut().for_each(|part| part.for_each_operand_mut(visit))
            }
            Predicate::Not(inner) => inner.for_each_operand_mut(visit),
            Predicate::Compare { column, value, .. } => visit(column, Some(value)),
            Predicate::CompareUser { column, .. } | Predicate::IsNull { column, .. } => visit(column, None),
            Predicate::In { column, values, .. } => values.iter_mut().for_each(|value| visit(column, Some(value))),
        }
    }

    /// The caller's values the predicate reads, each once, in order of appearance.
    pub fn user_values(&self) -> Vec<UserValue> {
        let mut found = Vec::new();
        self.collect_user_values(&mut found);
        found
    }

    fn collect_user_values(&self, found: &mut Vec<UserValue>) {
        match self {
            Predicate::And(parts) | Predicate::Or(parts) => {
                parts.iter().for_each(|part| part.collect_user_values(found))
            }
            Predicate::Not(inner) => inner.collect_user_values(found),
            Predicate::CompareUser { value, .. } if !found.contains(value) => found.push(value.clone()),
            _ => {}
        }
    }

    /// The predicate as SQL with inlined literals (for DDL). A `$user` comparison, which
    /// validation keeps out of DDL, renders as false.
    pub fn to_sql(&self, dialect: Dialect) -> String {
        match self {
            Predicate::And(parts) => join(parts, " AND ", dialect),
            Predicate::Or(parts) => join(parts, " OR ", dialect),
            Predicate::Not(inner) => format!("NOT ({})", inner.to_sql(dialect)),
            Predicate::Compare { column, operator, value } => {
                format!("{} {} {}", dialect.quote(column), operator.sql(), dialect.literal(value))
            }
            Predicate::CompareUser { .. } => "1 = 0".to_owned(),
            Predicate::IsNull { column, negated } => {
                format!("{} IS {}NULL", dialect.quote(column), if *negated { "NOT " } else { "" })
            }
            Predicate::In { column, values, negated } => {
                let list: Vec<String> = values.iter().map(|value| dialect.literal(value)).collect();
                format!("{} {}IN ({})", dialect.quote(column), if *negated { "NOT " } else { "" }, list.join(", "))
            }
        }
    }
}

fn join(parts: &[Predicate], separator: &str, dialect: Dialect) -> String {
    let rendered: Vec<String> = parts.iter().map(|part| format!("({})", part.to_sql(dialect))).collect();
    rendered.join(separator)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Number(String),
    Symbol(&'static str),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Word(word) => format!("'{word}'"),
            Token::Text(text) => format!("string '{text}'"),
            Token::Number(number) => format!("number {number}"),
            Token::Symbol(symbol) => format!("'{symbol}'"),
        }
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self, Token::Word(word) if word.eq_ignore_ascii_case(keyword))
    }
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, PredicateError> {
    let characters: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < characters.len() {
        let character = characters[index];
        let start = index;
        if character.is_whitespace() {
            index += 1;
        } else if character.is_ascii_alphabetic() || character == '_' || character == '$' {
            // `$user.claims.org` is one word: dots join the parts of a caller's value.
            let dotted = character == '$';
            while index < characters.len()
                && (characters[index].is_ascii_alphanumeric()
                    || matches!(characters[index], '_' | '$')
                    || (dotted && characters[index] == '.'))
            {
                index += 1;
            }
            tokens.push((Token::Word(characters[start..index].iter().collect()), start));
        } else if character.is_ascii_digit()
            || (character == '-' && characters.get(index + 1).is_some_and(|next| next.is_ascii_digit()))
        {
            index += 1;
            while index < characters.len() && (characters[index].is_ascii_digit() || characters[index] == '.') {
                index += 1;
            }
            tokens.push((Token::Number(characters[start..index].iter().collect()), start));
        } else if character == '\'' {
            let mut value = String::new();
            index += 1;
            loop {
                match characters.get(index) {
                    None => {
                        return Err(PredicateError { message: "unterminated string".into(), position: start });
                    }
                    Some('\'') if characters.get(index + 1) == Some(&'\'') => {
                        value.push('\'');
                        index += 2;
                    }
                    Some('\'') => {
                        index += 1;
                        break;
                    }
                    Some(other) => {
                        value.push(*other);
                        index += 1;
                    }
                }
            }
            tokens.push((Token::Text(value), start));
        } else {
            let two: String = characters[index..characters.len().min(index + 2)].iter().collect();
            let symbol = match two.as_str() {
                "<>" => Some("<>"),
                "!=" => Some("!="),
                "<=" => Some("<="),
                ">=" => Some(">="),
                _ => None,
            };
            if let Some(symbol) = symbol {
                tokens.push((Token::Symbol(symbol), start));
                index += 2;
                continue;
            }
            let symbol = match character {
                '=' => "=",
                '<' => "<",
                '>' => ">",
                '(' => "(",
                ')' => ")",
                ',' => ",",
                other => {
                    return Err(PredicateError { message: format!("unexpected character '{other}'"), position: start });
                }
            };
            tokens.push((Token::Symbol(symbol), start));
            index += 1;
        }
    }
    Ok(tokens)
}

/// Deepest nesting of parentheses and `not` accepted, so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 32;

struct Parser {
    tokens: Vec<(Token, usize)>,
    next: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<(Token, usize)> {
        self.tokens.get(self.next).cloned()
    }

    fn advance(&mut self) -> Option<(Token, usize)> {
        let token = self.peek();
        self.next += 1;
        token
    }

    fn error_here(&self, message: impl Into<String>) -> PredicateError {
        let position = self.tokens.get(self.next).map_or(self.end, |(_, position)| *position);
        PredicateError { message: message.into(), position }
    }

    fn expression(&mut self, depth: usize) -> Result<Predicate, PredicateError> {
        if depth > MAX_DEPTH {
            return Err(self.error_here("predicate nested too deeply"));
        }
        let mut alternatives = vec![self.conjunction(depth)?];
        while self.peek().is_some_and(|(token, _)| token.is_keyword("or")) {
            self.advance();
            alternatives.push(self.conjunction(depth)?);
        }
        Ok(if alternatives.len() == 1 { alternatives.remove(0) } else { Predicate::Or(alternatives) })
    }

    fn conjunction(&mut self, depth: usize) -> Result<Predicate, PredicateError> {
        let mut parts = vec![self.unary(depth)?];
        while self.peek().is_some_and(|(token, _)| token.is_keyword("and")) {
            self.advance();
            parts.push(self.unary(depth)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Predicate::And(parts) })
    }

    fn unary(&mut self, depth: usize) -> Result<Predicate, PredicateError> {
        match self.peek() {
            Some((token, _)) if token.is_keyword("not") => {
                self.advance();
                if depth + 1 > MAX_DEPTH {
                    return Err(self.error_here("predicate nested too deeply"));
                }
                Ok(Predicate::Not(Box::new(self.unary(depth + 1)?)))
            }
            Some((Token::Symbol("("), _)) => {
                self.advance();
                let inner = self.expression(depth + 1)?;
                self.expect_symbol(")")?;
                Ok(inner)
            }
            _ => self.comparison(),
        }
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<(), PredicateError> {
        match self.peek() {
            Some((Token::Symbol(found), _)) if found == symbol => {
                self.advance();
                Ok(())
            }
            Some((token, _)) => Err(self.error_here(format!("expected '{symbol}', found {}", token.describe()))),
            None => Err(self.error_here(format!("expected '{symbol}', found the end"))),
        }
    }

    fn comparison(&mut self) -> Result<Predicate, PredicateError> {
        let column = match self.peek() {
            Some((Token::Word(word), _)) if word.starts_with('$') => {
                return Err(self.error_here(format!(
                    "expected a column name, found '{word}' (a caller's value goes on the right)"
                )));
            }
            Some((Token::Word(word), _)) if !is_reserved_word(&word) => {
                self.advance();
                word
            }
            Some((token, _)) => {
                return Err(self.error_here(format!("expected a column name, found {}", token.describe())));
            }
            None => return Err(self.error_here("expected a column name, found the end")),
        };
        match self.advance() {
            Some((token, _)) if token.is_keyword("is") => {
                let negated = self.peek().is_some_and(|(token, _)| token.is_keyword("not"));
                if negated {
                    self.advance();
                }
                match self.peek() {
                    Some((token, _)) if token.is_keyword("null") => {
                        self.advance();
                        Ok(Predicate::IsNull { column, negated })
                    }
                    _ => Err(self.error_here("expected 'null' after 'is'")),
                }
            }
            Some((token, _)) if token.is_keyword("not") || token.is_keyword("in") => {
                let negated = token.is_keyword("not");
                if negated {
                    match self.advance() {
                        Some((token, _)) if token.is_keyword("in") => {}
                        _ => {
                            self.next -= 1;
                            return Err(self.error_here("expected 'in' after 'not'"));
                        }
                    }
                }
                self.expect_symbol("(")?;
                let mut values = vec![self.literal()?];
                while matches!(self.peek(), Some((Token::Symbol(","), _))) {
                    self.advance();
                    values.push(self.literal()?);
                }
                self.expect_symbol(")")?;
                Ok(Predicate::In { column, values, negated })
            }
            Some((Token::Symbol(symbol), _)) => {
                let operator = match symbol {
                    "=" => CompareOperator::Equal,
                    "<>" | "!=" => CompareOperator::NotEqual,
                    "<" => CompareOperator::Less,
                    "<=" => CompareOperator::LessOrEqual,
                    ">" => CompareOperator::Greater,
                    ">=" => CompareOperator::GreaterOrEqual,
                    other => {
                        self.next -= 1;
                        return Err(self.error_here(format!("expected an operator, found '{other}'")));
                    }
                };
                if let Some((Token::Word(word), _)) = self.peek()
                    && word.starts_with('$')
                {
                    let Some(value) = UserValue::parse(&word) else {
                        return Err(self.error_here(format!(
                            "unknown caller value '{word}': use $user.id, $user.role or $user.claims.NAME"
                        )));
                    };
                    self.advance();
                    return Ok(Predicate::CompareUser { column, operator, value });
                }
                let value = self.literal()?;
                Ok(Predicate::Compare { column, operator, value })
            }
            Some((token, _)) => {
                self.next -= 1;
                Err(self.error_here(format!("expected an operator after '{column}', found {}", token.describe())))
            }
            None => Err(self.error_here(format!("expected an operator after '{column}', found the end"))),
        }
    }

    fn literal(&mut self) -> Result<Literal, PredicateError> {
        match self.peek() {
            Some((Token::Text(text), _)) => {
                self.advance();
                Ok(Literal::Text(text))
            }
            Some((Token::Number(number), _)) => {
                let literal = if let Ok(integer) = number.parse::<i64>() {
                    Literal::Integer(integer)
                } else if let Ok(float) = number.parse::<f64>() {
                    Literal::Float(float)
                } else {
                    return Err(self.error_here(format!("'{number}' is not a number")));
                };
                self.advance();
                Ok(literal)
            }
            Some((token, _)) if token.is_keyword("true") => {
                self.advance();
                Ok(Literal::Boolean(true))
            }
            Some((token, _)) if token.is_keyword("false") => {
                self.advance();
                Ok(Literal::Boolean(false))
            }
            Some((token, _)) if token.is_keyword("null") => {
                self.advance();
                Ok(Literal::Null)
            }
            Some((token, _)) => Err(self.error_here(format!("expected a value, found {}", token.describe()))),
            None => Err(self.error_here("expected a value, found the end")),
        }
    }
}

fn is_reserved_word(word: &str) -> bool {
    ["and", "or", "not", "is", "in", "null", "true", "false"].iter().any(|reserved| word.eq_ignore_ascii_case(reserved))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders() {
        let predicate =
            Predicate::parse("production_status <> 'completed' and (priority >= 2 or due_date is not null)").unwrap();
        assert_eq!(
            predicate.to_sql(Dialect::Sqlite),
            "(\"production_status\" <> 'completed') AND ((\"priority\" >= 2) OR (\"due_date\" IS NOT NULL))"
        );
        let predicate = Predicate::parse("kind not in ('a', 'b''c')").unwrap();
        assert_eq!(predicate.to_sql(Dialect::Postgres), "\"kind\" NOT IN ('a', 'b''c')");
    }

    #[test]
    fn reports_position_of_errors() {
        let error = Predicate::parse("status = ").unwrap_err();
        assert!(error.message.contains("expected a value"), "{error}");
        let error = Predicate::parse("status == 'x'").unwrap_err();
        assert_eq!(error.position, 8, "{error}");
        let error = Predicate::parse("status = 'x' extra").unwrap_err();
        assert!(error.message.contains("unexpected 'extra'"), "{error}");
        let error = Predicate::parse("a = 1; drop table x").unwrap_err();
        assert!(error.message.contains("unexpected character ';'"), "{error}");
    }

    #[test]
    fn reads_caller_values() {
        let predicate = Predicate::parse("owner_id = $user or (team = $user.claims.org.team and $x = 1)");
        assert!(predicate.is_err(), "a $-word is no column");
        let predicate =
            Predicate::parse("owner_id = $user or reviewer_id = $user.id or team = $user.claims.org.team").unwrap();
        assert_eq!(predicate.user_values(), vec![UserValue::Id, UserValue::Claim(vec!["org".into(), "team".into()])]);
        let error = Predicate::parse("owner_id = $user.name").unwrap_err();
        assert!(error.message.contains("unknown caller value '$user.name'"), "{error}");
        assert!(Predicate::parse("owner_id = $user.claims.").is_err());
    }

    #[test]
    fn refuses_deep_nesting() {
        let text = format!("{}a = 1{}", "(".repeat(100), ")".repeat(100));
        assert!(Predicate::parse(&text).unwrap_err().message.contains("too deeply"));
    }
}
