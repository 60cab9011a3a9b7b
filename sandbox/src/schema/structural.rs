//! The structural-schema algorithms apiextensions runs besides kube-openapi validation (all under
//! apiextensions-apiserver/pkg/apiserver/schema at v0.35.0): defaulting (defaulting/algorithm.go), pruning
//! of unknown fields (pruning/algorithm.go, options.go), dropping of non-nullable nulls
//! (defaulting/prunenulls.go), list-type uniqueness (listtype/validation.go) and the type-meta checks of
//! embedded resources (objectmeta/validation.go).

use serde_json::{Map, Value, json};

use super::errors::{FieldError, FieldPath};
use super::model::{Additional, Schema};
use crate::gofmt;

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// `structuraldefaulting.Default`: fills absent (or non-nullable null) fields that have a `default`.
pub fn apply_defaults(x: &mut Value, s: &Schema) {
    match x {
        Value::Object(map) => {
            for (k, prop) in &s.properties {
                let Some(default) = &prop.default else {
                    continue;
                };
                let missing = match map.get(k) {
                    None => true,
                    Some(v) => v.is_null() && !prop.nullable,
                };
                if missing {
                    map.insert(k.clone(), default.clone());
                }
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.properties.get(k) {
                    apply_defaults(v, prop);
                } else if let Some(Additional::Schema(add)) = &s.additional_properties {
                    if v.is_null()
                        && !add.nullable
                        && let Some(d) = &add.default
                    {
                        *v = d.clone();
                    }
                    apply_defaults(v, add);
                }
            }
        }
        Value::Array(items) => {
            let Some(item_schema) = &s.items else { return };
            for item in items.iter_mut() {
                if item.is_null()
                    && !item_schema.nullable
                    && let Some(d) = &item_schema.default
                {
                    *item = d.clone();
                }
                apply_defaults(item, item_schema);
            }
        }
        _ => {}
    }
}

fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `structuralpruning.PruneWithOptions(obj, s, isResourceRoot=true, track paths)` followed by
/// `PruneNonNullableNullsWithoutDefaults`, as the CR decoder runs them. Returns the pruned paths, sorted.
pub fn prune(obj: &mut Value, root: &Schema) -> Vec<String> {
    let mut unknown = Vec::new();
    prune_node(obj, Some(root), true, "", &mut unknown);
    unknown.sort();
    prune_nulls(obj, Some(root));
    unknown
}

fn additional_structural(s: &Schema) -> Option<Option<&Schema>> {
    s.additional_properties.as_ref().map(|a| match a {
        Additional::Schema(s) => Some(s.as_ref()),
        Additional::Allows(_) => None,
    })
}

fn prune_node(
    x: &mut Value,
    s: Option<&Schema>,
    root: bool,
    path: &str,
    unknown: &mut Vec<String>,
) {
    if let Some(s) = s
        && s.preserve_unknown_fields
    {
        skip_prune(x, s, root, path, unknown);
        return;
    }
    match x {
        Value::Object(map) => {
            let Some(s) = s else {
                unknown.extend(map.keys().map(|k| join_key(path, k)));
                map.clear();
                return;
            };
            let embedded = root || s.embedded_resource;
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(prop) = s.properties.get(&k) {
                    if let Some(v) = map.get_mut(&k) {
                        prune_node(v, Some(prop), false, &join_key(path, &k), unknown);
                    }
                } else if let Some(add) = additional_structural(s) {
                    if let Some(v) = map.get_mut(&k) {
                        prune_node(v, add, false, &join_key(path, &k), unknown);
                    }
                } else {
                    if !META_FIELDS.contains(&k.as_str()) || !path.is_empty() {
                        unknown.push(join_key(path, &k));
                    }
                    map.remove(&k);
                }
            }
        }
        Value::Array(items) => {
            let item_schema = s.and_then(|s| s.items.as_deref());
            for (i, v) in items.iter_mut().enumerate() {
                prune_node(v, item_schema, false, &format!("{path}[{i}]"), unknown);
            }
        }
        _ => {}
    }
}

fn skip_prune(x: &mut Value, s: &Schema, root: bool, path: &str, unknown: &mut Vec<String>) {
    match x {
        Value::Object(map) => {
            let embedded = root || s.embedded_resource;
            for (k, v) in map.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(prop) = s.properties.get(k) {
                    prune_node(v, Some(prop), false, &join_key(path, k), unknown);
                } else if let Some(add) = additional_structural(s) {
                    prune_node(v, add, false, &join_key(path, k), unknown);
                }
            }
        }
        Value::Array(items) => {
            let Some(item_schema) = s.items.as_deref() else {
                return;
            };
            for (i, v) in items.iter_mut().enumerate() {
                skip_prune(v, item_schema, false, &format!("{path}[{i}]"), unknown);
            }
        }
        _ => {}
    }
}

/// `PruneNonNullableNullsWithoutDefaults`.
fn prune_nulls(x: &mut Value, s: Option<&Schema>) {
    match x {
        Value::Object(map) => {
            let fields: Vec<(String, Option<&Schema>)> = map
                .keys()
                .map(|k| (k.clone(), s.and_then(|s| s.field_schema(k))))
                .collect();
            for (k, fs) in fields {
                let drop = map.get(&k).is_some_and(Value::is_null)
                    && fs.is_some_and(|fs| !fs.nullable && fs.default.is_none());
                if drop {
                    map.remove(&k);
                } else if let Some(v) = map.get_mut(&k) {
                    prune_nulls(v, fs);
                }
            }
        }
        Value::Array(items) => {
            let item_schema = s.and_then(|s| s.items.as_deref());
            for v in items.iter_mut() {
                prune_nulls(v, item_schema);
            }
        }
        _ => {}
    }
}

/// `structurallisttype.ValidateListSetsAndMaps(nil, s, obj)`.
pub fn validate_list_types(obj: &Value, s: &Schema) -> Vec<FieldError> {
    let mut errs = Vec::new();
    list_types_in_object(&FieldPath::nil(), s, obj, &mut errs);
    errs
}

fn list_types_in_object(path: &FieldPath, s: &Schema, obj: &Value, errs: &mut Vec<FieldError>) {
    let Some(map) = obj.as_object() else { return };
    if let Some(add) = s.additional_schema() {
        for (k, v) in map {
            list_types_in_value(&path.key(k), add, v, errs);
        }
    }
    for (k, v) in map {
        if let Some(prop) = s.properties.get(k) {
            list_types_in_value(&path.child(k), prop, v, errs);
        }
    }
}

fn list_types_in_value(path: &FieldPath, s: &Schema, v: &Value, errs: &mut Vec<FieldError>) {
    match v {
        Value::Array(items) => {
            match s.list_type.as_deref() {
                Some("set") => {
                    for i in non_unique(items.iter().map(SetKey::of)) {
                        errs.push(FieldError::duplicate(
                            path.index(i).render(),
                            Some(items[i].clone()),
                        ));
                    }
                }
                Some("map") => list_map_duplicates(path, s, items, errs),
                _ => {}
            }
            if let Some(item_schema) = &s.items {
                for (i, item) in items.iter().enumerate() {
                    list_types_in_value(&path.index(i), item_schema, item, errs);
                }
            }
        }
        Value::Object(_) => list_types_in_object(path, s, v, errs),
        _ => {}
    }
}

/// The identity `validateListSet` gives an element: scalars by Go type and value, compound values by
/// their JSON encoding.
#[derive(PartialEq, Eq, Hash)]
enum SetKey {
    Unspecified,
    Scalar(String),
    Compound(String),
}

impl SetKey {
    fn of(v: &Value) -> SetKey {
        match v {
            Value::Object(_) | Value::Array(_) => SetKey::Compound(gofmt::json(v)),
            Value::Number(n) if !n.is_i64() => SetKey::Scalar(format!("f:{}", gofmt::json(v))),
            other => SetKey::Scalar(gofmt::json(other)),
        }
    }
}

/// Indices of the second occurrence of each repeated key.
fn non_unique(keys: impl Iterator<Item = SetKey>) -> Vec<usize> {
    let mut seen: std::collections::HashMap<SetKey, usize> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for (i, k) in keys.enumerate() {
        let times = seen.entry(k).or_insert(0);
        *times += 1;
        if *times == 2 {
            out.push(i);
        }
    }
    out
}

fn list_map_duplicates(path: &FieldPath, s: &Schema, items: &[Value], errs: &mut Vec<FieldError>) {
    if let Some(i) = items.iter().position(|x| !x.is_null() && !x.is_object()) {
        errs.push(FieldError::invalid(
            path.index(i).render(),
            items[i].clone(),
            "must be an object for an array of list-type map",
        ));
        return;
    }
    if items.len() <= 1 {
        return;
    }
    if let [key_field] = s.list_map_keys.as_slice() {
        let keys: Vec<Option<&Value>> = items.iter().map(|x| x.get(key_field)).collect();
        let set_keys = keys
            .iter()
            .map(|k| k.map_or(SetKey::Unspecified, SetKey::of));
        for i in non_unique(set_keys) {
            let value = match keys[i] {
                None => json!({}),
                Some(k) => json!({ key_field.as_str(): k }),
            };
            errs.push(FieldError::duplicate(path.index(i).render(), Some(value)));
        }
        return;
    }
    let keys: Vec<Value> = items
        .iter()
        .map(|x| {
            let mut key = Map::new();
            for f in &s.list_map_keys {
                if let Some(v) = x.get(f) {
                    key.insert(f.clone(), v.clone());
                }
            }
            Value::Object(key)
        })
        .collect();
    for i in non_unique(keys.iter().map(SetKey::of)) {
        errs.push(FieldError::duplicate(
            path.index(i).render(),
            Some(keys[i].clone()),
        ));
    }
}

/// `schemaobjectmeta.Validate(nil, obj, s, false)`: apiVersion and kind of nested
/// `x-kubernetes-embedded-resource` objects.
pub fn validate_embedded(obj: &Value, s: &Schema) -> Vec<FieldError> {
    let mut errs = Vec::new();
    embedded_walk(&FieldPath::nil(), obj, s, &mut errs);
    errs
}

fn embedded_walk(path: &FieldPath, x: &Value, s: &Schema, errs: &mut Vec<FieldError>) {
    match x {
        Value::Object(map) => {
            if s.embedded_resource {
                embedded_type_meta(path, map, errs);
            }
            for (k, v) in map {
                if let Some(prop) = s.properties.get(k) {
                    embedded_walk(&path.child(k), v, prop, errs);
                } else if let Some(add) = s.additional_schema() {
                    embedded_walk(&path.key(k), v, add, errs);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &s.items {
                for (i, v) in items.iter().enumerate() {
                    embedded_walk(&path.index(i), v, item_schema, errs);
                }
            }
        }
        _ => {}
    }
}

const DNS1035_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";

/// `validation.IsDNS1035Label` messages.
fn dns1035_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    let mut chars = value.chars();
    let valid = matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && value
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !valid {
        errs.push(format!(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic \
             character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for \
             validation is '{DNS1035_FMT}')"
        ));
    }
    errs
}

fn embedded_type_meta(path: &FieldPath, map: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    if !map.contains_key("apiVersion") {
        errs.push(FieldError::required(path.child("apiVersion").render(), ""));
    }
    if !map.contains_key("kind") {
        errs.push(FieldError::required(path.child("kind").render(), ""));
    }
    if let Some(v) = map.get("apiVersion") {
        let field = path.child("apiVersion").render();
        match v.as_str() {
            None => errs.push(FieldError::invalid(field, v.clone(), "must be a string")),
            Some("") => errs.push(FieldError::invalid(field, json!(""), "must not be empty")),
            Some(av) if av != "/" && av.matches('/').count() > 1 => errs.push(FieldError::invalid(
                field,
                json!(av),
                format!("unexpected GroupVersion string: {av}"),
            )),
            Some(_) => {}
        }
    }
    if let Some(v) = map.get("kind") {
        let field = path.child("kind").render();
        match v.as_str() {
            None => errs.push(FieldError::invalid(field, v.clone(), "must be a string")),
            Some("") => errs.push(FieldError::invalid(field, json!(""), "must not be empty")),
            Some(kind) => {
                let problems = dns1035_errors(&kind.to_lowercase());
                if !problems.is_empty() {
                    errs.push(FieldError::invalid(
                        field,
                        json!(kind),
                        format!(
                            "may have mixed case, but should otherwise match: {}",
                            problems.join(",")
                        ),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::parse(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "replicas": {"type": "integer", "default": 1},
                        "mode": {"type": "string", "default": "fast"},
                        "opt": {"type": "string", "nullable": true},
                        "name": {"type": "string"},
                        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                        "ports": {
                            "type": "array",
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name"],
                            "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer", "default": 80}}}
                        },
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}
                    }
                }
            }
        }))
    }

    #[test]
    fn defaults_fill_missing_and_non_nullable_nulls() {
        let s = schema();
        let mut obj = json!({"spec": {"mode": null, "ports": [{"name": "http"}]}});
        apply_defaults(&mut obj, &s);
        assert_eq!(
            obj,
            json!({"spec": {"replicas": 1, "mode": "fast", "ports": [{"name": "http", "port": 80}]}})
        );
        let mut empty = json!({});
        apply_defaults(&mut empty, &s);
        assert_eq!(
            empty,
            json!({}),
            "spec has no default, so nothing under it is created"
        );
    }

    #[test]
    fn prune_reports_paths_like_the_decoder() {
        let s = schema();
        let mut obj = json!({
            "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "junk": 1},
            "bogus": true,
            "spec": {
                "name": null, "opt": null, "foo": 1,
                "ports": [{"name": "a", "x": 1}],
                "extra": {"anything": {"deep": 1}, "known": {"a": "b", "z": 1}},
                "labels": {"k": "v"},
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"x": 1}, "spec": {}}
            }
        });
        let pruned = prune(&mut obj, &s);
        assert_eq!(
            pruned,
            ["bogus", "spec.extra.known.z", "spec.foo", "spec.ports[0].x"]
        );
        assert_eq!(
            obj["metadata"],
            json!({"name": "w", "junk": 1}),
            "root metadata is left to the metadata code"
        );
        assert!(
            obj["spec"].get("name").is_none(),
            "non-nullable null without default is dropped"
        );
        assert_eq!(obj["spec"]["opt"], Value::Null);
        assert_eq!(obj["spec"]["extra"]["anything"], json!({"deep": 1}));
        assert_eq!(obj["spec"]["template"]["spec"], json!({}));
    }

    #[test]
    fn list_types_report_duplicates() {
        let s = schema();
        let obj = json!({"spec": {
            "tags": ["a", "b", "a", "a"],
            "ports": [{"name": "x", "port": 1}, {"name": "x", "port": 2}, {"port": 3}, {"port": 4}]
        }});
        let errs: Vec<String> = validate_list_types(&obj, &s)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            [
                "spec.ports[1]: Duplicate value: {\"name\":\"x\"}",
                "spec.ports[3]: Duplicate value: {}",
                "spec.tags[2]: Duplicate value: \"a\"",
            ]
        );
        let bad = json!({"spec": {"ports": [1]}});
        assert_eq!(
            validate_list_types(&bad, &s)[0].to_string(),
            "spec.ports[0]: Invalid value: 1: must be an object for an array of list-type map"
        );
    }

    #[test]
    fn embedded_resources_need_type_meta() {
        let s = schema();
        let obj = json!({"spec": {"template": {"kind": "my_Kind"}}});
        let errs: Vec<String> = validate_embedded(&obj, &s)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0], "spec.template.apiVersion: Required value");
        assert!(errs[1].starts_with("spec.template.kind: Invalid value: \"my_Kind\": may have mixed case, but should otherwise match: a DNS-1035 label"));
    }
}
