//! Our JSON report (`{"results": [...], "message": ...}`, see [`crate::results`]) of any size.
//!
//! The same rules as the termination-message path ([`crate::results::parse_entry`] reads every
//! entry), but streamed: serde visitors walk the document, each entry is reduced to its four
//! known fields with strings cut to a few KiB before it is read, and unknown fields are skipped
//! without being built. So a 16 MiB report never becomes a 16 MiB `serde_json::Value`, and
//! nesting of any depth cannot overflow the stack: the visitors go at most four levels deep and
//! everything below is skipped by serde_json's iterative skipper (anything that did recurse
//! would meet serde_json's recursion limit, a [`ReportError::NotJson`]).

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{Bounder, Notes, ReportError};
use crate::results::{ReportProblem, parse_entry, truncate};

/// Strings of an entry are cut to this many characters before [`parse_entry`] sees them; it keeps
/// at most 1,024, so its result is the same as with the whole string.
const ENTRY_STRING_CHARS: usize = 2048;
/// The report's own message is cut to this many characters, as in [`crate::results`].
const MESSAGE_CHARS: usize = 1024;

/// What the visitors found so far (kept outside them so a truncated report still counts).
struct State<'b> {
    bounder: &'b mut Bounder,
    message: Option<String>,
    ignored: usize,
    first_error: Option<String>,
    entries: usize,
    shape: Option<String>,
}

/// Reads a JSON report into `bounder`.
pub(super) fn parse(text: &str, bounder: &mut Bounder) -> Result<Notes, ReportError> {
    let mut state = State {
        bounder,
        message: None,
        ignored: 0,
        first_error: None,
        entries: 0,
        shape: None,
    };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let outcome = DeserializeSeed::deserialize(Top(&mut state), &mut deserializer)
        .and_then(|()| deserializer.end());
    let mut notes = Notes::default();
    if let Some(shape) = state.shape {
        return Err(ReportError::NotJson(shape));
    }
    match outcome {
        Ok(()) => {}
        Err(error) if error.is_eof() => notes.add(format!(
            "report ends early (truncated?): {error}; counted the {} entries before it",
            state.entries
        )),
        Err(error) => return Err(ReportError::NotJson(error.to_string())),
    }
    if let Some(message) = state.message {
        notes.own(message);
    }
    if let Some(first_error) = state.first_error {
        notes.add(
            ReportProblem::MalformedEntries {
                ignored: state.ignored,
                first_error,
            }
            .to_string(),
        );
    }
    Ok(notes)
}

/// The whole document: must be an object.
struct Top<'s, 'b>(&'s mut State<'b>);

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object like {\"results\": [...]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Results => {
                    // As with a `serde_json::Value`, the last `results` wins.
                    self.0.bounder.reset();
                    self.0.entries = 0;
                    self.0.ignored = 0;
                    self.0.first_error = None;
                    map.next_value_seed(Results(self.0))?;
                }
                Key::Message => {
                    let value = map.next_value_seed(Bounded {
                        max: MESSAGE_CHARS * 2,
                        trim: true,
                    })?;
                    self.0.message = match value {
                        Value::String(m) if !m.trim().is_empty() => {
                            Some(truncate(m.trim(), MESSAGE_CHARS))
                        }
                        _ => None,
                    };
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.0.shape = Some(shape("an object like {\"results\": [...]}", "a list"));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.0.shape = Some(shape("an object like {\"results\": [...]}", "a string"));
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.0.shape = Some(shape("an object like {\"results\": [...]}", "a boolean"));
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.0.shape = Some(shape("an object like {\"results\": [...]}", "a number"));
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.visit_i64(0)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.visit_i64(0)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.shape = Some(shape("an object like {\"results\": [...]}", "null"));
        Ok(())
    }
}

fn shape(expected: &str, got: &str) -> String {
    format!("expected {expected}, got {got}")
}

/// The keys of the top-level object that matter, read without keeping the key.
enum Key {
    Results,
    Message,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "results" => Key::Results,
                    "message" => Key::Message,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// The value of `results`: a list of entries, each read as it is met.
struct Results<'s, 'b>(&'s mut State<'b>);

impl<'de> DeserializeSeed<'de> for Results<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Results<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of results")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(entry) = seq.next_element_seed(Entry)? {
            let state = &mut *self.0;
            state.entries += 1;
            match parse_entry(&entry) {
                Ok(result) => state.bounder.push(result),
                Err(error) => {
                    state.ignored += 1;
                    let index = state.entries;
                    state
                        .first_error
                        .get_or_insert_with(|| format!("entry {index}: {error}"));
                }
            }
        }
        Ok(())
    }

    // `null` means no results, as in `crate::results`.
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.not_a_list("an object")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_a_list("a string")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_a_list("a boolean")
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_a_list("a number")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_a_list("a number")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_a_list("a number")
    }
}

impl Results<'_, '_> {
    fn not_a_list<E>(self, got: &str) -> Result<(), E> {
        self.0.shape = Some(format!("\"results\" must be a list, got {got}"));
        Ok(())
    }
}

/// One entry, reduced to what [`parse_entry`] reads: an object keeps only `name`, `status`,
/// `durationMs` and `message` (each [`Bounded`]); anything else keeps only its type.
struct Entry;

impl<'de> DeserializeSeed<'de> for Entry {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a result entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entry = Map::new();
        while let Some(key) = map.next_key::<EntryKey>()? {
            match key.0 {
                Some(name) => {
                    let value = map.next_value_seed(Bounded {
                        max: ENTRY_STRING_CHARS,
                        trim: name == "name",
                    })?;
                    entry.insert(name.to_owned(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(entry))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        BoundedVisitor(Bounded {
            max: 0,
            trim: false,
        })
        .visit_seq(seq)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Value, E> {
        Ok(Value::String(String::new()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// A key of an entry: one of the four that [`parse_entry`] reads, or `None`.
struct EntryKey(Option<&'static str>);

impl<'de> de::Deserialize<'de> for EntryKey {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = EntryKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<EntryKey, E> {
                Ok(EntryKey(
                    ["name", "status", "durationMs", "message"]
                        .into_iter()
                        .find(|known| *known == key),
                ))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// A value kept small: strings cut to `max` characters (after leading whitespace when `trim`,
/// for values that [`parse_entry`] trims anyway), with a non-blank `…` marker so that trimming
/// the cut text keeps what trimming the whole one would; lists and objects are skipped and kept
/// empty (only their type matters to [`parse_entry`]).
#[derive(Clone, Copy)]
struct Bounded {
    max: usize,
    trim: bool,
}

impl<'de> DeserializeSeed<'de> for Bounded {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(BoundedVisitor(self))
    }
}

struct BoundedVisitor(Bounded);

impl<'de> Visitor<'de> for BoundedVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        let v = if self.0.trim { v.trim_start() } else { v };
        let mut text: String = v.chars().take(self.0.max).collect();
        if text.len() < v.len() {
            text.push('…');
        }
        Ok(Value::String(text))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Array(Vec::new()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Value::Object(Map::new()))
    }
}
