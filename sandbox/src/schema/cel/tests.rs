//! Unit tests of `schema::cel`.

use super::values::escape;
use super::*;

fn compiled(raw: Value) -> (Schema, Vec<FieldError>) {
    let mut s = Schema::parse(&raw);
    let mut problems = Vec::new();
    compile_tree(
        &raw,
        &mut s,
        &FieldPath::new("openAPIV3Schema"),
        &mut problems,
    );
    (s, problems)
}

fn run(raw: Value, obj: Value, old: Option<Value>) -> Vec<String> {
    let (s, problems) = compiled(raw);
    assert!(problems.is_empty(), "{problems:?}");
    validate(&Env::new(), &s, &obj, old.as_ref())
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn escaping_like_apiserver() {
    assert_eq!(escape("namespace").as_deref(), Some("__namespace__"));
    assert_eq!(escape("my_field").as_deref(), Some("my_field"));
    assert_eq!(escape("a__b").as_deref(), Some("a__underscores__b"));
    assert_eq!(
        escape("foo-bar.baz/q").as_deref(),
        Some("foo__dash__bar__dot__baz__slash__q")
    );
    assert_eq!(escape("1abc"), None);
    assert_eq!(escape("a@b"), None);
}

#[test]
fn field_paths_normalise() {
    let (s, _) = compiled(json!({"type": "object", "properties": {
        "a": {"type": "object", "properties": {"b.c": {"type": "string"}}},
        "m": {"type": "object", "additionalProperties": {"type": "string"}}
    }}));
    let p = |fp: &str| valid_field_path(fp, &s).map(|p| p.render());
    assert_eq!(p(".a"), Ok("a".into()));
    assert_eq!(p(".a['b.c']"), Ok("a.b.c".into()));
    assert_eq!(p(".m.key"), Ok("m[key]".into()));
    assert!(p(".zzz").is_err());
    assert_eq!(p("a"), Err("expected [ or . but got: a".into()));
    assert_eq!(p("."), Err("unexpected end of JSON path".into()));
    assert_eq!(p(".a['b.c'"), Err("unexpected end of JSON path".into()));
    assert_eq!(
        p(".m[0]"),
        Err("expected single quoted string but got 0".into())
    );
    assert_eq!(p(".m['it\\'s']"), Ok("m[it's]".into()));
}

#[test]
fn rule_failures_are_worded_like_apiserver() {
    let schema = json!({"type": "object", "properties": {"spec": {
        "type": "object",
        "x-kubernetes-validations": [
            {"rule": "self.minReplicas <= self.maxReplicas", "message": "minReplicas cannot be larger than maxReplicas"},
            {"rule": "self.minReplicas >= 0", "fieldPath": ".minReplicas", "reason": "FieldValueForbidden", "message": "must not be negative"},
            {"rule": "self.name.startsWith('w')", "messageExpression": "'name ' + self.name + ' must start with w'"}
        ],
        "properties": {
            "minReplicas": {"type": "integer"},
            "maxReplicas": {"type": "integer", "x-kubernetes-validations": [{"rule": "self <= 100"}]},
            "name": {"type": "string"}
        }
    }}});
    let errs = run(
        schema.clone(),
        json!({"spec": {"minReplicas": -5, "maxReplicas": -10, "name": "x"}}),
        None,
    );
    assert_eq!(
        errs,
        [
            "spec: Invalid value: minReplicas cannot be larger than maxReplicas",
            "spec.minReplicas: Forbidden: must not be negative",
            "spec: Invalid value: name x must start with w",
        ]
    );
    let errs = run(
        schema,
        json!({"spec": {"minReplicas": 1, "maxReplicas": 200, "name": "w"}}),
        None,
    );
    assert_eq!(
        errs,
        ["spec.maxReplicas: Invalid value: 200: failed rule: self <= 100"]
    );
}

#[test]
fn transition_rules_need_old_self_and_unchanged_values_ratchet() {
    let schema = json!({"type": "object", "properties": {"spec": {
        "type": "object",
        "properties": {
            "mode": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "mode is immutable"}]},
            "size": {"type": "integer", "x-kubernetes-validations": [{"rule": "self < 10"}]}
        }
    }}});
    assert!(
        run(
            schema.clone(),
            json!({"spec": {"mode": "a", "size": 1}}),
            None
        )
        .is_empty()
    );
    let old = json!({"spec": {"mode": "a", "size": 50}});
    assert_eq!(
        run(
            schema.clone(),
            json!({"spec": {"mode": "b", "size": 50}}),
            Some(old.clone())
        ),
        ["spec.mode: Invalid value: \"b\": mode is immutable"],
        "size 50 is unchanged, so its failure is ratcheted"
    );
    assert_eq!(
        run(
            schema,
            json!({"spec": {"mode": "a", "size": 51}}),
            Some(old)
        ),
        ["spec.size: Invalid value: 51: failed rule: self < 10"]
    );
}

#[test]
fn runtime_errors_and_compile_problems() {
    let schema = json!({"type": "object", "properties": {"spec": {
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.missing > 1"}],
        "properties": {"a": {"type": "integer"}}
    }}});
    assert_eq!(
        run(schema, json!({"spec": {"a": 1}}), None),
        ["spec: Invalid value: \"object\": no such key: missing evaluating rule: self.missing > 1"]
    );
    let (_, problems) = compiled(json!({"type": "object", "properties": {"spec": {
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.a >"}, {"rule": "true", "reason": "Nope"}, {"rule": "true", "fieldPath": ".zz"}]
    }}}));
    let msgs: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(msgs.len(), 3);
    assert!(msgs[0].starts_with(
        "openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: \
         apiextensions.ValidationRule{Rule:\"self.a >\", Message:\"\", MessageExpression:\"\", \
         Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}: \
         compilation failed: "
    ));
    assert!(msgs[0].contains(": compilation failed: "));
    assert_eq!(
        msgs[1],
        "openAPIV3Schema.properties[spec].x-kubernetes-validations[1].reason: Unsupported value: \"Nope\": supported values: \"FieldValueDuplicate\", \"FieldValueForbidden\", \"FieldValueInvalid\", \"FieldValueRequired\""
    );
    assert_eq!(
        msgs[2],
        "openAPIV3Schema.properties[spec].x-kubernetes-validations[2].fieldPath: Invalid value: \".zz\": must be a valid path"
    );
}

#[test]
fn values_reach_cel_typed_by_the_schema() {
    let schema = json!({"type": "object", "properties": {"spec": {
        "type": "object",
        "x-kubernetes-validations": [
            {"rule": "self.price == 2.0", "message": "number fields are doubles"},
            {"rule": "self.timeout > duration('1m')", "message": "durations"},
            {"rule": "self.at > timestamp('2020-01-01T00:00:00Z')", "message": "timestamps"},
            {"rule": "self.__namespace__ == 'ns' && self.x__dash__y == 1", "message": "escaped names"},
            {"rule": "self.labels['a-b'] == 'c'", "message": "map keys are not escaped"},
            {"rule": "self.port == 80 || self.port == 'http'", "message": "int-or-string"}
        ],
        "properties": {
            "price": {"type": "number"},
            "timeout": {"type": "string", "format": "duration"},
            "at": {"type": "string", "format": "date-time"},
            "namespace": {"type": "string"},
            "x-y": {"type": "integer"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "port": {"x-kubernetes-int-or-string": true}
        }
    }}});
    let obj = json!({"spec": {
        "price": 2, "timeout": "5m", "at": "2024-01-01T00:00:00Z", "namespace": "ns", "x-y": 1,
        "labels": {"a-b": "c"}, "port": "http"
    }});
    assert_eq!(run(schema, obj, None), Vec::<String>::new());
}

#[test]
fn undeclared_and_null_fields_are_invisible() {
    let schema = json!({"type": "object", "properties": {"spec": {
        "type": "object",
        "x-kubernetes-validations": [
            {"rule": "!has(self.config.x)", "message": "preserved unknown fields are not visible"},
            {"rule": "!has(self.opt)", "message": "null reads as absent"}
        ],
        "properties": {
            "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "opt": {"type": "string", "nullable": true}
        }
    }}});
    assert!(
        run(
            schema,
            json!({"spec": {"config": {"x": 1}, "opt": null}}),
            None
        )
        .is_empty()
    );
}

#[test]
fn optional_old_self_sees_an_optional() {
    let schema = json!({"type": "object", "properties": {"spec": {
        "type": "object",
        "properties": {"v": {"type": "integer", "x-kubernetes-validations": [
            {"rule": "!oldSelf.hasValue() || self >= oldSelf.value()", "optionalOldSelf": true, "message": "may not decrease"}
        ]}}
    }}});
    assert!(run(schema.clone(), json!({"spec": {"v": 1}}), None).is_empty());
    assert_eq!(
        run(
            schema,
            json!({"spec": {"v": 1}}),
            Some(json!({"spec": {"v": 2}}))
        ),
        ["spec.v: Invalid value: 1: may not decrease"]
    );
}

#[test]
fn the_walk_skips_only_values_without_rules_below() {
    let raw = json!({
        "type": "object",
        "properties": {
            "plain": {"type": "object", "properties": {"a": {"type": "string"}}},
            "deep": {"type": "object", "properties": {"list": {"type": "array", "items": {
                "type": "object",
                "properties": {"n": {"type": "integer"}},
                "x-kubernetes-validations": [{"rule": "self.n > 0", "message": "n must be positive"}]
            }}}},
            "branch": {"type": "object", "allOf": [{
                "x-kubernetes-validations": [{"rule": "has(self.b)", "message": "b is required"}]
            }], "properties": {"b": {"type": "string"}}}
        }
    });
    let (s, problems) = compiled(raw.clone());
    assert!(problems.is_empty(), "{problems:?}");
    assert!(s.rules_below);
    assert!(!s.properties["plain"].rules_below);
    assert!(s.properties["deep"].rules_below);
    assert!(s.properties["branch"].rules_below);
    // The rules below a rule-less parent, in list items and in allOf branches, still run.
    let obj = json!({"plain": {"a": "x"}, "deep": {"list": [{"n": 1}, {"n": 0}]}, "branch": {}});
    assert_eq!(
        run(raw, obj, None),
        [
            "branch: Invalid value: b is required",
            "deep.list[1]: Invalid value: n must be positive",
        ]
    );
}
