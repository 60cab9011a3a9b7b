//! The real kubectl (the pinned 1.35 and the machine's own) against `kube-sandbox serve` with
//! default flags: every scenario runs once per kubectl version, each on a fresh sandbox.

mod common;

use std::time::Duration;

use common::{Kubectl, LineReader, Server, fixture, kubectls, wait_for};

const WAIT: Duration = Duration::from_secs(30);

/// Runs `scenario` for each kubectl on its own sandbox, with the Widget CRD installed.
fn each_kubectl(scenario: impl Fn(&Kubectl)) {
    for bin in kubectls() {
        let server = Server::start(&[]);
        let k = server.kubectl(&bin);
        let out = k.run_stdin(&["apply", "-f", "-"], &fixture("widget-crd.yaml"));
        assert!(out.ok, "{}: applying the CRD: {out:?}", bin.display());
        assert!(
            out.stdout.contains(
                "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created"
            ),
            "{out:?}"
        );
        scenario(&k);
    }
}

#[test]
fn custom_resource_apply_and_printer_columns() {
    each_kubectl(|k| {
        let out = k.apply(&fixture("widget.yaml"));
        assert!(out.ok, "{out:?}");
        assert!(
            out.stdout.contains("widget.example.com/w1 created"),
            "{out:?}"
        );
        // Re-applying an unchanged manifest is a no-op, as on a real cluster.
        let again = k.apply(&fixture("widget.yaml"));
        assert!(
            again.stdout.contains("widget.example.com/w1 unchanged"),
            "{again:?}"
        );

        let table = k.ok(&["get", "widgets"]);
        let mut lines = table.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        assert_eq!(header, ["NAME", "SIZE", "COLOR", "PHASE", "AGE"], "{table}");
        let row: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        assert_eq!(&row[..3], ["w1", "3", "blue"], "{table}");
        assert!(
            row[3].ends_with('s') || row[3].ends_with('m'),
            "age column: {table}"
        );

        // Short name and category resolve through discovery.
        assert!(k.ok(&["get", "wg"]).contains("w1"));
        let by_category = k.ok(&["get", "examples"]);
        assert!(
            by_category.lines().any(|l| l.starts_with("w1 ")),
            "{by_category}"
        );
        // Defaults from the schema were applied.
        let min = k.ok(&["get", "widget", "w1", "-o", "jsonpath={.spec.minReplicas}"]);
        assert_eq!(min, "1");
        // `kubectl create` of the same object is refused as on kube-apiserver.
        let dup = k.run_stdin(&["create", "-f", "-"], &fixture("widget.yaml"));
        assert!(!dup.ok);
        assert!(
            dup.stderr
                .contains("widgets.example.com \"w1\" already exists"),
            "{dup:?}"
        );
    });
}

#[test]
fn get_watch_prints_a_row_for_an_update() {
    each_kubectl(|k| {
        assert!(k.apply(&fixture("widget.yaml")).ok);
        let mut watch = LineReader::spawn(k.command(&["get", "widgets", "-w"]));
        watch.expect_line("with the header", WAIT, |l| l.starts_with("NAME"));
        watch.expect_line("for w1", WAIT, |l| l.starts_with("w1 "));
        k.ok(&[
            "patch",
            "widget",
            "w1",
            "--type=merge",
            "-p",
            r#"{"spec":{"size":7}}"#,
        ]);
        let row = watch.expect_line("for the update", WAIT, |l| {
            l.starts_with("w1 ") && l.split_whitespace().nth(1) == Some("7")
        });
        assert!(row.contains("blue"), "{row}");
    });
}

#[test]
fn explain_reads_the_crd_schema() {
    each_kubectl(|k| {
        let out = k.ok(&["explain", "widgets.spec"]);
        assert!(out.contains("KIND:") && out.contains("Widget"), "{out}");
        assert!(out.contains("size"), "{out}");
        assert!(out.contains("How big the widget is"), "{out}");
        let out = k.ok(&["explain", "widgets.spec.color"]);
        assert!(out.contains("The widget's colour"), "{out}");
    });
}

#[test]
fn wait_for_jsonpath_and_condition() {
    each_kubectl(|k| {
        assert!(k.apply(&fixture("widget.yaml")).ok);
        let jsonpath = k
            .command(&[
                "wait",
                "widget/w1",
                "--for=jsonpath={.status.phase}=Ready",
                "--timeout=30s",
            ])
            .spawn()
            .expect("kubectl wait");
        let condition = k
            .command(&[
                "wait",
                "widget/w1",
                "--for=condition=Ready",
                "--timeout=30s",
            ])
            .spawn()
            .expect("kubectl wait");
        k.ok(&[
            "patch", "widget", "w1", "--subresource=status", "--type=merge", "-p",
            r#"{"status":{"phase":"Ready","conditions":[{"type":"Ready","status":"True","reason":"Done","message":"ok"}]}}"#,
        ]);
        for (what, child) in [("jsonpath", jsonpath), ("condition", condition)] {
            let out = child.wait_with_output().expect("kubectl wait");
            assert!(out.status.success(), "kubectl wait --for={what} failed");
        }
        // The main endpoint ignores status; generation follows spec only.
        let generation = k.ok(&[
            "get",
            "widget",
            "w1",
            "-o",
            "jsonpath={.metadata.generation}",
        ]);
        assert_eq!(generation, "1");
    });
}

#[test]
fn delete_wait_honours_finalizers() {
    each_kubectl(|k| {
        assert!(k.apply(&fixture("widget.yaml")).ok);
        k.ok(&[
            "patch",
            "widget",
            "w1",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
        ]);
        let mut delete = k
            .command(&["delete", "widget", "w1", "--wait", "--timeout=30s"])
            .spawn()
            .expect("kubectl delete");
        wait_for("deletionTimestamp", WAIT, || {
            let ts = k.ok(&[
                "get",
                "widget",
                "w1",
                "-o",
                "jsonpath={.metadata.deletionTimestamp}",
            ]);
            (!ts.is_empty()).then_some(())
        });
        assert!(
            delete.try_wait().expect("try_wait").is_none(),
            "delete --wait returned while a finalizer holds the object"
        );
        k.ok(&[
            "patch",
            "widget",
            "w1",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ]);
        assert!(delete.wait().expect("kubectl delete").success());
        let gone = k.run(&["get", "widget", "w1"]);
        assert!(
            !gone.ok && gone.stderr.contains("widgets.example.com \"w1\" not found"),
            "{gone:?}"
        );
    });
}

#[test]
fn describe_shows_events_posted_through_events_k8s_io() {
    each_kubectl(|k| {
        assert!(k.apply(&fixture("widget.yaml")).ok);
        let uid = k.ok(&["get", "widget", "w1", "-o", "jsonpath={.metadata.uid}"]);
        let event = format!(
            r#"{{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{{"name":"w1.1","namespace":"default"}},
            "eventTime":"2024-05-01T10:00:00.000000Z","reportingController":"example.com/widget-controller","reportingInstance":"widget-controller-1",
            "action":"Resize","reason":"Resized","note":"widget grew to size 3","type":"Normal",
            "regarding":{{"apiVersion":"example.com/v1","kind":"Widget","name":"w1","namespace":"default","uid":"{uid}"}}}}"#
        );
        let out = k.run_stdin(&["create", "-f", "-"], &event);
        assert!(out.ok, "{out:?}");
        let described = k.ok(&["describe", "widget", "w1"]);
        assert!(described.contains("Events:"), "{described}");
        let line = described
            .lines()
            .find(|l| l.contains("Resized"))
            .unwrap_or_else(|| panic!("{described}"));
        assert!(
            line.contains("Normal") && line.contains("widget grew to size 3"),
            "{described}"
        );
        // The same event read through the core API.
        let core = k.ok(&[
            "get",
            "events.v1.",
            "w1.1",
            "-o",
            "jsonpath={.involvedObject.name}/{.message}",
        ]);
        assert_eq!(core, "w1/widget grew to size 3");
    });
}

#[test]
fn logs_of_an_exec_pod() {
    each_kubectl(|k| {
        let out = k.run_stdin(&["create", "-f", "-"], &fixture("exec-pod.yaml"));
        assert!(out.ok, "{out:?}");
        k.ok(&[
            "wait",
            "pod/hello",
            "--for=jsonpath={.status.phase}=Succeeded",
            "--timeout=30s",
        ]);
        let logs = k.ok(&["logs", "hello"]);
        assert_eq!(logs, "hello from the sandbox\nsecond line\n");
        let table = k.ok(&["get", "pod", "hello"]);
        let row: Vec<&str> = table
            .lines()
            .nth(1)
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        assert_eq!(&row[..4], ["hello", "0/1", "Completed", "0"], "{table}");
    });
}

#[test]
fn schema_and_cel_violations_are_refused_with_field_messages() {
    each_kubectl(|k| {
        let big = k.apply(&fixture("widget-too-big.yaml"));
        assert!(!big.ok);
        assert!(
            big.stderr.contains(r#"The Widget "w-big" is invalid: spec.size: Invalid value: 20: spec.size in body should be less than or equal to 10"#),
            "{big:?}"
        );
        let cel = k.apply(&fixture("widget-bad-cel.yaml"));
        assert!(!cel.ok);
        assert!(
            // Kubernetes 1.35 omits the value of object-typed fields in CEL errors (it printed
            // `"object"` before): apiextensions-apiserver schema/cel/validation.go.
            cel.stderr.contains(r#"The Widget "w-cel" is invalid: spec: Invalid value: minReplicas cannot be larger than maxReplicas"#),
            "{cel:?}"
        );
        let unknown = k.apply(&fixture("widget-unknown-field.yaml"));
        assert!(!unknown.ok);
        assert!(
            unknown.stderr.contains(r#"unknown field "spec.sise""#),
            "{unknown:?}"
        );
        // None of them was stored.
        let listed = k.run(&["get", "widgets"]);
        assert!(listed.stderr.contains("No resources found"), "{listed:?}");
    });
}

#[test]
fn chunked_and_all_namespace_gets_and_namespace_deletion() {
    each_kubectl(|k| {
        // Manifests rather than `kubectl create namespace/configmap`, which send protobuf.
        let mut manifest = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n".to_string();
        for i in 0..5 {
            manifest.push_str(&format!(
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: team\ndata:\n  k: v\n"
            ));
        }
        let out = k.run_stdin(&["create", "-f", "-"], &manifest);
        assert!(out.ok, "{out:?}");
        // Lists in chunks of two (limit/continue) still show every object, in order.
        let names = k.ok(&[
            "get",
            "configmaps",
            "-n",
            "team",
            "--chunk-size=2",
            "-o",
            "name",
        ]);
        assert_eq!(
            names.lines().collect::<Vec<_>>(),
            [
                "configmap/cm-0",
                "configmap/cm-1",
                "configmap/cm-2",
                "configmap/cm-3",
                "configmap/cm-4",
                // The root CA publisher's, in every namespace.
                "configmap/kube-root-ca.crt"
            ],
            "{names}"
        );
        let table = k.ok(&["get", "configmaps", "-n", "team", "--chunk-size=2"]);
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows.len(), 7, "one header and six rows: {table}");
        assert_eq!(
            rows[0].split_whitespace().collect::<Vec<_>>(),
            ["NAME", "DATA", "AGE"],
            "{table}"
        );

        // -A adds the NAMESPACE column, read from each row's object metadata.
        let all = k.ok(&["get", "serviceaccounts", "-A", "--chunk-size=1"]);
        let mut lines = all.lines();
        assert_eq!(
            lines
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["NAMESPACE", "NAME", "SECRETS", "AGE"],
            "{all}"
        );
        let namespaces: Vec<&str> = lines
            .filter(|l| l.split_whitespace().nth(1) == Some("default"))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        for ns in ["default", "kube-system", "team"] {
            assert!(
                namespaces.contains(&ns),
                "{ns} has its default ServiceAccount: {all}"
            );
        }

        // -o wide adds the priority columns of pods.
        let out = k.run_stdin(
            &["create", "-n", "team", "-f", "-"],
            &fixture("exec-pod.yaml"),
        );
        assert!(out.ok, "{out:?}");
        k.ok(&[
            "wait",
            "-n",
            "team",
            "pod/hello",
            "--for=jsonpath={.status.phase}=Succeeded",
            "--timeout=30s",
        ]);
        let wide = k.ok(&["get", "pods", "-n", "team", "-o", "wide"]);
        let header: Vec<&str> = wide
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        assert_eq!(
            header,
            [
                "NAME",
                "READY",
                "STATUS",
                "RESTARTS",
                "AGE",
                "IP",
                "NODE",
                "NOMINATED",
                "NODE",
                "READINESS",
                "GATES"
            ],
            "{wide}"
        );
        let row: Vec<&str> = wide
            .lines()
            .nth(1)
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        assert_eq!(&row[..3], ["hello", "0/1", "Completed"], "{wide}");
        assert_eq!(row.get(6), Some(&"sandbox"), "{wide}");

        // delete --wait returns once the namespace and everything in it are gone.
        let out = k.ok(&["delete", "namespace", "team", "--wait", "--timeout=60s"]);
        assert!(out.contains("namespace \"team\" deleted"), "{out}");
        let gone = k.run(&["get", "namespace", "team"]);
        assert!(
            !gone.ok && gone.stderr.contains("namespaces \"team\" not found"),
            "{gone:?}"
        );
        let left = k.run(&["get", "configmaps", "-n", "team"]);
        assert!(left.stderr.contains("No resources found"), "{left:?}");
    });
}

#[test]
fn protected_namespaces_cannot_be_deleted() {
    each_kubectl(|k| {
        // kube-apiserver's NamespaceLifecycle admission (plugin/pkg/admission/namespace/lifecycle):
        //   errors.NewForbidden(a.GetResource().GroupResource(), a.GetName(),
        //       fmt.Errorf("this namespace may not be deleted"))
        for ns in ["default", "kube-system", "kube-public"] {
            let out = k.run(&["delete", "namespace", ns]);
            assert!(!out.ok, "{out:?}");
            assert_eq!(
                out.stderr.trim(),
                format!(
                    "Error from server (Forbidden): namespaces \"{ns}\" is forbidden: this namespace may not be deleted"
                ),
                "{out:?}"
            );
        }
        // Still there, and an ordinary namespace still goes.
        k.ok(&["get", "namespace", "default"]);
        let out = k.run_stdin(
            &["create", "-f", "-"],
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: scratch\n",
        );
        assert!(out.ok, "{out:?}");
        let out = k.run(&["delete", "namespace", "scratch", "--wait=false"]);
        assert!(out.ok, "{out:?}");
    });
}
