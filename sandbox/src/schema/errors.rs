//! Field errors and the 422 `Status` built from them, worded as
//! `k8s.io/apimachinery/pkg/util/validation/field` (errors.go, path.go) and
//! `k8s.io/apimachinery/pkg/api/errors` (`NewInvalid`) word them (checked against apimachinery v0.35.0).
//!
//! Bad values are rendered the way Go renders the `interface{}` values of unstructured JSON: strings with
//! `%q`, numbers and booleans with `%v`, everything else through `encoding/json`.

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value, json};

use crate::gofmt;

/// Kinds of field errors, as `field.ErrorType`; the `metav1.CauseType` string is [`ErrorType::reason`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorType {
    Required,
    NotFound,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    TypeInvalid,
}

impl ErrorType {
    /// The `metav1.CauseType` / `field.ErrorType` string.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// `ErrorType.String()`: the words that start the error body.
    pub fn words(self) -> &'static str {
        match self {
            ErrorType::Required => "Required value",
            ErrorType::NotFound => "Not found",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid | ErrorType::TypeInvalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
        }
    }
}

/// One `field.Error`. `bad_value` `None` is Go's `field.OmitValueType{}` (the body then shows no value).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub error_type: ErrorType,
    pub field: String,
    pub bad_value: Option<Value>,
    pub detail: String,
}

/// `field.Path.String()` of a nil path, which is what errors raised without a path report.
pub const NIL_PATH: &str = "<nil>";

impl FieldError {
    fn new(
        error_type: ErrorType,
        field: impl Into<String>,
        bad_value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            error_type,
            field: field.into(),
            bad_value,
            detail: detail.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, field, Some(value), detail)
    }

    /// `field.Invalid` whose value Go cannot JSON-encode (apiextensions' internal types), so `ErrorBody`
    /// prints its `%#v` Go syntax, given here already rendered.
    pub fn invalid_go_syntax(
        field: impl Into<String>,
        go_syntax: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        let mut marker = Map::new();
        marker.insert(GO_SYNTAX_KEY.to_string(), Value::String(go_syntax.into()));
        Self::new(
            ErrorType::Invalid,
            field,
            Some(Value::Object(marker)),
            detail,
        )
    }

    /// `field.Invalid` with `field.OmitValueType{}` as the value.
    pub fn invalid_omit_value(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, field, None, detail)
    }

    pub fn type_invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::TypeInvalid, field, Some(value), detail)
    }

    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(
            ErrorType::Required,
            field,
            Some(Value::String(String::new())),
            detail,
        )
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(
            ErrorType::Forbidden,
            field,
            Some(Value::String(String::new())),
            detail,
        )
    }

    /// `field.NotFound`.
    pub fn not_found(field: impl Into<String>, value: Value) -> Self {
        Self::new(ErrorType::NotFound, field, Some(value), "")
    }

    /// `field.Duplicate`; `None` omits the value from the body.
    pub fn duplicate(field: impl Into<String>, value: Option<Value>) -> Self {
        Self::new(ErrorType::Duplicate, field, value, "")
    }

    /// `field.NotSupported`: the detail lists each valid value with Go's `strconv.Quote`.
    pub fn not_supported<S: AsRef<str>>(
        field: impl Into<String>,
        value: Value,
        valid: &[S],
    ) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| gofmt::quote(v.as_ref())).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrorType::NotSupported, field, Some(value), detail)
    }

    /// `field.TooLong`: a negative maximum gives the generic wording.
    pub fn too_long(field: impl Into<String>, max_length: i64) -> Self {
        let detail = if max_length >= 0 {
            let unit = if max_length == 1 { "byte" } else { "bytes" };
            format!("may not be more than {max_length} {unit}")
        } else {
            "value is too long".to_string()
        };
        Self::new(
            ErrorType::TooLong,
            field,
            Some(Value::String("<value omitted>".into())),
            detail,
        )
    }

    /// `field.TooMany`: a negative actual quantity is omitted from the body.
    pub fn too_many(field: impl Into<String>, actual: i64, max: i64) -> Self {
        let detail = if max >= 0 {
            let unit = if max == 1 { "item" } else { "items" };
            format!("must have at most {max} {unit}")
        } else {
            "has too many items".to_string()
        };
        let value = (actual >= 0).then(|| json!(actual));
        Self::new(ErrorType::TooMany, field, value, detail)
    }

    /// The `metav1.CauseType` string, e.g. `FieldValueInvalid`.
    pub fn reason(&self) -> &'static str {
        self.error_type.reason()
    }

    /// `field.Error.ErrorBody()`.
    pub fn body(&self) -> String {
        let mut s = match self.error_type {
            ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong => {
                self.error_type.words().to_string()
            }
            _ => match &self.bad_value {
                None => self.error_type.words().to_string(),
                Some(v) => format!("{}: {}", self.error_type.words(), go_value(v)),
            },
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// Whether apiextensions treats this error as blocking CEL evaluation (`hasBlockingErr` in
    /// registry/customresource/strategy.go).
    pub fn blocks_cel(&self) -> bool {
        matches!(
            self.error_type,
            ErrorType::NotSupported
                | ErrorType::Required
                | ErrorType::TooLong
                | ErrorType::TooMany
                | ErrorType::TypeInvalid
        )
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for FieldError {}

/// `ErrorList.ToAggregate().Error()`: duplicates (by message) dropped, one error bare, more in `[a, b]`.
pub fn aggregate_message(errors: &[FieldError]) -> Option<String> {
    let mut seen = HashSet::new();
    let mut msgs = Vec::new();
    for e in errors {
        let m = e.to_string();
        if seen.insert(m.clone()) {
            msgs.push(m);
        }
    }
    match msgs.len() {
        0 => None,
        1 => msgs.pop(),
        _ => Some(format!("[{}]", msgs.join(", "))),
    }
}

/// The 422 `Status` of `apierrors.NewInvalid(schema.GroupKind{group, kind}, name, errors)`.
pub fn invalid_status(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Value {
    let qualified = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let message = match aggregate_message(errors) {
        Some(agg) => format!("{qualified} {} is invalid: {agg}", gofmt::quote(name)),
        None => format!("{qualified} {} is invalid", gofmt::quote(name)),
    };
    let causes: Vec<Value> = errors
        .iter()
        .map(|e| {
            // metav1.StatusCause fields are all omitempty.
            let mut c = Map::new();
            c.insert("reason".into(), json!(e.reason()));
            let body = e.body();
            if !body.is_empty() {
                c.insert("message".into(), json!(body));
            }
            if !e.field.is_empty() {
                c.insert("field".into(), json!(e.field));
            }
            Value::Object(c)
        })
        .collect();
    let mut details = Map::new();
    if !name.is_empty() {
        details.insert("name".into(), json!(name));
    }
    if !group.is_empty() {
        details.insert("group".into(), json!(group));
    }
    details.insert("kind".into(), json!(kind));
    if !causes.is_empty() {
        details.insert("causes".into(), Value::Array(causes));
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Invalid",
        "details": Value::Object(details),
        "code": 422,
    })
}

/// The key of the one-entry object that carries a pre-rendered Go-syntax bad value.
const GO_SYNTAX_KEY: &str = "$goSyntax";

/// How `ErrorBody` prints a bad value held as an unstructured JSON value.
pub fn go_value(v: &Value) -> String {
    if let Value::Object(m) = v
        && m.len() == 1
        && let Some(Value::String(raw)) = m.get(GO_SYNTAX_KEY)
    {
        return raw.clone();
    }
    match v {
        Value::String(s) => gofmt::quote(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => gofmt::number(n),
        _ => gofmt::json(v),
    }
}

/// A `field.Path` under construction, rendered as `field.Path.String()` renders it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(Option<String>);

impl FieldPath {
    /// The nil path (`field.NewPath` was never called): renders as `<nil>`.
    pub fn nil() -> Self {
        FieldPath(None)
    }

    pub fn new(name: &str) -> Self {
        FieldPath(Some(name.to_string()))
    }

    /// `Path.Child(name)`.
    pub fn child(&self, name: &str) -> Self {
        match &self.0 {
            None => FieldPath(Some(name.to_string())),
            Some(p) => FieldPath(Some(format!("{p}.{name}"))),
        }
    }

    /// `Path.Key(key)`: map keys in brackets, unquoted.
    pub fn key(&self, key: &str) -> Self {
        let base = self.0.clone().unwrap_or_default();
        FieldPath(Some(format!("{base}[{key}]")))
    }

    /// `Path.Index(i)`.
    pub fn index(&self, i: usize) -> Self {
        let base = self.0.clone().unwrap_or_default();
        FieldPath(Some(format!("{base}[{i}]")))
    }

    pub fn render(&self) -> String {
        self.0.clone().unwrap_or_else(|| NIL_PATH.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_match_apimachinery_wording() {
        let e = FieldError::invalid(
            "spec.size",
            json!(20),
            "spec.size in body should be less than or equal to 10",
        );
        assert_eq!(
            e.to_string(),
            "spec.size: Invalid value: 20: spec.size in body should be less than or equal to 10"
        );
        assert_eq!(e.reason(), "FieldValueInvalid");
        assert_eq!(
            FieldError::required("spec.name", "").to_string(),
            "spec.name: Required value"
        );
        assert_eq!(
            FieldError::not_supported("spec.color", json!("x"), &["a", "b"]).to_string(),
            "spec.color: Unsupported value: \"x\": supported values: \"a\", \"b\""
        );
        assert_eq!(
            FieldError::too_long("spec.name", 5).to_string(),
            "spec.name: Too long: may not be more than 5 bytes"
        );
        assert_eq!(
            FieldError::too_long("x", 1).body(),
            "Too long: may not be more than 1 byte"
        );
        assert_eq!(
            FieldError::too_many("spec.items", 4, 3).body(),
            "Too many: 4: must have at most 3 items"
        );
        assert_eq!(
            FieldError::too_many("spec.items", -1, 1).body(),
            "Too many: must have at most 1 item"
        );
        assert_eq!(
            FieldError::invalid_omit_value("spec", "bad").body(),
            "Invalid value: bad"
        );
        assert_eq!(
            FieldError::duplicate("spec.tags[1]", Some(json!("a"))).body(),
            "Duplicate value: \"a\""
        );
        assert_eq!(
            FieldError::not_found("spec.v[0].name", json!("x")).to_string(),
            "spec.v[0].name: Not found: \"x\""
        );
        assert_eq!(
            FieldError::forbidden("spec.x", "nope").body(),
            "Forbidden: nope"
        );
        assert_eq!(
            FieldError::invalid("f", json!({"b": 1.5, "a": [true, null]}), "d").body(),
            "Invalid value: {\"a\":[true,null],\"b\":1.5}: d"
        );
        assert_eq!(
            FieldError::invalid(NIL_PATH, Value::Null, "d").to_string(),
            "<nil>: Invalid value: null: d"
        );
    }

    #[test]
    fn paths_render_like_field_path() {
        assert_eq!(FieldPath::nil().render(), "<nil>");
        let p = FieldPath::new("spec")
            .child("labels")
            .key("app")
            .child("x")
            .index(2);
        assert_eq!(p.render(), "spec.labels[app].x[2]");
        assert_eq!(FieldPath::nil().child("a.b").render(), "a.b");
    }

    #[test]
    fn status_has_apimachinery_shape() {
        let one = [FieldError::invalid("spec.size", json!(20), "too big")];
        let s = invalid_status("example.com", "Widget", "w1", &one);
        assert_eq!(
            s["message"],
            "Widget.example.com \"w1\" is invalid: spec.size: Invalid value: 20: too big"
        );
        assert_eq!(s["code"], 422);
        assert_eq!(s["reason"], "Invalid");
        assert_eq!(s["details"]["group"], "example.com");
        assert_eq!(
            s["details"]["causes"][0],
            json!({"reason": "FieldValueInvalid", "message": "Invalid value: 20: too big", "field": "spec.size"})
        );
        let two = [
            FieldError::required("spec.a", ""),
            FieldError::required("spec.b", ""),
            FieldError::required("spec.a", ""),
        ];
        let s = invalid_status("", "Pod", "p", &two);
        assert_eq!(
            s["message"],
            "Pod \"p\" is invalid: [spec.a: Required value, spec.b: Required value]"
        );
        assert!(s["details"].get("group").is_none());
        assert_eq!(s["details"]["causes"].as_array().map(Vec::len), Some(3));
        assert_eq!(
            invalid_status("g", "K", "n", &[])["message"],
            "K.g \"n\" is invalid"
        );
    }
}
