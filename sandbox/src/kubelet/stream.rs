//! Streaming into running containers, the kubelet's half of `pods/exec`, `pods/attach` and
//! `pods/portforward` (the protocols are `crate::streaming`'s).
//!
//! Only [`PodMode::Exec`] has something to stream into: `exec` runs a command as a local process
//! beside the container's own, with the container's environment and working directory (as a
//! runtime runs it in the container's namespaces), in a process group of its own that shutdown
//! kills; `attach` follows the container's output from its start and writes to its stdin when the
//! pod asked for one (`stdin: true`; `stdinOnce` closes it when the first attacher is done).
//! Port-forwarding needs no help: pods share the machine's network, so the driver connects to
//! `127.0.0.1:PORT` once [`Kubelet::check_port_forward`] has found the pod running here.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::stream::BoxStream;
use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::{Mutex as AsyncMutex, oneshot};

use super::logbuf::{self, LogBuffer};
use super::worker::ViewState;
use super::{Kubelet, LogError, PodMode, exec, lock, select_container};

/// What a running exec-mode container offers to exec and attach. Set when its process starts.
#[derive(Debug)]
pub(super) struct RunningContainer {
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// The container process's stdin, when the container has `stdin: true`; `None` inside once
    /// it was closed.
    pub stdin: Option<AsyncMutex<Option<ChildStdin>>>,
    pub stdin_once: bool,
    pub log: Arc<LogBuffer>,
}

/// Why a stream cannot be opened; the text is the API server's or kubelet's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// 400 BadRequest.
    BadRequest(String),
    /// 404 NotFound.
    NotFound(String),
    /// The pods are simulated: there is no process to stream into.
    Simulated,
}

impl From<LogError> for StreamError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::BadRequest(m) => StreamError::BadRequest(m),
            LogError::NotFound(m) => StreamError::NotFound(m),
        }
    }
}

/// A command started by [`Kubelet::exec`].
pub struct ExecProcess {
    pub stdin: Option<ChildStdin>,
    pub stdout: ChildStdout,
    pub stderr: ChildStderr,
    /// The exit code once the process is gone (`128 + n` for signal `n`).
    pub exit: oneshot::Receiver<i32>,
    /// Sending kills the command's process group (the client went away).
    pub kill: oneshot::Sender<()>,
}

/// Why the command could not be started, as the runtime words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecStartError(pub String);

/// A session opened by [`Kubelet::attach`].
pub struct Attachment {
    /// The container's output from its start, ending when the container instance stops.
    pub output: BoxStream<'static, Bytes>,
    pub stdin: AttachedStdin,
}

/// The attacher's way into the container's stdin.
pub struct AttachedStdin {
    container: Arc<RunningContainer>,
}

impl AttachedStdin {
    /// Whether the container has a stdin to write to.
    pub fn has_stdin(&self) -> bool {
        self.container.stdin.is_some()
    }

    /// Writes to the container's stdin; false once it is closed.
    pub async fn write_stdin(&self, data: &[u8]) -> bool {
        let Some(stdin) = &self.container.stdin else {
            return false;
        };
        let mut guard = stdin.lock().await;
        match guard.as_mut() {
            Some(pipe) => pipe.write_all(data).await.is_ok() && pipe.flush().await.is_ok(),
            None => false,
        }
    }

    /// The attacher's stdin ended: with `stdinOnce` the container's stdin closes too, as the
    /// runtime closes it after the first attach.
    pub async fn stdin_done(&self) {
        if let (Some(stdin), true) = (&self.container.stdin, self.container.stdin_once) {
            stdin.lock().await.take();
        }
    }
}

impl Kubelet {
    /// Whether this node can stream at all.
    fn streaming_mode(&self) -> Result<(), StreamError> {
        match self.shared.mode {
            PodMode::Exec => Ok(()),
            PodMode::Simulate => Err(StreamError::Simulated),
        }
    }

    fn running_container(
        &self,
        namespace: &str,
        name: &str,
        container: Option<&str>,
    ) -> Result<Arc<RunningContainer>, StreamError> {
        self.streaming_mode()?;
        let handle = lock(&self.shared.pods)
            .get(&(namespace.to_string(), name.to_string()))
            .map(|e| e.handle.clone())
            .ok_or_else(|| StreamError::NotFound(format!("pods \"{name}\" not found")))?;
        if !handle.bound.load(Ordering::SeqCst) {
            return Err(StreamError::BadRequest(format!(
                "pod {name} does not have a host assigned"
            )));
        }
        let container = select_container(&handle, container)?;
        let views = lock(&handle.views);
        views
            .iter()
            .find(|v| v.name == container && v.state == ViewState::Running)
            .and_then(|v| v.running.clone())
            // The runtime's answer for a container that is not running (CRI `NotFound`).
            .ok_or_else(|| StreamError::NotFound(format!("container not found ({container:?})")))
    }

    /// Whether the named (or only) container of the pod is running, to exec or attach into.
    pub fn check_container(
        &self,
        namespace: &str,
        name: &str,
        container: Option<&str>,
    ) -> Result<(), StreamError> {
        self.running_container(namespace, name, container).map(drop)
    }

    /// Starts `command` in the named (or only) container of a running pod.
    pub fn exec(
        &self,
        namespace: &str,
        name: &str,
        container: Option<&str>,
        command: &[String],
        stdin: bool,
    ) -> Result<Result<ExecProcess, ExecStartError>, StreamError> {
        let target = self.running_container(namespace, name, container)?;
        Ok(spawn_exec(
            &target,
            command,
            stdin,
            self.shared.processes.clone(),
        ))
    }

    /// Attaches to the named (or only) container of a running pod.
    pub fn attach(
        &self,
        namespace: &str,
        name: &str,
        container: Option<&str>,
    ) -> Result<Attachment, StreamError> {
        let target = self.running_container(namespace, name, container)?;
        let output = logbuf::read(
            target.log.clone(),
            logbuf::ReadOptions {
                follow: true,
                tail_lines: None,
                limit_bytes: None,
                timestamps: false,
                since: None,
            },
        );
        Ok(Attachment {
            output,
            stdin: AttachedStdin { container: target },
        })
    }

    /// Checks that `namespace/name` runs here and can be port-forwarded to.
    pub fn check_port_forward(&self, namespace: &str, name: &str) -> Result<(), StreamError> {
        self.streaming_mode()?;
        let handle = lock(&self.shared.pods)
            .get(&(namespace.to_string(), name.to_string()))
            .map(|e| e.handle.clone())
            .ok_or_else(|| StreamError::NotFound(format!("pods \"{name}\" not found")))?;
        if !handle.bound.load(Ordering::SeqCst) {
            return Err(StreamError::BadRequest(format!(
                "pod {name} does not have a host assigned"
            )));
        }
        Ok(())
    }
}

fn spawn_exec(
    target: &RunningContainer,
    command: &[String],
    stdin: bool,
    processes: Arc<exec::ProcessTable>,
) -> Result<ExecProcess, ExecStartError> {
    let Some((program, args)) = command.split_first() else {
        return Err(ExecStartError("no command given".into()));
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(target.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(&target.cwd)
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| ExecStartError(exec::spawn_error(program, &e)))?;
    let pgid = child
        .id()
        .ok_or_else(|| ExecStartError(format!("exec: {program:?} exited at once")))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(ExecStartError("the process has no output pipes".into()));
    };
    let stdin = child.stdin.take();
    processes.insert(pgid);
    let (tx, exit) = oneshot::channel();
    let (kill, mut killed) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let status = tokio::select! {
            status = child.wait() => status,
            Ok(()) = &mut killed => {
                if let Some(mut kill) = exec::signal_group(pgid, "KILL") {
                    let _ = kill.wait().await;
                }
                child.wait().await
            }
        };
        processes.remove(pgid);
        let _ = tx.send(exec::exit_code(status));
    });
    Ok(ExecProcess {
        stdin,
        stdout,
        stderr,
        exit,
        kill,
    })
}
