//! Request bodies in Kubernetes protobuf (`application/vnd.kubernetes.protobuf`), decoded
//! into the JSON object the same request would have carried as JSON.
//!
//! client-go's typed clients (kubectl's `create namespace`, `create secret`, `run`, `create
//! token`, `auth can-i`, ...) send protobuf and do not fall back to JSON, so the sandbox has to
//! read it. The wire form is the magic `k8s\0` followed by a `runtime.Unknown` whose `raw` is
//! the object's own message; the message tables in `protobuf/types.rs` are generated from the
//! `generated.proto` files and Go struct tags of k8s.io/api and k8s.io/apimachinery by
//! `sandbox/tools/gen_protobuf_types.py`.

mod format;
mod lookup;
mod object;
mod schema;
#[rustfmt::skip]
mod types;
mod wire;

use serde_json::Value;

use wire::Raw;

/// The media type of Kubernetes protobuf.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// `k8s` and encoding 0 (a `runtime.Unknown` follows).
const MAGIC: &[u8] = b"k8s\x00";

/// Deepest nesting of messages accepted; real objects stay far below it.
const MAX_DEPTH: u32 = 100;

/// Scheme name kube-apiserver's "no kind is registered" errors mention.
const SCHEME: &str = "pkg/api/legacyscheme/scheme.go:30";

/// Whether a `Content-Type` header value names Kubernetes protobuf.
pub fn is_protobuf(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|base| base.trim().eq_ignore_ascii_case(CONTENT_TYPE))
}

/// The envelope of a protobuf body.
struct Unknown<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
}

fn unknown(body: &[u8]) -> Result<Unknown<'_>, String> {
    let data = match body {
        [] => return Err("empty data".to_string()),
        b if !b.starts_with(MAGIC) => {
            let prefix: Vec<String> = MAGIC.iter().map(u8::to_string).collect();
            return Err(format!(
                "provided data does not appear to be a protobuf message, expected prefix [{}]",
                prefix.join(" ")
            ));
        }
        b if b.len() == MAGIC.len() => return Err("empty body".to_string()),
        b => &b[MAGIC.len()..],
    };
    let mut out = Unknown {
        api_version: String::new(),
        kind: String::new(),
        raw: &[],
    };
    for field in wire::fields(data) {
        match field? {
            (1, Raw::Bytes(type_meta)) => {
                for f in wire::fields(type_meta) {
                    match f? {
                        (1, Raw::Bytes(v)) => out.api_version = String::from_utf8_lossy(v).into(),
                        (2, Raw::Bytes(k)) => out.kind = String::from_utf8_lossy(k).into(),
                        (n @ (1 | 2), raw) => {
                            let name = if n == 1 { "APIVersion" } else { "Kind" };
                            return Err(format!(
                                "proto: wrong wireType = {} for field {name}",
                                raw.wire_type()
                            ));
                        }
                        _ => {}
                    }
                }
            }
            (2, Raw::Bytes(raw)) => out.raw = raw,
            // contentEncoding and contentType: kube-apiserver ignores both.
            (3 | 4, Raw::Bytes(_)) => {}
            (n @ 1..=4, raw) => {
                let name = ["TypeMeta", "Raw", "ContentEncoding", "ContentType"][n as usize - 1];
                return Err(format!(
                    "proto: wrong wireType = {} for field {name}",
                    raw.wire_type()
                ));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Decodes a protobuf request body into JSON, with `apiVersion` and `kind` from its envelope.
///
/// Errors read like kube-apiserver's decode failures (it answers them with 400 Bad Request):
/// `Pod in version "v1" cannot be handled as a Pod: ...`, or `the object provided is
/// unrecognized: ...` when even the envelope is broken.
pub fn decode_body(body: &[u8]) -> Result<Value, String> {
    decode_at(body, 0).map_err(|e| match e {
        Failure::Envelope(err) => format!(
            "the object provided is unrecognized: {err} ({})",
            summarize(body)
        ),
        Failure::Object { kind, version, err } => {
            format!("{kind} in version \"{version}\" cannot be handled as a {kind}: {err}")
        }
    })
}

/// A RawExtension holding a protobuf object (one level further down).
fn decode_nested(body: &[u8], depth: u32) -> Result<Value, String> {
    decode_at(body, depth).map_err(|e| match e {
        Failure::Envelope(err) | Failure::Object { err, .. } => err,
    })
}

enum Failure {
    Envelope(String),
    Object {
        kind: String,
        version: String,
        err: String,
    },
}

fn decode_at(body: &[u8], depth: u32) -> Result<Value, Failure> {
    let env = unknown(body).map_err(Failure::Envelope)?;
    if env.kind.is_empty() {
        return Err(Failure::Envelope(format!(
            "Object 'Kind' is missing in 'runtime.TypeMeta{{APIVersion:{:?}, Kind:\"\"}}'",
            env.api_version
        )));
    }
    let (group, version) = match env.api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", env.api_version.as_str()),
    };
    let fail = |err: String| Failure::Object {
        kind: env.kind.clone(),
        version: version.to_string(),
        err,
    };
    if version.is_empty() {
        return Err(fail(format!(
            "Object 'apiVersion' is missing in 'runtime.TypeMeta{{APIVersion:\"\", Kind:{:?}}}'",
            env.kind
        )));
    }
    let Some(index) = lookup::kind_message(group, version, &env.kind) else {
        return Err(fail(format!(
            "no kind {:?} is registered for version {:?} in scheme {SCHEME:?}",
            env.kind, env.api_version
        )));
    };
    let mut obj = object::decode(index, env.raw, depth).map_err(fail)?;
    if let Value::Object(map) = &mut obj {
        map.insert("kind".to_string(), Value::String(env.kind.clone()));
        map.insert("apiVersion".to_string(), Value::String(env.api_version));
    }
    Ok(obj)
}

/// kube-apiserver's `summarizeData`: the first 30 bytes, in hex unless they look like JSON.
fn summarize(body: &[u8]) -> String {
    const MAX: usize = 30;
    let head = &body[..body.len().min(MAX)];
    let more = if body.len() > MAX { " ..." } else { "" };
    match body.first() {
        None => "<empty>".to_string(),
        Some(b'{') => format!("{}{more}", String::from_utf8_lossy(head)),
        Some(_) => {
            let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
            format!("{hex}{more}")
        }
    }
}

#[cfg(test)]
mod tests;
