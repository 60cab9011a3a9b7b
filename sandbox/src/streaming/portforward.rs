//! `pods/portforward` over `SPDY/3.1+portforward.k8s.io`: SPDY frames in WebSocket binary
//! messages, carrying the `portforward.k8s.io` protocol (k8s:
//! pkg/kubelet/cri/streaming/portforward/httpstream.go).
//!
//! For every local connection kubectl opens a pair of streams with the headers `streamtype`
//! (`error` or `data`), `port` and `requestid`. The data stream is connected to
//! `127.0.0.1:PORT` — pods share the machine's network in exec mode — and copied both ways; a
//! failure is written as text on the error stream, in the kubelet's words. Both streams end with
//! FIN once the connection is done, which is what kubectl waits for.

use std::collections::HashMap;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::spdy::{self, Codec, Frame};
use super::{PORT_FORWARD_PROTOCOL, Target};
use crate::errors::{ApiError, bad_request};

/// Largest DATA payload sent in one frame.
const CHUNK: usize = 32 * 1024;

pub(super) fn upgrade(
    upgrade: WebSocketUpgrade,
    target: Target,
    ports: Vec<String>,
) -> Result<Response, ApiError> {
    // `ports`, when given, must be numbers (the kubelet's `newOptions`).
    for p in ports.iter().flat_map(|p| p.split(',')) {
        if p.parse::<u16>().map(|n| n == 0).unwrap_or(true) {
            return Err(bad_request(format!("invalid port {p:?}")));
        }
    }
    let upgrade = upgrade.protocols([PORT_FORWARD_PROTOCOL]);
    if upgrade.selected_protocol().is_none() {
        // streamtunnel.go: "unable to upgrade: no tunneling spdy protocols provided".
        return Err(bad_request(
            "unable to upgrade: no tunneling spdy protocols provided",
        ));
    }
    Ok(upgrade.on_upgrade(move |ws| run(ws, target)))
}

#[derive(Default)]
struct Request {
    error: Option<u32>,
    data: Option<u32>,
    port: u16,
}

async fn run(ws: WebSocket, target: Target) {
    let (mut sink, mut stream) = ws.split();
    let Ok(mut codec) = Codec::new() else {
        return;
    };
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(64);
    let writer = tokio::spawn(async move {
        while let Some(f) = out_rx.recv().await {
            if sink.send(Message::Binary(f)).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut buf = BytesMut::new();
    let mut requests: HashMap<String, Request> = HashMap::new();
    // Data stream id -> the writer into its TCP connection.
    let mut inbound: HashMap<u32, mpsc::UnboundedSender<Option<Bytes>>> = HashMap::new();
    'conn: while let Some(Ok(msg)) = stream.next().await {
        match msg {
            Message::Binary(data) => buf.extend_from_slice(&data),
            Message::Close(_) => break,
            _ => continue,
        }
        loop {
            let frame = match codec.parse(&mut buf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "port-forward: bad SPDY frame");
                    break 'conn;
                }
            };
            match frame {
                Frame::SynStream { id, headers, .. } => {
                    let Ok(reply) = codec.syn_reply(id) else {
                        break 'conn;
                    };
                    if out_tx.send(reply).await.is_err() {
                        break 'conn;
                    }
                    let header = |k: &str| {
                        headers
                            .iter()
                            .find(|(n, _)| n == k)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default()
                    };
                    let req = requests.entry(header("requestid")).or_default();
                    req.port = header("port").parse().unwrap_or(0);
                    match header("streamtype").as_str() {
                        "error" => req.error = Some(id),
                        "data" => {
                            req.data = Some(id);
                            let (tx, rx) = mpsc::unbounded_channel();
                            inbound.insert(id, tx);
                            tokio::spawn(forward(
                                id,
                                req.error,
                                req.port,
                                target.name.clone(),
                                rx,
                                out_tx.clone(),
                            ));
                        }
                        _ => {
                            let _ = out_tx
                                .send(spdy::rst_stream(id, spdy::INVALID_STREAM))
                                .await;
                        }
                    }
                }
                Frame::Data { id, fin, data } => {
                    if let Some(tx) = inbound.get(&id) {
                        if !data.is_empty() {
                            let _ = tx.send(Some(data));
                        }
                        if fin {
                            let _ = tx.send(None);
                        }
                    }
                }
                Frame::RstStream { id } => {
                    inbound.remove(&id);
                }
                Frame::Ping(id) => {
                    let _ = out_tx.send(spdy::ping(id)).await;
                }
                Frame::GoAway => break 'conn,
                Frame::Ignored => {}
            }
        }
    }
    drop(inbound);
    drop(out_tx);
    let _ = writer.await;
}

/// Copies between one data stream and a TCP connection to the pod's port.
async fn forward(
    data_id: u32,
    error_id: Option<u32>,
    port: u16,
    pod: String,
    mut from_client: mpsc::UnboundedReceiver<Option<Bytes>>,
    out: mpsc::Sender<Bytes>,
) {
    let finish = |message: Option<String>| {
        let out = out.clone();
        async move {
            if let Some(err) = error_id {
                if let Some(m) = message {
                    let _ = out.send(spdy::data(err, false, m.as_bytes())).await;
                }
                let _ = out.send(spdy::data(err, true, b"")).await;
            }
            let _ = out.send(spdy::data(data_id, true, b"")).await;
        }
    };
    let tcp = match TcpStream::connect(("127.0.0.1", port)).await {
        Ok(tcp) => tcp,
        Err(e) => {
            // The kubelet's wording (portforward/httpstream.go, `portForward`).
            let message = format!(
                "error forwarding port {port} to pod {pod}, uid : dial tcp4 127.0.0.1:{port}: {}",
                connect_error(&e)
            );
            return finish(Some(message)).await;
        }
    };
    let (mut read, mut write) = tcp.into_split();
    let to_pod = tokio::spawn(async move {
        while let Some(Some(chunk)) = from_client.recv().await {
            if write.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = write.shutdown().await;
    });
    let mut buf = vec![0u8; CHUNK];
    loop {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if out
                    .send(spdy::data(data_id, false, &buf[..n]))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    to_pod.abort();
    finish(None).await;
}

fn connect_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".into(),
        _ => e.to_string(),
    }
}
