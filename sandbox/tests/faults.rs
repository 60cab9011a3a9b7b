//! Fault injection and request accounting: `/sandbox/stats` counts exactly the requests a
//! client made, injected 500s/429s look like kube-apiserver's, latency and pauses delay
//! requests, watches are cut after N seconds, and a kube-rs watcher + reflector rides out all
//! of it (errors, closed streams, 410 Gone) and converges. The `serve` flags set the same
//! faults at start.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, reflector};
use kube::{Client, ResourceExt};
use kube_sandbox::{FaultConfig, PodMode, Sandbox, SandboxConfig, StatsSnapshot};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

async fn sandbox(watch_history: usize) -> (Sandbox, Client) {
    let sb = Sandbox::start(SandboxConfig {
        pods: PodMode::Simulate,
        watch_history,
        ..Default::default()
    })
    .await
    .expect("start sandbox");
    let client = sb.client().await.expect("client");
    (sb, client)
}

/// A client without kube-rs's built-in retry of 429/503/504, to see answers as sent.
async fn raw_client(kubeconfig: &std::path::Path) -> Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    config.default_retry = false;
    Client::try_from(config).expect("client")
}

/// One request, answered with status, headers and the JSON body.
async fn send(
    client: &Client,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, http::HeaderMap, Value) {
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(kube::client::Body::from(body))
        .expect("request");
    let resp = client.send(req).await.expect("send");
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status.as_u16(), parts.headers, json)
}

async fn stats(client: &Client) -> StatsSnapshot {
    let (code, _, body) = send(client, "GET", "/sandbox/stats", None).await;
    assert_eq!(code, 200, "{body}");
    serde_json::from_value(body).expect("stats")
}

fn configmap(name: &str, label: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"test": label}},
        "data": {"k": "v"},
    }))
    .expect("configmap")
}

fn count(map: &std::collections::BTreeMap<String, u64>, key: &str) -> u64 {
    map.get(key).copied().unwrap_or(0)
}

#[tokio::test]
async fn stats_count_exactly_the_requests_made() {
    let (sb, client) = sandbox(100_000).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    // Zero what starting the sandbox and the client did; control endpoints are not counted.
    let (code, _, _) = send(&client, "DELETE", "/sandbox/stats", None).await;
    assert_eq!(code, 200);
    assert_eq!(stats(&client).await.total, 0);

    let pp = PostParams::default();
    for name in ["a", "b", "c"] {
        api.create(&pp, &configmap(name, "stats"))
            .await
            .expect("create");
    }
    let a = api.get("a").await.expect("get");
    api.list(&Default::default()).await.expect("list");
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "w"}})),
    )
    .await
    .expect("patch");
    api.delete("b", &DeleteParams::default())
        .await
        .expect("delete");
    let missing = api.get("b").await.expect_err("b is gone");
    assert!(matches!(missing, kube::Error::Api(s) if s.code == 404));
    // `a` as read before the patch: its resourceVersion is stale now.
    let stale = api.replace("a", &pp, &a).await.expect_err("stale update");
    assert!(matches!(stale, kube::Error::Api(s) if s.code == 409));

    // A watch from "0": one ADDED per existing object, then one for a new one.
    let mut events = api
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    let mut seen = Vec::new();
    let mut created_d = false;
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.len() < 3 {
        if seen.len() == 2 && !created_d {
            created_d = true;
            api.create(&pp, &configmap("d", "stats"))
                .await
                .expect("create d");
        }
        let next = tokio::time::timeout_at(deadline, events.try_next())
            .await
            .expect("watch event in time")
            .expect("watch ok")
            .expect("stream open");
        // The namespace's kube-root-ca.crt (the root CA publisher's) is not ours.
        if let WatchEvent::Added(cm) = next
            && cm.name_any() != "kube-root-ca.crt"
        {
            seen.push(cm.name_any());
        }
    }
    drop(events);
    assert_eq!(seen, ["a", "c", "d"]);

    let s = sb.stats();
    assert_eq!(s.total, 11, "{s:#?}");
    assert_eq!(s.writes, 7);
    let verbs: Vec<(&str, u64)> = s.by_verb.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        verbs,
        [
            ("create", 4),
            ("delete", 1),
            ("get", 2),
            ("list", 1),
            ("patch", 1),
            ("update", 1),
            ("watch", 1)
        ]
    );
    let codes: Vec<(&str, u64)> = s.by_code.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        codes,
        [("200", 5), ("201", 4), ("404", 1), ("409", 1)],
        "{s:#?}"
    );
    assert_eq!(s.by_resource.len(), 1);
    assert_eq!(count(&s.by_resource, "configmaps"), 11);
    assert!(s.by_subresource.is_empty() && s.non_resource.is_empty());
    assert_eq!(s.by_user.len(), 1);
    assert_eq!(count(&s.by_user, "kubernetes-admin"), 11);
    // a, c, d and the namespace's kube-root-ca.crt.
    assert_eq!(s.watch_events, 4);
    assert_eq!(count(&s.watch_events_by_type, "ADDED"), 4);
    let creates = s
        .requests
        .iter()
        .find(|r| r.verb == "create" && r.code == 201)
        .expect("create row");
    assert_eq!(
        (creates.resource.as_str(), creates.count),
        ("configmaps", 4)
    );
    // The HTTP endpoint serves the same numbers, and resetting returns them.
    assert_eq!(stats(&client).await, s);
    let (_, _, before) = send(&client, "DELETE", "/sandbox/stats", None).await;
    assert_eq!(before["total"], 11);
    assert_eq!(sb.stats().total, 0);
    sb.shutdown().await;
}

#[tokio::test]
async fn injected_errors_look_like_kube_apiserver_errors() {
    let (sb, client) = sandbox(100_000).await;
    let raw = raw_client(sb.kubeconfig_path()).await;
    sb.reset_stats();
    sb.set_faults(FaultConfig {
        error_rate: 1.0,
        error_code: 500,
        ..Default::default()
    })
    .expect("faults");
    for _ in 0..3 {
        let (code, _, body) =
            send(&raw, "GET", "/api/v1/namespaces/default/configmaps", None).await;
        assert_eq!(code, 500);
        assert_eq!(body["kind"], "Status");
        assert_eq!(body["reason"], "InternalError");
        assert_eq!(body["code"], 500);
        assert!(
            body["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Internal error occurred: "),
            "{body}"
        );
    }
    // Control endpoints are exempt from faults (and from the counts).
    let (code, _, faults) = send(&client, "GET", "/sandbox/faults", None).await;
    assert_eq!(code, 200);
    assert_eq!(faults["error_rate"], 1.0);

    let (code, _, _) = send(
        &client,
        "POST",
        "/sandbox/faults",
        Some(json!({"error_code": 429, "retry_after_seconds": 7})),
    )
    .await;
    assert_eq!(code, 200);
    for _ in 0..2 {
        let (code, headers, body) = send(
            &raw,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            Some(json!({"metadata": {"name": "x"}})),
        )
        .await;
        assert_eq!(code, 429);
        assert_eq!(
            headers.get("retry-after").and_then(|v| v.to_str().ok()),
            Some("7")
        );
        assert_eq!(body["reason"], "TooManyRequests");
        assert_eq!(body["details"]["retryAfterSeconds"], 7);
    }
    // Unauthenticated requests are still refused first.
    let anonymous = {
        let kc = kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).expect("kubeconfig");
        let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("config");
        config.auth_info = Default::default();
        config.default_retry = false;
        Client::try_from(config).expect("client")
    };
    let (code, _, _) = send(&anonymous, "GET", "/api/v1/namespaces", None).await;
    assert_eq!(code, 401);

    let s = sb.stats();
    assert_eq!(count(&s.by_code, "500"), 3, "{s:#?}");
    assert_eq!(count(&s.by_code, "429"), 2);
    assert_eq!(count(&s.by_code, "401"), 1);
    assert_eq!(s.total, 6);
    assert_eq!(s.writes, 2);

    let (code, _, cleared) = send(&client, "DELETE", "/sandbox/faults", None).await;
    assert_eq!(code, 200);
    assert_eq!(cleared["error_rate"], 0.0);
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.list(&Default::default()).await.expect("served again");
    // Bad settings are refused.
    let (code, _, body) = send(
        &client,
        "POST",
        "/sandbox/faults",
        Some(json!({"error_code": 404})),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    let (code, _, _) = send(
        &client,
        "POST",
        "/sandbox/faults",
        Some(json!({"error_rate": 2})),
    )
    .await;
    assert_eq!(code, 400);
    let (code, _, _) = send(
        &client,
        "POST",
        "/sandbox/faults",
        Some(json!({"nonsense": 1})),
    )
    .await;
    assert_eq!(code, 400);
    sb.shutdown().await;
}

#[tokio::test]
async fn kube_rs_retries_429_transparently() {
    let (sb, client) = sandbox(100_000).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    sb.reset_stats();
    sb.set_faults(FaultConfig {
        error_rate: 0.3,
        error_code: 429,
        retry_after_seconds: 0,
        ..Default::default()
    })
    .expect("faults");
    for i in 0..40 {
        api.create(
            &PostParams::default(),
            &configmap(&format!("r{i}"), "retry"),
        )
        .await
        .expect("kube-rs retries 429s until the create goes through");
    }
    let s = sb.stats();
    assert_eq!(count(&s.by_code, "201"), 40);
    assert!(count(&s.by_code, "429") > 0, "{s:#?}");
    assert_eq!(s.total, 40 + count(&s.by_code, "429"));
    sb.shutdown().await;
}

#[tokio::test]
async fn latency_and_pause_delay_requests() {
    let (sb, client) = sandbox(100_000).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.list(&Default::default())
        .await
        .expect("warm up the connection");

    sb.set_faults(FaultConfig {
        latency_ms: 1000,
        ..Default::default()
    })
    .expect("faults");
    let start = Instant::now();
    api.list(&Default::default()).await.expect("list");
    assert!(start.elapsed() >= Duration::from_millis(1000));
    // Control endpoints are not delayed.
    let start = Instant::now();
    send(&client, "GET", "/sandbox/stats", None).await;
    assert!(start.elapsed() < Duration::from_millis(1000));

    // A two-second pause set over HTTP: requests hang until it is over, then are served.
    let (code, _, body) = send(
        &client,
        "POST",
        "/sandbox/faults",
        Some(json!({"latency_ms": 0, "pause_seconds": 2})),
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        matches!(body["pause_seconds"].as_u64(), Some(1 | 2)),
        "{body}"
    );
    let paused_at = Instant::now();
    api.list(&Default::default())
        .await
        .expect("served after the pause");
    assert!(paused_at.elapsed() >= Duration::from_millis(1500));
    assert_eq!(sb.faults().pause_seconds, 0);

    // A long pause ends when lifted.
    sb.set_faults(FaultConfig {
        pause_seconds: 600,
        ..Default::default()
    })
    .expect("faults");
    let mut waiting = {
        let api = api.clone();
        tokio::spawn(async move { api.list(&Default::default()).await.map(|l| l.items.len()) })
    };
    let served_while_paused = tokio::time::timeout(Duration::from_millis(300), &mut waiting).await;
    assert!(
        served_while_paused.is_err(),
        "the request hangs while paused"
    );
    let (code, _, _) = send(&client, "DELETE", "/sandbox/faults", None).await;
    assert_eq!(code, 200);
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("released when the pause is lifted")
        .expect("task")
        .expect("list");
    sb.shutdown().await;
}

#[tokio::test]
async fn watch_streams_close_after_the_configured_time() {
    let (sb, client) = sandbox(100_000).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    sb.set_faults(FaultConfig {
        watch_close_after_seconds: 1,
        ..Default::default()
    })
    .expect("faults");
    let start = Instant::now();
    let mut events = api
        .watch(&WatchParams::default().timeout(120), "0")
        .await
        .expect("watch")
        .boxed();
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(e) = events.next().await {
            e.expect("event");
        }
    })
    .await;
    assert!(ended.is_ok(), "the watch was not closed");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(20),
        "{took:?}"
    );
    sb.shutdown().await;
}

/// Creates, retrying injected 500s (they happen before the request is served, so a retry is
/// safe).
async fn create_retrying(api: &Api<ConfigMap>, cm: &ConfigMap) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match api.create(&PostParams::default(), cm).await {
            Ok(_) => return,
            Err(kube::Error::Api(s)) if s.code == 500 => {}
            Err(e) => panic!("create {}: {e}", cm.name_any()),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "create kept failing"
        );
    }
}

async fn wait_for_names(
    reader: &reflector::Store<ConfigMap>,
    expected: &BTreeSet<String>,
    what: &str,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let names: BTreeSet<String> = reader.state().iter().map(|c| c.name_any()).collect();
        if names == *expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: reflector has {names:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn watcher_and_reflector_survive_errors_closed_streams_and_410s() {
    let (sb, client) = sandbox(100_000).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let (reader, writer) = reflector::store();
    let inits = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let driver = {
        let (inits, errors) = (inits.clone(), errors.clone());
        let stream = watcher::watcher(
            api.clone(),
            watcher::Config::default().labels("test=survive"),
        )
        .default_backoff()
        .reflect(writer);
        tokio::spawn(async move {
            let mut stream = Box::pin(stream);
            while let Some(item) = stream.next().await {
                match item {
                    Ok(Event::Init) => {
                        inits.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    Err(_) => {
                        errors.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        })
    };
    let mut expected = BTreeSet::new();

    // Phase 1: a third of all requests fail and watches are cut every second.
    sb.set_faults(FaultConfig {
        error_rate: 0.3,
        watch_close_after_seconds: 1,
        ..Default::default()
    })
    .expect("faults");
    for i in 0..20 {
        let name = format!("s{i}");
        create_retrying(&api, &configmap(&name, "survive")).await;
        expected.insert(name);
    }
    wait_for_names(&reader, &expected, "under errors").await;
    // The watcher reopens its watch every second, so it soon meets an injected error.
    let deadline = tokio::time::Instant::now() + WAIT;
    while errors.load(Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watcher saw no errors"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_names(&reader, &expected, "after errors").await;

    // Phase 2: no errors, but the history is cut to 5 changes; the watcher's resourceVersion
    // falls out of it while others write, so its next reconnect gets 410 and it relists.
    sb.set_faults(FaultConfig {
        watch_close_after_seconds: 1,
        ..Default::default()
    })
    .expect("faults");
    let (code, _, body) = send(
        &client,
        "POST",
        "/sandbox/watch-history",
        Some(json!({"limit": 5})),
    )
    .await;
    assert_eq!((code, &body), (200, &json!({"limit": 5})));
    let inits_before = inits.load(Ordering::SeqCst);
    create_retrying(&api, &configmap("after-410", "survive")).await;
    expected.insert("after-410".to_string());
    for i in 0..12 {
        create_retrying(&api, &configmap(&format!("other{i}"), "other")).await;
    }
    api.delete("s0", &DeleteParams::default())
        .await
        .expect("delete");
    expected.remove("s0");
    for i in 12..24 {
        create_retrying(&api, &configmap(&format!("other{i}"), "other")).await;
    }
    wait_for_names(&reader, &expected, "after 410").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while inits.load(Ordering::SeqCst) == inits_before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watcher never relisted after its resourceVersion expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Phase 3: a pause; writes and watches wait it out, then carry on.
    sb.set_faults(FaultConfig {
        pause_seconds: 1,
        ..Default::default()
    })
    .expect("faults");
    create_retrying(&api, &configmap("after-pause", "survive")).await;
    expected.insert("after-pause".to_string());
    wait_for_names(&reader, &expected, "after the pause").await;

    let s = sb.stats();
    assert!(count(&s.by_code, "500") > 0, "{s:#?}");
    assert!(
        count(&s.by_verb, "watch") > 1,
        "watches were reopened: {s:#?}"
    );
    assert!(
        count(&s.watch_events_by_type, "ERROR") >= 1,
        "a 410 was sent: {s:#?}"
    );
    assert!(s.watch_events >= count(&s.watch_events_by_type, "ERROR"));
    driver.abort();
    sb.shutdown().await;
}

#[tokio::test]
async fn serve_flags_set_faults_at_start() {
    let server = tokio::task::spawn_blocking(|| {
        common::Server::start(&[
            "--pods",
            "simulate",
            "--fault-error-rate",
            "1",
            "--fault-error-code",
            "429",
            "--fault-retry-after-seconds",
            "7",
            "--fault-latency-ms",
            "20",
            "--fault-watch-close-after-seconds",
            "30",
        ])
    })
    .await
    .expect("start");
    let client = raw_client(&server.kubeconfig).await;
    let (code, headers, body) = send(&client, "GET", "/api/v1/namespaces", None).await;
    assert_eq!(code, 429, "{body}");
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("7")
    );
    let (code, _, faults) = send(&client, "GET", "/sandbox/faults", None).await;
    assert_eq!(code, 200);
    assert_eq!(
        faults,
        json!({"error_rate": 1.0, "error_code": 429, "retry_after_seconds": 7, "latency_ms": 20,
            "watch_close_after_seconds": 30, "pause_seconds": 0})
    );
    let (code, _, _) = send(&client, "DELETE", "/sandbox/faults", None).await;
    assert_eq!(code, 200);
    let (code, _, _) = send(&client, "GET", "/api/v1/namespaces", None).await;
    assert_eq!(code, 200);
    let (code, _, stats) = send(&client, "GET", "/sandbox/stats", None).await;
    assert_eq!(code, 200);
    assert_eq!(stats["by_code"], json!({"200": 1, "429": 1}));
    // Control errors are Status objects too.
    let (code, _, body) = send(&client, "GET", "/sandbox/nothing", None).await;
    assert_eq!((code, body["reason"].as_str()), (404, Some("NotFound")));
    let (code, _, body) = send(&client, "PUT", "/sandbox/stats", None).await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (405, Some("MethodNotAllowed"))
    );
    let (code, _, _) = send(
        &client,
        "POST",
        "/sandbox/watch-history",
        Some(json!({"limit": 0})),
    )
    .await;
    assert_eq!(code, 400);
    drop(server);
}
