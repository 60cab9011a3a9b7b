//! Go wording for what kube-apiserver says about request bodies: the messages of Go's
//! `encoding/json` (syntax and type errors) and the `%v` rendering of decoded JSON that
//! strategic-merge-patch errors embed. Clients see these strings verbatim in a Status.

use serde_json::{Map, Value};

/// The error Go's `json.Unmarshal` reports for a body that is not valid JSON, or `None` when
/// the body is valid. Go checks the whole input before decoding, so this comes first.
pub(crate) fn syntax_error(input: &[u8]) -> Option<String> {
    let mut s = Scanner { b: input, i: 0 };
    s.document().err()
}

/// Decodes a body Go's scanner accepted. serde_json refuses a few inputs Go takes (lone UTF-16
/// surrogates, nesting deeper than 128); those surface as a generic decoding error.
pub(crate) fn decode(input: &[u8]) -> Result<Value, String> {
    if let Some(e) = syntax_error(input) {
        return Err(e);
    }
    serde_json::from_slice(input).map_err(|e| e.to_string())
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

/// `reflect.TypeOf(v).String()` for a value decoded into `interface{}` the way the apiserver
/// decodes patches (integers stay `int64`).
pub(crate) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "%!s(<nil>)",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `fmt.Sprintf("%v", v)` of a decoded value: `map[k:v ...]` with sorted keys,
/// `[a b]` for lists, `<nil>` for null.
pub(crate) fn fmt_v(v: &Value) -> String {
    let mut out = String::new();
    write_v(&mut out, v);
    out
}

/// `%v` of a map without wrapping it in a `Value` first.
pub(crate) fn fmt_map(m: &Map<String, Value>) -> String {
    let mut out = String::new();
    write_map(&mut out, m);
    out
}

/// `%v` of several lists at once, as `fmt.Sprint` prints a `[][]interface{}`.
pub(crate) fn fmt_lists(lists: &[&[Value]]) -> String {
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

fn write_v(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => out.push_str(&i.to_string()),
            (None, Some(f)) => out.push_str(&fmt_g(f)),
            (None, None) => out.push_str(&n.to_string()),
        },
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
        write_v(out, v);
    }
    out.push(']');
}

fn write_map(out: &mut String, m: &Map<String, Value>) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    out.push_str("map[");
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(k);
        out.push(':');
        if let Some(v) = m.get(k) {
            write_v(out, v);
        }
    }
    out.push(']');
}

/// `strconv.FormatFloat(f, 'g', -1, 64)`, which `%v` uses for float64: the shortest digits,
/// in exponent form when the exponent is below -4 or at least 6.
fn fmt_g(f: f64) -> String {
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f.is_nan() {
        return "NaN".into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // `{:e}` gives the shortest round-tripping digits, e.g. "1.5e-7".
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((e.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let point = exp + 1; // digits before the decimal point
    let mut s = String::new();
    if negative {
        s.push('-');
    }
    if point <= 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        s.push_str(&digits);
    } else if point as usize >= digits.len() {
        s.push_str(&digits);
        s.extend(std::iter::repeat_n('0', point as usize - digits.len()));
    } else {
        s.push_str(&digits[..point as usize]);
        s.push('.');
        s.push_str(&digits[point as usize..]);
    }
    s
}

/// Go's `strconv.Quote`, which `%q` uses.
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
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `strconv.IsPrint`: no control characters, no non-space
/// separators or format characters that commonly show up.
fn is_go_printable(c: char) -> bool {
    !(c.is_control()
        || matches!(
            c,
            '\u{a0}' | '\u{ad}' | '\u{2028}' | '\u{2029}' | '\u{feff}'
        ))
}

const UNEXPECTED_END: &str = "unexpected end of JSON input";

/// Go's `quoteChar`: how a syntax error names the offending byte.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        c => {
            // Go converts the byte to the rune of the same number before quoting.
            let q = quote(&char::from(c).to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

fn invalid(c: u8, context: &str) -> String {
    format!("invalid character {} {context}", quote_char(c))
}

/// A validator that reads bytes in the same order as Go's `encoding/json` scanner, so the
/// first error it meets, and the words for it, are the ones Go reports.
struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Result<u8, String> {
        let c = self.peek().ok_or_else(|| UNEXPECTED_END.to_string())?;
        self.i += 1;
        Ok(c)
    }

    fn next_non_space(&mut self) -> Result<u8, String> {
        loop {
            let c = self.next()?;
            if !matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                return Ok(c);
            }
        }
    }

    fn document(&mut self) -> Result<(), String> {
        let c = self.next_non_space()?;
        self.value(c)?;
        while let Some(c) = self.peek() {
            self.i += 1;
            if !matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                return Err(invalid(c, "after top-level value"));
            }
        }
        Ok(())
    }

    /// Scans a value whose first byte `c` was already read.
    fn value(&mut self, c: u8) -> Result<(), String> {
        match c {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => self.number(c),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            c => Err(invalid(c, "looking for beginning of value")),
        }
    }

    fn object(&mut self) -> Result<(), String> {
        let mut c = self.next_non_space()?;
        if c == b'}' {
            return Ok(());
        }
        loop {
            if c != b'"' {
                return Err(invalid(c, "looking for beginning of object key string"));
            }
            self.string()?;
            let colon = self.next_non_space()?;
            if colon != b':' {
                return Err(invalid(colon, "after object key"));
            }
            let v = self.next_non_space()?;
            self.value(v)?;
            match self.next_non_space()? {
                b',' => c = self.next_non_space()?,
                b'}' => return Ok(()),
                other => return Err(invalid(other, "after object key:value pair")),
            }
        }
    }

    fn array(&mut self) -> Result<(), String> {
        let mut c = self.next_non_space()?;
        if c == b']' {
            return Ok(());
        }
        loop {
            self.value(c)?;
            match self.next_non_space()? {
                b',' => c = self.next_non_space()?,
                b']' => return Ok(()),
                other => return Err(invalid(other, "after array element")),
            }
        }
    }

    fn string(&mut self) -> Result<(), String> {
        loop {
            match self.next()? {
                b'"' => return Ok(()),
                b'\\' => match self.next()? {
                    b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => {}
                    b'u' => {
                        for _ in 0..4 {
                            let h = self.next()?;
                            if !h.is_ascii_hexdigit() {
                                return Err(invalid(h, "in \\u hexadecimal character escape"));
                            }
                        }
                    }
                    other => return Err(invalid(other, "in string escape code")),
                },
                c if c < 0x20 => return Err(invalid(c, "in string literal")),
                _ => {}
            }
        }
    }

    /// Numbers end at the first byte that cannot continue them; that byte is left unread.
    fn number(&mut self, first: u8) -> Result<(), String> {
        let mut c = first;
        if c == b'-' {
            c = self.next()?;
            if !c.is_ascii_digit() {
                return Err(invalid(c, "in numeric literal"));
            }
        }
        if c != b'0' {
            while self.peek().is_some_and(|d| d.is_ascii_digit()) {
                self.i += 1;
            }
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            let d = self.next()?;
            if !d.is_ascii_digit() {
                return Err(invalid(d, "after decimal point in numeric literal"));
            }
            while self.peek().is_some_and(|d| d.is_ascii_digit()) {
                self.i += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            let mut d = self.next()?;
            if d == b'+' || d == b'-' {
                d = self.next()?;
            }
            if !d.is_ascii_digit() {
                return Err(invalid(d, "in exponent of numeric literal"));
            }
            while self.peek().is_some_and(|d| d.is_ascii_digit()) {
                self.i += 1;
            }
        }
        Ok(())
    }

    /// Scans the rest of `true`, `false` or `null` after its first byte.
    fn literal(&mut self, word: &str) -> Result<(), String> {
        for expected in word.bytes().skip(1) {
            let c = self.next()?;
            if c != expected {
                return Err(invalid(
                    c,
                    &format!("in literal {word} (expecting {})", quote_char(expected)),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn syntax_errors_use_go_wording() {
        let cases: &[(&str, &str)] = &[
            ("", "unexpected end of JSON input"),
            ("   ", "unexpected end of JSON input"),
            ("{", "unexpected end of JSON input"),
            ("[1,", "unexpected end of JSON input"),
            ("x", "invalid character 'x' looking for beginning of value"),
            (
                "{x}",
                "invalid character 'x' looking for beginning of object key string",
            ),
            ("{\"a\" 1}", "invalid character '1' after object key"),
            (
                "{\"a\":1 \"b\"}",
                "invalid character '\"' after object key:value pair",
            ),
            ("[1 2]", "invalid character '2' after array element"),
            ("{} x", "invalid character 'x' after top-level value"),
            ("\"a\nb\"", "invalid character '\\n' in string literal"),
            ("\"\\q\"", "invalid character 'q' in string escape code"),
            (
                "\"\\u12g4\"",
                "invalid character 'g' in \\u hexadecimal character escape",
            ),
            ("-a", "invalid character 'a' in numeric literal"),
            (
                "1.x",
                "invalid character 'x' after decimal point in numeric literal",
            ),
            (
                "1ex",
                "invalid character 'x' in exponent of numeric literal",
            ),
            (
                "tru ",
                "invalid character ' ' in literal true (expecting 'e')",
            ),
            ("nul", "unexpected end of JSON input"),
            (
                "fals3",
                "invalid character '3' in literal false (expecting 'e')",
            ),
            (
                "{'a':1}",
                "invalid character '\\'' looking for beginning of object key string",
            ),
            ("01", "invalid character '1' after top-level value"),
        ];
        for (input, want) in cases {
            assert_eq!(
                syntax_error(input.as_bytes()).as_deref(),
                Some(*want),
                "input {input:?}"
            );
        }
        for ok in [
            "{}",
            " [1, -2.5e+3, true, null, \"\\u00e9\"] ",
            "0",
            "{\"a\":{\"b\":[]}}",
        ] {
            assert_eq!(syntax_error(ok.as_bytes()), None, "input {ok:?}");
        }
    }

    #[test]
    fn fmt_v_matches_go() {
        let v = json!({"name": "a", "ports": [80, 1.5], "x": null, "b": true, "m": {}});
        assert_eq!(
            fmt_v(&v),
            "map[b:true m:map[] name:a ports:[80 1.5] x:<nil>]"
        );
        assert_eq!(fmt_v(&json!(1e21)), "1e+21");
        assert_eq!(fmt_v(&json!(0.00001)), "1e-05");
        assert_eq!(fmt_v(&json!(123456.5)), "123456.5");
        assert_eq!(fmt_v(&json!(1234567.5)), "1.2345675e+06");
        assert_eq!(fmt_v(&json!(0.25)), "0.25");
        assert_eq!(fmt_lists(&[&[json!(1)], &[json!("a")]]), "[[1] [a]]");
    }

    #[test]
    fn go_types_and_quotes() {
        assert_eq!(go_type(&json!(1)), "int64");
        assert_eq!(go_type(&json!(1.5)), "float64");
        assert_eq!(go_type(&json!({})), "map[string]interface {}");
        assert_eq!(go_type(&json!([])), "[]interface {}");
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(quote("é\u{1}"), "\"é\\x01\"");
    }
}
