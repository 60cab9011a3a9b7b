//! Operator configuration: the `run` command's flags (each with an environment variable) and the
//! [`Config`] the controller is built from.

use std::time::Duration;

use crate::{Error, Result, decide::Policy, pod::RunnerDefaults};

/// Image of runners that name none. A real image, so the default works on a real cluster too.
pub const DEFAULT_RUNNER_IMAGE: &str = "busybox:1.37";

/// Script of runners that name no command: reports the test as one passed step. It only uses
/// `sh`, `printf` and `tr`, so it runs in busybox and as a local process alike.
pub const DEFAULT_RUNNER_SCRIPT: &str = r#"echo "testjob: default runner for test ${TEST_ID} (attempt ${TESTJOB_ATTEMPT})"
id=$(printf '%s' "$TEST_ID" | tr -d '"\\\n')
printf '{"results":[{"name":"%s","status":"passed"}],"message":"default runner: no command configured, test %s marked passed"}\n' "$id" "$id" > "$TESTJOB_RESULTS_FILE""#;

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
}

/// Everything the controller needs to know besides the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The only namespace watched, or `None` for all.
    pub namespace: Option<String>,
    /// Defaults for runner Pods.
    pub runner: RunnerDefaults,
    /// Time limits for decisions.
    pub policy: Policy,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            namespace: None,
            runner: RunnerDefaults {
                image: DEFAULT_RUNNER_IMAGE.into(),
                command: shell(DEFAULT_RUNNER_SCRIPT),
            },
            policy: Policy::default(),
        }
    }
}

impl TryFrom<RunArgs> for Config {
    type Error = Error;

    fn try_from(args: RunArgs) -> Result<Self> {
        let image = args.default_runner_image.trim().to_owned();
        if image.is_empty() {
            return Err(Error::Config(
                "--default-runner-image must not be empty".into(),
            ));
        }
        Ok(Config {
            namespace: args.namespace.filter(|ns| !ns.trim().is_empty()),
            runner: RunnerDefaults {
                image,
                command: parse_command(&args.default_runner_command)?,
            },
            policy: Policy {
                start_grace: Duration::from_secs(args.start_grace_seconds),
                unschedulable_timeout: Duration::from_secs(args.unschedulable_timeout_seconds),
                ..Policy::default()
            },
        })
    }
}

/// Parses `--default-runner-command`: a JSON array of strings, or a script for `sh -c`.
pub fn parse_command(value: &str) -> Result<Vec<String>> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::Config(
            "--default-runner-command must not be empty".into(),
        ));
    }
    if trimmed.starts_with('[') {
        let command: Vec<String> = serde_json::from_str(trimmed).map_err(|e| {
            Error::Config(format!(
                "--default-runner-command looks like a JSON array but is not a list of strings: {e}"
            ))
        })?;
        if command.first().is_none_or(|c| c.is_empty()) {
            return Err(Error::Config(
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
