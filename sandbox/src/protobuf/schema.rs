//! The shape of the generated message tables (`types.rs`) and lookups into them.
//!
//! A field carries what the decoder needs to write the JSON Go's encoder would: its JSON name,
//! its proto kind and label, and the `omitempty`/`omitzero`/embedded-struct facts from the Go
//! struct tag.

use super::types::{KINDS, MESSAGES};

/// The proto type of a field (or of a map value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Str,
    Bool,
    I32,
    I64,
    Bytes,
    /// Another message: an index into [`MESSAGES`].
    Msg(usize),
}

/// How a field sits in its Go struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// A plain value: absent on the wire means Go's zero value.
    One,
    /// A pointer: absent means nil.
    Opt,
    /// A slice (`repeated`).
    Rep,
    /// A `map<string, V>` (repeated key/value entries); the kind is V.
    Map(Kind),
}

/// How a message turns into JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// An object of its fields.
    Struct,
    /// A named Go slice type (`type Verbs []string`) wrapped as `repeated items = 1`: an array.
    Items,
    /// `metav1.Time`: RFC 3339 seconds, `null` when zero.
    Time,
    /// `metav1.MicroTime`: RFC 3339 with six decimals, `null` when zero.
    MicroTime,
    /// `metav1.Duration`: a Go duration string.
    Duration,
    /// `metav1.FieldsV1`: the JSON document it holds.
    FieldsV1,
    /// `resource.Quantity`: its string.
    Quantity,
    /// `intstr.IntOrString`: a number or a string.
    IntOrString,
    /// `runtime.RawExtension`: the JSON document it holds.
    RawExtension,
}

/// `json:",omitempty"` (only set where Go honours it: not on non-pointer structs).
pub const E: u8 = 1;
/// `json:",omitzero"`.
pub const Z: u8 = 2;
/// An embedded struct whose fields Go's JSON encoder inlines into the parent.
pub const I: u8 = 4;

#[derive(Debug)]
pub struct Field {
    pub number: u32,
    pub json: &'static str,
    pub kind: Kind,
    pub label: Label,
    pub flags: u8,
}

impl Field {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

#[derive(Debug)]
pub struct Message {
    /// Full proto name, e.g. `k8s.io.api.core.v1.Pod`.
    pub name: &'static str,
    pub shape: Shape,
    pub fields: &'static [Field],
}

impl Message {
    pub fn field(&self, number: u32) -> Option<(usize, &'static Field)> {
        self.fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.number == number)
    }
}

pub const fn f(number: u32, json: &'static str, kind: Kind, label: Label, flags: u8) -> Field {
    Field {
        number,
        json,
        kind,
        label,
        flags,
    }
}

pub const fn m(name: &'static str, shape: Shape, fields: &'static [Field]) -> Message {
    Message {
        name,
        shape,
        fields,
    }
}

pub fn message(index: usize) -> &'static Message {
    &MESSAGES[index]
}

/// Kinds `metav1.AddToGroupVersion` registers in every group/version.
const COMMON_KINDS: &[&str] = &[
    "WatchEvent",
    "ListOptions",
    "GetOptions",
    "DeleteOptions",
    "CreateOptions",
    "UpdateOptions",
    "PatchOptions",
];

/// The message of a kind as the scheme of kube-apiserver knows it, if registered.
pub fn kind_message(group: &str, version: &str, kind: &str) -> Option<usize> {
    let find = |g: &str, v: &str, k: &str| {
        KINDS
            .binary_search_by(|(kg, kv, kk, _)| (*kg, *kv, *kk).cmp(&(g, v, k)))
            .ok()
            .map(|i| KINDS[i].3)
    };
    find(group, version, kind).or_else(|| {
        let known_version = KINDS
            .iter()
            .any(|(g, v, _, _)| *g == group && *v == version);
        if known_version && COMMON_KINDS.contains(&kind) {
            find("meta.k8s.io", "v1", kind)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_consistent() {
        assert!(MESSAGES.windows(2).all(|w| w[0].name < w[1].name));
        assert!(
            KINDS
                .windows(2)
                .all(|w| (w[0].0, w[0].1, w[0].2) < (w[1].0, w[1].1, w[1].2))
        );
        for msg in MESSAGES {
            for fld in msg.fields {
                if let Kind::Msg(i) = fld.kind {
                    assert!(i < MESSAGES.len(), "{}.{}", msg.name, fld.json);
                }
                if let Label::Map(Kind::Msg(i)) = fld.label {
                    assert!(i < MESSAGES.len(), "{}.{}", msg.name, fld.json);
                }
            }
        }
    }

    #[test]
    fn finds_registered_and_common_kinds() {
        let pod = kind_message("", "v1", "Pod").map(|i| message(i).name);
        assert_eq!(pod, Some("k8s.io.api.core.v1.Pod"));
        let lease = kind_message("coordination.k8s.io", "v1", "Lease").map(|i| message(i).name);
        assert_eq!(lease, Some("k8s.io.api.coordination.v1.Lease"));
        let del = kind_message("apps", "v1", "DeleteOptions").map(|i| message(i).name);
        assert_eq!(
            del,
            Some("k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions")
        );
        assert_eq!(kind_message("", "v1", "ObjectMeta"), None);
        assert_eq!(kind_message("apps", "v2", "DeleteOptions"), None);
        assert_eq!(kind_message("example.com", "v1", "Widget"), None);
    }
}
