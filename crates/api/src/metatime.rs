//! `metav1.Time` and `metav1.MicroTime` as kube-apiserver decodes and re-encodes them: Go's
//! `time.Parse` of their layouts (RFC 3339, and RFC 3339 with exactly six fraction digits),
//! with its error messages, and the UTC text their `MarshalJSON` writes (whole seconds for
//! Time, microseconds for MicroTime; the zero time as `null`). A client may send
//! `2026-12-07T22:00:00.123456+01:00`; a cluster stores and shows `2026-12-07T21:00:00Z`.

/// Which of the two types a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// `metav1.Time`: layout `time.RFC3339`, written in whole seconds.
    Seconds,
    /// `metav1.MicroTime`: layout `2006-01-02T15:04:05.000000Z07:00`, written in microseconds.
    Micros,
}

impl Precision {
    fn layout(self) -> &'static str {
        match self {
            Precision::Seconds => "2006-01-02T15:04:05Z07:00",
            Precision::Micros => "2006-01-02T15:04:05.000000Z07:00",
        }
    }
}

/// What a time field's text becomes once kube-apiserver has decoded it and encoded it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reencoded {
    /// The text is already what `MarshalJSON` writes (the common case: nothing to allocate).
    Unchanged,
    /// This text instead.
    Text(String),
    /// The zero time, written as `null`.
    Null,
}

/// `text` as kube-apiserver decodes and re-encodes it, or the decoding error (`parsing time
/// "…" as "…": cannot parse "…" as "…"`).
pub fn normalize(text: &str, precision: Precision) -> Result<Reencoded, String> {
    let parsed = parse(text, precision)?;
    // Seconds since 0001-01-01T00:00:00Z, Go's zero time.
    let seconds = parsed.unix_seconds();
    if seconds == ZERO_UNIX && parsed.nanos == 0 {
        return Ok(Reencoded::Null);
    }
    // Parsed with every element at full width and in UTC: formatting would give it back.
    let canonical_len = match precision {
        Precision::Seconds => "2006-01-02T15:04:05Z".len(),
        Precision::Micros => "2006-01-02T15:04:05.000000Z".len(),
    };
    if text.len() == canonical_len && text.ends_with('Z') {
        return Ok(Reencoded::Unchanged);
    }
    Ok(Reencoded::Text(format(seconds, parsed.nanos, precision)))
}

/// The Unix seconds of a time field's text as Go's `time.Parse(time.RFC3339, …)` reads it (a
/// fraction is dropped), or `None` if it does not parse.
pub fn unix_seconds(text: &str) -> Option<i64> {
    parse(text, Precision::Seconds).ok().map(|parsed| parsed.unix_seconds())
}

/// `time.Unix(unix, 0).UTC().Format(time.RFC3339)`: a timestamp as Kubernetes writes it
/// (`2026-12-07T22:00:00Z`).
pub fn format_seconds(unix: i64) -> String {
    format(unix, 0, Precision::Seconds)
}

/// A decoding error for a value that is not a JSON string at all (`encoding/json`'s, from the
/// types' `UnmarshalJSON`, which decodes a string first).
pub fn not_a_string(value: &serde_json::Value) -> String {
    let found = match value {
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
        serde_json::Value::String(_) | serde_json::Value::Null => "string",
    };
    format!("json: cannot unmarshal {found} into Go value of type string")
}

/// Unix seconds of `0001-01-01T00:00:00Z`, Go's zero time (which `IsZero` treats as unset).
pub const ZERO_UNIX: i64 = -62_135_596_800;

#[derive(Debug)]
struct Parsed {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    nanos: i64,
    /// East of UTC, in seconds.
    offset: i64,
}

impl Parsed {
    fn unix_seconds(&self) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        days * 86_400 + self.hour * 3_600 + self.minute * 60 + self.second - self.offset
    }
}

/// Go's `ParseError`, worded as its `Error` method words it.
fn cannot_parse(text: &str, layout: &str, value_elem: &str, layout_elem: &str) -> String {
    format!(
        "parsing time {} as {}: cannot parse {} as {}",
        go_quote(text),
        go_quote(layout),
        go_quote(value_elem),
        go_quote(layout_elem)
    )
}

fn with_message(text: &str, message: &str) -> String {
    format!("parsing time {}{message}", go_quote(text))
}

/// The `time` package's `quote`: bytes outside printable ASCII as `\xNN`.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for (i, c) in s.char_indices() {
        if c.is_ascii() && c >= ' ' && c != '\x7f' {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        } else {
            for byte in &s.as_bytes()[i..i + c.len_utf8()] {
                out.push_str(&format!("\\x{byte:02x}"));
            }
        }
    }
    out.push('"');
    out
}

fn digit(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(u8::is_ascii_digit)
}

/// `getnum`: one or two digits (exactly two when `fixed`), and the rest.
fn getnum(s: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    if !digit(s, 0) {
        return None;
    }
    if !digit(s, 1) {
        if fixed {
            return None;
        }
        return Some((i64::from(s[0] - b'0'), &s[1..]));
    }
    Some((i64::from(s[0] - b'0') * 10 + i64::from(s[1] - b'0'), &s[2..]))
}

/// `atoi`: an optional sign and digits, all of `s`.
fn atoi(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: i64 = 0;
    for d in digits {
        n = n.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if negative { -n } else { n })
}

/// `parseNanoseconds` of `value[..n]` (a '.' or ',' and digits): the nanoseconds, or the
/// range error's name, or `Err(())` for Go's `errBad`.
fn nanoseconds(value: &[u8], n: usize) -> Result<Result<i64, &'static str>, ()> {
    if !matches!(value.first(), Some(b'.' | b',')) {
        return Err(());
    }
    let n = n.min(10);
    let mut ns = atoi(&value[1..n]).ok_or(())?;
    if ns < 0 {
        return Ok(Err("fractional second"));
    }
    for _ in 0..(10 - n) {
        ns *= 10;
    }
    Ok(Ok(ns))
}

/// Go's `time.Parse(layout, text)` for the two layouts: each element in turn, with the error
/// the first bad one gives.
fn parse(text: &str, precision: Precision) -> Result<Parsed, String> {
    let layout = precision.layout();
    let bad = |value: &[u8], elem: &str| {
        cannot_parse(text, layout, &String::from_utf8_lossy(value), elem)
    };
    let range = |what: &str| with_message(text, &format!(": {what} out of range"));
    let literal = |value: &'_ [u8], c: u8| -> Result<(), String> {
        if value.first() == Some(&c) { Ok(()) } else { Err(bad(value, &(c as char).to_string())) }
    };
    let v = text.as_bytes();
    // 2006
    if v.len() < 4 || !digit(v, 0) {
        return Err(bad(v, "2006"));
    }
    let year = atoi(&v[..4]).ok_or_else(|| bad(v, "2006"))?;
    let v = &v[4..];
    literal(v, b'-')?;
    let v = &v[1..];
    // 01
    let (month, rest) = getnum(v, true).ok_or_else(|| bad(v, "01"))?;
    if !(1..=12).contains(&month) {
        return Err(range("month"));
    }
    let v = rest;
    literal(v, b'-')?;
    let v = &v[1..];
    // 02: any one- or two-digit day here; checked against the month at the end.
    let (day, v) = getnum(v, true).ok_or_else(|| bad(v, "02"))?;
    literal(v, b'T')?;
    let v = &v[1..];
    // 15
    let (hour, rest) = getnum(v, false).ok_or_else(|| bad(v, "15"))?;
    if hour >= 24 {
        return Err(range("hour"));
    }
    let v = rest;
    literal(v, b':')?;
    let v = &v[1..];
    // 04
    let (minute, rest) = getnum(v, true).ok_or_else(|| bad(v, "04"))?;
    if minute >= 60 {
        return Err(range("minute"));
    }
    let v = rest;
    literal(v, b':')?;
    let v = &v[1..];
    // 05
    let (second, mut v) = getnum(v, true).ok_or_else(|| bad(v, "05"))?;
    if second >= 60 {
        return Err(range("second"));
    }
    let mut nanos = 0;
    match precision {
        Precision::Seconds => {
            // A fraction the layout lacks is read all the same.
            if v.len() >= 2 && matches!(v[0], b'.' | b',') && digit(v, 1) {
                let n = 2 + v[2..].iter().take_while(|b| b.is_ascii_digit()).count();
                match nanoseconds(v, n) {
                    Ok(Ok(ns)) => nanos = ns,
                    Ok(Err(what)) => return Err(range(what)),
                    Err(()) => return Err(bad(v, "05")),
                }
                v = &v[n..];
            }
        }
        Precision::Micros => {
            // .000000
            if v.len() < 7 {
                return Err(bad(v, ".000000"));
            }
            match nanoseconds(v, 7) {
                Ok(Ok(ns)) => nanos = ns,
                Ok(Err(what)) => return Err(range(what)),
                Err(()) => return Err(bad(v, ".000000")),
            }
            v = &v[7..];
        }
    }
    // Z07:00
    let offset = if v.first() == Some(&b'Z') {
        v = &v[1..];
        0
    } else {
        if v.len() < 6 || v[3] != b':' {
            return Err(bad(v, "Z07:00"));
        }
        let (sign, hours, minutes) = (v[0], &v[1..3], &v[4..6]);
        let parsed = getnum(hours, true).zip(getnum(minutes, true));
        let Some(((hh, _), (mm, _))) = parsed else { return Err(bad(v, "Z07:00")) };
        if hh > 24 {
            return Err(range("time zone offset hour"));
        }
        if mm > 60 {
            return Err(range("time zone offset minute"));
        }
        let offset = (hh * 60 + mm) * 60;
        let offset = match sign {
            b'+' => offset,
            b'-' => -offset,
            _ => return Err(bad(v, "Z07:00")),
        };
        v = &v[6..];
        offset
    };
    if !v.is_empty() {
        let extra = String::from_utf8_lossy(v);
        return Err(with_message(text, &format!(": extra text: {}", go_quote(&extra))));
    }
    if day < 1 || day > days_in(month, year) {
        return Err(range("day"));
    }
    Ok(Parsed { year, month, day, hour, minute, second, nanos, offset })
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `t.UTC().Format(layout)`: the year padded to four digits (signed when negative).
fn format(unix: i64, nanos: i64, precision: Precision) -> String {
    let (year, month, day) = civil_from_days(unix.div_euclid(86_400));
    let secs = unix.rem_euclid(86_400);
    let year = if year < 0 { format!("-{:04}", -year) } else { format!("{year:04}") };
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match precision {
        Precision::Seconds => format!("{year}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z"),
        Precision::Micros => {
            let micros = nanos / 1000;
            format!("{year}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{micros:06}Z")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text stored for `text`; `None` for `null`.
    fn stored(text: &str, precision: Precision) -> Result<Option<String>, String> {
        Ok(match normalize(text, precision)? {
            Reencoded::Unchanged => Some(text.to_owned()),
            Reencoded::Text(text) => Some(text),
            Reencoded::Null => None,
        })
    }

    fn time(text: &str) -> Result<Option<String>, String> {
        stored(text, Precision::Seconds)
    }

    fn micro(text: &str) -> Result<Option<String>, String> {
        stored(text, Precision::Micros)
    }

    #[test]
    fn times_are_written_in_utc_whole_seconds() {
        let same = "2026-12-07T22:00:00Z";
        assert_eq!(time(same).unwrap().as_deref(), Some(same));
        assert_eq!(time("2026-12-07T22:00:00.987654Z").unwrap().as_deref(), Some(same));
        assert_eq!(time("2026-12-07T23:30:00+01:30").unwrap().as_deref(), Some(same));
        assert_eq!(time("2026-12-07T20:00:00.5-02:00").unwrap().as_deref(), Some(same));
        // A comma before the fraction and a one-digit hour, as Go's general parser reads them.
        assert_eq!(time("2026-12-08T9:00:00,25+11:00").unwrap().as_deref(), Some(same));
        // Across a year, and a leap day.
        assert_eq!(
            time("2025-01-01T00:30:00+01:00").unwrap().as_deref(),
            Some("2024-12-31T23:30:00Z")
        );
        assert_eq!(time("2024-02-29T12:00:00Z").unwrap().as_deref(), Some("2024-02-29T12:00:00Z"));
        // The zero time is written as null.
        assert_eq!(time("0001-01-01T00:00:00Z"), Ok(None));
        assert_eq!(time("0001-01-01T01:00:00+01:00"), Ok(None));
    }

    #[test]
    fn micro_times_keep_six_fraction_digits() {
        let same = "2026-12-07T22:00:00.123456Z";
        assert_eq!(micro(same).unwrap().as_deref(), Some(same));
        assert_eq!(micro("2026-12-07T23:00:00.123456+01:00").unwrap().as_deref(), Some(same));
        assert_eq!(micro("0001-01-01T00:00:00.000000Z"), Ok(None));
        assert_eq!(
            micro("0001-01-01T00:00:00.000001Z").unwrap().as_deref(),
            Some("0001-01-01T00:00:00.000001Z")
        );
    }

    #[test]
    fn bad_times_get_go_parse_errors() {
        let layout = r#"as "2006-01-02T15:04:05Z07:00""#;
        assert_eq!(
            time("garbage").unwrap_err(),
            format!(r#"parsing time "garbage" {layout}: cannot parse "garbage" as "2006""#)
        );
        assert_eq!(
            time("").unwrap_err(),
            format!(r#"parsing time "" {layout}: cannot parse "" as "2006""#)
        );
        assert_eq!(
            time("2026-12-07 22:00:00Z").unwrap_err(),
            format!(
                r#"parsing time "2026-12-07 22:00:00Z" {layout}: cannot parse " 22:00:00Z" as "T""#
            )
        );
        assert_eq!(
            time("2026-12-07T22:00:00").unwrap_err(),
            format!(r#"parsing time "2026-12-07T22:00:00" {layout}: cannot parse "" as "Z07:00""#)
        );
        assert_eq!(
            time("2026-1-07T22:00:00Z").unwrap_err(),
            format!(
                r#"parsing time "2026-1-07T22:00:00Z" {layout}: cannot parse "1-07T22:00:00Z" as "01""#
            )
        );
        assert_eq!(
            time("2026-12-07T22:00:00+0100").unwrap_err(),
            format!(
                r#"parsing time "2026-12-07T22:00:00+0100" {layout}: cannot parse "+0100" as "Z07:00""#
            )
        );
        assert_eq!(
            time("2026-13-07T22:00:00Z").unwrap_err(),
            r#"parsing time "2026-13-07T22:00:00Z": month out of range"#
        );
        assert_eq!(
            time("2026-02-30T22:00:00Z").unwrap_err(),
            r#"parsing time "2026-02-30T22:00:00Z": day out of range"#
        );
        assert_eq!(
            time("2026-12-07T24:00:00Z").unwrap_err(),
            r#"parsing time "2026-12-07T24:00:00Z": hour out of range"#
        );
        assert_eq!(
            time("2026-12-07T22:60:00Z").unwrap_err(),
            r#"parsing time "2026-12-07T22:60:00Z": minute out of range"#
        );
        assert_eq!(
            time("2026-12-07T22:00:00Zjunk").unwrap_err(),
            r#"parsing time "2026-12-07T22:00:00Zjunk": extra text: "junk""#
        );
        assert_eq!(
            time("2026-12-07T22:00:00+25:00").unwrap_err(),
            r#"parsing time "2026-12-07T22:00:00+25:00": time zone offset hour out of range"#
        );
        assert_eq!(
            time("2026-12-07T22:00:00Z\u{e9}").unwrap_err(),
            r#"parsing time "2026-12-07T22:00:00Z\xc3\xa9": extra text: "\xc3\xa9""#
        );
    }

    #[test]
    fn micro_times_need_their_six_digits() {
        let layout = r#"as "2006-01-02T15:04:05.000000Z07:00""#;
        assert_eq!(
            micro("2026-12-07T22:00:00Z").unwrap_err(),
            format!(
                r#"parsing time "2026-12-07T22:00:00Z" {layout}: cannot parse "Z" as ".000000""#
            )
        );
        assert_eq!(
            micro("2026-12-07T22:00:00.123Z").unwrap_err(),
            format!(
                r#"parsing time "2026-12-07T22:00:00.123Z" {layout}: cannot parse ".123Z" as ".000000""#
            )
        );
    }

    #[test]
    fn dates_and_day_counts_agree() {
        for days in [-719_162, -1, 0, 1, 10_957, 20_429, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(1, 1, 1) * 86_400, ZERO_UNIX);
    }
}
