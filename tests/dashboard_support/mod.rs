//! What the dashboard's tests share: a sandbox with the CRD, the controller and the dashboard
//! running in this process, TestJobs whose simulated runner Pods report chosen outcomes, and a
//! headless Chromium driven over WebDriver (chromedriver) by fantoccini.

#![allow(dead_code)] // each test binary uses part of it

use std::collections::BTreeMap;
use std::future::Future;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client as Browser, ClientBuilder, Locator};
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use kube_sandbox::PodMode;
use serde_json::json;
use testjob_operator::crd::{RunnerSpec, TestJob, TestJobSpec};
use testjob_operator::dashboard::{Dashboard, Settings};
use testjob_testkit::sandbox::{SandboxOptions, TestSandbox};

/// How long any single wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Waits until `check` returns Some, failing the test after `limit` (the test kit's poll).
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    testjob_testkit::wait::poll(what, limit, || {
        let checked = check();
        async move { Ok(checked.await) }
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"))
}

/// The controller's configuration for a test: `--max-running`, metrics on a free local port.
pub fn controller_config(max_running: usize) -> testjob_operator::Config {
    testjob_operator::Config {
        metrics_addr: "127.0.0.1:0".parse().expect("addr"),
        queue: testjob_operator::queue::QueueConfig {
            max_running,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A sandbox (simulated Pods) with the CRD, the controller and the dashboard.
pub struct Stack {
    pub sandbox: TestSandbox,
    pub client: Client,
    pub dashboard: Dashboard,
    controller: tokio::task::JoinHandle<()>,
}

impl Stack {
    /// Starts everything; `max_running` goes to both the controller and the dashboard.
    pub async fn start(max_running: usize) -> Stack {
        let sandbox = TestSandbox::start(SandboxOptions::with_pods(PodMode::Simulate))
            .await
            .expect("sandbox");
        let client = sandbox.client().await.expect("client");
        testjob_operator::sandbox_cmd::install_crd(&client)
            .await
            .expect("CRD");
        let config = controller_config(max_running);
        let controller = tokio::spawn({
            let client = client.clone();
            async move {
                if let Err(error) = testjob_operator::operator::run(client, config).await {
                    panic!("controller stopped: {error}");
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let settings = Settings {
            namespace: None,
            max_running,
            default_priority: 0,
            page_size: 100,
        };
        let dashboard = Dashboard::start(client.clone(), settings, listener).expect("dashboard");
        let stack = Stack {
            sandbox,
            client,
            dashboard,
            controller,
        };
        let ready = format!("{}readyz", stack.url());
        eventually("the dashboard's first list", DEADLINE, || async {
            get(&ready).await.ok().filter(|(status, _)| *status == 200)
        })
        .await;
        stack
    }

    /// The dashboard's base URL, ending in `/`.
    pub fn url(&self) -> String {
        self.dashboard.url()
    }

    /// The TestJobs of `namespace`.
    pub fn jobs(&self, namespace: &str) -> Api<TestJob> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Creates `job` in `namespace`.
    pub async fn create(&self, namespace: &str, job: &TestJob) {
        self.jobs(namespace)
            .create(&PostParams::default(), job)
            .await
            .unwrap_or_else(|e| panic!("creating {}: {e}", job.name_any()));
    }

    pub async fn shutdown(self) {
        self.controller.abort();
        self.dashboard.server.abort();
        self.dashboard.watch.abort();
        self.sandbox.shutdown().await;
    }
}

/// `GET url` with a plain HTTP/1.1 client: status and body.
pub async fn get(url: &str) -> std::io::Result<(u16, String)> {
    let (status, _, body) = get_with_headers(url).await?;
    Ok((status, body))
}

/// `GET url`: status, headers (lower-case names) and body, within [`DEADLINE`].
pub async fn get_with_headers(
    url: &str,
) -> std::io::Result<(u16, BTreeMap<String, String>, String)> {
    use http_body_util::{BodyExt, Empty};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<bytes::Bytes>>();
    let uri: hyper::Uri = url.parse().map_err(std::io::Error::other)?;
    let fetch = async {
        let response = client.get(uri).await.map_err(std::io::Error::other)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(std::io::Error::other)?;
        Ok((
            status,
            headers,
            String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        ))
    };
    tokio::time::timeout(DEADLINE, fetch)
        .await
        .map_err(|_| std::io::Error::other(format!("GET {url} timed out")))?
}

/// What a simulated runner Pod does.
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// How long the runner runs.
    pub seconds: f64,
    /// Its exit code.
    pub exit_code: i32,
    /// The results file it writes (the termination message).
    pub results: Option<serde_json::Value>,
    /// Its log.
    pub log: Option<String>,
}

/// A TestJob whose runner Pod does `run` (through the sandbox's simulate-mode annotations).
pub fn job(name: &str, test_id: &str, run: &Run) -> TestJob {
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "sandbox.kube/run-seconds".to_string(),
        run.seconds.to_string(),
    );
    annotations.insert(
        "sandbox.kube/exit-code".to_string(),
        run.exit_code.to_string(),
    );
    if let Some(results) = &run.results {
        annotations.insert(
            "sandbox.kube/termination-message".to_string(),
            results.to_string(),
        );
    }
    if let Some(log) = &run.log {
        annotations.insert("sandbox.kube/log".to_string(), log.clone());
    }
    let mut spec = TestJobSpec::new(test_id);
    spec.runner = Some(Box::new(RunnerSpec {
        pod_annotations: Some(annotations),
        ..Default::default()
    }));
    // Keep the Pods of succeeded jobs, so that the job page can show their log.
    spec.pod_cleanup = Some(testjob_operator::crd::PodCleanup::Never);
    TestJob::new(name, spec)
}

/// Results of a runner, as the results file holds them.
pub fn results(steps: &[(&str, &str, Option<&str>)], message: &str) -> serde_json::Value {
    let steps: Vec<_> = steps
        .iter()
        .map(|(name, status, msg)| match msg {
            Some(m) => json!({"name": name, "status": status, "message": m}),
            None => json!({"name": name, "status": status}),
        })
        .collect();
    json!({"results": steps, "message": message})
}

fn tool(env: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: the browser tests need Debian's chromium and chromium-driver; \
         run scripts/install-browser.sh (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A headless Chromium session and its chromedriver, both stopped on drop.
pub struct Chrome {
    pub browser: Browser,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Chrome {
    /// Starts chromedriver on a free local port and opens a session with a fresh profile.
    pub async fn start(width: u32, height: u32) -> Chrome {
        let chromium = tool("TESTJOB_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = tool("TESTJOB_CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let status = format!("http://127.0.0.1:{port}/status");
        eventually("chromedriver to listen", DEADLINE, || async {
            get(&status).await.ok().filter(|(code, _)| *code == 200)
        })
        .await;
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }
        });
        let caps = caps.as_object().cloned().expect("object");
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let browser = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session with chromium");
        Chrome {
            browser,
            driver,
            _profile: profile,
        }
    }

    /// The text of the first element matching `css`, if any.
    pub async fn text(&self, css: &str) -> Option<String> {
        let element = self.browser.find(Locator::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    /// Runs `script` (a function body) in the page.
    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.browser
            .execute(script, vec![])
            .await
            .expect("execute script")
    }

    /// Waits until the page's `script` returns a truthy value and returns it.
    pub async fn until(&self, what: &str, script: &str) -> serde_json::Value {
        eventually(what, DEADLINE, || async {
            let value = self.browser.execute(script, vec![]).await.ok()?;
            let truthy = !matches!(
                &value,
                serde_json::Value::Null | serde_json::Value::Bool(false)
            ) && value != json!("")
                && value != json!(0);
            truthy.then_some(value)
        })
        .await
    }

    /// Writes a PNG screenshot to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.browser.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).expect("write screenshot");
    }

    pub async fn close(mut self) {
        let _ = self.browser.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

/// Reads `url` as a server-sent event stream until `needle` shows up (within [`DEADLINE`]).
pub async fn read_sse_until(url: &str, needle: &str) -> String {
    use http_body_util::{BodyExt, Empty};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<bytes::Bytes>>();
    let read = async {
        let response = client
            .get(url.parse().expect("uri"))
            .await
            .expect("GET /events");
        assert_eq!(response.status(), 200);
        let mut body = response.into_body();
        let mut seen = String::new();
        while !seen.contains(needle) {
            let frame = body.frame().await.expect("stream open").expect("frame");
            if let Some(data) = frame.data_ref() {
                seen.push_str(&String::from_utf8_lossy(data));
            }
        }
        seen
    };
    tokio::time::timeout(DEADLINE + Duration::from_secs(5), read)
        .await
        .expect("the change on /events")
}
