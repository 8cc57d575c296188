//! Canonical text forms of typed values, shared by validation, query parsing and writes.
//!
//! SQLite stores dates and timestamps as text, so one canonical form per type keeps text
//! order equal to time order and makes equality comparisons exact.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

/// The years oxbase stores: four digits, so that text order is time order in SQLite and
/// PostgreSQL reads every stored value back (it writes years before 1 as `BC`, and has no
/// year 0).
const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// `YYYY-MM-DD` if `text` is a valid calendar date from 0001-01-01 to 9999-12-31.
pub fn canonical_date(text: &str) -> Result<String, String> {
    let format = format_description!("[year]-[month]-[day]");
    match Date::parse(text, &format) {
        Ok(date) if YEARS.contains(&date.year()) => Ok(date.format(&format).expect("a parsed date formats")),
        Ok(_) => Err(format!("'{text}' is outside the dates oxbase stores (0001-01-01 to 9999-12-31)")),
        Err(_) => Err(format!("'{text}' is not a date (expected YYYY-MM-DD)")),
    }
}

/// The fixed-width UTC form `YYYY-MM-DDTHH:MM:SS.ffffffZ` of an RFC 3339 timestamp
/// (an offset is converted to UTC; a missing fraction is zero).
pub fn canonical_timestamp(text: &str) -> Result<String, String> {
    let normalised = text.replacen(' ', "T", 1);
    match OffsetDateTime::parse(&normalised, &Rfc3339) {
        Ok(instant) if YEARS.contains(&instant.to_offset(UtcOffset::UTC).year()) => Ok(format_timestamp(instant)),
        Ok(_) => Err(format!("'{text}' is outside the timestamps oxbase stores (years 0001 to 9999, in UTC)")),
        Err(_) => Err(format!("'{text}' is not a timestamp (expected RFC 3339, e.g. 2025-03-04T10:20:30Z)")),
    }
}

/// An instant in the canonical form.
pub fn format_timestamp(instant: OffsetDateTime) -> String {
    let utc = instant.to_offset(UtcOffset::UTC);
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    utc.format(&format).expect("a UTC instant formats")
}

/// Whether `text` is a uuid in the 8-4-4-4-12 hexadecimal form.
pub fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.chars().enumerate().all(|(index, character)| match index {
            8 | 13 | 18 | 23 => character == '-',
            _ => character.is_ascii_hexdigit(),
        })
}

/// The longest identifier PostgreSQL keeps; longer ones are silently truncated there.
pub const MAX_DATABASE_NAME_LENGTH: usize = 63;

/// A database object name from its parts, shortened with a stable hash suffix when it would
/// exceed [`MAX_DATABASE_NAME_LENGTH`], so two long names never collide by truncation.
pub fn database_name(name: String) -> String {
    if name.len() <= MAX_DATABASE_NAME_LENGTH {
        return name;
    }
    // FNV-1a: stable across Rust releases, unlike the standard library's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let suffix = format!("_{:08x}", hash as u32);
    let mut cut = MAX_DATABASE_NAME_LENGTH - suffix.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &name[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_timestamp("2025-03-04T10:20:30Z").unwrap(), "2025-03-04T10:20:30.000000Z");
        assert_eq!(canonical_timestamp("2025-03-04T12:20:30.5+02:00").unwrap(), "2025-03-04T10:20:30.500000Z");
        assert_eq!(canonical_timestamp("2025-03-04 10:20:30Z").unwrap(), "2025-03-04T10:20:30.000000Z");
        assert!(canonical_timestamp("2025-13-04T10:20:30Z").is_err());
        assert_eq!(canonical_date("2024-02-29").unwrap(), "2024-02-29");
        assert!(canonical_date("2023-02-29").is_err());
        assert!(canonical_date("-0001-01-01").is_err(), "no years before 1");
        assert!(canonical_date("0000-12-31").is_err(), "no year 0");
        assert_eq!(canonical_date("0001-01-01").unwrap(), "0001-01-01");
        assert!(canonical_timestamp("0001-01-01T00:30:00+01:00").is_err(), "year 0 in UTC");
        assert_eq!(canonical_timestamp("9999-12-31T23:59:59Z").unwrap(), "9999-12-31T23:59:59.000000Z");
        assert!(is_uuid("3f0c1b2e-0000-4000-8000-00000000abcd"));
        assert!(!is_uuid("3f0c1b2e00004000800000000000abcd"));
    }

    #[test]
    fn long_names_are_shortened_stably() {
        let long = "reporting_effort_items_reporting_effort_id_item_type_item_subtype_item_code_key".to_owned();
        let short = database_name(long.clone());
        assert_eq!(short.len(), MAX_DATABASE_NAME_LENGTH);
        assert_eq!(short, database_name(long));
        assert_ne!(
            short,
            database_name("reporting_effort_items_reporting_effort_id_item_type_item_subtype_item_code_idx".to_owned())
        );
        assert_eq!(database_name("short".to_owned()), "short");
    }
}
