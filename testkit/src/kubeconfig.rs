//! A kubeconfig that authenticates with a bearer token (a ServiceAccount's), made from an
//! existing one: same server and CA, every user's credentials replaced by the token.

use std::path::Path;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

/// Writes a copy of the kubeconfig at `from` whose users authenticate with `token` to `out`.
pub fn write_token_kubeconfig(from: &Path, token: &str, out: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(from)
        .with_context(|| format!("reading the kubeconfig {}", from.display()))?;
    let mut config: Value = serde_yaml::from_str(&text)
        .with_context(|| format!("parsing the kubeconfig {}", from.display()))?;
    let Some(users) = config["users"].as_array_mut() else {
        bail!("the kubeconfig {} has no users", from.display());
    };
    for user in users {
        user["user"] = json!({"token": token});
    }
    std::fs::write(out, serde_yaml::to_string(&config)?)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_kubeconfig_replaces_the_user() {
        let dir = tempfile::tempdir().unwrap();
        let admin = dir.path().join("admin");
        std::fs::write(
            &admin,
            "apiVersion: v1\nkind: Config\nclusters: [{name: s, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: admin}}]\ncontexts: [{name: s, context: {cluster: s, user: u}}]\ncurrent-context: s\n",
        )
        .unwrap();
        let out = dir.path().join("op");
        write_token_kubeconfig(&admin, "sa-token", &out).unwrap();
        let config: Value = serde_yaml::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(config["users"][0]["user"], json!({"token": "sa-token"}));
        assert_eq!(config["current-context"], "s");
        assert_eq!(
            config["clusters"][0]["cluster"]["server"],
            "https://127.0.0.1:1"
        );
    }
}
