//! Unit tests of `openapi::schemas`.

use super::*;

#[test]
fn builtin_definitions_resolve_and_carry_gvk() {
    for flavor in [Flavor::V2, Flavor::V3] {
        let mut defs = Definitions::new(flavor);
        assert!(defs.add_builtin("io.k8s.api.apps.v1.Deployment"));
        let map = defs.into_map();
        let prefix = flavor.ref_prefix();
        let mut refs = Vec::new();
        for schema in map.values() {
            collect_refs(schema, prefix, &mut refs);
        }
        for r in refs {
            assert!(map.contains_key(&r), "{flavor:?}: dangling {r}");
        }
        let deployment = &map["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            deployment["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
        );
        assert!(
            deployment["required"]
                .as_array()
                .is_none_or(|r| !r.iter().any(|f| f == "metadata"))
        );
        assert!(map.contains_key(OBJECT_META));
        assert!(map.contains_key("io.k8s.apimachinery.pkg.util.intstr.IntOrString"));
    }
}

#[test]
fn v3_wraps_described_references_in_all_of() {
    let mut defs = Definitions::new(Flavor::V3);
    defs.add_builtin("io.k8s.api.core.v1.Pod");
    let map = defs.into_map();
    assert_eq!(
        map["io.k8s.api.core.v1.Pod"]["properties"]["spec"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.PodSpec"
    );
    assert!(
        map["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
            .get("type")
            .is_none()
    );
}

#[test]
fn schema_names() {
    assert_eq!(
        type_schema_name("", "v1", "Pod", false),
        "io.k8s.api.core.v1.Pod"
    );
    assert_eq!(
        type_schema_name("", "v1", "PodList", false),
        "io.k8s.api.core.v1.PodList"
    );
    assert_eq!(
        type_schema_name("events.k8s.io", "v1", "Event", false),
        "io.k8s.api.events.v1.Event"
    );
    assert_eq!(
        type_schema_name("stable.example.com", "v1", "CronTab", true),
        "com.example.stable.v1.CronTab"
    );
}

#[test]
fn v2_conversion_strips_what_kubectl_rejects() {
    let mut schema = json!({
        "type": "object",
        "required": ["a", "n"],
        "properties": {
            "a": {"type": "array"},
            "n": {"type": "string", "nullable": true},
            "i": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
            "p": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"x": {"type": "string"}}},
            "l": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        },
    });
    to_openapi_v2(&mut schema);
    sanitize_v2(&mut schema);
    let props = &schema["properties"];
    assert!(props["a"].get("type").is_none());
    assert!(props["n"].get("type").is_none());
    assert!(props["i"].get("anyOf").is_none());
    assert!(props["p"].get("type").is_none());
    assert!(props["p"].get("properties").is_none());
    assert_eq!(props["l"]["x-kubernetes-list-type"], "set");
    assert_eq!(schema["required"], json!(["a"]));
}

#[test]
fn unfold_spells_out_int_or_string() {
    let mut schema = json!({"properties": {"port": {"x-kubernetes-int-or-string": true}}});
    unfold(&mut schema);
    assert_eq!(
        schema["properties"]["port"]["anyOf"],
        json!([{"type": "integer"}, {"type": "string"}])
    );
}
