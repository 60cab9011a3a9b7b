//! A CRD `openAPIV3Schema` parsed once into the shape the validators walk: the value validations of
//! kube-openapi's `spec.Schema` and the structural parts (`properties`, `items`, `additionalProperties`,
//! `x-kubernetes-*`) of apiextensions' `Structural`.
//!
//! Conversion follows apiextensions `ConvertJSONSchemaPropsWithPostProcess` (apiserver/validation/validation.go):
//! `x-kubernetes-int-or-string` turns the type into `["integer","string"]`, and formats apiextensions does
//! not support (formats.go, e.g. `int32`, `int64`, `double`) are dropped before kube-openapi sees them.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::Value;

use kube_cel::cel::Program;

/// `additionalProperties`: either a boolean or a schema.
#[derive(Debug)]
pub enum Additional {
    Allows(bool),
    Schema(Box<Schema>),
}

/// One schema node.
#[derive(Debug, Default)]
pub struct Schema {
    /// The declared `type` (`sts.Type`), empty when absent.
    pub type_name: String,
    /// The types kube-openapi checks against (the declared type, or integer+string for int-or-string).
    pub types: Vec<String>,
    pub nullable: bool,
    /// The declared format (used by CEL to build timestamps, durations and bytes).
    pub format: String,
    /// The format kube-openapi validates (empty when apiextensions does not support it).
    pub validated_format: String,
    pub maximum: Option<f64>,
    pub exclusive_maximum: bool,
    pub minimum: Option<f64>,
    pub exclusive_minimum: bool,
    pub multiple_of: Option<f64>,
    pub max_length: Option<i64>,
    pub min_length: Option<i64>,
    pub pattern: Option<Pattern>,
    pub max_items: Option<i64>,
    pub min_items: Option<i64>,
    pub unique_items: bool,
    pub max_properties: Option<i64>,
    pub min_properties: Option<i64>,
    pub required: Vec<String>,
    pub enum_values: Option<Vec<Value>>,
    pub properties: BTreeMap<String, Schema>,
    pub additional_properties: Option<Additional>,
    pub items: Option<Box<Schema>>,
    pub all_of: Vec<Schema>,
    pub any_of: Vec<Schema>,
    pub one_of: Vec<Schema>,
    pub not: Option<Box<Schema>>,
    pub default: Option<Value>,
    pub preserve_unknown_fields: bool,
    pub embedded_resource: bool,
    pub int_or_string: bool,
    pub list_type: Option<String>,
    pub list_map_keys: Vec<String>,
    /// Compiled `x-kubernetes-validations`, in declaration order.
    pub rules: Vec<CompiledRule>,
    /// Whether this node or any below it (properties, items, additionalProperties, `allOf`
    /// branches) has rules: the CEL walk skips values whose schema has none (set by
    /// `cel::compile_tree`).
    pub rules_below: bool,
}

/// One compiled `x-kubernetes-validations` entry (compiled and evaluated by `cel`).
#[derive(Debug)]
pub struct CompiledRule {
    pub rule: String,
    pub message: String,
    pub reason: Option<String>,
    pub optional_old_self: bool,
    pub(super) program: Program,
    pub(super) message_program: Option<Program>,
    pub(super) uses_old_self: bool,
    /// `ValidFieldPath(fieldPath).String()`, when `fieldPath` is set and valid.
    pub(super) normalized_field_path: Option<String>,
}

/// A `pattern` with the regex it compiles to, or the compile error kube-openapi would report.
#[derive(Debug)]
pub struct Pattern {
    pub source: String,
    pub regex: Result<Regex, String>,
}

/// Formats apiextensions lets kube-openapi validate (apiserver/validation/formats.go, at 1.35), after
/// go-openapi's name normalisation (dashes removed).
const SUPPORTED_FORMATS: &[&str] = &[
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
    "k8sshortname",
    "k8slongname",
];

/// go-openapi's `DefaultNameNormalizer`.
pub fn normalize_format(f: &str) -> String {
    f.replace('-', "")
}

fn as_i64(v: Option<&Value>) -> Option<i64> {
    let v = v?;
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

fn as_bool(v: Option<&Value>) -> bool {
    v.and_then(Value::as_bool).unwrap_or(false)
}

impl Schema {
    /// Parses a schema node. Unknown or malformed keywords are ignored: the CRD was validated when it was
    /// created, so only its meaning matters here.
    pub fn parse(v: &Value) -> Schema {
        let Some(m) = v.as_object() else {
            return Schema::default();
        };
        let type_name = m
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let int_or_string = as_bool(m.get("x-kubernetes-int-or-string"));
        let types = if int_or_string {
            vec!["integer".to_string(), "string".to_string()]
        } else if type_name.is_empty() {
            Vec::new()
        } else {
            vec![type_name.clone()]
        };
        let format = m
            .get("format")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let validated_format = if SUPPORTED_FORMATS.contains(&normalize_format(&format).as_str()) {
            format.clone()
        } else {
            String::new()
        };
        let parse_list = |key: &str| -> Vec<Schema> {
            m.get(key)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(Schema::parse).collect())
                .unwrap_or_default()
        };
        let additional_properties = match m.get("additionalProperties") {
            Some(Value::Bool(b)) => Some(Additional::Allows(*b)),
            Some(s @ Value::Object(_)) => Some(Additional::Schema(Box::new(Schema::parse(s)))),
            _ => None,
        };
        Schema {
            types,
            nullable: as_bool(m.get("nullable")),
            validated_format,
            format,
            maximum: m.get("maximum").and_then(Value::as_f64),
            exclusive_maximum: as_bool(m.get("exclusiveMaximum")),
            minimum: m.get("minimum").and_then(Value::as_f64),
            exclusive_minimum: as_bool(m.get("exclusiveMinimum")),
            multiple_of: m.get("multipleOf").and_then(Value::as_f64),
            max_length: as_i64(m.get("maxLength")),
            min_length: as_i64(m.get("minLength")),
            pattern: m
                .get("pattern")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
                .map(|p| Pattern {
                    source: p.to_string(),
                    regex: Regex::new(&go_regex_to_rust(p)).map_err(|e| e.to_string()),
                }),
            max_items: as_i64(m.get("maxItems")),
            min_items: as_i64(m.get("minItems")),
            unique_items: as_bool(m.get("uniqueItems")),
            max_properties: as_i64(m.get("maxProperties")),
            min_properties: as_i64(m.get("minProperties")),
            required: m
                .get("required")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            enum_values: m.get("enum").and_then(Value::as_array).cloned(),
            properties: m
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| {
                    p.iter()
                        .map(|(k, v)| (k.clone(), Schema::parse(v)))
                        .collect()
                })
                .unwrap_or_default(),
            additional_properties,
            items: m
                .get("items")
                .filter(|i| i.is_object())
                .map(|i| Box::new(Schema::parse(i))),
            all_of: parse_list("allOf"),
            any_of: parse_list("anyOf"),
            one_of: parse_list("oneOf"),
            not: m
                .get("not")
                .filter(|n| n.is_object())
                .map(|n| Box::new(Schema::parse(n))),
            default: m.get("default").cloned(),
            preserve_unknown_fields: as_bool(m.get("x-kubernetes-preserve-unknown-fields")),
            embedded_resource: as_bool(m.get("x-kubernetes-embedded-resource")),
            int_or_string,
            list_type: m
                .get("x-kubernetes-list-type")
                .and_then(Value::as_str)
                .map(str::to_string),
            list_map_keys: m
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            type_name,
            rules: Vec::new(),
            rules_below: false,
        }
    }

    /// The schema of `additionalProperties` when it is a schema.
    pub fn additional_schema(&self) -> Option<&Schema> {
        match &self.additional_properties {
            Some(Additional::Schema(s)) => Some(s),
            _ => None,
        }
    }

    /// The structural schema of the value under `key` of an object (`properties` first, then
    /// `additionalProperties`).
    pub fn field_schema(&self, key: &str) -> Option<&Schema> {
        self.properties
            .get(key)
            .or_else(|| self.additional_schema())
    }
}

/// Rewrites the Perl classes whose meaning differs between Go's RE2 (ASCII only) and the `regex` crate
/// (Unicode by default), so a `pattern` matches the same strings it matches in kube-openapi.
pub fn go_regex_to_rust(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 8);
    let mut in_class = false;
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let replacement = if in_class {
                    match n {
                        'd' => Some("[:digit:]"),
                        'w' => Some("[:word:]"),
                        's' => Some("\\t\\n\\f\\r "),
                        _ => None,
                    }
                } else {
                    match n {
                        'd' => Some("[0-9]"),
                        'D' => Some("[^0-9]"),
                        'w' => Some("[0-9A-Za-z_]"),
                        'W' => Some("[^0-9A-Za-z_]"),
                        's' => Some("[\\t\\n\\f\\r ]"),
                        'S' => Some("[^\\t\\n\\f\\r ]"),
                        'b' => Some("(?-u:\\b)"),
                        'B' => Some("(?-u:\\B)"),
                        _ => None,
                    }
                };
                match replacement {
                    Some(r) => out.push_str(r),
                    None => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A leading `^` and a leading `]` belong to the class, not its end.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            '[' if in_class && chars.peek() == Some(&':') => {
                // POSIX class such as [:alpha:] inside a bracket expression.
                out.push('[');
                for n in chars.by_ref() {
                    out.push(n);
                    if n == ']' {
                        break;
                    }
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_int_or_string_and_strips_unsupported_formats() {
        let s = Schema::parse(&json!({"x-kubernetes-int-or-string": true}));
        assert_eq!(s.types, vec!["integer", "string"]);
        let s = Schema::parse(&json!({"type": "integer", "format": "int32"}));
        assert_eq!(s.validated_format, "");
        assert_eq!(s.format, "int32");
        let s = Schema::parse(&json!({"type": "string", "format": "date-time"}));
        assert_eq!(s.validated_format, "date-time");
    }

    #[test]
    fn regex_classes_are_ascii_like_go() {
        let r = |p: &str| Regex::new(&go_regex_to_rust(p)).map_err(|e| e.to_string());
        let digits = r(r"^\d+$").unwrap_or_else(|e| panic!("{e}"));
        assert!(digits.is_match("123"));
        assert!(!digits.is_match("١٢٣"));
        let class = r(r"^[\d\w-]+$").unwrap_or_else(|e| panic!("{e}"));
        assert!(class.is_match("a-1_b"));
        assert!(!class.is_match("é"));
        assert!(r(r"^[]a]+$").is_ok_and(|re| re.is_match("]a")));
        assert!(r(r"^[[:alpha:]]+$").is_ok_and(|re| re.is_match("abc")));
        assert!(r(r"\\d").is_ok_and(|re| re.is_match("\\d")));
    }
}
