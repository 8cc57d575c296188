//! Checking credentials: pure, no HTTP, no database. The server's identity middleware
//! and login endpoints call these; the store keeps what they produce (hashes, digests).
//!
//! # Layout
//!
//! - [`password`]: argon2id password hashes, a decoy verification for unknown accounts.
//! - [`token`]: access tokens issued here (HS256) and verified (ours, or another
//!   provider's, with keys from [`jwks`]) into a [`crate::Caller`].
//! - [`jwks`]: a JWKS file's public keys, read again when the file changes.
//! - [`secret`]: random refresh tokens and API keys, stored as SHA-256 digests.

pub mod jwks;
pub mod password;
pub mod secret;
pub mod token;

pub use password::{PasswordCost, PasswordError, PasswordHash, Passwords, Verified};
pub use secret::Revealed;
pub use token::{ClaimPath, InvalidToken, IssuedToken, TokenError, TokenSettings, Tokens};

#[cfg(test)]
mod token_tests;
