//! Keyset cursors: the position after the last row of a page, opaque and tamper-evident.
//!
//! A cursor is `base64url(values) "." base64url(mac)`, where `values` is the JSON array of
//! the last row's order-term values (ending with its primary key) and `mac` an
//! HMAC-SHA256 over the query's scope (resource, filters, order) and the values, with a
//! server secret. A changed byte, or a cursor from another query, fails the MAC.
//!
//! During a secret rotation the key also holds the previous secret: cursors are signed with
//! the current one, and a cursor signed with either verifies, so pages handed out before the
//! rotation keep working while instances move to the new secret.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use oxbase_schema::model::Literal;
use sha2::Sha256;

use crate::error::{QueryError, QueryErrorKind};

/// Bytes of the MAC kept in a cursor (128 bits).
const MAC_BYTES: usize = 16;

/// The server secret cursors are signed with, and the one before it during a rotation.
#[derive(Clone)]
pub struct CursorKey {
    current: Vec<u8>,
    previous: Option<Vec<u8>>,
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("CursorKey(…)")
    }
}

impl CursorKey {
    /// A key from secret bytes.
    pub fn new(secret: impl Into<Vec<u8>>) -> CursorKey {
        CursorKey { current: secret.into(), previous: None }
    }

    /// The same key, also accepting cursors signed with `previous` (never signing with it).
    pub fn with_previous(self, previous: impl Into<Vec<u8>>) -> CursorKey {
        CursorKey { previous: Some(previous.into()), ..self }
    }

    fn mac(secret: &[u8], scope: &str, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(&(scope.len() as u64).to_le_bytes());
        mac.update(scope.as_bytes());
        mac.update(payload);
        mac
    }

    /// The cursor for the position after a row with these order-term values.
    pub fn encode(&self, scope: &str, values: &[Literal]) -> String {
        let json: Vec<serde_json::Value> = values.iter().map(literal_to_json).collect();
        let payload = serde_json::to_vec(&json).expect("literals serialise");
        let tag = CursorKey::mac(&self.current, scope, &payload).finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(&tag[..MAC_BYTES]))
    }

    /// The values in a cursor, if it was made by this key for this scope.
    pub fn decode(&self, scope: &str, cursor: &str, expected_values: usize) -> Result<Vec<Literal>, QueryError> {
        let invalid = |why: &str| {
            QueryError::new(QueryErrorKind::InvalidCursor, format!("invalid cursor: {why}"))
                .parameter("after")
                .hint("use the cursor from the Link header of the previous page, with the same filters and order")
        };
        let (payload, tag) = cursor.split_once('.').ok_or_else(|| invalid("malformed"))?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid("malformed"))?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid("malformed"))?;
        let signed_with = |secret: &[u8]| CursorKey::mac(secret, scope, &payload).verify_truncated_left(&tag).is_ok();
        if !signed_with(&self.current) && !self.previous.as_deref().is_some_and(signed_with) {
            return Err(invalid("it was altered, or belongs to another query or server"));
        }
        let json: Vec<serde_json::Value> = serde_json::from_slice(&payload).map_err(|_| invalid("malformed"))?;
        if json.len() != expected_values || tag.len() != MAC_BYTES {
            return Err(invalid("it belongs to another query"));
        }
        json.into_iter().map(|value| json_to_literal(value).ok_or_else(|| invalid("malformed"))).collect()
    }
}

fn literal_to_json(literal: &Literal) -> serde_json::Value {
    match literal {
        Literal::Null => serde_json::Value::Null,
        Literal::Boolean(flag) => (*flag).into(),
        Literal::Integer(number) => (*number).into(),
        Literal::Float(number) => {
            serde_json::Number::from_f64(*number).map_or(serde_json::Value::Null, serde_json::Value::Number)
        }
        Literal::Text(text) => text.clone().into(),
    }
}

fn json_to_literal(value: serde_json::Value) -> Option<Literal> {
    Some(match value {
        serde_json::Value::Null => Literal::Null,
        serde_json::Value::Bool(flag) => Literal::Boolean(flag),
        serde_json::Value::Number(number) => match number.as_i64() {
            Some(integer) => Literal::Integer(integer),
            None => Literal::Float(number.as_f64()?),
        },
        serde_json::Value::String(text) => Literal::Text(text),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_tampering() {
        let key = CursorKey::new(b"secret".to_vec());
        let values = vec![Literal::Text("2025-01-01".into()), Literal::Null, Literal::Integer(42)];
        let cursor = key.encode("trackers|order", &values);
        assert_eq!(key.decode("trackers|order", &cursor, 3).unwrap(), values);
        assert_eq!(key.decode("trackers|other", &cursor, 3).unwrap_err().kind, QueryErrorKind::InvalidCursor);
        assert!(CursorKey::new(b"other".to_vec()).decode("trackers|order", &cursor, 3).is_err());
        let mut tampered = cursor.clone().into_bytes();
        tampered[3] ^= 1;
        assert!(key.decode("trackers|order", &String::from_utf8_lossy(&tampered), 3).is_err());
        assert!(key.decode("trackers|order", "garbage", 3).is_err());
    }

    #[test]
    fn a_rotated_key_signs_with_the_current_secret_and_still_verifies_the_previous_one() {
        let values = vec![Literal::Integer(7)];
        let (old, new) = (CursorKey::new(b"old".to_vec()), CursorKey::new(b"new".to_vec()));
        let rotated = CursorKey::new(b"new".to_vec()).with_previous(b"old".to_vec());
        let old_cursor = old.encode("scope", &values);
        assert_eq!(rotated.decode("scope", &old_cursor, 1).unwrap(), values, "an old cursor still works");
        let new_cursor = rotated.encode("scope", &values);
        assert_eq!(new.decode("scope", &new_cursor, 1).unwrap(), values, "new cursors use the current secret");
        assert!(old.decode("scope", &new_cursor, 1).is_err());
        assert!(new.decode("scope", &old_cursor, 1).is_err(), "without the previous secret an old cursor fails");
    }
}
