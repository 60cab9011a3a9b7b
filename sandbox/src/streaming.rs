//! `pods/exec`, `pods/attach` and `pods/portforward`: the connect subresources, over the
//! WebSocket protocols kubectl uses by default since 1.31 (KUBECTL_REMOTE_COMMAND_WEBSOCKETS and
//! KUBECTL_PORT_FORWARD_WEBSOCKETS default to true).
//!
//! * exec and attach speak `v5.channel.k8s.io` (and `v4.channel.k8s.io`): every binary message
//!   starts with its channel — 0 stdin, 1 stdout, 2 stderr, 3 error (the final `Status`), 4 resize
//!   — and v5 adds the close signal `[255, channel]` (k8s:
//!   staging/src/k8s.io/client-go/tools/remotecommand/websocket.go,
//!   staging/src/k8s.io/apimachinery/pkg/util/remotecommand/constants.go). See [`channels`].
//! * port-forward speaks `SPDY/3.1+portforward.k8s.io`: SPDY/3.1 frames carried in WebSocket
//!   binary messages (k8s: staging/src/k8s.io/client-go/tools/portforward/tunneling_dialer.go,
//!   staging/src/k8s.io/apiserver/pkg/util/proxy/streamtunnel.go). See [`portforward`].
//!
//! The checks before the upgrade are the API server's (`streamLocation` and
//! `PortForwardLocation` in pkg/registry/core/pod/strategy.go, "Upgrade request required" from
//! the upgrade-aware proxy); the streams themselves are the kubelet's (`crate::kubelet`), which
//! runs processes only in exec mode. In simulate mode every such request is a 400 that says so.
//!
//! Not served: the SPDY upgrade (`POST` with `Upgrade: SPDY/3.1`) that kubectl falls back to when
//! the WebSocket upgrade is refused — the sandbox never refuses it, so kubectl never falls back;
//! such a POST gets a 400 naming the protocols served. A TTY (`-t`) is not allocated: the command
//! runs with pipes, its stderr joins stdout, and resize messages are ignored. Attach replays the
//! container's output from its start (a runtime streams from the moment of attaching, which loses
//! what a quick `kubectl run -i` printed before), all of it on stdout: the kubelet's log buffer
//! keeps one stream.

mod channels;
mod portforward;
mod spdy;

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request};
use axum::response::Response;
use http::Method;
use serde_json::json;

use crate::control::error_response;
use crate::errors::{self, ApiError, bad_request, not_found};
use crate::kubelet::{Kubelet, StreamError};
use crate::request::{Query, query_values};
use crate::request_info::RequestInfo;
use crate::resource_types::ResourceType;
use crate::state::State;
use crate::store::StorageKey;

/// The connect subresources of pods this module serves.
pub const SUBRESOURCES: &[&str] = &["exec", "attach", "portforward"];

/// The remote-command subprotocols, best first (k8s: remotecommand.StreamProtocolV5Name, V4).
const CHANNEL_PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];
/// The tunnelled port-forward subprotocol (k8s: portforward.WebsocketsSPDYTunnelingPrefix +
/// portforward.PortForwardProtocolV1Name).
const PORT_FORWARD_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";

/// Whether this request is for a connect subresource of a pod.
pub fn is_streaming(info: &RequestInfo) -> bool {
    info.resource_request
        && info.api_group.is_empty()
        && info.resource == "pods"
        && !info.name.is_empty()
        && SUBRESOURCES.contains(&info.subresource.as_str())
}

/// Serves an authenticated and authorized connect request.
pub async fn serve(state: &Arc<State>, info: &RequestInfo, req: Request) -> Response {
    match prepare(state, info, req).await {
        Ok(resp) => resp,
        Err(e) => error_response(e),
    }
}

async fn prepare(
    state: &Arc<State>,
    info: &RequestInfo,
    req: Request,
) -> Result<Response, ApiError> {
    let rt = state
        .types
        .find("", "v1", "pods")
        .ok_or_else(errors::path_not_found)?;
    let (name, namespace) = (info.name.as_str(), info.namespace.as_str());
    if !matches!(*req.method(), Method::GET | Method::POST) {
        return Err(errors::method_not_supported(
            rt.as_ref(),
            req.method().as_str(),
        ));
    }
    let pod = state
        .store
        .get(&StorageKey::of(&rt), namespace, name)
        .ok_or_else(|| not_found(rt.as_ref(), name))?;
    let raw_query = req.uri().query().map(str::to_string);
    let query = Query::parse(raw_query.as_deref());
    let container = query.get("container").map(str::to_string);
    let kubelet = state
        .kubelet
        .get()
        .cloned()
        .ok_or_else(|| errors::internal("no node is running"))?;
    // The API server's checks come first: the container must be valid, and the pod on a node.
    if info.subresource != "portforward" {
        validate_container(&pod, name, container.as_deref())?;
    }
    if pod
        .pointer("/spec/nodeName")
        .and_then(|v| v.as_str())
        .is_none_or(str::is_empty)
    {
        return Err(bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    if let Err(StreamError::Simulated) = kubelet.check_port_forward(namespace, name) {
        return Err(simulated(&info.subresource, name));
    }
    let (mut parts, _body) = req.into_parts();
    if parts.method == Method::POST {
        return Err(bad_request(format!(
            "the sandbox serves pods/{} over WebSocket only ({}); the SPDY upgrade is not supported",
            info.subresource,
            served_protocols(&info.subresource)
        )));
    }
    let Ok(upgrade) = WebSocketUpgrade::from_request_parts(&mut parts, &()).await else {
        return Err(bad_request("Upgrade request required"));
    };
    let target = Target {
        kubelet,
        namespace: namespace.to_string(),
        name: name.to_string(),
        container,
    };
    match info.subresource.as_str() {
        "portforward" => {
            let ports = query_values(raw_query.as_deref(), "ports");
            portforward::upgrade(upgrade, target, ports)
        }
        "exec" => {
            let opts = channels::StreamOptions::parse(&query)?;
            let command = query_values(raw_query.as_deref(), "command");
            if command.is_empty() {
                return Err(bad_request("you must specify at least 1 command"));
            }
            // Fail before the upgrade when the container is not there to run in.
            kubelet_check(&target, &rt)?;
            Ok(channels::exec(upgrade, target, opts, command))
        }
        _ => {
            let opts = channels::StreamOptions::parse(&query)?;
            let attachment = target
                .kubelet
                .attach(&target.namespace, &target.name, target.container.as_deref())
                .map_err(|e| stream_error(e, &rt, &target))?;
            Ok(channels::attach(upgrade, opts, attachment))
        }
    }
}

/// What a session streams into.
pub(crate) struct Target {
    pub kubelet: Kubelet,
    pub namespace: String,
    pub name: String,
    pub container: Option<String>,
}

fn kubelet_check(target: &Target, rt: &ResourceType) -> Result<(), ApiError> {
    // An exec with an impossible command is refused later, on the error channel; here only
    // whether the container runs.
    target
        .kubelet
        .check_container(&target.namespace, &target.name, target.container.as_deref())
        .map_err(|e| stream_error(e, rt, target))
}

fn stream_error(e: StreamError, rt: &ResourceType, target: &Target) -> ApiError {
    match e {
        StreamError::BadRequest(m) => bad_request(m),
        StreamError::NotFound(m) if m.starts_with("pods ") => not_found(rt, &target.name),
        StreamError::NotFound(m) => ApiError {
            code: 404,
            status: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": m, "reason": "NotFound", "code": 404}),
        },
        StreamError::Simulated => simulated("exec", &target.name),
    }
}

fn served_protocols(subresource: &str) -> String {
    if subresource == "portforward" {
        PORT_FORWARD_PROTOCOL.to_string()
    } else {
        CHANNEL_PROTOCOLS.join(", ")
    }
}

/// The answer in simulate mode, where no container process exists to stream into.
fn simulated(subresource: &str, name: &str) -> ApiError {
    let what = match subresource {
        "portforward" => "port-forward",
        other => other,
    };
    bad_request(format!(
        "{what} is not supported in simulate mode: pod {name:?} runs no processes (start the sandbox with --pods exec)"
    ))
}

/// The API server's `validateContainer` (pkg/registry/core/pod/strategy.go), with its wording.
fn validate_container(
    pod: &serde_json::Value,
    name: &str,
    container: Option<&str>,
) -> Result<(), ApiError> {
    let names = |key: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{key}"))
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("name").and_then(|n| n.as_str()).map(str::to_string))
            .collect()
    };
    let containers = names("containers");
    match container.filter(|c| !c.is_empty()) {
        None => match containers.len() {
            1 => Ok(()),
            0 => Err(bad_request(format!(
                "a container name must be specified for pod {name}"
            ))),
            _ => {
                // VisitContainers order: init containers, containers, ephemeral containers.
                let all: Vec<String> = names("initContainers")
                    .into_iter()
                    .chain(containers)
                    .chain(names("ephemeralContainers"))
                    .collect();
                Err(bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    all.join(" ")
                )))
            }
        },
        Some(c) => {
            let known = ["initContainers", "containers", "ephemeralContainers"]
                .iter()
                .any(|k| names(k).iter().any(|n| n == c));
            if known {
                Ok(())
            } else {
                Err(bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )))
            }
        }
    }
}
