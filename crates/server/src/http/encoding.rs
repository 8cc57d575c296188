//! Which content coding a client accepts (`Accept-Encoding`, quality values), for read
//! responses; the codings themselves are [`crate::encoding`].

use axum::http::{HeaderMap, header};

use crate::encoding::Encoding;

/// Every coding `Accept-Encoding` names (lowercased) with its quality (1 when none is
/// given); an entry whose quality is not a number from 0 to 1 is passed over.
fn rated_codings(headers: &HeaderMap) -> impl Iterator<Item = (String, f32)> + '_ {
    headers.get_all(header::ACCEPT_ENCODING).iter().flat_map(|value| {
        value.to_str().unwrap_or_default().split(',').filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default().to_ascii_lowercase();
            let quality = parts
                .find_map(|parameter| parameter.strip_prefix("q=").or_else(|| parameter.strip_prefix("Q=")))
                .map_or(Some(1.0), |text| text.trim().parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q)))?;
            Some((name, quality))
        })
    })
}

/// The coding to answer with, by `Accept-Encoding` and its quality values: the highest
/// rated of br, zstd and gzip (`*` rates all not named), ties broken by [`Encoding::ALL`];
/// `None` when the client accepts none of them (or sent no header).
pub fn negotiate(headers: &HeaderMap) -> Option<Encoding> {
    let mut ratings: [Option<f32>; 3] = [None; 3];
    let mut wildcard: Option<f32> = None;
    for (name, quality) in rated_codings(headers) {
        match name.as_str() {
            "*" => wildcard = Some(quality),
            name => {
                if let Some(encoding) = Encoding::ALL.into_iter().find(|encoding| encoding.token() == name) {
                    ratings[encoding.index()] = Some(quality);
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
    // Refusing everything takes a zero quality: most requests never get past this scan.
    let zero_quality = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .any(|value| value.as_bytes().windows(3).any(|w| w.eq_ignore_ascii_case(b"q=0")));
    if !zero_quality || negotiate(headers).is_some() {
        return false;
    }
    let (mut identity, mut wildcard) = (None, None);
    for (name, quality) in rated_codings(headers) {
        match name.as_str() {
            "identity" => identity = Some(quality),
            "*" => wildcard = Some(quality),
            _ => {}
        }
    }
    identity.or(wildcard).is_some_and(|quality: f32| quality <= 0.0)
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
        assert!(refuses_every_coding(&accept("identity;Q=0")), "quality names in any case");
        assert!(refuses_every_coding(&accept("deflate, identity;q=0")));
        assert!(!refuses_every_coding(&accept("gzip, identity;q=0")), "gzip is acceptable");
        assert!(!refuses_every_coding(&accept("*;q=0, identity")), "identity named acceptable");
        assert!(!refuses_every_coding(&accept("identity")));
        assert!(!refuses_every_coding(&accept("deflate")), "identity stays acceptable");
    }
}
