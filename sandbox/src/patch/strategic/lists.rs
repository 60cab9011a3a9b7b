//! The list handling of strategic merge patch: finding an element by its merge key,
//! splitting a list by a `$setElementOrder` or deletion list, restoring the element order
//! (`normalizeElementOrder`, `mergeSortedSlice`), the Go type a list's elements share, and
//! de-duplication of primitive lists.

use serde_json::Value;

use super::super::gojson::go_type;
use super::{
    DIRECTIVE_MARKER, MAP_TYPE, R, SLICE_TYPE, SmpError, SmpErrorClass, bad_arg_type, internal,
    no_merge_key,
};
use crate::gofmt;

/// `findMapInSliceBasedOnKeyValue`: the first element whose `key` equals `value`.
pub(super) fn find_map_with_key(list: &[Value], key: &str, value: &Value) -> R<Option<usize>> {
    for (i, v) in list.iter().enumerate() {
        let Value::Object(m) = v else {
            return Err(internal(format!("value for key {i} is not a map")));
        };
        if m.get(key) == Some(value) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

pub(super) fn partition_primitives(list: Vec<Value>, by: &[Value]) -> (Vec<Value>, Vec<Value>) {
    list.into_iter().partition(|v| by.contains(v))
}

pub(super) fn partition_maps(
    list: Vec<Value>,
    by: &[Value],
    key: &str,
) -> R<(Vec<Value>, Vec<Value>)> {
    let mut in_by = Vec::with_capacity(list.len());
    let mut rest = Vec::with_capacity(list.len());
    for v in list {
        let Value::Object(m) = &v else {
            return Err(bad_arg_type(MAP_TYPE, &v));
        };
        let key_value = m.get(key).ok_or_else(|| no_merge_key(m, key))?;
        if find_map_with_key(by, key, key_value)?.is_some() {
            in_by.push(v);
        } else {
            rest.push(v);
        }
    }
    Ok((in_by, rest))
}

/// `normalizeElementOrder`: sorts the patch's elements by `patch_order` and the live-only
/// ones by `server_order`, then interleaves them.
pub(super) fn normalize_element_order(
    patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
    elem_type: &str,
) -> R<Vec<Value>> {
    let patch = normalize_list_order(patch, patch_order, merge_key, elem_type)?;
    let server_only = normalize_list_order(server_only, server_order, merge_key, elem_type)?;
    Ok(merge_sorted(
        server_only,
        patch,
        server_order,
        merge_key,
        elem_type == MAP_TYPE,
    ))
}

/// `normalizeSliceOrder`. Go sorts with `sort.SliceStable` and a comparison that is not a
/// strict order when an element is missing from `order` ("less" is then always true); the
/// insertion sort here does what Go's does for lists of up to 20 elements, which covers
/// every real list; longer lists only differ in such inconsistent cases.
fn normalize_list_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: Option<&str>,
    elem_type: &str,
) -> R<Vec<Value>> {
    let is_map = elem_type == MAP_TYPE;
    let (mut to_sort, to_delete) = if is_map {
        let key = merge_key.unwrap_or("");
        for item in to_sort.iter().chain(order) {
            let Value::Object(m) = item else {
                return Err(bad_arg_type(MAP_TYPE, item));
            };
            if !m.contains_key(key) {
                return Err(no_merge_key(m, key));
            }
        }
        extract_to_delete_items(to_sort)?
    } else {
        (to_sort, Vec::new())
    };
    let less = |a: &Value, b: &Value| match (
        index_of(order, a, merge_key, is_map),
        index_of(order, b, merge_key, is_map),
    ) {
        (Some(i), Some(j)) => i < j,
        _ => true,
    };
    for i in 1..to_sort.len() {
        let mut j = i;
        while j > 0 && less(&to_sort[j], &to_sort[j - 1]) {
            to_sort.swap(j, j - 1);
            j -= 1;
        }
    }
    to_sort.extend(to_delete);
    Ok(to_sort)
}

/// `extractToDeleteItems`: splits off the `$patch: delete` elements.
pub(super) fn extract_to_delete_items(list: Vec<Value>) -> R<(Vec<Value>, Vec<Value>)> {
    let mut keep = Vec::with_capacity(list.len());
    let mut delete = Vec::new();
    for v in list {
        let Value::Object(m) = &v else {
            return Err(bad_arg_type(MAP_TYPE, &v));
        };
        if m.get(DIRECTIVE_MARKER).and_then(Value::as_str) == Some("delete") {
            delete.push(v);
        } else {
            keep.push(v);
        }
    }
    Ok((keep, delete))
}

/// `index`: where `item` sits in `list`, comparing merge key values for maps (a missing key
/// compares equal to another missing key, as Go's nil interfaces do).
fn index_of(list: &[Value], item: &Value, merge_key: Option<&str>, is_map: bool) -> Option<usize> {
    let ident = |v: &Value| -> Option<Value> {
        if is_map {
            v.as_object()
                .and_then(|m| m.get(merge_key.unwrap_or("")))
                .filter(|k| !k.is_null())
                .cloned()
        } else {
            Some(v.clone())
        }
    };
    let wanted = ident(item);
    list.iter().position(|v| ident(v) == wanted)
}

/// `mergeSortedSlice`: inserts the live-only elements (`left`) among the patch's (`right`),
/// keeping both relative orders and using the live order to decide between them.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: Option<&str>,
    is_map: bool,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (
                    index_of(server_order, l, merge_key, is_map),
                    index_of(server_order, r, merge_key, is_map),
                ),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        if let Some(v) = next {
            out.push(v);
        }
    }
    out
}

/// `sliceElementType`: the Go type all elements share.
pub(super) fn slice_element_type(lists: &[&[Value]]) -> R<&'static str> {
    let mut found: Option<&'static str> = None;
    for v in lists.iter().flat_map(|l| l.iter()) {
        let t = go_type(v);
        match found {
            None if t == SLICE_TYPE => {
                return Err(SmpError {
                    class: SmpErrorClass::Invalid,
                    message: "lists of lists are not supported".to_string(),
                });
            }
            None => found = Some(t),
            Some(prev) if prev != t => {
                return Err(internal(format!(
                    "list element types are not identical: {}",
                    gofmt::lists(lists)
                )));
            }
            Some(_) => {}
        }
    }
    found.ok_or_else(|| internal("no elements in any of the given slices".to_string()))
}

/// `deduplicateScalars`, which moves the last element into each duplicate's place.
pub(super) fn deduplicate_scalars(mut s: Vec<Value>) -> Vec<Value> {
    let mut i = 0;
    while i + 1 < s.len() {
        let mut j = i + 1;
        while j < s.len() {
            if s[i] == s[j] {
                let last = s.len() - 1;
                s.swap(j, last);
                s.truncate(last);
            } else {
                j += 1;
            }
        }
        i += 1;
    }
    s
}
