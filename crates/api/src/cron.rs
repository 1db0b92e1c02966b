//! Cron schedules as CronJobs read them: robfig/cron v3's `ParseStandard` (five fields —
//! minute, hour, day of month, month, day of week — or a descriptor: `@yearly`, `@monthly`,
//! `@weekly`, `@daily`, `@hourly`, `@every <duration>`) with its error messages, and
//! `Schedule.Next` in a time zone. A `TZ=`/`CRON_TZ=` prefix is accepted as robfig accepts it;
//! CronJob validation refuses it separately.

use jiff::tz::TimeZone;
use jiff::{Span, Zoned};

/// A field's bounds and names (`bounds` in robfig's spec.go).
struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MINUTES: Bounds = Bounds { min: 0, max: 59, names: &[] };
const HOURS: Bounds = Bounds { min: 0, max: 23, names: &[] };
const DAYS_OF_MONTH: Bounds = Bounds { min: 1, max: 31, names: &[] };
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DAYS_OF_WEEK: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[("sun", 0), ("mon", 1), ("tue", 2), ("wed", 3), ("thu", 4), ("fri", 5), ("sat", 6)],
};

/// Set when a field was `*` or `?` (robfig's `starBit`): day-of-month and day-of-week then
/// both have to match instead of either.
const STAR: u64 = 1 << 63;

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    kind: Kind,
    /// The `TZ=` prefix's zone, if any.
    zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `SpecSchedule`: one bit per allowed value of each field.
    Spec { minute: u64, hour: u64, dom: u64, month: u64, dow: u64 },
    /// `ConstantDelaySchedule` (`@every`): whole seconds, at least one.
    Every { seconds: i64 },
}

impl Schedule {
    /// robfig/cron's `ParseStandard`; the error is its message.
    pub fn parse(spec: &str) -> Result<Schedule, String> {
        if spec.is_empty() {
            return Err("empty spec string".to_owned());
        }
        let mut spec = spec;
        let mut zone = None;
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            let space = spec.find(' ').unwrap_or(spec.len());
            let equals = spec.find('=').unwrap_or(0);
            let name = &spec[equals + 1..space];
            if TimeZone::get(name).is_err() {
                return Err(format!("provided bad location {name}: unknown time zone {name}"));
            }
            zone = Some(name.to_owned());
            spec = spec[space..].trim();
        }
        if spec.starts_with('@') {
            return Ok(Schedule { kind: descriptor(spec)?, zone });
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: [{}]",
                fields.len(),
                fields.join(" ")
            ));
        }
        let kind = Kind::Spec {
            minute: field(fields[0], &MINUTES)?,
            hour: field(fields[1], &HOURS)?,
            dom: field(fields[2], &DAYS_OF_MONTH)?,
            month: field(fields[3], &MONTHS)?,
            dow: field(fields[4], &DAYS_OF_WEEK)?,
        };
        Ok(Schedule { kind, zone })
    }

    /// The first activation strictly after `after` (`Schedule.Next`), in `after`'s time zone
    /// (or the schedule's own `TZ=` zone); `None` if there is none within five years.
    pub fn next(&self, after: &Zoned) -> Option<Zoned> {
        let after = match &self.zone {
            Some(name) => after.with_time_zone(TimeZone::get(name).ok()?),
            None => after.clone(),
        };
        match self.kind {
            Kind::Every { seconds } => {
                let nanos = i64::from(after.subsec_nanosecond());
                let span = Span::new().seconds(seconds).nanoseconds(-nanos);
                after.checked_add(span).ok()
            }
            Kind::Spec { minute, hour, dom, month, dow } => {
                next_spec(&after, minute, hour, dom, month, dow)
            }
        }
    }
}

/// `SpecSchedule.Next`: the next whole minute after `after` whose fields all match.
fn next_spec(
    after: &Zoned,
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
) -> Option<Zoned> {
    let has = |bits: u64, value: i64| bits & (1u64 << value) != 0;
    let day_matches = |t: &Zoned| {
        let dom_match = has(dom, i64::from(t.day()));
        let dow_match = has(dow, i64::from(t.weekday().to_sunday_zero_offset()));
        if dom & STAR != 0 || dow & STAR != 0 {
            dom_match && dow_match
        } else {
            dom_match || dow_match
        }
    };
    // Start at the next whole minute.
    let mut t = after.checked_add(Span::new().minutes(1)).ok()?;
    t = t.with().second(0).subsec_nanosecond(0).build().ok()?;
    let limit = after.year() + 5;
    while t.year() <= limit {
        if !has(month, i64::from(t.month())) {
            let first = t.with().day(1).hour(0).minute(0).build().ok()?;
            t = first.checked_add(Span::new().months(1)).ok()?;
            continue;
        }
        if !day_matches(&t) {
            let midnight = t.with().hour(0).minute(0).build().ok()?;
            t = midnight.checked_add(Span::new().days(1)).ok()?;
            continue;
        }
        if !has(hour, i64::from(t.hour())) {
            let whole = t.with().minute(0).build().ok()?;
            t = whole.checked_add(Span::new().hours(1)).ok()?;
            continue;
        }
        if !has(minute, i64::from(t.minute())) {
            t = t.checked_add(Span::new().minutes(1)).ok()?;
            continue;
        }
        return Some(t);
    }
    None
}

/// `parseDescriptor`.
fn descriptor(spec: &str) -> Result<Kind, String> {
    let all = |bounds: &Bounds| bits(bounds.min, bounds.max, 1) | STAR;
    let one = |bounds: &Bounds| 1u64 << bounds.min;
    let kind = match spec {
        "@yearly" | "@annually" => Kind::Spec {
            minute: one(&MINUTES),
            hour: one(&HOURS),
            dom: one(&DAYS_OF_MONTH),
            month: one(&MONTHS),
            dow: all(&DAYS_OF_WEEK),
        },
        "@monthly" => Kind::Spec {
            minute: one(&MINUTES),
            hour: one(&HOURS),
            dom: one(&DAYS_OF_MONTH),
            month: all(&MONTHS),
            dow: all(&DAYS_OF_WEEK),
        },
        "@weekly" => Kind::Spec {
            minute: one(&MINUTES),
            hour: one(&HOURS),
            dom: all(&DAYS_OF_MONTH),
            month: all(&MONTHS),
            dow: one(&DAYS_OF_WEEK),
        },
        "@daily" | "@midnight" => Kind::Spec {
            minute: one(&MINUTES),
            hour: one(&HOURS),
            dom: all(&DAYS_OF_MONTH),
            month: all(&MONTHS),
            dow: all(&DAYS_OF_WEEK),
        },
        "@hourly" => Kind::Spec {
            minute: one(&MINUTES),
            hour: all(&HOURS),
            dom: all(&DAYS_OF_MONTH),
            month: all(&MONTHS),
            dow: all(&DAYS_OF_WEEK),
        },
        _ => match spec.strip_prefix("@every ") {
            Some(duration) => {
                let nanos = crate::duration::parse_go(duration)
                    .map_err(|error| format!("failed to parse duration {spec}: {error}"))?;
                // `Every`: below a second is a second; fractions of a second are dropped.
                Kind::Every { seconds: (nanos / 1_000_000_000).max(1) }
            }
            None => return Err(format!("unrecognized descriptor: {spec}")),
        },
    };
    Ok(kind)
}

/// `getField`: comma-separated ranges.
fn field(text: &str, bounds: &Bounds) -> Result<u64, String> {
    let mut all = 0;
    for expr in text.split(',').filter(|e| !e.is_empty()) {
        all |= range(expr, bounds)?;
    }
    Ok(all)
}

/// `getRange`: `*`, `?`, `a`, `a-b`, each with an optional `/step`.
fn range(expr: &str, bounds: &Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end, mut extra);
    if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (start, end, extra) = (bounds.min, bounds.max, STAR);
    } else {
        start = int_or_name(low_and_high[0], bounds)?;
        end = match low_and_high.len() {
            1 => start,
            2 => int_or_name(low_and_high[1], bounds)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        extra = 0;
    }
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = int(range_and_step[1])?;
            // `N/step` means `N-max/step`.
            if single {
                end = bounds.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < bounds.min {
        return Err(format!("beginning of range ({start}) below minimum ({}): {expr}", bounds.min));
    }
    if end > bounds.max {
        return Err(format!("end of range ({end}) above maximum ({}): {expr}", bounds.max));
    }
    if start > end {
        return Err(format!("beginning of range ({start}) beyond end of range ({end}): {expr}"));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(bits(start, end, step) | extra)
}

fn bits(start: u32, end: u32, step: u32) -> u64 {
    (start..=end).step_by(step as usize).fold(0, |all, value| all | (1u64 << value))
}

/// `parseIntOrName`.
fn int_or_name(expr: &str, bounds: &Bounds) -> Result<u32, String> {
    let lower = expr.to_ascii_lowercase();
    match bounds.names.iter().find(|(name, _)| *name == lower) {
        Some((_, value)) => Ok(*value),
        None => int(expr),
    }
}

/// `mustParseInt`, with `strconv.Atoi`'s errors.
fn int(expr: &str) -> Result<u32, String> {
    let digits = expr.strip_prefix(['+', '-']).unwrap_or(expr);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: invalid syntax"
        ));
    }
    let number: i64 = match expr.parse() {
        Ok(number) => number,
        Err(_) => {
            return Err(format!(
                "failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: value out of range"
            ));
        }
    };
    if number < 0 {
        return Err(format!("negative number ({number}) not allowed: {expr}"));
    }
    u32::try_from(number).map_err(|_| format!("end of range ({number}) above maximum: {expr}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, zone: &str) -> Zoned {
        let timestamp: jiff::Timestamp = text.parse().unwrap();
        timestamp.to_zoned(TimeZone::get(zone).unwrap())
    }

    fn next(spec: &str, after: &Zoned) -> String {
        let next = Schedule::parse(spec).unwrap().next(after).unwrap();
        next.timestamp().to_string()
    }

    #[test]
    fn schedules_fire_when_robfig_s_do() {
        let noon = at("2026-12-07T12:00:30Z", "UTC");
        assert_eq!(next("* * * * *", &noon), "2026-12-07T12:01:00Z");
        assert_eq!(next("*/15 * * * *", &noon), "2026-12-07T12:15:00Z");
        assert_eq!(next("0 0 * * *", &noon), "2026-12-08T00:00:00Z");
        assert_eq!(next("@hourly", &noon), "2026-12-07T13:00:00Z");
        assert_eq!(next("@daily", &noon), "2026-12-08T00:00:00Z");
        assert_eq!(next("@weekly", &noon), "2026-12-13T00:00:00Z", "the next Sunday");
        assert_eq!(next("@monthly", &noon), "2027-01-01T00:00:00Z");
        assert_eq!(next("@yearly", &noon), "2027-01-01T00:00:00Z");
        assert_eq!(next("30 9 * * mon-fri", &noon), "2026-12-08T09:30:00Z");
        assert_eq!(next("0 0 29 feb *", &noon), "2028-02-29T00:00:00Z");
        // Day of month or day of week when neither is a star: the 1st or a Friday.
        assert_eq!(next("0 0 1 * 5", &noon), "2026-12-11T00:00:00Z");
        // Both when one is a star.
        assert_eq!(next("0 0 * * 5", &noon), "2026-12-11T00:00:00Z");
        assert_eq!(next("@every 90s", &noon), "2026-12-07T12:02:00Z");
        // In the zone given: 02:00 in New York is 07:00 UTC in December.
        let new_york = noon.with_time_zone(TimeZone::get("America/New_York").unwrap());
        assert_eq!(next("0 2 * * *", &new_york), "2026-12-08T07:00:00Z");
        assert_eq!(next("TZ=Asia/Tokyo 0 9 * * *", &noon), "2026-12-08T00:00:00Z");
        assert_eq!(Schedule::parse("0 0 31 2 *").unwrap().next(&noon), None, "never");
    }

    #[test]
    fn bad_schedules_fail_with_robfig_s_messages() {
        let error = |spec: &str| Schedule::parse(spec).unwrap_err();
        assert_eq!(error(""), "empty spec string");
        assert_eq!(error("foo"), "expected exactly 5 fields, found 1: [foo]");
        assert_eq!(error("* * * *"), "expected exactly 5 fields, found 4: [* * * *]");
        assert_eq!(
            error("x * * * *"),
            r#"failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax"#
        );
        assert_eq!(error("60 * * * *"), "end of range (60) above maximum (59): 60");
        assert_eq!(error("* * 0 * *"), "beginning of range (0) below minimum (1): 0");
        assert_eq!(error("5-1 * * * *"), "beginning of range (5) beyond end of range (1): 5-1");
        assert_eq!(error("*/0 * * * *"), "step of range should be a positive number: */0");
        assert_eq!(error("1-2-3 * * * *"), "too many hyphens: 1-2-3");
        assert_eq!(error("1/2/3 * * * *"), "too many slashes: 1/2/3");
        assert_eq!(error("* * * * 7"), "end of range (7) above maximum (6): 7");
        assert_eq!(error("@often"), "unrecognized descriptor: @often");
        assert_eq!(
            error("@every 5"),
            r#"failed to parse duration @every 5: time: missing unit in duration "5""#
        );
        assert_eq!(
            error("TZ=Mars/Olympus * * * * *"),
            "provided bad location Mars/Olympus: unknown time zone Mars/Olympus"
        );
        assert!(Schedule::parse("0,30 */2 1-15 JAN,jul ?").is_ok());
    }
}
