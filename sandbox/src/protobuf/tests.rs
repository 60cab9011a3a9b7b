//! Decoding real kubectl 1.35 request bodies (captured into `tests/fixtures/protobuf`) and
//! bodies encoded here with the prost types of the `k8s-pb` crate.

use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::coordination::v1 as coordination;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::rbac::v1 as rbac;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{Value, json};

use super::{decode_body, is_protobuf};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/protobuf");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}.bin")).unwrap()
}

/// A body as client-go frames it.
fn envelope(api_version: &str, kind: &str, msg: &impl Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(msg.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut body = b"k8s\x00".to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

fn meta_named(name: &str) -> Option<meta::ObjectMeta> {
    Some(meta::ObjectMeta {
        name: Some(name.into()),
        ..Default::default()
    })
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn qty(v: &str) -> Quantity {
    Quantity { string: s(v) }
}

/// Every captured body whose command also has `--dry-run=client -o json` output decodes to
/// exactly that JSON: both are Go's encoding of the same object.
#[test]
fn kubectl_bodies_decode_to_what_kubectl_prints_as_json() {
    let mut checked = 0;
    for entry in std::fs::read_dir(FIXTURES).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let want: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let got = decode_body(&fixture(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, want, "{name}");
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} fixtures");
}

#[test]
fn secret_and_binary_configmap_data_are_base64() {
    let secret = decode_body(&fixture("secret")).unwrap();
    assert_eq!(secret["data"], json!({"password": "aHVudGVyMg=="}));
    let cm = decode_body(&fixture("configmap_binary")).unwrap();
    assert_eq!(cm["binaryData"], json!({"blob": "AAH/Ymlu"}));
    assert_eq!(cm["data"], json!({"x": "y"}));
}

#[test]
fn token_request_bodies() {
    assert_eq!(
        decode_body(&fixture("tokenrequest_default")).unwrap(),
        json!({
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {},
            "spec": {"audiences": null, "boundObjectRef": null, "expirationSeconds": null},
            "status": {"token": "", "expirationTimestamp": null},
        })
    );
    let with_options = decode_body(&fixture("tokenrequest")).unwrap();
    assert_eq!(with_options["spec"]["audiences"], json!(["api", "vault"]));
    assert_eq!(with_options["spec"]["expirationSeconds"], json!(3600));
}

#[test]
fn access_review_bodies() {
    assert_eq!(
        decode_body(&fixture("selfsubjectaccessreview")).unwrap(),
        json!({
            "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {},
            "spec": {"resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}},
            "status": {"allowed": false},
        })
    );
    assert_eq!(
        decode_body(&fixture("selfsubjectrulesreview")).unwrap(),
        json!({
            "kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {},
            "spec": {"namespace": "default"},
            "status": {"resourceRules": null, "nonResourceRules": null, "incomplete": false},
        })
    );
    assert_eq!(
        decode_body(&fixture("selfsubjectreview")).unwrap(),
        json!({
            "kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {}, "status": {"userInfo": {}},
        })
    );
}

#[test]
fn pod_with_env_ports_resources_and_volumes() {
    let pod = core::Pod {
        metadata: Some(meta::ObjectMeta {
            name: s("p"),
            namespace: s("default"),
            generate_name: s(""),
            labels: [("run".to_string(), "p".to_string())].into(),
            creation_timestamp: Some(meta::Time::default()),
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                name: s("main"),
                image: s("busybox"),
                args: vec!["sh".into(), "-c".into(), "echo hi".into()],
                env: vec![core::EnvVar {
                    name: s("A"),
                    value: s("1"),
                    value_from: None,
                }],
                ports: vec![core::ContainerPort {
                    container_port: Some(8080),
                    protocol: s("TCP"),
                    host_port: Some(0),
                    ..Default::default()
                }],
                resources: Some(core::ResourceRequirements {
                    limits: [("memory".to_string(), qty("128Mi"))].into(),
                    requests: [("cpu".to_string(), qty("250m"))].into(),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            volumes: vec![core::Volume {
                name: s("scratch"),
                volume_source: Some(core::VolumeSource {
                    empty_dir: Some(core::EmptyDirVolumeSource {
                        medium: s(""),
                        size_limit: Some(qty("1Gi")),
                    }),
                    ..Default::default()
                }),
            }],
            restart_policy: s("Never"),
            termination_grace_period_seconds: Some(0),
            ..Default::default()
        }),
        status: Some(core::PodStatus::default()),
    };
    let got = decode_body(&envelope("v1", "Pod", &pod)).unwrap();
    assert_eq!(
        got,
        json!({
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "p", "namespace": "default", "labels": {"run": "p"}},
            "spec": {
                "containers": [{
                    "name": "main", "image": "busybox", "args": ["sh", "-c", "echo hi"],
                    "env": [{"name": "A", "value": "1"}],
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "250m"}},
                }],
                // VolumeSource is embedded: its fields sit beside `name`.
                "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}],
                "restartPolicy": "Never",
                // A pointer to zero is still written.
                "terminationGracePeriodSeconds": 0,
            },
            "status": {},
        })
    );
}

#[test]
fn deployment_with_int_or_string_and_replicas() {
    let rolling = |surge: IntOrString, unavailable: IntOrString| apps::DeploymentStrategy {
        r#type: s("RollingUpdate"),
        rolling_update: Some(apps::RollingUpdateDeployment {
            max_surge: Some(surge),
            max_unavailable: Some(unavailable),
        }),
    };
    let deploy = apps::Deployment {
        metadata: meta_named("web"),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(0),
            strategy: Some(rolling(
                IntOrString {
                    r#type: Some(1),
                    int_val: Some(0),
                    str_val: s("25%"),
                },
                IntOrString {
                    r#type: Some(0),
                    int_val: Some(1),
                    str_val: s(""),
                },
            )),
            ..Default::default()
        }),
        status: None,
    };
    let got = decode_body(&envelope("apps/v1", "Deployment", &deploy)).unwrap();
    assert_eq!(got["spec"]["replicas"], json!(0));
    assert_eq!(
        got["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}})
    );
    // `selector` is a nil pointer without omitempty (null); `template` a struct (always
    // written, with its own non-omitempty `containers` slice as null).
    assert_eq!(got["spec"].get("selector"), Some(&Value::Null));
    assert_eq!(got["spec"].get("paused"), None);
    assert_eq!(
        got["spec"]["template"],
        json!({"metadata": {}, "spec": {"containers": null}})
    );
    assert_eq!(got["status"], json!({}));
}

#[test]
fn role_and_role_binding() {
    let role = rbac::Role {
        metadata: meta_named("reader"),
        rules: vec![rbac::PolicyRule {
            verbs: vec!["get".into(), "list".into()],
            api_groups: vec![String::new()],
            resources: vec!["pods".into()],
            ..Default::default()
        }],
    };
    assert_eq!(
        decode_body(&envelope("rbac.authorization.k8s.io/v1", "Role", &role)).unwrap(),
        json!({
            "kind": "Role", "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "reader"},
            "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}],
        })
    );
    let binding = rbac::RoleBinding {
        metadata: meta_named("read"),
        subjects: vec![rbac::Subject {
            kind: s("ServiceAccount"),
            name: s("default"),
            namespace: s("default"),
            api_group: s(""),
        }],
        role_ref: Some(rbac::RoleRef {
            api_group: s("rbac.authorization.k8s.io"),
            kind: s("Role"),
            name: s("reader"),
        }),
    };
    assert_eq!(
        decode_body(&envelope(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            &binding
        ))
        .unwrap(),
        json!({
            "kind": "RoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "read"},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        })
    );
}

#[test]
fn lease_micro_times_and_object_meta_times() {
    let lease = coordination::Lease {
        metadata: Some(meta::ObjectMeta {
            name: s("leader"),
            creation_timestamp: Some(meta::Time {
                seconds: Some(1_704_067_200),
                nanos: Some(999_000_000),
            }),
            deletion_timestamp: Some(meta::Time::default()),
            managed_fields: vec![meta::ManagedFieldsEntry {
                manager: s("kubectl"),
                operation: s("Update"),
                fields_type: s("FieldsV1"),
                fields_v1: Some(meta::FieldsV1 {
                    raw: Some(br#"{"f:spec":{"f:holderIdentity":{}}}"#.to_vec()),
                }),
                time: Some(meta::Time {
                    seconds: Some(1_704_067_201),
                    nanos: None,
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        spec: Some(coordination::LeaseSpec {
            holder_identity: s("me"),
            lease_duration_seconds: Some(15),
            acquire_time: Some(meta::MicroTime {
                seconds: Some(1_704_067_200),
                nanos: Some(123_456_789),
            }),
            renew_time: Some(meta::MicroTime::default()),
            ..Default::default()
        }),
    };
    let got = decode_body(&envelope("coordination.k8s.io/v1", "Lease", &lease)).unwrap();
    assert_eq!(
        got,
        json!({
            "kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
            "metadata": {
                "name": "leader",
                // Time drops sub-second precision on the protobuf path.
                "creationTimestamp": "2024-01-01T00:00:00Z",
                // A non-nil pointer to the zero time.
                "deletionTimestamp": null,
                "managedFields": [{
                    "manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:holderIdentity": {}}},
                    "time": "2024-01-01T00:00:01Z",
                }],
            },
            "spec": {
                "holderIdentity": "me", "leaseDurationSeconds": 15,
                "acquireTime": "2024-01-01T00:00:00.123456Z",
                "renewTime": null,
            },
        })
    );
}

#[test]
fn delete_options_in_any_group_version() {
    let opts = meta::DeleteOptions {
        grace_period_seconds: Some(0),
        propagation_policy: s("Foreground"),
        dry_run: vec!["All".into()],
        ..Default::default()
    };
    for api_version in ["v1", "apps/v1", "meta.k8s.io/v1"] {
        assert_eq!(
            decode_body(&envelope(api_version, "DeleteOptions", &opts)).unwrap(),
            json!({
                "kind": "DeleteOptions", "apiVersion": api_version,
                "gracePeriodSeconds": 0, "propagationPolicy": "Foreground", "dryRun": ["All"],
            })
        );
    }
}

#[test]
fn raw_extension_holds_json() {
    let rev = apps::ControllerRevision {
        metadata: meta_named("rev"),
        data: Some(k8s_pb::apimachinery::pkg::runtime::RawExtension {
            raw: Some(br#"{"spec":{"replicas":3}}"#.to_vec()),
        }),
        revision: Some(2),
    };
    let got = decode_body(&envelope("apps/v1", "ControllerRevision", &rev)).unwrap();
    assert_eq!(got["data"], json!({"spec": {"replicas": 3}}));
    assert_eq!(got["revision"], json!(2));
}

#[test]
fn named_slice_wrappers_are_arrays() {
    let review = k8s_pb::api::authorization::v1::SubjectAccessReview {
        metadata: meta_named("r"),
        spec: Some(k8s_pb::api::authorization::v1::SubjectAccessReviewSpec {
            user: s("alice"),
            extra: [(
                "scopes".to_string(),
                k8s_pb::api::authorization::v1::ExtraValue {
                    items: vec!["a".into(), "b".into()],
                },
            )]
            .into(),
            ..Default::default()
        }),
        status: None,
    };
    let got = decode_body(&envelope(
        "authorization.k8s.io/v1",
        "SubjectAccessReview",
        &review,
    ))
    .unwrap();
    assert_eq!(got["spec"]["extra"], json!({"scopes": ["a", "b"]}));
    assert_eq!(got["spec"]["user"], json!("alice"));
}

#[test]
fn repeated_messages_and_unknown_fields() {
    // Field 99 is unknown to Namespace and skipped, as Go's generated code does.
    let mut raw = core::Namespace {
        metadata: meta_named("a"),
        ..Default::default()
    }
    .encode_to_vec();
    raw.extend([0x98, 0x06, 0x01]);
    // A second metadata occurrence merges into the first.
    raw.extend(
        core::Namespace {
            metadata: Some(meta::ObjectMeta {
                labels: [("x".to_string(), "y".to_string())].into(),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec(),
    );
    let mut body = b"k8s\x00".to_vec();
    body.extend(
        Unknown {
            type_meta: Some(TypeMeta {
                api_version: s("v1"),
                kind: s("Namespace"),
            }),
            raw: Some(raw),
            ..Default::default()
        }
        .encode_to_vec(),
    );
    assert_eq!(
        decode_body(&body).unwrap(),
        json!({
            "kind": "Namespace", "apiVersion": "v1",
            "metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {}, "status": {},
        })
    );
}

#[test]
fn broken_bodies_fail_like_kube_apiserver() {
    assert_eq!(
        decode_body(b""),
        Err("the object provided is unrecognized: empty data (<empty>)".to_string())
    );
    assert_eq!(
        decode_body(b"k8s\x00"),
        Err("the object provided is unrecognized: empty body (6b387300)".to_string())
    );
    assert_eq!(
        decode_body(b"{}"),
        Err("the object provided is unrecognized: provided data does not appear to be a protobuf message, expected prefix [107 56 115 0] ({})".to_string())
    );
    let ns = fixture("namespace");
    let err = decode_body(&ns[..ns.len() - 3]).unwrap_err();
    assert!(
        err.starts_with("the object provided is unrecognized: unexpected EOF ("),
        "{err}"
    );

    let widget = envelope("example.com/v1", "Widget", &core::Namespace::default());
    assert_eq!(
        decode_body(&widget),
        Err("Widget in version \"v1\" cannot be handled as a Widget: no kind \"Widget\" is registered for version \"example.com/v1\" in scheme \"pkg/api/legacyscheme/scheme.go:30\"".to_string())
    );
    // A string where Namespace.metadata (a message) belongs: varint on field 1.
    let bad = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: s("Namespace"),
        }),
        raw: Some(vec![0x08, 0x01]),
        ..Default::default()
    };
    let mut body = b"k8s\x00".to_vec();
    body.extend(bad.encode_to_vec());
    assert_eq!(
        decode_body(&body),
        Err("Namespace in version \"v1\" cannot be handled as a Namespace: proto: wrong wireType = 0 for field metadata".to_string())
    );
    let no_kind = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: None,
        }),
        ..Default::default()
    };
    let mut body = b"k8s\x00".to_vec();
    body.extend(no_kind.encode_to_vec());
    let err = decode_body(&body).unwrap_err();
    assert!(err.contains("Object 'Kind' is missing"), "{err}");
}

#[test]
fn deep_nesting_is_refused() {
    // JSONSchemaProps is not in the tables, so build depth with RawExtension holding a
    // protobuf object holding a RawExtension ...
    let mut body = envelope("v1", "Namespace", &core::Namespace::default());
    for _ in 0..120 {
        let rev = apps::ControllerRevision {
            data: Some(k8s_pb::apimachinery::pkg::runtime::RawExtension { raw: Some(body) }),
            ..Default::default()
        };
        body = envelope("apps/v1", "ControllerRevision", &rev);
    }
    let err = decode_body(&body).unwrap_err();
    assert!(err.contains("nesting depth"), "{err}");
}

#[test]
fn recognises_the_content_type() {
    assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
    assert!(is_protobuf(
        "application/vnd.kubernetes.protobuf; charset=utf-8"
    ));
    assert!(!is_protobuf("application/json"));
}
