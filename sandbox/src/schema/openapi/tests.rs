//! Unit tests of `schema::openapi`.

use super::*;
use serde_json::json;

fn check(schema: Value, data: Value) -> Vec<String> {
    let s = Schema::parse(&schema);
    validate(&s, &data, &FieldPath::nil(), None)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn spec(props: Value) -> Value {
    json!({"type": "object", "properties": {"spec": {"type": "object", "properties": props}}})
}

#[test]
fn numbers() {
    let s = spec(json!({"size": {"type": "integer", "maximum": 10, "minimum": 1}}));
    assert_eq!(
        check(s.clone(), json!({"spec": {"size": 20}})),
        ["spec.size: Invalid value: 20: spec.size in body should be less than or equal to 10"]
    );
    assert_eq!(
        check(s.clone(), json!({"spec": {"size": 0}})),
        ["spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"]
    );
    assert!(check(s.clone(), json!({"spec": {"size": 10}})).is_empty());
    assert!(
        check(s.clone(), json!({"spec": {"size": 3.0}})).is_empty(),
        "3.0 is a JSON integer"
    );
    assert_eq!(
        check(s, json!({"spec": {"size": 2.5}})),
        [
            "spec.size: Invalid value: \"number\": spec.size in body must be of type integer: \"number\""
        ]
    );
    let s = spec(
        json!({"r": {"type": "number", "exclusiveMaximum": true, "maximum": 1.5, "multipleOf": 0.5}}),
    );
    assert_eq!(
        check(s.clone(), json!({"spec": {"r": 1.5}})),
        ["spec.r: Invalid value: 1.5: spec.r in body should be less than 1.5"]
    );
    assert_eq!(
        check(s, json!({"spec": {"r": 0.7}})),
        ["spec.r: Invalid value: 0.7: spec.r in body should be a multiple of 0.5"]
    );
    let s = spec(json!({"n": {"type": "integer", "multipleOf": 3}}));
    assert_eq!(
        check(s, json!({"spec": {"n": 7}})),
        ["spec.n: Invalid value: 7: spec.n in body should be a multiple of 3"]
    );
}

#[test]
fn types() {
    let s = spec(
        json!({"size": {"type": "integer"}, "name": {"type": "string"}, "flag": {"type": "boolean", "nullable": true}}),
    );
    assert_eq!(
        check(s.clone(), json!({"spec": {"size": "big"}})),
        [
            "spec.size: Invalid value: \"string\": spec.size in body must be of type integer: \"string\""
        ]
    );
    assert_eq!(
        check(s.clone(), json!({"spec": {"name": null}})),
        ["spec.name: Invalid value: \"null\": spec.name in body must be of type string: \"null\""]
    );
    assert!(check(s.clone(), json!({"spec": {"flag": null}})).is_empty());
    assert_eq!(
        check(s, json!({"spec": []})),
        ["spec: Invalid value: \"array\": spec in body must be of type object: \"array\""]
    );
    let s = spec(json!({"port": {"x-kubernetes-int-or-string": true}}));
    assert!(check(s.clone(), json!({"spec": {"port": 80}})).is_empty());
    assert!(check(s.clone(), json!({"spec": {"port": "http"}})).is_empty());
    assert_eq!(
        check(s, json!({"spec": {"port": true}})),
        [
            "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\""
        ]
    );
    let s = spec(json!({"price": {"type": "number"}}));
    assert!(
        check(s, json!({"spec": {"price": 3}})).is_empty(),
        "integers are numbers"
    );
}

#[test]
fn strings_enums_and_formats() {
    let s = spec(json!({
        "name": {"type": "string", "maxLength": 5, "minLength": 2, "pattern": "^a+$"},
        "color": {"type": "string", "enum": ["red", "green"]},
        "level": {"type": "integer", "enum": [1, 2]},
        "when": {"type": "string", "format": "date-time"}
    }));
    assert_eq!(
        check(s.clone(), json!({"spec": {"name": "aaaaaa"}})),
        ["spec.name: Too long: may not be more than 5 bytes"]
    );
    assert_eq!(
        check(s.clone(), json!({"spec": {"name": "a"}})),
        ["spec.name: Invalid value: \"a\": spec.name in body should be at least 2 chars long"]
    );
    assert_eq!(
        check(s.clone(), json!({"spec": {"name": "abc"}})),
        ["spec.name: Invalid value: \"abc\": spec.name in body should match '^a+$'"]
    );
    assert_eq!(
        check(s.clone(), json!({"spec": {"color": "blue"}})),
        ["spec.color: Unsupported value: \"blue\": supported values: \"red\", \"green\""]
    );
    assert_eq!(
        check(s.clone(), json!({"spec": {"level": 3}})),
        ["spec.level: Unsupported value: 3: supported values: \"1\", \"2\""]
    );
    assert_eq!(
        check(s, json!({"spec": {"when": "yesterday"}})),
        [
            "spec.when: Invalid value: \"yesterday\": spec.when in body must be of type date-time: \"yesterday\""
        ]
    );
}

#[test]
fn objects_and_arrays() {
    let s = json!({
        "type": "object",
        "required": ["spec"],
        "properties": {"spec": {
            "type": "object",
            "required": ["name"],
            "maxProperties": 2,
            "properties": {
                "name": {"type": "string"},
                "items": {"type": "array", "maxItems": 2, "minItems": 1, "items": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        }}
    });
    assert_eq!(check(s.clone(), json!({})), ["spec: Required value"]);
    assert_eq!(
        check(
            s.clone(),
            json!({"spec": {"name": "x", "items": [{"id": 1}, {"id": "a"}, {}]}})
        ),
        [
            "spec.items[1].id: Invalid value: \"string\": spec.items[1].id in body must be of type integer: \"string\"",
            "spec.items[2].id: Required value",
            "spec.items: Too many: 3: must have at most 2 items",
        ]
    );
    assert_eq!(
        check(s.clone(), json!({"spec": {"name": "x", "items": []}})),
        ["spec.items: Invalid value: 0: spec.items in body should have at least 1 items"]
    );
    assert_eq!(
        check(
            s.clone(),
            json!({"spec": {"name": "x", "labels": {"a": 1}}})
        ),
        [
            "spec.labels.a: Invalid value: \"integer\": spec.labels.a in body must be of type string: \"integer\""
        ]
    );
    assert_eq!(
        check(
            s,
            json!({"spec": {"name": "x", "labels": {}, "items": [{"id": 1}]}})
        ),
        ["spec: Too many: 3: must have at most 2 items"]
    );
}

#[test]
fn compositions() {
    let s = spec(json!({"v": {"type": "string", "anyOf": [{"pattern": "^a"}, {"pattern": "^b"}]}}));
    assert!(check(s.clone(), json!({"spec": {"v": "bx"}})).is_empty());
    let errs = check(s, json!({"spec": {"v": "cx"}}));
    assert_eq!(
        errs[0],
        "<nil>: Invalid value: \"\": \"spec.v\" must validate at least one schema (anyOf)"
    );
    assert_eq!(
        errs[1],
        "spec.v: Invalid value: \"cx\": spec.v in body should match '^a'"
    );
    let s = spec(json!({"v": {"type": "integer", "not": {"minimum": 5}}}));
    assert_eq!(
        check(s, json!({"spec": {"v": 7}})),
        ["<nil>: Invalid value: \"\": \"spec.v\" must not validate the schema (not)"]
    );
    let s = spec(json!({"v": {"type": "integer", "oneOf": [{"minimum": 1}, {"minimum": 2}]}}));
    assert_eq!(
        check(s, json!({"spec": {"v": 3}})),
        [
            "<nil>: Invalid value: \"\": \"spec.v\" must validate one and only one schema (oneOf). Found 2 valid alternatives"
        ]
    );
}

#[test]
fn ratcheting_drops_errors_of_unchanged_values() {
    let s = Schema::parse(&spec(
        json!({"size": {"type": "integer", "maximum": 10}, "other": {"type": "string"}}),
    ));
    let old = json!({"spec": {"size": 20, "other": "a"}});
    let new = json!({"spec": {"size": 20, "other": "b"}});
    let corr = Some(Corr {
        old: &old,
        schema: Some(&s),
    });
    assert!(validate(&s, &new, &FieldPath::nil(), corr).is_empty());
    let changed = json!({"spec": {"size": 21, "other": "a"}});
    assert_eq!(validate(&s, &changed, &FieldPath::nil(), corr).len(), 1);
}

#[test]
fn json_integers() {
    assert!(is_json_integer(3.0));
    assert!(is_json_integer(-3.0));
    assert!(!is_json_integer(2.5));
    assert!(is_json_integer(3.0000000001));
    assert!(!is_json_integer(-3.0000000001));
    assert!(!is_json_integer(1e300));
}
