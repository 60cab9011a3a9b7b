//! How Go prints things, for the messages kube-apiserver builds with `fmt` and `encoding/json`
//! and that clients see verbatim: `%q` of a string (`strconv.Quote`), `%v` of a float64 and of
//! values decoded from JSON into `interface{}`, and `json.Marshal` of such values.
//!
//! A leaf at the bottom of the crate: every module that reproduces a Go message formats through
//! here, so there is one set of rules.

use serde_json::{Map, Number, Value};

/// Go's `strconv.Quote`, which `%q` uses: printable characters as they are, the usual
/// backslash escapes, `\xNN` below U+0080 and `\uNNNN`/`\UNNNNNNNN` above.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_print(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.IsPrint` (`unicode.IsPrint`): letters, marks, numbers, punctuation, symbols and
/// the ASCII space. What it refuses here: controls (Cc), separators but the space (Z*), format
/// characters (Cf) and private use (Co). Unassigned code points are let through, which differs
/// from Go only for characters no client sends.
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    // `is_whitespace` is White_Space: the Z* categories and some controls.
    !(c.is_control() || c.is_whitespace() || is_format(c) || is_private_use(c))
}

/// The Unicode general category Cf.
fn is_format(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// The Unicode general category Co.
fn is_private_use(c: char) -> bool {
    matches!(c as u32, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD)
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest digits, in
/// exponent form (at least two exponent digits) when the exponent is below -4 or at least 6.
pub(crate) fn float(f: f64) -> String {
    if let Some(special) = special_float(f) {
        return special.into();
    }
    let (neg, digits, point) = shortest_digits(f);
    let exp = point - 1;
    if !(-4..6).contains(&exp) {
        exponent_form(neg, &digits, exp, 2)
    } else {
        fixed_form(neg, &digits, point)
    }
}

/// `%v` of the int64 or float64 that decoding JSON into `interface{}` makes of a number.
pub(crate) fn number(n: &Number) -> String {
    match n.as_i64() {
        Some(i) => i.to_string(),
        None => match n.as_f64() {
            Some(f) => float(f),
            // A u64 beyond int64: decoded as float64 by Go.
            None => n.to_string(),
        },
    }
}

/// Go's `fmt.Sprintf("%v", v)` of a value decoded from JSON: `map[k:v ...]` with sorted keys,
/// `[a b]` for lists, `<nil>` for null, strings unquoted.
pub(crate) fn value(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

/// `%v` of a map, without wrapping it in a `Value` first.
pub(crate) fn map(m: &Map<String, Value>) -> String {
    let mut out = String::new();
    write_map(&mut out, m);
    out
}

/// `%v` of several lists at once, as `fmt.Sprint` prints a `[][]interface{}`.
pub(crate) fn lists(lists: &[&[Value]]) -> String {
    let mut out = String::from("[");
    for (i, l) in lists.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_list(&mut out, l);
    }
    out.push(']');
    out
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(a) => write_list(out, a),
        Value::Object(m) => write_map(out, m),
    }
}

fn write_list(out: &mut String, l: &[Value]) {
    out.push('[');
    for (i, v) in l.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_value(out, v);
    }
    out.push(']');
}

fn write_map(out: &mut String, m: &Map<String, Value>) {
    out.push_str("map[");
    for (i, (k, v)) in sorted(m).into_iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(k);
        out.push(':');
        write_value(out, v);
    }
    out.push(']');
}

/// Go prints and marshals maps in key order, whatever order the map holds them in.
fn sorted(m: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = m.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// What Go names a JSON value in an `UnmarshalTypeError` ("cannot unmarshal X into ...").
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `encoding/json.Marshal` of a value decoded into `interface{}`: keys sorted, `<`, `>`, `&`,
/// U+2028 and U+2029 escaped, floats as Go writes them.
pub(crate) fn json(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v);
    out
}

/// `encoding/json.Marshal` of a string.
pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::new();
    write_json_string(&mut out, s);
    out
}

fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => out.push_str(&i.to_string()),
            (None, Some(f)) => out.push_str(&json_float(f)),
            (None, None) => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_json_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, v)) in sorted(m).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                write_json(out, v);
            }
            out.push('}');
        }
    }
}

/// Go's string encoding: serde_json's escapes (`\b`, `\f`, `\n`, `\r`, `\t`, `\u00XX` for other
/// controls, as Go 1.22 on does) plus Go's HTML-safe escapes.
fn write_json_string(out: &mut String, s: &str) {
    let plain = Value::String(s.to_owned()).to_string();
    for c in plain.chars() {
        match c {
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
}

/// How `encoding/json` writes a float64: fixed notation from 1e-6 up to 1e21, exponent form
/// (`1e-7`, `1e+21`) outside.
fn json_float(f: f64) -> String {
    if !f.is_finite() {
        // Go refuses to marshal these; a decoded JSON value never holds one.
        return "null".into();
    }
    if let Some(special) = special_float(f) {
        return special.into();
    }
    let (neg, digits, point) = shortest_digits(f);
    if !(1e-6..1e21).contains(&f.abs()) {
        exponent_form(neg, &digits, point - 1, 1)
    } else {
        fixed_form(neg, &digits, point)
    }
}

/// Infinities, NaN and the two zeros, which have no digits to place.
fn special_float(f: f64) -> Option<&'static str> {
    if f.is_nan() {
        Some("NaN")
    } else if f.is_infinite() {
        Some(if f > 0.0 { "+Inf" } else { "-Inf" })
    } else if f == 0.0 {
        Some(if f.is_sign_negative() { "-0" } else { "0" })
    } else {
        None
    }
}

/// The shortest round-tripping decimal digits of a finite, non-zero `f`, as (negative, digits,
/// position of the decimal point: `f = 0.d1d2... × 10^point`).
fn shortest_digits(f: f64) -> (bool, String, i32) {
    // `{:e}` prints the shortest round-tripping digits, e.g. "1.5e-7".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (f.is_sign_negative(), digits, exp + 1)
}

fn exponent_form(neg: bool, digits: &str, exp: i32, exp_min_digits: usize) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push_str(&digits[..1]);
    if digits.len() > 1 {
        s.push('.');
        s.push_str(&digits[1..]);
    }
    s.push('e');
    s.push(if exp < 0 { '-' } else { '+' });
    s.push_str(&format!(
        "{:0width$}",
        exp.unsigned_abs(),
        width = exp_min_digits
    ));
    s
}

fn fixed_form(neg: bool, digits: &str, point: i32) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    let len = digits.len() as i32;
    if point <= 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        s.push_str(digits);
    } else if point >= len {
        s.push_str(digits);
        s.extend(std::iter::repeat_n('0', (point - len) as usize));
    } else {
        s.push_str(&digits[..point as usize]);
        s.push('.');
        s.push_str(&digits[point as usize..]);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(float(10.0), "10");
        assert_eq!(float(10.5), "10.5");
        assert_eq!(float(100000.0), "100000");
        assert_eq!(float(1e6), "1e+06");
        assert_eq!(float(1234567.0), "1.234567e+06");
        assert_eq!(float(0.0001), "0.0001");
        assert_eq!(float(0.00001), "1e-05");
        assert_eq!(float(-2.5e-7), "-2.5e-07");
        assert_eq!(float(1e100), "1e+100");
        assert_eq!(float(-0.0), "-0");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NAN), "NaN");
    }

    #[test]
    fn json_marshals_like_go() {
        assert_eq!(json(&json!(1e21)), "1e+21");
        assert_eq!(json(&json!(1e20)), "100000000000000000000");
        assert_eq!(json(&json!(0.0000001)), "1e-7");
        assert_eq!(json(&json!(2.0)), "2");
        assert_eq!(json(&json!(-1.5)), "-1.5");
        assert_eq!(json(&json!("<a&b>")), "\"\\u003ca\\u0026b\\u003e\"");
        assert_eq!(
            json(&json!("\u{8}\u{c}\u{1}\u{2028}")),
            "\"\\b\\f\\u0001\\u2028\""
        );
        assert_eq!(
            json(&json!({"b": [1, null], "a": true})),
            "{\"a\":true,\"b\":[1,null]}"
        );
        assert_eq!(json_string("é\"x"), "\"é\\\"x\"");
    }

    #[test]
    fn values_print_like_go() {
        let v = json!({"name": "a", "ports": [80, 1.5], "x": null, "b": true, "m": {}});
        assert_eq!(
            value(&v),
            "map[b:true m:map[] name:a ports:[80 1.5] x:<nil>]"
        );
        assert_eq!(value(&json!(1e21)), "1e+21");
        assert_eq!(value(&json!(0.00001)), "1e-05");
        assert_eq!(value(&json!(123456.5)), "123456.5");
        assert_eq!(value(&json!(0.25)), "0.25");
        assert_eq!(value(&json!(1234567.5)), "1.2345675e+06");
        assert_eq!(lists(&[&[json!(1)], &[json!("a")]]), "[[1] [a]]");
    }

    #[test]
    fn quoting_like_go() {
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(quote("\u{1b}é\u{1}\u{7f}"), "\"\\x1bé\\x01\\x7f\"");
        assert_eq!(quote("\u{7}\u{8}\u{b}\u{c}"), "\"\\a\\b\\v\\f\"");
        assert_eq!(
            quote("a b\u{a0}\u{ad}\u{200b}\u{feff}"),
            "\"a b\\u00a0\\u00ad\\u200b\\ufeff\""
        );
        assert_eq!(
            quote("\u{85}\u{3000}\u{e000}\u{f0000}"),
            "\"\\u0085\\u3000\\ue000\\U000f0000\""
        );
        assert_eq!(quote("\u{1b}é"), "\"\\x1bé\"");
        assert_eq!(quote("é\u{1}"), "\"é\\x01\"");
        assert_eq!(quote("日本 ✓ 😀"), "\"日本 ✓ 😀\"");
    }
}
