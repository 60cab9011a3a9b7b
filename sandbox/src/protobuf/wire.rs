//! The protobuf wire format, one field at a time, on top of prost's varint and key codecs.

use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};

/// One field occurrence as it sits on the wire.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Raw<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

impl Raw<'_> {
    /// The wire type number, as Go's "wrong wireType" errors print it.
    pub fn wire_type(&self) -> u8 {
        match self {
            Raw::Varint(_) => 0,
            Raw::Fixed64(_) => 1,
            Raw::Bytes(_) => 2,
            Raw::Fixed32(_) => 5,
        }
    }
}

/// Iterates over the fields of one message; groups (unused by Kubernetes) are skipped.
pub struct Fields<'a> {
    buf: &'a [u8],
    failed: bool,
}

pub fn fields(buf: &[u8]) -> Fields<'_> {
    Fields { buf, failed: false }
}

impl<'a> Fields<'a> {
    fn read(&mut self) -> Result<Option<(u32, Raw<'a>)>, String> {
        loop {
            if self.buf.is_empty() {
                return Ok(None);
            }
            let (tag, wire_type) = decode_key(&mut self.buf).map_err(|e| e.to_string())?;
            let raw = match wire_type {
                WireType::Varint => Raw::Varint(varint(&mut self.buf)?),
                WireType::SixtyFourBit => {
                    let (head, rest) = self.split(8)?;
                    self.buf = rest;
                    Raw::Fixed64(u64::from_le_bytes(head.try_into().map_err(|_| EOF)?))
                }
                WireType::ThirtyTwoBit => {
                    let (head, rest) = self.split(4)?;
                    self.buf = rest;
                    Raw::Fixed32(u32::from_le_bytes(head.try_into().map_err(|_| EOF)?))
                }
                WireType::LengthDelimited => {
                    let len = varint(&mut self.buf)?;
                    let len = usize::try_from(len).map_err(|_| EOF.to_string())?;
                    let (head, rest) = self.split(len)?;
                    self.buf = rest;
                    Raw::Bytes(head)
                }
                WireType::StartGroup | WireType::EndGroup => {
                    skip_field(wire_type, tag, &mut self.buf, DecodeContext::default())
                        .map_err(|e| e.to_string())?;
                    continue;
                }
            };
            return Ok(Some((tag, raw)));
        }
    }

    fn split(&self, n: usize) -> Result<(&'a [u8], &'a [u8]), String> {
        if n > self.buf.len() {
            return Err(EOF.to_string());
        }
        Ok(self.buf.split_at(n))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Raw<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.read().transpose();
        if matches!(item, Some(Err(_))) {
            self.failed = true;
        }
        item
    }
}

/// Go's `io.ErrUnexpectedEOF`, which the generated unmarshalers return for truncated input.
const EOF: &str = "unexpected EOF";

fn varint(buf: &mut &[u8]) -> Result<u64, String> {
    let before = *buf;
    decode_varint(buf).map_err(|_| {
        // Running out of bytes mid-varint is a truncation; ten bytes without an end, overflow.
        if before.len() < 10 && before.iter().all(|b| b & 0x80 != 0) {
            EOF.to_string()
        } else {
            "proto: integer overflow".to_string()
        }
    })
}

/// The values of a packed repeated varint field (`[packed=true]`, or what proto3 writers
/// send for repeated numbers).
pub fn packed(buf: &[u8]) -> Result<Vec<Raw<'_>>, String> {
    let mut rest = buf;
    let mut out = Vec::new();
    while !rest.is_empty() {
        out.push(Raw::Varint(varint(&mut rest)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(buf: &[u8]) -> Result<Vec<(u32, Raw<'_>)>, String> {
        fields(buf).collect()
    }

    #[test]
    fn reads_each_wire_type() {
        // 1: varint 150, 2: "hi", 3: fixed64 1, 4: fixed32 2
        let buf = [
            0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x19, 1, 0, 0, 0, 0, 0, 0, 0, 0x25, 2, 0, 0,
            0,
        ];
        assert_eq!(
            collect(&buf),
            Ok(vec![
                (1, Raw::Varint(150)),
                (2, Raw::Bytes(b"hi")),
                (3, Raw::Fixed64(1)),
                (4, Raw::Fixed32(2)),
            ])
        );
    }

    #[test]
    fn skips_groups() {
        // 1: start group { 2: varint 1 } end group, then 3: varint 7
        let buf = [0x0b, 0x10, 0x01, 0x0c, 0x18, 0x07];
        assert_eq!(collect(&buf), Ok(vec![(3, Raw::Varint(7))]));
    }

    #[test]
    fn truncated_input_is_an_error() {
        assert_eq!(collect(&[0x12, 0x05, b'a']), Err(EOF.to_string()));
        assert_eq!(collect(&[0x08, 0x96]), Err(EOF.to_string()));
        assert_eq!(collect(&[0x19, 1, 2]), Err(EOF.to_string()));
        let mut iter = fields(&[0x12, 0x05]);
        assert!(matches!(iter.next(), Some(Err(_))));
        assert_eq!(iter.next(), None);
    }

    #[test]
    fn decodes_packed_values() {
        assert_eq!(
            packed(&[0x01, 0x96, 0x01]),
            Ok(vec![Raw::Varint(1), Raw::Varint(150)])
        );
        assert_eq!(packed(&[0x96]), Err(EOF.to_string()));
    }
}
