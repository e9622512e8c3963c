//! UTC timestamps without a time-zone database: formatting "now" and comparing Docker's RFC 3339 stamps.

use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `2026-11-28T22:22:22Z`
pub fn rfc3339_now() -> String {
    let s = now_secs();
    let (y, m, d) = civil(s.div_euclid(86400));
    let r = s.rem_euclid(86400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        r / 3600,
        r % 3600 / 60,
        r % 60
    )
}

/// `2026-11-28T22:22:22.123456789Z`: with nanoseconds, so that stamps taken within one second still order.
pub fn rfc3339_precise_now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let s = d.as_secs() as i64;
    let (y, m, day) = civil(s.div_euclid(86400));
    let r = s.rem_euclid(86400);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        r / 3600,
        r % 3600 / 60,
        r % 60,
        d.subsec_nanos()
    )
}

/// `2026-11-28T22:22:22.123456Z`: an instant (ns since the epoch) with microseconds, as journald keeps
/// them.
pub fn rfc3339_micros(ns: i128) -> String {
    let secs = ns.div_euclid(1_000_000_000) as i64;
    let micros = ns.rem_euclid(1_000_000_000) / 1000;
    let (y, m, d) = civil(secs.div_euclid(86400));
    let r = secs.rem_euclid(86400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        r / 3600,
        r % 3600 / 60,
        r % 60
    )
}

/// `20261128T222222Z`, for file and directory names that sort by time.
pub fn compact_now() -> String {
    rfc3339_now().replace(['-', ':'], "")
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into nanoseconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut nanos: i128 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        let mut padded = digits.chars().take(9).collect::<String>();
        while padded.len() < 9 {
            padded.push('0');
        }
        nanos = padded.parse().ok()?;
    }
    let offset_secs = match s.get(i..)? {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o.get(1..3)?.parse::<i64>().ok()? * 3600
                + o.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset_secs;
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

/// The instants a stamp can stand for, in nanoseconds since the epoch (first, last): a stamp with whole
/// seconds (Podman's log lines) stands for every instant of its second, one with milliseconds for every
/// instant of its millisecond, one with nanoseconds for itself.
pub fn stamp_bounds(s: &str) -> Option<(i128, i128)> {
    let first = parse_rfc3339(s)?;
    let digits = s
        .get(19..)
        .filter(|r| r.starts_with('.'))
        .map(|r| r[1..].bytes().take_while(u8::is_ascii_digit).count())
        .unwrap_or(0)
        .min(9);
    let step = 10_i128.pow(9 - digits as u32);
    Some((first, first + step - 1))
}

/// Nanoseconds since the epoch as the Docker API's `since`/`until` value: `seconds.nanoseconds`.
pub fn api_seconds(ns: i128) -> String {
    format!(
        "{}.{:09}",
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_stamps_and_orders_them() {
        let a = parse_rfc3339("2026-11-28T22:22:22.5Z").unwrap();
        let b = parse_rfc3339("2026-11-28T22:22:22.123456789Z").unwrap();
        assert!(b < a, "fractions of different lengths compare as numbers");
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        let t = parse_rfc3339("2026-12-06T11:05:00.450396Z").unwrap();
        assert_eq!(rfc3339_micros(t), "2026-12-06T11:05:00.450396Z");
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(
            parse_rfc3339("0001-01-01T00:00:00Z").map(|n| n < 0),
            Some(true)
        );
        assert_eq!(parse_rfc3339("not a time"), None);
    }

    #[test]
    fn stamps_stand_for_their_whole_precision() {
        let s = parse_rfc3339("2026-12-01T09:09:31Z").unwrap();
        assert_eq!(
            stamp_bounds("2026-12-01T09:09:31Z"),
            Some((s, s + 999_999_999))
        );
        assert_eq!(
            stamp_bounds("2026-12-01T09:09:31.250Z"),
            Some((s + 250_000_000, s + 250_999_999))
        );
        assert_eq!(
            stamp_bounds("2026-12-01T09:09:31.727488523Z"),
            Some((s + 727_488_523, s + 727_488_523))
        );
        assert_eq!(stamp_bounds(""), None);
        assert_eq!(
            api_seconds(1_796_116_235_435_038_979),
            "1796116235.435038979"
        );
        assert_eq!(api_seconds(5), "0.000000005");
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil(20_785), (2026, 11, 28));
        let now = rfc3339_now();
        assert_eq!(
            parse_rfc3339(&now).map(|n| n / 1_000_000_000 > 1_700_000_000),
            Some(true)
        );
        assert_eq!(compact_now().len(), 16);
    }
}
