//! Server-side apply against the sandbox: the real kubectl's `apply --server-side` (field removal,
//! conflicts and their message, `--force-conflicts`), and kube-rs `Patch::Apply` on an object
//! and its `/status`, with the `managedFields` each leaves behind.

mod common;

use common::{Kubectl, Server, kubectls};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::{Client, ResourceExt};
use kube_sandbox::{PodMode, Sandbox, SandboxConfig};
use serde_json::{Value, json};

const CONFIGMAP_V1: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels:
    team: a
data:
  keep: "1"
  drop: "2"
"#;

const CONFIGMAP_V2: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels:
    team: a
data:
  keep: "1"
"#;

const CONFIGMAP_CONFLICT: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  keep: "changed"
"#;

fn get_json(k: &Kubectl, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json", "--show-managed-fields"]);
    serde_json::from_str(&k.ok(&all)).expect("kubectl get -o json")
}

fn managed_entry<'a>(obj: &'a Value, manager: &str) -> &'a Value {
    obj["metadata"]["managedFields"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["manager"] == manager))
        .unwrap_or_else(|| panic!("no managedFields entry for {manager}: {obj:#}"))
}

#[test]
fn kubectl_server_side_apply_removes_dropped_fields_and_reports_conflicts() {
    for bin in kubectls() {
        let server = Server::start(&[]);
        let k = server.kubectl(&bin);
        let first = k.run_stdin(&["apply", "--server-side", "-f", "-"], CONFIGMAP_V1);
        assert!(first.ok, "{first:?}");
        assert!(
            first
                .stdout
                .contains("configmap/settings serverside-applied"),
            "{first:?}"
        );
        let cm = get_json(&k, &["configmap", "settings"]);
        assert_eq!(cm["data"], json!({"keep": "1", "drop": "2"}));
        let entry = managed_entry(&cm, "kubectl");
        assert_eq!(entry["operation"], "Apply");
        assert_eq!(entry["apiVersion"], "v1");
        assert_eq!(entry["fieldsType"], "FieldsV1");
        assert!(entry["time"].is_string());
        assert_eq!(
            entry["fieldsV1"],
            json!({"f:data": {"f:drop": {}, "f:keep": {}}, "f:metadata": {"f:labels": {"f:team": {}}}})
        );

        // The same manager applying without `drop` removes it.
        let second = k.run_stdin(&["apply", "--server-side", "-f", "-"], CONFIGMAP_V2);
        assert!(second.ok, "{second:?}");
        let cm = get_json(&k, &["configmap", "settings"]);
        assert_eq!(cm["data"], json!({"keep": "1"}), "{cm:#}");
        assert_eq!(
            managed_entry(&cm, "kubectl")["fieldsV1"]["f:data"],
            json!({"f:keep": {}})
        );

        // Another manager changing an owned field conflicts, with kubectl's advice around the
        // server's message.
        let conflict = k.run_stdin(
            &["apply", "--server-side", "--field-manager=other", "-f", "-"],
            CONFIGMAP_CONFLICT,
        );
        assert!(!conflict.ok, "{conflict:?}");
        assert!(
            conflict
                .stderr
                .contains("Apply failed with 1 conflict: conflict with \"kubectl\": .data.keep"),
            "{conflict:?}"
        );
        assert!(
            conflict
                .stderr
                .contains("Please review the fields above--they currently have other managers."),
            "{conflict:?}"
        );
        assert!(
            conflict.stderr.contains("--force-conflicts"),
            "{conflict:?}"
        );
        let cm = get_json(&k, &["configmap", "settings"]);
        assert_eq!(cm["data"]["keep"], "1");

        // Forcing takes the field over.
        let forced = k.run_stdin(
            &[
                "apply",
                "--server-side",
                "--field-manager=other",
                "--force-conflicts",
                "-f",
                "-",
            ],
            CONFIGMAP_CONFLICT,
        );
        assert!(forced.ok, "{forced:?}");
        let cm = get_json(&k, &["configmap", "settings"]);
        assert_eq!(cm["data"]["keep"], "changed");
        assert_eq!(
            managed_entry(&cm, "other")["fieldsV1"],
            json!({"f:data": {"f:keep": {}}})
        );
        assert_eq!(
            managed_entry(&cm, "kubectl")["fieldsV1"],
            json!({"f:metadata": {"f:labels": {"f:team": {}}}})
        );
    }
}

#[test]
fn client_side_changes_are_recorded_as_updates() {
    let bin = kubectls().remove(0);
    let server = Server::start(&[]);
    let k = server.kubectl(&bin);
    let created = k.run_stdin(&["create", "-f", "-"], CONFIGMAP_V1);
    assert!(created.ok, "{created:?}");
    k.ok(&["label", "configmap", "settings", "extra=yes"]);
    let cm = get_json(&k, &["configmap", "settings"]);
    let create = managed_entry(&cm, "kubectl-create");
    assert_eq!(create["operation"], "Update");
    assert_eq!(create["apiVersion"], "v1");
    assert_eq!(
        create["fieldsV1"]["f:data"],
        json!({".": {}, "f:drop": {}, "f:keep": {}})
    );
    let label = managed_entry(&cm, "kubectl-label");
    assert_eq!(
        label["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:extra": {}}}})
    );
    // Server-side apply over fields kubectl-create set is a conflict naming the updater.
    let conflict = k.run_stdin(&["apply", "--server-side", "-f", "-"], CONFIGMAP_CONFLICT);
    assert!(!conflict.ok);
    assert!(
        conflict.stderr.contains(
            "Apply failed with 1 conflict: conflict with \"kubectl-create\" using v1: .data.keep"
        ),
        "{conflict:?}"
    );
}

#[test]
fn server_side_apply_takes_over_from_client_side_apply() {
    let bin = kubectls().remove(0);
    let server = Server::start(&[]);
    let k = server.kubectl(&bin);
    let first = k.run_stdin(&["apply", "-f", "-"], CONFIGMAP_V1);
    assert!(first.ok, "{first:?}");
    let cm = get_json(&k, &["configmap", "settings"]);
    assert_eq!(
        managed_entry(&cm, "kubectl-client-side-apply")["operation"],
        "Update"
    );
    // Fields the last-applied annotation still describes move to kubectl without a conflict.
    let changed = CONFIGMAP_V1.replace("keep: \"1\"", "keep: \"3\"");
    let second = k.run_stdin(&["apply", "--server-side", "-f", "-"], &changed);
    assert!(second.ok, "{second:?}");
    let cm = get_json(&k, &["configmap", "settings"]);
    assert_eq!(cm["data"]["keep"], "3");
    assert_eq!(
        managed_entry(&cm, "kubectl")["fieldsV1"]["f:data"],
        json!({"f:drop": {}, "f:keep": {}})
    );
    let last: Value = serde_json::from_str(
        cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .expect("annotation kept"),
    )
    .expect("annotation is JSON");
    assert_eq!(
        last["data"]["keep"], "3",
        "the annotation follows the apply"
    );
}

async fn sandbox() -> (Sandbox, Client) {
    let sb = Sandbox::start(SandboxConfig {
        pods: PodMode::Simulate,
        ..Default::default()
    })
    .await
    .expect("start sandbox");
    let client = sb.client().await.expect("client");
    (sb, client)
}

fn entries(obj: &impl ResourceExt) -> Vec<Value> {
    obj.managed_fields()
        .iter()
        .map(|e| serde_json::to_value(e).expect("entry"))
        .collect()
}

#[tokio::test]
async fn kube_rs_apply_on_an_object_and_its_status() {
    let (sb, client) = sandbox().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let config = |env: Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "app:1", "env": env}]}}}})
    };
    let pp = PatchParams::apply("operator");
    let created = deployments
        .patch(
            "web",
            &pp,
            &Patch::Apply(config(
                json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]),
            )),
        )
        .await
        .expect("apply creates");
    let owned = entries(&created);
    assert_eq!(owned.len(), 1, "{owned:#?}");
    assert_eq!(owned[0]["manager"], "operator");
    assert_eq!(owned[0]["operation"], "Apply");
    let fields = &owned[0]["fieldsV1"]["f:spec"];
    assert_eq!(fields["f:selector"], json!({}), "LabelSelector is atomic");
    let app = &fields["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"];
    assert_eq!(app["."], json!({}));
    assert!(
        app["f:env"]["k:{\"name\":\"B\"}"]["f:value"].is_object(),
        "{app:#}"
    );

    // A second applier owning one env var keeps it when the first stops applying it.
    deployments
        .patch(
            "web",
            &PatchParams::apply("sidecar-injector"),
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}}}})),
        )
        .await
        .expect("co-own B");
    let after = deployments
        .patch(
            "web",
            &pp,
            &Patch::Apply(config(json!([{"name": "A", "value": "1"}]))),
        )
        .await
        .expect("drop B");
    let env: Vec<String> = after
        .spec
        .and_then(|s| s.template.spec)
        .map(|s| {
            s.containers[0]
                .env
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.name)
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(env, ["A", "B"]);
    let after = deployments
        .patch(
            "web",
            &PatchParams::apply("sidecar-injector"),
            &Patch::Apply(
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}),
            ),
        )
        .await
        .expect("give up B");
    let env = after
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|s| s.containers[0].env.clone())
        .unwrap_or_default();
    assert_eq!(env.len(), 1, "nobody owns B any more: {env:?}");

    // A conflicting apply is a 409 with FieldManagerConflict causes; force wins.
    let err = deployments
        .patch(
            "web",
            &PatchParams::apply("intruder"),
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "evil:1"}]}}}})),
        )
        .await
        .expect_err("conflict");
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!(status.code, 409);
    assert_eq!(status.reason, "Conflict");
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"operator\": .spec.template.spec.containers[name=\"app\"].image"
    );
    deployments
        .patch(
            "web",
            &PatchParams::apply("intruder").force(),
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "evil:1"}]}}}})),
        )
        .await
        .expect("forced");

    // Apply on /status owns status fields under subresource "status".
    let status = deployments
        .patch_status(
            "web",
            &PatchParams::apply("status-writer"),
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "status": {"observedGeneration": 7, "conditions": [{"type": "Available", "status": "True"}]}})),
        )
        .await
        .expect("apply status");
    let entry = entries(&status)
        .into_iter()
        .find(|e| e["manager"] == "status-writer")
        .expect("status entry");
    assert_eq!(entry["subresource"], "status");
    assert_eq!(entry["operation"], "Apply");
    assert!(
        entry["fieldsV1"]["f:status"]["f:conditions"]["k:{\"type\":\"Available\"}"]["f:status"]
            .is_object(),
        "{entry:#}"
    );
    assert_eq!(status.status.and_then(|s| s.observed_generation), Some(7));
    sb.shutdown().await;
}

#[tokio::test]
async fn kube_rs_apply_on_a_custom_resource_and_missing_manager() {
    let (sb, client) = sandbox().await;
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    );
    let crd: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gizmos.ssa.example.com"},
        "spec": {"group": "ssa.example.com", "scope": "Namespaced",
            "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "ports": {"type": "array", "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name"],
                            "items": {"type": "object", "required": ["name"], "properties": {
                                "name": {"type": "string"}, "port": {"type": "integer"}}}},
                        "tags": {"type": "array", "items": {"type": "string"}}}},
                    "status": {"type": "object", "properties": {
                        "phase": {"type": "string"}}}}}}}]}
    }))
    .expect("crd");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("create crd");
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("ssa.example.com", "v1", "Gizmo"),
        "gizmos",
    );
    let gizmos: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let gizmo = |ports: Value| {
        json!({"apiVersion": "ssa.example.com/v1", "kind": "Gizmo", "metadata": {"name": "g"},
            "spec": {"ports": ports, "tags": ["x"]}})
    };
    let created = gizmos
        .patch(
            "g",
            &PatchParams::apply("ctl"),
            &Patch::Apply(gizmo(
                json!([{"name": "a", "port": 1}, {"name": "b", "port": 2}]),
            )),
        )
        .await
        .expect("apply creates the custom resource");
    let fields = &entries(&created)[0]["fieldsV1"];
    assert_eq!(
        fields["f:spec"]["f:ports"]["k:{\"name\":\"b\"}"],
        json!({".": {}, "f:name": {}, "f:port": {}})
    );
    assert_eq!(fields["f:spec"]["f:tags"], json!({}), "atomic list");
    let after = gizmos
        .patch(
            "g",
            &PatchParams::apply("ctl"),
            &Patch::Apply(gizmo(json!([{"name": "a", "port": 1}]))),
        )
        .await
        .expect("drop port b");
    assert_eq!(
        after.data["spec"]["ports"],
        json!([{"name": "a", "port": 1}])
    );

    let status = gizmos
        .patch_status(
            "g",
            &PatchParams::apply("ctl-status"),
            &Patch::Apply(json!({"apiVersion": "ssa.example.com/v1", "kind": "Gizmo",
                "metadata": {"name": "g"}, "status": {"phase": "Ready"}})),
        )
        .await
        .expect("apply status");
    assert_eq!(status.data["status"]["phase"], "Ready");
    let entry = entries(&status)
        .into_iter()
        .find(|e| e["manager"] == "ctl-status")
        .expect("status entry");
    assert_eq!(entry["subresource"], "status");
    assert_eq!(entry["fieldsV1"], json!({"f:status": {"f:phase": {}}}));

    // Apply without a field manager is refused as kube-apiserver refuses it.
    let err = gizmos
        .patch(
            "g",
            &PatchParams::default(),
            &Patch::Apply(gizmo(json!([]))),
        )
        .await
        .expect_err("no field manager");
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!(status.code, 422);
    assert_eq!(
        status.message,
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );

    // Updates by name are tracked too (kube-rs sends no fieldManager: the user agent counts).
    let cms: Api<ConfigMap> = Api::namespaced(gizmos.clone().into_client(), "default");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "plain"}, "data": {"k": "v"}}))
            .expect("cm");
    let created = cms
        .create(
            &PostParams {
                field_manager: Some("creator".into()),
                ..Default::default()
            },
            &cm,
        )
        .await
        .expect("create");
    let e = &entries(&created)[0];
    assert_eq!(e["manager"], "creator");
    assert_eq!(e["operation"], "Update");
    sb.shutdown().await;
}
