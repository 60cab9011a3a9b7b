//! Custom resource handling driven by a CRD version's `openAPIV3Schema`, as kube-apiserver's
//! apiextensions-apiserver (v0.35, Kubernetes 1.35) does it: defaulting, pruning of unknown fields,
//! OpenAPI value validation (kube-openapi), list-type and embedded-resource checks, and
//! `x-kubernetes-validations` CEL rules, with the same error wording and the same 422 `Status`.
//!
//! The order a request handler should follow, as the apiserver does: decode, [`CompiledSchema::prune`]
//! (reporting the paths under `fieldValidation=Strict`), [`CompiledSchema::apply_defaults`], validate
//! `metadata` (`crate::validation`, its errors passed as `prior`), then [`CompiledSchema::validate_with_prior`] (or
//! [`CompiledSchema::validate_status`] for the `/status` subresource), and answer
//! [`invalid_status`] when any error came back.

mod cel;
mod correlation;
mod errors;
mod formats;
mod model;
mod openapi;
mod structural;

use serde_json::Value;

pub use cel::resolve_field_path;
pub use errors::{FieldError, NIL_PATH, aggregate_message, invalid_status};

use errors::FieldPath;
use model::Schema;
use openapi::Corr;

/// The detail apiextensions reports instead of running CEL rules when the object already has type,
/// required, enum or size errors (`hasBlockingErr`).
pub const CEL_SKIPPED_DETAIL: &str = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

/// A CRD version's `openAPIV3Schema`, prepared once (CEL rules compiled) and used for every request.
#[derive(Debug)]
pub struct CompiledSchema {
    root: Schema,
    env: cel::Env,
    has_rules: bool,
}

impl CompiledSchema {
    /// The structural schema.
    pub fn root(&self) -> &Schema {
        &self.root
    }

    /// Prepares a schema. Fails when a `x-kubernetes-validations` entry is malformed or its rule or
    /// `messageExpression` does not compile; the message names the rule.
    pub fn new(open_api_v3_schema: &Value) -> Result<Self, String> {
        let (compiled, problems) =
            Self::build(open_api_v3_schema, &FieldPath::new("openAPIV3Schema"));
        match aggregate_message(&problems) {
            Some(message) => Err(message),
            None => Ok(compiled),
        }
    }

    fn build(raw: &Value, path: &FieldPath) -> (Self, Vec<FieldError>) {
        let mut root = Schema::parse(raw);
        let mut problems = Vec::new();
        cel::compile_tree(raw, &mut root, path, &mut problems);
        let has_rules = cel::has_rules(&root);
        (
            CompiledSchema {
                root,
                env: cel::Env::new(),
                has_rules,
            },
            problems,
        )
    }

    /// Applies `default`s (structural defaulting, as the apiserver does after decoding and when reading).
    pub fn apply_defaults(&self, obj: &mut Value) {
        structural::apply_defaults(obj, &self.root);
    }

    /// Removes fields the schema does not know (unless `x-kubernetes-preserve-unknown-fields`) and
    /// non-nullable nulls without a default, returning the removed fields' paths, sorted, in the form
    /// strict field validation reports them (`spec.foo`, `spec.items[0].bar`; root fields bare). Root
    /// `apiVersion`, `kind` and `metadata` are left alone. The caller words them as
    /// `strict decoding error: unknown field "spec.foo"`.
    pub fn prune(&self, obj: &mut Value) -> Vec<String> {
        structural::prune(obj, &self.root)
    }

    /// Structural, list-type, embedded-resource and CEL validation of a create (`old` `None`) or update.
    #[cfg(test)]
    pub fn validate(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        self.validate_with_prior(obj, old, &[])
    }

    /// Structural, list-type, embedded-resource and CEL validation of a create (`old` `None`) or
    /// update, for a request whose metadata (or other) validation already produced
    /// `prior` errors: those count when deciding whether CEL rules are skipped. Only the new errors are
    /// returned; the caller reports `prior` first.
    pub fn validate_with_prior(
        &self,
        obj: &Value,
        old: Option<&Value>,
        prior: &[FieldError],
    ) -> Vec<FieldError> {
        let corr = old.map(|o| Corr {
            old: o,
            schema: Some(&self.root),
        });
        let mut errs = openapi::validate(&self.root, obj, &FieldPath::nil(), corr);
        errs.extend(structural::validate_embedded(obj, &self.root));
        // On update, list-type errors count only when the old object had none.
        if old.is_none_or(|o| structural::validate_list_types(o, &self.root).is_empty()) {
            errs.extend(structural::validate_list_types(obj, &self.root));
        }
        self.run_cel(obj, old, prior, &mut errs);
        errs
    }

    /// Validation of an update through the `/status` subresource: the schema of `status` only (errors
    /// under `status`, messages relative to it, as the apiserver's status validator words them), list
    /// types, and all CEL rules.
    pub fn validate_status(
        &self,
        obj: &Value,
        old: &Value,
        prior: &[FieldError],
    ) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if let Some(status) = obj.get("status") {
            let status_schema = self.root.properties.get("status");
            let corr = old.get("status").map(|o| Corr {
                old: o,
                schema: status_schema,
            });
            if let Some(s) = status_schema {
                errs.extend(openapi::validate(
                    s,
                    status,
                    &FieldPath::new("status"),
                    corr,
                ));
            }
        }
        let new_list_errs = structural::validate_list_types(obj, &self.root);
        if !new_list_errs.is_empty() && structural::validate_list_types(old, &self.root).is_empty()
        {
            errs.extend(new_list_errs);
        }
        self.run_cel(obj, Some(old), prior, &mut errs);
        errs
    }

    fn run_cel(
        &self,
        obj: &Value,
        old: Option<&Value>,
        prior: &[FieldError],
        errs: &mut Vec<FieldError>,
    ) {
        if !self.has_rules {
            return;
        }
        if prior.iter().chain(errs.iter()).any(FieldError::blocks_cel) {
            errs.push(FieldError::invalid(
                NIL_PATH,
                Value::Null,
                CEL_SKIPPED_DETAIL,
            ));
        } else {
            errs.extend(cel::validate(&self.env, &self.root, obj, old));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn widget_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["name"],
                    "x-kubernetes-validations": [
                        {"rule": "self.minReplicas <= self.maxReplicas", "message": "minReplicas cannot be larger than maxReplicas"},
                        {"rule": "!has(self.color) || self.color != 'green' || self.size > 2", "fieldPath": ".size", "message": "green widgets need size > 2"}
                    ],
                    "properties": {
                        "name": {"type": "string", "maxLength": 10, "pattern": "^[a-z]+$"},
                        "size": {"type": "integer", "maximum": 10, "default": 3},
                        "color": {"type": "string", "enum": ["red", "green"]},
                        "port": {"x-kubernetes-int-or-string": true},
                        "minReplicas": {"type": "integer", "default": 1},
                        "maxReplicas": {"type": "integer", "default": 5},
                        "owner": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "owner is immutable"}]},
                        "groups": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["members"],
                                "properties": {
                                    "members": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string", "minLength": 1}}
                                }
                            }
                        },
                        "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                },
                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
            }
        })
    }

    fn widget() -> CompiledSchema {
        CompiledSchema::new(&widget_schema()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    fn obj(spec: Value) -> Value {
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": spec})
    }

    #[test]
    fn valid_widget_passes_after_defaults() {
        let s = widget();
        let mut o =
            obj(json!({"name": "abc", "port": "http", "groups": [{"members": ["a", "b"]}]}));
        assert!(s.prune(&mut o).is_empty());
        s.apply_defaults(&mut o);
        assert_eq!(o["spec"]["size"], 3);
        assert_eq!(o["spec"]["minReplicas"], 1);
        assert!(
            s.validate(&o, None).is_empty(),
            "{:?}",
            s.validate(&o, None)
        );
    }

    #[test]
    fn structural_errors_and_the_422_status() {
        let s = widget();
        let mut o = obj(json!({"name": "abc", "size": 20}));
        s.apply_defaults(&mut o);
        let errs = s.validate(&o, None);
        assert_eq!(
            messages(&errs),
            ["spec.size: Invalid value: 20: spec.size in body should be less than or equal to 10"]
        );
        let status = invalid_status("example.com", "Widget", "w1", &errs);
        assert_eq!(
            status["message"],
            "Widget.example.com \"w1\" is invalid: spec.size: Invalid value: 20: spec.size in body should be less than or equal to 10"
        );
        assert_eq!(
            status["details"],
            json!({"name": "w1", "group": "example.com", "kind": "Widget", "causes": [{
                "reason": "FieldValueInvalid",
                "message": "Invalid value: 20: spec.size in body should be less than or equal to 10",
                "field": "spec.size"
            }]})
        );
    }

    #[test]
    fn blocking_errors_skip_cel() {
        let s = widget();
        let mut o = obj(
            json!({"name": "ABC", "color": "blue", "port": true, "minReplicas": 9, "maxReplicas": 1}),
        );
        s.apply_defaults(&mut o);
        assert_eq!(
            messages(&s.validate(&o, None)),
            [
                "spec.color: Unsupported value: \"blue\": supported values: \"red\", \"green\"",
                "spec.name: Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'",
                "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"",
                "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
            ]
        );
        let mut missing = obj(json!({}));
        s.apply_defaults(&mut missing);
        let errs = s.validate(&missing, None);
        assert_eq!(messages(&errs)[0], "spec.name: Required value");
        assert_eq!(errs.len(), 2);
        // Metadata errors found by the caller block CEL too.
        let mut ok = obj(json!({"name": "abc", "minReplicas": 9}));
        s.apply_defaults(&mut ok);
        let prior = [FieldError::required(
            "metadata.name",
            "name or generateName is required",
        )];
        assert_eq!(s.validate_with_prior(&ok, None, &prior).len(), 1);
    }

    #[test]
    fn cel_rules_with_and_without_field_path() {
        let s = widget();
        let mut o = obj(
            json!({"name": "abc", "color": "green", "size": 1, "minReplicas": 9, "maxReplicas": 2}),
        );
        s.apply_defaults(&mut o);
        let errs = s.validate(&o, None);
        assert_eq!(
            messages(&errs),
            [
                "spec: Invalid value: minReplicas cannot be larger than maxReplicas",
                "spec.size: Invalid value: green widgets need size > 2"
            ]
        );
        assert_eq!(errs[0].reason(), "FieldValueInvalid");
        let status = invalid_status("example.com", "Widget", "w1", &errs);
        assert_eq!(
            status["message"],
            "Widget.example.com \"w1\" is invalid: [spec: Invalid value: minReplicas cannot be larger than maxReplicas, spec.size: Invalid value: green widgets need size > 2]"
        );
    }

    #[test]
    fn transition_rule_on_update() {
        let s = widget();
        let mut old = obj(json!({"name": "abc", "owner": "ann"}));
        s.apply_defaults(&mut old);
        assert!(s.validate(&old, None).is_empty());
        let mut new = obj(json!({"name": "abc", "owner": "bob"}));
        s.apply_defaults(&mut new);
        assert_eq!(
            messages(&s.validate(&new, Some(&old))),
            ["spec.owner: Invalid value: \"bob\": owner is immutable"]
        );
    }

    #[test]
    fn nested_arrays_and_sets() {
        let s = widget();
        let mut o =
            obj(json!({"name": "abc", "groups": [{"members": ["a", "a"]}, {"members": [""]}, {}]}));
        s.apply_defaults(&mut o);
        assert_eq!(
            messages(&s.validate(&o, None)),
            [
                "spec.groups[1].members[0]: Invalid value: \"\": spec.groups[1].members[0] in body should be at least 1 chars long",
                "spec.groups[2].members: Required value",
                "spec.groups[0].members[1]: Duplicate value: \"a\"",
                "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
            ]
        );
    }

    #[test]
    fn pruning_respects_preserve_unknown_fields() {
        let s = widget();
        let mut o = obj(json!({
            "name": "abc", "extra": 1,
            "config": {"anything": {"goes": true}},
            "groups": [{"members": [], "bogus": 1}]
        }));
        o["status"] = json!({"ready": true, "phase": "x"});
        o["top"] = json!(1);
        assert_eq!(
            s.prune(&mut o),
            ["spec.extra", "spec.groups[0].bogus", "status.phase", "top"]
        );
        assert_eq!(o["spec"]["config"], json!({"anything": {"goes": true}}));
        assert_eq!(o["metadata"], json!({"name": "w1"}));
    }

    #[test]
    fn unchanged_invalid_values_ratchet_on_update() {
        let s = widget();
        let old = obj(json!({"name": "abc", "size": 20, "minReplicas": 1, "maxReplicas": 5}));
        let mut new = old.clone();
        new["metadata"]["labels"] = json!({"a": "b"});
        assert!(s.validate(&new, Some(&old)).is_empty());
        new["spec"]["size"] = json!(30);
        assert_eq!(
            messages(&s.validate(&new, Some(&old))),
            ["spec.size: Invalid value: 30: spec.size in body should be less than or equal to 10"]
        );
    }

    #[test]
    fn status_subresource_validation() {
        let s = widget();
        let old = obj(json!({"name": "abc", "minReplicas": 1, "maxReplicas": 5}));
        let mut new = old.clone();
        new["status"] = json!({"ready": "yes"});
        assert_eq!(
            messages(&s.validate_status(&new, &old, &[])),
            [
                "status.ready: Invalid value: \"string\": ready in body must be of type boolean: \"string\"",
                "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
            ]
        );
    }

    /// Schema and CEL errors together, as apiextensions' own validation tests (TestValidateCustomResource in
    /// apiserver/validation/validation_test.go, v0.35.0) collect them, compared as sets.
    fn oracle(schema: Value, obj: Value, old: Option<Value>) -> std::collections::BTreeSet<String> {
        let s = CompiledSchema::new(&schema).unwrap_or_else(|e| panic!("{e}"));
        let mut errs = openapi::validate(&s.root, &obj, &FieldPath::nil(), None);
        errs.extend(cel::validate(&s.env, &s.root, &obj, old.as_ref()));
        errs.iter().map(ToString::to_string).collect()
    }

    fn set(items: &[&str]) -> std::collections::BTreeSet<String> {
        items.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn apiextensions_validation_test_cases() {
        let field = |f: Value| json!({"type": "object", "properties": {"field": f}});
        let s = field(json!({"type": "object"}));
        assert!(oracle(s.clone(), json!({"field": {}}), None).is_empty());
        assert_eq!(
            oracle(s.clone(), json!({"field": 1.2}), None),
            set(&[
                r#"field: Invalid value: "number": field in body must be of type object: "number""#
            ])
        );
        assert_eq!(
            oracle(s, json!({"field": null}), None),
            set(&[r#"field: Invalid value: "null": field in body must be of type object: "null""#])
        );
        let s = field(json!({"nullable": true}));
        for v in [
            json!(null),
            json!("foo"),
            json!(42),
            json!(true),
            json!(1.2),
            json!([]),
            json!({}),
        ] {
            assert!(oracle(s.clone(), json!({"field": v}), None).is_empty());
        }
        let s = field(
            json!({"nullable": true, "x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}),
        );
        assert!(oracle(s.clone(), json!({"field": null}), None).is_empty());
        assert_eq!(
            oracle(s, json!({"field": true}), None),
            set(&[
                r#"<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)"#,
                r#"field: Invalid value: "boolean": field in body must be of type integer,string: "boolean""#,
                r#"field: Invalid value: "boolean": field in body must be of type integer: "boolean""#,
            ])
        );
        let s = field(
            json!({"nullable": true, "x-kubernetes-int-or-string": true, "allOf": [{"anyOf": [{"type": "integer"}, {"type": "string"}]}]}),
        );
        assert_eq!(
            oracle(s, json!({"field": []}), None),
            set(&[
                r#"<nil>: Invalid value: "": "field" must validate all the schemas (allOf). None validated"#,
                r#"<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)"#,
                r#"field: Invalid value: "array": field in body must be of type integer,string: "array""#,
                r#"field: Invalid value: "array": field in body must be of type integer: "array""#,
            ])
        );
        let s = json!({"type": "object", "required": ["field"], "properties": {"field": {"type": "object", "required": ["nested"], "properties": {"nested": {}}}}});
        assert_eq!(
            oracle(s.clone(), json!({"test": "a"}), None),
            set(&["field: Required value"])
        );
        assert_eq!(
            oracle(s, json!({"field": {}}), None),
            set(&["field.nested: Required value"])
        );
        let s = field(
            json!({"type": "object", "required": ["nestedint", "nestedstring"], "properties": {
                "nestedint": {"type": "integer", "enum": [1, 2]},
                "nestedstring": {"type": "string", "enum": ["a", "b"]}
            }}),
        );
        assert_eq!(
            oracle(
                s,
                json!({"field": {"nestedint": "x", "nestedstring": true}}),
                None
            ),
            set(&[
                r#"field.nestedint: Invalid value: "string": field.nestedint in body must be of type integer: "string""#,
                r#"field.nestedint: Unsupported value: "x": supported values: "1", "2""#,
                r#"field.nestedstring: Invalid value: "boolean": field.nestedstring in body must be of type string: "boolean""#,
                r#"field.nestedstring: Unsupported value: true: supported values: "a", "b""#,
            ])
        );
        let s = field(
            json!({"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}),
        );
        assert!(
            oracle(
                s.clone(),
                json!({"field": "x"}),
                Some(json!({"field": "x"}))
            )
            .is_empty()
        );
        assert_eq!(
            oracle(s, json!({"field": "y"}), Some(json!({"field": "x"}))),
            set(&[r#"field: Invalid value: "y": failed rule: self == oldSelf"#])
        );
        let s = field(json!({
            "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k1", "k2"],
            "items": {"type": "object", "properties": {
                "k1": {"type": "string"}, "k2": {"type": "string"},
                "v1": {"type": "number", "x-kubernetes-validations": [{"rule": "self >= oldSelf"}]}
            }}
        }));
        let old = json!({"field": [{"k1": "a", "k2": "b", "v1": 1.0}]});
        assert!(
            oracle(
                s.clone(),
                json!({"field": [{"k1": "a", "k2": "b", "v1": 1.2}]}),
                Some(old.clone())
            )
            .is_empty()
        );
        assert_eq!(
            oracle(
                s,
                json!({"field": [{"k1": "a", "k2": "b", "v1": 0.9}]}),
                Some(old)
            ),
            set(&["field[0].v1: Invalid value: 0.9: failed rule: self >= oldSelf"])
        );
        let s = field(
            json!({"type": "array", "items": {"type": "object", "properties": {"x": {"type": "string", "x-kubernetes-validations": [{"rule": "self == 'x'"}]}}}}),
        );
        assert_eq!(
            oracle(s, json!({"field": [{"x": "y"}]}), None),
            set(&[r#"field[0].x: Invalid value: "y": failed rule: self == 'x'"#])
        );
        let s = json!({"type": "object", "properties": {"fieldX": {"type": "object", "maxProperties": 2}}});
        assert_eq!(
            oracle(
                s,
                json!({"fieldX": {"a": true, "b": true, "c": true}}),
                None
            ),
            set(&["fieldX: Too many: 3: must have at most 2 items"])
        );
        let s = json!({"type": "object", "properties": {"fieldX": {"type": "string", "format": "k8s-long-name"}}});
        assert_eq!(
            oracle(s, json!({"fieldX": "a.-"}), None),
            set(&[
                r#"fieldX: Invalid value: "a.-": fieldX in body must be of type k8s-long-name: "a.-""#
            ])
        );
    }

    #[test]
    fn compiled_schemas_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>(_: &T) {}
        shareable(&widget());
    }

    #[test]
    fn broken_rules_refuse_the_schema() {
        let bad = json!({"type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-validations": [{"rule": "self.a >"}]}}});
        let err = CompiledSchema::new(&bad).err().unwrap_or_default();
        assert!(
            err.starts_with(
                "openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: "
            ),
            "{err}"
        );
        assert!(err.contains("compilation failed"), "{err}");
        let (_, problems) = CompiledSchema::build(
            &bad,
            &FieldPath::new("spec.versions[0].schema.openAPIV3Schema"),
        );
        assert_eq!(
            problems[0].field,
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
        );
    }
}
