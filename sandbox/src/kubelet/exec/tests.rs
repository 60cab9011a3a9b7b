//! Unit tests of `kubelet::exec`.

use super::*;
use serde_json::json;

struct Objects(HashMap<(String, String), Value>);

impl PodStore for Objects {
    fn update_pod(&self, _: &str, _: &str, _: &str, _: &mut dyn FnMut(&mut Value)) -> bool {
        false
    }
    fn finish_pod_deletion(&self, _: &str, _: &str, _: &str) {}
    fn get_object(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        assert_eq!(namespace, "ns");
        self.0
            .get(&(resource.to_string(), name.to_string()))
            .cloned()
    }
}

fn pod() -> Value {
    json!({
        "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"app": "x", "tier": "db"}},
        "spec": {"serviceAccountName": "sa"}
    })
}

fn env_of(container: Value, store: &dyn PodStore) -> Result<Vec<(String, String)>, ConfigError> {
    let pod = pod();
    let src = EnvSource {
        pod: &pod,
        node_name: "sandbox",
        pod_ip: "10.244.0.7",
        host_ip: "172.18.0.2",
        store,
    };
    container_env(&container, &src)
}

#[test]
fn expansion_matches_kubernetes_rules() {
    let lookup = |k: &str| (k == "A").then(|| "1".to_string());
    assert_eq!(expand("x$(A)y", lookup), "x1y");
    assert_eq!(expand("$(B)", lookup), "$(B)");
    assert_eq!(expand("$$(A)", lookup), "$(A)");
    assert_eq!(expand("$$", lookup), "$");
    assert_eq!(expand("$A $(A", lookup), "$A $(A");
    assert_eq!(expand("a$", lookup), "a$");
}

#[test]
fn env_values_field_refs_and_expansion() {
    let store = Objects(HashMap::new());
    let c = json!({"env": [
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "GREETING", "value": "hi-$(POD)-$(LATER)"},
        {"name": "LATER", "value": "l"},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "LABELS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels"}}},
    ]});
    let env: HashMap<_, _> = env_of(c, &store).unwrap_or_default().into_iter().collect();
    assert_eq!(env["POD"], "p");
    assert_eq!(env["GREETING"], "hi-p-$(LATER)");
    assert_eq!(env["NS"], "ns");
    assert_eq!(env["NODE"], "sandbox");
    assert_eq!(env["IP"], "10.244.0.7");
    assert_eq!(env["SA"], "sa");
    assert_eq!(env["APP"], "x");
    assert_eq!(env["LABELS"], "app=\"x\"\ntier=\"db\"");
}

#[test]
fn config_map_and_secret_references() {
    let mut objects = HashMap::new();
    objects.insert(
        ("configmaps".into(), "cm".into()),
        json!({"data": {"k": "v", "other": "o"}}),
    );
    objects.insert(
        ("secrets".into(), "s".into()),
        json!({"data": {"pw": "c2VjcmV0"}}),
    );
    let store = Objects(objects);
    let c = json!({
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
        "env": [
            {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
            {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "x", "optional": true}}},
        ]
    });
    let env: HashMap<_, _> = env_of(c, &store).unwrap_or_default().into_iter().collect();
    assert_eq!(
        (env["CM_k"].as_str(), env["K"].as_str(), env["PW"].as_str()),
        ("v", "v", "secret")
    );
    assert!(!env.contains_key("OPT"));

    let missing = json!({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}]});
    assert_eq!(
        env_of(missing, &store),
        Err(ConfigError("configmap \"nope\" not found".into()))
    );
    let no_key = json!({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "zz"}}}]});
    assert_eq!(
        env_of(no_key, &store),
        Err(ConfigError(
            "couldn't find key zz in ConfigMap ns/cm".into()
        ))
    );
}

#[test]
fn resource_field_refs() {
    let store = Objects(HashMap::new());
    let c = json!({
        "resources": {"limits": {"cpu": "1500m", "memory": "64Mi"}},
        "env": [
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {"name": "MCPU", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
        ]
    });
    let env: HashMap<_, _> = env_of(c, &store).unwrap_or_default().into_iter().collect();
    assert_eq!(
        (
            env["CPU"].as_str(),
            env["MCPU"].as_str(),
            env["MEM"].as_str()
        ),
        ("2", "1500", "64")
    );
}

#[test]
fn termination_path_is_rewritten_only_as_a_whole_path() {
    let to = "/tmp/x/c.termination-log";
    assert_eq!(
        replace_path("echo a > /dev/termination-log", "/dev/termination-log", to),
        format!("echo a > {to}")
    );
    assert_eq!(
        replace_path("/dev/termination-logs", "/dev/termination-log", to),
        "/dev/termination-logs"
    );
    assert_eq!(
        replace_path("/a/dev/termination-log", "/dev/termination-log", to),
        "/a/dev/termination-log"
    );
}

#[test]
fn launch_needs_a_command_and_maps_the_message_path() {
    let dir = std::env::temp_dir();
    let file = dir.join("c.termination-log");
    let no_cmd = build_launch(&json!({"image": "busybox"}), vec![], &file, &[], &dir, "p");
    assert!(no_cmd.is_err_and(|e| e.contains("without `command`")));
    let c = json!({"command": ["sh", "-c"], "args": ["echo $(MSG) > /dev/termination-log"]});
    let env = vec![("MSG".to_string(), "/dev/termination-log".to_string())];
    let launch = build_launch(&c, env, &file, &[], &dir, "p");
    let launch = launch.unwrap_or_else(|e| panic!("{e}"));
    let mapped = file.to_string_lossy().to_string();
    assert_eq!(
        launch.argv,
        [
            "sh".to_string(),
            "-c".into(),
            format!("echo {mapped} > {mapped}")
        ]
    );
    assert!(launch.env.contains(&("MSG".to_string(), mapped)));
    assert_eq!(launch.cwd, dir);
}

#[test]
fn a_mount_path_is_rewritten_as_a_directory_prefix_only() {
    let to = "/tmp/pod/volumes/v";
    assert_eq!(replace_dir("/data", "/data", to), to);
    assert_eq!(
        replace_dir("/data/out.xml", "/data", to),
        format!("{to}/out.xml")
    );
    assert_eq!(
        replace_dir("--junitxml=/data/r.xml", "/data/", to),
        format!("--junitxml={to}/r.xml")
    );
    assert_eq!(replace_dir("/database", "/data", to), "/database");
    assert_eq!(replace_dir("/x/data/y", "/data", to), "/x/data/y");
}

#[test]
fn empty_dir_volumes_are_pod_directories_shared_by_its_containers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pod = json!({"spec": {"volumes": [
        {"name": "work", "emptyDir": {}},
        {"name": "conf", "configMap": {"name": "c"}}
    ]}});
    let writer = json!({"command": ["sh", "-c", "echo hi > /work/out"],
        "env": [], "workingDir": "/work",
        "volumeMounts": [{"name": "work", "mountPath": "/work"}, {"name": "conf", "mountPath": "/conf"}]});
    let reader = json!({"command": ["cat", "/shared/sub/out"],
        "volumeMounts": [{"name": "work", "mountPath": "/shared/sub"}]});
    let mounts = empty_dir_mounts(&pod, &writer, dir.path()).expect("mounts");
    let volume = dir.path().join("volumes").join("work");
    assert_eq!(
        mounts,
        [("/work".to_string(), volume.clone())],
        "only emptyDir volumes"
    );
    assert!(volume.is_dir());
    let env = vec![("OUT".to_string(), "/work/out".to_string())];
    let file = dir.path().join("c.termination-log");
    let launch = build_launch(&writer, env, &file, &mounts, dir.path(), "p").expect("launch");
    let shown = volume.to_string_lossy().to_string();
    assert_eq!(launch.argv[2], format!("echo hi > {shown}/out"));
    assert!(
        launch
            .env
            .contains(&("OUT".to_string(), format!("{shown}/out")))
    );
    assert_eq!(launch.cwd, volume);
    let mounts = empty_dir_mounts(&pod, &reader, dir.path()).expect("mounts");
    let launch = build_launch(&reader, vec![], &file, &mounts, dir.path(), "p").expect("launch");
    assert_eq!(
        launch.argv[1],
        format!("{shown}/out"),
        "the same directory in both containers"
    );
}
