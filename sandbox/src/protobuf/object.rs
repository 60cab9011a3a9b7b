//! One protobuf message to the JSON Go's `encoding/json` would write for the same Go struct
//! after kube-apiserver's protobuf decoder filled it in.
//!
//! That means: zero values for plain fields missing from the wire, `null` for nil pointers,
//! slices and maps unless the field is `omitempty`, empty values dropped under `omitempty`,
//! zero values under `omitzero`, embedded structs flattened, and the custom JSON forms of
//! Time, MicroTime, Duration, Quantity, IntOrString, RawExtension and FieldsV1.

use base64::Engine;
use serde_json::{Map, Value};

use super::lookup::message;
use super::schema::{E, Field, I, Kind, Label, Shape, Z};
use super::wire::{self, Raw};
use super::{MAX_DEPTH, format};

/// What the wire said about one field.
enum Slot<'a> {
    Absent,
    Scalar(Value),
    /// Payloads of a singular message field; several occurrences merge, which for protobuf
    /// is the same as decoding them concatenated.
    Message(Vec<&'a [u8]>),
    List(Vec<Value>),
    Map(Map<String, Value>),
}

/// Decodes message `index` from `data`.
pub fn decode(index: usize, data: &[u8], depth: u32) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("proto: exceeded maximum nesting depth".to_string());
    }
    let msg = message(index);
    match msg.shape {
        Shape::Struct => decode_struct(index, data, depth),
        Shape::Items => {
            let mut items = Vec::new();
            for field in wire::fields(data) {
                let (number, raw) = field?;
                if let Some((_, fld)) = msg.field(number) {
                    collect_repeated(fld, raw, depth, &mut items)?;
                }
            }
            Ok(if items.is_empty() {
                Value::Null
            } else {
                Value::Array(items)
            })
        }
        Shape::Time | Shape::MicroTime => {
            // An empty payload is Go's zero time, which JSON writes as null.
            if data.is_empty() {
                return Ok(Value::Null);
            }
            let (mut seconds, mut nanos) = (0i64, 0i32);
            for field in wire::fields(data) {
                match field? {
                    (1, Raw::Varint(v)) => seconds = v as i64,
                    (2, Raw::Varint(v)) => nanos = v as i32,
                    (n @ (1 | 2), raw) => {
                        let name = if n == 1 { "Seconds" } else { "Nanos" };
                        return Err(wrong_wire_type(&raw, name));
                    }
                    _ => {}
                }
            }
            let text = if msg.shape == Shape::Time {
                format::time(seconds)?
            } else {
                format::micro_time(seconds, nanos)?
            };
            Ok(Value::String(text))
        }
        Shape::Duration => {
            let mut nanos = 0i64;
            for field in wire::fields(data) {
                match field? {
                    (1, Raw::Varint(v)) => nanos = v as i64,
                    (1, raw) => return Err(wrong_wire_type(&raw, "Duration")),
                    _ => {}
                }
            }
            Ok(Value::String(format::duration(nanos)))
        }
        Shape::Quantity => {
            let mut text = None;
            for field in wire::fields(data) {
                match field? {
                    (1, Raw::Bytes(b)) => text = Some(String::from_utf8_lossy(b).into_owned()),
                    (1, raw) => return Err(wrong_wire_type(&raw, "String_")),
                    _ => {}
                }
            }
            match text {
                // The zero Quantity writes "0".
                None => Ok(Value::String("0".to_string())),
                Some(t) if t.is_empty() => Err(QUANTITY_FORMAT.to_string()),
                Some(t) => Ok(Value::String(t)),
            }
        }
        Shape::IntOrString => {
            let (mut kind, mut int, mut text) = (0u64, 0i32, String::new());
            for field in wire::fields(data) {
                match field? {
                    (1, Raw::Varint(v)) => kind = v,
                    (2, Raw::Varint(v)) => int = v as i32,
                    (3, Raw::Bytes(b)) => text = String::from_utf8_lossy(b).into_owned(),
                    (n @ 1..=3, raw) => {
                        let name = ["Type", "IntVal", "StrVal"][n as usize - 1];
                        return Err(wrong_wire_type(&raw, name));
                    }
                    _ => {}
                }
            }
            Ok(if kind == 1 {
                Value::String(text)
            } else {
                Value::from(int)
            })
        }
        Shape::RawExtension | Shape::FieldsV1 => {
            let mut raw_doc = None;
            for field in wire::fields(data) {
                match field? {
                    (1, Raw::Bytes(b)) => raw_doc = Some(b),
                    (1, raw) => return Err(wrong_wire_type(&raw, "Raw")),
                    _ => {}
                }
            }
            match raw_doc {
                None => Ok(Value::Null),
                Some([]) => Ok(Value::Null),
                Some(doc) => embedded_document(doc, depth),
            }
        }
    }
}

/// The document a RawExtension or FieldsV1 carries: JSON, or a nested protobuf object.
fn embedded_document(doc: &[u8], depth: u32) -> Result<Value, String> {
    if doc.starts_with(super::MAGIC) {
        return super::decode_nested(doc, depth + 1);
    }
    serde_json::from_slice(doc).map_err(|e| format!("embedded object is not JSON: {e}"))
}

const QUANTITY_FORMAT: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

fn wrong_wire_type(raw: &Raw<'_>, field: &str) -> String {
    format!(
        "proto: wrong wireType = {} for field {field}",
        raw.wire_type()
    )
}

fn decode_struct(index: usize, data: &[u8], depth: u32) -> Result<Value, String> {
    let msg = message(index);
    let mut slots: Vec<Slot<'_>> = msg.fields.iter().map(|_| Slot::Absent).collect();
    for field in wire::fields(data) {
        let (number, raw) = field?;
        // Go's generated unmarshalers skip fields they do not know.
        let Some((i, fld)) = msg.field(number) else {
            continue;
        };
        match fld.label {
            Label::Rep => {
                let mut list = match std::mem::replace(&mut slots[i], Slot::Absent) {
                    Slot::List(l) => l,
                    _ => Vec::new(),
                };
                collect_repeated(fld, raw, depth, &mut list)?;
                slots[i] = Slot::List(list);
            }
            Label::Map(value_kind) => {
                let Raw::Bytes(entry) = raw else {
                    return Err(wrong_wire_type(&raw, fld.json));
                };
                let (key, value) = map_entry(fld, value_kind, entry, depth)?;
                match &mut slots[i] {
                    Slot::Map(m) => {
                        m.insert(key, value);
                    }
                    slot => {
                        let mut m = Map::new();
                        m.insert(key, value);
                        *slot = Slot::Map(m);
                    }
                }
            }
            Label::One | Label::Opt => match fld.kind {
                Kind::Msg(_) => {
                    let Raw::Bytes(payload) = raw else {
                        return Err(wrong_wire_type(&raw, fld.json));
                    };
                    match &mut slots[i] {
                        Slot::Message(parts) => parts.push(payload),
                        slot => *slot = Slot::Message(vec![payload]),
                    }
                }
                kind => slots[i] = Slot::Scalar(scalar(fld, kind, raw)?),
            },
        }
    }

    let mut out = Map::new();
    let mut inlined = Vec::new();
    for (fld, slot) in msg.fields.iter().zip(slots) {
        let present = !matches!(slot, Slot::Absent);
        let value = match slot {
            Slot::Absent => match fld.label {
                Label::One => zero(fld.kind, depth)?,
                _ => Value::Null,
            },
            Slot::Scalar(v) => v,
            Slot::Message(parts) => {
                let Kind::Msg(sub) = fld.kind else {
                    return Err(format!("proto: {}.{} is not a message", msg.name, fld.json));
                };
                decode(sub, &parts.concat(), depth + 1)?
            }
            Slot::List(l) => Value::Array(l),
            Slot::Map(m) => Value::Object(m),
        };
        if omitted(fld, present, &value, depth)? {
            continue;
        }
        if fld.has(I) {
            if let Value::Object(m) = value {
                inlined.push(m);
            }
        } else {
            out.insert(fld.json.to_string(), value);
        }
    }
    // Fields of the outer struct win over same-named fields of an embedded one, as in Go.
    for m in inlined {
        for (k, v) in m {
            out.entry(k).or_insert(v);
        }
    }
    Ok(Value::Object(out))
}

/// Whether Go's encoder leaves the field out.
fn omitted(fld: &Field, present: bool, value: &Value, depth: u32) -> Result<bool, String> {
    let pointer_like = matches!(fld.label, Label::Opt | Label::Rep | Label::Map(_));
    if pointer_like && !present {
        return Ok(fld.has(E) || fld.has(Z));
    }
    if fld.label != Label::One {
        // A non-nil pointer is written even when it points at a zero value; slices and maps
        // from the wire are never empty.
        return Ok(false);
    }
    if fld.has(E) && is_empty(value) {
        return Ok(true);
    }
    Ok(fld.has(Z) && *value == zero(fld.kind, depth)?)
}

/// Go's `omitempty` test on an encoded value: false, 0, "", nil, and empty arrays and maps.
/// (Non-pointer structs never carry the flag: Go does not omit them.)
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// The JSON of Go's zero value for a field of this kind.
fn zero(kind: Kind, depth: u32) -> Result<Value, String> {
    Ok(match kind {
        Kind::Str => Value::String(String::new()),
        Kind::Bool => Value::Bool(false),
        Kind::I32 | Kind::I64 => Value::from(0),
        // A nil []byte.
        Kind::Bytes => Value::Null,
        Kind::Msg(i) => decode(i, &[], depth + 1)?,
    })
}

fn collect_repeated(
    fld: &Field,
    raw: Raw<'_>,
    depth: u32,
    list: &mut Vec<Value>,
) -> Result<(), String> {
    let numeric = matches!(fld.kind, Kind::Bool | Kind::I32 | Kind::I64);
    match raw {
        // A packed run of varints.
        Raw::Bytes(b) if numeric => {
            for item in wire::packed(b)? {
                list.push(scalar(fld, fld.kind, item)?);
            }
        }
        raw => list.push(element(fld, fld.kind, raw, depth)?),
    }
    Ok(())
}

/// A value of `kind`: a scalar, or a whole message.
fn element(fld: &Field, kind: Kind, raw: Raw<'_>, depth: u32) -> Result<Value, String> {
    match kind {
        Kind::Msg(sub) => match raw {
            Raw::Bytes(b) => decode(sub, b, depth + 1),
            raw => Err(wrong_wire_type(&raw, fld.json)),
        },
        kind => scalar(fld, kind, raw),
    }
}

fn map_entry(
    fld: &Field,
    value_kind: Kind,
    entry: &[u8],
    depth: u32,
) -> Result<(String, Value), String> {
    let mut key = String::new();
    let mut value = None;
    for field in wire::fields(entry) {
        match field? {
            (1, Raw::Bytes(b)) => key = String::from_utf8_lossy(b).into_owned(),
            (1, raw) => return Err(wrong_wire_type(&raw, fld.json)),
            (2, raw) => value = Some(element(fld, value_kind, raw, depth)?),
            _ => {}
        }
    }
    let value = match value {
        Some(v) => v,
        // Go's generated code leaves a missing map value at its zero; an empty []byte is
        // allocated, so a bytes value is "" rather than null.
        None if value_kind == Kind::Bytes => Value::String(String::new()),
        None => zero(value_kind, depth)?,
    };
    Ok((key, value))
}

fn scalar(fld: &Field, kind: Kind, raw: Raw<'_>) -> Result<Value, String> {
    let value = match (kind, raw) {
        (Kind::Str, Raw::Bytes(b)) => Value::String(String::from_utf8_lossy(b).into_owned()),
        (Kind::Bytes, Raw::Bytes(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        (Kind::Bool, Raw::Varint(v)) => Value::Bool(v != 0),
        // Go accumulates the varint into the field's own width, keeping the low bits.
        (Kind::I32, Raw::Varint(v)) => Value::from(v as u32 as i32),
        (Kind::I64, Raw::Varint(v)) => Value::from(v as i64),
        (_, raw) => return Err(wrong_wire_type(&raw, fld.json)),
    };
    Ok(value)
}
