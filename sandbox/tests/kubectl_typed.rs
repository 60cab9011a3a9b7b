//! kubectl's typed-client commands (`create namespace`, `create secret`, `run`, ...) send their
//! bodies as Kubernetes protobuf. Each scenario runs against a fresh `kube-sandbox serve` once per
//! kubectl (the pinned 1.35 and the machine's own), and reads the result back as JSON.

mod common;

use std::time::Duration;

use base64::Engine;
use common::{Kubectl, Server, kubectls, wait_for};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn each_kubectl(scenario: impl Fn(&Kubectl)) {
    for bin in kubectls() {
        let server = Server::start(&[]);
        scenario(&server.kubectl(&bin));
    }
}

fn get_json(k: &Kubectl, args: &[&str]) -> Value {
    let mut full = vec!["get"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["-o", "json"]);
    let out = k.ok(&full);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

#[test]
fn namespace_configmap_secret_and_service_account() {
    each_kubectl(|k| {
        let out = k.ok(&["create", "namespace", "x"]);
        assert_eq!(out, "namespace/x created\n");
        let ns = get_json(k, &["namespace", "x"]);
        assert_eq!(ns["metadata"]["name"], "x");
        assert_eq!(ns["status"]["phase"], "Active");
        // Fields the Go encoder omits when empty did not turn into empty strings.
        assert_eq!(ns["metadata"].get("generateName"), None, "{ns}");

        k.ok(&[
            "create",
            "configmap",
            "settings",
            "-n",
            "x",
            "--from-literal=mode=fast",
            "--from-literal=level=3",
        ]);
        let cm = get_json(k, &["configmap", "settings", "-n", "x"]);
        assert_eq!(cm["data"], json!({"mode": "fast", "level": "3"}));
        assert_eq!(cm["metadata"]["namespace"], "x");

        k.ok(&[
            "create",
            "secret",
            "generic",
            "creds",
            "-n",
            "x",
            "--from-literal=password=hunter2",
        ]);
        let secret = get_json(k, &["secret", "creds", "-n", "x"]);
        let encoded = secret["data"]["password"].as_str().unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_default();
        assert_eq!(decoded, b"hunter2", "{secret}");

        k.ok(&["create", "serviceaccount", "builder", "-n", "x"]);
        let sa = get_json(k, &["serviceaccount", "builder", "-n", "x"]);
        assert_eq!(sa["metadata"]["name"], "builder");
        assert!(
            sa["metadata"]["uid"]
                .as_str()
                .is_some_and(|u| !u.is_empty())
        );
    });
}

#[test]
fn deployment_role_and_role_binding() {
    each_kubectl(|k| {
        k.ok(&[
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=2",
        ]);
        let deploy = get_json(k, &["deployment", "web"]);
        assert_eq!(deploy["spec"]["replicas"], 2);
        assert_eq!(
            deploy["spec"]["selector"],
            json!({"matchLabels": {"app": "web"}})
        );
        let containers = &deploy["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["name"], "nginx");
        assert_eq!(containers[0]["image"], "nginx");

        k.ok(&[
            "create",
            "role",
            "pod-reader",
            "--verb=get,list,watch",
            "--resource=pods",
        ]);
        let role = get_json(k, &["role", "pod-reader"]);
        assert_eq!(
            role["rules"],
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}])
        );

        k.ok(&[
            "create",
            "rolebinding",
            "read-pods",
            "--role=pod-reader",
            "--serviceaccount=default:default",
            "--user=alice",
        ]);
        let binding = get_json(k, &["rolebinding", "read-pods"]);
        assert_eq!(
            binding["roleRef"],
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"})
        );
        let subjects = binding["subjects"].as_array().cloned().unwrap_or_default();
        assert!(
            subjects.contains(
                &json!({"kind": "ServiceAccount", "name": "default", "namespace": "default"})
            ),
            "{binding}"
        );
        assert!(
            subjects.contains(
                &json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"})
            ),
            "{binding}"
        );

        k.ok(&[
            "create",
            "clusterrole",
            "node-reader",
            "--verb=get",
            "--resource=nodes",
        ]);
        k.ok(&[
            "create",
            "clusterrolebinding",
            "read-nodes",
            "--clusterrole=node-reader",
            "--group=ops",
        ]);
        let crb = get_json(k, &["clusterrolebinding", "read-nodes"]);
        assert_eq!(crb["roleRef"]["kind"], "ClusterRole");
        assert_eq!(crb["subjects"][0]["name"], "ops");
    });
}

#[test]
fn run_a_pod_and_read_its_logs() {
    each_kubectl(|k| {
        let out = k.ok(&[
            "run",
            "p",
            "--image=busybox",
            "--restart=Never",
            "--command",
            "--",
            "sh",
            "-c",
            "echo hi",
        ]);
        assert_eq!(out, "pod/p created\n");
        let phase = wait_for("pod p to succeed", WAIT, || {
            let phase = k.ok(&["get", "pod", "p", "-o", "jsonpath={.status.phase}"]);
            (phase == "Succeeded" || phase == "Failed").then_some(phase)
        });
        assert_eq!(phase, "Succeeded");
        assert_eq!(k.ok(&["logs", "p"]), "hi\n");
        let pod = get_json(k, &["pod", "p"]);
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
        assert_eq!(pod["metadata"]["labels"], json!({"run": "p"}));
        assert_eq!(
            pod["spec"]["containers"][0]["command"],
            json!(["sh", "-c", "echo hi"])
        );

        // Without --command the words become `args` (the sandbox kubelet, which runs local
        // processes, needs a command to start it; the object itself is what is checked here).
        k.ok(&[
            "run",
            "q",
            "--image=busybox",
            "--restart=Never",
            "--env=GREETING=hello",
            "--port=8080",
            "--",
            "sh",
            "-c",
            "echo hi",
        ]);
        let pod = get_json(k, &["pod", "q"]);
        let container = &pod["spec"]["containers"][0];
        assert_eq!(container["args"], json!(["sh", "-c", "echo hi"]));
        assert_eq!(
            container["env"],
            json!([{"name": "GREETING", "value": "hello"}])
        );
        assert_eq!(
            container["ports"],
            json!([{"containerPort": 8080, "protocol": "TCP"}])
        );
    });
}

/// What kubectl cannot be made to send: raw protobuf bodies, good and broken, over kube-rs.
#[tokio::test]
async fn raw_protobuf_bodies_over_http() {
    use k8s_pb::api::core::v1 as core;
    use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
    use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
    use kube_sandbox::{PodMode, Sandbox, SandboxConfig};
    use prost::Message;

    let sb = Sandbox::start(SandboxConfig {
        pods: PodMode::Simulate,
        ..Default::default()
    })
    .await
    .expect("start sandbox");
    let client = sb.client().await.expect("client");
    let post = |raw: Vec<u8>| {
        let mut body = b"k8s\x00".to_vec();
        body.extend(
            Unknown {
                type_meta: Some(TypeMeta {
                    api_version: Some("v1".into()),
                    kind: Some("ConfigMap".into()),
                }),
                raw: Some(raw),
                ..Default::default()
            }
            .encode_to_vec(),
        );
        http::Request::post("/api/v1/namespaces/default/configmaps")
            .header("content-type", "application/vnd.kubernetes.protobuf")
            .header("accept", "application/json")
            .body(body)
            .expect("request")
    };

    let cm = core::ConfigMap {
        metadata: Some(meta::ObjectMeta {
            name: Some("from-proto".into()),
            ..Default::default()
        }),
        binary_data: [("blob".to_string(), vec![0u8, 1, 255])].into(),
        ..Default::default()
    };
    let created: Value = serde_json::from_str(
        &client
            .request_text(post(cm.encode_to_vec()))
            .await
            .expect("create"),
    )
    .expect("json");
    assert_eq!(created["metadata"]["name"], "from-proto");
    assert_eq!(created["binaryData"], json!({"blob": "AAH/"}));

    // Field 1 (metadata) as a varint: the generated Go unmarshaler rejects it.
    let err = client
        .request_text(post(vec![0x08, 0x01]))
        .await
        .expect_err("a broken body is refused");
    let kube::Error::Api(status) = err else {
        panic!("not an API error: {err:?}");
    };
    assert_eq!(status.code, 400, "{status:?}");
    assert_eq!(status.reason, "BadRequest", "{status:?}");
    assert_eq!(
        status.message,
        r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: proto: wrong wireType = 0 for field metadata"#
    );
}
