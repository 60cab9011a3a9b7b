//! kube-apiserver behaviours checked end to end with kube-rs against an in-process sandbox:
//! pagination, selectors, metadata rules, optimistic concurrency and error bodies, namespaces,
//! deletion and garbage collection, patch errors, watch semantics, simulated and exec pods,
//! events and the CRD lifecycle. Status codes and bodies that must match kube-apiserver exactly
//! are read with raw requests (`Client::send`).

use std::future::Future;
use std::time::Duration;

use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use http::{Method, Request};
use http_body_util::BodyExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent, Namespace, Pod, Secret};
use k8s_openapi::api::events::v1::Event as EventsV1;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use kube::runtime::events::{Event as RecordedEvent, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use kube_sandbox::{PodMode, Sandbox, SandboxConfig};
use serde_json::{Value, json};
use tokio::time::Instant;

#[path = "api/deletion.rs"]
mod deletion;
#[path = "api/lists.rs"]
mod lists;
#[path = "api/runtime.rs"]
mod runtime;
#[path = "api/watches.rs"]
mod watches;
#[path = "api/writes.rs"]
mod writes;

const WAIT: Duration = Duration::from_secs(30);

async fn start(pods: PodMode) -> (Sandbox, Client) {
    let sb = Sandbox::start(SandboxConfig {
        pods,
        ..Default::default()
    })
    .await
    .expect("start sandbox");
    let client = sb.client().await.expect("client");
    (sb, client)
}

/// Polls `check` until it answers, failing the test after [`WAIT`].
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A raw request: the status code and the body (JSON, or a string when it is not JSON).
async fn call(
    client: &Client,
    method: Method,
    path: &str,
    content_type: &str,
    body: &Value,
) -> (u16, Value) {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .header("accept", "application/json")
        .body(kube::client::Body::from(bytes))
        .expect("request");
    let resp = client.send(req).await.expect("send");
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (code, value)
}

const JSON: &str = "application/json";
const MERGE: &str = "application/merge-patch+json";

async fn get(client: &Client, path: &str) -> (u16, Value) {
    call(client, Method::GET, path, JSON, &Value::Null).await
}

/// A raw watch stream, read one event (line) at a time.
struct RawWatch {
    body: kube::client::Body,
    buf: Vec<u8>,
}

impl RawWatch {
    async fn open(client: &Client, path: &str) -> RawWatch {
        let req = Request::builder()
            .uri(path)
            .header("accept", "application/json")
            .body(kube::client::Body::empty())
            .expect("request");
        let resp = client.send(req).await.expect("watch");
        assert_eq!(resp.status().as_u16(), 200, "watch {path}");
        RawWatch {
            body: resp.into_body(),
            buf: Vec::new(),
        }
    }

    /// The next event, or `None` when the server ended the stream.
    async fn next(&mut self) -> Option<Value> {
        let read = async {
            loop {
                if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = self.buf.drain(..=pos).collect();
                    // kube-apiserver writes metav1.WatchEvent's fields in Go's order: `type`
                    // first, then `object` (clients decoding a tagged union rely on it).
                    assert!(
                        line.starts_with(b"{\"type\":\""),
                        "event line in kube-apiserver's field order: {}",
                        String::from_utf8_lossy(&line[..line.len().min(80)])
                    );
                    return Some(serde_json::from_slice::<Value>(&line).expect("event JSON"));
                }
                match self.body.frame().await {
                    None => return None,
                    Some(frame) => {
                        if let Ok(data) = frame.expect("watch body").into_data() {
                            self.buf.extend_from_slice(&data);
                        }
                    }
                }
            }
        };
        tokio::time::timeout(WAIT, read)
            .await
            .expect("a watch event (or the end of the stream) in time")
    }

    /// The next event as (type, object name).
    async fn next_named(&mut self) -> (String, String) {
        let e = self.next().await.expect("an event before the stream ended");
        (
            e["type"].as_str().unwrap_or_default().to_string(),
            e["object"]["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    }
}

fn ev(kind: &str, name: &str) -> (String, String) {
    (kind.to_string(), name.to_string())
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| {
            o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn configmap(name: &str, labels: Value) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "data": {"k": "v"},
    }))
    .expect("configmap")
}

async fn create_namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("ns");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
}

fn widget_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    )
}

fn widget_crd() -> CustomResourceDefinition {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/widget-crd.yaml"
    ))
    .expect("widget CRD fixture");
    serde_yaml::from_str(&text).expect("CRD YAML")
}

/// Installs the Widget CRD of the fixtures and returns the Widget API of `namespace`.
async fn install_widgets(client: &Client, namespace: &str) -> Api<DynamicObject> {
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &widget_crd())
        .await
        .expect("create CRD");
    Api::namespaced_with(client.clone(), namespace, &widget_resource())
}

fn widget(name: &str, spec: Value) -> DynamicObject {
    let mut w = DynamicObject::new(name, &widget_resource());
    w.data = json!({"spec": spec});
    w
}

fn api_status(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn rv_of(meta: &kube::core::ObjectMeta) -> u64 {
    meta.resource_version
        .as_deref()
        .expect("resourceVersion")
        .parse()
        .expect("numeric resourceVersion")
}
