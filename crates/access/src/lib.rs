//! Access: who is asking and what they may do. Pure: no HTTP, no database.
//!
//! # Layout
//!
//! - [`caller`]: the identity a request carries once its credentials are checked.
//! - [`identity`]: checking credentials: password hashes, access tokens (issued here or
//!   by another identity provider), refresh tokens and API keys.
//! - [`permissions`]: the schema's roles compiled per role: a view of the schema, row
//!   rules, field masks, presets and checks.

pub mod caller;
pub mod identity;
pub mod permissions;

pub use caller::{Caller, KeyScope};
pub use permissions::{Denied, Permissions, Scope};
