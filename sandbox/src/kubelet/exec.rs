//! `Exec` mode: running a container's `command` + `args` as a local process.
//!
//! The environment is built as the kubelet's `makeEnvironmentVariables` does (`envFrom`, then `env` with
//! `$(VAR)` expansion over the variables defined before it, `valueFrom` field/resource/ConfigMap/Secret
//! references), then command and args are expanded over the result. The image is ignored, so a container
//! without `command` cannot run. Each container runs in its own process group, which stands in for the
//! container's PID namespace: signals go to the whole group, and when the first process exits the rest of the
//! group is killed, as a runtime tears a container down.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::PodStore;
use super::logbuf::{LineAssembler, LogBuffer};
use crate::quantity::parse as parse_quantity;

/// `kubecontainer.MaxContainerTerminationMessageLength`: only the last 4 KiB of the message file are read.
const MAX_TERMINATION_MESSAGE: usize = 4 * 1024;
/// How long output pipes may stay open after a container's processes are gone (a daemonised grandchild can
/// hold them) before the log is closed anyway.
const PIPE_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// `kill(1)` does what libc's `killpg` would, without another dependency.
const KILL_BINARY: &str = "kill";

/// Why a container could not be created (waiting reason `CreateContainerConfigError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ConfigError(pub String);

/// Where env values come from besides the container itself.
pub(super) struct EnvSource<'a> {
    pub pod: &'a Value,
    pub node_name: &'a str,
    pub pod_ip: &'a str,
    pub host_ip: &'a str,
    pub store: &'a dyn PodStore,
}

impl EnvSource<'_> {
    fn namespace(&self) -> &str {
        str_at(self.pod, "/metadata/namespace").unwrap_or("default")
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// The container's environment as the kubelet computes it, in definition order (later entries win).
pub(super) fn container_env(
    container: &Value,
    src: &EnvSource<'_>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut defined: HashMap<String, String> = HashMap::new();
    let set = |env: &mut Vec<(String, String)>,
               defined: &mut HashMap<String, String>,
               k: String,
               v: String| {
        defined.insert(k.clone(), v.clone());
        env.push((k, v));
    };

    for from in container
        .get("envFrom")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let prefix = from
            .get("prefix")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (resource, selector) = match (from.get("configMapRef"), from.get("secretRef")) {
            (Some(sel), _) => ("configmaps", sel),
            (None, Some(sel)) => ("secrets", sel),
            _ => continue,
        };
        let name = selector
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let optional = selector
            .get("optional")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let Some(data) = read_data(src, resource, name, optional)? else {
            continue;
        };
        for (k, v) in data {
            // Keys that cannot be variable names are skipped (the kubelet reports them in an event).
            if k.is_empty() || k.contains('=') {
                continue;
            }
            set(&mut env, &mut defined, format!("{prefix}{k}"), v);
        }
    }

    for var in container
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(name) = var.get("name").and_then(Value::as_str) else {
            continue;
        };
        let value = match var.get("valueFrom") {
            None => {
                let raw = var.get("value").and_then(Value::as_str).unwrap_or_default();
                expand(raw, |k| defined.get(k).cloned())
            }
            Some(from) => match value_from(from, container, src)? {
                Some(v) => v,
                None => continue,
            },
        };
        set(&mut env, &mut defined, name.to_string(), value);
    }
    Ok(env)
}

fn value_from(
    from: &Value,
    container: &Value,
    src: &EnvSource<'_>,
) -> Result<Option<String>, ConfigError> {
    if let Some(field) = from.get("fieldRef") {
        let path = field
            .get("fieldPath")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return field_ref(src, path).map(Some).map_err(ConfigError);
    }
    if let Some(res) = from.get("resourceFieldRef") {
        return resource_field_ref(res, container, src.pod)
            .map(Some)
            .map_err(ConfigError);
    }
    let (resource, kind, selector) = match (from.get("configMapKeyRef"), from.get("secretKeyRef")) {
        (Some(sel), _) => ("configmaps", "ConfigMap", sel),
        (None, Some(sel)) => ("secrets", "Secret", sel),
        _ => return Ok(None),
    };
    let name = selector
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let key = selector
        .get("key")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let optional = selector
        .get("optional")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(mut data) = read_data(src, resource, name, optional)? else {
        return Ok(None);
    };
    match data.remove(key) {
        Some(v) => Ok(Some(v)),
        None if optional => Ok(None),
        None => Err(ConfigError(format!(
            "couldn't find key {key} in {kind} {}/{name}",
            src.namespace()
        ))),
    }
}

/// The string data of a ConfigMap (`data`) or Secret (`data`, base64), or `None` for a missing optional one.
fn read_data(
    src: &EnvSource<'_>,
    resource: &str,
    name: &str,
    optional: bool,
) -> Result<Option<BTreeMap<String, String>>, ConfigError> {
    let Some(obj) = src.store.get_object(resource, src.namespace(), name) else {
        if optional {
            return Ok(None);
        }
        // The kubelet's ConfigMap/Secret managers name the resource in the singular.
        let singular = resource.trim_end_matches('s');
        return Err(ConfigError(format!("{singular} \"{name}\" not found")));
    };
    let mut out = BTreeMap::new();
    let data = obj
        .get("data")
        .and_then(Value::as_object)
        .into_iter()
        .flatten();
    for (k, v) in data {
        let Some(s) = v.as_str() else { continue };
        let value = if resource == "secrets" {
            match base64::engine::general_purpose::STANDARD.decode(s) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(_) => continue,
            }
        } else {
            s.to_string()
        };
        out.insert(k.clone(), value);
    }
    if resource == "secrets" {
        // A store that keeps `stringData` as written still means these values.
        let string_data = obj
            .get("stringData")
            .and_then(Value::as_object)
            .into_iter()
            .flatten();
        for (k, v) in string_data {
            if let Some(s) = v.as_str() {
                out.insert(k.clone(), s.to_string());
            }
        }
    }
    Ok(Some(out))
}

/// Downward API `fieldRef` values (`podFieldSelectorRuntimeValue` plus `ExtractFieldPathAsString`).
fn field_ref(src: &EnvSource<'_>, path: &str) -> Result<String, String> {
    let pod = src.pod;
    let meta_map = |key: &str| -> String {
        // `fieldpath.FormatMap`: sorted `key="value"` lines.
        let map = pod
            .pointer(&format!("/metadata/{key}"))
            .and_then(Value::as_object);
        let sorted: BTreeMap<&String, &str> = map
            .into_iter()
            .flatten()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default()))
            .collect();
        let lines: Vec<String> = sorted
            .iter()
            .map(|(k, v)| format!("{k}={}", Value::String((*v).to_string())))
            .collect();
        lines.join("\n")
    };
    let subscript = |prefix: &str| -> Option<String> {
        let key = path
            .strip_prefix(prefix)?
            .strip_prefix("['")?
            .strip_suffix("']")?;
        let map = pod.pointer(&format!("/{}", prefix.replace('.', "/")));
        Some(
            map.and_then(|m| m.get(key))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        )
    };
    let value = match path {
        "metadata.name" => str_at(pod, "/metadata/name")
            .unwrap_or_default()
            .to_string(),
        "metadata.namespace" => src.namespace().to_string(),
        "metadata.uid" => str_at(pod, "/metadata/uid").unwrap_or_default().to_string(),
        "metadata.labels" => meta_map("labels"),
        "metadata.annotations" => meta_map("annotations"),
        "spec.nodeName" => src.node_name.to_string(),
        "spec.serviceAccountName" => str_at(pod, "/spec/serviceAccountName")
            .unwrap_or_default()
            .to_string(),
        "status.podIP" | "status.podIPs" => src.pod_ip.to_string(),
        "status.hostIP" | "status.hostIPs" => src.host_ip.to_string(),
        _ => match subscript("metadata.labels").or_else(|| subscript("metadata.annotations")) {
            Some(v) => v,
            None => return Err(format!("unsupported fieldPath: {path}")),
        },
    };
    Ok(value)
}

/// `resourceFieldRef`: a container's request or limit divided by `divisor`, rounded up; a missing limit is
/// the node's allocatable amount, as the kubelet substitutes.
fn resource_field_ref(res: &Value, container: &Value, pod: &Value) -> Result<String, String> {
    let resource = res
        .get("resource")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let target = match res
        .get("containerName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        Some(name) => ["containers", "initContainers"]
            .iter()
            .filter_map(|k| pod.pointer(&format!("/spec/{k}")).and_then(Value::as_array))
            .flatten()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
            .unwrap_or(container),
        None => container,
    };
    let (section, name) = resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported container resource: {resource}"))?;
    let quantity = |section: &str| {
        target
            .pointer(&format!("/resources/{section}/{name}"))
            .and_then(|v| {
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| v.as_f64().map(|f| f.to_string()))
            })
            .and_then(|s| parse_quantity(&s))
    };
    let value = match section {
        "limits" => quantity("limits").unwrap_or_else(|| node_allocatable(name)),
        "requests" => quantity("requests")
            .or_else(|| quantity("limits"))
            .unwrap_or(0.0),
        _ => return Err(format!("unsupported container resource: {resource}")),
    };
    let divisor = res
        .get("divisor")
        .and_then(|d| {
            d.as_str()
                .map(str::to_string)
                .or_else(|| d.as_f64().map(|f| f.to_string()))
        })
        .and_then(|s| parse_quantity(&s))
        .filter(|d| *d > 0.0)
        .unwrap_or(1.0);
    Ok(format!(
        "{}",
        (value / divisor - 1e-9).ceil().max(0.0) as i64
    ))
}

fn node_allocatable(resource: &str) -> f64 {
    match resource {
        "cpu" => std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64),
        "memory" => std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                let line = m.lines().find(|l| l.starts_with("MemTotal:"))?.to_string();
                line.split_whitespace().nth(1)?.parse::<f64>().ok()
            })
            .map_or(8.0 * 1024f64.powi(3), |kib| kib * 1024.0),
        _ => 100.0 * 1024f64.powi(3),
    }
}

/// Kubernetes `$(VAR)` expansion: defined names are replaced, undefined ones stay as written, `$$` is `$`.
pub(super) fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('(') {
            match body.find(')') {
                Some(end) => {
                    let name = &body[..end];
                    match lookup(name) {
                        Some(v) => out.push_str(&v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &body[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = body;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Replaces `from` in `s` where it stands as a whole path (not inside a longer one).
pub(super) fn replace_path(s: &str, from: &str, to: &str) -> String {
    if from.is_empty() {
        return s.to_string();
    }
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/');
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(found) = s[i..].find(from) {
        let start = i + found;
        let end = start + from.len();
        let before_ok = !s[..start].chars().next_back().is_some_and(is_path_char);
        let after_ok = !s[end..].chars().next().is_some_and(is_path_char);
        out.push_str(&s[i..start]);
        out.push_str(if before_ok && after_ok { to } else { from });
        i = end;
    }
    out.push_str(&s[i..]);
    out
}

/// Replaces `from` in `s` where it stands as a whole path or as the directory a longer path
/// starts with (`/data` in `/data/out.xml`), but not inside another path (`/database`).
pub(super) fn replace_dir(s: &str, from: &str, to: &str) -> String {
    let from = from.trim_end_matches('/');
    if from.is_empty() {
        return s.to_string();
    }
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/');
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(found) = s[i..].find(from) {
        let start = i + found;
        let end = start + from.len();
        let before_ok = !s[..start].chars().next_back().is_some_and(is_path_char);
        let after_ok = s[end..]
            .chars()
            .next()
            .is_none_or(|c| c == '/' || !is_path_char(c));
        out.push_str(&s[i..start]);
        out.push_str(if before_ok && after_ok { to } else { from });
        i = end;
    }
    out.push_str(&s[i..]);
    out
}

/// The `emptyDir` volumes `container` mounts, as (mountPath, directory on this machine): each
/// volume is a directory of the pod's own, shared by its containers and removed with the pod.
/// Other volume types are not provided.
pub(super) fn empty_dir_mounts(
    pod: &Value,
    container: &Value,
    pod_dir: &Path,
) -> Result<Vec<(String, PathBuf)>, String> {
    let volumes = pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut mounts = Vec::new();
    for mount in container
        .get("volumeMounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(name), Some(path)) = (str_at(mount, "/name"), str_at(mount, "/mountPath")) else {
            continue;
        };
        let is_empty_dir = volumes
            .iter()
            .any(|v| str_at(v, "/name") == Some(name) && v.get("emptyDir").is_some());
        if !is_empty_dir {
            continue;
        }
        let mut dir = pod_dir.join("volumes").join(name);
        if let Some(sub) = str_at(mount, "/subPath").filter(|s| !s.is_empty()) {
            dir = dir.join(sub);
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create the directory of volume {name:?}: {e}"))?;
        mounts.push((path.to_string(), dir));
    }
    Ok(mounts)
}

/// Everything needed to start one container process.
#[derive(Debug, Clone)]
pub(super) struct Launch {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
}

/// The terminationMessagePath a container writes to, with the kubelet's default.
pub(super) fn termination_message_path(container: &Value) -> &str {
    container
        .get("terminationMessagePath")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .unwrap_or("/dev/termination-log")
}

/// Resolves command, args, environment and working directory; `Err` is a start error message.
pub(super) fn build_launch(
    container: &Value,
    env: Vec<(String, String)>,
    message_file: &Path,
    mounts: &[(String, PathBuf)],
    pod_dir: &Path,
    hostname: &str,
) -> Result<Launch, String> {
    let strings = |key: &str| -> Vec<String> {
        container
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let command = strings("command");
    if command.is_empty() {
        let image = container
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(format!(
            "the sandbox kubelet runs containers as local processes and cannot run image {image:?} without \
             `command` (the image's entrypoint is not available)"
        ));
    }
    let declared = termination_message_path(container);
    let mapped = message_file.to_string_lossy();
    // A mount's path stands for its directory here, in arguments, variables and workingDir.
    let in_mounts = |s: String| {
        mounts.iter().fold(s, |s, (path, dir)| {
            replace_dir(&s, path, &dir.to_string_lossy())
        })
    };
    let lookup: HashMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let argv: Vec<String> = command
        .iter()
        .chain(strings("args").iter())
        .map(|arg| {
            in_mounts(replace_path(
                &expand(arg, |k| lookup.get(k).map(|v| v.to_string())),
                declared,
                &mapped,
            ))
        })
        .collect();
    // The container's own variables first, so they can override what a runtime would inherit.
    let mut full: Vec<(String, String)> = Vec::new();
    let path = std::env::var("PATH")
        .unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    full.push(("PATH".into(), path));
    if let Ok(home) = std::env::var("HOME") {
        full.push(("HOME".into(), home));
    }
    full.push(("HOSTNAME".into(), hostname.to_string()));
    for (k, v) in env {
        let v = if v == declared { mapped.to_string() } else { v };
        full.push((k, in_mounts(v)));
    }
    let cwd = container
        .get("workingDir")
        .and_then(Value::as_str)
        .map(|dir| PathBuf::from(in_mounts(dir.to_string())))
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| pod_dir.to_path_buf());
    Ok(Launch {
        argv,
        env: full,
        cwd,
    })
}

/// Process groups of running containers, so shutdown can kill every one of them and wait until they are
/// reaped.
#[derive(Debug, Default)]
pub(super) struct ProcessTable {
    groups: Mutex<HashSet<u32>>,
    emptied: tokio::sync::Notify,
}

impl ProcessTable {
    fn groups(&self) -> std::sync::MutexGuard<'_, HashSet<u32>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn insert(&self, pgid: u32) {
        self.groups().insert(pgid);
    }

    pub(super) fn remove(&self, pgid: u32) {
        let empty = {
            let mut groups = self.groups();
            groups.remove(&pgid);
            groups.is_empty()
        };
        if empty {
            self.emptied.notify_waiters();
        }
    }

    pub(super) fn all(&self) -> Vec<u32> {
        self.groups().iter().copied().collect()
    }

    /// Waits until every container process has been reaped.
    pub(super) async fn wait_empty(&self) {
        loop {
            let emptied = self.emptied.notified();
            if self.groups().is_empty() {
                return;
            }
            emptied.await;
        }
    }
}

/// Sends `signal` (`TERM`, `KILL`) to a whole process group; the returned child can be awaited.
pub(super) fn signal_group(pgid: u32, signal: &str) -> Option<tokio::process::Child> {
    tokio::process::Command::new(KILL_BINARY)
        .args(["-s", signal, "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

pub(super) fn spawn_error(program: &str, err: &std::io::Error) -> String {
    let detail = match err.kind() {
        std::io::ErrorKind::NotFound if !program.contains('/') => {
            "executable file not found in $PATH".to_string()
        }
        std::io::ErrorKind::NotFound => format!("stat {program}: no such file or directory"),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => err.to_string(),
    };
    format!("unable to start container process: exec: {program:?}: {detail}")
}

/// A process's exit code as a runtime reports it: `128 + n` for signal `n`, 137 when unknown.
pub(super) fn exit_code(status: std::io::Result<std::process::ExitStatus>) -> i32 {
    match status {
        Ok(status) => status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(9)),
        Err(_) => 137,
    }
}

/// Starts the process; its output goes to `log`, and `on_exit` gets the exit code once the process group is
/// gone and the log is closed. Returns the process group id, and the process's stdin when `stdin` asks for
/// one (a container with `stdin: true`; otherwise it reads from /dev/null).
pub(super) fn spawn(
    launch: Launch,
    stdin: bool,
    log: Arc<LogBuffer>,
    processes: Arc<ProcessTable>,
    on_exit: Box<dyn FnOnce(i32) + Send>,
) -> Result<(u32, Option<tokio::process::ChildStdin>), String> {
    let Some((program, args)) = launch.argv.split_first() else {
        return Err("no command".into());
    };
    // stdout and stderr share one pipe, so the log keeps the order in which lines were written
    // (two pipes read by two tasks would interleave them at random); `pods/log` merges the two
    // streams anyway.
    let (reader, writer) =
        std::io::pipe().map_err(|e| format!("unable to create the output pipe: {e}"))?;
    let writer_err = writer
        .try_clone()
        .map_err(|e| format!("unable to create the output pipe: {e}"))?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(launch.env)
        .current_dir(&launch.cwd)
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(writer)
        .stderr(writer_err)
        // If the runtime goes away without `shutdown`, at least the first process does not outlive it.
        .kill_on_drop(true)
        .process_group(0);
    let spawned = cmd.spawn();
    // The parent's copies of the write end go now, or the pipe would never report its end.
    drop(cmd);
    let mut child = spawned.map_err(|e| spawn_error(program, &e))?;
    let pgid = child
        .id()
        .ok_or_else(|| format!("unable to start container process: {program:?} exited at once"))?;
    processes.insert(pgid);
    let stdin = child.stdin.take();
    let output = tokio::net::unix::pipe::Receiver::from_owned_fd(reader.into())
        .ok()
        .map(|r| tokio::spawn(pump(r, log.clone())));
    tokio::spawn(async move {
        let code = exit_code(child.wait().await);
        // The first process is gone: take the rest of the "container" down with it.
        if let Some(mut kill) = signal_group(pgid, "KILL") {
            let _ = kill.wait().await;
        }
        if let Some(mut pump) = output
            && tokio::time::timeout(PIPE_DRAIN_TIMEOUT, &mut pump)
                .await
                .is_err()
        {
            pump.abort();
        }
        log.close();
        processes.remove(pgid);
        on_exit(code);
    });
    Ok((pgid, stdin))
}

async fn pump(mut reader: impl AsyncRead + Unpin, log: Arc<LogBuffer>) {
    let mut assembler = LineAssembler::default();
    let mut buf = vec![0u8; 8192];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => assembler.feed(&buf[..n], &log),
        }
    }
    assembler.finish(&log);
}

/// The message file's content after exit: its last 4 KiB, as the kubelet reads it.
pub(super) fn read_termination_message(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let cut = bytes.len().saturating_sub(MAX_TERMINATION_MESSAGE);
            String::from_utf8_lossy(&bytes[cut..]).into_owned()
        }
        Err(_) => String::new(),
    }
}

/// Keeps the last 4 KiB of a message given by other means (the simulated message annotation).
pub(super) fn clamp_message(message: &str) -> String {
    let bytes = message.as_bytes();
    let cut = bytes.len().saturating_sub(MAX_TERMINATION_MESSAGE);
    String::from_utf8_lossy(&bytes[cut..]).into_owned()
}

#[cfg(test)]
mod tests;
