//! End to end: signed CloudEvents to a local receiver — exactly one final event per job, all
//! delivered after the receiver was down for 10 s, every job announced across SIGKILLs of the
//! operator (duplicates with the same id), and a sink without a secret refused at start-up.

mod common;

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::{Context as _, ensure};
use axum::{Router, body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use common::TestEnv;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What the receiver got.
#[derive(Clone, Debug)]
struct Received {
    id: String,
    type_: String,
    subject: String,
    phase: String,
    signed: bool,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    refused: Arc<Mutex<usize>>,
    down: Arc<AtomicBool>,
}

/// The standard HMAC check of a Standard Webhooks request.
fn verify(headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let Ok(key) = STANDARD.decode(SECRET.trim_start_matches("whsec_")) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
        return false;
    };
    mac.update(format!("{}.{}.", header("webhook-id"), header("webhook-timestamp")).as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let fresh = header("webhook-timestamp")
        .parse::<i64>()
        .is_ok_and(|t| (t - now_seconds()).abs() < 300);
    fresh
        && header("webhook-signature")
            .split(' ')
            .any(|s| s == expected)
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if receiver.down.load(Ordering::SeqCst) {
        *receiver.refused.lock().unwrap() += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let event: Value = serde_json::from_slice(&body).unwrap_or_default();
    let text = |p: &str| {
        event
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    receiver.got.lock().unwrap().push(Received {
        id: text("/id"),
        type_: text("/type"),
        subject: text("/subject"),
        phase: text("/data/phase"),
        signed: verify(&headers, &body)
            && content_type.starts_with("application/cloudevents+json")
            && headers.get("webhook-id").and_then(|v| v.to_str().ok()) == Some(&text("/id")),
    });
    StatusCode::NO_CONTENT
}

impl Receiver {
    async fn start() -> anyhow::Result<(Receiver, SocketAddr)> {
        let receiver = Receiver::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((receiver, addr))
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Events by id, counting the deliveries of each.
    fn by_id(&self) -> HashMap<String, (Received, usize)> {
        let mut ids: HashMap<String, (Received, usize)> = HashMap::new();
        for event in self.got() {
            ids.entry(event.id.clone()).or_insert((event, 0)).1 += 1;
        }
        ids
    }

    /// The final events received, by subject (job name).
    fn finals(&self) -> HashMap<String, Vec<Received>> {
        let mut jobs: HashMap<String, Vec<Received>> = HashMap::new();
        for event in self
            .got()
            .into_iter()
            .filter(|e| e.type_.starts_with("dev.testjob.job."))
        {
            jobs.entry(event.subject.clone()).or_default().push(event);
        }
        jobs
    }
}

/// `count` simulated jobs named `prefix-N`, each running `seconds(N)`; every fourth fails.
fn jobs(prefix: &str, count: usize, seconds: impl Fn(usize) -> f64) -> String {
    (0..count)
        .map(|i| {
            let exit = u8::from(i % 4 == 3);
            let run = seconds(i);
            format!(
                "apiVersion: testjob.dev/v1alpha1\nkind: TestJob\nmetadata:\n  name: {prefix}-{i}\nspec:\n  testId: {i}\n  runner:\n    podAnnotations:\n      sandbox.kube/exit-code: \"{exit}\"\n      sandbox.kube/run-seconds: \"{run}\"\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

fn expected_phase(name: &str) -> &'static str {
    let i: usize = name
        .rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if i % 4 == 3 { "Failed" } else { "Succeeded" }
}

async fn notify_flags(env: &TestEnv, addr: SocketAddr) -> anyhow::Result<Vec<String>> {
    let secret = env.kubeconfig().with_file_name("notify-secret");
    std::fs::write(&secret, SECRET)?;
    Ok(vec![
        "--notify-url".into(),
        format!("http://{addr}/hook"),
        "--notify-secret-file".into(),
        secret.to_string_lossy().into_owned(),
    ])
}

async fn start_with(env: &TestEnv, flags: &[String]) -> anyhow::Result<()> {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    env.start_operator_with(&flags).await
}

async fn no_pending_left(env: &TestEnv) -> anyhow::Result<()> {
    env.poll("every notification to be marked delivered", || async {
        let list: Value =
            serde_json::from_str(&env.kubectl_ok(&["get", "tj", "-o", "json"]).await?)?;
        let pending = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|j| j.pointer("/status/pendingNotifications").is_some())
            .count();
        Ok((pending == 0).then_some(()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_signed_final_event_per_job_and_all_delivered_after_an_outage() -> anyhow::Result<()> {
    let env = TestEnv::with_pods("notify", kube_sandbox::PodMode::Simulate).await?;
    let (receiver, addr) = Receiver::start().await?;
    start_with(&env, &notify_flags(&env, addr).await?).await?;

    env.apply_yaml(&jobs("first", 100, |_| 0.2)).await?;
    env.poll("a final event for each of 100 jobs", || async {
        Ok((receiver.finals().len() >= 100).then_some(()))
    })
    .await?;
    no_pending_left(&env).await?;
    let finals = receiver.finals();
    for (name, events) in &finals {
        ensure!(
            events.len() == 1,
            "{name}: {} final events: {events:?}",
            events.len()
        );
        let event = &events[0];
        ensure!(event.signed, "{name}: the signature does not verify");
        ensure!(event.phase == expected_phase(name), "{name}: {event:?}");
        let kind = event.type_.trim_start_matches("dev.testjob.job.");
        ensure!(
            kind == expected_phase(name).to_lowercase(),
            "{name}: {event:?}"
        );
    }

    // The receiver answers 503 for 10 s; everything finished meanwhile arrives afterwards.
    receiver.down.store(true, Ordering::SeqCst);
    env.apply_yaml(&jobs("outage", 20, |_| 0.2)).await?;
    env.poll("the operator to meet the outage", || async {
        Ok((*receiver.refused.lock().unwrap() > 0).then_some(()))
    })
    .await?;
    // The outage itself, as the scenario says: not a wait for anything.
    tokio::time::sleep(Duration::from_secs(10)).await;
    receiver.down.store(false, Ordering::SeqCst);
    env.poll("the 20 jobs of the outage to be announced", || async {
        let finals = receiver.finals();
        Ok(((0..20).all(|i| finals.contains_key(&format!("outage-{i}")))).then_some(()))
    })
    .await?;
    no_pending_left(&env).await?;
    assert!(receiver.got().iter().all(|e| e.signed));
    let metrics = env.operator_log();
    assert!(!metrics.contains("panicked"), "{metrics}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_is_announced_across_sigkills_with_stable_ids() -> anyhow::Result<()> {
    let env = TestEnv::with_pods("notify-kill", kube_sandbox::PodMode::Simulate).await?;
    let (receiver, addr) = Receiver::start().await?;
    let flags = notify_flags(&env, addr).await?;
    start_with(&env, &flags).await?;
    // Runs of 0.5 to 8 s, so that jobs end across several operator processes.
    env.apply_yaml(&jobs("crash", 200, |i| 0.5 + (i % 16) as f64 * 0.5))
        .await?;
    let deadline = std::time::Instant::now() + env.timeout() * 4;
    let mut kills = 0;
    while receiver.finals().len() < 200 {
        ensure!(
            std::time::Instant::now() < deadline,
            "{} of 200 jobs announced after {kills} kills\n{}",
            receiver.finals().len(),
            env.operator_log()
        );
        // The operator runs for 2 s (or until every job is announced), then is SIGKILLed and
        // started again.
        let run_until = std::time::Instant::now() + Duration::from_secs(2);
        while std::time::Instant::now() < run_until && receiver.finals().len() < 200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if receiver.finals().len() >= 200 {
            break;
        }
        env.kill_operator().await?;
        kills += 1;
        start_with(&env, &flags).await?;
    }
    ensure!(
        kills >= 3,
        "only {kills} kills: the jobs ended too soon to test anything"
    );
    no_pending_left(&env).await?;
    let finals = receiver.finals();
    assert_eq!(finals.len(), 200);
    for (name, events) in &finals {
        let ids: std::collections::BTreeSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
        ensure!(
            ids.len() == 1,
            "{name}: duplicates must carry the same id: {ids:?}"
        );
        ensure!(
            events
                .iter()
                .all(|e| e.signed && e.phase == expected_phase(name)),
            "{name}: {events:?}"
        );
    }
    let duplicates: usize = receiver.by_id().values().map(|(_, n)| n - 1).sum();
    eprintln!(
        "notifications across {kills} SIGKILLs: 200 jobs announced, {duplicates} duplicate deliveries"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_without_a_secret_is_refused_at_start_up() -> anyhow::Result<()> {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_testjob-operator"))
        .args([
            "run",
            "--notify-url",
            "http://127.0.0.1:9/hook",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .await
        .context("running testjob-operator")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--notify-url needs --notify-secret-file"),
        "{stderr}"
    );
    Ok(())
}
