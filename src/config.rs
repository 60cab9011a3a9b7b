//! Operator configuration: the `run` command's flags (each with an environment variable) and the
//! [`Config`] the controller is built from.

use std::{net::SocketAddr, time::Duration};

use crate::{
    crd::PodCleanup,
    notify::{NotifyArgs, NotifyConfig},
    pod::{RunnerDefaults, SidecarDefaults},
    policy::Policy,
    queue::QueueConfig,
};

/// An invalid flag or setting: the process refuses to start with it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// Default name of the Lease.
pub const DEFAULT_LEASE_NAME: &str = "testjob-operator";
/// Default lease duration in seconds: a standby takes over at most this long after the leader
/// stopped renewing.
pub const DEFAULT_LEASE_DURATION_SECONDS: u64 = 15;
/// Default grace in seconds: the leader renews this long before the Lease expires; also the
/// clock skew between replicas that is tolerated.
pub const DEFAULT_LEASE_GRACE_SECONDS: u64 = 5;

/// Image of runners that name none. A real image, so the default works on a real cluster too.
pub const DEFAULT_RUNNER_IMAGE: &str = "busybox:1.37";

/// Script of runners that name no command: reports the test as one passed step. It only uses
/// `sh`, `printf` and `tr`, so it runs in busybox and as a local process alike.
pub const DEFAULT_RUNNER_SCRIPT: &str = r#"echo "testjob: default runner for test ${TEST_ID} (attempt ${TESTJOB_ATTEMPT})"
id=$(printf '%s' "$TEST_ID" | tr -d '"\\\n')
printf '{"results":[{"name":"%s","status":"passed"}],"message":"default runner: no command configured, test %s marked passed"}\n' "$id" "$id" > "$TESTJOB_RESULTS_FILE""#;

/// Parses `--default-runner-resources` (a ResourceRequirements as JSON).
pub fn parse_resources(
    text: Option<&str>,
) -> Result<Option<k8s_openapi::api::core::v1::ResourceRequirements>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    serde_json::from_str(text).map(Some).map_err(|e| {
        ConfigError(format!(
            "--default-runner-resources must be a JSON ResourceRequirements object such as \
             '{{\"requests\":{{\"cpu\":\"500m\"}}}}': {e}"
        ))
    })
}

/// The operator's published image, for the report sidecar.
pub const DEFAULT_SIDECAR_IMAGE: &str = concat!(
    "ghcr.io/testjob-dev/testjob-operator:",
    env!("CARGO_PKG_VERSION")
);

/// Where the operator binary lives in its image.
pub const IMAGE_PROGRAM: &str = "/usr/local/bin/testjob-operator";

/// The sidecar program: `--report-sidecar-program`, else this executable.
fn sidecar_program(flag: Option<&str>) -> String {
    match flag.map(str::trim).filter(|p| !p.is_empty()) {
        Some(program) => program.to_owned(),
        None => std::env::current_exe()
            .ok()
            .and_then(|path| path.to_str().map(str::to_owned))
            .unwrap_or_else(|| IMAGE_PROGRAM.to_owned()),
    }
}

/// Flags of `testjob-operator run`.
#[derive(clap::Args, Clone, Debug)]
pub struct RunArgs {
    /// Container image for TestJobs whose runner names none.
    #[arg(long, env = "TESTJOB_OPERATOR_DEFAULT_RUNNER_IMAGE", default_value = DEFAULT_RUNNER_IMAGE)]
    pub default_runner_image: String,

    /// Entrypoint for TestJobs whose runner names no command: either a JSON array of strings
    /// (e.g. '["/bin/run-tests", "--all"]'), or any other text, which is run as a shell script
    /// with `sh -c`. [default: a script that reports the test as one passed step]
    #[arg(
        long,
        env = "TESTJOB_OPERATOR_DEFAULT_RUNNER_COMMAND",
        default_value = DEFAULT_RUNNER_SCRIPT,
        hide_default_value = true
    )]
    pub default_runner_command: String,

    /// Container resources for TestJobs whose runner sets none, as JSON, e.g.
    /// '{"requests":{"cpu":"500m","memory":"256Mi"},"limits":{"memory":"1Gi"}}'.
    #[arg(long, env = "TESTJOB_OPERATOR_DEFAULT_RUNNER_RESOURCES")]
    pub default_runner_resources: Option<String>,

    /// Image of the `report` sidecar that hands a runner's report over: this operator's own
    /// image (the Helm chart passes it).
    #[arg(long, env = "TESTJOB_OPERATOR_REPORT_SIDECAR_IMAGE", default_value = DEFAULT_SIDECAR_IMAGE)]
    pub report_sidecar_image: String,

    /// Path of the operator binary inside that image. [default: this process's own executable,
    /// which is right in the operator's image and for runner Pods on this machine]
    #[arg(long, env = "TESTJOB_OPERATOR_REPORT_SIDECAR_PROGRAM")]
    pub report_sidecar_program: Option<String>,

    /// Watch TestJobs in this namespace only (default: all namespaces).
    #[arg(long, env = "TESTJOB_OPERATOR_NAMESPACE")]
    pub namespace: Option<String>,

    /// Seconds a runner container may wait on an image pull or configuration error before the
    /// job fails.
    #[arg(
        long,
        env = "TESTJOB_OPERATOR_START_GRACE_SECONDS",
        default_value_t = 60
    )]
    pub start_grace_seconds: u64,

    /// Seconds a runner Pod may stay unschedulable before the job fails.
    #[arg(
        long,
        env = "TESTJOB_OPERATOR_UNSCHEDULABLE_TIMEOUT_SECONDS",
        default_value_t = 300
    )]
    pub unschedulable_timeout_seconds: u64,

    /// TestJobs reconciled at once. kube-rs speaks HTTP/1.1, so every reconcile in flight may
    /// hold an API connection of its own: this bounds the operator's connections, memory and
    /// the load it puts on the API server when thousands of jobs arrive at once.
    #[arg(
        long,
        env = "TESTJOB_OPERATOR_CONCURRENCY",
        default_value_t = DEFAULT_CONCURRENCY,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub concurrency: u16,

    /// Leader election.
    #[command(flatten)]
    pub leader: LeaderElectionArgs,

    /// Metrics, health endpoints and logs.
    #[command(flatten)]
    pub observability: ObservabilityArgs,

    /// Defaults of TestJob fields, and the run queue.
    #[command(flatten)]
    pub jobs: JobArgs,

    /// Notifications.
    #[command(flatten)]
    pub notify: NotifyArgs,
}

/// Flags of `testjob-operator run` for the queue and the defaults of TestJob fields.
#[derive(clap::Args, Clone, Debug)]
pub struct JobArgs {
    /// At most this many TestJobs Running at once in the watched namespaces; the others wait,
    /// by priority (highest first), then age (oldest first). 0 means no limit.
    #[arg(long, env = "TESTJOB_OPERATOR_MAX_RUNNING", default_value_t = 0)]
    pub max_running: usize,

    /// `priority` of TestJobs that set none.
    #[arg(
        long,
        env = "TESTJOB_OPERATOR_DEFAULT_PRIORITY",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub default_priority: i32,

    /// `timeoutSeconds` of TestJobs that set none: the time limit of one attempt. 0 means none.
    #[arg(
        long,
        env = "TESTJOB_OPERATOR_DEFAULT_TIMEOUT_SECONDS",
        default_value_t = 0
    )]
    pub default_timeout_seconds: u32,

    /// `retries` of TestJobs that set none (0 to 10).
    #[arg(
        long,
        env = "TESTJOB_OPERATOR_DEFAULT_RETRIES",
        default_value_t = 0,
        value_parser = clap::value_parser!(i32).range(0..=10)
    )]
    pub default_retries: i32,

    /// Pause in seconds after a failed attempt before the next; it doubles after each further
    /// failure (fractions allowed).
    #[arg(
        long,
        env = "TESTJOB_OPERATOR_RETRY_BACKOFF_SECONDS",
        default_value_t = 10.0
    )]
    pub retry_backoff_seconds: f64,

    /// Longest pause in seconds between two attempts.
    #[arg(
        long,
        env = "TESTJOB_OPERATOR_MAX_RETRY_BACKOFF_SECONDS",
        default_value_t = 300.0
    )]
    pub max_retry_backoff_seconds: f64,

    /// `podCleanup` of TestJobs that set none: Never, OnSuccess or Always.
    #[arg(
        long,
        env = "TESTJOB_OPERATOR_DEFAULT_POD_CLEANUP",
        default_value_t = PodCleanup::OnSuccess,
        value_parser = str::parse::<PodCleanup>
    )]
    pub default_pod_cleanup: PodCleanup,

    /// `ttlSecondsAfterFinished` of TestJobs that set none [default: keep finished TestJobs]
    #[arg(long, env = "TESTJOB_OPERATOR_DEFAULT_TTL_SECONDS_AFTER_FINISHED")]
    pub default_ttl_seconds_after_finished: Option<u64>,

    /// `keepLogs` of TestJobs that set none: keep the last 64 KiB of a runner's log in its
    /// report ConfigMap before the Pod is deleted (one log read, and the ConfigMap write when
    /// the job has no report, per deleted Pod).
    #[arg(
        long,
        env = "TESTJOB_OPERATOR_DEFAULT_KEEP_LOGS",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    pub default_keep_logs: bool,
}

impl JobArgs {
    fn backoff(&self) -> Result<(Duration, Duration)> {
        let seconds = |flag: &str, value: f64| {
            Duration::try_from_secs_f64(value).map_err(|_| {
                ConfigError(format!("{flag} must be a number of seconds, not {value}"))
            })
        };
        let base = seconds("--retry-backoff-seconds", self.retry_backoff_seconds)?;
        let max = seconds(
            "--max-retry-backoff-seconds",
            self.max_retry_backoff_seconds,
        )?;
        if max < base {
            return Err(ConfigError(
                "--max-retry-backoff-seconds must not be less than --retry-backoff-seconds".into(),
            ));
        }
        Ok((base, max))
    }
}

/// Leader-election flags of `testjob-operator run`.
#[derive(clap::Args, Clone, Debug)]
pub struct LeaderElectionArgs {
    /// Run as one of several replicas: only the holder of a Lease reconciles, the others stand by
    /// and take over when it stops renewing.
    #[arg(long, env = "TESTJOB_OPERATOR_LEADER_ELECT")]
    pub leader_elect: bool,

    /// Name of the Lease (`coordination.k8s.io/v1`) used for leader election.
    #[arg(long, env = "TESTJOB_OPERATOR_LEASE_NAME", default_value = DEFAULT_LEASE_NAME)]
    pub lease_name: String,

    /// Namespace of the Lease [default: POD_NAMESPACE, else the service account's namespace
    /// in-cluster, else the kubeconfig context's namespace]
    #[arg(long, env = "TESTJOB_OPERATOR_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// Seconds the Lease stays valid after a renewal: a standby takes over at most this long
    /// after the leader died.
    #[arg(long, env = "TESTJOB_OPERATOR_LEASE_DURATION_SECONDS", default_value_t = DEFAULT_LEASE_DURATION_SECONDS)]
    pub lease_duration_seconds: u64,

    /// Seconds before expiry at which the leader renews the Lease (at least 1, less than the
    /// duration); also the clock skew between replicas that is tolerated.
    #[arg(long, env = "TESTJOB_OPERATOR_LEASE_GRACE_SECONDS", default_value_t = DEFAULT_LEASE_GRACE_SECONDS)]
    pub lease_grace_seconds: u64,
}

/// Observability flags of `testjob-operator run` (and `sandbox`).
#[derive(clap::Args, Clone, Debug)]
pub struct ObservabilityArgs {
    /// Address of the HTTP server for /metrics (OpenMetrics), /healthz and /readyz.
    #[arg(long, env = "TESTJOB_OPERATOR_METRICS_ADDR", default_value = DEFAULT_METRICS_ADDR)]
    pub metrics_addr: SocketAddr,

    /// Log format on standard error: `text` for people, `json` (one object per line) for log
    /// collectors.
    #[arg(long, env = "TESTJOB_OPERATOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Which Kubernetes events to publish on TestJobs: `all` (Started, Succeeded, Queued, ...),
    /// `warnings` (only Failed, AttemptFailed and other Warning events: a job that succeeds
    /// costs no event writes), or `none`.
    #[arg(long, env = "TESTJOB_OPERATOR_EVENTS", value_enum, default_value_t = EventLevel::All)]
    pub events: EventLevel,
}

/// Which events the controller publishes (`--events`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EventLevel {
    /// Normal and Warning events.
    #[default]
    All,
    /// Warning events only.
    Warnings,
    /// No events.
    None,
}

impl EventLevel {
    /// Whether an event of this type is published.
    pub fn publishes(self, warning: bool) -> bool {
        match self {
            EventLevel::All => true,
            EventLevel::Warnings => warning,
            EventLevel::None => false,
        }
    }
}

/// Default of `--metrics-addr`.
pub const DEFAULT_METRICS_ADDR: &str = "0.0.0.0:8080";

/// Log output formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// How replicas elect their leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderElection {
    /// Name of the Lease.
    pub lease_name: String,
    /// Namespace of the Lease; `None` resolves at startup (see `leader::resolve_namespace`).
    pub lease_namespace: Option<String>,
    /// Seconds the Lease stays valid after a renewal.
    pub duration_seconds: u64,
    /// Seconds before expiry at which the leader renews.
    pub grace_seconds: u64,
}

impl LeaderElectionArgs {
    fn into_config(self) -> Result<Option<LeaderElection>> {
        if !self.leader_elect {
            return Ok(None);
        }
        let lease_name = self.lease_name.trim().to_owned();
        if lease_name.is_empty() {
            return Err(ConfigError("--lease-name must not be empty".into()));
        }
        if self.lease_grace_seconds == 0 || self.lease_grace_seconds >= self.lease_duration_seconds
        {
            return Err(ConfigError(format!(
                "--lease-grace-seconds must be at least 1 and less than --lease-duration-seconds ({})",
                self.lease_duration_seconds
            )));
        }
        Ok(Some(LeaderElection {
            lease_name,
            lease_namespace: self.lease_namespace.filter(|ns| !ns.trim().is_empty()),
            duration_seconds: self.lease_duration_seconds,
            grace_seconds: self.lease_grace_seconds,
        }))
    }
}

/// Everything the controller needs to know besides the cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The only namespace watched, or `None` for all.
    pub namespace: Option<String>,
    /// Defaults for runner Pods.
    pub runner: RunnerDefaults,
    /// Time limits for decisions.
    pub policy: Policy,
    /// Leader election, when several replicas run.
    pub leader_election: Option<LeaderElection>,
    /// Address of the HTTP server for /metrics, /healthz and /readyz.
    pub metrics_addr: SocketAddr,
    /// The run queue (`--max-running`).
    pub queue: QueueConfig,
    /// TestJobs reconciled at once (`--concurrency`).
    pub concurrency: u16,
    /// Which events to publish (`--events`).
    pub events: EventLevel,
    /// Where notifications go (`--notify-url`), if anywhere.
    pub notify: Option<NotifyConfig>,
}

/// Default of `--concurrency`.
pub const DEFAULT_CONCURRENCY: u16 = 16;

impl Default for Config {
    fn default() -> Self {
        Config {
            namespace: None,
            runner: RunnerDefaults {
                resources: None,
                image: DEFAULT_RUNNER_IMAGE.into(),
                command: shell(DEFAULT_RUNNER_SCRIPT),
                timeout_seconds: None,
                sidecar: SidecarDefaults {
                    image: DEFAULT_SIDECAR_IMAGE.into(),
                    program: sidecar_program(None),
                },
            },
            policy: Policy::default(),
            leader_election: None,
            metrics_addr: SocketAddr::from(([0, 0, 0, 0], 8080)),
            queue: QueueConfig::default(),
            concurrency: DEFAULT_CONCURRENCY,
            events: EventLevel::All,
            notify: None,
        }
    }
}

impl TryFrom<RunArgs> for Config {
    type Error = ConfigError;

    fn try_from(args: RunArgs) -> Result<Self> {
        let image = args.default_runner_image.trim().to_owned();
        if image.is_empty() {
            return Err(ConfigError(
                "--default-runner-image must not be empty".into(),
            ));
        }
        if args.report_sidecar_image.trim().is_empty() {
            return Err(ConfigError(
                "--report-sidecar-image must not be empty".into(),
            ));
        }
        let (retry_backoff, max_retry_backoff) = args.jobs.backoff()?;
        Ok(Config {
            namespace: args.namespace.filter(|ns| !ns.trim().is_empty()),
            runner: RunnerDefaults {
                resources: parse_resources(args.default_runner_resources.as_deref())?,
                image,
                command: parse_command(&args.default_runner_command)?,
                timeout_seconds: Some(i64::from(args.jobs.default_timeout_seconds))
                    .filter(|seconds| *seconds > 0),
                sidecar: SidecarDefaults {
                    image: args.report_sidecar_image.trim().to_owned(),
                    program: sidecar_program(args.report_sidecar_program.as_deref()),
                },
            },
            policy: Policy {
                start_grace: Duration::from_secs(args.start_grace_seconds),
                unschedulable_timeout: Duration::from_secs(args.unschedulable_timeout_seconds),
                retry_backoff,
                max_retry_backoff,
                retries: args.jobs.default_retries,
                pod_cleanup: args.jobs.default_pod_cleanup,
                ttl_after_finished: args
                    .jobs
                    .default_ttl_seconds_after_finished
                    .map(Duration::from_secs),
                keep_logs: args.jobs.default_keep_logs,
                ..Policy::default()
            },
            leader_election: args.leader.into_config()?,
            metrics_addr: args.observability.metrics_addr,
            queue: QueueConfig {
                max_running: args.jobs.max_running,
                default_priority: args.jobs.default_priority,
            },
            concurrency: args.concurrency,
            events: args.observability.events,
            notify: args.notify.into_config().map_err(ConfigError)?,
        })
    }
}

/// Parses `--default-runner-command`: a JSON array of strings, or a script for `sh -c`.
pub fn parse_command(value: &str) -> Result<Vec<String>> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ConfigError(
            "--default-runner-command must not be empty".into(),
        ));
    }
    if trimmed.starts_with('[') {
        let command: Vec<String> = serde_json::from_str(trimmed).map_err(|e| {
            ConfigError(format!(
                "--default-runner-command looks like a JSON array but is not a list of strings: {e}"
            ))
        })?;
        if command.first().is_none_or(|c| c.is_empty()) {
            return Err(ConfigError(
                "--default-runner-command must name a program".into(),
            ));
        }
        return Ok(command);
    }
    Ok(shell(value))
}

fn shell(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_runner_resources_parse_or_explain() {
        assert_eq!(parse_resources(None).ok(), Some(None));
        let parsed = parse_resources(Some(
            r#"{"requests":{"cpu":"500m"},"limits":{"memory":"1Gi"}}"#,
        ))
        .expect("valid")
        .expect("some");
        let requests = parsed.requests.expect("requests");
        assert_eq!(requests["cpu"].0, "500m");
        let err = parse_resources(Some("cpu=1")).expect_err("not JSON");
        assert!(
            err.to_string()
                .contains("--default-runner-resources must be a JSON"),
            "{err}"
        );
    }

    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> Result<Config> {
        let cli = Cli::try_parse_from(std::iter::once("run").chain(args.iter().copied()))
            .expect("flags parse");
        Config::try_from(cli.run)
    }

    #[test]
    fn defaults() {
        let config = parse(&[]).expect("valid");
        assert_eq!(config, Config::default());
        assert_eq!(config.runner.image, "busybox:1.37");
        assert_eq!(config.runner.command[..2], ["sh", "-c"]);
        assert_eq!(config.namespace, None);
        assert_eq!(config.policy.start_grace, Duration::from_secs(60));
    }

    #[test]
    fn flags_override_defaults() {
        let config = parse(&[
            "--default-runner-image",
            "alpine:3.20",
            "--default-runner-command",
            r#"["/bin/run", "--all"]"#,
            "--namespace",
            "ci",
            "--start-grace-seconds",
            "5",
            "--unschedulable-timeout-seconds",
            "7",
        ])
        .expect("valid");
        assert_eq!(config.runner.image, "alpine:3.20");
        assert_eq!(config.runner.command, ["/bin/run", "--all"]);
        assert_eq!(config.namespace.as_deref(), Some("ci"));
        assert_eq!(config.policy.start_grace, Duration::from_secs(5));
        assert_eq!(config.policy.unschedulable_timeout, Duration::from_secs(7));
    }

    #[test]
    fn commands_parse_as_json_or_shell() {
        assert_eq!(
            parse_command("echo hi > $TESTJOB_RESULTS_FILE").expect("valid"),
            ["sh", "-c", "echo hi > $TESTJOB_RESULTS_FILE"]
        );
        assert_eq!(parse_command(r#" ["run"] "#).expect("valid"), ["run"]);
        assert!(parse_command("  ").is_err());
        assert!(parse_command("[]").is_err());
        assert!(parse_command(r#"[""]"#).is_err());
        let error = parse_command("[1, 2]").expect_err("not strings");
        assert!(error.to_string().contains("list of strings"), "{error}");
    }

    #[test]
    fn queue_and_job_default_flags() {
        let defaults = parse(&[]).expect("valid");
        assert_eq!(defaults.queue, QueueConfig::default());
        assert_eq!(defaults.runner.timeout_seconds, None);
        assert_eq!(defaults.policy.retries, 0);
        assert_eq!(defaults.policy.pod_cleanup, PodCleanup::OnSuccess);
        assert_eq!(defaults.policy.ttl_after_finished, None);
        assert_eq!(defaults.policy.retry_backoff, Duration::from_secs(10));
        assert_eq!(defaults.policy.max_retry_backoff, Duration::from_secs(300));

        let config = parse(&[
            "--max-running",
            "3",
            "--default-priority",
            "-5",
            "--default-timeout-seconds",
            "600",
            "--default-retries",
            "2",
            "--retry-backoff-seconds",
            "0.5",
            "--max-retry-backoff-seconds",
            "4",
            "--default-pod-cleanup",
            "Always",
            "--default-ttl-seconds-after-finished",
            "3600",
        ])
        .expect("valid");
        assert_eq!(
            config.queue,
            QueueConfig {
                max_running: 3,
                default_priority: -5
            }
        );
        assert_eq!(config.runner.timeout_seconds, Some(600));
        assert_eq!(config.policy.retries, 2);
        assert_eq!(config.policy.retry_backoff, Duration::from_millis(500));
        assert_eq!(config.policy.max_retry_backoff, Duration::from_secs(4));
        assert_eq!(config.policy.pod_cleanup, PodCleanup::Always);
        assert_eq!(
            config.policy.ttl_after_finished,
            Some(Duration::from_secs(3600))
        );
    }

    #[test]
    fn concurrency_and_event_flags() {
        let defaults = parse(&[]).expect("valid");
        assert_eq!(defaults.concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(defaults.events, EventLevel::All);
        let config = parse(&["--concurrency", "64", "--events", "warnings"]).expect("valid");
        assert_eq!(config.concurrency, 64);
        assert_eq!(config.events, EventLevel::Warnings);
        assert!(config.events.publishes(true) && !config.events.publishes(false));
        assert!(!EventLevel::None.publishes(true));
        let cli = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("run").chain(args.iter().copied())).map(|_| ())
        };
        assert!(cli(&["--concurrency", "0"]).is_err());
        assert!(cli(&["--events", "some"]).is_err());
    }

    #[test]
    fn bad_queue_and_job_default_flags_are_refused() {
        let cli = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("run").chain(args.iter().copied())).map(|_| ())
        };
        assert!(cli(&["--default-retries", "11"]).is_err());
        assert!(cli(&["--default-pod-cleanup", "sometimes"]).is_err());
        assert!(cli(&["--max-running", "-1"]).is_err());
        let error = parse(&[
            "--retry-backoff-seconds",
            "10",
            "--max-retry-backoff-seconds",
            "5",
        ])
        .expect_err("max below base");
        assert!(
            error.to_string().contains("--max-retry-backoff-seconds"),
            "{error}"
        );
        assert!(cli(&["--retry-backoff-seconds", "-1"]).is_err());
        assert!(parse(&["--retry-backoff-seconds", "NaN"]).is_err());
    }

    #[test]
    fn leader_election_and_observability_flags() {
        let config = parse(&[]).expect("valid");
        assert_eq!(config.leader_election, None);
        assert_eq!(config.metrics_addr.to_string(), "0.0.0.0:8080");

        let config = parse(&[
            "--leader-elect",
            "--lease-namespace",
            "ops",
            "--lease-duration-seconds",
            "20",
            "--lease-grace-seconds",
            "4",
            "--metrics-addr",
            "127.0.0.1:9090",
        ])
        .expect("valid");
        assert_eq!(
            config.leader_election,
            Some(LeaderElection {
                lease_name: "testjob-operator".into(),
                lease_namespace: Some("ops".into()),
                duration_seconds: 20,
                grace_seconds: 4,
            })
        );
        assert_eq!(config.metrics_addr.to_string(), "127.0.0.1:9090");
        let defaults = parse(&["--leader-elect", "--lease-namespace", " "])
            .expect("valid")
            .leader_election
            .expect("leader election on");
        assert_eq!((defaults.duration_seconds, defaults.grace_seconds), (15, 5));
        assert_eq!(defaults.lease_namespace, None);

        let cli = Cli::try_parse_from(["run", "--log-format", "json"]).expect("flags parse");
        assert_eq!(cli.run.observability.log_format, LogFormat::Json);
        assert!(Cli::try_parse_from(["run", "--log-format", "xml"]).is_err());
        assert!(Cli::try_parse_from(["run", "--metrics-addr", "localhost"]).is_err());
    }

    #[test]
    fn lease_timings_that_kube_lease_manager_refuses_are_refused() {
        for (duration, grace) in [("10", "0"), ("5", "5"), ("5", "9")] {
            let error = parse(&[
                "--leader-elect",
                "--lease-duration-seconds",
                duration,
                "--lease-grace-seconds",
                grace,
            ])
            .expect_err("invalid");
            assert!(
                error.to_string().contains("--lease-grace-seconds"),
                "{error}"
            );
        }
        assert!(parse(&["--leader-elect", "--lease-name", " "]).is_err());
        // Without --leader-elect the lease flags are not used, so not checked.
        assert!(parse(&["--lease-grace-seconds", "0"]).is_ok());
    }

    #[test]
    fn empty_namespace_means_all_and_empty_image_is_refused() {
        assert_eq!(parse(&["--namespace", ""]).expect("valid").namespace, None);
        assert!(parse(&["--default-runner-image", " "]).is_err());
    }

    #[test]
    fn default_script_writes_valid_results() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("results.json");
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(DEFAULT_RUNNER_SCRIPT)
            .env("TEST_ID", r#"odd "id" \ here"#)
            .env("TESTJOB_ATTEMPT", "1")
            .env("TESTJOB_RESULTS_FILE", &file)
            .status()
            .expect("sh runs");
        assert!(status.success());
        let written = std::fs::read_to_string(&file).expect("results written");
        let report = crate::results::parse_report(Some(&written));
        assert_eq!(report.problem, None, "{written}");
        assert_eq!(report.results.len(), 1);
        assert_eq!(report.results[0].name, "odd id  here");
    }
}
