//! Go wording for what kube-apiserver says about request bodies: the messages of Go's
//! `encoding/json` (syntax and type errors) and the Go type names that strategic-merge-patch
//! errors embed (their `%v` of values comes from `crate::gofmt`). Clients see these strings
//! verbatim in a Status.

use serde_json::Value;

use crate::gofmt::quote;

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
    fn go_types() {
        assert_eq!(go_type(&json!(1)), "int64");
        assert_eq!(go_type(&json!(1.5)), "float64");
        assert_eq!(go_type(&json!({})), "map[string]interface {}");
        assert_eq!(go_type(&json!([])), "[]interface {}");
    }
}
