//! The string formats kube-openapi's default registry checks (`pkg/validation/strfmt`), for the
//! formats CRD schemas support. `email` and `uri` are approximations of Go's `net/mail` and
//! `net/url` parsers; the others follow upstream's rules.

use std::net::Ipv6Addr;
use std::sync::OnceLock;

use super::regex::Regex;

/// The registry's name normalization (`DefaultNameNormalizer`): `-` removed.
fn normalize(format: &str) -> String {
    format.replace('-', "")
}

/// Whether the registry knows `format` (the format validator applies).
pub(super) fn known(format: &str) -> bool {
    !format.is_empty()
        && matches!(
            normalize(format).as_str(),
            "bsonobjectid"
                | "uri"
                | "email"
                | "hostname"
                | "ipv4"
                | "ipv6"
                | "cidr"
                | "mac"
                | "uuid"
                | "uuid3"
                | "uuid4"
                | "uuid5"
                | "isbn"
                | "isbn10"
                | "isbn13"
                | "creditcard"
                | "ssn"
                | "hexcolor"
                | "rgbcolor"
                | "byte"
                | "password"
                | "date"
                | "duration"
                | "datetime"
        )
}

/// `Registry.Validates`: whether `text` is of `format`.
pub(super) fn validates(format: &str, text: &str) -> bool {
    match normalize(format).as_str() {
        "bsonobjectid" => text.len() == 24 && text.bytes().all(|b| b.is_ascii_hexdigit()),
        "uri" => is_request_uri(text),
        "email" => is_email(text),
        "hostname" => is_hostname(text),
        "ipv4" => parse_ip_sloppy(text) && text.contains('.'),
        "ipv6" => parse_ip_sloppy(text) && text.contains(':'),
        "cidr" => is_cidr(text),
        "mac" => is_mac(text),
        "uuid" => is_uuid(text, None),
        "uuid3" => is_uuid(text, Some('3')),
        "uuid4" => is_uuid(text, Some('4')),
        "uuid5" => is_uuid(text, Some('5')),
        "isbn" => is_isbn10(text) || is_isbn13(text),
        "isbn10" => is_isbn10(text),
        "isbn13" => is_isbn13(text),
        "creditcard" => is_credit_card(text),
        "ssn" => cached(&SSN, r"^\d{3}[- ]?\d{2}[- ]?\d{4}$", text),
        "hexcolor" => cached(&HEXCOLOR, r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", text),
        "rgbcolor" => cached(&RGBCOLOR, RGB_PATTERN, text),
        "byte" => cached(&BASE64, BASE64_PATTERN, text),
        "password" => true,
        "date" => is_date(text),
        "duration" => is_duration(text),
        "datetime" => is_date_time(text),
        _ => true,
    }
}

static SSN: OnceLock<Option<Regex>> = OnceLock::new();
static HEXCOLOR: OnceLock<Option<Regex>> = OnceLock::new();
static RGBCOLOR: OnceLock<Option<Regex>> = OnceLock::new();
static BASE64: OnceLock<Option<Regex>> = OnceLock::new();
static HOSTNAME: OnceLock<Option<Regex>> = OnceLock::new();

const RGB_PATTERN: &str = r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$";
const BASE64_PATTERN: &str =
    r"^(?:[A-Za-z0-9+\/]{4})*(?:[A-Za-z0-9+\/]{2}==|[A-Za-z0-9+\/]{3}=|[A-Za-z0-9+\/]{4})$";
/// strfmt's `HostnamePattern`.
const HOSTNAME_PATTERN: &str = r"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$";

fn cached(cell: &OnceLock<Option<Regex>>, pattern: &str, text: &str) -> bool {
    cell.get_or_init(|| Regex::new(pattern)).as_ref().is_none_or(|re| re.is_match(text))
}

/// `IsHostname`: the pattern, at most 255 bytes, labels of at most 63.
fn is_hostname(text: &str) -> bool {
    cached(&HOSTNAME, HOSTNAME_PATTERN, text)
        && text.len() <= 255
        && text.split('.').all(|label| label.len() <= 63)
}

/// `IsDate`: `time.Parse("2006-01-02", …)`.
fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = text.get(r)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok()).flatten()
    };
    let (Some(year), Some(month), Some(day)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// `IsDateTime`: lower-cased, split at `t`; the first part a date, the second
/// `hh:mm:ss(.frac)?(z|±hh:mm)` with hours, minutes and seconds compared as text.
fn is_date_time(text: &str) -> bool {
    if text.len() < 4 {
        return false;
    }
    let lower = text.to_lowercase();
    let parts: Vec<&str> = lower.split('t').collect();
    if parts.len() < 2 || !is_date(parts[0]) {
        return false;
    }
    let t = parts[1].as_bytes();
    let two = |i: usize| t.get(i..i + 2).filter(|d| d.iter().all(u8::is_ascii_digit));
    let (Some(h), Some(m), Some(s)) = (two(0), two(3), two(6)) else {
        return false;
    };
    if t.get(2) != Some(&b':') || t.get(5) != Some(&b':') {
        return false;
    }
    let mut i = 8;
    // `(.[0-9]+)?`: any one character, then digits.
    if t.len() > i + 1 && t[i] != b'z' && t[i] != b'+' && t[i] != b'-' {
        let start = i + 1;
        let mut j = start;
        while t.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j == start {
            return false;
        }
        i = j;
    }
    let zone = &t[i.min(t.len())..];
    let zone_ok = zone == b"z"
        || (zone.len() == 6
            && (zone[0] == b'+' || zone[0] == b'-')
            && zone[1..3].iter().all(u8::is_ascii_digit)
            && zone[3] == b':'
            && zone[4..6].iter().all(u8::is_ascii_digit));
    zone_ok && h <= b"23".as_slice() && m <= b"59".as_slice() && s <= b"59".as_slice()
}

/// strfmt's `ParseDuration`: Go's `time.ParseDuration`, or any `<digits><unit>` with a unit it
/// recognizes (`5 minutes`, `3d`, `2 weeks`).
fn is_duration(text: &str) -> bool {
    if crate::duration::parse_go(text).is_ok() {
        return true;
    }
    const UNITS: &[&[&str]] = &[
        &["ns", "nano"],
        &["us", "µs", "micro"],
        &["ms", "milli"],
        &["s", "sec"],
        &["m", "min"],
        &["h", "hr", "hour"],
        &["d", "day"],
        &["w", "wk", "week"],
    ];
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_alphabetic() || chars[i] == 'µ') {
            i += 1;
        }
        if start == i {
            continue;
        }
        let unit: String = chars[start..i].iter().collect::<String>().to_lowercase();
        for variants in UNITS {
            let last = variants.len() - 1;
            for (n, variant) in variants.iter().enumerate() {
                if (n == last && unit.starts_with(variant)) || unit.eq_ignore_ascii_case(variant) {
                    return true;
                }
            }
        }
    }
    false
}

/// `IsUUID*`: 32 hex digits in groups 8-4-4-4-12, hyphens optional, any case; a version
/// digit (and for 4 and 5 a variant) where asked.
fn is_uuid(text: &str, version: Option<char>) -> bool {
    let hex: Vec<char> = text.chars().filter(|&c| c != '-').collect();
    if hex.len() != 32 || !hex.iter().all(char::is_ascii_hexdigit) {
        return false;
    }
    // Hyphens only at the group boundaries.
    let mut pos = 0;
    let mut chars = text.chars().peekable();
    for group in [8, 4, 4, 4, 12] {
        for _ in 0..group {
            if chars.next().is_none_or(|c| c == '-') {
                return false;
            }
            pos += 1;
        }
        if pos < 32 && chars.peek() == Some(&'-') {
            chars.next();
        }
    }
    if chars.next().is_some() {
        return false;
    }
    match version {
        None => true,
        Some(v) => {
            hex[12] == v
                && (v == '3' || matches!(hex[16].to_ascii_lowercase(), '8' | '9' | 'a' | 'b'))
        }
    }
}

/// `netutils.ParseIPSloppy`: IPv4 (leading zeros allowed) or IPv6.
fn parse_ip_sloppy(text: &str) -> bool {
    parse_ipv4_sloppy(text) || text.parse::<Ipv6Addr>().is_ok()
}

fn parse_ipv4_sloppy(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// `netutils.ParseCIDRSloppy`.
fn is_cidr(text: &str) -> bool {
    let Some((ip, prefix)) = text.split_once('/') else { return false };
    let bits = if parse_ipv4_sloppy(ip) {
        32
    } else if ip.parse::<Ipv6Addr>().is_ok() {
        128
    } else {
        return false;
    };
    !prefix.is_empty()
        && prefix.len() <= 3
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && prefix.parse::<u32>().is_ok_and(|p| p <= bits)
}

/// `net.ParseMAC`: 6, 8 or 20 octets as `xx:xx:…`, `xx-xx-…` or `xxxx.xxxx.…`.
fn is_mac(text: &str) -> bool {
    let ok_len = |n: usize| n == 6 || n == 8 || n == 20;
    for sep in [':', '-'] {
        let parts: Vec<&str> = text.split(sep).collect();
        if parts.len() > 1 {
            return ok_len(parts.len())
                && parts.iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() > 1
        && ok_len(parts.len() * 2)
        && parts.iter().all(|p| p.len() == 4 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn isbn_digits(text: &str) -> String {
    text.chars().filter(|&c| c != ' ' && c != '-').collect()
}

/// govalidator's `IsISBN10`.
fn is_isbn10(text: &str) -> bool {
    let s: Vec<char> = isbn_digits(text).chars().collect();
    if s.len() != 10 || !s[..9].iter().all(char::is_ascii_digit) {
        return false;
    }
    let last = match s[9] {
        'X' => 10,
        c => match c.to_digit(10) {
            Some(d) => d,
            None => return false,
        },
    };
    let sum: u32 = s[..9]
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.to_digit(10).map(|d| (i as u32 + 1) * d))
        .sum::<u32>()
        + 10 * last;
    sum.is_multiple_of(11)
}

/// govalidator's `IsISBN13`.
fn is_isbn13(text: &str) -> bool {
    let s: Vec<u32> = isbn_digits(text).chars().filter_map(|c| c.to_digit(10)).collect();
    if s.len() != 13 || isbn_digits(text).chars().count() != 13 {
        return false;
    }
    let sum: u32 =
        s[..12].iter().enumerate().map(|(i, d)| if i % 2 == 0 { *d } else { 3 * d }).sum();
    (10 - sum % 10) % 10 == s[12]
}

/// govalidator's `IsCreditCard`, approximately: 13 to 19 digits once other characters are
/// removed, and a valid Luhn checksum.
fn is_credit_card(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 { d2 - 9 } else { d2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `net/mail.ParseAddress`, approximately: `local@domain`, optionally as `Name <local@domain>`.
fn is_email(text: &str) -> bool {
    let addr = match (text.rfind('<'), text.ends_with('>')) {
        (Some(open), true) => &text[open + 1..text.len() - 1],
        _ => text.trim(),
    };
    match addr.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !addr.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
        }
        None => false,
    }
}

/// `url.ParseRequestURI`, approximately: an absolute URI (`scheme:…`) or an absolute path,
/// without spaces or control characters.
fn is_request_uri(text: &str) -> bool {
    if text.is_empty() || text.chars().any(|c| c.is_control() || c == ' ') {
        return false;
    }
    if text.starts_with('/') {
        return true;
    }
    let Some((scheme, _)) = text.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}
