//! Building the runner Pod of one attempt: its deterministic name, labels, environment, security
//! context and owner reference. Pure functions, so every detail is unit-tested without a cluster.

use std::{collections::BTreeMap, hash::Hasher};

use fnv::FnvHasher;
use k8s_openapi::{
    api::core::v1::{
        Capabilities, Container, EmptyDirVolumeSource, EnvVar, ExecAction, Lifecycle,
        LifecycleHandler, Pod, PodSecurityContext, PodSpec, ResourceRequirements, SeccompProfile,
        SecurityContext, Volume, VolumeMount,
    },
    apimachinery::pkg::api::resource::Quantity,
};
use kube::{Resource, ResourceExt, api::ObjectMeta};

use crate::{
    crd::{RunnerSpec, TestJob},
    handover::{MOUNT_PATH, READY_FILE, REPORT_FILE, SIDECAR, STATE_PATH, STATE_VOLUME, VOLUME},
};

/// A TestJob that lacks what its runner Pod needs. The API server always sets both, so this
/// only happens with objects that did not come from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidJob {
    /// TestJobs are namespaced, so the API never sends one without.
    #[error("TestJob has no namespace")]
    MissingNamespace,
    /// No owner reference can point at a TestJob without a UID.
    #[error("TestJob has no UID")]
    MissingUid,
}

/// Name of the single container in a runner Pod.
pub const RUNNER_CONTAINER: &str = "runner";
/// Where the runner writes its results; also the container's `terminationMessagePath`, so the
/// kubelet copies the file into the Pod status when the container ends.
pub const RESULTS_FILE: &str = "/dev/termination-log";
/// Label naming the tool that manages runner Pods.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_LABEL`], also the event reporter and field manager name.
pub const MANAGER: &str = "testjob-operator";
/// Label holding the owning TestJob's name (sanitized to a label value).
pub const NAME_LABEL: &str = "testjob.dev/name";
/// Label holding the test ID (sanitized to a label value).
pub const TEST_ID_LABEL: &str = "testjob.dev/test-id";
/// Label holding the attempt number.
pub const ATTEMPT_LABEL: &str = "testjob.dev/attempt";
/// Non-root user and group the runner runs as unless the image says otherwise.
pub const RUNNER_UID: i64 = 65532;
/// Environment variables the operator sets; a runner's `env` cannot override them.
pub const RESERVED_ENV: [&str; 6] = [
    "TEST_ID",
    "TESTJOB_NAME",
    "TESTJOB_NAMESPACE",
    "TESTJOB_ATTEMPT",
    "TESTJOB_RESULTS_FILE",
    "TESTJOB_REPORT_FILE",
];
/// The annotation that makes `kubectl logs POD` show the runner, not the sidecar.
pub const DEFAULT_CONTAINER_ANNOTATION: &str = "kubectl.kubernetes.io/default-container";

/// Longest Pod name; Pod names become hostnames, which are DNS labels.
const MAX_POD_NAME: usize = 63;
/// Longest label value.
const MAX_LABEL_VALUE: usize = 63;

/// What a runner gets for anything its TestJob leaves out.
#[derive(Clone, Debug, PartialEq)]
pub struct RunnerDefaults {
    /// Default container image.
    pub image: String,
    /// Default entrypoint (command and arguments).
    pub command: Vec<String>,
    /// Default time limit of one attempt in seconds (the Pod's `activeDeadlineSeconds`), if any.
    pub timeout_seconds: Option<i64>,
    /// Default container resources, for runners that set none.
    pub resources: Option<k8s_openapi::api::core::v1::ResourceRequirements>,
    /// The report sidecar every runner Pod gets.
    pub sidecar: SidecarDefaults,
}

/// How the report sidecar ([`crate::handover`]) runs: the operator's own image and binary.
#[derive(Clone, Debug, PartialEq)]
pub struct SidecarDefaults {
    /// The operator's image.
    pub image: String,
    /// The operator binary's path in that image (`report-sidecar` and its flags follow).
    pub program: String,
}

/// The label selector matching every runner Pod of the TestJob called `job_name`.
pub fn pod_selector(job_name: &str) -> String {
    format!(
        "{MANAGED_BY_LABEL}={MANAGER},{NAME_LABEL}={}",
        sanitize_label_value(job_name)
    )
}

/// The name of the runner Pod of `attempt`: `<job>-<attempt>`, or, when that is longer than 63
/// characters, the job name cut short plus a stable hash of the full name.
pub fn pod_name(job_name: &str, attempt: i32) -> String {
    let suffix = format!("-{attempt}");
    let plain = format!("{job_name}{suffix}");
    if plain.len() <= MAX_POD_NAME {
        return plain;
    }
    let hash = short_hash(job_name);
    let room = MAX_POD_NAME - suffix.len() - hash.len() - 1;
    let prefix = trim_to_alphanumeric_end(&job_name[..floor_char_boundary(job_name, room)]);
    format!("{prefix}-{hash}{suffix}")
}

/// Turns arbitrary text into a valid label value: characters other than alphanumerics, `-`, `_`
/// and `.` become `-`, the ends are trimmed to alphanumerics, and text longer than 63 characters
/// is cut and suffixed with a stable hash of the original so distinct values stay distinct.
pub fn sanitize_label_value(value: &str) -> String {
    let replaced: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = replaced.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.len() <= MAX_LABEL_VALUE {
        return trimmed.to_owned();
    }
    let hash = short_hash(value);
    let room = MAX_LABEL_VALUE - hash.len() - 1;
    let prefix = trim_to_alphanumeric_end(&trimmed[..room]);
    format!("{prefix}-{hash}")
}

/// Whether `pod`'s controller owner reference points at `job` (by UID).
pub fn is_owned_by(pod: &Pod, job: &TestJob) -> bool {
    let Some(uid) = job.meta().uid.as_deref() else {
        return false;
    };
    pod.owner_references()
        .iter()
        .any(|owner| owner.controller == Some(true) && owner.uid == uid)
}

/// The runner Pod for `attempt` of `job`, with `defaults` filling whatever the job leaves out.
pub fn build_runner_pod(
    job: &TestJob,
    attempt: i32,
    defaults: &RunnerDefaults,
) -> Result<Pod, InvalidJob> {
    let job_name = job.name_any();
    let namespace = job.namespace().ok_or(InvalidJob::MissingNamespace)?;
    let owner = job
        .controller_owner_ref(&())
        .ok_or(InvalidJob::MissingUid)?;
    let runner = job.spec.runner.clone().unwrap_or_default();
    let test_id = job.spec.test_id.to_string();

    let mut labels: BTreeMap<String, String> = runner.pod_labels.clone().unwrap_or_default();
    labels.insert(MANAGED_BY_LABEL.into(), MANAGER.into());
    labels.insert(NAME_LABEL.into(), sanitize_label_value(&job_name));
    labels.insert(TEST_ID_LABEL.into(), sanitize_label_value(&test_id));
    labels.insert(ATTEMPT_LABEL.into(), attempt.to_string());

    let mut annotations = runner.pod_annotations.clone().unwrap_or_default();
    annotations.insert(DEFAULT_CONTAINER_ANNOTATION.into(), RUNNER_CONTAINER.into());
    let service_account = runner.service_account_name.clone();

    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(pod_name(&job_name, attempt)),
            namespace: Some(namespace.clone()),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some("Never".into()),
            // The kubelet enforces the attempt's time limit; the controller reads it back from here.
            active_deadline_seconds: job
                .spec
                .timeout_seconds
                .or(defaults.timeout_seconds)
                .filter(|seconds| *seconds > 0),
            // The runner needs no API access unless its author asked for an identity.
            automount_service_account_token: service_account.is_none().then_some(false),
            service_account_name: service_account,
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(RUNNER_UID),
                run_as_group: Some(RUNNER_UID),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    ..SeccompProfile::default()
                }),
                ..PodSecurityContext::default()
            }),
            containers: vec![runner_container(
                &runner,
                defaults,
                runner_env(&test_id, &job_name, &namespace, attempt, &runner),
            )],
            // A native sidecar (restartable init container): it runs beside the runner and is
            // stopped once the runner exits, which is when it hands the report over.
            init_containers: Some(vec![sidecar_container(&defaults.sidecar)]),
            volumes: Some(vec![
                Volume {
                    name: VOLUME.into(),
                    empty_dir: Some(EmptyDirVolumeSource {
                        size_limit: Some(Quantity("64Mi".into())),
                        ..EmptyDirVolumeSource::default()
                    }),
                    ..Volume::default()
                },
                Volume {
                    name: STATE_VOLUME.into(),
                    empty_dir: Some(EmptyDirVolumeSource {
                        medium: Some("Memory".into()),
                        size_limit: Some(Quantity("1Mi".into())),
                    }),
                    ..Volume::default()
                },
            ]),
            ..PodSpec::default()
        }),
        status: None,
    })
}

fn runner_container(runner: &RunnerSpec, defaults: &RunnerDefaults, env: Vec<EnvVar>) -> Container {
    let command = runner
        .command
        .clone()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| defaults.command.clone());
    Container {
        name: RUNNER_CONTAINER.into(),
        image: Some(
            runner
                .image
                .clone()
                .unwrap_or_else(|| defaults.image.clone()),
        ),
        command: Some(command),
        args: runner.args.clone().filter(|a| !a.is_empty()),
        env: Some(env),
        resources: runner
            .resources
            .clone()
            .or_else(|| defaults.resources.clone()),
        termination_message_path: Some(RESULTS_FILE.into()),
        // A runner that crashes before writing results still leaves its last log lines.
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        security_context: Some(restricted(false)),
        volume_mounts: Some(vec![report_mount(false)]),
        ..Container::default()
    }
}

/// The report sidecar: the operator's image running `report-sidecar`, read-only, no API access.
fn sidecar_container(sidecar: &SidecarDefaults) -> Container {
    let quantities = |cpu: &str, memory: &str| {
        BTreeMap::from([
            ("cpu".to_owned(), Quantity(cpu.into())),
            ("memory".to_owned(), Quantity(memory.into())),
        ])
    };
    Container {
        name: SIDECAR.into(),
        image: Some(sidecar.image.clone()),
        command: Some(vec![
            sidecar.program.clone(),
            "report-sidecar".into(),
            "--file".into(),
            REPORT_FILE.into(),
            "--termination-log".into(),
            SIDECAR_MESSAGE_FILE.into(),
            "--ready-file".into(),
            READY_FILE.into(),
        ]),
        // The runner starts once this hook ends: when the sidecar listens for SIGTERM.
        lifecycle: Some(Lifecycle {
            post_start: Some(LifecycleHandler {
                exec: Some(ExecAction {
                    command: Some(vec![
                        sidecar.program.clone(),
                        "report-sidecar".into(),
                        "--ready-file".into(),
                        READY_FILE.into(),
                        "--wait-ready".into(),
                    ]),
                }),
                ..LifecycleHandler::default()
            }),
            ..Lifecycle::default()
        }),
        restart_policy: Some("Always".into()),
        resources: Some(ResourceRequirements {
            requests: Some(quantities("10m", "16Mi")),
            // It holds at most one report (16 MiB) and its gzip.
            limits: Some(BTreeMap::from([(
                "memory".to_owned(),
                Quantity("96Mi".into()),
            )])),
            ..ResourceRequirements::default()
        }),
        termination_message_path: Some(SIDECAR_MESSAGE_FILE.into()),
        termination_message_policy: Some("File".into()),
        security_context: Some(restricted(true)),
        volume_mounts: Some(vec![
            report_mount(true),
            VolumeMount {
                name: STATE_VOLUME.into(),
                mount_path: STATE_PATH.into(),
                ..VolumeMount::default()
            },
        ]),
        ..Container::default()
    }
}

/// Where the sidecar writes its termination message (the kubelet's default path).
const SIDECAR_MESSAGE_FILE: &str = "/dev/termination-log";

/// The shared report volume, as mounted in a container.
fn report_mount(read_only: bool) -> VolumeMount {
    VolumeMount {
        name: VOLUME.into(),
        mount_path: MOUNT_PATH.into(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

/// A container security context that meets the "restricted" Pod Security Standard.
fn restricted(read_only_root: bool) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        run_as_non_root: Some(true),
        read_only_root_filesystem: read_only_root.then_some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..SeccompProfile::default()
        }),
        ..SecurityContext::default()
    }
}

fn runner_env(
    test_id: &str,
    job_name: &str,
    namespace: &str,
    attempt: i32,
    runner: &RunnerSpec,
) -> Vec<EnvVar> {
    let value = |name: &str, value: String| EnvVar {
        name: name.into(),
        value: Some(value),
        value_from: None,
    };
    let mut env = vec![
        value("TEST_ID", test_id.to_owned()),
        value("TESTJOB_NAME", job_name.to_owned()),
        value("TESTJOB_NAMESPACE", namespace.to_owned()),
        value("TESTJOB_ATTEMPT", attempt.to_string()),
        value("TESTJOB_RESULTS_FILE", RESULTS_FILE.to_owned()),
        value("TESTJOB_REPORT_FILE", REPORT_FILE.to_owned()),
    ];
    env.extend(
        runner
            .env
            .iter()
            .flatten()
            .filter(|var| !RESERVED_ENV.contains(&var.name.as_str()))
            .cloned(),
    );
    env
}

/// Eight hex digits of the 64-bit FNV-1a hash of `text`: stable across builds and platforms,
/// unlike std's `DefaultHasher`.
fn short_hash(text: &str) -> String {
    let mut hasher = FnvHasher::default();
    hasher.write(text.as_bytes());
    format!("{:08x}", hasher.finish() as u32)
}

fn trim_to_alphanumeric_end(text: &str) -> &str {
    text.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
}

fn floor_char_boundary(text: &str, index: usize) -> usize {
    (0..=index.min(text.len()))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{TestId, TestJobSpec};
    use k8s_openapi::api::core::v1::EnvVarSource;

    fn defaults() -> RunnerDefaults {
        RunnerDefaults {
            resources: None,
            image: "busybox:1.37".into(),
            command: vec!["sh".into(), "-c".into(), "true".into()],
            timeout_seconds: None,
            sidecar: SidecarDefaults {
                image: "operator:test".into(),
                program: "/usr/local/bin/testjob-operator".into(),
            },
        }
    }

    fn job(name: &str, test_id: TestId, runner: Option<RunnerSpec>) -> TestJob {
        let mut job = TestJob::new(
            name,
            TestJobSpec {
                runner: runner.map(Box::new),
                ..TestJobSpec::new(test_id)
            },
        );
        job.metadata.namespace = Some("team-a".into());
        job.metadata.uid = Some("uid-1234".into());
        job
    }

    fn container(pod: &Pod) -> &Container {
        &pod.spec.as_ref().expect("spec").containers[0]
    }

    fn env_map(pod: &Pod) -> BTreeMap<String, String> {
        container(pod)
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn short_names_are_name_dash_attempt() {
        assert_eq!(pod_name("checkout", 1), "checkout-1");
        assert_eq!(pod_name("checkout", 12), "checkout-12");
        let exactly = "a".repeat(61);
        assert_eq!(pod_name(&exactly, 1), format!("{exactly}-1"));
    }

    #[test]
    fn long_names_are_shortened_with_a_stable_hash() {
        let long = format!("{}-suite", "very-long-test-job-name".repeat(4));
        let first = pod_name(&long, 1);
        let second = pod_name(&long, 2);
        assert!(first.len() <= 63, "{first}");
        assert!(first.ends_with("-1") && second.ends_with("-2"));
        assert_eq!(first, pod_name(&long, 1), "deterministic");
        assert_eq!(first[..first.len() - 2], second[..second.len() - 2]);
        // A different long name with the same prefix gets a different hash.
        let other = format!("{}-other", "very-long-test-job-name".repeat(4));
        assert_ne!(pod_name(&other, 1), first);
        // The cut never leaves a dangling separator before the hash.
        let dashes = format!("{}-{}", "a".repeat(43), "b".repeat(40));
        let name = pod_name(&dashes, 100);
        assert!(!name.contains("--"), "{name}");
        assert!(name.len() <= 63);
    }

    #[test]
    fn hash_is_pinned() {
        // Changing the hash would orphan the Pods of jobs already running: keep it fixed.
        assert_eq!(short_hash("x"), "86021707");
    }

    #[test]
    fn label_values_are_sanitized() {
        assert_eq!(sanitize_label_value("220"), "220");
        assert_eq!(sanitize_label_value("checkout-flow"), "checkout-flow");
        assert_eq!(
            sanitize_label_value("Checkout Flow/v2!"),
            "Checkout-Flow-v2"
        );
        assert_eq!(sanitize_label_value("--x--"), "x");
        assert_eq!(sanitize_label_value("ünïcode"), "n-code");
        let long = "t".repeat(200);
        let cut = sanitize_label_value(&long);
        assert!(cut.len() <= 63, "{cut}");
        assert_ne!(cut, sanitize_label_value(&"t".repeat(201)));
        let valid = regex_like_label_value(&cut);
        assert!(valid, "{cut}");
    }

    fn regex_like_label_value(v: &str) -> bool {
        v.len() <= 63
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && v.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
            && v.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
    }

    #[test]
    fn the_runner_waits_for_the_sidecar_to_listen() {
        let pod = build_runner_pod(&job("smoke", TestId::Int(220), None), 1, &defaults())
            .expect("pod builds");
        let spec = pod.spec.as_ref().expect("spec");
        let sidecar = &spec.init_containers.as_ref().expect("sidecar")[0];
        let command = sidecar.command.clone().unwrap_or_default();
        let ready_at = command.iter().position(|a| a == "--ready-file");
        assert_eq!(ready_at.map(|i| command[i + 1].as_str()), Some(READY_FILE));
        let hook = sidecar
            .lifecycle
            .as_ref()
            .and_then(|l| l.post_start.as_ref())
            .and_then(|h| h.exec.as_ref())
            .and_then(|e| e.command.clone())
            .unwrap_or_default();
        assert_eq!(
            hook[1..],
            ["report-sidecar", "--ready-file", READY_FILE, "--wait-ready"]
        );
        assert_eq!(hook[0], command[0]);
        let mounts = sidecar.volume_mounts.clone().unwrap_or_default();
        let state = mounts
            .iter()
            .find(|m| m.name == STATE_VOLUME)
            .expect("mount");
        assert!(READY_FILE.starts_with(&format!("{}/", state.mount_path)));
        assert_ne!(state.read_only, Some(true));
        let volume = spec
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == STATE_VOLUME);
        let medium = volume
            .and_then(|v| v.empty_dir.as_ref())
            .and_then(|e| e.medium.as_deref());
        assert_eq!(medium, Some("Memory"));
    }

    #[test]
    fn default_runner_pod() {
        let pod = build_runner_pod(&job("smoke", TestId::Int(220), None), 1, &defaults())
            .expect("pod builds");
        assert_eq!(pod.metadata.name.as_deref(), Some("smoke-1"));
        assert_eq!(pod.metadata.namespace.as_deref(), Some("team-a"));
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels[MANAGED_BY_LABEL], "testjob-operator");
        assert_eq!(labels[NAME_LABEL], "smoke");
        assert_eq!(labels[TEST_ID_LABEL], "220");
        assert_eq!(labels[ATTEMPT_LABEL], "1");

        let spec = pod.spec.as_ref().expect("spec");
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(
            spec.active_deadline_seconds, None,
            "no time limit by default"
        );
        assert_eq!(spec.automount_service_account_token, Some(false));
        let c = container(&pod);
        assert_eq!(c.name, RUNNER_CONTAINER);
        assert_eq!(c.image.as_deref(), Some("busybox:1.37"));
        assert_eq!(c.command, Some(defaults().command));
        assert_eq!(c.args, None);
        assert_eq!(c.termination_message_path.as_deref(), Some(RESULTS_FILE));
        assert_eq!(
            c.termination_message_policy.as_deref(),
            Some("FallbackToLogsOnError")
        );

        let env = env_map(&pod);
        assert_eq!(env["TEST_ID"], "220");
        assert_eq!(env["TESTJOB_NAME"], "smoke");
        assert_eq!(env["TESTJOB_NAMESPACE"], "team-a");
        assert_eq!(env["TESTJOB_ATTEMPT"], "1");
        assert_eq!(env["TESTJOB_RESULTS_FILE"], RESULTS_FILE);
    }

    #[test]
    fn the_time_limit_becomes_the_active_deadline() {
        let deadline = |job: &TestJob, default: Option<i64>| {
            let defaults = RunnerDefaults {
                timeout_seconds: default,
                ..defaults()
            };
            build_runner_pod(job, 1, &defaults)
                .expect("pod builds")
                .spec
                .and_then(|s| s.active_deadline_seconds)
        };
        let plain = job("t", TestId::Int(1), None);
        let mut limited = plain.clone();
        limited.spec.timeout_seconds = Some(30);
        assert_eq!(deadline(&plain, None), None);
        assert_eq!(deadline(&plain, Some(600)), Some(600));
        assert_eq!(deadline(&limited, None), Some(30));
        assert_eq!(
            deadline(&limited, Some(600)),
            Some(30),
            "the job's own limit wins"
        );
        assert_eq!(deadline(&plain, Some(0)), None, "0 means no limit");
    }

    #[test]
    fn owner_reference_is_the_controller() {
        let job = job("smoke", TestId::Int(1), None);
        let pod = build_runner_pod(&job, 1, &defaults()).expect("pod builds");
        let owners = pod.metadata.owner_references.clone().unwrap_or_default();
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].kind, "TestJob");
        assert_eq!(owners[0].api_version, "testjob.dev/v1alpha1");
        assert_eq!(owners[0].name, "smoke");
        assert_eq!(owners[0].uid, "uid-1234");
        assert_eq!(owners[0].controller, Some(true));
        assert!(is_owned_by(&pod, &job));

        let mut other = job.clone();
        other.metadata.uid = Some("uid-other".into());
        assert!(!is_owned_by(&pod, &other));
    }

    #[test]
    fn security_context_meets_restricted() {
        let pod =
            build_runner_pod(&job("s", TestId::Int(1), None), 1, &defaults()).expect("pod builds");
        let psc = pod
            .spec
            .as_ref()
            .and_then(|s| s.security_context.clone())
            .expect("pod security context");
        assert_eq!(psc.run_as_non_root, Some(true));
        assert_eq!(psc.run_as_user, Some(RUNNER_UID));
        assert_eq!(psc.run_as_group, Some(RUNNER_UID));
        assert_eq!(
            psc.seccomp_profile.map(|p| p.type_).as_deref(),
            Some("RuntimeDefault")
        );
        let sc = container(&pod)
            .security_context
            .clone()
            .expect("container security context");
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(sc.run_as_non_root, Some(true));
        assert_eq!(
            sc.capabilities.and_then(|c| c.drop),
            Some(vec!["ALL".to_owned()])
        );
        assert_eq!(sc.privileged, None);
    }

    #[test]
    fn runner_fields_override_defaults() {
        let runner = RunnerSpec {
            image: Some("alpine:3.20".into()),
            command: Some(vec!["/bin/run-tests".into()]),
            args: Some(vec!["--suite".into(), "checkout".into()]),
            env: Some(vec![
                EnvVar {
                    name: "EXTRA".into(),
                    value: Some("1".into()),
                    value_from: None,
                },
                EnvVar {
                    name: "TEST_ID".into(),
                    value: Some("hijack".into()),
                    value_from: None,
                },
                EnvVar {
                    name: "FROM_FIELD".into(),
                    value: None,
                    value_from: Some(EnvVarSource::default()),
                },
            ]),
            service_account_name: Some("tester".into()),
            pod_labels: Some(BTreeMap::from([
                ("team".into(), "payments".into()),
                (MANAGED_BY_LABEL.into(), "someone-else".into()),
            ])),
            pod_annotations: Some(BTreeMap::from([("note".into(), "hi".into())])),
            ..RunnerSpec::default()
        };
        let pod = build_runner_pod(
            &job("custom", TestId::from("Checkout Flow"), Some(runner)),
            3,
            &defaults(),
        )
        .expect("pod builds");
        let c = container(&pod);
        assert_eq!(c.image.as_deref(), Some("alpine:3.20"));
        assert_eq!(c.command, Some(vec!["/bin/run-tests".to_owned()]));
        assert_eq!(
            c.args,
            Some(vec!["--suite".to_owned(), "checkout".to_owned()])
        );
        let env = env_map(&pod);
        assert_eq!(
            env["TEST_ID"], "Checkout Flow",
            "reserved names cannot be overridden"
        );
        assert_eq!(env["EXTRA"], "1");
        assert!(env.contains_key("FROM_FIELD"));
        assert_eq!(
            c.env
                .iter()
                .flatten()
                .filter(|e| e.name == "TEST_ID")
                .count(),
            1
        );
        let spec = pod.spec.as_ref().expect("spec");
        assert_eq!(spec.service_account_name.as_deref(), Some("tester"));
        assert_eq!(spec.automount_service_account_token, None);
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels["team"], "payments");
        assert_eq!(labels[MANAGED_BY_LABEL], MANAGER, "operator labels win");
        assert_eq!(labels[TEST_ID_LABEL], "Checkout-Flow");
        assert_eq!(labels[ATTEMPT_LABEL], "3");
        assert_eq!(pod.metadata.annotations.unwrap_or_default()["note"], "hi");
        assert_eq!(pod.metadata.name.as_deref(), Some("custom-3"));
    }

    #[test]
    fn empty_command_falls_back_to_default() {
        let runner = RunnerSpec {
            command: Some(vec![]),
            ..RunnerSpec::default()
        };
        let pod = build_runner_pod(&job("e", TestId::Int(1), Some(runner)), 1, &defaults())
            .expect("pod builds");
        assert_eq!(container(&pod).command, Some(defaults().command));
    }

    #[test]
    fn missing_uid_or_namespace_is_an_error() {
        let mut no_uid = job("x", TestId::Int(1), None);
        no_uid.metadata.uid = None;
        assert!(matches!(
            build_runner_pod(&no_uid, 1, &defaults()),
            Err(InvalidJob::MissingUid)
        ));
        let mut no_ns = job("x", TestId::Int(1), None);
        no_ns.metadata.namespace = None;
        assert!(matches!(
            build_runner_pod(&no_ns, 1, &defaults()),
            Err(InvalidJob::MissingNamespace)
        ));
    }

    #[test]
    fn selector_matches_labels() {
        assert_eq!(
            pod_selector("smoke"),
            "app.kubernetes.io/managed-by=testjob-operator,testjob.dev/name=smoke"
        );
    }
}
