//! Unit tests of `patch::smp_schema`.

use super::*;

#[test]
fn every_type_reference_resolves() {
    let schema = Schema::builtin();
    for (group, kind, root) in ROOTS {
        assert!(schema.type_named(root).is_some(), "{group}/{kind}: {root}");
    }
    assert!(schema.type_named(GENERIC_ROOT).is_some());
    for t in TYPES {
        for f in t.fields {
            if let Some(ty) = f.ty {
                assert!(
                    schema.type_named(ty).is_some(),
                    "{}.{}: {ty}",
                    t.name,
                    f.json
                );
            }
        }
    }
}

#[test]
fn pod_template_paths_reach_container_env() {
    let schema = Schema::builtin();
    let mut ty = schema.root("apps", "Deployment");
    for field in ["spec", "template", "spec", "containers"] {
        ty = schema.field(ty, field).0;
    }
    assert_eq!(
        schema.field(ty, "env").1,
        Strategy::Merge { key: Some("name") }
    );
    let pod_spec = schema.field(schema.root("", "Pod"), "spec").0;
    assert_eq!(schema.field(pod_spec, "tolerations").1, Strategy::Default);
    assert_eq!(
        schema.field(pod_spec, "volumes").1,
        Strategy::Merge { key: Some("name") }
    );
    let meta = schema.field(schema.root("", "ConfigMap"), "metadata").0;
    assert_eq!(
        schema.field(meta, "finalizers").1,
        Strategy::Merge { key: None }
    );
    assert_eq!(
        schema.field(meta, "ownerReferences").1,
        Strategy::Merge { key: Some("uid") }
    );
}
