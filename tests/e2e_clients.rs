//! The client examples of `examples/clients/` as an app would run them: `python_client.py`
//! (the official `kubernetes` client, from the tools' virtualenv) and `curl_client.sh` (curl
//! against the raw REST API), both with a ServiceAccount token limited to what their comments
//! say they need. Each schedules a job, watches it until it ends and exits like
//! `kubectl testjob run --wait`: 0 passed, 1 tests failed, 2 could not run.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail, ensure};
use base64::Engine;
use common::{TestEnv, package_file};
use kube::config::Kubeconfig;
use tokio::process::Command;

/// A role with exactly what the examples' comments ask for.
const CLIENT_RBAC: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: app-testjobs
rules:
  - apiGroups: ["testjob.dev"]
    resources: ["testjobs"]
    verbs: ["create", "get", "list", "watch"]
  - apiGroups: [""]
    resources: ["pods/log"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: app-testjobs
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: app-testjobs
subjects:
  - kind: ServiceAccount
    name: app
"#;

/// What an app gets handed: the API server's address, its CA and a ServiceAccount token.
struct Connection {
    server: String,
    ca_file: PathBuf,
    token: String,
}

/// The server and CA of the kubeconfig's current context, and a token for the `app` account.
async fn connection(env: &TestEnv, dir: &Path) -> anyhow::Result<Connection> {
    let kubeconfig = Kubeconfig::read_from(env.kubeconfig())?;
    let context_name = kubeconfig
        .current_context
        .clone()
        .context("the kubeconfig has no current context")?;
    let context = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.clone())
        .context("the current context is not in the kubeconfig")?;
    let cluster = kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.clone())
        .context("the context's cluster is not in the kubeconfig")?;
    let server = cluster.server.context("the cluster has no server")?;
    let ca_file = dir.join("ca.crt");
    match (
        &cluster.certificate_authority_data,
        &cluster.certificate_authority,
    ) {
        (Some(data), _) => std::fs::write(
            &ca_file,
            base64::engine::general_purpose::STANDARD.decode(data.trim())?,
        )?,
        (None, Some(path)) => {
            std::fs::copy(path, &ca_file)?;
        }
        (None, None) => bail!("the cluster has no certificate authority"),
    }
    let token = env
        .kubectl_ok(&["create", "token", "app", "--duration=1h"])
        .await?
        .trim()
        .to_owned();
    Ok(Connection {
        server,
        ca_file,
        token,
    })
}

struct Finished {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn run_client(
    env: &TestEnv,
    connection: &Connection,
    program: &Path,
    script: &str,
    args: Vec<&str>,
) -> anyhow::Result<Finished> {
    let script = package_file(script);
    let mut command = Command::new(program);
    command
        .arg(&script)
        .args(&args)
        .env("K8S_SERVER", &connection.server)
        .env("K8S_TOKEN", &connection.token)
        .env("K8S_CA_FILE", &connection.ca_file)
        .env("K8S_NAMESPACE", &env.namespace)
        // The examples must not fall back on the test's admin kubeconfig.
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .with_context(|| format!("running {}", program.display()))?;
    let limit = env.timeout();
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .with_context(|| format!("{} {args:?} did not end in {limit:?}", script.display()))??;
    Ok(Finished {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// A runner that prints a line and reports one passing or failing test.
fn runner(verdict: &str, exit: u8) -> String {
    format!(
        "echo client-runner-says-hello; \
         printf '{{\"results\":[{{\"name\":\"checkout\",\"status\":\"{verdict}\",\"message\":\"cart total {verdict}\"}}]}}' \
         > \"$TESTJOB_RESULTS_FILE\"; exit {exit}"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn client_examples_schedule_watch_and_exit_with_the_outcome() -> anyhow::Result<()> {
    let env = TestEnv::new("clients").await?;
    env.start_operator_with(&["--start-grace-seconds", "1"])
        .await?;
    env.apply_yaml(CLIENT_RBAC).await?;
    let dir = tempfile::tempdir()?;
    let connection = connection(&env, dir.path()).await?;
    let python = testjob_testkit::tools::python();
    let sh = PathBuf::from("sh");
    let (passed, failed) = (runner("passed", 0), runner("failed", 1));
    let curl = "examples/clients/curl_client.sh";
    let py = "examples/clients/python_client.py";
    let (curl_passed, curl_failed, curl_not_run, python_passed, python_failed) = tokio::join!(
        run_client(
            &env,
            &connection,
            &sh,
            curl,
            vec!["101", "sh", "-c", &passed]
        ),
        run_client(
            &env,
            &connection,
            &sh,
            curl,
            vec!["102", "sh", "-c", &failed]
        ),
        run_client(
            &env,
            &connection,
            &sh,
            curl,
            vec!["103", "no-such-test-tool"]
        ),
        run_client(
            &env,
            &connection,
            &python,
            py,
            vec!["201", "sh", "-c", &passed]
        ),
        run_client(
            &env,
            &connection,
            &python,
            py,
            vec!["202", "sh", "-c", &failed]
        ),
    );
    let log = env.operator_log();
    let report = |what: &str, run: &Finished| {
        format!(
            "{what}: exit {}\n--- stdout\n{}--- stderr\n{}",
            run.code, run.stdout, run.stderr
        )
    };

    let run = curl_passed?;
    ensure!(
        run.code == 0
            && run.stdout.contains("phase: Succeeded")
            && run
                .stdout
                .contains("summary: 1/1 passed, 0 failed, 0 skipped (TestsPassed)"),
        "{}\n{log}",
        report("curl, passing", &run)
    );
    let run = curl_failed?;
    ensure!(
        run.code == 1
            && run.stdout.contains("phase: Failed")
            && run
                .stdout
                .contains("summary: 0/1 passed, 1 failed, 0 skipped (TestsFailed)"),
        "{}\n{log}",
        report("curl, failing", &run)
    );
    let run = curl_not_run?;
    ensure!(
        run.code == 2 && run.stdout.contains("(StartError)"),
        "{}\n{log}",
        report("curl, command not found", &run)
    );
    // A passed job's Pod is deleted, and its log with it (unless kept): the script says so.
    let run = python_passed?;
    ensure!(
        run.code == 0
            && run
                .stdout
                .contains("1/1 passed, 0 failed, 0 skipped (TestsPassed)")
            && run.stderr.contains("404 Not Found"),
        "{}\n{log}",
        report("python, passing", &run)
    );
    // A failed job's Pod is kept: its log is printed.
    let run = python_failed?;
    ensure!(
        run.code == 1
            && run.stdout.contains("failed   checkout  cart total failed")
            && run
                .stdout
                .contains("0/1 passed, 1 failed, 0 skipped (TestsFailed)")
            && run.stdout.contains("client-runner-says-hello"),
        "{}\n{log}",
        report("python, failing", &run)
    );

    // The five jobs the scripts scheduled.
    let phases = env.phases().await?;
    ensure!(phases.len() == 5, "{phases:?}");
    Ok(())
}
