//! Unit tests of `apply`.

use super::*;

fn cm_type() -> ResourceType {
    crate::resource_types::builtin_types()
        .into_iter()
        .find(|t| t.kind == "ConfigMap")
        .unwrap()
}

fn deploy_type() -> ResourceType {
    crate::resource_types::builtin_types()
        .into_iter()
        .find(|t| t.kind == "Deployment")
        .unwrap()
}

fn cm(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "data": data})
}

fn stored(mut obj: Value) -> Value {
    obj["metadata"]["uid"] = json!("u1");
    obj["metadata"]["resourceVersion"] = json!("5");
    obj
}

fn entry<'a>(obj: &'a Value, manager: &str) -> &'a Value {
    obj["metadata"]["managedFields"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["manager"] == manager))
        .unwrap_or_else(|| panic!("no entry for {manager} in {obj}"))
}

#[test]
fn apply_records_ownership_and_prunes_dropped_fields() {
    let rt = cm_type();
    let ep = Endpoint::new(&rt, None);
    let first = apply_object(None, &cm(json!({"a": "1", "b": "2"})), "helm", false, &ep).unwrap();
    let e = entry(&first, "helm");
    assert_eq!(e["operation"], "Apply");
    assert_eq!(e["apiVersion"], "v1");
    assert_eq!(e["fieldsType"], "FieldsV1");
    assert_eq!(e["fieldsV1"], json!({"f:data": {"f:a": {}, "f:b": {}}}));
    let live = stored(first);
    let second = apply_object(Some(&live), &cm(json!({"a": "1"})), "helm", false, &ep).unwrap();
    assert_eq!(second["data"], json!({"a": "1"}));
    assert_eq!(
        entry(&second, "helm")["fieldsV1"],
        json!({"f:data": {"f:a": {}}})
    );
}

#[test]
fn fields_owned_by_someone_else_survive_and_conflict() {
    let rt = cm_type();
    let ep = Endpoint::new(&rt, None);
    let live = stored(apply_object(None, &cm(json!({"a": "1"})), "one", false, &ep).unwrap());
    let both = stored(
        apply_object(
            Some(&live),
            &cm(json!({"a": "1", "b": "2"})),
            "two",
            false,
            &ep,
        )
        .unwrap(),
    );
    // "two" stops applying a, which "one" co-owns: it stays.
    let after = apply_object(Some(&both), &cm(json!({"b": "2"})), "two", false, &ep).unwrap();
    assert_eq!(after["data"], json!({"a": "1", "b": "2"}));
    let err = apply_object(Some(&both), &cm(json!({"a": "changed"})), "two", false, &ep)
        .err()
        .unwrap();
    assert_eq!(err.code, 409);
    assert_eq!(
        err.status["message"],
        "Apply failed with 1 conflict: conflict with \"one\": .data.a"
    );
    assert_eq!(
        err.status["details"]["causes"],
        json!([{"reason": "FieldManagerConflict", "message": "conflict with \"one\"", "field": ".data.a"}])
    );
    let forced = apply_object(Some(&both), &cm(json!({"a": "changed"})), "two", true, &ep).unwrap();
    assert_eq!(forced["data"]["a"], "changed");
    assert_eq!(
        forced["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn updates_take_fields_and_conflict_with_appliers() {
    let rt = cm_type();
    let ep = Endpoint::new(&rt, None);
    let mut created = cm(json!({"a": "1", "b": "2"}));
    track_update(None, &mut created, "kubectl-create", &ep);
    let e = entry(&created, "kubectl-create");
    assert_eq!(e["operation"], "Update");
    assert_eq!(
        e["fieldsV1"],
        json!({"f:data": {".": {}, "f:a": {}, "f:b": {}}})
    );
    let live = stored(created);
    let err = apply_object(
        Some(&live),
        &cm(json!({"a": "9", "b": "8"})),
        "kubectl",
        false,
        &ep,
    )
    .err()
    .unwrap();
    assert_eq!(
        err.status["message"],
        "Apply failed with 2 conflicts: conflicts with \"kubectl-create\" using v1:\n- .data.a\n- .data.b"
    );
    // An update by another manager moves the field it changed.
    let mut edited = live.clone();
    edited["data"]["a"] = json!("3");
    track_update(Some(&live), &mut edited, "kubectl-edit", &ep);
    assert_eq!(
        entry(&edited, "kubectl-edit")["fieldsV1"],
        json!({"f:data": {"f:a": {}}})
    );
    assert_eq!(
        entry(&edited, "kubectl-create")["fieldsV1"],
        json!({"f:data": {".": {}, "f:b": {}}})
    );
}

#[test]
fn first_apply_to_an_untracked_object_credits_before_first_apply() {
    let rt = cm_type();
    let ep = Endpoint::new(&rt, None);
    let live = stored(cm(json!({"a": "1"})));
    let err = apply_object(Some(&live), &cm(json!({"a": "2"})), "x", false, &ep)
        .err()
        .unwrap();
    assert!(
        err.status["message"]
            .as_str()
            .unwrap()
            .contains("conflict with \"before-first-apply\" using v1: .data.a"),
        "{}",
        err.status
    );
}

#[test]
fn env_var_removal_keeps_other_items() {
    let rt = deploy_type();
    let ep = Endpoint::new(&rt, None);
    let d = |env: Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "i", "env": env}]}}}})
    };
    let live = stored(
        apply_object(
            None,
            &d(json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])),
            "helm",
            false,
            &ep,
        )
        .unwrap(),
    );
    let after = apply_object(
        Some(&live),
        &d(json!([{"name": "A", "value": "1"}])),
        "helm",
        false,
        &ep,
    )
    .unwrap();
    assert_eq!(
        after["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([{"name": "A", "value": "1"}])
    );
    assert_eq!(
        after["spec"]["selector"],
        json!({"matchLabels": {"a": "b"}})
    );
    let fields = &entry(&after, "helm")["fieldsV1"];
    assert_eq!(fields["f:spec"]["f:selector"], json!({}));
    assert!(
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"]["f:env"]
            ["k:{\"name\":\"A\"}"]
            .is_object()
    );
}

#[test]
fn status_endpoint_owns_only_status() {
    let rt = deploy_type();
    if !rt.has_subresource("status") {
        return;
    }
    let ep = Endpoint::new(&rt, Some("status"));
    let live = stored(
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 1}}),
    );
    let config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"replicas": 5}, "status": {"replicas": 1}});
    let out = apply_object(Some(&live), &config, "ctl", false, &ep);
    // before-first-apply owns spec.replicas, but spec is reset on /status: no conflict.
    let out = out.unwrap_or_else(|e| panic!("{}", e.status));
    let e = entry(&out, "ctl");
    assert_eq!(e["subresource"], "status");
    assert_eq!(e["fieldsV1"], json!({"f:status": {"f:replicas": {}}}));
}

#[test]
fn update_managers_are_capped_into_ancient_changes() {
    let rt = cm_type();
    let ep = Endpoint::new(&rt, None);
    let mut obj = cm(json!({"k0": "v"}));
    track_update(None, &mut obj, "m0", &ep);
    for i in 1..12 {
        let live = stored(obj.clone());
        obj["data"][format!("k{i}")] = json!("v");
        track_update(Some(&live), &mut obj, &format!("m{i}"), &ep);
    }
    let entries = obj["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(entries.len(), MAX_UPDATE_MANAGERS, "{entries:#?}");
    let ancient = entry(&obj, "ancient-changes");
    assert_eq!(ancient["operation"], "Update");
    assert_eq!(ancient["apiVersion"], "v1");
    // Same second: the oldest are the first identifiers in order (m0, m1, m10).
    assert_eq!(
        ancient["fieldsV1"],
        json!({"f:data": {".": {}, "f:k0": {}, "f:k1": {}, "f:k10": {}}})
    );
}

#[test]
fn manager_names() {
    assert_eq!(
        manager_or_user_agent(None, "kubectl/v1.35.2 (linux/amd64) kubernetes/x"),
        "kubectl"
    );
    assert_eq!(
        manager_or_user_agent(Some("helm"), "Go-http-client/1.1"),
        "helm"
    );
    assert_eq!(manager_or_user_agent(Some(""), ""), "");
    assert_eq!(
        gvk_string("apps/v1", "Deployment"),
        "apps/v1, Kind=Deployment"
    );
    assert_eq!(gvk_string("v1", "ConfigMap"), "/v1, Kind=ConfigMap");
}
