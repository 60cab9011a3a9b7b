//! Pod validation as kube-apiserver's pod strategy runs it (pkg/apis/core/validation/validation.go:
//! `ValidatePodSpec`, `validateContainers`, `validateInitContainers`, `validateContainerCommon`,
//! `validateContainerPorts`, `ValidateEnv`, `ValidateVolumes`, `ValidateVolumeMounts`,
//! `validateResourceRequirements`, the probe validators, `ValidatePodUpdate`), over the defaulted
//! v1 object. The spec is checked after the defaults of pkg/apis/core/v1/defaults.go are applied,
//! as the apiserver decodes (and so defaults) before it validates.
//!
//! Not ported (accepted as they come): the per-source checks of volume sources other than
//! `hostPath` and `emptyDir` (only "exactly one source" is checked for them), envFrom, env
//! `valueFrom` selectors, lifecycle hooks, resource names, hugepages and extended resources,
//! resize policies, pod-level resources and resource claims, ephemeral containers, affinity,
//! topology spread, DNS config, host aliases, tolerations, readiness and scheduling gates,
//! sysctls, Windows options, AppArmor, the pod security context's user and group ranges,
//! container security contexts beyond `seccompProfile`, `hostPort` conflicts, and the
//! `cmp.Diff` of the old and new spec that Go appends to the update error.

use serde_json::{Value, json};

use super::names;
use super::quantity;
use crate::schema::FieldError;

mod update;

pub use update::update;

pub(super) const MAX_INT32: i64 = i32::MAX as i64;

pub(super) fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

pub(super) fn list(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// A value that failed to decode: kube-apiserver refuses the body with a 400 before validation.
#[derive(Debug, PartialEq)]
pub struct DecodeError(pub String);

/// Quantities that do not parse, which kube-apiserver's decoder refuses
/// (`Pod in version "v1" cannot be handled as a Pod: <parse error>`).
pub fn decode_errors(spec: &Value) -> Option<DecodeError> {
    let containers = list(&spec["containers"])
        .iter()
        .chain(list(&spec["initContainers"]));
    for c in containers {
        for part in ["limits", "requests"] {
            for q in c["resources"][part]
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
            {
                if let Err(e) = parse_quantity(q) {
                    return Some(DecodeError(e.to_string()));
                }
            }
        }
    }
    for v in list(&spec["volumes"]) {
        let limit = &v["emptyDir"]["sizeLimit"];
        if !limit.is_null()
            && let Err(e) = parse_quantity(limit)
        {
            return Some(DecodeError(e.to_string()));
        }
    }
    None
}

fn parse_quantity(q: &Value) -> Result<f64, &'static str> {
    match q {
        Value::String(s) => quantity::parse(s),
        Value::Number(n) => n.as_f64().ok_or(quantity::FORMAT_WRONG),
        _ => Err(quantity::FORMAT_WRONG),
    }
}

fn quantity_text(q: &Value) -> String {
    match q {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `validatePodMetadataAndSpec` less the metadata (validated by the caller): the spec of a Pod.
pub fn spec(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let p = "spec";
    if spec["terminationGracePeriodSeconds"].is_null() {
        errs.push(FieldError::required(
            format!("{p}.terminationGracePeriodSeconds"),
            "",
        ));
    }
    let volumes = volumes(list(&spec["volumes"]), &mut errs);
    containers(spec, &volumes, &mut errs);
    init_containers(spec, &volumes, &mut errs);
    enumerated(
        &spec["restartPolicy"],
        &format!("{p}.restartPolicy"),
        &["Always", "OnFailure", "Never"],
        &mut errs,
    );
    enumerated(
        &spec["dnsPolicy"],
        &format!("{p}.dnsPolicy"),
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        &mut errs,
    );
    if let Some(selector) = spec["nodeSelector"].as_object() {
        errs.extend(super::meta::labels(selector, &format!("{p}.nodeSelector")));
    }
    pod_security_context(&spec["securityContext"], &mut errs);
    for (field, check) in [
        (
            "serviceAccountName",
            names::dns1123_subdomain as fn(&str) -> Vec<String>,
        ),
        ("nodeName", names::dns1123_subdomain),
    ] {
        let value = str_of(spec, field);
        if !value.is_empty() {
            for msg in check(value) {
                errs.push(FieldError::invalid(
                    format!("{p}.{field}"),
                    json!(value),
                    msg,
                ));
            }
        }
    }
    if let Some(deadline) = spec["activeDeadlineSeconds"].as_i64()
        && !(1..=MAX_INT32).contains(&deadline)
    {
        errs.push(FieldError::invalid(
            format!("{p}.activeDeadlineSeconds"),
            json!(deadline),
            names::inclusive_range_error(1, MAX_INT32),
        ));
    }
    for field in ["hostname", "subdomain"] {
        let value = str_of(spec, field);
        if !value.is_empty() {
            for msg in names::dns1123_label(value) {
                errs.push(FieldError::invalid(
                    format!("{p}.{field}"),
                    json!(value),
                    msg,
                ));
            }
        }
    }
    let priority_class = str_of(spec, "priorityClassName");
    if !priority_class.is_empty() {
        for msg in names::dns1123_subdomain(priority_class) {
            errs.push(FieldError::invalid(
                format!("{p}.priorityClassName"),
                json!(priority_class),
                msg,
            ));
        }
    }
    if !spec["preemptionPolicy"].is_null() {
        enumerated(
            &spec["preemptionPolicy"],
            &format!("{p}.preemptionPolicy"),
            &["PreemptLowerPriority", "Never"],
            &mut errs,
        );
    }
    errs
}

/// The `switch` of an enumerated field: empty is Required, an unknown value NotSupported.
fn enumerated(value: &Value, path: &str, valid: &[&str], errs: &mut Vec<FieldError>) {
    let s = value.as_str().unwrap_or_default();
    if s.is_empty() {
        errs.push(FieldError::required(path, ""));
    } else if !valid.contains(&s) {
        errs.push(FieldError::not_supported(path, json!(s), valid));
    }
}

/// Volume source fields in the order `validateVolumeSource` visits them, with the path segment
/// its "more than 1 volume type" error uses (Go's own spelling, `downwarAPI` included).
const VOLUME_SOURCES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

/// `ValidateVolumes`: the names of the valid volumes (those mounts may refer to).
fn volumes(vols: &[Value], errs: &mut Vec<FieldError>) -> Vec<String> {
    let mut valid: Vec<String> = Vec::new();
    let mut all: Vec<&str> = Vec::new();
    for (i, vol) in vols.iter().enumerate() {
        let at = format!("spec.volumes[{i}]");
        let mut el = Vec::new();
        let mut sources = 0;
        for (key, forbidden_seg) in VOLUME_SOURCES {
            if vol[*key].is_null() {
                continue;
            }
            if sources > 0 {
                el.push(FieldError::forbidden(
                    format!("{at}.{forbidden_seg}"),
                    "may not specify more than 1 volume type",
                ));
                continue;
            }
            sources += 1;
            match *key {
                "emptyDir" => {
                    let limit = &vol["emptyDir"]["sizeLimit"];
                    if !limit.is_null() && parse_quantity(limit).is_ok_and(|q| q < 0.0) {
                        el.push(FieldError::forbidden(
                            format!("{at}.emptyDir.sizeLimit"),
                            "SizeLimit field must be a valid resource quantity",
                        ));
                    }
                }
                "hostPath" if str_of(&vol["hostPath"], "path").is_empty() => {
                    el.push(FieldError::required(format!("{at}.hostPath.path"), ""));
                }
                _ => {}
            }
        }
        if sources == 0 {
            el.push(FieldError::required(&at, "must specify a volume type"));
        }
        let name = str_of(vol, "name");
        if name.is_empty() {
            el.push(FieldError::required(format!("{at}.name"), ""));
        } else {
            for msg in names::dns1123_label(name) {
                el.push(FieldError::invalid(format!("{at}.name"), json!(name), msg));
            }
        }
        if all.contains(&name) {
            el.push(FieldError::duplicate(
                format!("{at}.name"),
                Some(json!(name)),
            ));
        }
        if el.is_empty() {
            all.push(name);
            valid.push(name.to_string());
        } else {
            errs.extend(el);
        }
    }
    valid
}

/// `validateContainers`.
fn containers(spec: &Value, volumes: &[String], errs: &mut Vec<FieldError>) {
    let p = "spec.containers";
    let list = list(&spec["containers"]);
    if list.is_empty() {
        errs.push(FieldError::required(p, ""));
        return;
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let at = format!("{p}[{i}]");
        container_common(c, volumes, &at, errs);
        let name = str_of(c, "name");
        if names.contains(&name) {
            errs.push(FieldError::duplicate(
                format!("{at}.name"),
                Some(json!(name)),
            ));
        } else {
            names.push(name);
        }
        probes(c, &at, errs);
        lifecycle(c, &at, errs);
        if !c["restartPolicy"].is_null() {
            errs.push(FieldError::forbidden(
                format!("{at}.restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
}

/// `validateInitContainers`.
fn init_containers(spec: &Value, volumes: &[String], errs: &mut Vec<FieldError>) {
    let p = "spec.initContainers";
    let mut names: Vec<&str> = list(&spec["containers"])
        .iter()
        .map(|c| str_of(c, "name"))
        .collect();
    for (i, c) in list(&spec["initContainers"]).iter().enumerate() {
        let at = format!("{p}[{i}]");
        container_common(c, volumes, &at, errs);
        let restart = &c["restartPolicy"];
        if !restart.is_null() && restart.as_str() != Some("Always") {
            errs.push(FieldError::not_supported(
                format!("{at}.restartPolicy"),
                restart.clone(),
                &["Always"],
            ));
        }
        let name = str_of(c, "name");
        if names.contains(&name) {
            errs.push(FieldError::duplicate(
                format!("{at}.name"),
                Some(json!(name)),
            ));
        } else if !name.is_empty() {
            names.push(name);
        }
        if restart.as_str() == Some("Always") {
            probes(c, &at, errs);
            lifecycle(c, &at, errs);
        } else {
            for field in [
                "lifecycle",
                "livenessProbe",
                "readinessProbe",
                "startupProbe",
            ] {
                if !c[field].is_null() {
                    errs.push(FieldError::forbidden(
                        format!("{at}.{field}"),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
}

/// `validateContainerCommon`.
fn container_common(c: &Value, volumes: &[String], at: &str, errs: &mut Vec<FieldError>) {
    let name = str_of(c, "name");
    if name.is_empty() {
        errs.push(FieldError::required(format!("{at}.name"), ""));
    } else {
        for msg in names::dns1123_label(name) {
            errs.push(FieldError::invalid(format!("{at}.name"), json!(name), msg));
        }
    }
    if str_of(c, "image").is_empty() {
        errs.push(FieldError::required(format!("{at}.image"), ""));
    }
    enumerated(
        &c["terminationMessagePolicy"],
        &format!("{at}.terminationMessagePolicy"),
        &["File", "FallbackToLogsOnError"],
        errs,
    );
    ports(list(&c["ports"]), &format!("{at}.ports"), errs);
    env(list(&c["env"]), &format!("{at}.env"), errs);
    volume_mounts(
        list(&c["volumeMounts"]),
        volumes,
        &format!("{at}.volumeMounts"),
        errs,
    );
    // sets.List(supportedPullPolicies) is sorted.
    enumerated(
        &c["imagePullPolicy"],
        &format!("{at}.imagePullPolicy"),
        &["Always", "IfNotPresent", "Never"],
        errs,
    );
    resources(&c["resources"], &format!("{at}.resources"), errs);
    seccomp_profile(
        &c["securityContext"]["seccompProfile"],
        &format!("{at}.securityContext.seccompProfile"),
        errs,
    );
}

/// `validateContainerPorts`.
fn ports(ports: &[Value], at: &str, errs: &mut Vec<FieldError>) {
    let mut names: Vec<&str> = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let idx = format!("{at}[{i}]");
        let name = str_of(port, "name");
        if !name.is_empty() {
            let msgs = names::port_name(name);
            if !msgs.is_empty() {
                for msg in msgs {
                    errs.push(FieldError::invalid(format!("{idx}.name"), json!(name), msg));
                }
            } else if names.contains(&name) {
                errs.push(FieldError::duplicate(
                    format!("{idx}.name"),
                    Some(json!(name)),
                ));
            } else {
                names.push(name);
            }
        }
        let container_port = port["containerPort"].as_i64().unwrap_or(0);
        if container_port == 0 {
            errs.push(FieldError::required(format!("{idx}.containerPort"), ""));
        } else {
            for msg in names::port_num(container_port) {
                errs.push(FieldError::invalid(
                    format!("{idx}.containerPort"),
                    json!(container_port),
                    msg,
                ));
            }
        }
        let host_port = port["hostPort"].as_i64().unwrap_or(0);
        if host_port != 0 {
            for msg in names::port_num(host_port) {
                errs.push(FieldError::invalid(
                    format!("{idx}.hostPort"),
                    json!(host_port),
                    msg,
                ));
            }
        }
        let protocol = str_of(port, "protocol");
        if protocol.is_empty() {
            errs.push(FieldError::required(format!("{idx}.protocol"), ""));
        } else if !["SCTP", "TCP", "UDP"].contains(&protocol) {
            // sets.List(supportedPortProtocols) is sorted.
            errs.push(FieldError::not_supported(
                format!("{idx}.protocol"),
                json!(protocol),
                &["SCTP", "TCP", "UDP"],
            ));
        }
    }
}

/// `ValidateEnv` with relaxed names (RelaxedEnvironmentVariableValidation, on since 1.32).
fn env(vars: &[Value], at: &str, errs: &mut Vec<FieldError>) {
    for (i, var) in vars.iter().enumerate() {
        let path = format!("{at}[{i}].name");
        let name = str_of(var, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&path, ""));
        } else {
            for msg in names::relaxed_env_var_name(name) {
                errs.push(FieldError::invalid(&path, json!(name), msg));
            }
        }
    }
}

/// `ValidateVolumeMounts` (names, paths, uniqueness).
fn volume_mounts(mounts: &[Value], volumes: &[String], at: &str, errs: &mut Vec<FieldError>) {
    let mut paths: Vec<&str> = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        let idx = format!("{at}[{i}]");
        let name = str_of(m, "name");
        if name.is_empty() {
            errs.push(FieldError::required(format!("{idx}.name"), ""));
        }
        if !volumes.iter().any(|v| v == name) {
            errs.push(FieldError::not_found(format!("{idx}.name"), json!(name)));
        }
        let path = str_of(m, "mountPath");
        if path.is_empty() {
            errs.push(FieldError::required(format!("{idx}.mountPath"), ""));
        }
        if paths.contains(&path) {
            errs.push(FieldError::invalid(
                format!("{idx}.mountPath"),
                json!(path),
                "must be unique",
            ));
        }
        paths.push(path);
    }
}

/// `validateResourceRequirements`: quantities not negative, requests at most the limits.
fn resources(res: &Value, at: &str, errs: &mut Vec<FieldError>) {
    let limits = res["limits"].as_object();
    for (part, map) in [
        ("limits", limits),
        ("requests", res["requests"].as_object()),
    ] {
        for (name, q) in map.into_iter().flatten() {
            let path = format!("{at}.{part}[{name}]");
            let Ok(value) = parse_quantity(q) else {
                continue;
            };
            if value < 0.0 {
                errs.push(FieldError::invalid(
                    &path,
                    json!(quantity_text(q)),
                    "must be greater than or equal to 0",
                ));
            }
            if part == "requests"
                && let Some(limit) = limits.and_then(|l| l.get(name))
                && let Ok(limit_value) = parse_quantity(limit)
                && value > limit_value
            {
                errs.push(FieldError::invalid(
                    format!("{at}.requests"),
                    json!(quantity_text(q)),
                    format!(
                        "must be less than or equal to {name} limit of {}",
                        quantity_text(limit)
                    ),
                ));
            }
        }
    }
}

/// The probe validators of regular and restartable init containers.
fn probes(c: &Value, at: &str, errs: &mut Vec<FieldError>) {
    for field in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let probe = &c[field];
        if probe.is_null() {
            continue;
        }
        let p = format!("{at}.{field}");
        handler(probe, &["exec", "httpGet", "tcpSocket", "grpc"], &p, errs);
        for n in [
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
        ] {
            if let Some(v) = probe[n].as_i64()
                && v < 0
            {
                errs.push(FieldError::invalid(
                    format!("{p}.{n}"),
                    json!(v),
                    "must be greater than or equal to 0",
                ));
            }
        }
        if let Some(grace) = probe["terminationGracePeriodSeconds"].as_i64()
            && grace <= 0
        {
            errs.push(FieldError::invalid(
                format!("{p}.terminationGracePeriodSeconds"),
                json!(grace),
                "must be greater than 0",
            ));
        }
        let success = probe["successThreshold"].as_i64().unwrap_or(0);
        if field != "readinessProbe" && success != 1 {
            errs.push(FieldError::invalid(
                format!("{p}.successThreshold"),
                json!(success),
                "must be 1",
            ));
        }
        if field == "readinessProbe" && !probe["terminationGracePeriodSeconds"].is_null() {
            errs.push(FieldError::invalid(
                format!("{p}.terminationGracePeriodSeconds"),
                probe["terminationGracePeriodSeconds"].clone(),
                "must not be set for readinessProbes",
            ));
        }
    }
}

/// `validateLifecycle`: each of postStart and preStop, when given, has exactly one handler of
/// exec, httpGet, tcpSocket, sleep.
fn lifecycle(c: &Value, at: &str, errs: &mut Vec<FieldError>) {
    for hook in ["postStart", "preStop"] {
        let h = &c["lifecycle"][hook];
        if !h.is_null() {
            handler(
                h,
                &["exec", "httpGet", "tcpSocket", "sleep"],
                &format!("{at}.lifecycle.{hook}"),
                errs,
            );
        }
    }
}

/// `validateHandler`: exactly one of `kinds` (a probe's: exec, httpGet, tcpSocket, grpc).
fn handler(probe: &Value, kinds: &[&str], at: &str, errs: &mut Vec<FieldError>) {
    let mut count = 0;
    for &kind in kinds {
        let h = &probe[kind];
        if h.is_null() {
            continue;
        }
        if count > 0 {
            errs.push(FieldError::forbidden(
                format!("{at}.{kind}"),
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        count += 1;
        let p = format!("{at}.{kind}");
        match kind {
            "exec" if list(&h["command"]).is_empty() => {
                errs.push(FieldError::required(format!("{p}.command"), ""));
            }
            "httpGet" => {
                if str_of(h, "path").is_empty() {
                    errs.push(FieldError::required(format!("{p}.path"), ""));
                }
                port_num_or_name(&h["port"], &format!("{p}.port"), errs);
                let scheme = str_of(h, "scheme");
                if !["HTTP", "HTTPS"].contains(&scheme) {
                    errs.push(FieldError::not_supported(
                        format!("{p}.scheme"),
                        json!(scheme),
                        &["HTTP", "HTTPS"],
                    ));
                }
            }
            "tcpSocket" | "grpc" => port_num_or_name(&h["port"], &format!("{p}.port"), errs),
            // `validateSleepAction`.
            "sleep" if h["seconds"].as_i64().is_none_or(|s| s < 0) => {
                errs.push(FieldError::invalid(
                    format!("{p}.seconds"),
                    h["seconds"].clone(),
                    "must be non-negative",
                ));
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required(at, "must specify a handler type"));
    }
}

/// `ValidatePortNumOrName`.
fn port_num_or_name(port: &Value, at: &str, errs: &mut Vec<FieldError>) {
    match port {
        Value::String(name) => {
            for msg in names::port_name(name) {
                errs.push(FieldError::invalid(at, json!(name), msg));
            }
        }
        other => {
            let n = other.as_i64().unwrap_or(0);
            for msg in names::port_num(n) {
                errs.push(FieldError::invalid(at, json!(n), msg));
            }
        }
    }
}

/// `validatePodSpecSecurityContext`, as far as ported: the seccomp profile.
fn pod_security_context(sc: &Value, errs: &mut Vec<FieldError>) {
    seccomp_profile(
        &sc["seccompProfile"],
        "spec.securityContext.seccompProfile",
        errs,
    );
}

/// `validateSeccompProfileField`.
fn seccomp_profile(sp: &Value, at: &str, errs: &mut Vec<FieldError>) {
    if !sp.is_object() {
        return;
    }
    let kind = str_of(sp, "type");
    let valid = ["Localhost", "RuntimeDefault", "Unconfined"];
    if kind.is_empty() {
        errs.push(FieldError::required(
            format!("{at}.type"),
            "type is required when seccompProfile is set",
        ));
    } else if !valid.contains(&kind) {
        errs.push(FieldError::not_supported(
            format!("{at}.type"),
            json!(kind),
            &valid,
        ));
    }
    if kind == "Localhost" {
        if sp["localhostProfile"].is_null() {
            errs.push(FieldError::required(
                format!("{at}.localhostProfile"),
                "must be set when seccomp type is Localhost",
            ));
        }
    } else if !sp["localhostProfile"].is_null() {
        errs.push(FieldError::invalid(
            format!("{at}.localhostProfile"),
            sp.clone(),
            "can only be set when seccomp type is Localhost",
        ));
    }
}

#[cfg(test)]
mod tests;
