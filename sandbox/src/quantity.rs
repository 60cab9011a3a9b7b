//! Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`): their value, and the integer forms
//! the scheduler compares (`MilliValue` for cpu, `Value` for everything else, both rounded up as
//! apimachinery's `resource.Quantity` does).

/// Parses a Kubernetes resource quantity (`500m`, `1.5Gi`, `2e3`, `128974848`) into its value.
pub fn parse(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let base: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp if exp.starts_with(['e', 'E']) => 10f64.powi(exp[1..].parse::<i32>().ok()?),
        _ => return None,
    };
    Some(base * factor)
}

/// `Quantity.MilliValue()`: thousandths, rounded up.
pub fn milli_value(s: &str) -> Option<i64> {
    parse(s).map(|v| (v * 1000.0).ceil() as i64)
}

/// `Quantity.Value()`: the integer value, rounded up.
pub fn value(s: &str) -> Option<i64> {
    parse(s).map(|v| v.ceil() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse("500m"), Some(0.5));
        assert_eq!(parse("2Ki"), Some(2048.0));
        assert_eq!(parse("1e3"), Some(1000.0));
        assert_eq!(parse("1E"), Some(1e18));
        assert_eq!(parse("abc"), None);
    }

    #[test]
    fn forms() {
        assert_eq!(milli_value("500m"), Some(500));
        assert_eq!(milli_value("2"), Some(2000));
        assert_eq!(milli_value("0.1"), Some(100));
        assert_eq!(value("128Mi"), Some(128 * 1024 * 1024));
        assert_eq!(value("1G"), Some(1_000_000_000));
        assert_eq!(value("1e3"), Some(1000));
        assert_eq!(value("1.5"), Some(2));
        assert_eq!(value("x"), None);
    }
}
