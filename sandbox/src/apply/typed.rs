//! Typed operations on objects, as structured-merge-diff's `typed` package does them: the field
//! set an object (or an applied configuration) sets, the comparison of two versions, the merge
//! of an applied configuration into a live object, and the removal of a set of fields.
//!
//! Lists merge by key or value where the [`Ty`] says so, and are replaced whole otherwise; an
//! empty or absent map or list on both sides is a leaf (so `{}` and `null` stay distinct).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::fieldpath::{Path, PathElement, Set, path_string, values_equal};
use super::schema::{ListKind, Ty};
use crate::gofmt;

/// Fields removed, modified and added between two versions of an object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    pub removed: Set,
    pub modified: Set,
    pub added: Set,
}

impl Comparison {
    #[cfg(test)]
    pub fn is_same(&self) -> bool {
        self.removed.is_empty() && self.modified.is_empty() && self.added.is_empty()
    }

    /// Drops `fields` (and everything under them) from all three sets.
    pub fn exclude(&mut self, fields: &Set) {
        if fields.is_empty() {
            return;
        }
        self.removed = self.removed.recursive_difference(fields);
        self.modified = self.modified.recursive_difference(fields);
        self.added = self.added.recursive_difference(fields);
    }
}

fn err_at(path: &[PathElement], msg: impl std::fmt::Display) -> String {
    if path.is_empty() {
        msg.to_string()
    } else {
        format!("{}: {msg}", path_string(path))
    }
}

/// The path element that picks `item` out of a list of `kind`.
fn item_element(kind: &ListKind, item: &Value) -> Result<PathElement, String> {
    match kind {
        ListKind::Atomic => Err("invalid indexing of non-associative list".into()),
        ListKind::Map(keys) => {
            let obj = match item {
                Value::Null => {
                    return Err("associative list with keys may not have a null element".into());
                }
                Value::Object(m) => m,
                _ => {
                    return Err("associative list with keys may not have non-map elements".into());
                }
            };
            let mut fields: Vec<(String, Value)> = keys
                .iter()
                .filter_map(|(k, default)| {
                    obj.get(k)
                        .or(default.as_ref())
                        .map(|v| (k.clone(), v.clone()))
                })
                .collect();
            if !keys.is_empty() && fields.is_empty() {
                let names: Vec<String> = keys.iter().map(|(k, _)| gofmt::quote(k)).collect();
                return Err(format!(
                    "associative list with keys has an element that omits all key fields [{}] (and doesn't have default values for any key fields)",
                    names.join(" ")
                ));
            }
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(PathElement::Key(fields))
        }
        ListKind::Set => match item {
            Value::Object(_) => {
                Err("associative list without keys has an element that's a map type".into())
            }
            Value::Array(_) => Err("not supported: associative list with lists as elements".into()),
            Value::Null => {
                Err("associative list without keys has an element that's an explicit null".into())
            }
            v => Ok(PathElement::Value(v.clone())),
        },
    }
}

fn elements(
    kind: &ListKind,
    items: &[Value],
    path: &[PathElement],
) -> Result<Vec<PathElement>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item_element(kind, item).map_err(|e| err_at(path, format!("element {i}: {e}")))
        })
        .collect()
}

fn with(path: &[PathElement], pe: PathElement) -> Path {
    let mut p = path.to_vec();
    p.push(pe);
    p
}

/// The fields `v` sets (`TypedValue.ToFieldSet`).
pub fn to_field_set(v: &Value, ty: Ty) -> Result<Set, String> {
    let mut set = Set::new();
    field_set_walk(v, ty, &mut Vec::new(), &mut set)?;
    Ok(set)
}

fn field_set_walk(v: &Value, ty: Ty, path: &mut Path, set: &mut Set) -> Result<(), String> {
    match v {
        Value::Object(m) => {
            if ty.map_atomic() {
                set.insert(path);
                return Ok(());
            }
            for (k, child) in m {
                let (cty, declared) = ty.field(k);
                path.push(PathElement::Field(k.clone()));
                field_set_walk(child, cty, path, set)?;
                let empty_map = child.as_object().is_some_and(Map::is_empty);
                if child.is_null() || empty_map || !declared {
                    set.insert(path);
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            let (kind, elem) = ty.list();
            if kind == ListKind::Atomic || ty.is_atomic() {
                set.insert(path);
                return Ok(());
            }
            let pes = elements(&kind, items, path)?;
            let mut seen = BTreeSet::new();
            let mut duplicates = BTreeSet::new();
            for pe in &pes {
                if !seen.insert(pe.clone()) && duplicates.insert(pe.clone()) {
                    set.insert(&with(path, pe.clone()));
                }
            }
            for (item, pe) in items.iter().zip(pes) {
                if duplicates.contains(&pe) {
                    continue;
                }
                path.push(pe);
                field_set_walk(item, elem, path, set)?;
                set.insert(path);
                path.pop();
            }
        }
        _ => set.insert(path),
    }
    Ok(())
}

fn kind_of(v: &Value) -> u8 {
    match v {
        Value::Object(_) => 1,
        Value::Array(_) => 2,
        _ => 0,
    }
}

/// What changed from `lhs` to `rhs` (`TypedValue.Compare`).
pub fn compare(lhs: &Value, rhs: &Value, ty: Ty) -> Result<Comparison, String> {
    let mut c = Comparison::default();
    compare_walk(Some(lhs), Some(rhs), ty, &mut Vec::new(), &mut c)?;
    Ok(c)
}

fn compare_leaf(l: Option<&Value>, r: Option<&Value>, path: &Path, c: &mut Comparison) {
    match (l, r) {
        (None, _) => c.added.insert(path),
        (_, None) => c.removed.insert(path),
        (Some(l), Some(r)) if !values_equal(l, r) => c.modified.insert(path),
        _ => {}
    }
}

fn compare_walk(
    l: Option<&Value>,
    r: Option<&Value>,
    ty: Ty,
    path: &mut Path,
    c: &mut Comparison,
) -> Result<(), String> {
    let Some(shape) = r.or(l) else {
        return Ok(());
    };
    // A value that changes shape (scalar to map, say) is modified as a whole; the new
    // shape's contents then count as added.
    let reshaped = matches!((l, r), (Some(a), Some(b)) if !a.is_null() && !b.is_null() && kind_of(a) != kind_of(b));
    if reshaped {
        c.modified.insert(path);
    }
    let l_inner = if reshaped { None } else { l };
    match shape {
        Value::Object(_) => {
            let lm = l_inner.and_then(Value::as_object);
            let rm = r.and_then(Value::as_object);
            let empty = lm.is_none_or(Map::is_empty) && rm.is_none_or(Map::is_empty);
            if ty.map_atomic() || empty {
                if !reshaped {
                    compare_leaf(l, r, path, c);
                }
                return Ok(());
            }
            let keys: BTreeSet<&String> = lm
                .into_iter()
                .flat_map(Map::keys)
                .chain(rm.into_iter().flat_map(Map::keys))
                .collect();
            for k in keys {
                path.push(PathElement::Field(k.clone()));
                compare_walk(
                    lm.and_then(|m| m.get(k)),
                    rm.and_then(|m| m.get(k)),
                    ty.field(k).0,
                    path,
                    c,
                )?;
                path.pop();
            }
        }
        Value::Array(_) => {
            let la = l_inner.and_then(Value::as_array);
            let ra = r.and_then(Value::as_array);
            let empty = la.is_none_or(Vec::is_empty) && ra.is_none_or(Vec::is_empty);
            let (kind, elem) = ty.list();
            if kind == ListKind::Atomic || ty.is_atomic() || empty {
                if !reshaped {
                    compare_leaf(l, r, path, c);
                }
                return Ok(());
            }
            compare_items(
                la.map_or(&[][..], Vec::as_slice),
                ra.map_or(&[][..], Vec::as_slice),
                &kind,
                elem,
                path,
                c,
            )?;
        }
        _ => {
            if !reshaped {
                compare_leaf(l, r, path, c);
            }
            return Ok(());
        }
    }
    if l.is_none() {
        c.added.insert(path);
    } else if r.is_none() {
        c.removed.insert(path);
    }
    Ok(())
}

fn group<'v>(
    kind: &ListKind,
    items: &'v [Value],
    path: &[PathElement],
    order: &mut Vec<PathElement>,
) -> Result<BTreeMap<PathElement, Vec<&'v Value>>, String> {
    let pes = elements(kind, items, path)?;
    let mut out: BTreeMap<PathElement, Vec<&Value>> = BTreeMap::new();
    for (item, pe) in items.iter().zip(pes) {
        let entry = out.entry(pe.clone()).or_default();
        if entry.is_empty() && !order.contains(&pe) {
            order.push(pe);
        }
        entry.push(item);
    }
    Ok(out)
}

fn compare_items(
    l: &[Value],
    r: &[Value],
    kind: &ListKind,
    elem: Ty,
    path: &mut Path,
    c: &mut Comparison,
) -> Result<(), String> {
    let mut order = Vec::new();
    let lv = group(kind, l, path, &mut order)?;
    let rv = group(kind, r, path, &mut order)?;
    for pe in order {
        let ll = lv.get(&pe).map_or(&[][..], Vec::as_slice);
        let rl = rv.get(&pe).map_or(&[][..], Vec::as_slice);
        let here = with(path, pe.clone());
        path.push(pe);
        if ll.len() <= 1 && rl.len() <= 1 {
            compare_walk(ll.first().copied(), rl.first().copied(), elem, path, c)?;
        } else if ll.len() >= 2 && rl.len() >= 2 {
            let same = ll.len() == rl.len() && ll.iter().zip(rl).all(|(a, b)| values_equal(a, b));
            if !same {
                c.modified.insert(&here);
            }
        } else if ll.len() >= 2 {
            if let Some(first) = rl.first() {
                compare_walk(None, Some(first), elem, path, c)?;
            }
            c.removed.insert(&here);
        } else {
            if let Some(first) = ll.first() {
                compare_walk(Some(first), None, elem, path, c)?;
            }
            c.added.insert(&here);
        }
        path.pop();
    }
    Ok(())
}

/// `lhs` with `rhs` merged in (`TypedValue.Merge`): maps merge key by key, keyed lists item
/// by item (keeping the order of both as structured-merge-diff does), everything else is
/// taken from `rhs`.
pub fn merge(lhs: &Value, rhs: &Value, ty: Ty) -> Result<Value, String> {
    Ok(merge_walk(Some(lhs), Some(rhs), ty, &mut Vec::new())?.unwrap_or(Value::Null))
}

fn merge_walk(
    l: Option<&Value>,
    r: Option<&Value>,
    ty: Ty,
    path: &mut Path,
) -> Result<Option<Value>, String> {
    let keep_rhs = || r.or(l).cloned();
    let Some(shape) = r.or(l) else {
        return Ok(None);
    };
    // A value of another shape on the left takes no part in the merge.
    let l = l
        .filter(|lv| r.is_none_or(|rv| lv.is_null() || rv.is_null() || kind_of(lv) == kind_of(rv)));
    match shape {
        Value::Object(_) => {
            let lm = l.and_then(Value::as_object);
            let rm = r.and_then(Value::as_object);
            let empty = lm.is_none_or(Map::is_empty) && rm.is_none_or(Map::is_empty);
            if ty.map_atomic() || empty {
                return Ok(keep_rhs());
            }
            let mut out = Map::new();
            let keys: BTreeSet<&String> = lm
                .into_iter()
                .flat_map(Map::keys)
                .chain(rm.into_iter().flat_map(Map::keys))
                .collect();
            for k in keys {
                path.push(PathElement::Field(k.clone()));
                let merged = merge_walk(
                    lm.and_then(|m| m.get(k)),
                    rm.and_then(|m| m.get(k)),
                    ty.field(k).0,
                    path,
                )?;
                path.pop();
                if let Some(v) = merged {
                    out.insert(k.clone(), v);
                }
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        Value::Array(_) => {
            let la = l.and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
            let ra = r.and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
            let (kind, elem) = ty.list();
            if kind == ListKind::Atomic || ty.is_atomic() || (la.is_empty() && ra.is_empty()) {
                return Ok(keep_rhs());
            }
            let out = merge_items(la, ra, &kind, elem, path)?;
            Ok((!out.is_empty()).then_some(Value::Array(out)))
        }
        _ => Ok(keep_rhs()),
    }
}

/// structured-merge-diff's `visitListItems` for merging: items of both sides in an order
/// that keeps the applied items' order and puts live-only items where they were.
fn merge_items(
    lhs: &[Value],
    rhs: &[Value],
    kind: &ListKind,
    elem: Ty,
    path: &mut Path,
) -> Result<Vec<Value>, String> {
    let rhs_pes = elements(kind, rhs, path)?;
    let mut observed_rhs: BTreeMap<PathElement, &Value> = BTreeMap::new();
    for (i, (pe, item)) in rhs_pes.iter().zip(rhs).enumerate() {
        if observed_rhs.insert(pe.clone(), item).is_some() {
            return Err(err_at(
                path,
                format!("element {i}: duplicate entries for key {pe}"),
            ));
        }
    }
    let lhs_pes = elements(kind, lhs, path)?;
    // Duplicated live items are not merged with anything.
    let null = Value::Null;
    let mut observed_lhs: BTreeMap<PathElement, &Value> = BTreeMap::new();
    for (pe, item) in lhs_pes.iter().zip(lhs) {
        observed_lhs
            .entry(pe.clone())
            .and_modify(|v| *v = &null)
            .or_insert(item);
    }
    let mut shared: std::collections::VecDeque<&PathElement> = rhs_pes
        .iter()
        .filter(|pe| observed_lhs.contains_key(*pe))
        .collect();
    let mut next_shared = shared.pop_front();
    let mut merged_rhs: BTreeSet<PathElement> = BTreeSet::new();
    let mut out = Vec::new();
    let item = |pe: &PathElement,
                l: Option<&Value>,
                r: Option<&Value>,
                out: &mut Vec<Value>,
                path: &mut Path|
     -> Result<(), String> {
        path.push(pe.clone());
        let merged = merge_walk(l, r, elem, path)?;
        path.pop();
        if let Some(v) = merged {
            out.push(v);
        }
        Ok(())
    };
    let (mut li, mut ri) = (0, 0);
    while li < lhs_pes.len() || ri < rhs_pes.len() {
        if li < lhs_pes.len() && ri < rhs_pes.len() {
            let pe = &lhs_pes[li];
            if *pe == rhs_pes[ri] {
                merged_rhs.insert(pe.clone());
                item(
                    pe,
                    observed_lhs.get(pe).copied(),
                    observed_rhs.get(pe).copied(),
                    &mut out,
                    path,
                )?;
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if observed_rhs.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < lhs_pes.len() {
            let pe = &lhs_pes[li];
            if !observed_rhs.contains_key(pe) {
                item(pe, Some(&lhs[li]), None, &mut out, path)?;
                li += 1;
                continue;
            } else if merged_rhs.contains(pe) {
                li += 1;
            }
        }
        if ri < rhs_pes.len() {
            let pe = &rhs_pes[ri];
            merged_rhs.insert(pe.clone());
            item(
                pe,
                observed_lhs.get(pe).copied(),
                observed_rhs.get(pe).copied(),
                &mut out,
                path,
            )?;
            ri += 1;
            if next_shared.is_some_and(|n| n == pe) {
                next_shared = shared.pop_front();
            }
        }
    }
    Ok(out)
}

/// `v` without the fields of `set` (`TypedValue.RemoveItems`). A map or list left empty
/// becomes `null`, as in structured-merge-diff; the caller cleans those up.
pub fn remove_items(v: &Value, set: &Set, ty: Ty) -> Value {
    remove_walk(v, set, ty).unwrap_or(Value::Null)
}

fn remove_walk(v: &Value, set: &Set, ty: Ty) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.is_empty() || ty.map_atomic() {
                return None;
            }
            let mut out = Map::new();
            for (k, child) in m {
                let pe = PathElement::Field(k.clone());
                if set.has_member(&pe) {
                    continue;
                }
                let value = match set.child(&pe) {
                    Some(sub) if !sub.is_empty() => {
                        remove_walk(child, sub, ty.field(k).0).unwrap_or(Value::Null)
                    }
                    _ => child.clone(),
                };
                out.insert(k.clone(), value);
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) => {
            let (kind, elem) = ty.list();
            if items.is_empty() || kind == ListKind::Atomic || ty.is_atomic() {
                return None;
            }
            let mut out = Vec::new();
            for item in items {
                let Ok(pe) = item_element(&kind, item) else {
                    out.push(item.clone());
                    continue;
                };
                if set.has_member(&pe) {
                    continue;
                }
                match set.child(&pe) {
                    Some(sub) if !sub.is_empty() => {
                        out.push(remove_walk(item, sub, elem).unwrap_or(Value::Null))
                    }
                    _ => out.push(item.clone()),
                }
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
        other => Some(other.clone()),
    }
}

/// `Set.EnsureNamedFieldsAreMembers`: a declared field with paths under it is also a member.
pub fn ensure_named_fields_are_members(set: &Set, ty: Ty) -> Set {
    let mut out = Set::new();
    for m in set.members() {
        out.add_member(m.clone());
    }
    for (pe, sub) in set.children() {
        let child_ty = match pe {
            PathElement::Field(name) => {
                let (t, declared) = ty.field(name);
                if declared && field_is_struct_member(ty) {
                    out.add_member(pe.clone());
                }
                t
            }
            PathElement::Key(_) => ty.list().1,
            _ => Ty::Deduced,
        };
        out.set_child(pe.clone(), ensure_named_fields_are_members(sub, child_ty));
    }
    out
}

/// Only map types with declared fields have "named fields" (untyped maps have none).
fn field_is_struct_member(ty: Ty) -> bool {
    !matches!(ty, Ty::Deduced | Ty::Atomic | Ty::BuiltinList(..))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.into())
    }

    fn name_key(n: &str) -> PathElement {
        PathElement::Key(vec![("name".into(), json!(n))])
    }

    fn deployment_ty() -> Ty<'static> {
        Ty::Builtin(Some("apps.Deployment"))
    }

    fn deployment(env: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"a": "1"}},
            "spec": {"selector": {"matchLabels": {"a": "1"}}, "template": {"spec": {
                "containers": [{"name": "app", "image": "x", "env": env,
                    "ports": [{"containerPort": 80}]}]}}}})
    }

    #[test]
    fn field_set_of_a_deployment_uses_the_real_list_types() {
        let set = to_field_set(
            &deployment(json!([{"name": "A", "value": "1"}])),
            deployment_ty(),
        )
        .unwrap();
        let c = [
            f("spec"),
            f("template"),
            f("spec"),
            f("containers"),
            name_key("app"),
        ];
        assert!(set.has(&c));
        assert!(set.has(&[&c[..], &[f("image")]].concat()));
        assert!(set.has(&[&c[..], &[f("env"), name_key("A"), f("value")]].concat()));
        let port = PathElement::Key(vec![
            ("containerPort".into(), json!(80)),
            ("protocol".into(), json!("TCP")),
        ]);
        assert!(set.has(&[&c[..], &[f("ports"), port]].concat()));
        // LabelSelector is atomic; declared struct fields holding maps are not members.
        assert!(set.has(&[f("spec"), f("selector")]));
        assert!(!set.has(&[f("spec"), f("selector"), f("matchLabels")]));
        assert!(!set.has(&[f("spec")]));
        assert!(set.has(&[f("metadata"), f("labels"), f("a")]));
    }

    #[test]
    fn compare_reports_changes_by_key() {
        let ty = deployment_ty();
        let old = deployment(json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]));
        let new = deployment(json!([{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]));
        let c = compare(&old, &new, ty).unwrap();
        let env = [
            f("spec"),
            f("template"),
            f("spec"),
            f("containers"),
            name_key("app"),
            f("env"),
        ];
        assert!(c.removed.has(&[&env[..], &[name_key("A")]].concat()));
        assert!(
            c.modified
                .has(&[&env[..], &[name_key("B"), f("value")]].concat())
        );
        assert!(c.added.has(&[&env[..], &[name_key("C")]].concat()));
        assert!(
            c.added
                .has(&[&env[..], &[name_key("C"), f("value")]].concat())
        );
        assert!(compare(&old, &old, ty).unwrap().is_same());
    }

    #[test]
    fn merge_keeps_order_and_merges_items() {
        let ty = deployment_ty();
        let live = deployment(json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]));
        let config = json!({"spec": {"template": {"spec": {"containers": [{"name": "app",
            "env": [{"name": "C", "value": "3"}, {"name": "A", "value": "9"}]}]}}}});
        let merged = merge(&live, &config, ty).unwrap();
        let env = &merged["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(
            env,
            &json!([{"name": "C", "value": "3"}, {"name": "A", "value": "9"}, {"name": "B", "value": "2"}])
        );
        assert_eq!(
            merged["spec"]["template"]["spec"]["containers"][0]["image"],
            "x"
        );
        // Atomic lists and selectors are replaced.
        let args = json!({"spec": {"selector": {"matchLabels": {"b": "2"}}}});
        let merged = merge(&live, &args, ty).unwrap();
        assert_eq!(
            merged["spec"]["selector"],
            json!({"matchLabels": {"b": "2"}})
        );
    }

    #[test]
    fn duplicate_keys_in_a_config_are_an_error() {
        let config = deployment(json!([{"name": "A"}, {"name": "A"}]));
        let err = merge(&config, &config, deployment_ty()).unwrap_err();
        assert!(
            err.contains("duplicate entries for key [name=\"A\"]"),
            "{err}"
        );
        let err = to_field_set(&deployment(json!([{"value": "x"}])), deployment_ty()).unwrap_err();
        assert!(err.contains("omits all key fields [\"name\"]"), "{err}");
    }

    #[test]
    fn remove_items_drops_fields_and_items() {
        let ty = deployment_ty();
        let live = deployment(json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]));
        let env = [
            f("spec"),
            f("template"),
            f("spec"),
            f("containers"),
            name_key("app"),
            f("env"),
            name_key("A"),
        ];
        let set = Set::from_paths([&env[..], &[f("metadata"), f("labels"), f("a")][..]]);
        let out = remove_items(&live, &set, ty);
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"][0]["env"],
            json!([{"name": "B", "value": "2"}])
        );
        assert_eq!(out["metadata"]["labels"], Value::Null);
        assert_eq!(out["metadata"]["name"], "d");
    }

    #[test]
    fn custom_resource_schema_drives_list_types() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "items": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"],
                "items": {"type": "object", "properties": {"id": {"type": "string"}, "v": {"type": "string"}}}},
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "plain": {"type": "array", "items": {"type": "string"}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}});
        let ty = Ty::Custom {
            node: Some(&schema),
            root: true,
        };
        let obj = json!({"spec": {"items": [{"id": "a", "v": "1"}], "tags": ["x"], "plain": ["p"],
            "free": {"nested": {"k": "v"}}}, "metadata": {"finalizers": ["f"]}});
        let set = to_field_set(&obj, ty).unwrap();
        let id = PathElement::Key(vec![("id".into(), json!("a"))]);
        assert!(set.has(&[f("spec"), f("items"), id.clone(), f("v")]));
        assert!(set.has(&[f("spec"), f("tags"), PathElement::Value(json!("x"))]));
        assert!(set.has(&[f("spec"), f("plain")]));
        // Untyped maps record their entries' own paths.
        assert!(set.has(&[f("spec"), f("free"), f("nested")]));
        assert!(set.has(&[
            f("metadata"),
            f("finalizers"),
            PathElement::Value(json!("f"))
        ]));
        let named = ensure_named_fields_are_members(&set, ty);
        assert!(named.has(&[f("spec")]) && named.has(&[f("spec"), f("items")]));
    }
}
