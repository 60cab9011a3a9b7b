//! Resource quantities (`k8s.io/apimachinery/pkg/api/resource`, quantity.go) as far as validation
//! needs them: parsing with the same errors, and the value, for comparisons and the sign.
//!
//! Hand-written: no maintained crate parses Kubernetes quantities; the grammar is small. The value
//! is kept as an `f64`, exact for every quantity a Pod realistically carries. Messages show the
//! quantity as written, where Go shows its canonical form (`1000m` is `1` there).

/// `resource.ErrFormatWrong`.
pub const FORMAT_WRONG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/// `resource.ErrSuffix`.
pub const SUFFIX_WRONG: &str = "unable to parse quantity's suffix";
/// `resource.ErrNumeric`.
pub const NUMERIC_WRONG: &str = "unable to parse numeric part of quantity";

/// The value of a quantity string, or Go's parse error.
pub fn parse(text: &str) -> Result<f64, &'static str> {
    let s = text.trim();
    if s.is_empty() {
        return Err(FORMAT_WRONG);
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    if matches!(bytes[0], b'+' | b'-') {
        i = 1;
    }
    let digits_start = i;
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        i += 1;
    }
    if i == digits_start {
        return Err(FORMAT_WRONG);
    }
    let (number, suffix) = s.split_at(i);
    // The suffix part of the regular expression: letters, then an optional signed integer.
    let letters_end = suffix
        .bytes()
        .position(|b| !b"eEinumkKMGTP".contains(&b))
        .unwrap_or(suffix.len());
    let rest = &suffix[letters_end..];
    let rest_digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    if !rest_digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FORMAT_WRONG);
    }
    if number.matches('.').count() > 1 || number.trim_start_matches(['+', '-']) == "." {
        return Err(NUMERIC_WRONG);
    }
    let value: f64 = number.parse().map_err(|_| NUMERIC_WRONG)?;
    Ok(value * multiplier(suffix).ok_or(SUFFIX_WRONG)?)
}

fn multiplier(suffix: &str) -> Option<f64> {
    let binary = |exp: i32| Some(2f64.powi(exp));
    let decimal = |exp: i32| Some(10f64.powi(exp));
    match suffix {
        "" => decimal(0),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        _ => {
            let exp = suffix.strip_prefix(['e', 'E'])?;
            exp.parse::<i32>().ok().and_then(decimal)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_as_resource_parse_quantity() {
        assert_eq!(parse("500m"), Ok(0.5));
        assert_eq!(parse("2"), Ok(2.0));
        assert_eq!(parse("1Gi"), Ok(1073741824.0));
        assert_eq!(parse("1e3"), Ok(1000.0));
        assert_eq!(parse("1.5k"), Ok(1500.0));
        assert_eq!(parse("-1"), Ok(-1.0));
        assert_eq!(parse("abc"), Err(FORMAT_WRONG));
        assert_eq!(parse(""), Err(FORMAT_WRONG));
        assert_eq!(parse("1Gu"), Err(SUFFIX_WRONG));
        assert_eq!(parse("1x"), Err(FORMAT_WRONG));
        assert_eq!(parse("1Mk"), Err(SUFFIX_WRONG));
        assert_eq!(parse("1.2.3"), Err(NUMERIC_WRONG));
        assert!(parse("64Mi").unwrap_or_default() > parse("60M").unwrap_or_default());
    }
}
