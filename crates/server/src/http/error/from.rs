//! The layers' errors as [`ApiError`]s: each failure, in its own layer's terms, gets its
//! code (and so its status) and the details a client can act on.

use oxbase_access::Denied;
use oxbase_query::QueryError;
use oxbase_query::error::QueryErrorKind;
use oxbase_query::write::WriteError;
use serde_json::{Value, json};

use crate::http::error::ApiError;
use crate::http::error::codes::Code;
use crate::http::media_type::SINGLE_OBJECT;
use crate::redis_client::NotPropagated;
use crate::service::ServiceError;
use crate::service::identity::IdentityError;
use oxbase_access::identity::TokenError;
use oxbase_store::StoreError;
use oxbase_store::exec::Refusal;
use oxbase_store::write::WriteFailure;

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> ApiError {
        let code = match error.kind {
            QueryErrorKind::UnknownResource => Code::UnknownResource,
            QueryErrorKind::UnknownColumn => Code::UnknownColumn,
            QueryErrorKind::UnknownRelation => Code::UnknownRelation,
            QueryErrorKind::AmbiguousRelation => Code::AmbiguousRelation,
            QueryErrorKind::Grammar => Code::InvalidGrammar,
            QueryErrorKind::InvalidValue => Code::InvalidParameter,
            QueryErrorKind::InvalidId => Code::InvalidId,
            QueryErrorKind::UnsupportedParameter => Code::UnsupportedParameter,
            QueryErrorKind::Unsupported => Code::Unsupported,
            QueryErrorKind::LimitExceeded => Code::LimitExceeded,
            QueryErrorKind::InvalidCursor => Code::InvalidCursor,
        };
        debug_assert_eq!(code.name(), error.code(), "the query layer and the table name a kind alike");
        ApiError {
            code,
            details: error.details(),
            hint: error.hint.clone(),
            message: error.message,
            internal: None,
            retry_after: None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match &error {
            StoreError::Unavailable(_) | StoreError::ConnectionLost(_) => ApiError {
                retry_after: Some(1),
                internal: Some(error.to_string()),
                ..ApiError::new(
                    Code::DatabaseUnavailable,
                    "the database is unavailable; retry shortly",
                )
            },
            StoreError::Contention(_) => ApiError {
                retry_after: Some(1),
                internal: Some(error.to_string()),
                ..ApiError::new(
                    Code::WriteContention,
                    "the write collided with concurrent writes to the same rows and was rolled back; retry it",
                )
            },
            StoreError::TooLarge { bound, limit, message } => {
                ApiError::new(Code::LimitExceeded, message.clone())
                    .with_details(json!({ "bound": bound, "limit": limit }))
                    .with_hint(match *bound {
                        "max_embed_rows" => "limit the embedded array (e.g. comments.limit=100), filter it, or read it on its own, paged",
                        _ => "ask for fewer rows (a smaller limit, fewer or limited embeds, fewer columns), or page with a cursor",
                    })
            }
            StoreError::Unsupported(message) => {
                ApiError::new(Code::NotSupported, message.clone())
            }
            StoreError::InvalidInput(message) => ApiError::new(Code::InvalidParameter, message.clone())
                .with_hint("the pattern language is a subset common to both engines: no backreferences or lookaround"),
            StoreError::Internal(_) => ApiError {
                internal: Some(error.to_string()),
                ..ApiError::new(
                    Code::InternalError,
                    "an internal error occurred; it has been logged",
                )
            },
        }
    }
}

impl From<NotPropagated> for ApiError {
    fn from(error: NotPropagated) -> ApiError {
        ApiError {
            retry_after: Some(1),
            internal: Some(error.to_string()),
            details: json!({ "committed": true, "redis": "unavailable" }),
            hint: Some(
                "the change is saved: read it back before repeating a request that is not idempotent".to_owned(),
            ),
            ..ApiError::new(
                Code::ChangeNotPropagated,
                "the change was committed, but redis did not confirm it to the other instances' caches in time",
            )
        }
    }
}

impl ApiError {
    /// 503 before a write starts, while this instance knows Redis cannot confirm it: the
    /// write would commit and then be answered `change_not_propagated`, so it is refused
    /// first, with nothing written, and a retry is safe.
    pub fn redis_unavailable_before_write(reason: &str) -> ApiError {
        ApiError {
            retry_after: Some(1),
            internal: Some(format!("write refused before it ran: {reason}")),
            details: json!({ "committed": false, "redis": "unavailable" }),
            hint: Some("nothing was written; retry shortly".to_owned()),
            ..ApiError::new(
                Code::RedisUnavailable,
                "redis is unavailable, so a write could not be made known to the other instances' caches",
            )
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> ApiError {
        match error {
            ServiceError::Query(error) => error.into(),
            ServiceError::Invalid(error) => error.into(),
            ServiceError::Write(failure) => failure.into(),
            ServiceError::Store(error) => error.into(),
            ServiceError::NotPropagated(error) => error.into(),
            ServiceError::NotFound { resource, id } => {
                ApiError::new(Code::NotFound, format!("no {resource} with id {id}"))
                    .with_details(json!({ "resource": resource, "id": id }))
            }
            ServiceError::NotSingleObject { rows } => ApiError::new(
                Code::NotSingleObject,
                format!(
                    "expected exactly one row for {SINGLE_OBJECT}, found {}",
                    if rows > 1 { "more than one" } else { "none" }
                ),
            )
            .with_details(json!({ "rows": rows }))
            .with_hint("filter to one row (e.g. id=eq.42), or ask for application/json"),
            ServiceError::UnfilteredWrite { method, resource } => ApiError::new(
                Code::UnfilteredWrite,
                format!("{method} without a filter would change every row of '{resource}'"),
            )
            .with_details(json!({ "resource": resource }))
            .with_hint("add a filter such as ?id=eq.42, or set allow_unfiltered_writes = true on the resource"),
            ServiceError::RedisUnavailable { reason } => ApiError::redis_unavailable_before_write(&reason),
            ServiceError::Denied(denied) => denied.into(),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> ApiError {
        let message = denied.to_string();
        match denied {
            Denied::Unauthenticated => ApiError::new(Code::AuthenticationRequired, message)
                .with_hint("log in at POST /api/v1/auth/login and send Authorization: Bearer <token>"),
            Denied::Forbidden { action, resource } => {
                ApiError::new(Code::Forbidden, message).with_details(json!({ "action": action, "resource": resource }))
            }
            Denied::UnknownRole(role) => ApiError::new(Code::RoleUnknown, message)
                .with_details(json!({ "role": role }))
                .with_hint("the token's role claim must name a role of the schema's [roles]"),
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> ApiError {
        match error {
            WriteError::Query(error) => error.into(),
            WriteError::Invalid(failure) => {
                let problems: Vec<Value> = failure
                    .problems
                    .iter()
                    .map(|problem| json!({ "path": problem.path, "message": problem.message }))
                    .collect();
                let first = failure
                    .problems
                    .first()
                    .map(|problem| format!(": {} {}", problem.path, problem.message))
                    .unwrap_or_default();
                ApiError::new(Code::ValidationFailed, format!("{failure}{first}"))
                    .with_details(json!({ "problems": problems }))
                    .with_hint("nothing was written; fix every listed value and send the request again")
            }
        }
    }
}

impl From<WriteFailure> for ApiError {
    fn from(failure: WriteFailure) -> ApiError {
        match failure {
            WriteFailure::Refused(Refusal::Duplicate { message, fields }) => ApiError::new(Code::Duplicate, message)
                .with_details(json!({ "fields": fields }))
                .with_hint("nothing was written; use Prefer: resolution=merge-duplicates to update existing rows"),
            WriteFailure::Rejected { problems } => {
                let listed: Vec<Value> = problems
                    .iter()
                    .map(|problem| json!({ "path": problem.path, "message": problem.message }))
                    .collect();
                let first =
                    problems.first().map(|problem| format!("{} {}", problem.path, problem.message)).unwrap_or_default();
                ApiError::new(
                    Code::ReferenceNotFound,
                    format!("the request references rows that do not exist: {first}"),
                )
                .with_details(json!({ "problems": listed }))
                .with_hint("nothing was written")
            }
            WriteFailure::Refused(Refusal::Constraint(message)) => {
                ApiError::new(Code::ConstraintViolation, message).with_hint("nothing was written")
            }
            WriteFailure::NotSingleRow { rows } => ApiError::new(
                Code::NotSingleObject,
                format!("the write touched {rows} rows, not exactly one; nothing was written"),
            )
            .with_hint("filter the write to one row, or ask for application/json"),
            WriteFailure::DeadlinePassed => ApiError {
                retry_after: Some(1),
                ..ApiError::new(
                    Code::Timeout,
                    "the write took longer than the request timeout and was rolled back; nothing was written",
                )
            },
            WriteFailure::TooManyRows { rows, max } => ApiError::new(
                Code::MaxAffectedExceeded,
                format!("the write would change {rows} rows, more than the {max} Prefer: max-affected allows"),
            )
            .with_details(json!({ "rows": rows, "max_affected": max }))
            .with_hint("nothing was written; narrow the filter or raise max-affected"),
            WriteFailure::Refused(Refusal::KeysExhausted { message }) => ApiError::new(Code::IdsExhausted, message)
                .with_hint("nothing was written; the key's type holds no further ids"),
            WriteFailure::NotFound { message } => ApiError::new(Code::NotFound, message),
            WriteFailure::Forbidden { message } => ApiError::new(Code::RowForbidden, message),
            WriteFailure::Store(error) => error.into(),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> ApiError {
        let message = error.to_string();
        match error {
            IdentityError::NoAccounts => ApiError::new(Code::AccountsNotDeclared, message)
                .with_hint("declare [accounts] resource = \"users\" (and its password field) in the schema"),
            IdentityError::CredentialsInvalid => ApiError::new(Code::CredentialsInvalid, message),
            IdentityError::LockedOut { retry_after } => {
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                ApiError { retry_after: Some(seconds.max(1)), ..ApiError::new(Code::LoginLockedOut, message) }
                    .with_details(json!({ "retry_after_seconds": seconds.max(1) }))
            }
            IdentityError::RefreshInvalid { reason } => ApiError::new(Code::RefreshTokenInvalid, message)
                .with_details(json!({ "reason": reason }))
                .with_hint("log in again"),
            IdentityError::Token(TokenError::Expired) => {
                ApiError::new(Code::TokenExpired, message).with_hint("get a new access token from /api/v1/auth/refresh")
            }
            IdentityError::Token(TokenError::Invalid(reason)) => {
                ApiError::new(Code::TokenInvalid, message).with_details(json!({ "reason": reason.reason() }))
            }
            IdentityError::Token(TokenError::Signing(cause)) => ApiError {
                internal: Some(format!("signing an access token: {cause}")),
                ..ApiError::new(Code::InternalError, "an internal error occurred; it has been logged")
            },
            IdentityError::KeyInvalid => ApiError::new(Code::KeyInvalid, message),
            IdentityError::KeyRevoked { id } => {
                ApiError::new(Code::KeyRevoked, message).with_details(json!({ "id": id }))
            }
            IdentityError::KeyExpired { id } => {
                ApiError::new(Code::KeyExpired, message).with_details(json!({ "id": id }))
            }
            IdentityError::NotAnAccount(_) => ApiError::new(Code::Forbidden, message),
            IdentityError::Password(_) => ApiError::new(Code::ValidationFailed, message.clone())
                .with_details(json!({ "problems": [{ "path": "new_password", "message": message }] })),
            IdentityError::Invalid { field, .. } => ApiError::new(Code::ValidationFailed, message.clone())
                .with_details(json!({ "problems": [{ "path": field, "message": message }] })),
            IdentityError::KeyNotFound(id) => ApiError::new(Code::NotFound, message).with_details(json!({ "id": id })),
            IdentityError::Store(error) => error.into(),
            IdentityError::Internal(cause) => ApiError {
                internal: Some(cause),
                ..ApiError::new(Code::InternalError, "an internal error occurred; it has been logged")
            },
        }
    }
}
