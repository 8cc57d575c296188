//! Every error code oxbase answers, in one table: its HTTP status, its category and what
//! it means. Nothing outside this file picks a status for an error; an [`ApiError`]
//! carries a [`Code`] and takes the status from here.
//!
//! [`ApiError`]: crate::http::error::ApiError

use axum::http::StatusCode;

/// What kind of failure a code is, whatever its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// The request is malformed or names what does not exist in the schema.
    Invalid,
    /// Who is asking, or what they may do.
    Access,
    /// What the request names is not there.
    NotFound,
    /// The request collides with the data or its rules.
    Conflict,
    /// The request or its answer is larger than allowed.
    TooLarge,
    /// The request cannot be served as asked (method, media type).
    Unsupported,
    /// The server cannot do it right now; retrying later may work.
    Unavailable,
    /// A fault inside oxbase or the database.
    Internal,
}

macro_rules! codes {
    ($( $variant:ident => $status:ident, $category:ident, $name:literal, $meaning:literal; )*) => {
        /// A stable error code, answered as `code` in every error body.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $( $variant, )*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The snake_case name clients see.
            pub fn name(self) -> &'static str {
                match self { $( Code::$variant => $name, )* }
            }

            /// The HTTP status it is answered with.
            pub fn status(self) -> StatusCode {
                match self { $( Code::$variant => StatusCode::$status, )* }
            }

            /// What kind of failure it is.
            pub fn category(self) -> Category {
                match self { $( Code::$variant => Category::$category, )* }
            }

            /// When it is answered, in a sentence.
            pub fn meaning(self) -> &'static str {
                match self { $( Code::$variant => $meaning, )* }
            }
        }
    };
}

codes! {
    InvalidParameter => BAD_REQUEST, Invalid, "invalid_parameter", "a parameter or header value does not fit its column, type or grammar";
    InvalidGrammar => BAD_REQUEST, Invalid, "invalid_grammar", "a parameter is not in the PostgREST grammar";
    UnknownColumn => BAD_REQUEST, Invalid, "unknown_column", "a column the resource does not have";
    UnknownRelation => BAD_REQUEST, Invalid, "unknown_relation", "an embedding names no relation of the resource";
    AmbiguousRelation => BAD_REQUEST, Invalid, "ambiguous_relation", "an embedding matches several relations; a !hint picks one";
    InvalidId => BAD_REQUEST, Invalid, "invalid_id", "the id in the path does not have the key's type or range";
    UnsupportedParameter => BAD_REQUEST, Invalid, "unsupported_parameter", "a parameter that does not apply to this request";
    Unsupported => BAD_REQUEST, Invalid, "unsupported", "a combination oxbase does not serve";
    LimitExceeded => BAD_REQUEST, TooLarge, "limit_exceeded", "a request or response bound is exceeded (page, embeds, filters, in-list, response rows or bytes)";
    InvalidCursor => BAD_REQUEST, Invalid, "invalid_cursor", "the after cursor is malformed, altered, from another query, or signed with another secret";
    InvalidJson => BAD_REQUEST, Invalid, "invalid_json", "the body is not valid JSON";
    DuplicateKey => BAD_REQUEST, Invalid, "duplicate_key", "the body names a key twice in one object";
    InvalidBody => BAD_REQUEST, Invalid, "invalid_body", "the body could not be read";
    UnfilteredWrite => BAD_REQUEST, Invalid, "unfiltered_write", "a PATCH or DELETE without a filter on a resource that does not allow it";
    MaxAffectedExceeded => BAD_REQUEST, Invalid, "max_affected_exceeded", "the write would change more rows than Prefer: max-affected allows (with handling=strict); nothing was written";
    AuthenticationRequired => UNAUTHORIZED, Access, "authentication_required", "the request has no credentials and the schema grants callers without any nothing (no anonymous role)";
    CredentialsInvalid => UNAUTHORIZED, Access, "credentials_invalid", "the username or password is wrong (login, password change); which one is never said";
    TokenExpired => UNAUTHORIZED, Access, "token_expired", "the bearer access token is past its expiry: refresh it or log in again";
    TokenInvalid => UNAUTHORIZED, Access, "token_invalid", "the bearer token is malformed, badly signed, for another audience or issuer, or uses a refused algorithm (alg none); details.reason says which";
    RefreshTokenInvalid => UNAUTHORIZED, Access, "refresh_token_invalid", "the refresh token is unknown, expired, revoked, or was used before (its whole family is revoked then); details.reason says which";
    KeyInvalid => UNAUTHORIZED, Access, "key_invalid", "the API key is not one this server issued";
    KeyRevoked => UNAUTHORIZED, Access, "key_revoked", "the API key has been revoked";
    KeyExpired => UNAUTHORIZED, Access, "key_expired", "the API key is past its expiry";
    AccountsNotDeclared => NOT_FOUND, NotFound, "accounts_not_declared", "the schema declares no [accounts] resource, so there is nothing to log in to";
    Forbidden => FORBIDDEN, Access, "forbidden", "the caller's role (or API key) may not take this action on this resource";
    RowForbidden => FORBIDDEN, Access, "row_forbidden", "a row the write would touch, or leave behind, is outside what the caller's role may write; nothing was written";
    RoleUnknown => FORBIDDEN, Access, "role_unknown", "the credential names a role the schema does not declare";
    UnknownResource => NOT_FOUND, NotFound, "unknown_resource", "the path names no resource of the schema";
    RouteNotFound => NOT_FOUND, NotFound, "route_not_found", "no route serves the path";
    NotFound => NOT_FOUND, NotFound, "not_found", "no row has the id in the path";
    MethodNotAllowed => METHOD_NOT_ALLOWED, Unsupported, "method_not_allowed", "the route does not take the method";
    NotSingleObject => NOT_ACCEPTABLE, Conflict, "not_single_object", "one object was asked for and the rows are not exactly one (a write rolls back)";
    Duplicate => CONFLICT, Conflict, "duplicate", "a row with the same unique key exists";
    ConstraintViolation => CONFLICT, Conflict, "constraint_violation", "a database rule refused the write";
    IdsExhausted => CONFLICT, Conflict, "ids_exhausted", "a new row's id would not fit the key's type";
    PayloadTooLarge => PAYLOAD_TOO_LARGE, TooLarge, "payload_too_large", "the body is larger than max_body_bytes";
    UriTooLong => URI_TOO_LONG, TooLarge, "uri_too_long", "the URL is longer than max_url_length";
    UnsupportedMediaType => UNSUPPORTED_MEDIA_TYPE, Unsupported, "unsupported_media_type", "a body that is not application/json in UTF-8";
    ValidationFailed => UNPROCESSABLE_ENTITY, Invalid, "validation_failed", "body values do not fit the schema (every problem listed)";
    ReferenceNotFound => UNPROCESSABLE_ENTITY, Invalid, "reference_not_found", "a reference names a row that does not exist";
    LoginLockedOut => TOO_MANY_REQUESTS, Access, "login_locked_out", "too many failed logins for the username or from the address; Retry-After says when to try again";
    HeadersTooLarge => REQUEST_HEADER_FIELDS_TOO_LARGE, TooLarge, "headers_too_large", "the request headers are larger than max_header_bytes";
    InternalError => INTERNAL_SERVER_ERROR, Internal, "internal_error", "a fault inside oxbase or the database (logged, never detailed)";
    NotSupported => NOT_IMPLEMENTED, Unsupported, "not_supported", "the engine does not serve this yet";
    DatabaseUnavailable => SERVICE_UNAVAILABLE, Unavailable, "database_unavailable", "the database cannot be reached or is too busy";
    WriteContention => SERVICE_UNAVAILABLE, Unavailable, "write_contention", "the write collided with concurrent writes and was rolled back";
    Timeout => SERVICE_UNAVAILABLE, Unavailable, "timeout", "the request took longer than request_timeout (a write rolls back)";
    RedisUnavailable => SERVICE_UNAVAILABLE, Unavailable, "redis_unavailable", "Redis cannot be used: a write is refused before it runs, readiness fails";
    ChangeNotPropagated => SERVICE_UNAVAILABLE, Unavailable, "change_not_propagated", "the write committed, but Redis did not confirm it to the other instances in time";
    TooManyConnections => SERVICE_UNAVAILABLE, Unavailable, "too_many_connections", "the server holds as many connections as max_connections";
}

impl Code {
    /// The table as Markdown: code, status, category, meaning (docs/api.md §23 shows it).
    pub fn markdown_table() -> String {
        let mut table = String::from("| Status | Code | Meaning |\n|---|---|---|\n");
        for code in Code::ALL {
            table.push_str(&format!("| {} | `{}` | {} |\n", code.status().as_u16(), code.name(), code.meaning()));
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_statuses_are_errors() {
        let mut names: Vec<&str> = Code::ALL.iter().map(|code| code.name()).collect();
        assert!(names.iter().all(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_')), "{names:?}");
        names.sort();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "a name is used twice");
        for code in Code::ALL {
            let status = code.status().as_u16();
            assert!(status >= 400, "{code:?}");
            let server_side =
                matches!(code.category(), Category::Unavailable | Category::Internal) || *code == Code::NotSupported;
            assert_eq!(status >= 500, server_side, "{code:?}: only the server's own failures are 5xx");
        }
    }
}
