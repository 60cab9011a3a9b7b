//! A port of the kube-openapi schema validator (`k8s.io/kube-openapi/pkg/validation/validate` and
//! `.../errors`, at the commit Kubernetes 1.35 vendors) as apiextensions drives it, including its ratcheting
//! on update (apiserver/validation/ratcheting.go) and the translation of its errors into field errors
//! (`kubeOpenAPIResultToFieldErrors` in apiserver/validation/validation.go).
//!
//! Messages, error order within a node and the "match count" used to pick which `anyOf`/`oneOf` branch's
//! errors to report follow the Go code. Go visits object properties in random order; here they are visited
//! in sorted order.

use serde_json::Value;

use super::correlation;
use super::errors::{FieldError, FieldPath, go_value};
use super::formats;
use super::model::{Additional, Schema};
use crate::gofmt;
use result::{Code, OErr, OResult, invalid_type, to_field_errors, with_in};

mod result;

/// The JSON type and format kube-openapi infers from an unstructured value (`schemaInfoForType`).
fn schema_info(v: &Value) -> (&'static str, &'static str) {
    match v {
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(n) if n.is_i64() => ("integer", "int64"),
        Value::Number(_) => ("number", "float64"),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
        Value::Null => ("", ""),
    }
}

/// A number as Go's JSON decoding holds it: int64 when it fits, float64 otherwise.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

fn num(v: &Value) -> Option<Num> {
    let n = v.as_number()?;
    Some(match n.as_i64() {
        Some(i) => Num::Int(i),
        None => Num::Float(n.as_f64().unwrap_or(f64::NAN)),
    })
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    fn value(self) -> Value {
        match self {
            Num::Int(i) => Value::from(i),
            Num::Float(f) => serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
        }
    }
}

/// `%v` of a kube-openapi bound: an int64 when compared natively with integer data, else a float64.
fn bound_text(b: Num) -> String {
    match b {
        Num::Int(i) => i.to_string(),
        Num::Float(f) => gofmt::float(f),
    }
}

/// swag `IsFloat64AJSONInteger`. Near-integers within a relative 1e-9 count, as in Go; Go compares
/// against `float64(uint64(f))`, which for negative fractions is far off, so those never count.
pub fn is_json_integer(f: f64) -> bool {
    const MAX: f64 = 9_007_199_254_740_991.0;
    const EPSILON: f64 = 1e-9;
    let smallest = f64::from_bits(1);
    if !f.is_finite() || !(-MAX..=MAX).contains(&f) {
        return false;
    }
    if f == f.trunc() {
        return true;
    }
    if f < 0.0 {
        return false;
    }
    let g = f.trunc();
    let diff = (f - g).abs();
    if g == 0.0 || diff < smallest {
        return diff < EPSILON * smallest;
    }
    diff / (f + g).min(f64::MAX) < EPSILON
}

/// Whether `data` equals an `enum` value after Go's reflect conversion to the enum value's type.
fn enum_matches(data: &Value, ev: &Value) -> bool {
    match (data, ev) {
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Number(_), Value::Number(_)) => match (num(data), num(ev)) {
            (Some(Num::Int(a)), Some(Num::Int(b))) => a == b,
            (Some(Num::Int(a)), Some(Num::Float(b))) => a as f64 == b,
            (Some(Num::Float(a)), Some(Num::Int(b))) => a as i64 == b,
            (Some(Num::Float(a)), Some(Num::Float(b))) => a == b,
            _ => false,
        },
        // Go converts an integer to the string holding that code point.
        (Value::Number(n), Value::String(s)) => match n.as_i64() {
            Some(i) => {
                let c = u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{fffd}');
                s.chars().eq(std::iter::once(c))
            }
            None => false,
        },
        _ => data == ev,
    }
}

/// Correlation of a value with its old value on update: the old value and the structural schema used
/// to pair children.
#[derive(Clone, Copy)]
pub struct Corr<'a> {
    pub old: &'a Value,
    pub schema: Option<&'a Schema>,
}

/// Validates `data` against `schema` like `SchemaValidator.Validate` with ratcheting on `corr`, and
/// converts the result into field errors under `fld_path`.
pub fn validate(
    schema: &Schema,
    data: &Value,
    fld_path: &FieldPath,
    corr: Option<Corr<'_>>,
) -> Vec<FieldError> {
    let result = validate_node(schema, data, "", corr);
    to_field_errors(fld_path, result)
}

/// A node reached through a property, additional property or index (a `ratchetingValueValidator`): its
/// errors are dropped when the value is unchanged from its paired old value.
fn validate_node(schema: &Schema, data: &Value, path: &str, corr: Option<Corr<'_>>) -> OResult {
    let mut r = validate_value(schema, data, path, corr);
    if let Some(c) = corr
        && !r.is_valid()
        && correlation::unchanged(c.schema, data, c.old)
    {
        r.errors.clear();
    }
    r
}

fn child_corr<'a>(corr: Option<Corr<'a>>, path: &str, data: &Value, key: &str) -> Option<Corr<'a>> {
    let c = corr?;
    // apiVersion and kind cannot ratchet: they are rewritten on conversion.
    if path.is_empty() && (key == "apiVersion" || key == "kind") {
        return None;
    }
    correlation::key(c.schema, data, c.old, key).map(|(old, s)| Corr {
        old,
        schema: Some(s),
    })
}

fn index_corr<'a>(corr: Option<Corr<'a>>, data: &Value, i: usize) -> Option<Corr<'a>> {
    let c = corr?;
    correlation::index(c.schema, data, c.old, i).map(|(old, s)| Corr {
        old,
        schema: Some(s),
    })
}

/// `SchemaValidator.Validate`.
fn validate_value(s: &Schema, data: &Value, path: &str, corr: Option<Corr<'_>>) -> OResult {
    let mut result = OResult::default();
    if data.is_null() {
        result.merge(type_check(s, data, path));
        result.merge(enum_check(s, data, path));
        return result;
    }
    let mut apply = |r: OResult| {
        result.merge(r);
        result.match_count += 1;
    };
    if !s.types.is_empty() || !s.validated_format.is_empty() {
        apply(type_check(s, data, path));
    }
    apply(composition_check(s, data, path, corr));
    if let Value::String(text) = data {
        apply(string_check(s, text, path));
        if !s.validated_format.is_empty() {
            let mut r = OResult::default();
            if !formats::validates(&s.validated_format, text) {
                r.add(invalid_type(path, &s.validated_format, text));
            }
            apply(r);
        }
    }
    if let Some(n) = num(data) {
        apply(number_check(s, n, path));
    }
    if let Value::Array(items) = data {
        apply(slice_check(s, data, items, path, corr));
    }
    apply(enum_check(s, data, path));
    if let Value::Object(_) = data {
        apply(object_check(s, data, path, corr));
    }
    result.match_count += 1;
    result
}

/// `typeValidator`.
fn type_check(s: &Schema, data: &Value, path: &str) -> OResult {
    let ok = OResult {
        errors: Vec::new(),
        match_count: 1,
    };
    let contains = |t: &str| s.types.iter().any(|x| x == t);
    if data.is_null() {
        if !s.types.is_empty() && !contains("null") && !s.nullable {
            return OResult::err(invalid_type(path, &s.types.join(","), "null"));
        }
        return ok;
    }
    let (sch_type, format) = schema_info(data);
    let is_float_int =
        sch_type == "number" && contains("integer") && data.as_f64().is_some_and(is_json_integer);
    let is_int_float = sch_type == "integer" && contains("number");
    let stringish = data.is_string() || data.is_array();
    let fmt = s.validated_format.as_str();
    let type_or_format_matches =
        contains(sch_type) || format == fmt || is_float_int || is_int_float;
    // A non-string value checked against a format must match the type or the format.
    if !(stringish || fmt.is_empty() || type_or_format_matches) {
        return OResult::err(invalid_type(path, fmt, format));
    }
    // Strings and lists under a non-numeric schema with a format are left to the format validator.
    let numeric = contains("number") || contains("integer");
    if stringish && !(numeric || fmt.is_empty()) {
        return ok;
    }
    if !(contains(sch_type) || is_float_int || is_int_float) {
        return OResult::err(invalid_type(path, &s.types.join(","), sch_type));
    }
    ok
}

/// `schemaPropsValidator`: anyOf, oneOf, allOf and not. Branches see the same correlation as the node.
fn composition_check(s: &Schema, data: &Value, path: &str, corr: Option<Corr<'_>>) -> OResult {
    let mut main = OResult::default();
    if !s.any_of.is_empty() {
        let mut best: Option<OResult> = None;
        let mut first_success: Option<OResult> = None;
        for branch in &s.any_of {
            let r = validate_value(branch, data, path, corr);
            if r.is_valid() {
                best = None;
                first_success = Some(r);
                break;
            }
            if best.as_ref().is_none_or(|b| r.match_count > b.match_count) {
                best = Some(r);
            }
        }
        if first_success.is_none() {
            main.add(OErr::Plain(format!(
                "{} must validate at least one schema (anyOf)",
                gofmt::quote(path)
            )));
        }
        if let Some(b) = best.or(first_success) {
            main.merge(b);
        }
    }
    if !s.one_of.is_empty() {
        let mut best: Option<OResult> = None;
        let mut first_success: Option<OResult> = None;
        let mut validated = 0;
        for branch in &s.one_of {
            let r = validate_value(branch, data, path, corr);
            if r.is_valid() {
                validated += 1;
                best = None;
                if first_success.is_none() {
                    first_success = Some(r);
                }
                continue;
            }
            if validated == 0 && best.as_ref().is_none_or(|b| r.match_count > b.match_count) {
                best = Some(r);
            }
        }
        if validated != 1 {
            let additional = if validated == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {validated} valid alternatives")
            };
            main.add(OErr::Plain(format!(
                "{} must validate one and only one schema (oneOf). {additional}",
                gofmt::quote(path)
            )));
            if let Some(b) = best {
                main.merge(b);
            }
        } else if let Some(f) = first_success {
            main.merge(f);
        }
    }
    if !s.all_of.is_empty() {
        let mut validated = 0;
        for branch in &s.all_of {
            let r = validate_value(branch, data, path, corr);
            if r.is_valid() {
                validated += 1;
            }
            main.merge(r);
        }
        if validated != s.all_of.len() {
            let additional = if validated == 0 {
                ". None validated"
            } else {
                ""
            };
            main.add(OErr::Plain(format!(
                "{} must validate all the schemas (allOf){additional}",
                gofmt::quote(path)
            )));
        }
    }
    if let Some(not) = &s.not
        && validate_value(not, data, path, corr).is_valid()
    {
        main.add(OErr::Plain(format!(
            "{} must not validate the schema (not)",
            gofmt::quote(path)
        )));
    }
    main.match_count += 1;
    main
}

/// `stringValidator`: the first failing check only.
fn string_check(s: &Schema, text: &str, path: &str) -> OResult {
    let len = text.chars().count() as i64;
    let value = Some(Value::String(text.to_string()));
    if let Some(max) = s.max_length
        && len > max
    {
        return OResult::err(OErr::Validation {
            code: Code::TooLong,
            name: path.to_string(),
            value,
            valid: Some(max),
            values: Vec::new(),
            message: with_in(path, format!("should be at most {max} chars long")),
        });
    }
    if let Some(min) = s.min_length
        && len < min
    {
        return OResult::err(OErr::Validation {
            code: Code::TooShort,
            name: path.to_string(),
            value,
            valid: Some(min),
            values: Vec::new(),
            message: with_in(path, format!("should be at least {min} chars long")),
        });
    }
    if let Some(p) = &s.pattern {
        let shown = match &p.regex {
            Ok(re) if re.is_match(text) => return OResult::default(),
            Ok(_) => p.source.clone(),
            Err(e) => format!("{}, but pattern is invalid: {e}", p.source),
        };
        return OResult::err(OErr::validation(
            Code::Pattern,
            path,
            value,
            with_in(path, format!("should match '{shown}'")),
        ));
    }
    OResult::default()
}

/// `numberValidator`: multipleOf, then minimum, then maximum; integer data is compared with the bounds
/// truncated to int64, as `*NativeType` does.
fn number_check(s: &Schema, n: Num, path: &str) -> OResult {
    let mut res = OResult {
        errors: Vec::new(),
        match_count: 1,
    };
    let value = Some(n.value());
    if let Some(factor) = s.multiple_of {
        let (bad, shown) = match n {
            Num::Int(i) => {
                let f = factor as i64;
                if f <= 0 {
                    res.add(OErr::validation(
                        Code::MultipleOfMustBePositive,
                        path,
                        Some(Value::from(f)),
                        format!("factor MultipleOf declared for {path} must be positive: {f}"),
                    ));
                    (false, String::new())
                } else {
                    (i.wrapping_div(f).wrapping_mul(f) != i, f.to_string())
                }
            }
            Num::Float(d) => {
                if factor <= 0.0 {
                    res.add(OErr::validation(
                        Code::MultipleOfMustBePositive,
                        path,
                        Num::Float(factor).value().into(),
                        format!(
                            "factor MultipleOf declared for {path} must be positive: {}",
                            gofmt::float(factor)
                        ),
                    ));
                    (false, String::new())
                } else {
                    let mult = if factor < 1.0 {
                        1.0 / factor * d
                    } else {
                        d / factor
                    };
                    (!is_json_integer(mult), gofmt::float(factor))
                }
            }
        };
        if bad {
            res.add(OErr::validation(
                Code::MultipleOf,
                path,
                value.clone(),
                with_in(path, format!("should be a multiple of {shown}")),
            ));
        }
    }
    let native = |bound: f64| match n {
        Num::Int(_) => Num::Int(bound as i64),
        Num::Float(_) => Num::Float(bound),
    };
    let beyond = |bound: Num, exclusive: bool, above: bool| -> bool {
        let ord = match (n, bound) {
            (Num::Int(a), Num::Int(b)) => a.partial_cmp(&b),
            _ => n.as_f64().partial_cmp(&bound.as_f64()),
        };
        match ord {
            Some(std::cmp::Ordering::Greater) => above,
            Some(std::cmp::Ordering::Less) => !above,
            Some(std::cmp::Ordering::Equal) => exclusive,
            None => false,
        }
    };
    if let Some(min) = s.minimum {
        let b = native(min);
        if beyond(b, s.exclusive_minimum, false) {
            let words = if s.exclusive_minimum {
                "should be greater than"
            } else {
                "should be greater than or equal to"
            };
            res.add(OErr::validation(
                Code::Min,
                path,
                value.clone(),
                with_in(path, format!("{words} {}", bound_text(b))),
            ));
        }
    }
    if let Some(max) = s.maximum {
        let b = native(max);
        if beyond(b, s.exclusive_maximum, true) {
            let words = if s.exclusive_maximum {
                "should be less than"
            } else {
                "should be less than or equal to"
            };
            res.add(OErr::validation(
                Code::Max,
                path,
                value,
                with_in(path, format!("{words} {}", bound_text(b))),
            ));
        }
    }
    res
}

/// `schemaSliceValidator`.
fn slice_check(
    s: &Schema,
    data: &Value,
    items: &[Value],
    path: &str,
    corr: Option<Corr<'_>>,
) -> OResult {
    let mut result = OResult::default();
    if let Some(item_schema) = &s.items {
        for (i, item) in items.iter().enumerate() {
            result.merge(validate_node(
                item_schema,
                item,
                &format!("{path}[{i}]"),
                index_corr(corr, data, i),
            ));
        }
    }
    let size = items.len() as i64;
    let sized = |code: Code, limit: i64, words: String| OErr::Validation {
        code,
        name: path.to_string(),
        value: Some(Value::from(size)),
        valid: Some(limit),
        values: Vec::new(),
        message: with_in(path, words),
    };
    if let Some(min) = s.min_items
        && size < min
    {
        result.add(sized(
            Code::MinItems,
            min,
            format!("should have at least {min} items"),
        ));
    }
    if let Some(max) = s.max_items
        && size > max
    {
        result.add(sized(
            Code::MaxItems,
            max,
            format!("should have at most {max} items"),
        ));
    }
    if s.unique_items
        && items
            .iter()
            .enumerate()
            .any(|(i, v)| items[..i].contains(v))
    {
        result.add(OErr::validation(
            Code::Unique,
            path,
            None,
            with_in(path, "shouldn't contain duplicates".into()),
        ));
    }
    result.match_count += 1;
    result
}

/// `basicCommonValidator` (enum).
fn enum_check(s: &Schema, data: &Value, path: &str) -> OResult {
    let Some(values) = s.enum_values.as_ref().filter(|v| !v.is_empty()) else {
        return OResult::default();
    };
    if values.iter().any(|ev| enum_matches(data, ev)) {
        return OResult::default();
    }
    let listed: Vec<String> = values.iter().map(go_value).collect();
    OResult::err(OErr::Validation {
        code: Code::Enum,
        name: path.to_string(),
        value: (!data.is_null()).then(|| data.clone()),
        valid: None,
        values: values.clone(),
        message: with_in(path, format!("should be one of [{}]", listed.join(" "))),
    })
}

/// `objectValidator` (patternProperties cannot appear in CRD schemas).
fn object_check(s: &Schema, data: &Value, path: &str, corr: Option<Corr<'_>>) -> OResult {
    let mut res = OResult::default();
    let Some(obj) = data.as_object() else {
        return res;
    };
    let n = obj.len() as i64;
    let counted = |code: Code, limit: i64, words: String| OErr::Validation {
        code,
        name: path.to_string(),
        value: Some(Value::from(n)),
        valid: Some(limit),
        values: Vec::new(),
        message: with_in(path, words),
    };
    if let Some(min) = s.min_properties
        && n < min
    {
        res.add(counted(
            Code::TooFewProperties,
            min,
            format!("should have at least {min} properties"),
        ));
    }
    if let Some(max) = s.max_properties
        && n > max
    {
        res.add(counted(
            Code::TooManyProperties,
            max,
            format!("should have at most {max} properties"),
        ));
    }
    let mut keys: Vec<&String> = obj.keys().collect();
    keys.sort();
    match &s.additional_properties {
        Some(Additional::Allows(false)) => {
            for k in keys
                .iter()
                .filter(|k| !s.properties.contains_key(k.as_str()))
            {
                res.add(OErr::validation(
                    Code::UnallowedProperty,
                    path,
                    Some(Value::String(k.to_string())),
                    format!("{path}.{k} in body is a forbidden property"),
                ));
            }
        }
        Some(Additional::Schema(add)) => {
            for k in keys
                .iter()
                .filter(|k| !s.properties.contains_key(k.as_str()))
            {
                let child = validate_node(
                    add,
                    &obj[k.as_str()],
                    &format!("{path}.{k}"),
                    child_corr(corr, path, data, k),
                );
                res.merge(child);
            }
        }
        _ => {}
    }
    for (name, prop) in &s.properties {
        if let Some(v) = obj.get(name) {
            let child_path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            res.merge(validate_node(
                prop,
                v,
                &child_path,
                child_corr(corr, path, data, name),
            ));
        }
    }
    for k in &s.required {
        if !obj.contains_key(k) {
            let name = format!("{path}.{k}");
            let message = format!("{name} in body is required");
            res.add(OErr::validation(Code::Required, &name, None, message));
        }
    }
    res
}

#[cfg(test)]
mod tests;
