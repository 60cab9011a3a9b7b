//! The string formats kube-openapi's `strfmt.Default` registry checks for CRDs (pkg/validation/strfmt:
//! default.go, time.go, date.go, duration.go, bson.go, kubernetes-extensions.go and its vendored
//! govalidator), plus the parsers CEL needs for `date`, `date-time` and `duration` values.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use regex::Regex;

use super::model::normalize_format;

/// The patterns below are constants that compile; should one not, it matches nothing.
fn re(p: &str) -> Option<Regex> {
    Regex::new(p).ok()
}

fn is(r: &LazyLock<Option<Regex>>, s: &str) -> bool {
    r.as_ref().is_some_and(|r| r.is_match(s))
}

static HOSTNAME: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$",
    )
});
static UUID: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$"));
static UUID3: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
});
static UUID4: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
});
static UUID5: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
});
static BASE64: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$")
});
static CREDIT_CARD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35[0-9]{3})[0-9]{11})$",
    )
});
static HEXCOLOR: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"));
static RGBCOLOR: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let n = r"(0|[1-9][0-9]?|1[0-9][0-9]?|2[0-4][0-9]|25[0-5])";
    re(&format!(r"^rgb\(\s*{n}\s*,\s*{n}\s*,\s*{n}\s*\)$"))
});
static SSN: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"^[0-9]{3}[- ]?[0-9]{2}[- ]?[0-9]{4}$"));
static SHORT_NAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"));
static LONG_NAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"));
static DATE_TIME_TAIL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
});
static LENIENT_DURATION: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"(([0-9]+)\s*([A-Za-zµ]+))"));

/// Whether `value` is valid for the (already supported) `format`.
pub fn validates(format: &str, value: &str) -> bool {
    match normalize_format(format).as_str() {
        "bsonobjectid" => value.len() == 24 && value.bytes().all(|b| b.is_ascii_hexdigit()),
        "uri" => is_request_uri(value),
        "email" => is_email(value),
        "hostname" => {
            is(&HOSTNAME, value) && value.len() <= 255 && value.split('.').all(|p| p.len() <= 63)
        }
        "ipv4" => parse_ip_sloppy(value).is_some() && value.contains('.'),
        "ipv6" => parse_ip_sloppy(value).is_some() && value.contains(':'),
        "cidr" => is_cidr(value),
        "mac" => is_mac(value),
        "uuid" => is(&UUID, value),
        "uuid3" => is(&UUID3, value),
        "uuid4" => is(&UUID4, value),
        "uuid5" => is(&UUID5, value),
        "isbn" => is_isbn10(value) || is_isbn13(value),
        "isbn10" => is_isbn10(value),
        "isbn13" => is_isbn13(value),
        "creditcard" => is_credit_card(value),
        "ssn" => value.len() == 11 && is(&SSN, value),
        "hexcolor" => is(&HEXCOLOR, value),
        "rgbcolor" => is(&RGBCOLOR, value),
        "byte" => is(&BASE64, value),
        "date" => parse_date(value).is_some(),
        "datetime" => is_date_time(value),
        "duration" => parse_duration(value).is_some(),
        "k8sshortname" => value.len() <= 63 && is(&SHORT_NAME, value),
        "k8slongname" => value.len() <= 253 && is(&LONG_NAME, value),
        // "password" and anything else accepted by the registry.
        _ => true,
    }
}

/// `time.Parse("2006-01-02", s)`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

/// strfmt `IsDateTime`.
pub fn is_date_time(s: &str) -> bool {
    if s.len() < 4 {
        return false;
    }
    let lower = s.to_lowercase();
    let parts: Vec<&str> = lower.split('t').collect();
    if parts.len() < 2 || parse_date(parts[0]).is_none() {
        return false;
    }
    match DATE_TIME_TAIL.as_ref().and_then(|r| r.captures(parts[1])) {
        Some(c) => {
            let g = |i: usize| c.get(i).map(|m| m.as_str()).unwrap_or("");
            g(1) <= "23" && g(2) <= "59" && g(3) <= "59"
        }
        None => false,
    }
}

/// strfmt `ParseDateTime`: the layouts it tries, in order (RFC 3339 with fractions, or a local time
/// without zone, taken as UTC).
pub fn parse_date_time(s: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    let utc = FixedOffset::east_opt(0)?;
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .and_then(|n| utc.from_local_datetime(&n).single())
}

/// strfmt `ParseDuration`: Go's `time.ParseDuration`, else the lenient `3 days`/`1 hour` form. Returns
/// nanoseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    go_parse_duration(s).or_else(|| lenient_duration(s))
}

fn lenient_duration(s: &str) -> Option<i64> {
    const UNITS: &[(&[&str], i64)] = &[
        (&["ns", "nano"], 1),
        (&["us", "µs", "micro"], 1_000),
        (&["ms", "milli"], 1_000_000),
        (&["s", "sec"], 1_000_000_000),
        (&["m", "min"], 60_000_000_000),
        (&["h", "hr", "hour"], 3_600_000_000_000),
        (&["d", "day"], 86_400_000_000_000),
        (&["w", "wk", "week"], 604_800_000_000_000),
    ];
    let mut total: i64 = 0;
    let mut ok = false;
    let matcher = LENIENT_DURATION.as_ref()?;
    for c in matcher.captures_iter(s) {
        let factor: i64 = c.get(2)?.as_str().parse().ok()?;
        let unit = c
            .get(3)
            .map(|m| m.as_str().trim().to_lowercase())
            .unwrap_or_default();
        for (variants, mult) in UNITS {
            let last = variants.len() - 1;
            for (i, v) in variants.iter().enumerate() {
                if (i == last && unit.starts_with(v)) || v.eq_ignore_ascii_case(&unit) {
                    ok = true;
                    total = total.wrapping_add(factor.wrapping_mul(*mult));
                }
            }
        }
    }
    ok.then_some(total)
}

/// Go's `time.ParseDuration`.
pub fn go_parse_duration(s: &str) -> Option<i64> {
    let mut rest = s;
    let mut neg = false;
    if let Some(r) = rest.strip_prefix('-') {
        neg = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(r) = rest.strip_prefix('.') {
            let frac_len = r.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &r[..frac_len];
            rest = &r[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let mult: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().ok()?
        };
        let mut value = whole.checked_mul(mult)?;
        if !frac_part.is_empty() {
            let digits = &frac_part[..frac_part.len().min(30)];
            let scale = 10u128.checked_pow(digits.len() as u32)?;
            let frac: u128 = digits.parse().ok()?;
            value = value.checked_add(frac.checked_mul(mult)? / scale)?;
        }
        total = total.checked_add(value)?;
        if total > i64::MAX as u128 + u128::from(neg) {
            return None;
        }
    }
    let total = i128::try_from(total).ok()?;
    i64::try_from(if neg { -total } else { total }).ok()
}

/// `net/url.ParseRequestURI`: an absolute URI or an absolute path, without spaces or control characters.
fn is_request_uri(s: &str) -> bool {
    if s.is_empty() || s.chars().any(|c| c.is_control() || c == ' ') {
        return false;
    }
    let without_fragment = s;
    if without_fragment.starts_with('/') {
        return true;
    }
    let Some((scheme, _)) = without_fragment.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// An approximation of `net/mail.ParseAddress`: `local@domain`, optionally as `Name <local@domain>`.
fn is_email(s: &str) -> bool {
    let s = s.trim();
    let addr = match (s.rfind('<'), s.ends_with('>')) {
        (Some(i), true) => &s[i + 1..s.len() - 1],
        _ => s,
    };
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    !local.is_empty()
        && !domain.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(atext)
        && domain.chars().all(|c| {
            c.is_alphanumeric() || c == '-' || c == '.' || c == '[' || c == ']' || c == ':'
        })
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

/// `netutils.ParseIPSloppy`: like `net.ParseIP` but IPv4 octets may have leading zeros.
fn parse_ip_sloppy(s: &str) -> Option<IpAddr> {
    if let Some(v4) = parse_ipv4_sloppy(s) {
        return Some(IpAddr::V4(v4));
    }
    if s.contains(':') {
        return s.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    None
}

fn parse_ipv4_sloppy(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (o, p) in octets.iter_mut().zip(parts) {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = p.parse().ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, prefix)) = s.split_once('/') else {
        return false;
    };
    let Some(addr) = parse_ip_sloppy(ip) else {
        return false;
    };
    let max = if addr.is_ipv4() && !ip.contains(':') {
        32
    } else {
        128
    };
    !prefix.is_empty()
        && prefix.len() <= 3
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && prefix.parse::<u32>().is_ok_and(|p| p <= max)
}

/// `net.ParseMAC`: 6, 8 or 20 octets, `:`/`-` separated pairs or `.` separated quads of hex digits.
fn is_mac(s: &str) -> bool {
    let octets_ok = |n: usize| n == 6 || n == 8 || n == 20;
    let hex = |p: &str, len: usize| p.len() == len && p.bytes().all(|b| b.is_ascii_hexdigit());
    if s.len() < 14 {
        return false;
    }
    match s.as_bytes().get(2) {
        Some(b':') | Some(b'-') => {
            let sep = s.as_bytes()[2] as char;
            let parts: Vec<&str> = s.split(sep).collect();
            octets_ok(parts.len()) && parts.iter().all(|p| hex(p, 2))
        }
        _ if s.as_bytes().get(4) == Some(&b'.') => {
            let parts: Vec<&str> = s.split('.').collect();
            octets_ok(parts.len() * 2) && parts.iter().all(|p| hex(p, 4))
        }
        _ => false,
    }
}

fn sanitize(s: &str, drop: impl Fn(char) -> bool) -> String {
    s.chars().filter(|c| !drop(*c)).collect()
}

fn is_isbn10(s: &str) -> bool {
    let s = sanitize(s, |c| c.is_whitespace() || c == '-');
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[..9].iter().all(u8::is_ascii_digit)
        && (b[9].is_ascii_digit() || b[9] == b'X');
    if !shape {
        return false;
    }
    let mut sum: i32 = (0..9)
        .map(|i| (i as i32 + 1) * i32::from(b[i] - b'0'))
        .sum();
    sum += if b[9] == b'X' {
        100
    } else {
        10 * i32::from(b[9] - b'0')
    };
    sum % 11 == 0
}

fn is_isbn13(s: &str) -> bool {
    let s = sanitize(s, |c| c.is_whitespace() || c == '-');
    let b = s.as_bytes();
    if b.len() != 13 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: i32 = (0..12)
        .map(|i| if i % 2 == 0 { 1 } else { 3 } * i32::from(b[i] - b'0'))
        .sum();
    i32::from(b[12] - b'0') - ((10 - (sum % 10)) % 10) == 0
}

fn is_credit_card(s: &str) -> bool {
    let s = sanitize(s, |c| !c.is_ascii_digit());
    if !is(&CREDIT_CARD, &s) {
        return false;
    }
    let mut sum = 0;
    let mut double = false;
    for b in s.bytes().rev() {
        let mut d = u32::from(b - b'0');
        if double {
            d *= 2;
            sum += if d >= 10 { d % 10 + 1 } else { d };
        } else {
            sum += d;
        }
        double = !double;
    }
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times() {
        assert!(validates("date", "2024-02-29"));
        assert!(!validates("date", "2023-02-29"));
        assert!(!validates("date", "2024-1-01"));
        assert!(validates("date-time", "2024-01-02T03:04:05Z"));
        assert!(validates("date-time", "2024-01-02t03:04:05.123+02:00"));
        assert!(!validates("date-time", "2024-01-02T24:04:05Z"));
        assert!(!validates("date-time", "yesterday"));
        assert!(parse_date_time("2024-01-02T03:04:05Z").is_some());
        assert!(parse_date_time("2024-01-02T03:04:05").is_some());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("-2ms"), Some(-2_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("3 days"), Some(3 * 86_400_000_000_000));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn other_formats() {
        assert!(validates("byte", "aGVsbG8="));
        assert!(!validates("byte", ""));
        assert!(!validates("byte", "abc"));
        assert!(validates("uuid", "123e4567-e89b-12d3-a456-426614174000"));
        assert!(!validates("uuid", "nope"));
        assert!(validates("ipv4", "010.0.0.1"));
        assert!(!validates("ipv4", "::1"));
        assert!(validates("ipv6", "::1"));
        assert!(validates("cidr", "10.0.0.0/8"));
        assert!(!validates("cidr", "10.0.0.0/33"));
        assert!(validates("mac", "01:23:45:67:89:ab"));
        assert!(validates("mac", "0123.4567.89ab"));
        assert!(!validates("mac", "01:23:45"));
        assert!(validates("hostname", "example.com"));
        assert!(validates("email", "a@example.com"));
        assert!(!validates("email", "nope"));
        assert!(validates("uri", "https://example.com/x"));
        assert!(!validates("uri", "example.com"));
        assert!(validates("k8s-short-name", "my-name"));
        assert!(!validates("k8s-short-name", "My-Name"));
        assert!(validates("k8s-long-name", "a.b-c.d"));
        assert!(validates("isbn10", "0321751043"));
        assert!(validates("isbn13", "978-0321751041"));
        assert!(validates("creditcard", "4111 1111 1111 1111"));
        assert!(validates("hexcolor", "#FFF"));
        assert!(validates("rgbcolor", "rgb(255, 0, 10)"));
        assert!(validates("ssn", "123-45-6789"));
        assert!(validates("bsonobjectid", "507f1f77bcf86cd799439011"));
        assert!(validates("password", "anything"));
    }
}
