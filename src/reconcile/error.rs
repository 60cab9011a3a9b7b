//! What can make one reconcile fail. Each error is retried by [`super::error_policy`] and
//! counted under its [`Error::category`], a fixed label set that an exhaustive match keeps in step
//! with the variants.

use crate::{metrics::ErrorReason, pod::InvalidJob};

/// A failed reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),

    /// The TestJob lacks what a reconcile needs.
    #[error(transparent)]
    InvalidJob(#[from] InvalidJob),

    /// The runner Pod was reported as existing but could not be read back.
    #[error("runner Pod {0} already exists but disappeared before it could be read")]
    PodVanished(String),
}

impl Error {
    /// The metric label of this error.
    pub fn category(&self) -> ErrorReason {
        match self {
            Error::Kube(kube::Error::Api(status)) => ErrorReason::of_api_status(status.code),
            Error::Kube(_) => ErrorReason::Transport,
            Error::InvalidJob(InvalidJob::MissingNamespace | InvalidJob::MissingUid) => {
                ErrorReason::InvalidObject
            }
            Error::PodVanished(_) => ErrorReason::NotFound,
        }
    }
}

/// Result of a reconcile step.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> Error {
        Error::Kube(kube::Error::Api(Box::new(kube::core::Status {
            code,
            message: format!("pods \"x-{code}\" is broken"),
            ..kube::core::Status::default()
        })))
    }

    #[test]
    fn categories_follow_the_api_status_and_the_variant() {
        assert_eq!(api(409).category(), ErrorReason::Conflict);
        assert_eq!(api(404).category(), ErrorReason::NotFound);
        assert_eq!(api(410).category(), ErrorReason::NotFound);
        assert_eq!(api(403).category(), ErrorReason::Forbidden);
        assert_eq!(api(422).category(), ErrorReason::Invalid);
        assert_eq!(api(503).category(), ErrorReason::ServerError);
        assert_eq!(api(418).category(), ErrorReason::ApiError);
        let transport = Error::Kube(kube::Error::LinesCodecMaxLineLengthExceeded);
        assert_eq!(transport.category(), ErrorReason::Transport);
        assert_eq!(
            Error::from(InvalidJob::MissingUid).category(),
            ErrorReason::InvalidObject
        );
        assert_eq!(
            Error::PodVanished("p".into()).category(),
            ErrorReason::NotFound
        );
        // The label is the category's name, never the message.
        assert_eq!(api(409).category().as_str(), "Conflict");
    }
}
