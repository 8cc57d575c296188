//! Public keys of another identity provider, from a JWKS file that is read again when it
//! changes: at most once per check interval, the file is read (JWKS files are a few KiB)
//! and, when its bytes differ from the last ones loaded, parsed. A file that no longer
//! parses keeps the keys loaded before, so a half-written file never locks everyone out.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

/// Largest JWKS file read.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A verification key from the file.
pub struct JwksKey {
    /// The key's `kid`, matched against a token's header.
    pub id: Option<String>,
    /// The algorithms the key verifies: its `alg` when the file names one, else those of
    /// its type and curve.
    pub algorithms: Vec<Algorithm>,
    pub key: DecodingKey,
}

/// Why a JWKS file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("cannot read the JWKS file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("the JWKS file {path} is not a JSON Web Key Set: {reason}")]
    Invalid { path: String, reason: String },
    #[error("the JWKS file {path} holds no signature-verification key oxbase can use (RSA, EC P-256/P-384 or Ed25519)")]
    NoUsableKey { path: String },
}

struct Loaded {
    checked: Instant,
    bytes: Vec<u8>,
    keys: Arc<Vec<JwksKey>>,
    /// Why the last changed content was not taken, if it was not.
    refused: Option<JwksError>,
}

/// A JWKS file and the keys last loaded from it.
pub struct JwksFile {
    path: PathBuf,
    interval: Duration,
    loaded: Mutex<Loaded>,
}

impl std::fmt::Debug for JwksFile {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("JwksFile").field("path", &self.path).field("interval", &self.interval).finish()
    }
}

impl JwksFile {
    /// Reads the file now; it must hold at least one usable key. Later changes are picked
    /// up at most once per `interval`.
    pub fn open(path: &Path, interval: Duration) -> Result<JwksFile, JwksError> {
        let bytes = read(path)?;
        let keys = parse(path, &bytes)?;
        Ok(JwksFile {
            path: path.to_owned(),
            interval,
            loaded: Mutex::new(Loaded { checked: Instant::now(), bytes, keys: Arc::new(keys), refused: None }),
        })
    }

    /// The keys in force, reading the file again first when the interval has passed.
    pub fn keys(&self) -> Arc<Vec<JwksKey>> {
        let mut loaded = self.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if loaded.checked.elapsed() >= self.interval {
            loaded.checked = Instant::now();
            match read(&self.path) {
                Ok(bytes) if bytes != loaded.bytes => match parse(&self.path, &bytes) {
                    Ok(keys) => {
                        loaded.keys = Arc::new(keys);
                        loaded.bytes = bytes;
                        loaded.refused = None;
                    }
                    Err(error) => loaded.refused = Some(error),
                },
                Ok(_) => {}
                Err(error) => loaded.refused = Some(error),
            }
        }
        loaded.keys.clone()
    }

    /// Why the file's current content is not in force (the keys before it are), if so.
    pub fn refused(&self) -> Option<JwksError> {
        self.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner).refused.clone()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, JwksError> {
    let unreadable = |reason: String| JwksError::Unreadable { path: path.display().to_string(), reason };
    let length = std::fs::metadata(path).map_err(|error| unreadable(error.to_string()))?.len();
    if length > MAX_FILE_BYTES {
        return Err(unreadable(format!("it is {length} bytes; at most {MAX_FILE_BYTES} are read")));
    }
    std::fs::read(path).map_err(|error| unreadable(error.to_string()))
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<JwksKey>, JwksError> {
    let set: JwkSet = serde_json::from_slice(bytes)
        .map_err(|error| JwksError::Invalid { path: path.display().to_string(), reason: error.to_string() })?;
    let keys: Vec<JwksKey> = set.keys.iter().filter_map(usable_key).collect();
    if keys.is_empty() {
        return Err(JwksError::NoUsableKey { path: path.display().to_string() });
    }
    Ok(keys)
}

/// A key for verifying signatures, if this is one: asymmetric (a symmetric `oct` key in a
/// published set would let anyone sign), not marked for encryption, of a supported type.
fn usable_key(jwk: &Jwk) -> Option<JwksKey> {
    if jwk.common.public_key_use.as_ref().is_some_and(|usage| *usage != PublicKeyUse::Signature) {
        return None;
    }
    let of_type: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => &[
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(parameters) => match parameters.curve {
            EllipticCurve::P256 => &[Algorithm::ES256],
            EllipticCurve::P384 => &[Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(parameters) if parameters.curve == EllipticCurve::Ed25519 => {
            &[Algorithm::EdDSA]
        }
        _ => return None,
    };
    let algorithms = match jwk.common.key_algorithm {
        None => of_type.to_vec(),
        Some(named) => {
            let algorithm = signature_algorithm(named)?;
            if !of_type.contains(&algorithm) {
                return None;
            }
            vec![algorithm]
        }
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(JwksKey { id: jwk.common.key_id.clone(), algorithms, key })
}

fn signature_algorithm(algorithm: KeyAlgorithm) -> Option<Algorithm> {
    Some(match algorithm {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}
