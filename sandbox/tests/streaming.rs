//! `kubectl exec`, `attach` (through `run -i --rm`), `cp` and `port-forward` with the real
//! kubectl 1.35 and 1.32 against one sandbox in exec mode, where pods are local processes; and
//! the clear refusal of a sandbox in simulate mode. Both kubectl versions use the WebSocket
//! protocols by default (KUBECTL_REMOTE_COMMAND_WEBSOCKETS, KUBECTL_PORT_FORWARD_WEBSOCKETS).

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::{Kubectl, LineReader, Server, kubectls, wait_for};

const WAIT: Duration = Duration::from_secs(20);

/// An exec-mode sandbox per test (a process, killed when the test's `Server` drops; a shared
/// static one would outlive the test binary).
fn server() -> Server {
    Server::start(&["--pods", "exec"])
}

/// A name per kubectl version, so scenarios for both can share a sandbox.
fn versioned(base: &str, i: usize) -> String {
    format!("{base}-k{i}")
}

fn sleeping_pod(k: &Kubectl, name: &str, extra_container_fields: &str) {
    let manifest = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: main
    image: busybox
    command: ["sleep", "300"]
{extra_container_fields}"#
    );
    let out = k.apply(&manifest);
    assert!(out.ok, "{out:?}");
    k.ok(&[
        "wait",
        "--for=condition=Ready",
        &format!("pod/{name}"),
        "--timeout=20s",
    ]);
}

#[test]
fn exec_streams_output_stdin_and_the_exit_code() {
    let server = server();
    for (i, bin) in kubectls().iter().enumerate() {
        let k = server.kubectl(bin);
        let name = versioned("ex", i);
        let workdir = tempfile::tempdir().expect("tempdir");
        let dir = workdir.path().to_string_lossy().to_string();
        let extra = format!(
            "    workingDir: {dir}\n    env:\n    - name: GREETING\n      value: hello from the container\n"
        );
        sleeping_pod(&k, &name, &extra);

        // The container's environment and working directory; stdout and stderr apart.
        let out = k.run(&[
            "exec",
            &name,
            "--",
            "sh",
            "-c",
            "echo \"$GREETING\"; pwd; echo oops >&2",
        ]);
        assert!(out.ok, "{}: {out:?}", bin.display());
        assert_eq!(
            out.stdout,
            format!("hello from the container\n{dir}\n"),
            "{out:?}"
        );
        assert!(out.stderr.contains("oops"), "{out:?}");

        // The exit code comes back through the error channel's Status.
        let out = k
            .command(&["exec", &name, "--", "sh", "-c", "exit 3"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(3), "{}: {out:?}", bin.display());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("command terminated with exit code 3"),
            "{stderr}"
        );

        // stdin is piped through, and its end reaches the command.
        let out = k.run_stdin(
            &["exec", "-i", &name, "--", "sh", "-c", "wc -l; cat"],
            "a\nb\nc\n",
        );
        assert!(out.ok, "{out:?}");
        assert_eq!(out.stdout.trim(), "3", "{out:?}");

        // A command that cannot start is the runtime's error, not an exit code.
        let out = k.run(&["exec", &name, "--", "no-such-command-here"]);
        assert!(!out.ok, "{out:?}");
        assert!(
            out.stderr.contains("executable file not found in $PATH"),
            "{out:?}"
        );

        // A container name that is not in the pod: the API server's 400.
        let out = k.run(&["exec", &name, "-c", "nope", "--", "true"]);
        assert!(!out.ok, "{out:?}");
        assert!(
            out.stderr
                .contains(&format!("container nope is not valid for pod {name}")),
            "{out:?}"
        );
    }
}

#[test]
fn cp_copies_a_file_in_and_out() {
    let server = server();
    for (i, bin) in kubectls().iter().enumerate() {
        let k = server.kubectl(bin);
        let name = versioned("cp", i);
        sleeping_pod(&k, &name, "");
        let local = tempfile::tempdir().expect("tempdir");
        let remote = tempfile::tempdir().expect("tempdir");
        let source = local.path().join("in.txt");
        let body: String = (0..500).map(|n| format!("line {n}\n")).collect();
        std::fs::write(&source, &body).expect("write");
        let dest = remote.path().join("copied.txt");
        let out = k.run(&[
            "cp",
            &source.to_string_lossy(),
            &format!("{name}:{}", dest.display()),
        ]);
        assert!(out.ok, "{}: {out:?}", bin.display());
        assert_eq!(std::fs::read_to_string(&dest).expect("copied in"), body);

        let back = local.path().join("back.txt");
        let out = k.run(&[
            "cp",
            &format!("{name}:{}", dest.display()),
            &back.to_string_lossy(),
        ]);
        assert!(out.ok, "{out:?}");
        assert_eq!(std::fs::read_to_string(&back).expect("copied out"), body);
    }
}

#[test]
fn run_interactive_shows_every_line_and_removes_the_pod() {
    let server = server();
    for (i, bin) in kubectls().iter().enumerate() {
        let k = server.kubectl(bin);
        let name = versioned("runi", i);
        // The sleep keeps the pod Running when kubectl looks, so it attaches (a pod already
        // completed would be shown through its log instead); the line read comes from kubectl's
        // stdin through the attach stream into the container's stdin (`stdin: true`).
        let out = k.run_stdin(
            &[
                "run",
                &name,
                "-i",
                "--rm",
                "--restart=Never",
                "--image=busybox",
                "--command",
                "--",
                "sh",
                "-c",
                "sleep 1; read line; echo \"got $line\"; seq 1 2000",
            ],
            "hello\n",
        );
        assert!(out.ok, "{}: {out:?}", bin.display());
        assert!(
            out.stdout.contains("got hello\n"),
            "{}: {out:?}",
            bin.display()
        );
        let numbers: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| l.chars().all(|c| c.is_ascii_digit()) && !l.is_empty())
            .collect();
        let expected: Vec<String> = (1..=2000).map(|n| n.to_string()).collect();
        assert_eq!(
            numbers,
            expected,
            "{}: stderr {}",
            bin.display(),
            out.stderr
        );
        wait_for("the pod to be removed", WAIT, || {
            let r = k.run(&["get", "pod", &name]);
            (!r.ok && r.stderr.contains("NotFound")).then_some(())
        });
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn http_get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn port_forward_reaches_the_container_port() {
    let server = server();
    for (i, bin) in kubectls().iter().enumerate() {
        let k = server.kubectl(bin);
        let name = versioned("pf", i);
        let port = free_port();
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(root.path().join("hello.txt"), "hi").expect("write");
        let manifest = format!(
            r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: web
    image: python
    workingDir: {}
    command: ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
"#,
            root.path().display()
        );
        let out = k.apply(&manifest);
        assert!(out.ok, "{out:?}");
        wait_for("the server to listen", WAIT, || http_get(port));

        let mut pf = LineReader::spawn(k.command(&[
            "port-forward",
            &format!("pod/{name}"),
            &format!("0:{port}"),
        ]));
        let line = pf.expect_line("Forwarding from 127.0.0.1", WAIT, |l| {
            l.starts_with("Forwarding from 127.0.0.1:")
        });
        let local: u16 = line
            .trim_start_matches("Forwarding from 127.0.0.1:")
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        for _ in 0..2 {
            let resp = http_get(local)
                .unwrap_or_else(|| panic!("{}: no answer through the forward", bin.display()));
            assert!(resp.starts_with("HTTP/1.0 200"), "{resp}");
            assert!(resp.contains("hello.txt"), "{resp}");
        }
        k.ok(&["delete", "pod", &name, "--wait=false"]);
    }
}

#[test]
fn simulate_mode_refuses_clearly() {
    let sim = Server::start(&["--pods", "simulate"]);
    for (i, bin) in kubectls().iter().enumerate() {
        let k = sim.kubectl(bin);
        let name = versioned("sim", i);
        let manifest = format!(
            r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
  annotations:
    sandbox.kube/run-seconds: "300"
spec:
  containers:
  - name: main
    image: busybox
"#
        );
        assert!(k.apply(&manifest).ok);
        k.ok(&[
            "wait",
            "--for=condition=Ready",
            &format!("pod/{name}"),
            "--timeout=20s",
        ]);
        let pod_ref = format!("pod/{name}");
        for args in [
            vec!["exec", name.as_str(), "--", "true"],
            vec!["attach", name.as_str()],
            vec!["port-forward", &pod_ref, "0:80"],
        ] {
            let out = k.run(&args);
            assert!(!out.ok, "{out:?}");
            assert!(
                out.stderr.contains("not supported in simulate mode"),
                "{}: {out:?}",
                bin.display()
            );
            assert!(!out.stderr.contains("NotFound"), "{out:?}");
        }
    }
}

/// The WebSocket upgrade is a GET, but exec needs `create` on pods/exec too (1.35's
/// AuthorizePodWebsocketUpgradeCreatePermission: "clients must be authorized to **create** Pod
/// subresources even when triggering their creation using a WebSocket").
#[test]
fn exec_over_websocket_needs_create_as_well_as_get() {
    let server = server();
    let bins = kubectls();
    let admin = server.kubectl(&bins[0]);
    sleeping_pod(&admin, "guarded", "");
    let rbac = r#"apiVersion: v1
kind: ServiceAccount
metadata:
  name: reader
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: exec-get-only
rules:
- apiGroups: [""]
  resources: ["pods", "pods/exec"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: reader-exec-get-only
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: exec-get-only
subjects:
- kind: ServiceAccount
  name: reader
  namespace: default
"#;
    assert!(admin.apply(rbac).ok);
    let token = admin.ok(&["create", "token", "reader"]);
    let token = format!("--token={}", token.trim());
    for bin in &bins {
        let k = server.kubectl(bin);
        let out = k.run(&[&token, "exec", "guarded", "--", "true"]);
        assert!(!out.ok, "{}: {out:?}", bin.display());
        assert!(
            out.stderr.contains(
                "User \"system:serviceaccount:default:reader\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"default\""
            ),
            "{}: {out:?}",
            bin.display()
        );
    }
    // With `create` granted as well, the same exec runs.
    let role = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: exec-get-only
rules:
- apiGroups: [""]
  resources: ["pods", "pods/exec"]
  verbs: ["get", "create"]
"#;
    assert!(admin.apply(role).ok);
    for bin in &bins {
        let k = server.kubectl(bin);
        let out = k.run(&[&token, "exec", "guarded", "--", "echo", "allowed"]);
        assert!(out.ok, "{}: {out:?}", bin.display());
        assert_eq!(out.stdout, "allowed\n");
    }
}
