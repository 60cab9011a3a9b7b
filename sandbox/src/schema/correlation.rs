//! Pairing of new and old values on update, as `k8s.io/apiserver/pkg/cel/common` (equality.go, maplist.go)
//! does it for validation ratcheting and for CEL's `oldSelf`: object fields pair by name (when the schema
//! knows the field), items of `x-kubernetes-list-type: map` lists pair by their keys, and nothing else pairs.

use serde_json::Value;

use super::model::Schema;

/// The key of a map-list item: the values of its key fields, when all are present and scalar.
fn composite_key<'a>(item: &'a Value, keys: &[String]) -> Option<Vec<&'a Value>> {
    let obj = item.as_object()?;
    keys.iter()
        .map(|k| {
            obj.get(k)
                .filter(|v| matches!(v, Value::Bool(_) | Value::Number(_) | Value::String(_)))
        })
        .collect()
}

/// The item of `old` that `item` corresponds to in a `x-kubernetes-list-type: map` list (`MapList.Get`).
pub fn map_list_get<'a>(schema: &Schema, old: &'a [Value], item: &Value) -> Option<&'a Value> {
    let key = composite_key(item, &schema.list_map_keys)?;
    old.iter()
        .find(|o| composite_key(o, &schema.list_map_keys).as_ref() == Some(&key))
}

/// The old value paired with field `key` of an object, when both objects have it and the schema knows it
/// (`CorrelatedObject.Key`). Returns the old value and the field's schema.
pub fn key<'a, 's>(
    schema: Option<&'s Schema>,
    new: &Value,
    old: &'a Value,
    key: &str,
) -> Option<(&'a Value, &'s Schema)> {
    let field_schema = schema?.field_schema(key)?;
    new.as_object()?.get(key)?;
    Some((old.as_object()?.get(key)?, field_schema))
}

/// The old item paired with item `index` of a list (`CorrelatedObject.Index`): only map lists pair.
pub fn index<'a, 's>(
    schema: Option<&'s Schema>,
    new: &Value,
    old: &'a Value,
    index: usize,
) -> Option<(&'a Value, &'s Schema)> {
    let schema = schema?;
    if schema.list_type.as_deref() != Some("map") {
        return None;
    }
    let item = new.as_array()?.get(index)?;
    let old_item = map_list_get(schema, old.as_array()?, item)?;
    Some((old_item, schema.items.as_deref()?))
}

/// `CorrelatedObject.CachedDeepEqual`: whether a value is unchanged, judged through the same pairing.
pub fn unchanged(schema: Option<&Schema>, new: &Value, old: &Value) -> bool {
    match (new, old) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Array(n), Value::Array(o)) => {
            if n.len() != o.len() {
                return false;
            }
            match schema {
                Some(s) if s.list_type.as_deref() == Some("map") => (0..n.len()).all(|i| {
                    index(Some(s), new, old, i)
                        .is_some_and(|(oi, is)| unchanged(Some(is), &n[i], oi))
                }),
                _ => n == o,
            }
        }
        (Value::Object(n), Value::Object(o)) => {
            n.len() == o.len()
                && n.iter().all(|(k, v)| {
                    key(schema, new, old, k).is_some_and(|(ov, fs)| unchanged(Some(fs), v, ov))
                })
        }
        (Value::Array(_), _)
        | (_, Value::Array(_))
        | (Value::Object(_), _)
        | (_, Value::Object(_)) => false,
        _ => new == old,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::parse(&json!({
            "type": "object",
            "properties": {
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}
                },
                "tags": {"type": "array", "items": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
            }
        }))
    }

    #[test]
    fn map_lists_pair_by_key_and_ignore_order() {
        let s = schema();
        let new = json!({"ports": [{"name": "b", "port": 2}, {"name": "a", "port": 1}]});
        let old = json!({"ports": [{"name": "a", "port": 1}, {"name": "b", "port": 2}]});
        assert!(unchanged(Some(&s), &new, &old));
        let ports = &s.properties["ports"];
        let paired = index(Some(ports), &new["ports"], &old["ports"], 0).map(|(o, _)| o.clone());
        assert_eq!(paired, Some(json!({"name": "b", "port": 2})));
        let changed = json!({"ports": [{"name": "b", "port": 3}, {"name": "a", "port": 1}]});
        assert!(!unchanged(Some(&s), &changed, &old));
    }

    #[test]
    fn plain_lists_compare_in_order_and_unknown_fields_never_match() {
        let s = schema();
        assert!(!unchanged(
            Some(&s),
            &json!({"tags": ["a", "b"]}),
            &json!({"tags": ["b", "a"]})
        ));
        assert!(unchanged(
            Some(&s),
            &json!({"tags": ["a"]}),
            &json!({"tags": ["a"]})
        ));
        assert!(index(Some(&s.properties["tags"]), &json!(["a"]), &json!(["a"]), 0).is_none());
        // Fields the schema does not know cannot be paired, so such objects never count as unchanged.
        assert!(!unchanged(
            Some(&s),
            &json!({"free": {"x": 1}}),
            &json!({"free": {"x": 1}})
        ));
        assert!(unchanged(
            Some(&s),
            &json!({"free": {}}),
            &json!({"free": {}})
        ));
        assert!(!unchanged(
            Some(&s),
            &json!({"tags": 1}),
            &json!({"tags": 1.0})
        ));
    }
}
