//! Content codings for read responses: which one a client accepts, and compressing a body
//! once so that a cache entry can keep the result.
//!
//! Cached read responses carry their compressed variants ([`crate::cache::CachedRead`]):
//! a hit is answered with bytes compressed when the entry was first asked for in that
//! coding, never compressed again. Other responses (writes, errors) are compressed on the
//! way out by tower-http's compression layer with the same levels.

use std::io::Write;

use axum::body::Bytes;
use axum::http::{HeaderMap, header};

/// A content coding oxbase produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Zstd,
    Gzip,
}

impl Encoding {
    /// In order of preference when a client rates several equally.
    pub const ALL: [Encoding; 3] = [Encoding::Brotli, Encoding::Zstd, Encoding::Gzip];

    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Zstd => "zstd",
            Encoding::Gzip => "gzip",
        }
    }

    /// Position in [`Encoding::ALL`], for per-coding storage.
    pub fn index(self) -> usize {
        match self {
            Encoding::Brotli => 0,
            Encoding::Zstd => 1,
            Encoding::Gzip => 2,
        }
    }

    /// `body` compressed at `level` (`None`: this coding's balanced default — brotli 4,
    /// zstd 3, gzip 6; a level is held to the coding's range: brotli 0–11, zstd 1–22,
    /// gzip 0–9).
    pub fn compress(self, body: &[u8], level: Option<u32>) -> Bytes {
        let mut out = Vec::with_capacity(body.len() / 4 + 64);
        match self {
            Encoding::Brotli => {
                let quality = level.unwrap_or(4).min(11);
                let mut writer = brotli::CompressorWriter::new(&mut out, 16 * 1024, quality, 22);
                writer.write_all(body).expect("writing to memory cannot fail");
                writer.flush().expect("writing to memory cannot fail");
                drop(writer);
            }
            Encoding::Zstd => {
                let level = level.map_or(3, |level| level.clamp(1, 22)) as i32;
                out = zstd::bulk::compress(body, level).expect("compressing to memory cannot fail");
            }
            Encoding::Gzip => {
                let level = flate2::Compression::new(level.unwrap_or(6).min(9));
                let mut encoder = flate2::write::GzEncoder::new(&mut out, level);
                encoder.write_all(body).expect("writing to memory cannot fail");
                encoder.finish().expect("writing to memory cannot fail");
            }
        }
        Bytes::from(out)
    }
}

/// The coding to answer with, by `Accept-Encoding` and its quality values: the highest
/// rated of br, zstd and gzip (`*` rates all not named), ties broken by [`Encoding::ALL`];
/// `None` when the client accepts none of them (or sent no header).
pub fn negotiate(headers: &HeaderMap) -> Option<Encoding> {
    let mut ratings: [Option<f32>; 3] = [None; 3];
    let mut wildcard: Option<f32> = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        for item in value.to_str().unwrap_or_default().split(',') {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default().to_ascii_lowercase();
            let quality = parts
                .find_map(|parameter| parameter.strip_prefix("q=").or_else(|| parameter.strip_prefix("Q=")))
                .map_or(Some(1.0), |text| text.trim().parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q)));
            let Some(quality) = quality else { continue };
            match name.as_str() {
                "*" => wildcard = Some(quality),
                name => {
                    if let Some(encoding) = Encoding::ALL.into_iter().find(|encoding| encoding.token() == name) {
                        ratings[encoding.index()] = Some(quality);
                    }
                }
            }
        }
    }
    let mut best: Option<(Encoding, f32)> = None;
    for encoding in Encoding::ALL {
        let quality = ratings[encoding.index()].or(wildcard).unwrap_or(0.0);
        if quality > 0.0 && best.is_none_or(|(_, rated)| quality > rated) {
            best = Some((encoding, quality));
        }
    }
    best.map(|(encoding, _)| encoding)
}

/// Whether `Accept-Encoding` rules out every coding oxbase can send, identity included
/// (`identity;q=0` alone, or `*;q=0`). RFC 9110 lets a server then ignore the header, and
/// oxbase does: the answer goes out uncompressed rather than as a 406 decided after the
/// work was done (and a write committed).
pub fn refuses_every_coding(headers: &HeaderMap) -> bool {
    if headers.get(header::ACCEPT_ENCODING).is_none() || negotiate(headers).is_some() {
        return false;
    }
    let mut identity: Option<f32> = None;
    let mut wildcard: Option<f32> = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        for item in value.to_str().unwrap_or_default().split(',') {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default().to_ascii_lowercase();
            let quality = parts
                .find_map(|parameter| parameter.strip_prefix("q=").or_else(|| parameter.strip_prefix("Q=")))
                .map_or(1.0, |text| text.trim().parse::<f32>().unwrap_or(1.0));
            match name.as_str() {
                "identity" => identity = Some(quality),
                "*" => wildcard = Some(quality),
                _ => {}
            }
        }
    }
    identity.or(wildcard).is_some_and(|quality| quality <= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, value.parse().unwrap());
        headers
    }

    #[test]
    fn negotiates_by_quality_then_preference() {
        assert_eq!(negotiate(&HeaderMap::new()), None);
        assert_eq!(negotiate(&accept("gzip")), Some(Encoding::Gzip));
        assert_eq!(negotiate(&accept("gzip, br")), Some(Encoding::Brotli));
        assert_eq!(negotiate(&accept("gzip;q=1.0, br;q=0.5")), Some(Encoding::Gzip));
        assert_eq!(negotiate(&accept("zstd, gzip")), Some(Encoding::Zstd));
        assert_eq!(negotiate(&accept("br;q=0, gzip;q=0.1")), Some(Encoding::Gzip));
        assert_eq!(negotiate(&accept("identity")), None);
        assert_eq!(negotiate(&accept("*")), Some(Encoding::Brotli));
        assert_eq!(negotiate(&accept("*;q=0.5, br;q=0")), Some(Encoding::Zstd));
        assert_eq!(negotiate(&accept("gzip;q=nonsense")), None);
    }

    #[test]
    fn refusing_every_coding_is_told_apart() {
        assert!(!refuses_every_coding(&HeaderMap::new()));
        assert!(refuses_every_coding(&accept("identity;q=0")));
        assert!(refuses_every_coding(&accept("*;q=0")));
        assert!(refuses_every_coding(&accept("deflate, identity;q=0")));
        assert!(!refuses_every_coding(&accept("gzip, identity;q=0")), "gzip is acceptable");
        assert!(!refuses_every_coding(&accept("*;q=0, identity")), "identity named acceptable");
        assert!(!refuses_every_coding(&accept("identity")));
        assert!(!refuses_every_coding(&accept("deflate")), "identity stays acceptable");
    }

    #[test]
    fn compressed_bodies_decode_to_the_original() {
        let body = br#"[{"id":1,"name":"a"}]"#.repeat(200);
        for encoding in Encoding::ALL {
            let compressed = encoding.compress(&body, None);
            assert!(compressed.len() < body.len() / 4, "{encoding:?}: {}", compressed.len());
            let mut decoded = Vec::new();
            match encoding {
                Encoding::Brotli => {
                    std::io::Read::read_to_end(&mut brotli::Decompressor::new(&compressed[..], 4096), &mut decoded)
                        .unwrap();
                }
                Encoding::Zstd => decoded = zstd::decode_all(&compressed[..]).unwrap(),
                Encoding::Gzip => {
                    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&compressed[..]), &mut decoded)
                        .unwrap();
                }
            }
            assert_eq!(decoded, body, "{encoding:?}");
        }
    }
}
