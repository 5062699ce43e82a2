//! Durations: `acr purge --ago` exactly as acr reads it (quirks included), and regprune's
//! strict grammar.

use crate::error::{Error, Result};

const NANOS_PER_SEC: i128 = 1_000_000_000;
const HOUR: i128 = 3600 * NANOS_PER_SEC;
const DAY: i128 = 24 * HOUR;
/// acr's cap: 150 years of 365 days.
const ACR_MAX_DAYS: i128 = 150 * 365;

/// How `acr purge` reads an `--ago` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AcrAgo {
    /// The duration in nanoseconds; the cut-off is `now - nanos` (negative: in the future).
    pub nanos: i128,
    /// True when acr capped the value to 150 years.
    pub capped: bool,
}

/// `parseDuration` of acr-cli: whole days before a `d` (read with Go's `Sscanf("%dd%s")`,
/// falling back to `Sscanf("%dd")`, which keeps the days and drops the rest), then a Go
/// duration; 150 years at most; a Go "invalid duration" error (which is also what overflow
/// gives) is taken as the cap.
pub(crate) fn acr_ago(s: &str) -> std::result::Result<AcrAgo, String> {
    if s.is_empty() {
        return Err("EOF".into());
    }
    let cap = AcrAgo {
        nanos: ACR_MAX_DAYS * DAY,
        capped: true,
    };
    let (days, rest) = if s.contains('d') {
        match scan_int(s) {
            Some((days, after)) => match after.strip_prefix('d') {
                // `%s` reads up to white space; an empty rest makes Sscanf fail, and the
                // fallback keeps the days.
                Some(tail) => (days, tail.split_whitespace().next().unwrap_or("")),
                None => (days, ""),
            },
            None => (0, ""),
        }
    } else {
        (0, s)
    };
    if days > ACR_MAX_DAYS {
        return Ok(cap);
    }
    let mut nanos = days * DAY;
    if !rest.is_empty() {
        match go_parse_duration(rest) {
            Ok(d) => nanos += d,
            Err(e) if e.starts_with("time: invalid duration") => return Ok(cap),
            Err(e) => return Err(e),
        }
    }
    if nanos > ACR_MAX_DAYS * DAY {
        return Ok(cap);
    }
    Ok(AcrAgo {
        nanos,
        capped: false,
    })
}

/// Go's `%d` verb: an optional sign and decimal digits.
fn scan_int(s: &str) -> Option<(i128, &str)> {
    let b = s.as_bytes();
    let sign = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = b[sign..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let end = sign + digits;
    // More digits than fit are an overflow in Go too; saturate, the cap handles it.
    let v = s[..end].parse::<i128>().unwrap_or(i128::MAX);
    Some((v, &s[end..]))
}

/// Go's `time.ParseDuration`, with its error messages, in nanoseconds.
pub(crate) fn go_parse_duration(orig: &str) -> std::result::Result<i128, String> {
    let invalid = || format!("time: invalid duration \"{orig}\"");
    let mut s = orig;
    let mut neg = false;
    if let Some(c) = s.chars().next() {
        if c == '-' || c == '+' {
            neg = c == '-';
            s = &s[1..];
        }
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let int: i128 = if int_len == 0 {
            0
        } else {
            s[..int_len].parse().map_err(|_| invalid())?
        };
        s = &s[int_len..];
        let mut frac = (0i128, 1i128);
        let mut has_frac = false;
        if let Some(rest) = s.strip_prefix('.') {
            let n = rest.bytes().take_while(u8::is_ascii_digit).count();
            has_frac = n > 0;
            for c in rest[..n].bytes().take(18) {
                frac = (frac.0 * 10 + i128::from(c - b'0'), frac.1 * 10);
            }
            s = &rest[n..];
        }
        if int_len == 0 && !has_frac {
            return Err(invalid());
        }
        let unit_len = s
            .bytes()
            .take_while(|c| !(*c == b'.' || c.is_ascii_digit()))
            .count();
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration \"{orig}\""));
        }
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SEC,
            "m" => 60 * NANOS_PER_SEC,
            "h" => HOUR,
            _ => {
                return Err(format!(
                    "time: unknown unit \"{unit}\" in duration \"{orig}\""
                ))
            }
        };
        total += int * scale + frac.0 * scale / frac.1;
        if total > i128::from(i64::MAX) {
            return Err(invalid());
        }
    }
    Ok(if neg { -total } else { total })
}

/// regprune's strict duration, in seconds: `30d`, `12h`, `1w2d`, `90m`, `45s` (units in
/// that order, each once), or ISO 8601 `P30D`, `P1W`, `PT12H`, `P1DT2H`. Years and months
/// have no fixed length and are refused.
pub fn parse_strict(path: &str, s: &str) -> Result<i64> {
    let err = |message: &str| Error::InvalidDuration {
        path: path.to_owned(),
        value: s.to_owned(),
        message: message.to_owned(),
    };
    let (body, units, iso): (&str, &[(char, i64)], bool) = match s.strip_prefix('P') {
        Some(rest) => (rest, &[], true),
        None => (
            s,
            &[
                ('w', 604_800),
                ('d', 86_400),
                ('h', 3_600),
                ('m', 60),
                ('s', 1),
            ],
            false,
        ),
    };
    if iso {
        return parse_iso(body).map_err(err);
    }
    let mut total: i64 = 0;
    let mut rest = body;
    let mut next_unit = 0;
    if rest.is_empty() {
        return Err(err("expected a number and a unit, like 30d, 12h or 1w2d"));
    }
    while !rest.is_empty() {
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(err("expected a number and a unit, like 30d, 12h or 1w2d"));
        }
        let value: i64 = rest[..n]
            .parse()
            .map_err(|_| err("the number is too large"))?;
        let Some(unit) = rest[n..].chars().next() else {
            return Err(err("missing unit: use w, d, h, m or s"));
        };
        let Some(pos) = units.iter().position(|(u, _)| *u == unit) else {
            return Err(err("unknown unit: use w, d, h, m or s"));
        };
        if pos < next_unit {
            return Err(err("units must come once each, largest first (1w2d3h)"));
        }
        next_unit = pos + 1;
        total = value
            .checked_mul(units[pos].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| err("the duration is too large"))?;
        rest = &rest[n + unit.len_utf8()..];
    }
    Ok(total)
}

fn parse_iso(body: &str) -> std::result::Result<i64, &'static str> {
    const BAD: &str = "expected ISO 8601 like P30D, P1W or PT12H";
    let (date, time) = match body.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return Err(BAD),
        None => (body, None),
    };
    let mut total: i64 = 0;
    let mut add = |part: &str, units: &[(char, i64)]| -> std::result::Result<(), &'static str> {
        let mut rest = part;
        let mut next = 0;
        while !rest.is_empty() {
            let n = rest.bytes().take_while(u8::is_ascii_digit).count();
            let unit = rest[n..].chars().next().ok_or(BAD)?;
            if n == 0 {
                return Err(BAD);
            }
            if matches!(unit, 'Y' | 'M') && units.len() == 2 {
                return Err("years and months have no fixed length; use days (P30D)");
            }
            let pos = units.iter().position(|(u, _)| *u == unit).ok_or(BAD)?;
            if pos < next {
                return Err(BAD);
            }
            next = pos + 1;
            let v: i64 = rest[..n].parse().map_err(|_| "the number is too large")?;
            total = v
                .checked_mul(units[pos].1)
                .and_then(|v| total.checked_add(v))
                .ok_or("the duration is too large")?;
            rest = &rest[n + unit.len_utf8()..];
        }
        Ok(())
    };
    if date.is_empty() && time.is_none() {
        return Err(BAD);
    }
    add(date, &[('W', 604_800), ('D', 86_400)])?;
    if let Some(t) = time {
        add(t, &[('H', 3_600), ('M', 60), ('S', 1)])?;
    }
    Ok(total)
}

/// Human words for a duration in nanoseconds (`2 days`, `3 days 2 hours`, `15 minutes`).
pub(crate) fn describe(nanos: i128) -> String {
    let neg = nanos < 0;
    let mut secs = nanos.abs() / NANOS_PER_SEC;
    let mut parts = Vec::new();
    for (unit, size) in [
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
        ("second", 1),
    ] {
        let n = secs / size;
        secs %= size;
        if n > 0 {
            parts.push(format!("{n} {unit}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if parts.is_empty() {
        parts.push("0 seconds".into());
    }
    let s = parts.join(" ");
    if neg {
        format!("minus {s} (a cut-off in the future)")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ago(s: &str) -> std::result::Result<i128, String> {
        acr_ago(s).map(|a| a.nanos)
    }

    #[test]
    fn acr_ago_matches_the_acr_test_table() {
        assert_eq!(ago("15m"), Ok(15 * 60 * NANOS_PER_SEC));
        assert_eq!(ago("1d1h3m"), Ok(DAY + HOUR + 3 * 60 * NANOS_PER_SEC));
        assert_eq!(ago("3d"), Ok(3 * DAY));
        assert_eq!(ago(""), Err("EOF".into()));
        for big in ["999999d", "9999999d", "999999999h", "9999999d999999999h"] {
            assert_eq!(acr_ago(big).unwrap().nanos, ACR_MAX_DAYS * DAY, "{big}");
            assert!(acr_ago(big).unwrap().capped);
        }
        assert_eq!(ago("0m"), Ok(0));
        assert_eq!(ago("-1d"), Ok(-DAY));
        assert_eq!(
            ago("15p"),
            Err("time: unknown unit \"p\" in duration \"15p\"".into())
        );
        assert_eq!(
            ago("15"),
            Err("time: missing unit in duration \"15\"".into())
        );
    }

    #[test]
    fn acr_ago_quirks_probed_against_acr() {
        assert_eq!(ago("2h3d"), Ok(2 * DAY));
        assert_eq!(ago("1.5d"), Ok(DAY));
        assert_eq!(ago("d"), Ok(0));
        for capped in ["7days", "abc", "1dx"] {
            assert!(acr_ago(capped).unwrap().capped, "{capped}");
        }
        assert!(ago("1w").is_err());
        assert_eq!(
            ago("1d5"),
            Err("time: missing unit in duration \"5\"".into())
        );
        assert_eq!(ago("1.5h"), Ok(HOUR * 3 / 2));
    }

    #[test]
    fn strict_durations() {
        assert_eq!(parse_strict("a", "30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_strict("a", "1w2d").unwrap(), 9 * 86_400);
        assert_eq!(parse_strict("a", "12h").unwrap(), 43_200);
        assert_eq!(parse_strict("a", "P30D").unwrap(), 30 * 86_400);
        assert_eq!(parse_strict("a", "P1DT2H").unwrap(), 93_600);
        assert_eq!(parse_strict("a", "PT90M").unwrap(), 5_400);
        for bad in [
            "", "2h3d", "1.5d", "d", "7days", "-1d", "1y", "P1M", "P1Y", "PT", "P", "30", "1d1d",
        ] {
            let e = parse_strict("ago", bad).unwrap_err();
            assert_eq!(e.code(), "invalid_duration", "{bad}");
        }
    }
}
