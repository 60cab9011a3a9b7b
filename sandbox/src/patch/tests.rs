//! Unit tests of `patch`.

use super::*;
use serde_json::json;

fn jp(doc: &Value, patch: Value) -> Result<Value, PatchError> {
    apply_json_patch(doc, patch.to_string().as_bytes())
}

fn smp(doc: &Value, kind: (&str, &str), patch: Value) -> Result<Value, PatchError> {
    apply_strategic_merge_patch(doc, patch.to_string().as_bytes(), kind.0, kind.1)
}

const POD: (&str, &str) = ("", "Pod");

#[test]
fn json_patch_operations() {
    let doc =
        json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"args": ["a", "b"]}});
    let out = jp(
        &doc,
        json!([
            {"op": "test", "path": "/metadata/name", "value": "a"},
            {"op": "add", "path": "/metadata/labels/y", "value": "2"},
            {"op": "remove", "path": "/metadata/labels/x"},
            {"op": "add", "path": "/spec/args/1", "value": "mid"},
            {"op": "add", "path": "/spec/args/-", "value": "end"},
            {"op": "replace", "path": "/spec/args/0", "value": "first"},
            {"op": "copy", "from": "/metadata/name", "path": "/metadata/labels/name"},
            {"op": "move", "from": "/spec/args/3", "path": "/metadata/labels/last"}
        ]),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({
            "metadata": {"name": "a", "labels": {"y": "2", "name": "a", "last": "end"}},
            "spec": {"args": ["first", "mid", "b"]}
        })
    );
}

#[test]
fn json_patch_library_quirks() {
    let doc = json!({"spec": {"args": ["a", "b", "c"]}, "metadata": {}});
    // `replace` of a missing object key adds it; negative indices count from the end.
    let out = jp(
        &doc,
        json!([
            {"op": "replace", "path": "/metadata/labels", "value": {"k": "v"}},
            {"op": "remove", "path": "/spec/args/-1"},
            {"op": "add", "path": "/spec/args/-1", "value": "x"},
            {"op": "test", "path": "/metadata/missing", "value": null},
            {"op": "test", "path": "/metadata/missing"}
        ]),
    )
    .unwrap();
    assert_eq!(out["metadata"]["labels"], json!({"k": "v"}));
    // Inserting at -1 counts from the end of the list it grows into: it appends.
    assert_eq!(out["spec"]["args"], json!(["a", "b", "x"]));
    // `add` without a value stores null.
    let out = jp(&doc, json!([{"op": "add", "path": "/metadata/n"}])).unwrap();
    assert_eq!(out["metadata"]["n"], Value::Null);
}

#[test]
fn json_patch_failed_test_is_a_bare_422() {
    let doc = json!({"metadata": {"name": "a"}});
    let err = jp(
        &doc,
        json!([{"op": "test", "path": "/metadata/name", "value": "b"}]),
    )
    .unwrap_err();
    assert_eq!(err.code, 422);
    assert_eq!(err.reason, "Invalid");
    assert_eq!(
        err.message,
        "the server rejected our request due to an error in our request"
    );
    assert_eq!(
        err.detail.as_deref(),
        Some("testing value /metadata/name failed: test failed")
    );

    for (patch, detail) in [
        (
            json!([{"op": "frob", "path": "/a"}]),
            "Unexpected kind: frob",
        ),
        (json!([{"path": "/a"}]), "Unexpected kind: unknown"),
        (
            json!([{"op": "remove", "path": "/metadata/x"}]),
            "error in remove for path: '/metadata/x': Unable to remove nonexistent key: x: missing value",
        ),
        (
            json!([{"op": "add", "path": "/nope/x", "value": 1}]),
            "add operation does not apply: doc is missing path: \"/nope/x\": missing value",
        ),
        (
            json!([{"op": "replace", "path": "/metadata/name/0", "value": 1}]),
            "replace operation does not apply: doc is missing path: /metadata/name/0: missing value",
        ),
    ] {
        let err = jp(&doc, patch).unwrap_err();
        assert_eq!((err.code, err.detail.as_deref()), (422, Some(detail)));
    }
}

#[test]
fn json_patch_malformed_bodies_are_400s() {
    let doc = json!({});
    let cases: [(&[u8], &str); 5] = [
        (b"[{", "error decoding patch: unexpected end of JSON input"),
        (
            b"{}",
            "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp",
        ),
        (
            b"[1]",
            "error decoding patch: json: cannot unmarshal number into Go value of type handlers.jsonPatchOp",
        ),
        (
            br#"[{"op":"add","path":5}]"#,
            "error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.path of type string",
        ),
        (
            b"[} ",
            "error decoding patch: invalid character '}' looking for beginning of value",
        ),
    ];
    for (body, msg) in cases {
        let err = apply_json_patch(&doc, body).unwrap_err();
        assert_eq!(
            (err.code, err.reason, err.message.as_str()),
            (400, "BadRequest", msg)
        );
    }
    // A null body is an empty patch.
    assert_eq!(apply_json_patch(&doc, b"null").unwrap(), doc);
}

#[test]
fn json_patch_operation_limit() {
    let ops: Vec<Value> = (0..10_001)
        .map(|_| json!({"op": "test", "path": "/a", "value": 1}))
        .collect();
    let err = jp(&json!({"a": 1}), Value::Array(ops)).unwrap_err();
    assert_eq!(err.code, 413);
    assert_eq!(
        err.message,
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
    );
}

#[test]
fn merge_patch_semantics() {
    let doc = json!({
        "metadata": {"labels": {"a": "1", "b": "2"}},
        "spec": {"args": ["x"], "replicas": 1},
        "status": {"phase": "Running"}
    });
    let patch = json!({
        "metadata": {"labels": {"a": null, "c": "3"}, "annotations": {"n": null, "k": "v"}},
        "spec": {"args": ["y", null]},
        "status": null
    });
    let out = apply_merge_patch(&doc, patch.to_string().as_bytes()).unwrap();
    assert_eq!(
        out,
        json!({
            "metadata": {"labels": {"b": "2", "c": "3"}, "annotations": {"k": "v"}},
            "spec": {"args": ["y"], "replicas": 1}
        })
    );
}

#[test]
fn merge_patch_errors() {
    let doc = json!({"a": 1});
    let err = apply_merge_patch(&doc, b"null").unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (400, "Invalid JSON Patch")
    );
    let err = apply_merge_patch(&doc, b"[1]").unwrap_err();
    assert_eq!(
        err.message,
        "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}"
    );
    let err = apply_merge_patch(&doc, b"{\"a\":}").unwrap_err();
    assert_eq!(
        err.message,
        "error decoding patch: invalid character '}' looking for beginning of value"
    );
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "finalizers": ["a", "b"],
                     "ownerReferences": [{"uid": "u1", "name": "rs", "kind": "ReplicaSet"}]},
        "spec": {
            "containers": [
                {"name": "app", "image": "app:1",
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                 "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                {"name": "sidecar", "image": "side:1"}
            ],
            "volumes": [
                {"name": "data", "emptyDir": {}},
                {"name": "cfg", "configMap": {"name": "c"}}
            ],
            "tolerations": [{"key": "k1", "operator": "Exists"}]
        },
        "status": {"conditions": [
            {"type": "Ready", "status": "False"},
            {"type": "Initialized", "status": "True"}
        ]}
    })
}

#[test]
fn smp_merges_containers_and_env_by_name() {
    let out = smp(
        &pod(),
        POD,
        json!({"spec": {"containers": [{"name": "app", "image": "app:2",
            "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}]}}),
    )
    .unwrap();
    let app = &out["spec"]["containers"][0];
    assert_eq!(app["image"], "app:2");
    assert_eq!(
        app["ports"],
        json!([{"containerPort": 80, "protocol": "TCP"}])
    );
    // Live order where the live list decides, new elements after.
    assert_eq!(
        app["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}])
    );
    assert_eq!(
        out["spec"]["containers"][1],
        json!({"name": "sidecar", "image": "side:1"})
    );
}

#[test]
fn smp_deletes_list_elements_and_map_keys() {
    let out = smp(
        &pod(),
        POD,
        json!({"spec": {"volumes": [{"name": "cfg", "$patch": "delete"}],
                        "containers": [{"name": "sidecar", "$patch": "delete"}],
                        "tolerations": [{"key": "k2", "operator": "Exists"}]},
               "metadata": {"ownerReferences": [{"uid": "u1", "$patch": "delete"}]}}),
    )
    .unwrap();
    assert_eq!(
        out["spec"]["volumes"],
        json!([{"name": "data", "emptyDir": {}}])
    );
    assert_eq!(out["spec"]["containers"].as_array().map(Vec::len), Some(1));
    // Tolerations carry no merge strategy: replaced whole.
    assert_eq!(
        out["spec"]["tolerations"],
        json!([{"key": "k2", "operator": "Exists"}])
    );
    assert_eq!(out["metadata"]["ownerReferences"], json!([]));

    let out = smp(
        &pod(),
        POD,
        json!({"spec": {"tolerations": null}, "status": {"$patch": "delete"}}),
    )
    .unwrap();
    assert!(out["spec"].get("tolerations").is_none());
    assert_eq!(out["status"], json!({}));
}

#[test]
fn smp_honours_kubectl_apply_directives() {
    // What `kubectl apply` sends after dropping the sidecar, adding "log" before "app" and
    // switching the "data" volume from emptyDir to hostPath.
    let out = smp(
        &pod(),
        POD,
        json!({"spec": {
            "$setElementOrder/containers": [{"name": "log"}, {"name": "app"}],
            "containers": [{"name": "log", "image": "log:1"}, {"name": "sidecar", "$patch": "delete"}],
            "$setElementOrder/volumes": [{"name": "data"}, {"name": "cfg"}],
            "volumes": [{"$retainKeys": ["hostPath", "name"], "hostPath": {"path": "/d"}, "name": "data"}]
        }}),
    )
    .unwrap();
    let names: Vec<&str> = out["spec"]["containers"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["log", "app"]);
    assert_eq!(
        out["spec"]["volumes"],
        json!([{"name": "data", "hostPath": {"path": "/d"}}, {"name": "cfg", "configMap": {"name": "c"}}])
    );
}

#[test]
fn smp_nested_set_element_order_with_deletion() {
    // kubectl apply after removing env var "B" from the "app" container.
    let out = smp(
        &pod(),
        POD,
        json!({"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
            "containers": [{"name": "app",
                "$setElementOrder/env": [{"name": "A"}],
                "env": [{"$patch": "delete", "name": "B"}]}]
        }}),
    )
    .unwrap();
    assert_eq!(
        out["spec"]["containers"][0]["env"],
        json!([{"name": "A", "value": "1"}])
    );
    assert!(
        out["spec"]["containers"][0]
            .get("$setElementOrder/env")
            .is_none()
    );
    assert_eq!(out["spec"]["containers"][1]["name"], "sidecar");
}

#[test]
fn smp_primitive_lists_and_conditions() {
    let out = smp(
        &pod(),
        POD,
        json!({"metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"]},
               "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
    )
    .unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["c", "b"]));
    assert_eq!(
        out["status"]["conditions"],
        json!([{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}])
    );
}

#[test]
fn smp_replace_directives() {
    let mut doc = pod();
    doc["metadata"]["labels"] = json!({"a": "b"});
    let patch = json!({"spec": {"containers": [{"name": "only", "image": "o:1"}, {"$patch": "replace"}]},
                       "metadata": {"labels": {"$patch": "replace", "x": "y"}}});
    let out = smp(&doc, POD, patch.clone()).unwrap();
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "only", "image": "o:1"}])
    );
    assert_eq!(out["metadata"]["labels"], json!({"x": "y"}));
    // A directive map for a field the object lacks is dropped, as Go's removeDirectives does.
    let out = smp(&pod(), POD, patch).unwrap();
    assert!(out["metadata"].get("labels").is_none());
}

#[test]
fn smp_on_other_kinds() {
    let deploy = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}]}},
                                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
    let out = smp(
        &deploy,
        ("apps", "Deployment"),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "2"}]}},
                        "strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    )
    .unwrap();
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));

    let svc =
        json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}});
    let out = smp(
        &svc,
        ("", "Service"),
        json!({"spec": {"ports": [{"port": 443, "targetPort": 8443}]}}),
    )
    .unwrap();
    assert_eq!(out["spec"]["ports"][0], json!({"port": 80, "name": "http"}));
    assert_eq!(
        out["spec"]["ports"][1],
        json!({"port": 443, "name": "https", "targetPort": 8443})
    );

    // Kinds without tagged fields merge maps and replace lists.
    let cm = json!({"data": {"a": "1"}, "metadata": {"finalizers": ["x"]}});
    let out = smp(
        &cm,
        ("", "ConfigMap"),
        json!({"data": {"b": "2"}, "metadata": {"finalizers": ["y"]}}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"data": {"a": "1", "b": "2"}, "metadata": {"finalizers": ["y", "x"]}})
    );
}

#[test]
fn smp_errors() {
    let err = smp(
        &pod(),
        POD,
        json!({"spec": {"containers": [{"image": "x"}]}}),
    )
    .unwrap_err();
    assert_eq!(
        (err.code, err.reason, err.message.as_str()),
        (
            500,
            "",
            "map: map[image:x] does not contain declared merge key: name"
        )
    );
    let err = smp(
        &pod(),
        POD,
        json!({"spec": {"$retainKeys": ["containers"], "volumes": []}}),
    )
    .unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (400, "invalid patch format of retainKeys")
    );
    let err = smp(&pod(), POD, json!({"spec": {"$setElementOrder": []}})).unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (400, "invalid patch format of setElementOrder list")
    );
    let err = smp(
        &pod(),
        POD,
        json!({"spec": {"containers": [{"name": "a", "$patch": "merge"}]}}),
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "merging lists cannot yet be specified in the patch"
    );
    let err = smp(&pod(), POD, json!({"metadata": {"finalizers": [1]}})).unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (500, "list element types are not identical: [[a b] [1]]")
    );
    let mut doc = pod();
    doc["metadata"]["finalizers"] = json!([]);
    let err = smp(&doc, POD, json!({"metadata": {"finalizers": [["a"]]}})).unwrap_err();
    assert_eq!(
        (err.code, err.detail.as_deref()),
        (422, Some("lists of lists are not supported"))
    );
    let err = smp(&pod(), POD, json!({"spec": {"$patch": "frob"}})).unwrap_err();
    assert_eq!(
        err.message,
        "unknown patch type: frob in map: map[$patch:frob]"
    );
    let err = apply_strategic_merge_patch(&pod(), b"[]", "", "Pod").unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (
            400,
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        )
    );
    let err = apply_strategic_merge_patch(&pod(), b"{", "", "Pod").unwrap_err();
    assert_eq!(err.message, "unexpected end of JSON input");
    let err = smp(
        &pod(),
        POD,
        json!({"spec": {"$setElementOrder/containers": [{"name": "app"}],
                        "containers": [{"name": "x", "image": "i"}]}}),
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "The order in patch list:\n[map[image:i name:x]]\n doesn't match $setElementOrder list:\n[map[name:app]]\n"
    );
}
