//! The command line of `kubectl testjob` (clap): global kubectl-style flags and the
//! subcommands.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The exit codes, shown under `--help` (the README has the same table).
pub const EXIT_CODES_HELP: &str = "\
Exit codes of `run --wait`, `run --follow` and `rerun` with either:
  0  the job succeeded
  1  the tests failed: the runner ran and exited non-zero (reason TestsFailed)
  2  the job could not run or did not finish: image or config errors, a command that does not
     start, Pod deleted or rejected, unschedulable, OOM-killed, its time limit, a lost report …,
     or --timeout ran out
  3  the job was cancelled
Every other command exits 0 on success. Usage errors, API errors (NotFound, Forbidden …) and an
unreachable cluster exit 2 (\"could not run\").";

/// `kubectl testjob`: run TestJobs and read their results from CI.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl testjob",
    bin_name = "kubectl testjob",
    version,
    // As in kubectl, a flag given twice takes its last value (`-n a … -n b`).
    args_override_self = true,
    about = "Run TestJobs, wait for them with an exit code, read their results and logs",
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    /// Flags every subcommand takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// kubectl's connection flags.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster).
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace (default: the context's namespace, else `default`).
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// All namespaces (`list` only).
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new TestJob (always a new name, through generateName); optionally wait for it.
    #[command(after_help = EXIT_CODES_HELP)]
    Run(RunArgs),
    /// List TestJobs, newest first, with the columns of `kubectl get testjobs`.
    List(ListArgs),
    /// Print the results of a TestJob, or its stored full report.
    Results(ResultsArgs),
    /// Print the log of a TestJob's runner.
    Logs(LogsArgs),
    /// Run a TestJob again: a new job with the same spec, labelled testjob.dev/rerun-of=NAME.
    #[command(after_help = EXIT_CODES_HELP)]
    Rerun(RerunArgs),
    /// Cancel a TestJob (sets spec.cancel=true).
    Cancel(NameArg),
}

/// Waiting options shared by `run` and `rerun`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Wait until the job ends, print its results and exit with its outcome.
    #[arg(short = 'w', long)]
    pub wait: bool,
    /// Like --wait, and stream the runner's log while it runs.
    #[arg(short = 'F', long)]
    pub follow: bool,
    /// Give up waiting after this long (e.g. 90s, 10m, 1h30m) and exit 2.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

impl WaitArgs {
    /// Whether the command waits for the job's end.
    pub fn waits(&self) -> bool {
        self.wait || self.follow
    }
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A TestJob manifest; its metadata.name becomes the prefix of the generated name.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE",
        conflicts_with = "test_id"
    )]
    pub file: Option<PathBuf>,
    /// The test to run (integer or string), without a manifest.
    #[arg(long, value_name = "ID", required_unless_present = "file")]
    pub test_id: Option<String>,
    /// Runner image (with --test-id).
    #[arg(long, value_name = "IMAGE", requires = "test_id")]
    pub image: Option<String>,
    /// Waiting options.
    #[command(flatten)]
    pub wait: WaitArgs,
    /// The runner's command (with --test-id), after `--`.
    #[arg(last = true, value_name = "COMMAND", requires = "test_id")]
    pub command: Vec<String>,
}

/// `rerun`.
#[derive(Debug, Args)]
pub struct RerunArgs {
    /// The TestJob to run again.
    pub name: String,
    /// Waiting options.
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// A command on one named TestJob.
#[derive(Debug, Args)]
pub struct NameArg {
    /// The TestJob.
    pub name: String,
}

/// `-o` of `list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListOutput {
    /// JSON, a `List` of TestJobs.
    Json,
    /// YAML, a `List` of TestJobs.
    Yaml,
    /// `testjob.testjob.dev/NAME` per line.
    Name,
}

/// `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the jobs of this test (field selector status.testId=ID).
    #[arg(long = "test", value_name = "ID")]
    pub test: Option<String>,
    /// Only jobs in this phase (field selector status.phase=PHASE).
    #[arg(long, value_name = "PHASE")]
    pub phase: Option<String>,
    /// Output format (default: a table).
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<ListOutput>,
}

/// `--format` of `results`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ResultsFormat {
    /// The results table and the summary line.
    Table,
    /// status.results, summary and resultsOmitted as JSON.
    Json,
    /// The stored JUnit XML report, byte for byte.
    Junit,
    /// The stored TAP report, byte for byte.
    Tap,
}

/// `results`.
#[derive(Debug, Args)]
pub struct ResultsArgs {
    /// The TestJob.
    pub name: String,
    /// What to print.
    #[arg(long, value_name = "FORMAT", default_value = "table")]
    pub format: ResultsFormat,
}

/// `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The TestJob.
    pub name: String,
    /// The attempt (default: the current one).
    #[arg(long, value_name = "N")]
    pub attempt: Option<i32>,
    /// Keep streaming while the runner runs.
    #[arg(short = 'f', long)]
    pub follow: bool,
}

/// Parses `90`, `90s`, `10m`, `1h30m`, `2h`, `500ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {text:?}: expected e.g. 90s, 10m or 1h30m");
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(invalid)?;
        let number: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        let unit_len = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len() - digits);
        let unit = &rest[digits..digits + unit_len];
        total += match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number * 60),
            "h" => Duration::from_secs(number * 3600),
            _ => return Err(invalid()),
        };
        rest = &rest[digits + unit_len..];
    }
    if text.is_empty() {
        return Err(invalid());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn command_line_is_consistent_and_documents_exit_codes() {
        Cli::command().debug_assert();
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("3  the job was cancelled"), "{help}");
    }

    #[test]
    fn run_takes_a_command_after_the_double_dash() {
        let cli = Cli::try_parse_from([
            "kubectl-testjob",
            "run",
            "--test-id",
            "220",
            "-n",
            "ci",
            "--wait",
            "--",
            "sh",
            "-c",
            "exit 1",
        ])
        .map_err(|e| e.to_string());
        let Ok(Cli {
            global,
            command: Command::Run(run),
        }) = cli
        else {
            panic!("{cli:?}");
        };
        assert_eq!(global.namespace.as_deref(), Some("ci"));
        assert_eq!(run.command, ["sh", "-c", "exit 1"]);
        assert!(run.wait.waits());
        assert!(Cli::try_parse_from(["kubectl-testjob", "run"]).is_err());
    }
}
