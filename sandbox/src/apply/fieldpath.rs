//! Field paths and field sets as server-side apply records them (sigs.k8s.io/structured-merge-diff
//! `fieldpath`): path elements (`.name`, `[k=v]`, `[=v]`, `[i]`), sets of paths kept as a tree of
//! members and children, the set algebra the updater needs, and the `FieldsV1` JSON encoding
//! (`{"f:spec":{"f:replicas":{}},"k:{\"name\":\"x\"}":{".":{}}}`) stored in `managedFields`.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::gofmt;
use serde_json::{Map, Value};

/// One step of a path: a map field, a list item picked by its key fields, a set item picked by
/// its value, or a list item picked by index.
#[derive(Clone, Debug)]
pub enum PathElement {
    Field(String),
    /// Key fields sorted by name.
    Key(Vec<(String, Value)>),
    Value(Value),
    Index(usize),
}

pub type Path = Vec<PathElement>;

impl PathElement {
    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The key this element has in `FieldsV1` JSON.
    pub fn encode(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let body: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{}:{}",
                            gofmt::json(&Value::String(k.clone())),
                            gofmt::json(v)
                        )
                    })
                    .collect();
                format!("k:{{{}}}", body.join(","))
            }
            PathElement::Value(v) => format!("v:{}", gofmt::json(v)),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a `FieldsV1` key; `Ok(None)` for element types this version does not know (the
    /// decoder skips those, as structured-merge-diff does).
    pub fn decode(s: &str) -> Result<Option<PathElement>, String> {
        let b = s.as_bytes();
        if b.len() < 2 {
            return Err("key must be 2 characters long:".into());
        }
        if b[1] != b':' {
            return Err(format!("missing colon: {s}"));
        }
        let rest = &s[2..];
        Ok(Some(match b[0] {
            b'f' => PathElement::Field(rest.to_string()),
            b'v' => PathElement::Value(serde_json::from_str(rest).map_err(|e| e.to_string())?),
            b'k' => {
                let map: Map<String, Value> =
                    serde_json::from_str(rest).map_err(|e| e.to_string())?;
                PathElement::Key(map.into_iter().collect())
            }
            b'i' => PathElement::Index(rest.parse().map_err(|e| format!("{e}"))?),
            _ => return Ok(None),
        }))
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => compare_fields(a, b),
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{k}={}", value_to_string(v)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={}]", value_to_string(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path as conflict messages print it: `.spec.containers[name="app"].image`.
pub fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// `value.ToString`: Go `%v` of scalars, `%q` of strings.
fn value_to_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => gofmt::quote(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(value_to_string).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", value_to_string(v)))
            .collect(),
    }
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) => 4,
        Value::Null => 5,
    }
}

/// structured-merge-diff's value order: numbers, strings, booleans, lists, maps, null.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => {
                let (f, g) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                f.partial_cmp(&g).unwrap_or(Ordering::Equal)
            }
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (i, j) in x.iter().zip(y) {
                let c = compare_values(i, j);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let xs: Vec<(String, Value)> = x.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let ys: Vec<(String, Value)> = y.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            compare_fields(&xs, &ys)
        }
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

fn compare_fields(a: &[(String, Value)], b: &[(String, Value)]) -> Ordering {
    for ((ka, va), (kb, vb)) in a.iter().zip(b) {
        let c = ka.cmp(kb).then_with(|| compare_values(va, vb));
        if c != Ordering::Equal {
            return c;
        }
    }
    a.len().cmp(&b.len())
}

/// Equality of values as structured-merge-diff sees it (numbers compare numerically).
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(i, j)| values_equal(i, j))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => compare_values(a, b) == Ordering::Equal && type_rank(a) == type_rank(b),
    }
}

/// A set of field paths: `members` end here, `children` continue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Set {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, Set>,
}

impl Set {
    pub fn new() -> Self {
        Set::default()
    }

    pub fn from_paths<'a>(paths: impl IntoIterator<Item = &'a [PathElement]>) -> Self {
        let mut s = Set::new();
        for p in paths {
            s.insert(p);
        }
        s
    }

    /// Adds a path; the empty path is not a member of anything.
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(Set::is_empty)
    }

    pub fn child(&self, pe: &PathElement) -> Option<&Set> {
        self.children.get(pe)
    }

    /// The path elements that end here.
    pub fn members(&self) -> impl Iterator<Item = &PathElement> {
        self.members.iter()
    }

    pub fn has_member(&self, pe: &PathElement) -> bool {
        self.members.contains(pe)
    }

    pub fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, set) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(set),
                None => set.clone(),
            };
            if !merged.is_empty() {
                out.children.insert(pe.clone(), merged);
            }
        }
        out
    }

    pub fn intersection(&self, other: &Set) -> Set {
        let members = self.members.intersection(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, set)| {
                let theirs = other.children.get(pe)?;
                let both = set.intersection(theirs);
                (!both.is_empty()).then(|| (pe.clone(), both))
            })
            .collect();
        Set { members, children }
    }

    /// Paths of `self` not in `other` (a member of `other` removes only that exact path).
    pub fn difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, set)| {
                let left = match other.children.get(pe) {
                    Some(theirs) => set.difference(theirs),
                    None => set.clone(),
                };
                (!left.is_empty()).then(|| (pe.clone(), left))
            })
            .collect();
        Set { members, children }
    }

    /// Like [`Set::difference`], but a member of `other` also removes everything under it.
    pub fn recursive_difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter(|(pe, _)| !other.members.contains(pe))
            .filter_map(|(pe, set)| {
                let left = match other.children.get(pe) {
                    Some(theirs) => set.recursive_difference(theirs),
                    None => set.clone(),
                };
                (!left.is_empty()).then(|| (pe.clone(), left))
            })
            .collect();
        Set { members, children }
    }

    /// Every member path, in order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        for m in &self.members {
            let mut p = prefix.clone();
            p.push(m.clone());
            out.push(p);
        }
        for (pe, set) in &self.children {
            prefix.push(pe.clone());
            set.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// Iterates the child nodes (path element and subset).
    pub fn children(&self) -> impl Iterator<Item = (&PathElement, &Set)> {
        self.children.iter()
    }

    /// Mutable access for callers that rebuild a set node by node.
    pub fn add_member(&mut self, pe: PathElement) {
        self.members.insert(pe);
    }

    pub fn set_child(&mut self, pe: PathElement, set: Set) {
        if set.is_empty() {
            self.children.remove(&pe);
        } else {
            self.children.insert(pe, set);
        }
    }

    /// The `FieldsV1` JSON form.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.emit(false))
    }

    fn emit(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self && !(self.members.is_empty() && self.children.is_empty()) {
            out.insert(".".into(), Value::Object(Map::new()));
        }
        for m in &self.members {
            if !self.children.contains_key(m) {
                out.insert(m.encode(), Value::Object(Map::new()));
            }
        }
        for (pe, set) in &self.children {
            let is_member = self.members.contains(pe);
            out.insert(pe.encode(), Value::Object(set.emit(is_member)));
        }
        out
    }

    /// Parses `FieldsV1` JSON.
    pub fn from_fields_v1(v: &Value) -> Result<Set, String> {
        match v {
            Value::Object(m) => Ok(Self::read(m)?.0.unwrap_or_default()),
            Value::Null => Ok(Set::new()),
            other => Err(format!("expected an object, got {other}")),
        }
    }

    /// (children, whether the node itself is a member), as structured-merge-diff's `readIterV1`.
    fn read(m: &Map<String, Value>) -> Result<(Option<Set>, bool), String> {
        let mut children: Option<Set> = None;
        let mut is_member = false;
        for (key, val) in m {
            if key == "." {
                is_member = true;
                continue;
            }
            let Some(pe) = PathElement::decode(key)? else {
                continue;
            };
            let inner = match val {
                Value::Object(inner) => inner,
                _ => return Err(format!("expected an object for {key}")),
            };
            let (grand, child_is_member) = Self::read(inner)?;
            let node = children.get_or_insert_with(Set::new);
            if child_is_member {
                node.members.insert(pe.clone());
            }
            if let Some(g) = grand {
                node.children.insert(pe, g);
            }
        }
        if children.is_none() {
            is_member = true;
        }
        Ok((children, is_member))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.into())
    }

    fn key(name: &str) -> PathElement {
        PathElement::Key(vec![("name".into(), json!(name))])
    }

    #[test]
    fn fields_v1_round_trip_with_dot_members() {
        let mut s = Set::new();
        s.insert(&[f("spec"), f("replicas")]);
        s.insert(&[f("spec"), f("containers"), key("app")]);
        s.insert(&[f("spec"), f("containers"), key("app"), f("image")]);
        s.insert(&[
            f("metadata"),
            f("finalizers"),
            PathElement::Value(json!("x")),
        ]);
        let v = s.to_fields_v1();
        assert_eq!(
            v,
            json!({
                "f:metadata": {"f:finalizers": {"v:\"x\"": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}}}
                }
            })
        );
        assert_eq!(Set::from_fields_v1(&v).unwrap(), s);
    }

    #[test]
    fn key_encoding_matches_go() {
        let pe = PathElement::Key(vec![
            ("containerPort".into(), json!(80)),
            ("protocol".into(), json!("TCP")),
        ]);
        assert_eq!(pe.encode(), r#"k:{"containerPort":80,"protocol":"TCP"}"#);
        assert_eq!(pe.to_string(), r#"[containerPort=80,protocol="TCP"]"#);
        assert_eq!(
            PathElement::Value(json!("<a&b>")).encode(),
            r#"v:"\u003ca\u0026b\u003e""#
        );
        assert_eq!(
            PathElement::decode("i:3").unwrap(),
            Some(PathElement::Index(3))
        );
        assert_eq!(PathElement::decode("z:3").unwrap(), None);
        assert!(PathElement::decode("f").is_err());
    }

    #[test]
    fn element_order_is_field_key_value_index() {
        let mut v = [
            PathElement::Index(0),
            PathElement::Value(json!("a")),
            key("z"),
            f("b"),
            f("a"),
            PathElement::Value(json!(1)),
        ];
        v.sort();
        let shown: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [".a", ".b", "[name=\"z\"]", "[=1]", "[=\"a\"]", "[0]"]
        );
    }

    #[test]
    fn set_algebra() {
        let a = Set::from_paths([&[f("a")][..], &[f("b"), f("c")][..], &[f("b"), f("d")][..]]);
        let b = Set::from_paths([&[f("b")][..], &[f("b"), f("c")][..]]);
        assert_eq!(
            a.difference(&b),
            Set::from_paths([&[f("a")][..], &[f("b"), f("d")][..]])
        );
        assert_eq!(a.recursive_difference(&b), Set::from_paths([&[f("a")][..]]));
        assert_eq!(a.intersection(&b), Set::from_paths([&[f("b"), f("c")][..]]));
        let u = a.union(&b);
        assert!(u.has(&[f("b")]) && u.has(&[f("b"), f("d")]) && u.has(&[f("a")]));
        assert!(!u.has(&[]));
        assert!(Set::new().is_empty());
        assert_eq!(
            path_string(&[f("spec"), key("app"), f("image")]),
            ".spec[name=\"app\"].image"
        );
    }
}
