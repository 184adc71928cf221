//! The two date formats the Calls API needs, without a date library: RFC 2822 in responses
//! (`Tue, 31 Aug 2010 20:36:28 +0000`) and `%Y-%m-%dT%H:%M:%SZ` in list filters.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Formats `t` in UTC as `YYYY-MM-DDTHH:MM:SSZ`, truncating sub-seconds.
pub(crate) fn format_utc(t: SystemTime) -> String {
    let secs = epoch_seconds_floor(t);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    )
}

/// Seconds since the epoch, rounded down (negative before 1970).
pub(crate) fn epoch_seconds_floor(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() > 0 {
                -whole - 1
            } else {
                -whole
            }
        }
    }
}

/// The instant `secs` seconds from the epoch.
pub(crate) fn from_epoch_seconds(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// Parses an RFC 2822 date with an explicit zone: `+hhmm`/`-hhmm` (but not `-0000`, which
/// RFC 2822 defines as "zone unknown"), or `GMT`/`UT`/`UTC`/`Z`. The day name is optional.
pub(crate) fn parse_rfc2822(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let s = match s.split_once(',') {
        Some((day, rest)) if day.trim().len() == 3 => rest,
        Some(_) => return None,
        None => s,
    };
    let mut parts = s.split_whitespace();
    let day: u32 = parse_num(parts.next()?, 1, 2)?;
    let month = month_number(parts.next()?)?;
    let year: i64 = parse_num(parts.next()?, 4, 4)?;
    let mut hms = parts.next()?.split(':');
    let hour: i64 = parse_num(hms.next()?, 2, 2)?;
    let minute: i64 = parse_num(hms.next()?, 2, 2)?;
    let second: i64 = match hms.next() {
        Some(x) => parse_num(x, 2, 2)?,
        None => 0,
    };
    if hms.next().is_some() {
        return None;
    }
    let offset = zone_offset_seconds(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    if day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(from_epoch_seconds(secs))
}

fn parse_num<T: std::str::FromStr>(s: &str, min_len: usize, max_len: usize) -> Option<T> {
    (s.len() >= min_len && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn month_number(s: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = s.to_ascii_lowercase();
    let i = MONTHS.iter().position(|m| *m == lower)?;
    u32::try_from(i + 1).ok()
}

fn zone_offset_seconds(z: &str) -> Option<i64> {
    if ["GMT", "UT", "UTC", "Z"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(z))
    {
        return Some(0);
    }
    let (sign, digits) = match z.as_bytes().first()? {
        b'+' => (1, &z[1..]),
        b'-' => (-1, &z[1..]),
        _ => return None,
    };
    if z == "-0000" {
        return None;
    }
    let hhmm: i64 = parse_num(digits, 4, 4)?;
    let (h, m) = (hhmm / 100, hhmm % 100);
    (h <= 23 && m <= 59).then_some(sign * (h * 3600 + m * 60))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(format_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_283_286_988_900);
        assert_eq!(format_utc(t), "2010-08-31T20:36:28Z");
        assert_eq!(
            format_utc(from_epoch_seconds(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn parses_rfc2822() {
        let t = parse_rfc2822("Tue, 31 Aug 2010 20:36:28 +0000").unwrap();
        assert_eq!(epoch_seconds_floor(t), 1_283_286_988);
        let t = parse_rfc2822("31 Aug 2010 22:36:28 +0200").unwrap();
        assert_eq!(epoch_seconds_floor(t), 1_283_286_988);
        let t = parse_rfc2822("Tue, 31 Aug 2010 15:36:28 -0500").unwrap();
        assert_eq!(epoch_seconds_floor(t), 1_283_286_988);
        assert!(parse_rfc2822("Tue, 31 Aug 2010 20:36:28 GMT").is_some());
        for bad in [
            "",
            "Tue, 31 Aug 2010 20:36:28",
            "Tue, 31 Aug 2010 20:36:28 -0000",
            "Tue, 31 Foo 2010 20:36:28 +0000",
            "Tue, 31 Feb 2010 20:36:28 +0000",
            "2010-08-31T20:36:28Z",
            "Tue, 31 Aug 2010 25:36:28 +0000",
            "Tue, 31 Aug 2010 20:36:28 +0000 extra",
        ] {
            assert!(parse_rfc2822(bad).is_none(), "{bad}");
        }
    }
}
