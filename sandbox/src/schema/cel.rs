//! `x-kubernetes-validations`: rules compiled once with the `cel` crate (Kubernetes' CEL libraries come from
//! `kube-cel`) and evaluated the way apiextensions-apiserver/pkg/apiserver/schema/cel/validation.go does at
//! v0.35.0: which rules run where, `oldSelf` pairing, ratcheting of unchanged values, `fieldPath`, `reason`,
//! `messageExpression`, and the wording of failures. How values reach CEL is [`values`].

use std::sync::Arc;

use kube_cel::KubeCelExt;
use kube_cel::cel::objects::OptionalValue;
use kube_cel::cel::{Context, ExecutionError, Program, Value as CelValue};
use serde_json::{Value, json};

use super::correlation;
use super::errors::{FieldError, FieldPath};
use super::model::{Additional, CompiledRule, Schema};
use crate::gofmt;
use values::to_cel;

mod values;

const SUPPORTED_REASONS: [&str; 4] = [
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueInvalid",
    "FieldValueRequired",
];

/// The `%#v` of apiextensions' internal `ValidationRule`, which CRD validation prints as the bad value of
/// a rule that does not compile (Go cannot JSON-encode internal types). Set pointers print as addresses
/// in Go; a fixed one stands in here.
fn rule_go_syntax(raw: &serde_json::Map<String, Value>) -> String {
    let s = |k: &str| gofmt::quote(raw.get(k).and_then(Value::as_str).unwrap_or_default());
    let reason = match raw.get("reason").and_then(Value::as_str) {
        Some(_) => "(*apiextensions.FieldValueErrorReason)(0xc000010000)",
        None => "(*apiextensions.FieldValueErrorReason)(nil)",
    };
    let optional = match raw.get("optionalOldSelf").and_then(Value::as_bool) {
        Some(_) => "(*bool)(0xc000010008)",
        None => "(*bool)(nil)",
    };
    format!(
        "apiextensions.ValidationRule{{Rule:{}, Message:{}, MessageExpression:{}, Reason:{reason}, FieldPath:{}, OptionalOldSelf:{optional}}}",
        s("rule"),
        s("message"),
        s("messageExpression"),
        s("fieldPath")
    )
}

/// Compiles the rules of every node of `schema` (parsed from `raw`), reporting problems the way CRD
/// validation (apis/apiextensions/validation/validation.go) reports them under `path`.
pub fn compile_tree(
    raw: &Value,
    schema: &mut Schema,
    path: &FieldPath,
    problems: &mut Vec<FieldError>,
) {
    let Some(m) = raw.as_object() else { return };
    if let Some(rules) = m.get("x-kubernetes-validations").and_then(Value::as_array) {
        for (i, r) in rules.iter().enumerate() {
            let rule_path = path.child("x-kubernetes-validations").index(i);
            if let Some(r) = r.as_object()
                && let Some(c) = compile_rule(r, schema, &rule_path, problems)
            {
                schema.rules.push(c);
            }
        }
    }
    if let Some(props) = m.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            if let Some(child) = schema.properties.get_mut(k) {
                compile_tree(v, child, &path.child("properties").key(k), problems);
            }
        }
    }
    if let (Some(v), Some(items)) = (m.get("items"), schema.items.as_deref_mut()) {
        compile_tree(v, items, &path.child("items"), problems);
    }
    if let (Some(v), Some(Additional::Schema(add))) = (
        m.get("additionalProperties"),
        schema.additional_properties.as_mut(),
    ) {
        compile_tree(v, add, &path.child("additionalProperties"), problems);
    }
    for (key, list) in [
        ("allOf", &mut schema.all_of),
        ("anyOf", &mut schema.any_of),
        ("oneOf", &mut schema.one_of),
    ] {
        if let Some(raws) = m.get(key).and_then(Value::as_array) {
            for (i, (r, s)) in raws.iter().zip(list.iter_mut()).enumerate() {
                compile_tree(r, s, &path.child(key).index(i), problems);
            }
        }
    }
    if let (Some(v), Some(not)) = (m.get("not"), schema.not.as_deref_mut()) {
        compile_tree(v, not, &path.child("not"), problems);
    }
    // What `walk` descends into (it does not follow anyOf, oneOf or not).
    schema.rules_below = !schema.rules.is_empty()
        || schema.properties.values().any(|s| s.rules_below)
        || schema.items.as_deref().is_some_and(|s| s.rules_below)
        || schema.additional_schema().is_some_and(|s| s.rules_below)
        || schema.all_of.iter().any(|s| s.rules_below);
}

fn compile_rule(
    raw: &serde_json::Map<String, Value>,
    node: &Schema,
    path: &FieldPath,
    problems: &mut Vec<FieldError>,
) -> Option<CompiledRule> {
    let s = |k: &str| {
        raw.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (rule, message, message_expression, field_path) = (
        s("rule"),
        s("message"),
        s("messageExpression"),
        s("fieldPath"),
    );
    let reason = raw
        .get("reason")
        .and_then(Value::as_str)
        .map(str::to_string);
    let has_newline = |t: &str| t.contains('\n');
    let before = problems.len();
    if rule.trim().is_empty() {
        problems.push(FieldError::required(
            path.child("rule").render(),
            "rule is not specified",
        ));
    } else if !message.is_empty() && message.trim().is_empty() {
        problems.push(FieldError::invalid(
            path.child("message").render(),
            json!(message),
            "must be non-empty if specified",
        ));
    } else if has_newline(message.trim()) {
        problems.push(FieldError::invalid(
            path.child("message").render(),
            json!(message),
            "must not contain line breaks",
        ));
    } else if has_newline(rule.trim()) && message.trim().is_empty() {
        problems.push(FieldError::required(
            path.child("message").render(),
            "message must be specified if rule contains line breaks",
        ));
    }
    if !message_expression.is_empty() && message_expression.trim().is_empty() {
        problems.push(FieldError::required(
            path.child("messageExpression").render(),
            "messageExpression must be non-empty if specified",
        ));
    }
    if let Some(r) = &reason
        && !SUPPORTED_REASONS.contains(&r.as_str())
    {
        problems.push(FieldError::not_supported(
            path.child("reason").render(),
            json!(r),
            &SUPPORTED_REASONS,
        ));
    }
    let mut normalized_field_path = None;
    if !field_path.is_empty() {
        let fp = path.child("fieldPath").render();
        if field_path.trim().is_empty() {
            problems.push(FieldError::invalid(
                fp.clone(),
                json!(field_path),
                "must be non-empty if specified",
            ));
        }
        if has_newline(&field_path) {
            problems.push(FieldError::invalid(
                fp.clone(),
                json!(field_path),
                "must not contain line breaks",
            ));
        }
        match valid_field_path(&field_path, node) {
            Ok(p) => normalized_field_path = Some(p.render()),
            Err(_) => problems.push(FieldError::invalid(
                fp,
                json!(field_path),
                "must be a valid path",
            )),
        }
    }
    let program = match Program::compile(&rule) {
        Ok(p) => Some(p),
        Err(e) => {
            problems.push(FieldError::invalid_go_syntax(
                path.child("rule").render(),
                rule_go_syntax(raw),
                format!("compilation failed: {e}"),
            ));
            None
        }
    };
    let message_program = if message_expression.trim().is_empty() {
        None
    } else {
        match Program::compile(&message_expression) {
            Ok(p) => Some(p),
            Err(e) => {
                problems.push(FieldError::invalid_go_syntax(
                    path.child("messageExpression").render(),
                    rule_go_syntax(raw),
                    format!("messageExpression compilation failed: {e}"),
                ));
                None
            }
        }
    };
    if problems.len() > before {
        return None;
    }
    let program = program?;
    let uses_old_self = program.references().has_variable("oldSelf");
    Some(CompiledRule {
        rule,
        message,
        reason,
        optional_old_self: raw
            .get("optionalOldSelf")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        program,
        message_program,
        uses_old_self,
        normalized_field_path,
    })
}

/// Splits a rule `fieldPath` into tokens: `.`, `[`, `]`, single-quoted strings and names.
fn tokenize(path: &str) -> Vec<String> {
    let chars: Vec<char> = path.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\'' {
            let end = (i + 1..chars.len()).find(|&j| chars[j] == '\'' && chars[j - 1] != '\\');
            let end = end.map_or(chars.len(), |j| j + 1);
            tokens.push(chars[i..end].iter().collect());
            i = end;
        } else if matches!(chars[i], '.' | '[' | ']') {
            tokens.push(chars[i].to_string());
            i += 1;
        } else {
            let end = (i..chars.len())
                .find(|&j| matches!(chars[j], '.' | '[' | ']'))
                .unwrap_or(chars.len());
            tokens.push(chars[i..end].iter().collect());
            i = end;
        }
    }
    tokens
}

fn unescape_single_quote(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next() {
            Some('a') => '\u{7}',
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('v') => '\u{b}',
            Some('\'') => '\'',
            Some('\\') => '\\',
            other => {
                return Err(format!(
                    "invalid escape char \\{}",
                    other.map(String::from).unwrap_or_default()
                ));
            }
        });
    }
    Ok(out)
}

/// `ValidFieldPath`: the field path a rule's `fieldPath` denotes, relative to the rule's node.
pub fn valid_field_path(path: &str, schema: &Schema) -> Result<FieldPath, String> {
    resolve_field_path(path, schema, true).map(|(path, _)| path)
}

/// `ValidFieldPath` with its options: the field path `path` denotes from `schema`, and the schema
/// found there (`None` below an `additionalProperties: true`). `allow_array_notation: false` is
/// `WithFieldPathAllowArrayNotation(false)`, as for `selectableFields`.
pub fn resolve_field_path<'a>(
    path: &str,
    schema: &'a Schema,
    allow_array_notation: bool,
) -> Result<(FieldPath, Option<&'a Schema>), String> {
    let mut out = FieldPath::nil();
    let mut current = Some(schema);
    let mut tokens = tokenize(path).into_iter();
    let step =
        |name: &str, out: &mut FieldPath, current: &mut Option<&'a Schema>| -> Result<(), String> {
            let s = current.ok_or("does not refer to a valid field")?;
            if !s.properties.is_empty() {
                *out = out.child(name);
                *current = Some(
                    s.properties
                        .get(name)
                        .ok_or("does not refer to a valid field")?,
                );
            } else if let Some(add) = &s.additional_properties {
                *out = out.key(name);
                *current = match add {
                    Additional::Schema(a) => Some(a),
                    Additional::Allows(_) => None,
                };
            } else {
                return Err("does not refer to a valid field".into());
            }
            Ok(())
        };
    while let Some(tok) = tokens.next() {
        match tok.as_str() {
            "[" if !allow_array_notation => return Err("array notation is not allowed".into()),
            "[" => {
                let quoted = tokens.next().ok_or("unexpected end of JSON path")?;
                if quoted.len() < 2 || !quoted.starts_with('\'') || !quoted.ends_with('\'') {
                    return Err(format!("expected single quoted string but got {quoted}"));
                }
                let name = unescape_single_quote(&quoted[1..quoted.len() - 1])?;
                step(&name, &mut out, &mut current)?;
                match tokens.next() {
                    None => return Err("unexpected end of JSON path".into()),
                    Some(t) if t != "]" => return Err(format!("expected ] but got {t}")),
                    Some(_) => {}
                }
            }
            "." => {
                let name = tokens.next().ok_or("unexpected end of JSON path")?;
                step(&name, &mut out, &mut current)?;
            }
            other => return Err(format!("expected [ or . but got: {other}")),
        }
    }
    Ok((out, current))
}

/// The Kubernetes CEL environment, built once.
pub struct Env {
    base: Context<'static>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env")
    }
}

impl Env {
    pub fn new() -> Self {
        Env {
            base: Context::default().with_all(),
        }
    }
}

/// A node's pairing with its old value, for ratcheting.
#[derive(Clone, Copy)]
struct CorrRef<'a> {
    new: &'a Value,
    old: &'a Value,
    schema: &'a Schema,
}

/// `ratchetingOptions`: the node's own pairing and that of its nearest paired ancestor.
#[derive(Clone, Copy, Default)]
struct Ratchet<'a> {
    current: Option<CorrRef<'a>>,
    nearest_parent: Option<CorrRef<'a>>,
}

impl<'a> Ratchet<'a> {
    fn should_ratchet(&self) -> bool {
        let c = self.current.or(self.nearest_parent);
        c.is_some_and(|c| correlation::unchanged(Some(c.schema), c.new, c.old))
    }

    fn key(self, k: &str) -> Ratchet<'a> {
        let Some(cur) = self.current else { return self };
        if self.nearest_parent.is_none() && (k == "apiVersion" || k == "kind") {
            return Ratchet::default();
        }
        let child =
            correlation::key(Some(cur.schema), cur.new, cur.old, k).and_then(|(old, schema)| {
                Some(CorrRef {
                    new: cur.new.get(k)?,
                    old,
                    schema,
                })
            });
        Ratchet {
            current: child,
            nearest_parent: Some(cur),
        }
    }

    fn index(self, i: usize) -> Ratchet<'a> {
        let Some(cur) = self.current else { return self };
        let child =
            correlation::index(Some(cur.schema), cur.new, cur.old, i).and_then(|(old, schema)| {
                Some(CorrRef {
                    new: cur.new.get(i)?,
                    old,
                    schema,
                })
            });
        Ratchet {
            current: child,
            nearest_parent: Some(cur),
        }
    }
}

/// Whether the structural schema has rules (`hasXValidations`: rules only inside `allOf` do not count, so
/// such a schema gets no CEL validator at all).
pub fn has_rules(s: &Schema) -> bool {
    !s.rules.is_empty()
        || s.properties.values().any(has_rules)
        || s.items.as_deref().is_some_and(has_rules)
        || s.additional_schema().is_some_and(has_rules)
}

/// Evaluates all rules of `root` against `obj` (and `old` on update), as `Validator.Validate` with
/// ratcheting enabled.
pub fn validate(env: &Env, root: &Schema, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ratchet = Ratchet {
        current: old.map(|old| CorrRef {
            new: obj,
            old,
            schema: root,
        }),
        nearest_parent: None,
    };
    let node = Node {
        vs: root,
        ns: root,
        path: FieldPath::nil(),
        obj,
        old,
        ratchet,
        resource_root: true,
    };
    walk(env, &node, &mut errs);
    errs
}

struct Node<'a> {
    /// The schema holding the rules (an `allOf` branch, or the node itself).
    vs: &'a Schema,
    /// The structural schema of the value.
    ns: &'a Schema,
    path: FieldPath,
    obj: &'a Value,
    old: Option<&'a Value>,
    ratchet: Ratchet<'a>,
    resource_root: bool,
}

fn walk(env: &Env, n: &Node<'_>, errs: &mut Vec<FieldError>) {
    // No rule anywhere below: nothing to evaluate (most of an object, e.g. a Pod template).
    if n.obj.is_null() || !n.vs.rules_below {
        return;
    }
    if !n.vs.rules.is_empty() {
        evaluate(env, n, errs);
    }
    for branch in &n.vs.all_of {
        let ratchet = Ratchet {
            current: None,
            nearest_parent: n.ratchet.nearest_parent,
        };
        walk(
            env,
            &Node {
                vs: branch,
                path: n.path.clone(),
                ratchet,
                ..*n
            },
            errs,
        );
    }
    match n.obj {
        Value::Array(items) => {
            let (Some(vi), Some(ni)) = (n.vs.items.as_deref(), n.ns.items.as_deref()) else {
                return;
            };
            let old_items = n.old.and_then(Value::as_array);
            for (i, item) in items.iter().enumerate() {
                let old_item = match (n.ns.list_type.as_deref(), old_items) {
                    (Some("map"), Some(o)) => correlation::map_list_get(n.ns, o, item),
                    _ => None,
                };
                let child = Node {
                    vs: vi,
                    ns: ni,
                    path: n.path.index(i),
                    obj: item,
                    old: old_item,
                    ratchet: n.ratchet.index(i),
                    resource_root: ni.embedded_resource,
                };
                walk(env, &child, errs);
            }
        }
        Value::Object(map) => {
            let old_map = n.old.and_then(Value::as_object);
            if let (Some(va), Some(na)) = (n.vs.additional_schema(), n.ns.additional_schema()) {
                for (k, v) in map {
                    let child = Node {
                        vs: va,
                        ns: na,
                        path: n.path.key(k),
                        obj: v,
                        old: old_map.and_then(|o| o.get(k)),
                        ratchet: n.ratchet.key(k),
                        resource_root: na.embedded_resource,
                    };
                    walk(env, &child, errs);
                }
            }
            for (k, v) in map {
                let (Some(vp), Some(np)) = (n.vs.properties.get(k), n.ns.properties.get(k)) else {
                    continue;
                };
                let child = Node {
                    vs: vp,
                    ns: np,
                    path: n.path.child(k),
                    obj: v,
                    old: old_map.and_then(|o| o.get(k)),
                    ratchet: n.ratchet.key(k),
                    resource_root: np.embedded_resource,
                };
                walk(env, &child, errs);
            }
        }
        _ => {}
    }
}

/// cel-go's wording for the runtime errors the `cel` crate reports.
fn runtime_error_text(e: &ExecutionError) -> (bool, String) {
    match e {
        ExecutionError::NoSuchKey(k) => (false, format!("no such key: {k}")),
        ExecutionError::NoSuchOverload
        | ExecutionError::ValuesNotComparable(..)
        | ExecutionError::UnsupportedBinaryOperator(..)
        | ExecutionError::UnsupportedUnaryOperator(..)
        | ExecutionError::UnexpectedType { .. } => (true, "no such overload".to_string()),
        ExecutionError::DivisionByZero(_) => (false, "division by zero".to_string()),
        ExecutionError::RemainderByZero(_) => (false, "modulus by zero".to_string()),
        ExecutionError::Overflow(..) => (false, "integer overflow".to_string()),
        ExecutionError::UndeclaredReference(name) => {
            (false, format!("undeclared reference to '{name}'"))
        }
        ExecutionError::FunctionError { message, .. } => (false, message.clone()),
        other => (false, other.to_string()),
    }
}

fn evaluate(env: &Env, n: &Node<'_>, errs: &mut Vec<FieldError>) {
    let sts = n.ns;
    let type_value = json!(sts.type_name);
    let self_val = to_cel(n.obj, sts, n.resource_root);
    let old_val = n
        .old
        .filter(|o| !o.is_null())
        .map(|o| to_cel(o, sts, n.resource_root));
    let mut scope = env.base.new_inner_scope();
    scope.add_variable_from_value("self", self_val.clone());
    if let Some(o) = &old_val {
        scope.add_variable_from_value("oldSelf", o.clone());
    }
    let mut optional_scope = env.base.new_inner_scope();
    optional_scope.add_variable_from_value("self", self_val);
    let optional_old = match &old_val {
        Some(o) => OptionalValue::of(o.clone()),
        None => OptionalValue::none(),
    };
    optional_scope.add_variable_from_value("oldSelf", CelValue::Opaque(Arc::new(optional_old)));

    for rule in &n.vs.rules {
        if rule.uses_old_self && old_val.is_none() && !rule.optional_old_self {
            // Transition rules only run when there is an old value to compare with.
            continue;
        }
        let ctx = if rule.optional_old_self {
            &optional_scope
        } else {
            &scope
        };
        let rule_text = if rule.message.trim().is_empty() {
            rule.rule.trim()
        } else {
            rule.message.trim()
        };
        match rule.program.execute(ctx) {
            Ok(CelValue::Bool(true)) => continue,
            Ok(CelValue::Bool(false)) => {}
            Ok(_) => {
                errs.push(FieldError::invalid(
                    n.path.render(),
                    type_value.clone(),
                    "rule compile error: cel expression must evaluate to a bool",
                ));
                continue;
            }
            Err(e) => {
                let (overload, text) = runtime_error_text(&e);
                let detail = if overload {
                    format!(
                        "'{text}': call arguments did not match a supported operator, function or macro signature for rule: {rule_text}"
                    )
                } else {
                    format!("{text} evaluating rule: {rule_text}")
                };
                errs.push(FieldError::invalid(
                    n.path.render(),
                    type_value.clone(),
                    detail,
                ));
                continue;
            }
        }
        let path = match &rule.normalized_field_path {
            Some(p) => n.path.child(p),
            None => n.path.clone(),
        };
        let detail = rule
            .message_program
            .as_ref()
            .and_then(|p| match p.execute(&scope) {
                Ok(CelValue::String(s)) => {
                    let t = s.trim();
                    (!t.is_empty() && !t.contains('\n') && t.len() <= 5 * 1024)
                        .then(|| t.to_string())
                }
                _ => None,
            })
            .unwrap_or_else(|| {
                if rule.message.is_empty() {
                    format!("failed rule: {rule_text}")
                } else {
                    rule.message.trim().to_string()
                }
            });
        let value = (sts.type_name != "object" && sts.type_name != "array").then(|| n.obj.clone());
        let field = path.render();
        let err = match rule.reason.as_deref() {
            Some("FieldValueForbidden") => FieldError::forbidden(field, detail),
            Some("FieldValueRequired") => FieldError::required(field, detail),
            Some("FieldValueDuplicate") => FieldError::duplicate(field, value),
            _ => match value {
                Some(v) => FieldError::invalid(field, v, detail),
                None => FieldError::invalid_omit_value(field, detail),
            },
        };
        // Errors of unchanged values are only warnings; transition rules always count.
        if rule.uses_old_self || !n.ratchet.should_ratchet() {
            errs.push(err);
        }
    }
}

#[cfg(test)]
mod tests;
