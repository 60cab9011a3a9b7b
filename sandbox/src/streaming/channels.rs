//! The remote-command channel protocol for exec and attach (`v5.channel.k8s.io`, and
//! `v4.channel.k8s.io` without the close signal), server side.
//!
//! Each binary message is one channel byte and its data. Output goes out on stdout (1) and
//! stderr (2) as it is read; the end is one `Status` on the error channel (3) followed by a
//! normal WebSocket close, as the API server's stream translator ends it. The kubelet writes that
//! Status (k8s: pkg/kubelet/cri/streaming/remotecommand/exec.go `ServeExec`):
//!
//! ```go
//! ctx.writeStatus(&apierrors.StatusError{ErrStatus: metav1.Status{
//!     Status: metav1.StatusFailure,
//!     Reason: remotecommandconsts.NonZeroExitCodeReason,
//!     Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{
//!         Type: remotecommandconsts.ExitCodeCauseType, Message: fmt.Sprintf("%d", rc)}}},
//!     Message: fmt.Sprintf("command terminated with non-zero exit code: %v", exitErr),
//! }})
//! ```
//!
//! serialised as `json.Marshal(status.Status())` (no kind/apiVersion), where containerd's exit
//! error reads `error executing command [ARGV], exit code N`; a command that cannot start is an
//! InternalError "error executing command in container: …".

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::{CHANNEL_PROTOCOLS, Target};
use crate::errors::{ApiError, bad_request};
use crate::kubelet::{Attachment, ExecStartError, StreamError};
use crate::request::Query;

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
/// v5's close signal: `[255, channel]` half-closes that channel.
const CLOSE: u8 = 255;
/// How long output pipes may stay open after the command exited (a background child can hold
/// them) before the session ends anyway.
const PIPE_DRAIN: Duration = Duration::from_secs(2);

/// The `stdin`, `stdout`, `stderr` and `tty` parameters.
#[derive(Clone, Copy, Debug)]
pub(super) struct StreamOptions {
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
}

impl StreamOptions {
    pub(super) fn parse(query: &Query) -> Result<Self, ApiError> {
        let tty = query.flag("tty");
        let opts = StreamOptions {
            stdin: query.flag("stdin"),
            stdout: query.flag("stdout"),
            // With a TTY there is no separate stderr stream (the kubelet's NewOptions).
            stderr: query.flag("stderr") && !tty,
            tty,
        };
        if !opts.stdin && !opts.stdout && !opts.stderr {
            return Err(bad_request(
                "you must specify at least 1 of stdin, stdout, stderr",
            ));
        }
        Ok(opts)
    }
}

type Sink = SplitSink<WebSocket, Message>;

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut buf = BytesMut::with_capacity(data.len() + 1);
    buf.put_u8(channel);
    buf.put_slice(data);
    Message::Binary(buf.freeze())
}

/// Writes the final Status and closes the connection normally.
async fn finish(sink: &mut Sink, status: Value) {
    let _ = sink.send(frame(ERROR, status.to_string().as_bytes())).await;
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code: close_code::NORMAL,
            reason: "".into(),
        })))
        .await;
    let _ = sink.close().await;
}

fn success() -> Value {
    json!({"metadata": {}, "status": "Success"})
}

fn internal_error(message: &str) -> Value {
    json!({"metadata": {}, "status": "Failure",
        "message": format!("Internal error occurred: {message}"),
        "reason": "InternalError", "details": {"causes": [{"message": message}]}, "code": 500})
}

fn exit_status(command: &[String], code: i32) -> Value {
    if code == 0 {
        return success();
    }
    json!({"metadata": {}, "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            command.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}})
}

fn stream_failure(e: StreamError) -> Value {
    match e {
        StreamError::BadRequest(m) | StreamError::NotFound(m) => internal_error(&m),
        StreamError::Simulated => internal_error("not supported in simulate mode"),
    }
}

/// What the client sends: stdin data and the close signal.
enum Incoming {
    Stdin(Bytes),
    StdinClosed,
}

/// Reads the client's messages until it goes away; the returned receiver fires then.
fn read_client(
    mut stream: futures::stream::SplitStream<WebSocket>,
    v5: bool,
) -> (mpsc::Receiver<Incoming>, oneshot::Receiver<()>) {
    let (tx, rx) = mpsc::channel(16);
    let (gone_tx, gone) = oneshot::channel();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            let data = match msg {
                Message::Binary(data) => data,
                Message::Close(_) => break,
                // Pings are answered by the WebSocket layer; text is not part of the protocol.
                _ => continue,
            };
            let incoming = match data.first() {
                Some(&STDIN) => Incoming::Stdin(data.slice(1..)),
                Some(&CLOSE) if v5 && data.get(1) == Some(&STDIN) => Incoming::StdinClosed,
                // Resize (4) and anything else: no terminal to resize.
                _ => continue,
            };
            if tx.send(incoming).await.is_err() {
                break;
            }
        }
        let _ = gone_tx.send(());
    });
    (rx, gone)
}

async fn pump(mut reader: impl AsyncRead + Unpin, channel: Option<u8>, tx: mpsc::Sender<Message>) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Some(ch) = channel
                    && tx.send(frame(ch, &buf[..n])).await.is_err()
                {
                    break;
                }
            }
        }
    }
}

/// `pods/exec`: runs `command` once the connection is upgraded.
pub(super) fn exec(
    upgrade: WebSocketUpgrade,
    target: Target,
    opts: StreamOptions,
    command: Vec<String>,
) -> Response {
    let upgrade = upgrade.protocols(CHANNEL_PROTOCOLS.iter().copied());
    let v5 = upgrade
        .selected_protocol()
        .is_some_and(|p| p.as_bytes() == CHANNEL_PROTOCOLS[0].as_bytes());
    upgrade.on_upgrade(move |ws| run_exec(ws, v5, target, opts, command))
}

async fn run_exec(
    ws: WebSocket,
    v5: bool,
    target: Target,
    opts: StreamOptions,
    command: Vec<String>,
) {
    let (mut sink, stream) = ws.split();
    let started = target.kubelet.exec(
        &target.namespace,
        &target.name,
        target.container.as_deref(),
        &command,
        opts.stdin,
    );
    let process = match started {
        Ok(Ok(p)) => p,
        Ok(Err(ExecStartError(m))) => {
            let message = format!("error executing command in container: {m}");
            return finish(&mut sink, internal_error(&message)).await;
        }
        Err(e) => return finish(&mut sink, stream_failure(e)).await,
    };
    let (mut incoming, mut gone) = read_client(stream, v5);
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(16);
    let stderr_channel = if opts.tty { STDOUT } else { STDERR };
    tokio::spawn(pump(
        process.stdout,
        opts.stdout.then_some(STDOUT),
        out_tx.clone(),
    ));
    tokio::spawn(pump(
        process.stderr,
        (opts.stderr || opts.tty).then_some(stderr_channel),
        out_tx,
    ));
    let mut stdin = process.stdin;
    let mut exit = process.exit;
    let kill = process.kill;
    let mut code: Option<i32> = None;
    let mut drain_until: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            msg = out_rx.recv() => match msg {
                Some(msg) => if sink.send(msg).await.is_err() { break },
                None => break,
            },
            c = &mut exit, if code.is_none() => {
                code = Some(c.unwrap_or(137));
                drain_until = Some(tokio::time::Instant::now() + PIPE_DRAIN);
            },
            _ = sleep_until(drain_until), if drain_until.is_some() => break,
            msg = incoming.recv(), if stdin.is_some() => match msg {
                Some(Incoming::Stdin(data)) => {
                    if let Some(pipe) = stdin.as_mut()
                        && pipe.write_all(&data).await.is_err()
                    {
                        stdin = None;
                    }
                }
                Some(Incoming::StdinClosed) | None => stdin = None,
            },
            _ = &mut gone => {
                // The client went away: nobody waits for the command any more.
                let _ = kill.send(());
                return;
            }
        }
    }
    let code = match code {
        Some(c) => c,
        None => exit.await.unwrap_or(137),
    };
    finish(&mut sink, exit_status(&command, code)).await;
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// `pods/attach`: follows the container's output and feeds its stdin.
pub(super) fn attach(
    upgrade: WebSocketUpgrade,
    opts: StreamOptions,
    attachment: Attachment,
) -> Response {
    let upgrade = upgrade.protocols(CHANNEL_PROTOCOLS.iter().copied());
    let v5 = upgrade
        .selected_protocol()
        .is_some_and(|p| p.as_bytes() == CHANNEL_PROTOCOLS[0].as_bytes());
    upgrade.on_upgrade(move |ws| run_attach(ws, v5, opts, attachment))
}

async fn run_attach(ws: WebSocket, v5: bool, opts: StreamOptions, attachment: Attachment) {
    let (mut sink, stream) = ws.split();
    let Attachment {
        mut output,
        stdin: attachment,
    } = attachment;
    let (mut incoming, mut gone) = read_client(stream, v5);
    let mut stdin_open = opts.stdin && attachment.has_stdin();
    loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                Some(data) => {
                    if opts.stdout && sink.send(frame(STDOUT, &data)).await.is_err() {
                        break;
                    }
                }
                None => {
                    attachment.stdin_done().await;
                    return finish(&mut sink, success()).await;
                }
            },
            msg = incoming.recv(), if stdin_open => match msg {
                Some(Incoming::Stdin(data)) => {
                    if !attachment.write_stdin(&data).await {
                        stdin_open = false;
                    }
                }
                Some(Incoming::StdinClosed) | None => {
                    stdin_open = false;
                    attachment.stdin_done().await;
                }
            },
            _ = &mut gone => break,
        }
    }
    attachment.stdin_done().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kubelet's Status for a non-zero exit, as `json.Marshal(status.Status())` writes it,
    /// and the success Status (`{"metadata":{},"status":"Success"}`).
    #[test]
    fn exit_statuses_are_the_kubelets() {
        let argv = ["sh".to_string(), "-c".into(), "exit 3".into()];
        assert_eq!(
            exit_status(&argv, 3),
            json!({"metadata": {}, "status": "Failure",
                "message": "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}})
        );
        assert_eq!(
            exit_status(&argv, 0).to_string(),
            r#"{"metadata":{},"status":"Success"}"#
        );
    }

    #[test]
    fn frames_lead_with_their_channel() {
        assert_eq!(
            frame(STDERR, b"x"),
            Message::Binary(Bytes::from_static(&[2, b'x']))
        );
    }

    #[test]
    fn a_request_must_ask_for_some_stream() {
        let err = StreamOptions::parse(&Query::parse(Some("tty=1"))).expect_err("no streams");
        assert_eq!(
            err.status["message"],
            "you must specify at least 1 of stdin, stdout, stderr"
        );
        let opts =
            StreamOptions::parse(&Query::parse(Some("stdout=1&stderr=1&tty=1"))).expect("ok");
        assert!(opts.stdout && !opts.stderr && opts.tty);
    }
}
