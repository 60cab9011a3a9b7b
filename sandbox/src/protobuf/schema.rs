//! The shape of the generated message tables (`types.rs`); `lookup` finds entries in them.
//!
//! A field carries what the decoder needs to write the JSON Go's encoder would: its JSON name,
//! its proto kind and label, and the `omitempty`/`omitzero`/embedded-struct facts from the Go
//! struct tag.

/// The proto type of a field (or of a map value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Str,
    Bool,
    I32,
    I64,
    Bytes,
    /// Another message: an index into the generated `MESSAGES` table.
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
