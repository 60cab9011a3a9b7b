//! `testjob-operator sandbox`: a working cluster for newcomers in one command. It starts the
//! in-memory API server (pods run as local processes), installs the TestJob CRD, runs the
//! controller against it, applies the given manifests and keeps running until Ctrl-C.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::{Discovery, Scope};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, CustomResourceExt, ResourceExt};
use kube_sandbox::{PodMode, Sandbox, SandboxConfig};

use crate::config::{Config, RunArgs};
use crate::crd::{Phase, TestJob};
use crate::operator::{self, signals::shutdown_signal};

/// Flags of `testjob-operator sandbox`.
#[derive(clap::Args, Debug)]
pub struct SandboxArgs {
    /// Where to write the sandbox's kubeconfig.
    #[arg(long, default_value = ".sandbox/kubeconfig")]
    pub kubeconfig: PathBuf,

    /// A manifest (YAML, several documents allowed) to apply once the controller runs; repeatable.
    #[arg(long = "apply", value_name = "FILE")]
    pub apply: Vec<PathBuf>,

    /// The controller's flags, as for `run`.
    #[command(flatten)]
    pub run: RunArgs,
}

/// kubectl's annotation of the configuration it last applied.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The field manager of the manifests this command applies.
const FIELD_MANAGER: &str = "testjob-operator-sandbox";

pub async fn execute(args: SandboxArgs) -> anyhow::Result<()> {
    let manifests = args
        .apply
        .iter()
        .map(|path| read_manifests(path))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let config = Config::try_from(args.run)?;
    let sandbox = Sandbox::start(SandboxConfig {
        pods: PodMode::Exec,
        kubeconfig: Some(args.kubeconfig.clone()),
        ..Default::default()
    })
    .await
    .context("starting the sandbox")?;
    let kubeconfig = std::path::absolute(sandbox.kubeconfig_path())?;
    println!("sandbox API server listening at {}", sandbox.url());
    let client = sandbox.client().await?;

    install_crd(&client).await?;
    println!("installed the TestJob CRD (testjobs.testjob.dev)");
    // The dashboard sees what the controller sees, on a free local port.
    let dashboard_settings = crate::dashboard::Settings {
        namespace: config.namespace.clone(),
        max_running: config.queue.max_running,
        default_priority: config.queue.default_priority,
        page_size: 100,
    };
    let controller = tokio::spawn(operator::run(client.clone(), config));
    tokio::spawn(report_progress(client.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the dashboard's port")?;
    let dashboard =
        crate::dashboard::Dashboard::start(client.clone(), dashboard_settings, listener)
            .context("starting the dashboard")?;
    println!("dashboard: {}", dashboard.url());

    for (path, documents) in args.apply.iter().zip(manifests) {
        for doc in documents {
            let applied = apply(&client, &doc)
                .await
                .with_context(|| format!("applying {}", path.display()))?;
            println!("applied {applied}");
        }
    }
    println!(
        "\nThe sandbox runs until Ctrl-C. Open {} in a browser, or from another terminal:\n  export KUBECONFIG={}\n  kubectl get testjobs\n",
        dashboard.url(),
        kubeconfig.display()
    );

    let result = tokio::select! {
        _ = shutdown_signal() => Ok(()),
        finished = controller => match finished {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow::Error::new(e).context("the controller stopped")),
            Err(e) => Err(anyhow::Error::new(e).context("the controller task failed")),
        },
    };
    sandbox.shutdown().await;
    result
}

/// Creates or updates the CRD and waits until it is served.
pub async fn install_crd(client: &Client) -> anyhow::Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = TestJob::crd();
    let name = crd.name_any();
    crds.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&crd),
    )
    .await
    .context("installing the TestJob CRD")?;
    let established = kube::runtime::wait::await_condition(
        crds,
        &name,
        kube::runtime::wait::conditions::is_crd_established(),
    );
    tokio::time::timeout(Duration::from_secs(30), established)
        .await
        .context("the TestJob CRD was not established within 30s")??;
    Ok(())
}

fn read_manifests(path: &Path) -> anyhow::Result<Vec<serde_json::Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let value: serde_json::Value = serde::Deserialize::deserialize(doc)
            .with_context(|| format!("parsing {}", path.display()))?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// Server-side apply of one manifest, whatever its kind (as `kubectl apply --server-side`).
async fn apply(client: &Client, doc: &serde_json::Value) -> anyhow::Result<String> {
    let obj: DynamicObject =
        serde_json::from_value(doc.clone()).context("not a Kubernetes object")?;
    let Some(types) = obj.types.clone() else {
        bail!("the manifest has no apiVersion/kind");
    };
    let gvk = kube::api::GroupVersionKind::try_from(&types)?;
    let discovery = Discovery::new(client.clone()).run().await?;
    let Some((resource, caps)) = discovery.resolve_gvk(&gvk) else {
        bail!(
            "the cluster does not serve {}/{}",
            types.api_version,
            types.kind
        );
    };
    let name = obj.name_any();
    let mut obj = obj;
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Namespaced => {
            let ns = obj.namespace().unwrap_or_else(|| "default".to_string());
            obj.metadata.namespace = Some(ns.clone());
            Api::namespaced_with(client.clone(), &ns, &resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    // What `kubectl apply` records, so that a later `kubectl apply -f` of the same file is quiet
    // (it warns about objects without it) and computes its three-way merge from it.
    let mut recorded = doc.clone();
    if let Some(ns) = &obj.metadata.namespace {
        recorded["metadata"]["namespace"] = serde_json::Value::String(ns.clone());
    }
    if recorded["metadata"]["annotations"].is_null() {
        recorded["metadata"]["annotations"] = serde_json::json!({});
    }
    // Go's json.Marshal, as kubectl writes it: HTML-significant characters escaped.
    let last_applied = format!("{}\n", serde_json::to_string(&recorded)?)
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    obj.annotations_mut()
        .insert(LAST_APPLIED.to_owned(), last_applied);
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&obj),
    )
    .await?;
    let group = if resource.group.is_empty() {
        String::new()
    } else {
        format!(".{}", resource.group)
    };
    Ok(format!(
        "{}{}/{}",
        resource.kind.to_lowercase(),
        group,
        name
    ))
}

/// Prints each TestJob's phase as it changes, so a newcomer sees the queue work.
async fn report_progress(client: Client) {
    let jobs: Api<TestJob> = Api::all(client);
    let mut last: std::collections::HashMap<String, Phase> = Default::default();
    let stream = watcher::watcher(jobs, watcher::Config::default())
        .default_backoff()
        .applied_objects();
    let mut stream = std::pin::pin!(stream);
    while let Ok(Some(job)) = stream.try_next().await {
        let Some(status) = job.status.as_ref() else {
            continue;
        };
        let Some(phase) = status.phase else { continue };
        let key = format!("{}/{}", job.namespace().unwrap_or_default(), job.name_any());
        if last.get(&key) == Some(&phase) {
            continue;
        }
        last.insert(key.clone(), phase);
        match status.result.as_deref() {
            Some(result) => println!("testjob {key}: {} ({result})", phase.as_str()),
            None => println!("testjob {key}: {}", phase.as_str()),
        }
    }
    let _ = stream.next().await;
}
