//! The three PATCH body formats kube-apiserver accepts besides server-side apply, applied to
//! an object's JSON with the apiserver's semantics and error answers:
//!
//! - `application/json-patch+json` (RFC 6902 as gopkg.in/evanphx/json-patch.v4 implements it,
//!   quirks included: `replace` of a missing object key adds it, negative array indices count
//!   from the end, `test` of a missing key against `null` passes);
//! - `application/merge-patch+json` (RFC 7386 as the same library does it);
//! - `application/strategic-merge-patch+json` for built-in kinds.
//!
//! Bodies are decoded as the apiserver does by default (`fieldValidation` unset, i.e. `Warn`):
//! malformed JSON or a body of the wrong shape is a 400 whose message is Go's
//! `encoding/json` error.

use serde_json::{Map, Value};

mod gojson;
pub(crate) mod smp_schema;
mod strategic;

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation, RemoveOperation, ReplaceOperation, TestOperation};

/// A failed patch, as the Status kube-apiserver answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchError {
    /// HTTP status code: 400, 413, 422 or 500.
    pub code: u16,
    /// The Status `reason`: `BadRequest`, `Invalid`, `RequestEntityTooLarge`, or empty for the
    /// 500s that carry a bare error (kube-apiserver's `StatusReasonUnknown`).
    pub reason: &'static str,
    /// The Status `message`.
    pub message: String,
    /// What went wrong when `message` is the generic text of a bare 422 (the library's own
    /// error, which kube-apiserver does not send); for logs only. Such a Status carries an
    /// empty `details: {}`.
    pub detail: Option<String>,
}

impl std::fmt::Display for PatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PatchError {}

impl PatchError {
    fn bad_request(message: impl Into<String>) -> Self {
        PatchError {
            code: 400,
            reason: "BadRequest",
            message: message.into(),
            detail: None,
        }
    }

    /// `NewGenericServerResponse(422, ...)`: the message is generic, the cause goes unsaid.
    fn unprocessable(detail: impl Into<String>) -> Self {
        PatchError {
            code: 422,
            reason: "Invalid",
            message: "the server rejected our request due to an error in our request".into(),
            detail: Some(detail.into()),
        }
    }

    fn internal(message: impl Into<String>) -> Self {
        PatchError {
            code: 500,
            reason: "",
            message: message.into(),
            detail: None,
        }
    }
}

/// kube-apiserver's cap on the operations of one JSON patch.
const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Applies an `application/json-patch+json` body. Malformed bodies are 400s, more than 10000
/// operations a 413, and an operation that does not apply (a failed `test` included) a 422
/// with kube-apiserver's generic message.
pub fn apply_json_patch(doc: &Value, patch_body: &[u8]) -> Result<Value, PatchError> {
    let patch = gojson::decode(patch_body)
        .map_err(|e| PatchError::bad_request(format!("error decoding patch: {e}")))?;
    if let Some(e) = json_patch_shape_error(&patch) {
        return Err(PatchError::bad_request(format!(
            "error decoding patch: {e}"
        )));
    }
    let ops = match patch {
        Value::Array(ops) => ops,
        _ => Vec::new(),
    };
    if ops.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError {
            code: 413,
            reason: "RequestEntityTooLarge",
            message: format!(
                "Request entity too large: The allowed maximum operations in a JSON patch is \
                 {MAX_JSON_PATCH_OPERATIONS}, got {}",
                ops.len()
            ),
            detail: None,
        });
    }
    let mut doc = doc.clone();
    for op in &ops {
        apply_operation(&mut doc, op).map_err(PatchError::unprocessable)?;
    }
    Ok(doc)
}

/// Applies an `application/merge-patch+json` body.
pub fn apply_merge_patch(doc: &Value, patch_body: &[u8]) -> Result<Value, PatchError> {
    let patch = gojson::decode(patch_body)
        .map_err(|e| PatchError::bad_request(format!("error decoding patch: {e}")))?;
    let patch = match patch {
        Value::Object(m) => m,
        // Decodes into a nil map, which the library then rejects.
        Value::Null => return Err(PatchError::bad_request("Invalid JSON Patch")),
        other => {
            return Err(PatchError::bad_request(format!(
                "error decoding patch: json: cannot unmarshal {} into Go value of type \
                 map[string]interface {{}}",
                crate::gofmt::json_kind(&other)
            )));
        }
    };
    let mut doc = doc.clone();
    match &mut doc {
        Value::Object(m) => merge_docs(m, patch),
        other => {
            let mut p = Value::Object(patch);
            prune_nulls(&mut p);
            *other = p;
        }
    }
    Ok(doc)
}

/// Applies an `application/strategic-merge-patch+json` body to an object of a built-in kind
/// (`group` is "" for the core group). Custom resources do not take this format; their
/// endpoint answers 415 before a patch is read.
pub fn apply_strategic_merge_patch(
    doc: &Value,
    patch_body: &[u8],
    group: &str,
    kind: &str,
) -> Result<Value, PatchError> {
    let patch = gojson::decode(patch_body).map_err(PatchError::bad_request)?;
    let patch = match patch {
        Value::Object(m) => m,
        Value::Null => return Ok(doc.clone()),
        other => {
            return Err(PatchError::bad_request(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                crate::gofmt::json_kind(&other)
            )));
        }
    };
    let Value::Object(original) = doc else {
        return Err(PatchError::bad_request("invalid JSON document"));
    };
    let schema = smp_schema::Schema::builtin();
    let root = schema.root(group, kind);
    match strategic::apply(schema, root, original.clone(), patch) {
        Ok(m) => Ok(Value::Object(m)),
        Err(e) => Err(match e.class {
            strategic::SmpErrorClass::BadRequest => PatchError::bad_request(e.message),
            strategic::SmpErrorClass::Invalid => PatchError::unprocessable(e.message),
            strategic::SmpErrorClass::Internal => PatchError::internal(e.message),
        }),
    }
}

/// With `fieldValidation` unset the apiserver first decodes the body into its own
/// `[]jsonPatchOp` (`op`, `path`, `from` strings and any `value`); this is Go's error for a
/// body that does not fit.
fn json_patch_shape_error(patch: &Value) -> Option<String> {
    let ops = match patch {
        Value::Null => return None,
        Value::Array(ops) => ops,
        other => {
            return Some(format!(
                "json: cannot unmarshal {} into Go value of type []handlers.jsonPatchOp",
                crate::gofmt::json_kind(other)
            ));
        }
    };
    for op in ops {
        match op {
            Value::Null => {}
            Value::Object(m) => {
                for field in ["op", "path", "from"] {
                    match m.get(field) {
                        None | Some(Value::Null) | Some(Value::String(_)) => {}
                        Some(other) => {
                            return Some(format!(
                                "json: cannot unmarshal {} into Go struct field jsonPatchOp.{field} \
                                 of type string",
                                crate::gofmt::json_kind(other)
                            ));
                        }
                    }
                }
            }
            other => {
                return Some(format!(
                    "json: cannot unmarshal {} into Go value of type handlers.jsonPatchOp",
                    crate::gofmt::json_kind(other)
                ));
            }
        }
    }
    None
}

const MISSING: &str = "missing value";
const INVALID_INDEX: &str = "invalid index referenced";

/// Where an operation's path leads: the (normalised) pointer to the containing object or
/// array, and the last, decoded, path segment.
struct Target {
    parent: Vec<String>,
    key: String,
}

/// `findObject`: walks every segment but the last through existing, non-null containers.
/// Array segments may be negative (counting from the end); they are normalised here so the
/// json-patch crate sees plain RFC 6901 pointers.
fn find_target(doc: &Value, path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.split('/').collect();
    let (last, middle) = segments.split_last()?;
    let middle = middle.get(1..)?;
    let mut cur = doc;
    let mut parent = Vec::with_capacity(middle.len());
    for raw in middle {
        let seg = decode_segment(raw);
        let next = match cur {
            Value::Object(m) => {
                let next = m.get(&seg)?;
                parent.push(seg);
                next
            }
            Value::Array(a) => {
                let i = array_index(&seg, a.len(), false).ok()?;
                parent.push(i.to_string());
                a.get(i)?
            }
            _ => return None,
        };
        if !(next.is_object() || next.is_array()) {
            return None;
        }
        cur = next;
    }
    Some(Target {
        parent,
        key: decode_segment(last),
    })
}

fn decode_segment(s: &str) -> String {
    s.replace("~1", "/").replace("~0", "~")
}

/// Resolves an array index as the library does (`strconv.Atoi`, negative from the end);
/// `inserting` allows the position just past the end.
fn array_index(seg: &str, len: usize, inserting: bool) -> Result<usize, String> {
    let i: i64 = seg.parse().map_err(|_| {
        format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            crate::gofmt::quote(seg)
        )
    })?;
    let size = if inserting { len + 1 } else { len } as i64;
    let resolved = if i < 0 { i + size } else { i };
    if i >= size || resolved < 0 {
        return Err(format!(
            "Unable to access invalid index: {i}: {INVALID_INDEX}"
        ));
    }
    usize::try_from(resolved)
        .map_err(|_| format!("Unable to access invalid index: {i}: {INVALID_INDEX}"))
}

fn container<'a>(doc: &'a Value, t: &Target) -> Option<&'a Value> {
    t.parent.iter().try_fold(doc, |cur, seg| match cur {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

fn pointer(parent: &[String], last: &str) -> PointerBuf {
    PointerBuf::from_tokens(
        parent
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(last)),
    )
}

/// Runs one operation through the json-patch crate.
fn run(doc: &mut Value, op: PatchOperation) -> Result<(), String> {
    json_patch::patch(doc, &[op]).map_err(|e| e.to_string())
}

fn string_field<'a>(op: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    op.get(name).and_then(Value::as_str)
}

/// The value the library reads from an operation: a missing `value` is JSON null.
fn op_value(op: &Map<String, Value>) -> Value {
    op.get("value").cloned().unwrap_or(Value::Null)
}

/// Where an add/move/copy puts `value`: object keys are set, array positions inserted.
fn insert_at(
    doc: &mut Value,
    t: &Target,
    value: Value,
    path: &str,
    what: &str,
) -> Result<(), String> {
    let token = match container(doc, t) {
        Some(Value::Array(_)) if t.key == "-" => "-".to_string(),
        Some(Value::Array(a)) => array_index(&t.key, a.len(), true)
            .map_err(|e| format!("error in {what} for path: '{path}': {e}"))?
            .to_string(),
        _ => t.key.clone(),
    };
    run(
        doc,
        PatchOperation::Add(AddOperation {
            path: pointer(&t.parent, &token),
            value,
        }),
    )
}

/// Removes and returns what `t` points at.
fn take_at(doc: &mut Value, t: &Target, path: &str, what: &str) -> Result<Value, String> {
    let token = match container(doc, t) {
        Some(Value::Array(a)) => array_index(&t.key, a.len(), false)
            .map_err(|e| format!("error in {what} for path: '{path}': {e}"))?
            .to_string(),
        Some(Value::Object(m)) if !m.contains_key(&t.key) => {
            return Err(format!(
                "error in {what} for path: '{path}': Unable to remove nonexistent key: {}: {MISSING}",
                t.key
            ));
        }
        _ => t.key.clone(),
    };
    let ptr = pointer(&t.parent, &token);
    let value = ptr.resolve(doc).cloned().unwrap_or(Value::Null);
    run(doc, PatchOperation::Remove(RemoveOperation { path: ptr }))?;
    Ok(value)
}

/// What `t` points at; `Ok(None)` for a missing object key or a null (the library cannot
/// tell them apart).
fn get_at(doc: &Value, t: &Target) -> Result<(Option<Value>, String), String> {
    match container(doc, t) {
        Some(Value::Array(a)) => {
            let i = array_index(&t.key, a.len(), false)?;
            Ok((a.get(i).filter(|v| !v.is_null()).cloned(), i.to_string()))
        }
        Some(Value::Object(m)) => Ok((
            m.get(&t.key).filter(|v| !v.is_null()).cloned(),
            t.key.clone(),
        )),
        _ => Ok((None, t.key.clone())),
    }
}

/// Applies one operation with the semantics of evanphx/json-patch v4; the error text is the
/// library's, which only reaches logs.
fn apply_operation(doc: &mut Value, op: &Value) -> Result<(), String> {
    let empty = Map::new();
    let op = op.as_object().unwrap_or(&empty);
    let kind = string_field(op, "op").unwrap_or("unknown");
    let path = string_field(op, "path");
    match kind {
        "add" => {
            let path = path.ok_or(format!("add operation failed to decode path: {MISSING}"))?;
            let t = find_target(doc, path).ok_or_else(|| {
                format!("add operation does not apply: doc is missing path: \"{path}\": {MISSING}")
            })?;
            insert_at(doc, &t, op_value(op), path, "add")
        }
        "remove" => {
            let path = path.ok_or(format!("remove operation failed to decode path: {MISSING}"))?;
            let t = find_target(doc, path).ok_or_else(|| {
                format!(
                    "remove operation does not apply: doc is missing path: \"{path}\": {MISSING}"
                )
            })?;
            take_at(doc, &t, path, "remove").map(drop)
        }
        "replace" => {
            let path = path.ok_or_else(|| {
                format!("replace operation failed to decode path: operation missing path field: {MISSING}")
            })?;
            let value = op_value(op);
            if path.is_empty() {
                if !(value.is_object() || value.is_array()) {
                    return Err("replace operation value must be object or array".into());
                }
                *doc = value;
                return Ok(());
            }
            let t = find_target(doc, path).ok_or_else(|| {
                format!("replace operation does not apply: doc is missing path: {path}: {MISSING}")
            })?;
            match container(doc, &t) {
                Some(Value::Array(a)) => {
                    let i = array_index(&t.key, a.len(), false).map_err(|_| {
                        format!("replace operation does not apply: doc is missing key: {path}: {MISSING}")
                    })?;
                    run(
                        doc,
                        PatchOperation::Replace(ReplaceOperation {
                            path: pointer(&t.parent, &i.to_string()),
                            value,
                        }),
                    )
                }
                // The library sets object keys whether or not they exist.
                _ => insert_at(doc, &t, value, path, "replace"),
            }
        }
        "move" => {
            let from = string_field(op, "from").ok_or_else(|| {
                format!(
                    "move operation failed to decode from: operation, missing from field: {MISSING}"
                )
            })?;
            let ft = find_target(doc, from).ok_or_else(|| {
                format!(
                    "move operation does not apply: doc is missing from path: {from}: {MISSING}"
                )
            })?;
            let value = take_at(doc, &ft, &ft.key.clone(), "move")?;
            let path = path.ok_or_else(|| {
                format!(
                    "move operation failed to decode path: operation missing path field: {MISSING}"
                )
            })?;
            let t = find_target(doc, path).ok_or_else(|| {
                format!("move operation does not apply: doc is missing destination path: {path}: {MISSING}")
            })?;
            insert_at(doc, &t, value, path, "move")
        }
        "copy" => {
            let from = string_field(op, "from").ok_or_else(|| {
                format!(
                    "copy operation failed to decode from: operation, missing from field: {MISSING}"
                )
            })?;
            let ft = find_target(doc, from).ok_or_else(|| {
                format!(
                    "copy operation does not apply: doc is missing from path: {from}: {MISSING}"
                )
            })?;
            let (value, _) =
                get_at(doc, &ft).map_err(|e| format!("error in copy for from: '{from}': {e}"))?;
            let path = path.ok_or(format!("copy operation failed to decode path: {MISSING}"))?;
            let t = find_target(doc, path).ok_or_else(|| {
                format!("copy operation does not apply: doc is missing destination path: {path}: {MISSING}")
            })?;
            insert_at(doc, &t, value.unwrap_or(Value::Null), path, "copy")
        }
        "test" => {
            let path = path.ok_or_else(|| {
                format!(
                    "test operation failed to decode path: operation missing path field: {MISSING}"
                )
            })?;
            let failed = || format!("testing value {path} failed: test failed");
            let expected = op.get("value");
            if path.is_empty() {
                return match expected {
                    Some(v) if v == doc => Ok(()),
                    _ => Err(failed()),
                };
            }
            let t = find_target(doc, path).ok_or_else(|| {
                format!("test operation does not apply: is missing path: {path}: {MISSING}")
            })?;
            let (actual, token) =
                get_at(doc, &t).map_err(|e| format!("error in test for path: '{path}': {e}"))?;
            match (actual, expected) {
                (None, None | Some(Value::Null)) => Ok(()),
                (None, Some(_)) | (Some(_), None) => Err(failed()),
                (Some(_), Some(v)) => run(
                    doc,
                    PatchOperation::Test(TestOperation {
                        path: pointer(&t.parent, &token),
                        value: v.clone(),
                    }),
                )
                .map_err(|_| failed()),
            }
        }
        other => Err(format!("Unexpected kind: {other}")),
    }
}

/// `mergeDocs` of evanphx/json-patch: null deletes, objects merge, anything else replaces;
/// values taken over whole lose their nulls (array elements included).
fn merge_docs(doc: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (k, v) in patch {
        if v.is_null() {
            doc.remove(&k);
            continue;
        }
        match doc.get_mut(&k) {
            Some(cur) if !cur.is_null() => merge_value(cur, v),
            _ => {
                let mut v = v;
                prune_nulls(&mut v);
                doc.insert(k, v);
            }
        }
    }
}

fn merge_value(cur: &mut Value, patch: Value) {
    match (cur, patch) {
        (Value::Object(c), Value::Object(p)) => merge_docs(c, p),
        // The library prunes only when the live value is not an object.
        (cur, p) if cur.is_object() => *cur = p,
        (cur, mut p) => {
            prune_nulls(&mut p);
            *cur = p;
        }
    }
}

fn prune_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(prune_nulls);
        }
        Value::Array(a) => {
            a.retain(|v| !v.is_null());
            a.iter_mut().for_each(prune_nulls);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
