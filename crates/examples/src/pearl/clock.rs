//! Dates and timestamps as the text oxbase stores: `YYYY-MM-DD`, and the fixed-width UTC
//! form `YYYY-MM-DDTHH:MM:SS.ffffffZ`, which sorts as text in time order.
//!
//! Instants are microseconds since the Unix epoch, so generators can do arithmetic on them.

use fastrand::Rng;
use time::{Duration, OffsetDateTime};

pub(super) const MICROSECONDS_PER_SECOND: i64 = 1_000_000;
pub(super) const MICROSECONDS_PER_MINUTE: i64 = 60 * MICROSECONDS_PER_SECOND;
pub(super) const MICROSECONDS_PER_HOUR: i64 = 60 * MICROSECONDS_PER_MINUTE;
pub(super) const MICROSECONDS_PER_DAY: i64 = 24 * MICROSECONDS_PER_HOUR;

pub(super) const START_OF_2023: i64 = 1_672_531_200 * MICROSECONDS_PER_SECOND;
pub(super) const START_OF_2024: i64 = 1_704_067_200 * MICROSECONDS_PER_SECOND;
pub(super) const START_OF_2025: i64 = 1_735_689_600 * MICROSECONDS_PER_SECOND;
pub(super) const START_OF_2026: i64 = 1_767_225_600 * MICROSECONDS_PER_SECOND;
pub(super) const START_OF_2028: i64 = 1_830_297_600 * MICROSECONDS_PER_SECOND;

fn moment(instant: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::microseconds(instant)
}

/// The instant as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub(super) fn timestamp_text(instant: i64) -> String {
    let moment = moment(instant);
    let mut text = String::with_capacity(27);
    push_date(&mut text, moment);
    text.push('T');
    push_digits(&mut text, u32::from(moment.hour()), 2);
    text.push(':');
    push_digits(&mut text, u32::from(moment.minute()), 2);
    text.push(':');
    push_digits(&mut text, u32::from(moment.second()), 2);
    text.push('.');
    push_digits(&mut text, moment.microsecond(), 6);
    text.push('Z');
    text
}

/// The instant's UTC date as `YYYY-MM-DD`.
pub(super) fn date_text(instant: i64) -> String {
    let mut text = String::with_capacity(10);
    push_date(&mut text, moment(instant));
    text
}

fn push_date(text: &mut String, moment: OffsetDateTime) {
    // Generated years are all four-digit and positive.
    push_digits(text, moment.year().unsigned_abs(), 4);
    text.push('-');
    push_digits(text, u32::from(u8::from(moment.month())), 2);
    text.push('-');
    push_digits(text, u32::from(moment.day()), 2);
}

/// Writes the last `width` decimal digits of `value`, zero-padded. Hand-rolled because
/// `format!` dominated the generator's profile: there are millions of timestamps.
fn push_digits(text: &mut String, value: u32, width: u32) {
    for power in (0..width).rev() {
        let digit = (value / 10_u32.pow(power) % 10) as u8;
        text.push(char::from(b'0' + digit));
    }
}

/// A random instant in `from..until`.
pub(super) fn random_instant(rng: &mut Rng, from: i64, until: i64) -> i64 {
    rng.i64(from..until)
}

/// The `index`-th (from 0) of `count` instants spread over `from..until`, jittered within
/// its slot, so that rows with higher ids were created later, as they would have been.
pub(super) fn spread_instant(rng: &mut Rng, from: i64, until: i64, index: u64, count: u64) -> i64 {
    let slot = (until - from) / count.max(1) as i64;
    from + slot * index as i64 + rng.i64(0..slot.max(1))
}
