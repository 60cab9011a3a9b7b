//! How object values reach CEL, as apiserver/pkg/cel/common (valuesunstructured.go) presents
//! them: typed by the structural schema (formats such as `date-time`, `duration` and
//! `int-or-string` included), with `apiVersion`, `kind` and `metadata` of resource roots, and
//! property names escaped as apiserver/pkg/cel/escaping.go does.

use std::collections::HashMap;
use std::sync::Arc;

use kube_cel::cel::Value as CelValue;
use kube_cel::cel::objects::{Key, Map as CelMap};
use serde_json::Value;

use super::super::formats;
use super::super::model::Schema;

const RESERVED: [&str; 21] = [
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// `cel.Escape`: the CEL name of an object property, or `None` when it cannot be expressed.
pub(super) fn escape(ident: &str) -> Option<String> {
    if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if RESERVED.contains(&ident) {
        return Some(format!("__{ident}__"));
    }
    if !ident
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'))
    {
        return None;
    }
    let mut out = String::with_capacity(ident.len());
    let mut chars = ident.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '_' if chars.peek() == Some(&'_') => {
                chars.next();
                out.push_str("__underscores__");
            }
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c => out.push(c),
        }
    }
    Some(out)
}

fn cel_str(s: &str) -> CelValue {
    CelValue::String(Arc::new(s.to_string()))
}

fn cel_map(entries: HashMap<Key, CelValue>) -> CelValue {
    CelValue::Map(CelMap {
        map: Arc::new(entries),
    })
}

/// Plain conversion for values without a usable schema.
fn generic_to_cel(v: &Value) -> CelValue {
    match v {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => CelValue::Int(i),
            None => CelValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => cel_str(s),
        Value::Array(a) => CelValue::List(Arc::new(a.iter().map(generic_to_cel).collect())),
        Value::Object(m) => cel_map(
            m.iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), generic_to_cel(v)))
                .collect(),
        ),
    }
}

/// `UnstructuredToVal`; `resource_root` adds apiVersion, kind and metadata (name, generateName) as
/// `WithTypeAndObjectMeta` does for the resource root and embedded resources.
pub(super) fn to_cel(v: &Value, s: &Schema, resource_root: bool) -> CelValue {
    if v.is_null() {
        return CelValue::Null;
    }
    if s.int_or_string {
        return generic_to_cel(v);
    }
    match s.type_name.as_str() {
        "object" => {
            let Some(m) = v.as_object() else {
                return generic_to_cel(v);
            };
            let embedded = resource_root || s.embedded_resource;
            if embedded || !s.properties.is_empty() {
                let mut out = HashMap::new();
                for (k, fv) in m {
                    let converted = match (embedded, k.as_str()) {
                        (true, "apiVersion" | "kind") => generic_to_cel(fv),
                        (true, "metadata") => match fv.as_object() {
                            Some(meta) => cel_map(
                                ["name", "generateName"]
                                    .iter()
                                    .filter_map(|f| {
                                        Some((
                                            Key::String(Arc::new(f.to_string())),
                                            generic_to_cel(meta.get(*f)?),
                                        ))
                                    })
                                    .collect(),
                            ),
                            None => generic_to_cel(fv),
                        },
                        // Null fields of objects read as absent, and undeclared fields are invisible.
                        _ => match s.properties.get(k) {
                            Some(ps) if !fv.is_null() => to_cel(fv, ps, ps.embedded_resource),
                            _ => continue,
                        },
                    };
                    if let Some(name) = escape(k) {
                        out.insert(Key::String(Arc::new(name)), converted);
                    }
                }
                return cel_map(out);
            }
            match s.additional_schema() {
                Some(add) => cel_map(
                    m.iter()
                        .map(|(k, fv)| {
                            (
                                Key::String(Arc::new(k.clone())),
                                to_cel(fv, add, add.embedded_resource),
                            )
                        })
                        .collect(),
                ),
                // An object with neither properties nor an additionalProperties schema (even with
                // x-kubernetes-preserve-unknown-fields) exposes no fields to CEL.
                None => cel_map(HashMap::new()),
            }
        }
        "array" => match (v.as_array(), s.items.as_deref()) {
            (Some(a), Some(items)) => CelValue::List(Arc::new(
                a.iter()
                    .map(|i| to_cel(i, items, items.embedded_resource))
                    .collect(),
            )),
            _ => generic_to_cel(v),
        },
        "string" => {
            let Some(text) = v.as_str() else {
                return generic_to_cel(v);
            };
            match s.format.as_str() {
                "duration" => match formats::parse_duration(text) {
                    Some(ns) => CelValue::Duration(chrono::Duration::nanoseconds(ns)),
                    None => cel_str(text),
                },
                "date" => match formats::parse_date(text).and_then(|d| d.and_hms_opt(0, 0, 0)) {
                    Some(dt) => CelValue::Timestamp(dt.and_utc().fixed_offset()),
                    None => cel_str(text),
                },
                "date-time" => match formats::parse_date_time(text) {
                    Some(t) => CelValue::Timestamp(t),
                    None => cel_str(text),
                },
                "byte" => {
                    use base64::Engine;
                    let decoded = base64::engine::general_purpose::URL_SAFE
                        .decode(text)
                        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text));
                    match decoded {
                        Ok(b) => CelValue::Bytes(Arc::new(b)),
                        Err(_) => cel_str(text),
                    }
                }
                _ => cel_str(text),
            }
        }
        "number" => CelValue::Float(v.as_f64().unwrap_or(f64::NAN)),
        "integer" => match v.as_i64() {
            Some(i) => CelValue::Int(i),
            None => generic_to_cel(v),
        },
        _ => generic_to_cel(v),
    }
}
