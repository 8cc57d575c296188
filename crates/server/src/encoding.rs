//! What read responses are made of, below HTTP: their content types, and the content
//! codings a body is compressed with once so that a cache entry can keep the result.
//!
//! Cached read responses carry their compressed variants (the cache's `CachedRead`):
//! a hit is answered with bytes compressed when the entry was first asked for in that
//! coding, never compressed again. Other responses (writes, errors) are compressed on the
//! way out by tower-http's compression layer with the same levels. Which coding a client
//! takes is negotiated at the edge (`http::encoding`).

use std::io::Write;

use bytes::Bytes;

/// The content type of a JSON array of rows (and of one row at `/{resource}/{id}`).
pub const JSON: &str = "application/json; charset=utf-8";
/// The content type of one row asked for with PostgREST's single-object media type.
pub const OBJECT_JSON: &str = "application/vnd.pgrst.object+json; charset=utf-8";

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

#[cfg(test)]
mod tests {
    use super::*;

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
