//! The pinned command-line tools the tests drive: kubectl, helm, kubernetes-validate and the
//! virtualenv's Python. `$TESTJOB_KUBECTL` / `$TESTJOB_HELM` / `$TESTJOB_KUBERNETES_VALIDATE` /
//! `$TESTJOB_PYTHON` when set, else where
//! `scripts/install-tools.sh` installs the pinned versions in the workspace (`.tools/bin/`,
//! `.tools/venv/bin/`), else the name alone, found on the PATH.

use std::path::PathBuf;

/// Environment variable naming the kubectl binary to use.
pub const KUBECTL_ENV: &str = "TESTJOB_KUBECTL";
/// Environment variable naming the helm binary to use.
pub const HELM_ENV: &str = "TESTJOB_HELM";
/// Environment variable naming the kubernetes-validate program to use.
pub const KUBERNETES_VALIDATE_ENV: &str = "TESTJOB_KUBERNETES_VALIDATE";
/// Environment variable naming the Python (with the `kubernetes` client) to run examples with.
pub const PYTHON_ENV: &str = "TESTJOB_PYTHON";

/// The kubectl to run.
pub fn kubectl() -> PathBuf {
    tool(KUBECTL_ENV, ".tools/bin", "kubectl")
}

/// The helm to run.
pub fn helm() -> PathBuf {
    tool(HELM_ENV, ".tools/bin", "helm")
}

/// The kubernetes-validate to run (a Python program, installed in a virtualenv).
pub fn kubernetes_validate() -> PathBuf {
    tool(
        KUBERNETES_VALIDATE_ENV,
        ".tools/venv/bin",
        "kubernetes-validate",
    )
}

/// The Python of the tools' virtualenv, which has the official `kubernetes` client and pytest.
pub fn python() -> PathBuf {
    tool(PYTHON_ENV, ".tools/venv/bin", "python3")
}

/// The machine's own kubectl (1.32 on our machines), for tests that run with both versions: the
/// first `kubectl` on the PATH that is not the pinned one.
pub fn system_kubectl() -> Option<PathBuf> {
    let pinned = kubectl().canonicalize().ok();
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("kubectl"))
        .find(|path| path.is_file() && path.canonicalize().ok() != pinned)
}

/// `$env`, else `<workspace>/<dir>/<name>`, else `<name>` (looked up on the PATH).
fn tool(env: &str, dir: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let pinned = crate::workspace_dir().join(dir).join(name);
    if pinned.is_file() {
        return pinned;
    }
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tools_are_named_after_themselves() {
        // Whichever rule applies, the file is the tool's own.
        assert!(
            super::kubectl().ends_with("kubectl"),
            "{:?}",
            super::kubectl()
        );
        assert!(super::helm().ends_with("helm"), "{:?}", super::helm());
        let validate = super::kubernetes_validate();
        assert!(validate.ends_with("kubernetes-validate"), "{validate:?}");
    }
}
