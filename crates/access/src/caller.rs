//! The identity a request carries once its credentials are checked.

use oxbase_schema::model::Action;
use serde_json::Value;

/// Who is asking: the outcome of checking a request's credentials (or of finding none).
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// The role the caller acts in; `None`: anonymous (the schema's `anonymous` role, if
    /// it declares one).
    pub role: Option<String>,
    /// The caller's user id as the token or account states it (a JSON number or string);
    /// `None` for anonymous callers and API keys.
    pub user_id: Option<Value>,
    /// Everything the credential says about the caller, for rules that read `$user.claims…`:
    /// the access token's claims, or an empty object.
    pub claims: Value,
    /// An API key's own limits on top of its role, when the caller is one.
    pub key: Option<KeyScope>,
}

/// What an API key is limited to besides its role's permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyScope {
    /// The key's id (not its secret), as recorded and shown to admins.
    pub id: String,
    /// Resources the key may touch; `None`: all its role may.
    pub resources: Option<Vec<String>>,
    /// Actions the key may take; `None`: all its role may.
    pub actions: Option<Vec<Action>>,
}

impl Caller {
    /// A request without credentials.
    pub fn anonymous() -> Caller {
        Caller { role: None, user_id: None, claims: Value::Object(Default::default()), key: None }
    }
}
