//! Instants in time, parsed from RFC 3339 as registries write them.
//!
//! The core never reads the clock: `now` is always a parameter, so a plan is reproducible.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use std::num::NonZeroU32;

use crate::field::{self, Kind};

/// An instant, UTC, with nanosecond precision (ACR writes seven fractional digits).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp {
    secs: i64,
    /// Nanoseconds plus one: the zero left free makes `Option<Timestamp>` no bigger than a
    /// timestamp (a snapshot holds millions of them).
    nanos_plus_one: NonZeroU32,
}

impl Timestamp {
    fn new(secs: i64, nanos: u32) -> Timestamp {
        debug_assert!(nanos < 1_000_000_000);
        Timestamp {
            secs,
            nanos_plus_one: NonZeroU32::MIN.saturating_add(nanos),
        }
    }

    /// The nanoseconds past the second (`0..1_000_000_000`).
    pub(crate) fn nanos(self) -> u32 {
        self.nanos_plus_one.get() - 1
    }
}

/// Seconds in a day, for `--ago`-style arithmetic.
pub const DAY: i64 = 86_400;

impl Timestamp {
    /// Parses an RFC 3339 date-time (`2018-07-12T15:52:00.2075864Z`, any offset) or a plain
    /// date (`2019-04-05`, read as midnight UTC, as the seed's `lastUpdateTime < '2019-04-05'`
    /// query does).
    pub fn parse(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let d = b.get(r)?;
            d.iter().all(u8::is_ascii_digit).then(|| {
                d.iter()
                    .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0'))
            })
        };
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        let date = days_from_civil(i64::from(year), month, day) * DAY;
        if b.len() == 10 {
            return Some(Timestamp::new(date, 0));
        }
        if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 20 || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let mut i = 19;
        let mut nanos = 0u32;
        if b[i] == b'.' {
            let start = i + 1;
            i = start;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 9 {
                    nanos = nanos * 10 + u32::from(b[i] - b'0');
                }
                i += 1;
            }
            if i == start {
                return None;
            }
            for _ in (i - start).min(9)..9 {
                nanos *= 10;
            }
        }
        let offset = match &b[i..] {
            b"Z" | b"z" => 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let (hours, minutes) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let offset = i64::from(hours * 3600 + minutes * 60);
                if *sign == b'+' {
                    offset
                } else {
                    -offset
                }
            }
            _ => return None,
        };
        let secs = date + i64::from(hour * 3600 + minute * 60 + second) - offset;
        Some(Timestamp::new(secs, nanos))
    }

    /// The instant `secs` seconds after the Unix epoch.
    pub fn from_unix_seconds(secs: i64) -> Timestamp {
        Timestamp::new(secs, 0)
    }

    /// Seconds since the Unix epoch (floored), for arithmetic and sorting keys.
    pub fn unix_seconds(&self) -> i64 {
        self.secs
    }

    /// The instant `nanos` nanoseconds earlier (later when negative), saturating.
    #[must_use]
    pub fn minus_nanos(&self, nanos: i128) -> Timestamp {
        const N: i128 = 1_000_000_000;
        let t = i128::from(self.secs) * N + i128::from(self.nanos()) - nanos;
        let secs = t
            .div_euclid(N)
            .clamp(i128::from(i64::MIN), i128::from(i64::MAX));
        Timestamp::new(secs as i64, t.rem_euclid(N) as u32)
    }

    /// The instant `secs` seconds earlier (saturating).
    #[must_use]
    pub fn minus_seconds(&self, secs: i64) -> Timestamp {
        Timestamp {
            secs: self.secs.saturating_sub(secs),
            ..*self
        }
    }
}

fn is_leap(y: u32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of `days_from_civil`.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl fmt::Display for Timestamp {
    /// Canonical form: UTC, `Z`, fractional seconds without trailing zeros. Written digit by
    /// digit into a buffer (a plan writes two per action, and `fmt`'s integer padding made
    /// them a third of planning a large `acr purge` in WebAssembly).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(DAY);
        let rem = self.secs.rem_euclid(DAY);
        let (y, m, d) = civil_from_days(days);
        if !(0..=9999).contains(&y) {
            write!(
                f,
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
                rem / 3600,
                rem / 60 % 60,
                rem % 60
            )?;
            return write_fraction(f, self.nanos());
        }
        let mut buf = *b"0000-00-00T00:00:00.000000000Z";
        let mut put = |at: usize, width: usize, mut v: i64| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, y);
        put(5, 2, m);
        put(8, 2, d);
        put(11, 2, rem / 3600);
        put(14, 2, rem / 60 % 60);
        put(17, 2, rem % 60);
        let nanos = self.nanos();
        let end = if nanos > 0 {
            put(20, 9, i64::from(nanos));
            let mut end = 29;
            while buf[end - 1] == b'0' {
                end -= 1;
            }
            buf[end] = b'Z';
            end + 1
        } else {
            buf[19] = b'Z';
            20
        };
        f.write_str(std::str::from_utf8(&buf[..end]).map_err(|_| fmt::Error)?)
    }
}

/// `.` and the fraction without trailing zeros (none for whole seconds), then `Z`.
fn write_fraction(f: &mut fmt::Formatter<'_>, nanos: u32) -> fmt::Result {
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        write!(f, ".{}", frac.trim_end_matches('0'))?;
    }
    f.write_str("Z")
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl std::str::FromStr for Timestamp {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Timestamp::parse(s).ok_or_else(|| Kind::Timestamp.error("now", s))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        field::deserialize_str(d, Kind::Timestamp, Timestamp::parse)
    }
}

/// Which of a manifest's timestamps a rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TimeField {
    /// `lastUpdateTime`, what ACR sorts by and `acr purge` compares.
    #[default]
    LastUpdateTime,
    /// `createdTime`, when the manifest was pushed.
    CreatedTime,
}

impl TimeField {
    /// The JSON field name.
    pub fn name(self) -> &'static str {
        match self {
            TimeField::LastUpdateTime => "lastUpdateTime",
            TimeField::CreatedTime => "createdTime",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap_or_else(|| panic!("{s} rejected"))
    }

    #[test]
    fn parses_acr_times_with_seven_fraction_digits() {
        let t = ts("2018-07-12T15:52:00.2075864Z");
        assert_eq!(t.to_string(), "2018-07-12T15:52:00.2075864Z");
        assert_eq!(t.unix_seconds(), 1_531_410_720);
    }

    #[test]
    fn offsets_and_dates_normalise_to_utc() {
        assert_eq!(ts("2019-04-05").to_string(), "2019-04-05T00:00:00Z");
        assert_eq!(ts("2019-04-05T02:00:00+02:00"), ts("2019-04-05"));
        assert_eq!(ts("2019-04-04T22:30:00-01:30"), ts("2019-04-05"));
        assert_eq!(ts("1969-12-31T23:59:59Z").unix_seconds(), -1);
        assert_eq!(
            ts("0001-01-01T00:00:00Z").to_string(),
            "0001-01-01T00:00:00Z"
        );
        assert_eq!(
            ts("2024-02-29T12:00:00.5Z").to_string(),
            "2024-02-29T12:00:00.5Z"
        );
    }

    #[test]
    fn rejects_malformed_times() {
        for bad in [
            "",
            "yesterday",
            "2019-4-5",
            "2019-13-01",
            "2019-02-29",
            "2019-04-05T",
            "2019-04-05T24:00:00Z",
            "2019-04-05T10:00:00",
            "2019-04-05T10:00:00.Z",
            "2019-04-05T10:00:00+0100",
            "2019-04-05T10:00:00Zjunk",
        ] {
            assert!(Timestamp::parse(bad).is_none(), "{bad:?} accepted");
        }
    }

    /// The canonical form as `fmt` writes it, which the digit writer must match.
    fn formatted_by_fmt(t: Timestamp) -> String {
        let rem = t.secs.rem_euclid(DAY);
        let (y, m, d) = civil_from_days(t.secs.div_euclid(DAY));
        let mut out = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        );
        if t.nanos() > 0 {
            out += format!(".{:09}", t.nanos()).trim_end_matches('0');
        }
        out + "Z"
    }

    #[test]
    fn writes_digits_as_fmt_does_in_every_range() {
        let mut secs: Vec<i64> = vec![0, -1, 1, 86_399, 86_400, 253_402_300_799, 253_402_300_800];
        secs.extend([
            -62_135_596_800,
            -62_135_596_801,
            -62_167_219_200,
            -62_167_219_201,
        ]);
        secs.extend([i64::MIN / 2, i64::MAX / 2, 1_767_225_600]);
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            secs.push((x % 400_000_000_000) as i64 - 100_000_000_000);
        }
        for (i, s) in secs.into_iter().enumerate() {
            for nanos in [
                0,
                1,
                10,
                500_000_000,
                207_586_400,
                999_999_999,
                (i as u32 * 7_919) % 1_000_000_000,
            ] {
                let t = Timestamp::new(s, nanos);
                assert_eq!(t.to_string(), formatted_by_fmt(t), "{s}s {nanos}ns");
            }
        }
        assert_eq!(
            ts("9999-12-31T23:59:59.1Z").to_string(),
            "9999-12-31T23:59:59.1Z"
        );
        assert_eq!(
            Timestamp::new(253_402_300_800, 0).to_string(),
            "10000-01-01T00:00:00Z"
        );
    }

    #[test]
    fn ordering_follows_time_not_text() {
        assert!(ts("2019-04-05T00:00:00+01:00") < ts("2019-04-05T00:00:00Z"));
        assert!(ts("2019-04-05T00:00:00.1Z") > ts("2019-04-05T00:00:00Z"));
    }
}
