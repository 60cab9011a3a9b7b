//! Unit tests of `patch::strategic`.

use super::super::smp_schema::Field;
use super::*;
use serde_json::json;

/// A small schema: `items` merge by `name` (elements of type `Item`), `tags` merge as a
/// set, `fixed` is replaced, `list` is an ordinary (replaced) list.
static TYPES: &[TypeDef] = &[
    TypeDef {
        name: "Root",
        fields: &[
            Field {
                json: "items",
                ty: Some("Item"),
                strategy: Strategy::Merge { key: Some("name") },
            },
            Field {
                json: "tags",
                ty: None,
                strategy: Strategy::Merge { key: None },
            },
            Field {
                json: "fixed",
                ty: None,
                strategy: Strategy::Replace,
            },
        ],
    },
    TypeDef {
        name: "Item",
        fields: &[Field {
            json: "tags",
            ty: None,
            strategy: Strategy::Merge { key: None },
        }],
    },
];

fn run(original: Value, patch: Value) -> R<Value> {
    let schema = Schema::new(TYPES);
    let root = schema.type_named("Root");
    let (Value::Object(o), Value::Object(p)) = (original, patch) else {
        panic!("objects expected");
    };
    apply(schema, root, o, p).map(Value::Object)
}

fn names(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| i["name"].as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn maps_merge_nulls_delete_and_replace_strategy_replaces() {
    let out = run(
        json!({"a": {"x": 1, "y": 2}, "fixed": {"p": 1, "q": 2}, "list": [1, 2]}),
        json!({"a": {"y": null, "z": 3}, "fixed": {"r": 3}, "list": [3], "new": {"k": null, "v": 1}}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"a": {"x": 1, "z": 3}, "fixed": {"r": 3}, "list": [3], "new": {"v": 1}})
    );
}

#[test]
fn merge_lists_by_key_and_as_sets() {
    let out = run(
        json!({"items": [{"name": "a", "v": 1, "tags": ["x"]}, {"name": "b"}], "tags": ["p", "q"]}),
        json!({"items": [{"name": "a", "v": 2, "tags": ["y"]}, {"name": "c"}], "tags": ["q", "r"]}),
    )
    .unwrap();
    // "c" is unknown to the live order, so it is placed before the live-only "b".
    assert_eq!(names(&out), ["a", "c", "b"]);
    assert_eq!(
        out["items"][0],
        json!({"name": "a", "v": 2, "tags": ["y", "x"]})
    );
    assert_eq!(out["tags"], json!(["p", "q", "r"]));
}

#[test]
fn list_directives() {
    let live = json!({"items": [{"name": "a"}, {"name": "b"}, {"name": "a", "dup": true}]});
    // Deletion removes every element with the key.
    let out = run(
        live.clone(),
        json!({"items": [{"name": "a", "$patch": "delete"}]}),
    )
    .unwrap();
    assert_eq!(names(&out), ["b"]);
    let out = run(
        live.clone(),
        json!({"items": [{"name": "z", "v": {"k": null}}, {"$patch": "replace"}]}),
    )
    .unwrap();
    assert_eq!(out["items"], json!([{"name": "z", "v": {}}]));
    let err = run(
        live.clone(),
        json!({"items": [{"name": "a", "$patch": "merge"}]}),
    )
    .unwrap_err();
    assert_eq!(err.class, SmpErrorClass::Internal);
    let err = run(live, json!({"items": [{"name": "a", "$patch": "drop"}]})).unwrap_err();
    assert_eq!(
        err.message,
        "unknown patch type: drop in map: map[$patch:drop name:a]"
    );
}

#[test]
fn primitive_deletion_lists() {
    let out = run(
        json!({"tags": ["a", "b", "c"]}),
        json!({"$deleteFromPrimitiveList/tags": ["b", "z"]}),
    )
    .unwrap();
    assert_eq!(out["tags"], json!(["a", "c"]));
    // A deletion list for a list the object lacks changes nothing.
    let out = run(json!({}), json!({"$deleteFromPrimitiveList/tags": ["b"]})).unwrap();
    assert_eq!(out, json!({}));
    let err = run(json!({}), json!({"$deleteFromPrimitiveListtags": ["b"]})).unwrap_err();
    assert_eq!(
        (err.class, err.message.as_str()),
        (
            SmpErrorClass::BadRequest,
            "invalid patch format of primitive list"
        )
    );
}

#[test]
fn set_element_order_orders_the_merged_list() {
    let live = json!({"items": [{"name": "a"}, {"name": "b"}, {"name": "c"}]});
    let out = run(
        live.clone(),
        json!({"$setElementOrder/items": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}),
    )
    .unwrap();
    assert_eq!(names(&out), ["c", "a", "b"]);
    // Elements only the live object has keep their place relative to the others.
    let out = run(
        live.clone(),
        json!({"$setElementOrder/items": [{"name": "c"}, {"name": "d"}], "items": [{"name": "d"}]}),
    )
    .unwrap();
    assert_eq!(names(&out), ["a", "b", "c", "d"]);
    // Go orders by its live array after deletions shifted it: "remove b, add d after c".
    let out = run(
        json!({"items": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}),
        json!({"$setElementOrder/items": [{"name": "a"}, {"name": "c"}, {"name": "d"}],
               "items": [{"name": "d"}, {"name": "b", "$patch": "delete"}]}),
    )
    .unwrap();
    assert_eq!(names(&out), ["a", "c", "d"]);
    let out = run(
        json!({"tags": ["x", "y"]}),
        json!({"$setElementOrder/tags": ["z", "y", "x"], "tags": ["z"]}),
    )
    .unwrap();
    assert_eq!(out["tags"], json!(["z", "y", "x"]));
}

#[test]
fn retain_keys_clears_unlisted_fields() {
    let out = run(
        json!({"a": {"type": "x", "one": {"k": 1}, "two": 2}}),
        json!({"a": {"$retainKeys": ["type", "one"], "type": "y"}}),
    )
    .unwrap();
    assert_eq!(out, json!({"a": {"type": "y", "one": {"k": 1}}}));
    let err = run(json!({"a": {}}), json!({"a": {"$retainKeys": "type"}})).unwrap_err();
    assert_eq!(err.class, SmpErrorClass::BadRequest);
}

#[test]
fn map_directives_and_type_changes() {
    let out = run(
        json!({"a": {"x": 1}, "b": {"y": 2}, "c": [1], "d": "s"}),
        json!({"a": {"$patch": "delete"}, "b": {"$patch": "replace", "z": 3, "$retainKeys": ["z"]},
               "c": {"now": "map"}, "d": {"$patch": "delete"}}),
    )
    .unwrap();
    // `d` changes type; a directive map taken over whole is dropped.
    assert_eq!(out, json!({"a": {}, "b": {"z": 3}, "c": {"now": "map"}}));
}

#[test]
fn scalar_deduplication_moves_the_last_element() {
    assert_eq!(
        deduplicate_scalars(vec![json!(1), json!(2), json!(1), json!(3)]),
        vec![json!(1), json!(2), json!(3)]
    );
    assert_eq!(
        deduplicate_scalars(vec![json!("a"), json!("a"), json!("b"), json!("c")]),
        vec![json!("a"), json!("c"), json!("b")]
    );
}
