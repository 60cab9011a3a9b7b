//! Strategic merge patch as kube-apiserver applies it (`StrategicMergeMapPatch` of
//! k8s.io/apimachinery/pkg/util/strategicpatch, v0.35): maps merge key by key, lists merge by
//! their `patchMergeKey` where the API types say so, and the directives `$patch`,
//! `$retainKeys`, `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>` are honoured,
//! including the element ordering rules. Go visits map keys in random order; where that could
//! matter this visits ordinary keys first, then parallel deletion lists.
//!
//! kube-apiserver decodes the merged map into the typed object, which drops unknown keys (every
//! `$` key) and turns nulls into zero values. The sandbox keeps JSON, so values taken over from
//! a patch are cleaned the same way here instead.

use serde_json::{Map, Value};

use super::gojson::go_type;
use super::smp_schema::{Schema, Strategy, TypeDef};
use crate::gofmt;
use lists::{
    deduplicate_scalars, extract_to_delete_items, find_map_with_key, normalize_element_order,
    partition_maps, partition_primitives, slice_element_type,
};

mod lists;

const DIRECTIVE_MARKER: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

const MAP_TYPE: &str = "map[string]interface {}";
const SLICE_TYPE: &str = "[]interface {}";

/// How kube-apiserver answers a failure (`interpretStrategicMergePatchError`): the
/// `mergepatch` format errors are 400s, lists of lists a bare 422, anything else a 500
/// carrying the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SmpErrorClass {
    BadRequest,
    Invalid,
    Internal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SmpError {
    pub class: SmpErrorClass,
    pub message: String,
}

type Ty = Option<&'static TypeDef>;
type R<T> = Result<T, SmpError>;

fn bad_request(message: &str) -> SmpError {
    SmpError {
        class: SmpErrorClass::BadRequest,
        message: message.to_string(),
    }
}

fn internal(message: String) -> SmpError {
    SmpError {
        class: SmpErrorClass::Internal,
        message,
    }
}

fn no_merge_key(m: &Map<String, Value>, key: &str) -> SmpError {
    internal(format!(
        "map: {} does not contain declared merge key: {key}",
        gofmt::map(m)
    ))
}

fn bad_arg_type(expected: &str, actual: &Value) -> SmpError {
    internal(format!(
        "expected a {expected}, but received a {}",
        go_type(actual)
    ))
}

/// `%s` of a decoded value, as `ErrBadPatchType` prints the directive.
fn fmt_s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "%!s(<nil>)".into(),
        Value::Bool(_) | Value::Number(_) => format!("%!s({}={})", go_type(v), gofmt::value(v)),
        other => gofmt::value(other),
    }
}

const ERR_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const ERR_SET_ORDER: &str = "invalid patch format of setElementOrder list";

/// Applies `patch` to `original` with the struct tags of `root` (and the types below it).
pub(super) fn apply(
    schema: Schema,
    root: Ty,
    original: Map<String, Value>,
    patch: Map<String, Value>,
) -> R<Map<String, Value>> {
    Merger { schema }.merge_map(original, patch, root)
}

/// `extractKey`: the list field a `$prefix/field` directive names.
fn extract_key(s: &str, prefix: &str) -> R<String> {
    match s.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest.to_string()),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST => Err(bad_request(ERR_PRIMITIVE_LIST)),
        _ => Err(bad_request(ERR_SET_ORDER)),
    }
}

struct Merger {
    schema: Schema,
}

impl Merger {
    fn merge_map(
        &self,
        mut original: Map<String, Value>,
        mut patch: Map<String, Value>,
        ty: Ty,
    ) -> R<Map<String, Value>> {
        if let Some(directive) = patch.get(DIRECTIVE_MARKER).cloned() {
            return handle_directive_in_map(&directive, patch);
        }
        apply_retain_keys(&mut original, &mut patch)?;
        self.merge_set_element_orders(&mut original, &mut patch, ty)?;

        let (deletion_lists, ordinary): (Vec<_>, Vec<_>) = patch
            .into_iter()
            .partition(|(k, _)| k.starts_with(DELETE_FROM_PRIMITIVE_LIST));
        for (key, patch_v) in ordinary.into_iter().chain(deletion_lists) {
            let (is_delete_list, key) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
                (true, extract_key(&key, DELETE_FROM_PRIMITIVE_LIST)?)
            } else {
                (false, key)
            };
            if patch_v.is_null() {
                original.remove(&key);
                continue;
            }
            // Unknown to every API type: the typed decode would drop it.
            if key.starts_with('$') {
                continue;
            }
            let Some(orig_v) = original.get_mut(&key) else {
                if !is_delete_list {
                    set_or_remove(&mut original, key, taken_from_patch(patch_v));
                }
                continue;
            };
            if go_type(orig_v) != go_type(&patch_v) {
                if !is_delete_list {
                    set_or_remove(&mut original, key, taken_from_patch(patch_v));
                }
                continue;
            }
            match (orig_v, patch_v) {
                (Value::Object(orig_map), Value::Object(patch_map)) => {
                    let (sub, strategy) = self.schema.field(ty, &key);
                    let merged = if strategy == Strategy::Replace {
                        strip_for_decode(Value::Object(patch_map))
                    } else {
                        Value::Object(self.merge_map(std::mem::take(orig_map), patch_map, sub)?)
                    };
                    original.insert(key, merged);
                }
                (Value::Array(orig_list), Value::Array(patch_list)) => {
                    let (sub, strategy) = self.schema.field(ty, &key);
                    let merged = self.merge_list_field(
                        std::mem::take(orig_list),
                        patch_list,
                        sub,
                        strategy,
                        is_delete_list,
                        &mut LiveView::detached(),
                    )?;
                    original.insert(key, Value::Array(merged));
                }
                (_, scalar) => {
                    let kept = remove_directives(scalar);
                    set_or_remove(&mut original, key, kept);
                }
            }
        }
        Ok(original)
    }

    /// `mergePatchIntoOriginal`: merges each list named by a `$setElementOrder/<list>`
    /// directive together with that list's patch, then orders it: the directive's order first,
    /// then the patch's, then the live object's.
    fn merge_set_element_orders(
        &self,
        original: &mut Map<String, Value>,
        patch: &mut Map<String, Value>,
        ty: Ty,
    ) -> R<()> {
        let directives: Vec<String> = patch
            .keys()
            .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
            .cloned()
            .collect();
        for directive in directives {
            let Some(order_v) = patch.remove(&directive) else {
                continue;
            };
            let Value::Array(order) = order_v else {
                return Err(bad_arg_type(SLICE_TYPE, &order_v));
            };
            let key = extract_key(&directive, SET_ELEMENT_ORDER)?;
            let orig_list = match original.get(&key) {
                Some(Value::Array(a)) => Some(a.clone()),
                Some(other) => return Err(bad_arg_type(SLICE_TYPE, other)),
                None => None,
            };
            let patch_list = match patch.get(&key) {
                Some(Value::Array(a)) => Some(a.clone()),
                Some(other) => return Err(bad_arg_type(SLICE_TYPE, other)),
                None => None,
            };
            let (sub, strategy) = self.schema.field(ty, &key);
            let merge_key = merge_key_of(strategy);
            validate_patch_with_set_order(patch_list.as_deref().unwrap_or(&[]), &order, merge_key)?;

            let mut live_view = LiveView::new(orig_list.clone().unwrap_or_default());
            let merged = match (&orig_list, &patch_list) {
                (Some(o), None) => o.clone(),
                (None, Some(p)) => match remove_directives(Value::Array(p.clone())) {
                    Some(Value::Array(items)) => items.into_iter().map(strip_for_decode).collect(),
                    _ => continue,
                },
                (Some(o), Some(p)) => self.merge_list_field(
                    o.clone(),
                    p.clone(),
                    sub,
                    strategy,
                    false,
                    &mut live_view,
                )?,
                (None, None) => continue,
            };
            let (in_order, server_only) = match merge_key {
                None => partition_primitives(merged, &order),
                Some(k) => partition_maps(merged, &order, k)?,
            };
            // Go orders by the live list as the merge left it (see `LiveView`).
            let orig_items = live_view.items.as_slice();
            let elem_type =
                slice_element_type(&[orig_items, patch_list.as_deref().unwrap_or(&[])])?;
            let both = normalize_element_order(
                in_order,
                server_only,
                &order,
                orig_items,
                merge_key,
                elem_type,
            )?;
            original.insert(key.clone(), Value::Array(both));
            patch.remove(&key);
        }
        Ok(())
    }

    /// `mergeSliceHandler`: merge lists and parallel deletion lists merge, every other list is
    /// replaced by the patch's.
    fn merge_list_field(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        elem_ty: Ty,
        strategy: Strategy,
        is_delete_list: bool,
        live_view: &mut LiveView,
    ) -> R<Vec<Value>> {
        if matches!(strategy, Strategy::Merge { .. }) || is_delete_list {
            self.merge_list(
                original,
                patch,
                elem_ty,
                merge_key_of(strategy),
                is_delete_list,
                live_view,
            )
        } else {
            Ok(patch.into_iter().map(strip_for_decode).collect())
        }
    }

    /// `mergeSlice`.
    fn merge_list(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        elem_ty: Ty,
        merge_key: Option<&'static str>,
        is_delete_list: bool,
        live_view: &mut LiveView,
    ) -> R<Vec<Value>> {
        if original.is_empty() && patch.is_empty() {
            return Ok(original);
        }
        let elem_type = slice_element_type(&[&original, &patch])?;
        let (original, patch, merged) = if elem_type != MAP_TYPE {
            if is_delete_list {
                return Ok(original
                    .into_iter()
                    .filter(|v| !patch.contains(v))
                    .collect());
            }
            let both: Vec<Value> = original.iter().chain(patch.iter()).cloned().collect();
            (original, patch, deduplicate_scalars(both))
        } else {
            // Only lists of strings are tagged `merge` without a key.
            let key = merge_key.ok_or_else(|| {
                internal("cannot merge lists without merge key for string".to_string())
            })?;
            let (original, patch) = merge_special_elements(original, patch, key, live_view)?;
            let merged =
                self.merge_ordinary_elements(original.clone(), &patch, key, elem_ty, live_view)?;
            (original, patch, merged)
        };
        let (in_patch, server_only) = match merge_key {
            None => partition_primitives(merged, &patch),
            Some(k) => partition_maps(merged, &patch, k)?,
        };
        normalize_element_order(
            in_patch,
            server_only,
            &patch,
            &original,
            merge_key,
            elem_type,
        )
    }

    /// `mergeSliceWithoutSpecialElements`: merges each patch element into the first live
    /// element with the same key, or appends it.
    fn merge_ordinary_elements(
        &self,
        mut original: Vec<Value>,
        patch: &[Value],
        key: &str,
        elem_ty: Ty,
        live_view: &mut LiveView,
    ) -> R<Vec<Value>> {
        for v in patch {
            let Value::Object(m) = v else {
                return Err(bad_arg_type(MAP_TYPE, v));
            };
            let Some(key_value) = m.get(key) else {
                return Err(no_merge_key(m, key));
            };
            match find_map_with_key(&original, key, key_value)? {
                Some(i) => {
                    let live = match std::mem::take(&mut original[i]) {
                        Value::Object(live) => live,
                        _ => Map::new(),
                    };
                    original[i] = Value::Object(self.merge_map(live, m.clone(), elem_ty)?);
                }
                None => {
                    let v = strip_for_decode(v.clone());
                    live_view.push(&v);
                    original.push(v);
                }
            }
        }
        Ok(original)
    }
}

/// The live list as Go's `mergePatchIntoOriginal` still sees it after merging. Go deletes list
/// elements by shifting the rest down within the same array and appends into the space that
/// frees, so its view of the live list (the full original length) shows those writes. It uses
/// that view to order the result: kubectl's "remove one element, add another" depends on it.
/// Appends beyond the original length never show, whatever the array's capacity.
struct LiveView {
    items: Vec<Value>,
    len: usize,
    detached: bool,
}

impl LiveView {
    fn new(items: Vec<Value>) -> Self {
        let len = items.len();
        LiveView {
            items,
            len,
            detached: false,
        }
    }

    /// For merges nobody orders afterwards.
    fn detached() -> Self {
        LiveView {
            items: Vec::new(),
            len: 0,
            detached: true,
        }
    }

    fn remove(&mut self, i: usize) {
        if self.detached || i >= self.len {
            return;
        }
        self.items[i..self.len].rotate_left(1);
        // The element past the new end keeps its old value in Go's array.
        if let (Some(last), Some(moved)) = (self.len.checked_sub(1), self.len.checked_sub(2))
            && moved >= i
        {
            self.items[last] = self.items[moved].clone();
        }
        self.len -= 1;
    }

    fn push(&mut self, v: &Value) {
        if self.detached {
            return;
        }
        if self.len < self.items.len() {
            self.items[self.len] = v.clone();
            self.len += 1;
        } else {
            self.detached = true;
        }
    }

    fn detach(&mut self) {
        self.detached = true;
    }
}

fn merge_key_of(strategy: Strategy) -> Option<&'static str> {
    match strategy {
        Strategy::Merge { key } => key,
        _ => None,
    }
}

fn set_or_remove(map: &mut Map<String, Value>, key: String, value: Option<Value>) {
    match value {
        Some(v) => {
            map.insert(key, v);
        }
        None => {
            map.remove(&key);
        }
    }
}

/// `handleDirectiveInMergeMap`: `$patch: replace` keeps the patch as it is, `$patch: delete`
/// empties the map, anything else (`merge` included) is an error.
fn handle_directive_in_map(
    directive: &Value,
    mut patch: Map<String, Value>,
) -> R<Map<String, Value>> {
    match directive.as_str() {
        Some("replace") => {
            patch.remove(DIRECTIVE_MARKER);
            match strip_for_decode(Value::Object(patch)) {
                Value::Object(m) => Ok(m),
                _ => Ok(Map::new()),
            }
        }
        Some("delete") => Ok(Map::new()),
        _ => Err(internal(format!(
            "unknown patch type: {} in map: {}",
            fmt_s(directive),
            gofmt::map(&patch)
        ))),
    }
}

/// `applyRetainKeysDirective`: drops live keys the list does not name; every key the patch
/// sets must be named.
fn apply_retain_keys(original: &mut Map<String, Value>, patch: &mut Map<String, Value>) -> R<()> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(bad_request(ERR_RETAIN_KEYS));
    };
    let named = |k: &str| retain.iter().any(|v| v.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || k.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !named(k) {
            return Err(bad_request(ERR_RETAIN_KEYS));
        }
    }
    original.retain(|k, _| named(k));
    Ok(())
}

/// `validatePatchWithSetOrderList`: the patch's elements must appear in the directive, in the
/// same relative order (deletions and other directive elements aside).
fn validate_patch_with_set_order(
    patch_list: &[Value],
    order: &[Value],
    merge_key: Option<&str>,
) -> R<()> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let non_delete = match merge_key {
        Some(_) => extract_to_delete_items(patch_list.to_vec())?.0,
        None => patch_list.to_vec(),
    };
    let (mut pi, mut oi) = (0, 0);
    while pi < non_delete.len() && oi < order.len() {
        if non_delete[pi]
            .as_object()
            .is_some_and(|m| m.contains_key(DIRECTIVE_MARKER))
        {
            pi += 1;
            continue;
        }
        if merge_key_value_equal(&non_delete[pi], &order[oi], merge_key)? {
            pi += 1;
        }
        oi += 1;
    }
    if pi < non_delete.len() && oi >= order.len() {
        return Err(internal(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            gofmt::value(&Value::Array(patch_list.to_vec())),
            gofmt::value(&Value::Array(order.to_vec())),
        )));
    }
    Ok(())
}

fn merge_key_value_equal(left: &Value, right: &Value, merge_key: Option<&str>) -> R<bool> {
    let Some(key) = merge_key else {
        return Ok(left == right);
    };
    let Value::Object(l) = left else {
        return Err(bad_arg_type(MAP_TYPE, left));
    };
    let Value::Object(r) = right else {
        return Err(bad_arg_type(MAP_TYPE, right));
    };
    let lv = l.get(key).ok_or_else(|| no_merge_key(l, key))?;
    let rv = r.get(key).ok_or_else(|| no_merge_key(r, key))?;
    Ok(lv == rv)
}

/// `mergeSliceWithSpecialElements`: applies `$patch: delete` elements to the live list and
/// `$patch: replace` to the whole list; returns the live list and the remaining patch.
fn merge_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
    live_view: &mut LiveView,
) -> R<(Vec<Value>, Vec<Value>)> {
    let mut ordinary = Vec::with_capacity(patch.len());
    let mut replace = false;
    for v in patch {
        let Some(directive) = v.as_object().and_then(|m| m.get(DIRECTIVE_MARKER)) else {
            ordinary.push(v);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let m = v.as_object().cloned().unwrap_or_default();
                let key_value = m.get(key).ok_or_else(|| no_merge_key(&m, key))?;
                while let Some(i) = find_map_with_key(&original, key, key_value)? {
                    original.remove(i);
                    live_view.remove(i);
                }
            }
            // Later elements are still scanned so their directives are dropped too.
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(internal(
                    "merging lists cannot yet be specified in the patch".to_string(),
                ));
            }
            _ => {
                let m = v.as_object().cloned().unwrap_or_default();
                return Err(internal(format!(
                    "unknown patch type: {} in map: {}",
                    fmt_s(directive),
                    gofmt::map(&m)
                )));
            }
        }
    }
    if replace {
        live_view.detach();
        return Ok((
            ordinary.into_iter().map(strip_for_decode).collect(),
            Vec::new(),
        ));
    }
    Ok((original, ordinary))
}

/// A value the merge takes from the patch where the live object has none: nulls dropped
/// (`discardNullValuesFromPatch`), maps carrying a `$patch` directive dropped
/// (`removeDirectives`), then cleaned as the typed decode would.
fn taken_from_patch(mut v: Value) -> Option<Value> {
    discard_nulls(&mut v);
    remove_directives(v).map(strip_for_decode)
}

fn discard_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(discard_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// `removeDirectives`: `None` when the value is a map with a `$patch` directive.
fn remove_directives(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.contains_key(DIRECTIVE_MARKER) {
                return None;
            }
            Some(Value::Object(
                m.into_iter()
                    .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                    .collect(),
            ))
        }
        Value::Array(a) => Some(Value::Array(
            a.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

/// What the typed decode leaves of a map: no `$` keys (no API field starts with one) and no
/// null fields.
fn strip_for_decode(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
                .map(|(k, v)| (k, strip_for_decode(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_for_decode).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests;
