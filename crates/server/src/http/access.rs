//! The caller's access scope as an extractor: the [`Caller`] the identity middleware put
//! on the request (anonymous when there is none), bound to its role's compiled rules.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use oxbase_access::Caller;

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::service::Scope;

/// What the caller may see and do, for a handler to pass to the service.
pub struct Access(pub Scope);

impl FromRequestParts<AppState> for Access {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Access, ApiError> {
        let anonymous;
        let caller = match parts.extensions.get::<Caller>() {
            Some(caller) => caller,
            None => {
                anonymous = Caller::anonymous();
                &anonymous
            }
        };
        Ok(Access(state.0.permissions.scope(caller)?))
    }
}
