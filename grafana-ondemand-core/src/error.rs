//! Errors by meaning, each saying what failed and what to do about it.

use std::time::Duration;

/// Everything that can go wrong when asking the platform to start, stop or report a service.
///
/// No variant carries a credential: messages name resources and IAM actions only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The ECS service does not exist in the cluster (or not in this region).
    #[error(
        "ECS service `{service}` was not found in cluster `{cluster}`: check the service's and the cluster's names and the AWS region"
    )]
    ServiceNotFound {
        /// The cluster that was searched.
        cluster: String,
        /// The service that was not found.
        service: String,
    },
    /// The ECS cluster does not exist (or not in this region).
    #[error("ECS cluster `{cluster}` was not found: check the cluster's name and the AWS region")]
    ClusterNotFound {
        /// The cluster that was not found.
        cluster: String,
    },
    /// The caller's IAM identity may not perform an action.
    #[error(
        "permission denied for `{action}`: allow it in the IAM policy of the role that runs this (grafana-ondemand-aws/iam-policy.json lists what it needs)"
    )]
    PermissionDenied {
        /// The IAM action that was denied, such as `ecs:UpdateService`.
        action: String,
    },
    /// AWS throttled the call past the SDK's retry budget.
    #[error("AWS throttled `{action}` past the retry budget: try again in a few seconds")]
    Throttled {
        /// The IAM action that was throttled.
        action: String,
    },
    /// The platform failed on its side (a 5xx) past the SDK's retry budget.
    #[error("AWS could not serve `{action}` right now: try again in a few seconds")]
    Unavailable {
        /// The IAM action that failed.
        action: String,
    },
    /// A call to the platform did not finish in time.
    #[error("`{action}` timed out{}: check network access to AWS", after.map(|d| format!(" after {d:?}")).unwrap_or_default())]
    Timeout {
        /// The IAM action that timed out.
        action: String,
        /// How long it was given, when known.
        after: Option<Duration>,
    },
    /// The action needs a session and there is none.
    #[error(
        "there is no session to extend: the service is {state}; start it, asking for the time you need"
    )]
    NotRunning {
        /// The state it is in.
        state: crate::State,
    },
    /// A notice could not be delivered.
    #[error("the notice could not be sent to {channel}: {problem}")]
    NotDelivered {
        /// Where it was going: "the webhook", "SNS topic `…`".
        channel: String,
        /// What happened.
        problem: String,
    },
    /// A conditional write (`If-Match`) found the resource changed since it was read.
    #[error("`{action}` lost to a concurrent write: read again and retry")]
    Conflict {
        /// The IAM action whose condition failed.
        action: String,
    },
    /// The service's data is being restored: every start is refused until it is done.
    #[error(
        "the service's data is being restored from a backup (since {since}): start it once the restore is done; if that restore was abandoned, release its hold (the CLI's `restore --release`)"
    )]
    Restoring {
        /// When the hold began.
        since: String,
    },
    /// A restore refused to go on, or failed; the message says what to do.
    #[error("restore: {problem}")]
    Restore {
        /// What happened and what to do.
        problem: String,
    },
    /// A setting is missing or wrong.
    #[error("invalid configuration: {setting}: {problem}")]
    InvalidConfig {
        /// The setting (an environment variable, a flag or a builder field).
        setting: String,
        /// What is wrong with it and how to fix it.
        problem: String,
    },
    /// The backend has no such capability (a private name's records, a front door's store):
    /// the service is configured with something this backend cannot do.
    #[error("not supported here: {capability}")]
    Unsupported {
        /// What it lacks, such as "DNS records".
        capability: String,
    },
    /// Any other failure of the platform, with its source; not retryable, since nothing says
    /// trying again would help.
    #[error("`{action}` failed: {source}")]
    Backend {
        /// The IAM action that failed.
        action: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Builds a [`Error::Backend`] from any error.
    pub fn backend(
        action: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Backend {
            action: action.into(),
            source: source.into(),
        }
    }

    /// Builds a [`Error::InvalidConfig`].
    pub fn invalid_config(setting: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::InvalidConfig {
            setting: setting.into(),
            problem: problem.into(),
        }
    }

    /// Whether trying again later may succeed: throttling, time-outs and the platform's own
    /// failures. Errors nobody mapped are not: retrying them would hide them.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Throttled { .. } | Error::Timeout { .. } | Error::Unavailable { .. }
        )
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_thing_and_the_fix() {
        let e = Error::ServiceNotFound {
            cluster: "prod".into(),
            service: "grafana".into(),
        };
        let text = e.to_string();
        assert!(text.contains("`grafana`") && text.contains("`prod`") && text.contains("names"));
        assert!(!e.is_retryable());
        let e = Error::PermissionDenied {
            action: "ecs:UpdateService".into(),
        };
        assert!(e.to_string().contains("ecs:UpdateService"));
        assert!(
            Error::Throttled {
                action: "ecs:ListTasks".into()
            }
            .is_retryable()
        );
        let t = Error::Timeout {
            action: "ecs:DescribeTasks".into(),
            after: Some(Duration::from_secs(5)),
        };
        assert!(t.is_retryable() && t.to_string().contains("after 5s"));
        assert!(!Error::invalid_config("CLUSTER_NAME", "is empty").is_retryable());
        assert!(!Error::backend("ecs:ListTasks", "unexpected answer").is_retryable());
        assert!(
            Error::Unavailable {
                action: "ecs:ListTasks".into()
            }
            .is_retryable()
        );
    }
}
