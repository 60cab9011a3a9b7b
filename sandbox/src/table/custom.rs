//! The Table convertor of custom resources (apiextensions-apiserver `tableconvertor.go`):
//! `Name`, then one column per `additionalPrinterColumns` entry (or `Age` when the CRD
//! declares none), each cell read with a JSONPath.
//!
//! Column paths use client-go's JSONPath dialect (`.status.phase`, `.items[0].name`,
//! `.conditions[?(@.type=="Ready")].status`, `.metadata.labels.app\.kubernetes\.io/name`).
//! They are parsed the way client-go parses them and rewritten into RFC 9535 for the
//! `jsonpath-rust` evaluator. Only the first match becomes the cell, as upstream.

use chrono::{DateTime, Utc};
use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

use super::{CREATION_TIMESTAMP_DOC, ColumnDef, Row, human_duration, name_of};
use crate::gofmt;
use crate::resource_types::PrinterColumn;

pub(super) struct Convertor {
    pub(super) columns: Vec<ColumnDef>,
    /// One per column after `Name`; `None` when the path parses (so the column exists) but
    /// cannot be evaluated, which leaves its cells empty.
    paths: Vec<Option<JpQuery>>,
}

impl Convertor {
    pub(super) fn new(printer_columns: &[PrinterColumn]) -> Self {
        let age;
        let printer_columns = if printer_columns.is_empty() {
            age = [PrinterColumn {
                name: "Age".into(),
                type_: "date".into(),
                format: String::new(),
                description: CREATION_TIMESTAMP_DOC.into(),
                priority: 0,
                json_path: ".metadata.creationTimestamp".into(),
            }];
            &age[..]
        } else {
            printer_columns
        };
        let mut columns = vec![ColumnDef::name_column()];
        let mut paths = Vec::new();
        for col in printer_columns {
            // Upstream stops at the first path it cannot parse and serves the columns so far.
            let Ok(rfc) = translate(&col.json_path) else {
                break;
            };
            paths.push(rfc.and_then(|p| parse_json_path(&p).ok()));
            let description = if col.description.is_empty() {
                format!(
                    "Custom resource definition column (in JSONPath format): {}",
                    col.json_path
                )
            } else {
                col.description.clone()
            };
            columns.push(ColumnDef {
                name: col.name.clone(),
                type_: col.type_.clone(),
                format: col.format.clone(),
                description,
                priority: col.priority,
            });
        }
        Convertor { columns, paths }
    }

    pub(super) fn row(&self, obj: &Value, now: DateTime<Utc>) -> Row {
        let mut cells = vec![Value::from(name_of(obj))];
        for (path, column) in self.paths.iter().zip(&self.columns[1..]) {
            let first = path
                .as_ref()
                .and_then(|p| js_path_process(p, obj).ok())
                .and_then(|found| found.into_iter().next().map(|r| r.val));
            cells.push(match first {
                None => Value::Null,
                Some(value) if column.type_ == "string" => Value::String(go_print(value)),
                Some(value) => cell_for_json_value(&column.type_, value, now),
            });
        }
        Row::cells(cells)
    }
}

/// `cellForJSONValue` for the non-string column types: the value keeps its JSON type when
/// it fits the column, and is empty otherwise.
fn cell_for_json_value(type_: &str, value: &Value, now: DateTime<Utc>) -> Value {
    match (type_, value) {
        ("integer", Value::Number(n)) => match n.as_i64() {
            Some(i) => i.into(),
            // Go truncates a float64 to int64.
            None => n
                .as_f64()
                .map(|f| Value::from(f as i64))
                .unwrap_or(Value::Null),
        },
        ("number", Value::Number(n)) => n.as_f64().map(go_float_cell).unwrap_or(Value::Null),
        ("boolean", Value::Bool(b)) => Value::Bool(*b),
        ("date", Value::String(s)) => Value::String(date_cell(s, now)),
        _ => Value::Null,
    }
}

/// A float as Go's encoding/json writes it: whole numbers without a fraction.
fn go_float_cell(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::from(f as i64)
    } else {
        Value::from(f)
    }
}

/// A `date` column: the age of an RFC 3339 timestamp (`metav1.Time.UnmarshalQueryParameter`
/// then `ConvertToHumanReadableDateType`).
fn date_cell(s: &str, now: DateTime<Utc>) -> String {
    if s.is_empty() || s == "null" {
        return "<unknown>".into();
    }
    match DateTime::parse_from_rfc3339(s) {
        Ok(t) if t.timestamp() == super::ZERO_TIME_UNIX => "<unknown>".into(),
        Ok(t) => human_duration(now - t.with_timezone(&Utc)),
        Err(_) => "<invalid>".into(),
    }
}

/// How client-go's `JSONPath.PrintResults` writes one value: objects and arrays as Go JSON,
/// JSON null as `<no value>`, everything else as Go's `fmt.Print`.
fn go_print(value: &Value) -> String {
    match value {
        Value::Null => "<no value>".into(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => gofmt::float(n.as_f64().unwrap_or_default()),
        },
        Value::Array(_) | Value::Object(_) => gofmt::json(value),
    }
}

/// A parsed client-go JSONPath node.
#[derive(Clone, Debug, PartialEq)]
enum Node {
    Field(String),
    Wildcard,
    Recursive,
    /// `[i]` (an index) or `[a:b:c]` (a slice), already in RFC 9535 selector form.
    Array(String),
    Union(Vec<Vec<Node>>),
    Filter {
        left: Vec<Node>,
        op: String,
        right: Vec<Node>,
    },
    Exists(Vec<Node>),
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Parses, but fails whenever evaluated: `range`, `end`, an unknown word, a step <= 0.
    Unusable,
}

/// Parses a CRD column path as client-go does (`jsonpath.Parse("{" + path + "}")`).
/// `Err` when client-go would reject it; `Ok(None)` when it parses but cannot be evaluated
/// as a path here; otherwise the equivalent RFC 9535 query.
fn translate(path: &str) -> Result<Option<String>, ()> {
    let nodes = parse_action(path, true)?;
    let mut out = String::from("$");
    Ok(emit_path(&nodes, &mut out).map(|()| out))
}

fn emit_path(nodes: &[Node], out: &mut String) -> Option<()> {
    let mut pending_recursive = false;
    for node in nodes {
        match node {
            Node::Recursive => {
                out.push_str("..");
                pending_recursive = true;
                continue;
            }
            Node::Field(name) => {
                out.push('[');
                out.push_str(&Value::from(name.as_str()).to_string());
                out.push(']');
            }
            Node::Wildcard => out.push_str("[*]"),
            Node::Array(selector) => {
                out.push('[');
                out.push_str(selector);
                out.push(']');
            }
            Node::Union(members) => {
                let mut selectors = Vec::new();
                for member in members {
                    match member.as_slice() {
                        [Node::Field(name)] => {
                            selectors.push(Value::from(name.as_str()).to_string())
                        }
                        [Node::Array(selector)] => selectors.push(selector.clone()),
                        _ => return None,
                    }
                }
                out.push('[');
                out.push_str(&selectors.join(","));
                out.push(']');
            }
            Node::Exists(left) => {
                out.push_str("[?(");
                out.push_str(&emit_comparable(left)?);
                out.push_str(")]");
            }
            Node::Filter { left, op, right } => {
                if !matches!(op.as_str(), "==" | "!=" | "<" | ">" | "<=" | ">=") {
                    return None;
                }
                out.push_str(&format!(
                    "[?({} {op} {})]",
                    emit_comparable(left)?,
                    emit_comparable(right)?
                ));
            }
            Node::Text(_) | Node::Int(_) | Node::Float(_) | Node::Bool(_) | Node::Unusable => {
                return None;
            }
        }
        pending_recursive = false;
    }
    (!pending_recursive).then_some(())
}

/// One side of a filter: a literal, or a path relative to the element (client-go ignores
/// `@` and `$` alike, so both are relative).
fn emit_comparable(nodes: &[Node]) -> Option<String> {
    match nodes {
        [Node::Text(s)] => Some(Value::from(s.as_str()).to_string()),
        [Node::Int(i)] => Some(i.to_string()),
        [Node::Float(f)] => Some(format!("{f:?}")),
        [Node::Bool(b)] => Some(b.to_string()),
        path => {
            let mut out = String::from("@");
            emit_path(path, &mut out)?;
            Some(out)
        }
    }
}

fn is_terminator(c: Option<char>) -> bool {
    matches!(
        c,
        None | Some(' ' | '\t' | '\r' | '\n' | '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}')
    )
}

fn is_alphanumeric(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

/// client-go's `parseInsideAction` over one action's text. `top` is false for the pieces of
/// unions and filters, which client-go parses as actions of their own.
fn parse_action(text: &str, top: bool) -> Result<Vec<Node>, ()> {
    let mut nodes = Vec::new();
    let mut rest = text;
    loop {
        if rest.starts_with('}') && top {
            // The rest would be literal text after the action; it adds no result to the
            // first action, which is all a column reads.
            return Ok(nodes);
        }
        if let Some(after) = rest.strip_prefix("[?(") {
            let (node, after) = parse_filter(after)?;
            nodes.push(node);
            rest = after;
            continue;
        }
        if let Some(after) = rest.strip_prefix("..") {
            if nodes.last() == Some(&Node::Recursive) {
                return Err(());
            }
            nodes.push(Node::Recursive);
            rest = after;
            if after.chars().next().is_some_and(is_alphanumeric) {
                let (node, after) = parse_field(after);
                nodes.push(node);
                rest = after;
            }
            continue;
        }
        let mut chars = rest.chars();
        let Some(c) = chars.next() else {
            return Ok(nodes);
        };
        let after = chars.as_str();
        match c {
            '\r' | '\n' => return Err(()),
            ' ' | '@' | '$' => rest = after,
            '[' => {
                let end = after.find([']', '\n']).ok_or(())?;
                if after.as_bytes()[end] == b'\n' {
                    return Err(());
                }
                nodes.extend(parse_array(&after[..end])?);
                rest = &after[end + 1..];
            }
            '"' | '\'' => {
                let (s, after) = parse_quote(after, c)?;
                nodes.push(Node::Text(s));
                rest = after;
            }
            '.' => {
                let (node, after) = parse_field(after);
                nodes.push(node);
                rest = after;
            }
            c if c == '+' || c == '-' || c.is_ascii_digit() => {
                let len = rest[1..]
                    .find(|c: char| c != '.' && !c.is_ascii_digit())
                    .map_or(rest.len(), |i| i + 1);
                let number = &rest[..len];
                nodes.push(if let Ok(i) = number.parse::<i64>() {
                    Node::Int(i)
                } else {
                    Node::Float(number.parse::<f64>().map_err(|_| ())?)
                });
                rest = &rest[len..];
            }
            c if is_alphanumeric(c) => {
                let len = rest
                    .find(|c: char| is_terminator(Some(c)))
                    .unwrap_or(rest.len());
                nodes.push(match &rest[..len] {
                    "true" => Node::Bool(true),
                    "false" => Node::Bool(false),
                    _ => Node::Unusable,
                });
                rest = &rest[len..];
            }
            _ => return Err(()),
        }
    }
}

/// A field name after `.`: up to the next unescaped terminator; backslashes are dropped.
fn parse_field(text: &str) -> (Node, &str) {
    let mut end = 0;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            end = chars.next().map_or(text.len(), |(j, c)| j + c.len_utf8());
            continue;
        }
        if is_terminator(Some(c)) {
            end = i;
            break;
        }
        end = i + c.len_utf8();
    }
    let raw = &text[..end];
    let node = if raw == "*" {
        Node::Wildcard
    } else {
        Node::Field(raw.replace('\\', ""))
    };
    (node, &text[end..])
}

/// The inside of `[...]`: a union, a quoted key, an index or a slice.
fn parse_array(text: &str) -> Result<Vec<Node>, ()> {
    let text = if text == "*" { ":" } else { text };
    if text.contains(',') {
        let members = text
            .split(',')
            .map(|part| parse_action(&format!("[{}]", part.trim_matches(' ')), false))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(vec![Node::Union(members)]);
    }
    if let Some(key) = text
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .filter(|k| !k.contains('\''))
    {
        // client-go reads ['a.b'] as the path .a.b.
        return parse_action(&format!(".{key}"), false);
    }
    Ok(vec![parse_slice(text)?])
}

/// An index or slice (`sliceOperatorRex`), as the RFC 9535 selector with the same result.
fn parse_slice(text: &str) -> Result<Node, ()> {
    let mut parts = text.splitn(3, ':');
    let start = parts.next().unwrap_or_default();
    let end = parts.next();
    let step = parts.next();
    let number = |s: &str| -> Result<Option<i64>, ()> {
        let digits = s.strip_prefix('-').unwrap_or(s);
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(());
        }
        if s.is_empty() {
            Ok(None)
        } else {
            s.parse::<i64>().map(Some).map_err(|_| ())
        }
    };
    let start = number(start)?;
    match (end, step) {
        // `[i]` and even `[]` select the single element at i (0 when absent).
        (None, _) => Ok(Node::Array(start.unwrap_or(0).to_string())),
        (Some(end), step) => {
            let end = number(end)?;
            let step = step.map(number).transpose()?.flatten();
            if step.is_some_and(|s| s <= 0) {
                // client-go rejects such a step when evaluating.
                return Ok(Node::Unusable);
            }
            let show = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
            Ok(Node::Array(match step {
                Some(s) => format!("{}:{}:{s}", show(start), show(end)),
                None => format!("{}:{}", show(start), show(end)),
            }))
        }
    }
}

/// `[?(left op right)]` or `[?(path)]`, after the opening `[?(`.
fn parse_filter(text: &str) -> Result<(Node, &str), ()> {
    let (mut begin, mut end) = (false, false);
    let mut pair = '"';
    let mut prev = '\0';
    let mut close = None;
    for (i, c) in text.char_indices() {
        match c {
            '\n' => return Err(()),
            '"' | '\'' if !begin => {
                begin = true;
                pair = c;
            }
            '"' | '\'' if prev != '\\' && c == pair => end = true,
            ')' if begin == end => {
                close = Some(i);
                break;
            }
            _ => {}
        }
        prev = c;
    }
    let close = close.ok_or(())?;
    let after = text[close + 1..].strip_prefix(']').ok_or(())?;
    let inner = &text[..close];
    let op_start = inner.find(['!', '<', '>', '=']);
    let node = match op_start {
        Some(i) if i > 0 => {
            let op_len = inner[i..]
                .find(|c| !matches!(c, '!' | '<' | '>' | '='))
                .unwrap_or(inner.len() - i);
            let (left, op, right) = (&inner[..i], &inner[i..i + op_len], &inner[i + op_len..]);
            if right.is_empty() {
                Node::Exists(parse_action(inner, false)?)
            } else {
                Node::Filter {
                    left: parse_action(left, false)?,
                    op: op.to_string(),
                    right: parse_action(right, false)?,
                }
            }
        }
        _ => Node::Exists(parse_action(inner, false)?),
    };
    Ok((node, after))
}

/// A quoted literal after its opening quote, unescaped like Go's `strconv.Unquote`.
fn parse_quote(text: &str, quote: char) -> Result<(String, &str), ()> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\n' => return Err(()),
            c if c == quote => return Ok((out, &text[i + c.len_utf8()..])),
            '\\' => {
                let (_, e) = chars.next().ok_or(())?;
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'a' => '\u{7}',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'v' => '\u{b}',
                    '\\' | '\'' | '"' => e,
                    'u' => {
                        let hex: String = (0..4)
                            .map(|_| chars.next().map(|(_, h)| h).ok_or(()))
                            .collect::<Result<_, _>>()?;
                        u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or(())?
                    }
                    _ => return Err(()),
                });
            }
            c => out.push(c),
        }
    }
    Err(())
}

#[cfg(test)]
mod tests;
