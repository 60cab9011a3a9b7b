//! Errors of `kubectl testjob`, printed as one line on stderr the way kubectl prints them, and
//! the exit codes of the plugin.

use std::fmt;

/// The tests passed (or a command other than a waiting `run` succeeded).
pub const EXIT_PASSED: u8 = 0;
/// The runner ran and the tests failed (phase `Failed`, reason `TestsFailed`).
pub const EXIT_TESTS_FAILED: u8 = 1;
/// The job could not run or did not finish in time, or the command itself failed.
pub const EXIT_NOT_RUN: u8 = 2;
/// The job was cancelled.
pub const EXIT_CANCELLED: u8 = 3;

/// What went wrong in a command; each renders as kubectl would say it.
#[derive(Debug)]
pub enum PluginError {
    /// The API server answered with a `Status` error (NotFound, Forbidden, Invalid …).
    Api {
        /// The Status reason, e.g. `NotFound`.
        reason: String,
        /// The Status message, passed through.
        message: String,
    },
    /// No connection to the API server.
    Unreachable {
        /// The server URL of the kubeconfig.
        url: String,
        /// What the connection attempt said.
        cause: String,
    },
    /// A problem on this side: usage, files, kubeconfig, a job's missing data.
    Other(String),
}

impl PluginError {
    /// A local error with `message`.
    pub fn other(message: impl Into<String>) -> Self {
        PluginError::Other(message.into())
    }

    /// Classifies a kube-rs error of a request sent to `url`.
    pub fn from_kube(error: kube::Error, url: &str) -> Self {
        match error {
            kube::Error::Api(status) => {
                let reason = if status.reason.is_empty() {
                    http_reason(status.code).to_owned()
                } else {
                    status.reason.clone()
                };
                PluginError::Api {
                    reason,
                    message: status.message.clone(),
                }
            }
            kube::Error::HyperError(_) | kube::Error::Service(_) => PluginError::Unreachable {
                url: url.to_owned(),
                cause: chain(&error),
            },
            other => PluginError::Other(chain(&other)),
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginError::Api { reason, message } => {
                write!(f, "Error from server ({reason}): {message}")
            }
            PluginError::Unreachable { url, cause } => {
                write!(f, "error: cannot reach the cluster at {url}: {cause}")
            }
            PluginError::Other(message) => write!(f, "error: {message}"),
        }
    }
}

impl std::error::Error for PluginError {}

/// The error and its sources on one line, without repeating a source that the message already
/// contains.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line.replace('\n', " ")
}

/// kubectl's reason for a Status without one.
fn http_reason(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        410 => "Gone",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_read_like_kubectl() {
        let status =
            kube::core::Status::failure("testjobs.testjob.dev \"x\" not found", "NotFound")
                .with_code(404);
        let error = PluginError::from_kube(kube::Error::Api(Box::new(status)), "https://h");
        assert_eq!(
            error.to_string(),
            "Error from server (NotFound): testjobs.testjob.dev \"x\" not found"
        );
        let bare = kube::core::Status::failure("denied", "").with_code(403);
        let error = PluginError::from_kube(kube::Error::Api(Box::new(bare)), "https://h");
        assert_eq!(error.to_string(), "Error from server (Forbidden): denied");
    }
}
