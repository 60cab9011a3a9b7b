//! Which fields of the built-in kinds strategic merge patch treats specially: the
//! `patchStrategy`/`patchMergeKey` struct tags of k8s.io/api v1.35 (and metav1 `ObjectMeta`),
//! reduced to the types that lie on a path to a tagged field. Every other field is a plain
//! field: maps merge key by key, lists are replaced whole.

use tags::{GENERIC_ROOT, ROOTS, TYPES};

mod tags;

/// The patch strategy a struct tag declares for one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// No tag: maps merge, lists are replaced.
    Default,
    /// `patchStrategy:"merge"` (possibly with `retainKeys`, which only shapes the patches
    /// clients compute): lists merge element by element, matched on `key` for lists of
    /// objects; `key: None` marks a list of scalars merged as a set.
    Merge { key: Option<&'static str> },
    /// `patchStrategy:"replace"`: the patch value replaces the field.
    Replace,
    /// `patchStrategy:"retainKeys"` alone: merged like [`Strategy::Default`], since the server
    /// honours a `$retainKeys` directive wherever a patch sends one.
    RetainKeys,
}

/// One tagged field, or a field leading to tagged fields (then `ty` names its struct type, or
/// for lists, the element's).
#[derive(Debug)]
pub(crate) struct Field {
    pub json: &'static str,
    pub ty: Option<&'static str>,
    pub strategy: Strategy,
}

impl Field {
    const fn new(json: &'static str, ty: Option<&'static str>, strategy: Strategy) -> Self {
        Field { json, ty, strategy }
    }
}

#[derive(Debug)]
pub(crate) struct TypeDef {
    pub name: &'static str,
    pub fields: &'static [Field],
}

/// Looks up struct types by name in a table of [`TypeDef`]s (the built-in one, or a test's).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Schema {
    types: &'static [TypeDef],
}

impl Schema {
    pub(crate) const fn new(types: &'static [TypeDef]) -> Self {
        Schema { types }
    }

    /// The schema of the built-in kinds.
    pub(crate) const fn builtin() -> Self {
        Schema::new(TYPES)
    }

    pub(crate) fn type_named(&self, name: &str) -> Option<&'static TypeDef> {
        self.types.iter().find(|t| t.name == name)
    }

    /// The root type of a built-in kind; kinds with no tagged field outside `metadata` share a
    /// generic root that only knows `metadata`.
    pub(crate) fn root(&self, group: &str, kind: &str) -> Option<&'static TypeDef> {
        let name = ROOTS
            .iter()
            .find(|(g, k, _)| *g == group && *k == kind)
            .map_or(GENERIC_ROOT, |(_, _, t)| *t);
        self.type_named(name)
    }

    /// The strategy of `field` in `ty` and the type of its value (or list element), when that
    /// type has tagged fields of its own.
    pub(crate) fn field(
        &self,
        ty: Option<&'static TypeDef>,
        field: &str,
    ) -> (Option<&'static TypeDef>, Strategy) {
        let Some(f) = ty.and_then(|t| t.fields.iter().find(|f| f.json == field)) else {
            return (None, Strategy::Default);
        };
        (f.ty.and_then(|name| self.type_named(name)), f.strategy)
    }
}

#[cfg(test)]
mod tests;
