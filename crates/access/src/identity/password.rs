//! Password hashes: argon2id at no less than OWASP's minimum cost, as PHC strings.
//!
//! An unknown username is answered after verifying against a hash of the same cost
//! ([`Passwords::verify_nothing`]), so the time a failed login takes does not tell whether
//! the account exists.

use std::fmt;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Argon2id's cost: memory in KiB, iterations and lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl PasswordCost {
    /// OWASP's minimum for argon2id (Password Storage Cheat Sheet): 19 MiB, 2 iterations,
    /// 1 lane. The default, and the floor: nothing cheaper is accepted.
    pub const MINIMUM: PasswordCost = PasswordCost { memory_kib: 19_456, iterations: 2, parallelism: 1 };

    /// A cost at or above [`PasswordCost::MINIMUM`] in every parameter, else an error
    /// naming the one that is too low.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<PasswordCost, PasswordError> {
        let minimum = PasswordCost::MINIMUM;
        for (name, value, floor) in [
            ("argon2_memory_kib", memory_kib, minimum.memory_kib),
            ("argon2_iterations", iterations, minimum.iterations),
            ("argon2_parallelism", parallelism, minimum.parallelism),
        ] {
            if value < floor {
                return Err(PasswordError::CostTooLow { parameter: name, value, minimum: floor });
            }
        }
        let cost = PasswordCost { memory_kib, iterations, parallelism };
        cost.params()?;
        Ok(cost)
    }

    fn params(self) -> Result<Params, PasswordError> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|error| PasswordError::InvalidCost(error.to_string()))
    }
}

impl Default for PasswordCost {
    fn default() -> PasswordCost {
        PasswordCost::MINIMUM
    }
}

/// A password hash in PHC form (`$argon2id$v=19$m=…`). Never printed: `Debug` and
/// `Display` show `[password hash]`; [`PasswordHash::as_phc`] gives it to the store.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// A hash read from the store.
    pub fn from_phc(phc: impl Into<String>) -> PasswordHash {
        PasswordHash(phc.into())
    }

    /// The PHC string, to store.
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("[password hash]")
    }
}

impl fmt::Display for PasswordHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("[password hash]")
    }
}

/// What went wrong with a password or its hash. No variant carries a password or a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// A configured cost below OWASP's minimum.
    #[error("{parameter} is {value}; at least {minimum} is required (OWASP's minimum for argon2id)")]
    CostTooLow { parameter: &'static str, value: u32, minimum: u32 },
    /// A cost argon2 refuses (too large for this machine's address space, for one).
    #[error("the argon2 cost is not usable: {0}")]
    InvalidCost(String),
    /// A new password outside the accepted lengths.
    #[error("the new password is {length} characters; use {min} to {max}")]
    BadLength { length: usize, min: usize, max: usize },
    /// The stored hash is not a PHC string argon2 reads (it was set outside oxbase, or is
    /// not an argon2 hash).
    #[error("the stored password hash is not an argon2 PHC string")]
    UnreadableHash,
    /// The operating system's random source failed.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

/// A checked password: whether it matched, and whether its hash is cheaper than the
/// current cost (so the caller can store a new one while it has the password).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords at one cost.
pub struct Passwords {
    cost: PasswordCost,
    /// A hash of a random password at the same cost, verified against when the account
    /// does not exist.
    decoy: PasswordHash,
}

impl fmt::Debug for Passwords {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("Passwords").field("cost", &self.cost).finish_non_exhaustive()
    }
}

impl Passwords {
    /// Shortest new password accepted (NIST SP 800-63B's minimum for chosen secrets).
    pub const MIN_LENGTH: usize = 8;
    /// Longest new password accepted, in characters.
    pub const MAX_LENGTH: usize = 1024;

    /// Hashes at `cost`; computes the decoy hash once, now (one hash's time).
    pub fn new(cost: PasswordCost) -> Result<Passwords, PasswordError> {
        let mut passwords = Passwords { cost, decoy: PasswordHash(String::new()) };
        let decoy = crate::identity::secret::random_token("decoy").map_err(PasswordError::Random)?;
        passwords.decoy = passwords.hash(&decoy)?;
        Ok(passwords)
    }

    /// The cost new hashes get.
    pub fn cost(&self) -> PasswordCost {
        self.cost
    }

    fn argon2(&self) -> Result<Argon2<'static>, PasswordError> {
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, self.cost.params()?))
    }

    /// A new password's hash, with a fresh random salt; refuses lengths outside
    /// [`Passwords::MIN_LENGTH`]..=[`Passwords::MAX_LENGTH`].
    pub fn hash_new(&self, password: &str) -> Result<PasswordHash, PasswordError> {
        let length = password.chars().count();
        if !(Passwords::MIN_LENGTH..=Passwords::MAX_LENGTH).contains(&length) {
            return Err(PasswordError::BadLength { length, min: Passwords::MIN_LENGTH, max: Passwords::MAX_LENGTH });
        }
        self.hash(password)
    }

    fn hash(&self, password: &str) -> Result<PasswordHash, PasswordError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|error| PasswordError::Random(error.to_string()))?;
        let hash = self
            .argon2()?
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map_err(|error| PasswordError::InvalidCost(error.to_string()))?;
        Ok(PasswordHash(hash.to_string()))
    }

    /// Whether `password` matches `hash` (verified at the hash's own cost); `Ok(None)` when
    /// it does not.
    pub fn verify(&self, password: &str, hash: &PasswordHash) -> Result<Option<Verified>, PasswordError> {
        let parsed =
            argon2::password_hash::phc::PasswordHash::new(hash.as_phc()).map_err(|_| PasswordError::UnreadableHash)?;
        if !matches!(parsed.algorithm.as_str(), "argon2id" | "argon2i" | "argon2d") {
            return Err(PasswordError::UnreadableHash);
        }
        match self.argon2()?.verify_password(password.as_bytes(), &parsed) {
            Ok(()) => Ok(Some(Verified { needs_rehash: self.is_cheaper(&parsed) })),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(None),
            Err(_) => Err(PasswordError::UnreadableHash),
        }
    }

    /// Spends the time one verification takes, for a username with no account: the
    /// answer is "no match" whatever the password.
    pub fn verify_nothing(&self, password: &str) {
        let _ = self.verify(password, &self.decoy);
    }

    /// Whether a stored hash is weaker than the current cost, or not argon2id.
    fn is_cheaper(&self, parsed: &argon2::password_hash::phc::PasswordHash) -> bool {
        let Ok(params) = Params::try_from(parsed) else { return true };
        parsed.algorithm.as_str() != "argon2id"
            || params.m_cost() < self.cost.memory_kib
            || params.t_cost() < self.cost.iterations
            || params.p_cost() < self.cost.parallelism
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_never_print() {
        let passwords = Passwords::new(PasswordCost::MINIMUM).unwrap();
        let hash = passwords.hash_new("correct horse battery").unwrap();
        assert!(hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", hash.as_phc());
        assert_eq!(passwords.verify("correct horse battery", &hash).unwrap(), Some(Verified { needs_rehash: false }));
        assert_eq!(passwords.verify("correct horse batterY", &hash).unwrap(), None);
        assert_eq!(format!("{hash:?} {hash} {passwords:?}").matches("argon2").count(), 0);
        // Two hashes of one password differ (fresh salts).
        assert_ne!(passwords.hash_new("correct horse battery").unwrap(), hash);
    }

    #[test]
    fn costs_below_the_minimum_are_refused() {
        let error = PasswordCost::new(19_455, 2, 1).unwrap_err();
        assert!(error.to_string().contains("argon2_memory_kib is 19455; at least 19456"), "{error}");
        assert!(matches!(PasswordCost::new(19_456, 1, 1), Err(PasswordError::CostTooLow { .. })));
        assert!(matches!(PasswordCost::new(19_456, 2, 0), Err(PasswordError::CostTooLow { .. })));
        assert_eq!(PasswordCost::new(32_768, 3, 2).unwrap().memory_kib, 32_768);
    }

    #[test]
    fn a_cheaper_stored_hash_asks_to_be_rehashed() {
        let cheap = Passwords::new(PasswordCost::MINIMUM).unwrap();
        let hash = cheap.hash_new("correct horse battery").unwrap();
        let dearer = Passwords::new(PasswordCost::new(19_456, 3, 1).unwrap()).unwrap();
        assert_eq!(dearer.verify("correct horse battery", &hash).unwrap(), Some(Verified { needs_rehash: true }));
    }

    #[test]
    fn new_passwords_have_bounded_lengths_and_junk_hashes_are_errors() {
        let passwords = Passwords::new(PasswordCost::MINIMUM).unwrap();
        assert!(matches!(passwords.hash_new("short"), Err(PasswordError::BadLength { length: 5, .. })));
        let junk = PasswordHash::from_phc("not a hash");
        assert_eq!(passwords.verify("whatever1", &junk), Err(PasswordError::UnreadableHash));
        let bcrypt = PasswordHash::from_phc("$2b$12$abcdefghijklmnopqrstuu");
        assert_eq!(passwords.verify("whatever1", &bcrypt), Err(PasswordError::UnreadableHash));
        passwords.verify_nothing("anything");
    }
}
