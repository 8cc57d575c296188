//! Documented responses as patterns: JSON in which `…` elides, matched against what the
//! server answered.
//!
//! - `…` as an array element stands for any number of elements (`[{"id":1},…]`);
//! - `…` as an object member stands for any other members (`{"id":2,…}`); without it an
//!   object must have exactly the documented keys (in any order);
//! - `…` inside a string, a header value or a line of plain text stands for any text;
//! - a timestamp from 2026 on (`"2026-11-23T22:39:56.985724Z"`) is one the server set
//!   while the example ran (a `created_at`, an `updated_at`): it matches any timestamp
//!   taken during the run. Earlier timestamps are the seed data's and must match exactly.
//!
//! Numbers match by value, an integer never matches a float (`2` is not `2.0`).

use serde_json::Value;

/// Where the seed data's timestamps end: later documented timestamps are "the time of the
/// request" (the seed's are all in 2023–2025).
const FIRST_GENERATED_TIMESTAMP: &str = "2026-01-01T00:00:00.000000Z";

/// One documented JSON value.
#[derive(Debug)]
pub enum Pattern {
    /// `…` as a whole value: anything.
    Any,
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Text(String),
    Array(Vec<Element>),
    /// The members, and whether `…` allows others.
    Object(Vec<(String, Pattern)>, bool),
}

/// An element of a documented array.
#[derive(Debug)]
pub enum Element {
    Elided,
    Value(Pattern),
}

/// Parses a documented JSON value; `None` when the text is not JSON (even with `…`), so it
/// is compared as text.
pub fn parse(text: &str) -> Option<Pattern> {
    let mut parser = Parser { characters: text.trim().chars().collect(), position: 0 };
    let pattern = parser.value()?;
    parser.skip_whitespace();
    (parser.position == parser.characters.len()).then_some(pattern)
}

struct Parser {
    characters: Vec<char>,
    position: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.characters.get(self.position).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.position += 1;
        }
    }

    fn eat(&mut self, expected: char) -> bool {
        self.skip_whitespace();
        let found = self.peek() == Some(expected);
        if found {
            self.position += 1;
        }
        found
    }

    fn value(&mut self) -> Option<Pattern> {
        self.skip_whitespace();
        match self.peek()? {
            '…' => {
                self.position += 1;
                Some(Pattern::Any)
            }
            '"' => self.string().map(Pattern::Text),
            '[' => self.array(),
            '{' => self.object(),
            't' => self.word("true", Pattern::Bool(true)),
            'f' => self.word("false", Pattern::Bool(false)),
            'n' => self.word("null", Pattern::Null),
            _ => self.number(),
        }
    }

    fn word(&mut self, word: &str, pattern: Pattern) -> Option<Pattern> {
        let end = self.position + word.chars().count();
        let found: String = self.characters.get(self.position..end)?.iter().collect();
        (found == word).then(|| {
            self.position = end;
            pattern
        })
    }

    fn number(&mut self) -> Option<Pattern> {
        let start = self.position;
        while self.peek().is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')) {
            self.position += 1;
        }
        let text: String = self.characters[start..self.position].iter().collect();
        serde_json::from_str(&text).ok().map(Pattern::Number)
    }

    /// A JSON string token, decoded by serde_json.
    fn string(&mut self) -> Option<String> {
        let start = self.position;
        self.position += 1;
        loop {
            match self.peek()? {
                '\\' => self.position += 2,
                '"' => break,
                _ => self.position += 1,
            }
        }
        self.position += 1;
        let token: String = self.characters[start..self.position].iter().collect();
        serde_json::from_str(&token).ok()
    }

    fn array(&mut self) -> Option<Pattern> {
        self.position += 1;
        let mut elements = Vec::new();
        if self.eat(']') {
            return Some(Pattern::Array(elements));
        }
        loop {
            self.skip_whitespace();
            elements.push(match self.peek()? {
                '…' => {
                    self.position += 1;
                    Element::Elided
                }
                _ => Element::Value(self.value()?),
            });
            if self.eat(']') {
                return Some(Pattern::Array(elements));
            }
            if !self.eat(',') {
                return None;
            }
        }
    }

    fn object(&mut self) -> Option<Pattern> {
        self.position += 1;
        let (mut members, mut open) = (Vec::new(), false);
        if self.eat('}') {
            return Some(Pattern::Object(members, open));
        }
        loop {
            self.skip_whitespace();
            if self.peek()? == '…' {
                self.position += 1;
                open = true;
            } else {
                let key = self.string()?;
                if !self.eat(':') {
                    return None;
                }
                members.push((key, self.value()?));
            }
            if self.eat('}') {
                return Some(Pattern::Object(members, open));
            }
            if !self.eat(',') {
                return None;
            }
        }
    }
}

/// What the server answered must fit what the docs show; the error names the first place
/// where it does not, as a path (`$[0].updated_at`).
pub fn check(pattern: &Pattern, value: &Value, run_started: &str, path: &str) -> Result<(), String> {
    let mismatch = || Err(format!("{path}: the docs show {}, the server answered {}", show(pattern), short(value)));
    match (pattern, value) {
        (Pattern::Any, _) => Ok(()),
        (Pattern::Null, Value::Null) => Ok(()),
        (Pattern::Bool(expected), Value::Bool(found)) if expected == found => Ok(()),
        (Pattern::Number(expected), Value::Number(found)) => {
            let same = match (expected.as_i64(), found.as_i64(), expected.as_u64(), found.as_u64()) {
                (Some(expected), Some(found), _, _) => expected == found,
                (_, _, Some(expected), Some(found)) => expected == found,
                _ => expected.is_f64() && found.is_f64() && expected.as_f64() == found.as_f64(),
            };
            if same { Ok(()) } else { mismatch() }
        }
        (Pattern::Text(expected), Value::String(found)) => {
            if text_matches(expected, found, run_started) {
                Ok(())
            } else {
                mismatch()
            }
        }
        (Pattern::Array(elements), Value::Array(values)) => {
            if elements_match(elements, values, run_started, path) {
                return Ok(());
            }
            // Without elisions, name the first element that differs.
            if elements.iter().all(|element| matches!(element, Element::Value(_))) && elements.len() == values.len() {
                for (index, (element, value)) in elements.iter().zip(values).enumerate() {
                    if let Element::Value(pattern) = element {
                        check(pattern, value, run_started, &format!("{path}[{index}]"))?;
                    }
                }
            }
            mismatch()
        }
        (Pattern::Object(members, open), Value::Object(found)) => {
            for (key, pattern) in members {
                match found.get(key) {
                    Some(value) => check(pattern, value, run_started, &format!("{path}.{key}"))?,
                    None => {
                        return Err(format!(
                            "{path}: the docs show the key {key:?}, the server answered {}",
                            short(value)
                        ));
                    }
                }
            }
            let extra: Vec<&String> =
                found.keys().filter(|key| !members.iter().any(|(documented, _)| documented == *key)).collect();
            if !open && !extra.is_empty() {
                return Err(format!(
                    "{path}: the server answered keys the docs do not show: {extra:?} (add them, or `…`)"
                ));
            }
            Ok(())
        }
        _ => mismatch(),
    }
}

fn elements_match(elements: &[Element], values: &[Value], run_started: &str, path: &str) -> bool {
    match elements.split_first() {
        None => values.is_empty(),
        Some((Element::Elided, rest)) => {
            (0..=values.len()).any(|skipped| elements_match(rest, &values[skipped..], run_started, path))
        }
        Some((Element::Value(pattern), rest)) => values.split_first().is_some_and(|(value, values)| {
            check(pattern, value, run_started, path).is_ok() && elements_match(rest, values, run_started, path)
        }),
    }
}

/// A documented string or line against the real one: `…` stands for any text, and a
/// documented timestamp from 2026 on for any timestamp taken during the run.
pub fn text_matches(expected: &str, found: &str, run_started: &str) -> bool {
    if is_timestamp(expected) && expected >= FIRST_GENERATED_TIMESTAMP {
        return is_timestamp(found) && found >= run_started;
    }
    glob(expected, found)
}

/// `2025-10-22T00:54:07.140186Z`: how oxbase writes a timestamp.
pub fn is_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 27
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            10 => *byte == b'T',
            13 | 16 => *byte == b':',
            19 => *byte == b'.',
            26 => *byte == b'Z',
            _ => byte.is_ascii_digit(),
        })
}

/// `…` in `pattern` matches any run of characters; everything else literally.
pub fn glob(pattern: &str, text: &str) -> bool {
    let mut pieces = pattern.split('…');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else { return rest.is_empty() };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

fn show(pattern: &Pattern) -> String {
    match pattern {
        Pattern::Any => "…".to_owned(),
        Pattern::Null => "null".to_owned(),
        Pattern::Bool(flag) => flag.to_string(),
        Pattern::Number(number) => number.to_string(),
        Pattern::Text(text) => format!("{text:?}"),
        Pattern::Array(elements) => format!("an array of {} documented elements", elements.len()),
        Pattern::Object(members, _) => {
            format!("an object with {:?}", members.iter().map(|(key, _)| key.as_str()).collect::<Vec<_>>())
        }
    }
}

/// A value for a message, cut to a readable length.
pub fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(400) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STARTED: &str = "2026-12-04T00:00:00.000000Z";

    fn fits(documented: &str, answered: &str) -> bool {
        let pattern = parse(documented).unwrap_or_else(|| panic!("not a pattern: {documented}"));
        check(&pattern, &serde_json::from_str(answered).unwrap(), STARTED, "$").is_ok()
    }

    #[test]
    fn elisions_in_arrays_objects_and_strings() {
        assert!(fits(r#"[{"id":1},…]"#, r#"[{"id":1},{"id":2},{"id":3}]"#));
        assert!(fits(r#"[{"id":1},…,{"id":3}]"#, r#"[{"id":1},{"id":2},{"id":3}]"#));
        assert!(!fits(r#"[{"id":1},…,{"id":4}]"#, r#"[{"id":1},{"id":2},{"id":3}]"#));
        assert!(fits(r#"{"id":2,…}"#, r#"{"id":2,"name":"x"}"#));
        assert!(!fits(r#"{"id":2}"#, r#"{"id":2,"name":"x"}"#));
        assert!(fits(r#"{"m":"known fields: …)"}"#, r#"{"m":"known fields: a, b)"}"#));
        assert!(!fits("[2]", "[2.0]"));
        assert!(fits(r#"{"a":2.95959595959596}"#, r#"{"a":2.95959595959596}"#));
    }

    #[test]
    fn timestamps_of_the_run_match_any_documented_later_timestamp() {
        assert!(fits(r#"["2026-11-23T22:39:56.985724Z"]"#, r#"["2026-12-04T03:00:00.000001Z"]"#));
        assert!(!fits(r#"["2025-10-24T05:25:07.100753Z"]"#, r#"["2026-12-04T03:00:00.000001Z"]"#));
        assert!(!fits(r#"["2026-11-23T22:39:56.985724Z"]"#, r#"["2025-10-24T05:25:07.100753Z"]"#));
    }

    #[test]
    fn plain_text_globs() {
        assert!(glob("201 /api/v1/items/…", "201 /api/v1/items/3"));
        assert!(glob(r#""…""#, r#""abc""#));
        assert!(!glob("a…b", "ab-"));
        assert!(parse("201 /api/v1/reporting_effort_items/1002").is_none());
    }
}
