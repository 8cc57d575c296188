//! Media types in `Content-Type` and `Accept`, parsed as RFC 9110 §8.3.1 says: the type
//! and subtype are case-insensitive, parameters follow `;` (`charset=utf-8`), and a type
//! is matched whole, never by prefix (`application/jsonx` is not JSON).

use axum::http::{HeaderMap, header};

/// The media type PostgREST clients send to ask for one object instead of an array.
pub const SINGLE_OBJECT: &str = "application/vnd.pgrst.object+json";

/// PostgREST's shorter spelling of [`SINGLE_OBJECT`], which its documentation uses too.
const SINGLE_OBJECT_SHORT: &str = "application/vnd.pgrst.object";

/// One media type: `type/subtype` lowercased, and its parameters (names lowercased, values
/// unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    pub essence: String,
    pub parameters: Vec<(String, String)>,
}

impl MediaType {
    /// Parses `type/subtype; name=value; …`; `None` without a `/` in the first part.
    pub fn parse(text: &str) -> Option<MediaType> {
        let mut parts = text.split(';');
        let essence = parts.next()?.trim().to_ascii_lowercase();
        let (kind, subtype) = essence.split_once('/')?;
        if kind.is_empty() || subtype.is_empty() || subtype.contains('/') {
            return None;
        }
        let parameters = parts
            .filter_map(|parameter| {
                let (name, value) = parameter.split_once('=')?;
                let value = value.trim();
                let value = value.strip_prefix('"').and_then(|value| value.strip_suffix('"')).unwrap_or(value);
                Some((name.trim().to_ascii_lowercase(), value.to_owned()))
            })
            .collect();
        Some(MediaType { essence, parameters })
    }

    /// A parameter's value, by case-insensitive name.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Whether any `Accept` header lists the single-object media type (in either PostgREST
/// spelling, any case) without refusing it by `q=0`.
pub fn accepts_single_object(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|range| {
            MediaType::parse(range).is_some_and(|media_type| {
                (media_type.essence == SINGLE_OBJECT || media_type.essence == SINGLE_OBJECT_SHORT)
                    && media_type.parameter("q").is_none_or(|quality| quality.parse::<f32>().map_or(true, |q| q > 0.0))
            })
        })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn parses_case_insensitively_with_parameters() {
        let media_type = MediaType::parse(" Application/JSON ; Charset=\"UTF-8\"; boundary=x").unwrap();
        assert_eq!(media_type.essence, "application/json");
        assert_eq!(media_type.parameter("charset"), Some("UTF-8"));
        assert_eq!(MediaType::parse("application/jsonx").unwrap().essence, "application/jsonx");
        assert_eq!(MediaType::parse("json"), None);
        assert_eq!(MediaType::parse("application/"), None);
    }

    #[test]
    fn single_object_is_matched_whole_and_in_any_case() {
        let accepts = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_static(value));
            accepts_single_object(&headers)
        };
        assert!(accepts("application/vnd.pgrst.object+json"));
        assert!(accepts("Application/Vnd.PGRST.Object+JSON; charset=utf-8"));
        assert!(accepts("text/html, application/vnd.pgrst.object"));
        assert!(!accepts("application/vnd.pgrst.object+jsonx"));
        assert!(!accepts("application/json"));
        assert!(!accepts("application/vnd.pgrst.object+json;q=0"));
    }
}
