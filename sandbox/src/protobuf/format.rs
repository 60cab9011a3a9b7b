//! JSON renderings of the Go values whose JSON form is a string: `metav1.Time`,
//! `metav1.MicroTime` and `metav1.Duration` (Go's `time.Duration.String`).

use chrono::{DateTime, TimeDelta, Utc};

fn instant(seconds: i64, nanos: i64) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp(seconds, 0)
        .and_then(|t| t.checked_add_signed(TimeDelta::nanoseconds(nanos)))
        .ok_or_else(|| format!("timestamp out of range: {seconds}s {nanos}ns"))
}

/// `metav1.Time`: the protobuf decoder keeps whole seconds only (`time_proto.go`), and JSON
/// writes RFC 3339 in UTC.
pub fn time(seconds: i64) -> Result<String, String> {
    Ok(instant(seconds, 0)?
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string())
}

/// `metav1.MicroTime`: nanoseconds truncated (towards zero, like `Duration.Truncate`) to
/// microseconds, written with six decimals.
pub fn micro_time(seconds: i64, nanos: i32) -> Result<String, String> {
    let nanos = i64::from(nanos);
    let truncated = nanos - nanos % 1000;
    Ok(instant(seconds, truncated)?
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string())
}

/// Go's `time.Duration(nanos).String()`: `1h2m3.5s`, `1.5ms`, `0s`.
pub fn duration(nanos: i64) -> String {
    let neg = nanos < 0;
    let mut u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (unit, prec) = match u {
            0 => return "0s".to_string(),
            1..1_000 => ("ns", 0),
            1_000..1_000_000 => ("µs", 3),
            _ => ("ms", 6),
        };
        let (frac, int) = fraction(u, prec);
        out.push_str(&int.to_string());
        out.push_str(&frac);
        out.push_str(unit);
    } else {
        let (frac, secs) = fraction(u, 9);
        u = secs;
        let s = u % 60;
        u /= 60;
        let m = u % 60;
        let h = u / 60;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format!("{s}{frac}s"));
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Splits `v` into `v / 10^prec` and its decimal fraction (`.25`, trailing zeros and the
/// point dropped when nothing is left), as Go's `fmtFrac` does.
fn fraction(v: u64, prec: u32) -> (String, u64) {
    let scale = 10u64.pow(prec);
    let int = v / scale;
    let rest = v % scale;
    if rest == 0 {
        return (String::new(), int);
    }
    let digits = format!("{rest:0width$}", width = prec as usize);
    (format!(".{}", digits.trim_end_matches('0')), int)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_match_go() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (1_000_000_000, "1s"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_000_000_000, "1h2m3s"),
            (4_000_000_000_001, "1h6m40.000000001s"),
            (-90_000_000_000, "-1m30s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (nanos, want) in cases {
            assert_eq!(duration(*nanos), *want, "{nanos}");
        }
    }

    #[test]
    fn times_are_utc_rfc3339() {
        assert_eq!(time(1_704_067_200).as_deref(), Ok("2024-01-01T00:00:00Z"));
        assert_eq!(time(0).as_deref(), Ok("1970-01-01T00:00:00Z"));
        assert_eq!(
            micro_time(1_704_067_200, 123_456_789).as_deref(),
            Ok("2024-01-01T00:00:00.123456Z")
        );
        assert_eq!(
            micro_time(1_704_067_200, 0).as_deref(),
            Ok("2024-01-01T00:00:00.000000Z")
        );
        assert!(time(i64::MAX).is_err());
    }
}
