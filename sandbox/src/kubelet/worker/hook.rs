//! A container's `lifecycle.postStart` hook, as `startContainer` in `kuberuntime_container.go`
//! runs it: after the runtime started the container (the `Created` and `Started` events are
//! recorded), the pod worker waits for the hook — nothing else of the pod starts meanwhile, and
//! the status keeps what it showed before the start. A failed hook records `FailedPostStartHook`
//! ("PostStartHook failed": the kubelet leaves the handler's output out of the Event), kills the
//! container (`Killing`, message `FailedPostStartHook`) and the container restarts by policy.
//!
//! Handlers: `exec` runs the command as the container's own process would run (its environment,
//! working directory, mount paths mapped; exec mode only), `sleep` waits. `httpGet` and
//! `tcpSocket` are refused with a message saying so (the sandbox does not reach into Pods over
//! the network). In simulate mode there is no process to run a command in: every hook succeeds at
//! once.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncReadExt as _;
use tokio::time::Instant;

use super::super::status::CState;
use super::super::{PodMode, exec};
use super::{Worker, WorkerMsg};

/// The hook output kept for the kubelet's log line (`klog.ErrorS` of the handler's error).
const OUTPUT_LIMIT: u64 = 10 * 1024;

/// A postStart hook that has not finished yet.
#[derive(Debug)]
pub(super) struct PendingHook {
    /// What the status showed before the start: the kubelet publishes no new container status
    /// while its sync is blocked in the hook.
    pub shown: CState,
    /// The hook's process group (an `exec` hook).
    pub pgid: Option<u32>,
}

/// How a hook ended.
pub(super) type HookResult = Result<(), String>;

impl Worker {
    /// The container of slot `i` was started: runs its postStart hook, if it has one. `shown` is
    /// the state the status showed before the start.
    pub(super) fn run_post_start(
        &mut self,
        i: usize,
        shown: CState,
        launch_env: &[(String, String)],
    ) {
        let Some(handler) = self.slots[i]
            .spec
            .pointer("/lifecycle/postStart")
            .filter(|h| h.is_object())
            .cloned()
        else {
            return;
        };
        if self.shared.mode == PodMode::Simulate {
            return;
        }
        let instance = self.slots[i].instance;
        let tx = self.tx.clone();
        let done = move |result: HookResult| {
            let _ = tx.send(WorkerMsg::HookDone {
                slot: i,
                instance,
                result,
            });
        };
        let mut pgid = None;
        if let Some(command) = handler.pointer("/exec/command").and_then(Value::as_array) {
            let command: Vec<String> = command
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            match self.spawn_exec_hook(i, &command, launch_env, done) {
                Ok(group) => pgid = Some(group),
                Err((message, done)) => done(Err(message)),
            }
        } else if let Some(seconds) = handler.pointer("/sleep/seconds").and_then(Value::as_i64) {
            let seconds = u64::try_from(seconds).unwrap_or(0);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(seconds)).await;
                done(Ok(()));
            });
        } else {
            let kind = ["httpGet", "tcpSocket"]
                .into_iter()
                .find(|k| handler.get(*k).is_some())
                .unwrap_or("unknown");
            done(Err(format!(
                "the sandbox kubelet runs exec and sleep lifecycle hooks only, not {kind}"
            )));
        }
        self.slots[i].hook = Some(PendingHook { shown, pgid });
    }

    /// Starts an `exec` hook's command the way the container's own command was started.
    fn spawn_exec_hook<F: FnOnce(HookResult) + Send + 'static>(
        &mut self,
        i: usize,
        command: &[String],
        env: &[(String, String)],
        done: F,
    ) -> Result<u32, (String, F)> {
        let mut spec = self.slots[i].spec.clone();
        if let Some(obj) = spec.as_object_mut() {
            obj.insert("command".into(), serde_json::json!(command));
            obj.remove("args");
        }
        let prepared = (|| {
            let dir = self.pod_dir()?;
            let mounts = exec::empty_dir_mounts(&self.pod, &spec, &dir)?;
            let message_file = self.slots[i].message_file.clone().unwrap_or_default();
            exec::build_launch(&spec, Vec::new(), &message_file, &mounts, &dir, self.name())
        })();
        let launch = match prepared {
            Ok(launch) => launch,
            Err(message) => return Err((message, done)),
        };
        let Some((program, args)) = launch.argv.split_first() else {
            return Err(("no command".into(), done));
        };
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(&launch.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .process_group(0);
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => return Err((exec::spawn_error(program, &e), done)),
        };
        let Some(pgid) = child.id() else {
            return Err((format!("exec: {program:?} exited at once"), done));
        };
        let processes = self.shared.processes.clone();
        processes.insert(pgid);
        let joined = command.join(" ");
        let container = self.slots[i].name.clone();
        let pod = format!("{}_{}({})", self.name(), self.namespace, self.handle.uid);
        let stdout = child.stdout.take();
        tokio::spawn(async move {
            let mut output = Vec::new();
            if let Some(stdout) = stdout {
                let _ = stdout.take(OUTPUT_LIMIT).read_to_end(&mut output).await;
            }
            let code = exec::exit_code(child.wait().await);
            processes.remove(pgid);
            // lifecycle/handlers.go: "Exec lifecycle hook (%v) for Container %q in Pod %q failed".
            done(if code == 0 {
                Ok(())
            } else {
                Err(format!(
                    "Exec lifecycle hook ([{joined}]) for Container {container:?} in Pod {pod:?} failed - error: command '{joined}' exited with {code}, message: {:?}",
                    String::from_utf8_lossy(&output)
                ))
            });
        });
        Ok(pgid)
    }

    /// The postStart hook of slot `i`'s `instance` ended.
    pub(super) fn hook_done(&mut self, i: usize, instance: u64, result: HookResult) {
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        if slot.instance != instance || slot.hook.is_none() {
            return;
        }
        slot.hook = None;
        let Err(message) = result else {
            return;
        };
        tracing::debug!(pod = %self.handle.name, container = %slot.name, %message, "Failed to execute PostStartHook");
        self.event(
            Some(i),
            "Warning",
            "FailedPostStartHook",
            "PostStartHook failed".into(),
        );
        if !self.slots[i].state.is_running() {
            return;
        }
        self.event(Some(i), "Normal", "Killing", "FailedPostStartHook".into());
        let grace = Duration::from_secs(u64::try_from(self.grace_seconds()).unwrap_or(0));
        let slot = &mut self.slots[i];
        slot.term_sent = true;
        slot.kill_by = Some(Instant::now() + grace);
        match slot.pgid {
            Some(pgid) => {
                exec::signal_group(pgid, "TERM");
            }
            None => self.finish_instance(i, 143, chrono::Utc::now()),
        }
    }

    /// Kills what a pending hook runs (the container stops, or the pod goes away).
    pub(super) fn kill_hook(&mut self, i: usize) {
        if let Some(pgid) = self.slots[i].hook.take().and_then(|h| h.pgid) {
            exec::signal_group(pgid, "KILL");
        }
    }

    /// Whether the pod worker is blocked in a postStart hook.
    pub(super) fn in_hook(&self) -> bool {
        self.slots.iter().any(|s| s.hook.is_some())
    }
}
