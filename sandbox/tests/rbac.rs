//! Authentication and RBAC: ServiceAccount tokens from the TokenRequest API, RBAC decisions and
//! kube-apiserver's 403 wording, `kubectl auth can-i` (SelfSubjectAccessReview) with and
//! without impersonation, the other review APIs, and 401 for missing or bad tokens — with the
//! real kubectl (pinned 1.35 and the machine's own) and with kube-rs in-process.

mod common;

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use common::{Kubectl, Server, kubectls};
use http_body_util::BodyExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::{SelfSubjectReview, TokenRequest, TokenReview};
use k8s_openapi::api::authorization::v1::{
    LocalSubjectAccessReview, SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Client, Resource};
use kube_sandbox::{PodMode, Sandbox, SandboxConfig};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const SETUP: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: reader, namespace: team}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: configmap-reader, namespace: team}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader-reads-configmaps, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: configmap-reader}
subjects:
- {kind: ServiceAccount, name: reader, namespace: team}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm1, namespace: team}
data: {a: b}
"#;

const SA_USER: &str = "system:serviceaccount:team:reader";

/// A kubectl using its own copy of `server`'s kubeconfig, switched to a user with `token`.
fn kubectl_with_token(server: &Server, bin: &Path, dir: &Path, name: &str, token: &str) -> Kubectl {
    let path = dir.join(name);
    std::fs::copy(&server.kubeconfig, &path).expect("copy kubeconfig");
    let k = Kubectl {
        bin: bin.to_path_buf(),
        kubeconfig: path,
    };
    let token_flag = format!("--token={token}");
    k.ok(&["config", "set-credentials", name, &token_flag]);
    let user_flag = format!("--user={name}");
    k.ok(&[
        "config",
        "set-context",
        "--current",
        &user_flag,
        "--namespace=team",
    ]);
    k
}

#[test]
fn kubectl_service_account_token_and_rbac() {
    for bin in kubectls() {
        let server = Server::start(&["--pods", "simulate"]);
        let admin = server.kubectl(&bin);
        let setup = admin.apply(SETUP);
        assert!(setup.ok, "{setup:?}");
        let dir = tempfile::tempdir().expect("temp dir");

        let token = admin.ok(&["create", "token", "reader", "-n", "team"]);
        let token = token.trim();
        assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
        let sa = kubectl_with_token(&server, &bin, dir.path(), "reader", token);

        // Allowed: get and list configmaps.
        let got = sa.ok(&["get", "configmaps"]);
        assert!(got.lines().any(|l| l.starts_with("cm1 ")), "{got}");
        assert_eq!(
            sa.ok(&["get", "configmap", "cm1", "-o", "jsonpath={.data.a}"]),
            "b"
        );

        // Forbidden: delete, with kube-apiserver's message.
        let forbidden = format!(
            "Error from server (Forbidden): configmaps \"cm1\" is forbidden: User \"{SA_USER}\" cannot delete resource \"configmaps\" in API group \"\" in the namespace \"team\""
        );
        let del = sa.run(&["delete", "configmap", "cm1"]);
        assert!(!del.ok, "{del:?}");
        assert!(
            del.stderr.contains(&forbidden),
            "{}: {del:?}",
            bin.display()
        );
        let pods = sa.run(&["get", "pods"]);
        assert!(
            pods.stderr.contains(&format!(
                "pods is forbidden: User \"{SA_USER}\" cannot list resource \"pods\" in API group \"\" in the namespace \"team\""
            )),
            "{pods:?}"
        );

        // `auth can-i` as the ServiceAccount itself (SelfSubjectAccessReview).
        let yes = sa.run(&["auth", "can-i", "get", "configmaps"]);
        assert!(yes.ok && yes.stdout == "yes\n", "{yes:?}");
        let no = sa.run(&["auth", "can-i", "delete", "configmaps"]);
        assert!(!no.ok && no.stdout == "no\n", "{no:?}");
        let list = sa.ok(&["auth", "can-i", "--list"]);
        let row = list
            .lines()
            .find(|l| l.starts_with("configmaps "))
            .unwrap_or_else(|| panic!("{list}"));
        assert!(row.ends_with("[get list]"), "{list}");

        // `auth can-i` by the admin on the ServiceAccount's behalf (impersonation).
        let as_sa = format!("--as={SA_USER}");
        let no = admin.run(&[
            "auth",
            "can-i",
            "delete",
            "configmaps",
            "-n",
            "team",
            &as_sa,
        ]);
        assert!(!no.ok && no.stdout == "no\n", "{no:?}");
        let yes = admin.run(&["auth", "can-i", "list", "configmaps", "-n", "team", &as_sa]);
        assert!(yes.ok && yes.stdout == "yes\n", "{yes:?}");
        let elsewhere = admin.run(&[
            "auth",
            "can-i",
            "list",
            "configmaps",
            "-n",
            "default",
            &as_sa,
        ]);
        assert_eq!(elsewhere.stdout, "no\n", "{elsewhere:?}");
        assert_eq!(
            admin.ok(&["auth", "can-i", "delete", "configmaps", "-n", "team"]),
            "yes\n"
        );
        let got = admin.ok(&["get", "configmaps", "-n", "team", &as_sa]);
        assert!(got.contains("cm1"), "{got}");
        let del = admin.run(&["delete", "configmap", "cm1", "-n", "team", &as_sa]);
        assert!(del.stderr.contains(&forbidden), "{del:?}");

        // Only the admin may impersonate.
        let bob = sa.run(&["get", "configmaps", "--as=bob"]);
        assert!(
            bob.stderr.contains(&format!(
                "users \"bob\" is forbidden: User \"{SA_USER}\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
            )),
            "{bob:?}"
        );

        let whoami = sa.ok(&["auth", "whoami", "-o", "json"]);
        let whoami: Value = serde_json::from_str(&whoami).expect("whoami json");
        assert_eq!(whoami["status"]["userInfo"]["username"], SA_USER);
        assert_eq!(
            whoami["status"]["userInfo"]["groups"],
            json!([
                "system:serviceaccounts",
                "system:serviceaccounts:team",
                "system:authenticated"
            ])
        );

        // A bad token is 401.
        let bad = kubectl_with_token(&server, &bin, dir.path(), "bad", "not-a-token");
        let denied = bad.run(&["get", "configmaps"]);
        assert!(!denied.ok);
        assert!(
            denied
                .stderr
                .contains("error: You must be logged in to the server (Unauthorized)"),
            "{denied:?}"
        );

        // Deleting the ServiceAccount invalidates its tokens, also once it is recreated.
        admin.ok(&["delete", "serviceaccount", "reader", "-n", "team"]);
        let gone = sa.run(&["get", "configmaps"]);
        assert!(gone.stderr.contains("(Unauthorized)"), "{gone:?}");
        admin.ok(&["create", "serviceaccount", "reader", "-n", "team"]);
        let recreated = sa.run(&["get", "configmaps"]);
        assert!(recreated.stderr.contains("(Unauthorized)"), "{recreated:?}");
    }
}

// ---- kube-rs, in-process ----

fn obj<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("object")
}

/// A client built from the sandbox's kubeconfig with the credentials replaced (`None`: none).
async fn client_as(sb: &Sandbox, token: Option<&str>) -> Client {
    let kc = kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).expect("kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    config.auth_info = kube::config::AuthInfo {
        token: token.map(|t| t.to_string().into()),
        ..Default::default()
    };
    config.default_retry = false;
    Client::try_from(config).expect("client")
}

async fn send(
    client: &Client,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut req = http::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(kube::client::Body::from(Vec::new()))
        .expect("request");
    let resp = client.send(req).await.expect("send");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn api_error(e: kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.message),
        other => panic!("not an API error: {other}"),
    }
}

async fn create<K>(client: &Client, namespace: &str, v: Value) -> K
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    api.create(&PostParams::default(), &obj(v))
        .await
        .expect("create")
}

async fn create_cluster<K>(client: &Client, v: Value) -> K
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let api: Api<K> = Api::all(client.clone());
    api.create(&PostParams::default(), &obj(v))
        .await
        .expect("create")
}

struct Fixture {
    sb: Sandbox,
    admin: Client,
    token: String,
    bot: Client,
}

const BOT: &str = "system:serviceaccount:team:bot";

async fn fixture() -> Fixture {
    let sb = Sandbox::start(SandboxConfig {
        pods: PodMode::Simulate,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let admin = sb.client().await.expect("client");
    create_cluster::<Namespace>(&admin, json!({"metadata": {"name": "team"}})).await;
    create::<ServiceAccount>(&admin, "team", json!({"metadata": {"name": "bot"}})).await;
    create::<Role>(&admin, "team",
        json!({"metadata": {"name": "configmap-reader"}, "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["open"], "verbs": ["get"]},
            {"apiGroups": ["apps"], "resources": ["deployments/status"], "verbs": ["get"]},
        ]}),
    )
    .await;
    create::<RoleBinding>(&admin, "team",
        json!({"metadata": {"name": "bot-reads"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmap-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "bot"}]}),
    )
    .await;
    let sas: Api<ServiceAccount> = Api::namespaced(admin.clone(), "team");
    let tr = sas
        .create_token_request("bot", &PostParams::default(), &TokenRequest::default())
        .await
        .expect("token");
    let status = tr.status.expect("status");
    let token = status.token;
    let bot = client_as(&sb, Some(&token)).await;
    Fixture {
        sb,
        admin,
        token,
        bot,
    }
}

#[tokio::test]
async fn token_requests() {
    let f = fixture().await;
    let sas: Api<ServiceAccount> = Api::namespaced(f.admin.clone(), "team");
    let tr = sas
        .create_token_request(
            "bot",
            &PostParams::default(),
            &obj(json!({"spec": {"expirationSeconds": 7200, "audiences": ["https://kubernetes.default.svc.cluster.local", "other"]}})),
        )
        .await
        .expect("token");
    let meta = tr.metadata;
    assert_eq!(
        (meta.name.as_deref(), meta.namespace.as_deref()),
        (Some("bot"), Some("team"))
    );
    let spec = tr.spec;
    assert_eq!(spec.expiration_seconds, Some(7200));
    let expires = tr.status.expect("status").expiration_timestamp.0;
    let left = expires.as_second() - Utc::now().timestamp();
    assert!((7100..=7200).contains(&left), "{left}");

    let (code, msg) = api_error(
        sas.create_token_request("ghost", &PostParams::default(), &TokenRequest::default())
            .await
            .expect_err("no such ServiceAccount"),
    );
    assert_eq!(
        (code, msg.as_str()),
        (404, "serviceaccounts \"ghost\" not found")
    );
    let (code, msg) = api_error(
        sas.create_token_request(
            "bot",
            &PostParams::default(),
            &obj(json!({"spec": {"expirationSeconds": 60}})),
        )
        .await
        .expect_err("too short"),
    );
    assert_eq!(code, 422);
    assert_eq!(
        msg,
        "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"
    );

    // A token for another audience does not authenticate to the API server.
    let foreign = sas
        .create_token_request(
            "bot",
            &PostParams::default(),
            &obj(json!({"spec": {"audiences": ["vault"]}})),
        )
        .await
        .expect("token")
        .status
        .expect("status")
        .token;
    let (code, _) = send(&client_as(&f.sb, Some(&foreign)).await, "GET", "/api", &[]).await;
    assert_eq!(code, 401);

    // TokenReview tells who a token belongs to.
    let reviews: Api<TokenReview> = Api::all(f.admin.clone());
    let review = reviews
        .create(
            &PostParams::default(),
            &obj(json!({"spec": {"token": f.token}})),
        )
        .await
        .expect("review");
    let status = review.status.expect("status");
    assert_eq!(status.authenticated, Some(true));
    let user = status.user.expect("user");
    assert_eq!(user.username.as_deref(), Some(BOT));
    let bogus = reviews
        .create(
            &PostParams::default(),
            &obj(json!({"spec": {"token": "bogus"}})),
        )
        .await
        .expect("review");
    assert_ne!(bogus.status.expect("status").authenticated, Some(true));

    // Deleting the ServiceAccount invalidates the token, even after it is recreated.
    let (code, _) = send(&f.bot, "GET", "/api/v1/namespaces/team/configmaps", &[]).await;
    assert_eq!(code, 200);
    sas.delete("bot", &DeleteParams::default())
        .await
        .expect("delete");
    let (code, body) = send(&f.bot, "GET", "/api/v1/namespaces/team/configmaps", &[]).await;
    assert_eq!(code, 401, "{body}");
    create::<ServiceAccount>(&f.admin, "team", json!({"metadata": {"name": "bot"}})).await;
    let (code, _) = send(&f.bot, "GET", "/api/v1/namespaces/team/configmaps", &[]).await;
    assert_eq!(code, 401);
    f.sb.shutdown().await;
}

#[tokio::test]
async fn rbac_decisions_and_forbidden_messages() {
    let f = fixture().await;
    let admin = &f.admin;
    create::<ConfigMap>(admin, "team", json!({"metadata": {"name": "cm"}})).await;
    for name in ["open", "closed"] {
        create::<Secret>(admin, "team", json!({"metadata": {"name": name}})).await;
    }
    create::<Deployment>(
        admin,
        "team",
        json!({"metadata": {"name": "d"}, "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {"metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}),
    )
    .await;

    let cms: Api<ConfigMap> = Api::namespaced(f.bot.clone(), "team");
    assert_eq!(
        cms.list(&Default::default())
            .await
            .expect("list")
            .items
            .len(),
        // The ConfigMap made above and the root CA publisher's kube-root-ca.crt.
        2
    );
    let (code, msg) = api_error(
        cms.create(
            &PostParams::default(),
            &obj(json!({"metadata": {"name": "x"}})),
        )
        .await
        .expect_err("create is not granted"),
    );
    assert_eq!(code, 403);
    assert_eq!(
        msg,
        format!(
            "configmaps is forbidden: User \"{BOT}\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"team\""
        )
    );

    // resourceNames.
    let secrets: Api<Secret> = Api::namespaced(f.bot.clone(), "team");
    secrets.get("open").await.expect("named in the rule");
    let (code, msg) = api_error(secrets.get("closed").await.expect_err("not named"));
    assert_eq!(code, 403);
    assert_eq!(
        msg,
        format!(
            "secrets \"closed\" is forbidden: User \"{BOT}\" cannot get resource \"secrets\" in API group \"\" in the namespace \"team\""
        )
    );

    // A subresource rule grants the subresource only.
    let (code, _) = send(
        &f.bot,
        "GET",
        "/apis/apps/v1/namespaces/team/deployments/d/status",
        &[],
    )
    .await;
    assert_eq!(code, 200);
    let (code, body) = send(
        &f.bot,
        "GET",
        "/apis/apps/v1/namespaces/team/deployments/d",
        &[],
    )
    .await;
    assert_eq!(code, 403);
    assert!(
        body.contains(&format!("deployments.apps \\\"d\\\" is forbidden: User \\\"{BOT}\\\" cannot get resource \\\"deployments\\\" in API group \\\"apps\\\" in the namespace \\\"team\\\"")),
        "{body}"
    );

    // Cluster scope needs a ClusterRoleBinding; the default `view` role then applies.
    let all: Api<Deployment> = Api::all(f.bot.clone());
    let (code, msg) = api_error(
        all.list(&Default::default())
            .await
            .expect_err("cluster-wide"),
    );
    assert_eq!(code, 403);
    assert_eq!(
        msg,
        format!(
            "deployments.apps is forbidden: User \"{BOT}\" cannot list resource \"deployments\" in API group \"apps\" at the cluster scope"
        )
    );
    create_cluster::<ClusterRoleBinding>(admin,
        json!({"metadata": {"name": "bot-views"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "team"}]}),
    )
    .await;
    assert_eq!(
        all.list(&Default::default())
            .await
            .expect("list")
            .items
            .len(),
        1
    );

    // A binding to a missing role shows up in the reason.
    create::<RoleBinding>(
        admin,
        "team",
        json!({"metadata": {"name": "dangling"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ghost"},
            "subjects": [{"kind": "ServiceAccount", "name": "bot"}]}),
    )
    .await;
    let (code, msg) = api_error(
        cms.delete("cm", &DeleteParams::default())
            .await
            .expect_err("delete is not granted"),
    );
    assert_eq!(code, 403);
    assert!(
        msg.ends_with(
            "in the namespace \"team\": RBAC: role.rbac.authorization.k8s.io \"ghost\" not found"
        ),
        "{msg}"
    );

    // Non-resource paths: discovery is open to everyone authenticated, others are not.
    let (code, _) = send(&f.bot, "GET", "/apis", &[]).await;
    assert_eq!(code, 200);
    let (code, body) = send(&f.bot, "GET", "/metrics", &[]).await;
    assert_eq!(code, 403);
    assert!(
        body.contains(&format!(
            "forbidden: User \\\"{BOT}\\\" cannot get path \\\"/metrics\\\""
        )),
        "{body}"
    );

    // The defaults a real cluster has are there.
    let roles: Api<ClusterRole> = Api::all(admin.clone());
    for name in [
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:discovery",
        "system:basic-user",
    ] {
        roles.get(name).await.expect(name);
    }
    f.sb.shutdown().await;
}

#[tokio::test]
async fn access_reviews() {
    let f = fixture().await;
    let ssar = |verb: &str, resource: &str| -> SelfSubjectAccessReview {
        obj(
            json!({"spec": {"resourceAttributes": {"namespace": "team", "verb": verb, "resource": resource}}}),
        )
    };
    let reviews: Api<SelfSubjectAccessReview> = Api::all(f.bot.clone());
    let allowed = reviews
        .create(&PostParams::default(), &ssar("get", "configmaps"))
        .await
        .expect("review")
        .status
        .expect("status");
    assert!(allowed.allowed);
    assert_eq!(
        allowed.reason.as_deref(),
        Some(
            "RBAC: allowed by RoleBinding \"bot-reads/team\" of Role \"configmap-reader\" to ServiceAccount \"bot/team\""
        )
    );
    let denied = reviews
        .create(&PostParams::default(), &ssar("delete", "configmaps"))
        .await
        .expect("review")
        .status
        .expect("status");
    assert!(!denied.allowed);
    let bad = reviews
        .create(&PostParams::default(), &obj(json!({"spec": {}})))
        .await
        .expect_err("neither attribute set");
    let (code, msg) = api_error(bad);
    assert_eq!(code, 422);
    assert_eq!(
        msg,
        "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified"
    );

    let rules: Api<SelfSubjectRulesReview> = Api::all(f.bot.clone());
    let review = rules
        .create(
            &PostParams::default(),
            &obj(json!({"spec": {"namespace": "team"}})),
        )
        .await
        .expect("rules review");
    let status = review.status.expect("status");
    assert!(!status.incomplete);
    assert!(
        status.resource_rules.iter().any(|r| r.resources.as_deref()
            == Some(&["configmaps".to_string()][..])
            && r.verbs == ["get", "list"]),
        "{:?}",
        status.resource_rules
    );

    let whoami: Api<SelfSubjectReview> = Api::all(f.bot.clone());
    let me = whoami
        .create(&PostParams::default(), &obj(json!({})))
        .await
        .expect("whoami");
    let user = me.status.expect("status").user_info.expect("user");
    assert_eq!(user.username.as_deref(), Some(BOT));

    // SubjectAccessReview (admin asks about someone else) and its namespaced variant.
    let sar: Api<SubjectAccessReview> = Api::all(f.admin.clone());
    let answer = sar
        .create(
            &PostParams::default(),
            &obj(json!({"spec": {"user": BOT, "groups": ["system:serviceaccounts"],
                "resourceAttributes": {"namespace": "team", "verb": "list", "resource": "configmaps"}}})),
        )
        .await
        .expect("sar");
    assert!(answer.status.expect("status").allowed);
    let (code, _) = api_error(
        Api::<SubjectAccessReview>::all(f.bot.clone())
            .create(
                &PostParams::default(),
                &obj(json!({"spec": {"user": "x", "nonResourceAttributes": {"verb": "get", "path": "/api"}}})),
            )
            .await
            .expect_err("not granted to the bot"),
    );
    assert_eq!(code, 403);
    let local: Api<LocalSubjectAccessReview> = Api::namespaced(f.admin.clone(), "team");
    let answer = local
        .create(
            &PostParams::default(),
            &obj(json!({"metadata": {"namespace": "team"}, "spec": {"user": BOT,
                "resourceAttributes": {"namespace": "team", "verb": "delete", "resource": "configmaps"}}})),
        )
        .await
        .expect("lsar");
    assert!(!answer.status.expect("status").allowed);
    // Create-only kinds cannot be listed.
    let (code, body) = send(
        &f.admin,
        "GET",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        &[],
    )
    .await;
    assert_eq!(code, 405, "{body}");
    f.sb.shutdown().await;
}

#[tokio::test]
async fn authentication_and_impersonation() {
    let f = fixture().await;
    let anonymous = client_as(&f.sb, None).await;
    let bad = client_as(&f.sb, Some("not-a-token")).await;
    for client in [&anonymous, &bad] {
        let (code, body) = send(client, "GET", "/api/v1/namespaces", &[]).await;
        assert_eq!(code, 401);
        let status: Value = serde_json::from_str(&body).expect("status");
        assert_eq!(
            (status["reason"].as_str(), status["message"].as_str()),
            (Some("Unauthorized"), Some("Unauthorized"))
        );
    }
    // Health endpoints are open to anonymous requests; nothing else is.
    assert_eq!(
        send(&anonymous, "GET", "/healthz", &[]).await,
        (200, "ok".to_string())
    );
    assert_eq!(send(&anonymous, "GET", "/version", &[]).await.0, 401);
    assert_eq!(send(&bad, "GET", "/healthz", &[]).await.0, 401);

    // The control endpoints need the admin.
    assert_eq!(send(&anonymous, "GET", "/sandbox/stats", &[]).await.0, 401);
    let (code, body) = send(&f.bot, "GET", "/sandbox/stats", &[]).await;
    assert_eq!(code, 403);
    assert!(
        body.contains(&format!(
            "forbidden: User \\\"{BOT}\\\" cannot get path \\\"/sandbox/stats\\\""
        )),
        "{body}"
    );

    // The admin may impersonate; the result is judged as the impersonated user.
    let as_bot = [("Impersonate-User", BOT)];
    let (code, _) = send(
        &f.admin,
        "GET",
        "/api/v1/namespaces/team/configmaps",
        &as_bot,
    )
    .await;
    assert_eq!(code, 200);
    let (code, body) = send(&f.admin, "GET", "/api/v1/namespaces/team/pods", &as_bot).await;
    assert_eq!(code, 403, "{body}");
    let (code, body) = send(
        &f.admin,
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        &[("Impersonate-User", "alice"), ("Impersonate-Group", "devs")],
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let review: Value = serde_json::from_str(&body).expect("review");
    assert_eq!(
        review["status"]["userInfo"],
        json!({"username": "alice", "groups": ["devs", "system:authenticated"]})
    );
    // Groups without a user is an error; non-admins may not impersonate.
    let (code, body) = send(&f.admin, "GET", "/api", &[("Impersonate-Group", "devs")]).await;
    assert_eq!(code, 500);
    assert!(body.contains("without impersonating a user"), "{body}");
    let (code, body) = send(&f.bot, "GET", "/api", &[("Impersonate-User", "alice")]).await;
    assert_eq!(code, 403);
    assert!(
        body.contains(&format!("users \\\"alice\\\" is forbidden: User \\\"{BOT}\\\" cannot impersonate resource \\\"users\\\" in API group \\\"\\\" at the cluster scope")),
        "{body}"
    );
    // Requests are counted under the user they ran as.
    let stats = f.sb.stats();
    assert!(
        stats.by_user.get(BOT).copied().unwrap_or(0) >= 2,
        "{stats:#?}"
    );
    assert!(stats.by_user.contains_key("alice"));
    tokio::time::timeout(Duration::from_secs(30), f.sb.shutdown())
        .await
        .expect("shutdown");
}
