//! Go durations (`300ms`, `1.5s`, `1h30m`), as Kubernetes' Go code reads them with
//! `time.ParseDuration`: the cron `@every` descriptor, the simulated runtime's annotations.

/// Go's `time.ParseDuration`: the duration in nanoseconds (negative ones too), or its error
/// message.
pub fn parse_go(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_end =
            rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..number_end];
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[number_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let scale = match unit {
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => return Err(format!("time: unknown unit {other:?} in duration {text:?}")),
        };
        total += value * scale;
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    let nanos = total as i64;
    Ok(if negative { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_go_parses_them() {
        let second = 1_000_000_000;
        assert_eq!(parse_go("0"), Ok(0));
        assert_eq!(parse_go("300ms"), Ok(300_000_000));
        assert_eq!(parse_go("1.5s"), Ok(second * 3 / 2));
        assert_eq!(parse_go("1h30m"), Ok(5_400 * second));
        assert_eq!(parse_go("-2s"), Ok(-2 * second));
        assert_eq!(parse_go(""), Err(r#"time: invalid duration """#.to_owned()));
        assert_eq!(parse_go("5"), Err(r#"time: missing unit in duration "5""#.to_owned()));
        assert_eq!(
            parse_go("3 days"),
            Err(r#"time: unknown unit " days" in duration "3 days""#.to_owned())
        );
    }
}
