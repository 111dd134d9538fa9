//! AWS SDK errors mapped to the core's errors by meaning.

use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use grafana_ondemand_core::Error;

/// Names the mapping needs to say which thing was missing.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub cluster: String,
    pub service: String,
}

/// Walks an error's sources looking for a word (the SDK nests the interesting part).
fn mentions(err: &(dyn std::error::Error + 'static), word: &str) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.to_string().to_ascii_lowercase().contains(word) {
            return true;
        }
        next = e.source();
    }
    false
}

/// The errors KeyValueStore's API gives when it cannot take the caller's credentials for a
/// SigV4A signature (version 1 session tokens, from STS's global endpoint, among them).
const SIGV4A_REFUSALS: [&str; 5] = [
    "InvalidSignatureException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "IncompleteSignatureException",
    "SignatureDoesNotMatch",
];

/// What is wrong with credentials KeyValueStore's API refused, and what to do.
pub(crate) const SIGV4A_CREDENTIALS: &str = "were refused by CloudFront KeyValueStore's API, which is signed with SigV4A: it takes long-term keys, SSO, or session tokens from a regional STS endpoint, and refuses version 1 session tokens from STS's global endpoint. Set AWS_STS_REGIONAL_ENDPOINTS=regional (or sts_regional_endpoints = regional in ~/.aws/config), get new credentials, and try again";

/// Maps an SDK error of one of KeyValueStore's actions: as [`map`], but credentials its
/// SigV4A signature refused say so, and how to get credentials it takes.
pub(crate) fn map_kvs<E>(err: SdkError<E, HttpResponse>, action: &str, names: &Names) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let refused = err.code().is_some_and(|c| SIGV4A_REFUSALS.contains(&c))
        || err
            .message()
            .is_some_and(|m| m.to_ascii_lowercase().contains("security token"));
    if refused {
        return Error::invalid_config("AWS credentials", SIGV4A_CREDENTIALS);
    }
    map(err, action, names)
}

/// Maps an SDK error of IAM action `action` (such as `ecs:UpdateService`).
pub(crate) fn map<E>(err: SdkError<E, HttpResponse>, action: &str, names: &Names) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let action = action.to_owned();
    match &err {
        SdkError::TimeoutError(_) => {
            return Error::Timeout {
                action,
                after: None,
            };
        }
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            return Error::Timeout {
                action,
                after: None,
            };
        }
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_)
            if mentions(&err, "credential") =>
        {
            return Error::invalid_config(
                "AWS credentials",
                "none were found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an IAM role",
            );
        }
        // No endpoint for the region (a malformed one), or no such host (an unknown one).
        SdkError::ConstructionFailure(_) | SdkError::DispatchFailure(_)
            if [
                "region",
                "endpoint",
                "dns error",
                "failed to lookup",
                "name or service",
            ]
            .iter()
            .any(|w| mentions(&err, w)) =>
        {
            return Error::invalid_config(
                "AWS region",
                format!(
                    "`{action}` found no AWS endpoint for it: set a region AWS has, such as eu-west-3 (AWS_REGION, or the CLI's --region), and check the network's way to AWS"
                ),
            );
        }
        _ => {}
    }
    // An endpoint that does not implement the call (an emulator such as moto): it says so, or
    // answers a 5xx outside AWS's protocol (AWS's own 5xx carry an error code).
    let unparsed_5xx = err.code().is_none()
        && match &err {
            SdkError::ServiceError(e) => e.raw().status().is_server_error(),
            SdkError::ResponseError(e) => e.raw().status().is_server_error(),
            _ => false,
        };
    if unparsed_5xx
        || err.code() == Some("NotImplemented")
        || err.message().is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("not yet implemented") || m.contains("has not been implemented")
        })
    {
        return Error::Unsupported {
            capability: format!(
                "`{action}` at this endpoint (it answers no AWS error for it: an emulator that lacks it?)"
            ),
        };
    }
    match err.code() {
        Some("ServiceNotFoundException" | "ServiceNotActiveException") => Error::ServiceNotFound {
            cluster: names.cluster.clone(),
            service: names.service.clone(),
        },
        Some("ClusterNotFoundException") => Error::ClusterNotFound {
            cluster: names.cluster.clone(),
        },
        Some(
            "AccessDeniedException"
            | "AccessDenied"
            | "UnauthorizedOperation"
            | "UnrecognizedClientException",
        ) => Error::PermissionDenied { action },
        Some(
            "ThrottlingException"
            | "RequestLimitExceeded"
            | "Throttling"
            | "TooManyRequestsException",
        ) => Error::Throttled { action },
        Some(
            "ServerException" | "InternalError" | "InternalFailure" | "ServiceUnavailable"
            | "Unavailable",
        ) => Error::Unavailable { action },
        _ if matches!(&err, SdkError::ServiceError(e) if e.raw().status().is_server_error()) => {
            Error::Unavailable { action }
        }
        _ => Error::backend(
            action,
            aws_sdk_ecs::error::DisplayErrorContext(err).to_string(),
        ),
    }
}
