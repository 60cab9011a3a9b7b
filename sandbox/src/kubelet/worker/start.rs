//! Starting a container instance for a pod worker: as a local process (`PodMode::Exec`, with
//! the container's environment, working directory and termination-message file) or simulated
//! from the pod's `sandbox.kube/` annotations (`PodMode::Simulate`), and what the status says
//! when a start fails.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use tokio::sync::Mutex as AsyncMutex;
use tokio::time::Instant;

use super::super::logbuf::LogBuffer;
use super::super::status::{CState, Kind, Terminated};
use super::super::stream::RunningContainer;
use super::super::{HOST_IP, PodMode, exec};
use super::{ANNOTATION_PREFIX, CONFIG_RETRY, Worker, WorkerMsg, new_container_id};

impl Worker {
    pub(super) fn start(&mut self, i: usize) {
        self.ensure_image(i);
        match self.shared.mode {
            PodMode::Exec => self.start_exec(i),
            PodMode::Simulate => self.start_simulated(i),
        }
    }

    /// The image manager's events (`EnsureImageExists` in `pkg/kubelet/images/image_manager.go`).
    /// The sandbox has no registry: every image counts as present, and a pull (policy `Always`,
    /// the default for `:latest` or untagged images) takes no time and no bytes.
    fn ensure_image(&self, i: usize) {
        let spec = &self.slots[i].spec;
        let image = spec
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let last = image.rsplit('/').next().unwrap_or_default();
        let latest = !image.contains('@') && (!last.contains(':') || last.ends_with(":latest"));
        let policy = spec
            .get("imagePullPolicy")
            .and_then(Value::as_str)
            .unwrap_or(if latest { "Always" } else { "IfNotPresent" });
        if policy == "Always" {
            self.event(
                Some(i),
                "Normal",
                "Pulling",
                format!("Pulling image {image:?}"),
            );
            let message = format!(
                "Successfully pulled image {image:?} in 0s (0s including waiting). Image size: 0 bytes."
            );
            self.event(Some(i), "Normal", "Pulled", message);
        } else {
            let message = format!("Container image {image:?} already present on machine");
            self.event(Some(i), "Normal", "Pulled", message);
        }
    }

    /// The runtime created and started instance `i`: `Created container: %v` and
    /// `Started container %v` (`startContainer` in `kuberuntime_container.go`).
    fn created_and_started(&self, i: usize) {
        let name = self.slots[i].name.clone();
        self.event(
            Some(i),
            "Normal",
            "Created",
            format!("Created container: {name}"),
        );
        self.event(
            Some(i),
            "Normal",
            "Started",
            format!("Started container {name}"),
        );
    }

    /// Opens a new container instance: id, log, restart bookkeeping.
    fn begin_instance(&mut self, i: usize) -> Arc<LogBuffer> {
        let slot = &mut self.slots[i];
        if slot.instance > 0 {
            slot.restart_count += 1;
            if let CState::Terminated(t) = &slot.state {
                slot.last = Some(t.clone());
            }
            slot.prev_log = slot.log.take();
        }
        slot.instance += 1;
        slot.container_id = Some(new_container_id());
        let log = LogBuffer::new();
        slot.log = Some(log.clone());
        slot.restart_at = None;
        slot.crash_message = None;
        slot.term_sent = false;
        slot.kill_sent = false;
        slot.kill_by = None;
        slot.hook = None;
        slot.started = Some(Instant::now());
        log
    }

    fn start_exec(&mut self, i: usize) {
        let container = self.slots[i].spec.clone();
        let env = {
            let src = exec::EnvSource {
                pod: &self.pod,
                node_name: &self.shared.node_name,
                pod_ip: &self.pod_ip,
                host_ip: HOST_IP,
                store: &*self.shared.store,
            };
            exec::container_env(&container, &src)
        };
        let env = match env {
            Ok(env) => env,
            Err(exec::ConfigError(message)) => {
                let message_copy = message.clone();
                let slot = &mut self.slots[i];
                if let CState::Terminated(t) = &slot.state {
                    slot.last = Some(t.clone());
                }
                slot.state = CState::Waiting {
                    reason: "CreateContainerConfigError".into(),
                    message,
                };
                slot.crash_message = None;
                slot.restart_at = Some(Instant::now() + CONFIG_RETRY);
                self.event(
                    Some(i),
                    "Warning",
                    "Failed",
                    format!("Error: {message_copy}"),
                );
                return;
            }
        };
        let dir = match self.pod_dir() {
            Ok(dir) => dir,
            Err(message) => return self.fail_start(i, message),
        };
        let message_file = dir.join(format!("{}.termination-log", self.slots[i].name));
        if let Err(e) = std::fs::write(&message_file, b"") {
            return self.fail_start(i, format!("cannot create termination message file: {e}"));
        }
        self.slots[i].message_file = Some(message_file.clone());
        let mounts = match exec::empty_dir_mounts(&self.pod, &container, &dir) {
            Ok(mounts) => mounts,
            Err(message) => return self.fail_start(i, message),
        };
        let launch =
            match exec::build_launch(&container, env, &message_file, &mounts, &dir, self.name()) {
                Ok(launch) => launch,
                Err(message) => return self.fail_start(i, message),
            };
        let log = self.begin_instance(i);
        let instance = self.slots[i].instance;
        let tx = self.tx.clone();
        let on_exit = Box::new(move |exit_code| {
            let _ = tx.send(WorkerMsg::Exited {
                slot: i,
                instance,
                exit_code,
                finished_at: Utc::now(),
            });
        });
        let wants_stdin = container
            .get("stdin")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let stdin_once = container
            .get("stdinOnce")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let (env, cwd) = (launch.env.clone(), launch.cwd.clone());
        let spawned = exec::spawn(
            launch,
            wants_stdin,
            log.clone(),
            self.shared.processes.clone(),
            on_exit,
        );
        match spawned {
            Ok((pgid, stdin)) => {
                let hook_env = env.clone();
                let slot = &mut self.slots[i];
                slot.pgid = Some(pgid);
                slot.running = Some(Arc::new(RunningContainer {
                    env,
                    cwd,
                    stdin: stdin.map(|s| AsyncMutex::new(Some(s))),
                    stdin_once,
                    log: log.clone(),
                }));
                let before = std::mem::replace(
                    &mut slot.state,
                    CState::Running {
                        started_at: Utc::now(),
                    },
                );
                self.created_and_started(i);
                self.run_post_start(i, before, &hook_env);
            }
            Err(message) => {
                tracing::debug!(pod = %self.handle.name, container = %self.slots[i].name, %message, "container failed to start");
                log.close();
                self.record_start_error(i, message);
            }
        }
    }

    pub(super) fn pod_dir(&mut self) -> Result<PathBuf, String> {
        if let Some(dir) = &self.pod_dir {
            return Ok(dir.path().to_path_buf());
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("sandbox-pod-{}-", self.name()))
            .tempdir()
            .map_err(|e| format!("cannot create the pod directory: {e}"))?;
        let path = dir.path().to_path_buf();
        self.pod_dir = Some(dir);
        Ok(path)
    }

    /// The runtime could not start the process: the container terminates as containerd reports it.
    fn fail_start(&mut self, i: usize, message: String) {
        let log = self.begin_instance(i);
        log.close();
        self.record_start_error(i, message);
    }

    fn record_start_error(&mut self, i: usize, message: String) {
        self.event(Some(i), "Warning", "Failed", format!("Error: {message}"));
        let now = Utc::now();
        let slot = &mut self.slots[i];
        slot.state = CState::Terminated(Terminated {
            exit_code: 128,
            reason: "StartError".into(),
            message,
            started_at: Some(now),
            finished_at: Some(now),
            container_id: slot.container_id.clone(),
        });
        self.schedule_restart(i);
    }

    /// `sandbox.kube/<key>.<container>`, else `sandbox.kube/<key>` (regular containers only).
    pub(super) fn annotation(&self, key: &str, i: usize) -> Option<String> {
        let annotations = self.pod.pointer("/metadata/annotations")?;
        let slot = &self.slots[i];
        let specific = format!("{ANNOTATION_PREFIX}{key}.{}", slot.name);
        if let Some(v) = annotations.get(&specific).and_then(Value::as_str) {
            return Some(v.to_string());
        }
        if slot.kind != Kind::Regular {
            return None;
        }
        annotations
            .get(format!("{ANNOTATION_PREFIX}{key}"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// A regular container of a `restartPolicy: Always` pod with neither a run time nor an exit
    /// code to simulate.
    fn serves(&self, i: usize) -> bool {
        self.slots[i].kind == Kind::Regular
            && self.restart_policy() == "Always"
            && self.annotation("exit-code", i).is_none()
    }

    fn start_simulated(&mut self, i: usize) {
        let log = self.begin_instance(i);
        if let Some(text) = self.annotation("log", i) {
            log.push_text(&text);
        }
        let seconds = self
            .annotation("run-seconds", i)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0);
        let code = self
            .annotation("exit-code", i)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        self.slots[i].state = CState::Running {
            started_at: Utc::now(),
        };
        self.created_and_started(i);
        match seconds {
            Some(s) if s > 0.0 => {
                self.slots[i].sim_end = Some(Instant::now() + Duration::from_secs_f64(s));
            }
            // A sidecar serves the others, and a container of a `restartPolicy: Always` pod is a
            // server (a Deployment's, say): unless told otherwise they run until the pod stops
            // them. Otherwise a Deployment's Pods would crash-loop and never become available.
            None if self.slots[i].kind == Kind::Sidecar || self.serves(i) => {}
            _ => self.finish_instance(i, code, Utc::now()),
        }
    }
}
