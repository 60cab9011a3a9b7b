//! API errors as kube-apiserver returns them: an HTTP status code and a `Status` body whose
//! `reason`, `message` and `details` are worded like k8s.io/apimachinery/pkg/api/errors.

use serde_json::{Value, json};

use crate::resource_types::ResourceType;

/// An error answer: the HTTP code and the full `Status` object.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub code: u16,
    pub status: Value,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({})",
            self.status["message"].as_str().unwrap_or_default(),
            self.code
        )
    }
}

impl std::error::Error for ApiError {}

pub type ApiResult<T> = Result<T, ApiError>;

/// The resource part of messages and details: `pods`, or `deployments.apps`.
pub struct Qualified<'a> {
    pub group: &'a str,
    pub plural: &'a str,
}

impl Qualified<'_> {
    fn resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    fn details(&self, name: &str) -> Value {
        let mut details = json!({ "name": name, "kind": self.plural });
        if !self.group.is_empty() {
            details["group"] = json!(self.group);
        }
        details
    }
}

impl<'a> From<&'a ResourceType> for Qualified<'a> {
    fn from(rt: &'a ResourceType) -> Self {
        Qualified {
            group: &rt.group,
            plural: &rt.plural,
        }
    }
}

fn status(code: u16, reason: &str, message: String, details: Option<Value>) -> ApiError {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(details) = details {
        body["details"] = details;
    }
    if reason.is_empty()
        && let Some(map) = body.as_object_mut()
    {
        map.remove("reason");
    }
    ApiError { code, status: body }
}

pub fn not_found<'a>(what: impl Into<Qualified<'a>>, name: &str) -> ApiError {
    let q = what.into();
    status(
        404,
        "NotFound",
        format!("{} \"{}\" not found", q.resource(), name),
        Some(q.details(name)),
    )
}

pub fn already_exists<'a>(what: impl Into<Qualified<'a>>, name: &str) -> ApiError {
    let q = what.into();
    status(
        409,
        "AlreadyExists",
        format!("{} \"{}\" already exists", q.resource(), name),
        Some(q.details(name)),
    )
}

/// errors.NewConflict with the optimistic-concurrency wording used by the registry store.
pub fn conflict_modified<'a>(what: impl Into<Qualified<'a>>, name: &str) -> ApiError {
    conflict(
        what,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
    )
}

pub fn conflict<'a>(what: impl Into<Qualified<'a>>, name: &str, why: &str) -> ApiError {
    let q = what.into();
    status(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{}\": {}",
            q.resource(),
            name,
            why
        ),
        Some(q.details(name)),
    )
}

pub fn bad_request(message: impl Into<String>) -> ApiError {
    status(400, "BadRequest", message.into(), None)
}

pub fn forbidden<'a>(what: impl Into<Qualified<'a>>, name: &str, why: &str) -> ApiError {
    let q = what.into();
    let message = if name.is_empty() {
        format!("{} is forbidden: {}", q.resource(), why)
    } else {
        format!("{} \"{}\" is forbidden: {}", q.resource(), name, why)
    };
    status(403, "Forbidden", message, Some(q.details(name)))
}

pub fn unauthorized() -> ApiError {
    status(401, "Unauthorized", "Unauthorized".into(), None)
}

/// The answer for a URL no handler serves.
pub fn path_not_found() -> ApiError {
    status(
        404,
        "NotFound",
        "the server could not find the requested resource".into(),
        Some(json!({})),
    )
}

pub fn method_not_supported<'a>(what: impl Into<Qualified<'a>>, verb: &str) -> ApiError {
    let q = what.into();
    status(
        405,
        "MethodNotAllowed",
        format!(
            "{} is not supported on resources of kind \"{}\"",
            verb,
            q.resource()
        ),
        Some(json!({ "group": q.group, "kind": q.plural })),
    )
}

/// 415 for a patch type the resource does not accept (strategic merge on custom resources).
pub fn unsupported_media_type(accepted: &[&str]) -> ApiError {
    status(
        415,
        "UnsupportedMediaType",
        format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            accepted.join(", ")
        ),
        None,
    )
}

/// 410 for a resourceVersion older than the retained history (watch_cache.go wording).
pub fn expired(message: String) -> ApiError {
    status(410, "Expired", message, None)
}

pub fn internal(message: impl Into<String>) -> ApiError {
    status(
        500,
        "InternalError",
        format!("Internal error occurred: {}", message.into()),
        None,
    )
}

/// The success Status some DELETEs answer with instead of the object.
pub fn delete_success<'a>(what: impl Into<Qualified<'a>>, name: &str, uid: &str) -> Value {
    let q = what.into();
    let mut details = q.details(name);
    details["uid"] = json!(uid);
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}
