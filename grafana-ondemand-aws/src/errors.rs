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

/// No credentials in the AWS chain.
pub(crate) fn no_credentials() -> Error {
    Error::invalid_config(
        "AWS credentials",
        "none were found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an IAM role",
    )
}

/// No AWS endpoint for the region: a malformed region, or a host no one answers for.
pub(crate) fn no_endpoint(action: &str) -> Error {
    Error::invalid_config(
        "AWS region",
        format!(
            "`{action}` found no AWS endpoint for it: set a region AWS has, such as eu-west-3 (AWS_REGION, or the CLI's --region), and check the network's way to AWS"
        ),
    )
}

/// Whether `err` says the endpoint's host has no address (a region or endpoint no one answers
/// for), in the words of the resolvers under the SDK's client and reqwest.
pub(crate) fn no_such_host(err: &(dyn std::error::Error + 'static)) -> bool {
    ["dns error", "failed to lookup", "name or service"]
        .iter()
        .any(|w| mentions(err, w))
}

/// Walks an error's sources looking for a word (the SDK nests the interesting part).
pub(crate) fn mentions(err: &(dyn std::error::Error + 'static), word: &str) -> bool {
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
            return no_credentials();
        }
        // No endpoint for the region (a malformed one), or no such host (an unknown one).
        SdkError::ConstructionFailure(_) | SdkError::DispatchFailure(_)
            if mentions(&err, "region") || mentions(&err, "endpoint") || no_such_host(&err) =>
        {
            return no_endpoint(&action);
        }
        _ => {}
    }
    let status = match &err {
        SdkError::ServiceError(e) => Some(e.raw().status().as_u16()),
        SdkError::ResponseError(e) => Some(e.raw().status().as_u16()),
        _ => None,
    };
    by_code(err.code(), err.message(), status, &action, names).unwrap_or_else(|| {
        Error::backend(
            action,
            aws_sdk_ecs::error::DisplayErrorContext(err).to_string(),
        )
    })
}

/// What an AWS answer means, from its error code, message and HTTP status; `None` when none
/// of them says (the caller keeps the detail). Shared by the SDK's clients ([`map`]) and the
/// small EC2 client (`ec2.rs`).
pub(crate) fn by_code(
    code: Option<&str>,
    message: Option<&str>,
    status: Option<u16>,
    action: &str,
    names: &Names,
) -> Option<Error> {
    let action = action.to_owned();
    let server_error = status.is_some_and(|s| (500..600).contains(&s));
    // An endpoint that does not implement the call (an emulator such as moto): it says so, or
    // answers a 5xx outside AWS's protocol (AWS's own 5xx carry an error code).
    if (code.is_none() && server_error)
        || code == Some("NotImplemented")
        || message.is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("not yet implemented") || m.contains("has not been implemented")
        })
    {
        return Some(Error::Unsupported {
            capability: format!(
                "`{action}` at this endpoint (it answers no AWS error for it: an emulator that lacks it?)"
            ),
        });
    }
    Some(match code {
        Some("ServiceNotFoundException" | "ServiceNotActiveException") => Error::ServiceNotFound {
            cluster: names.cluster.clone(),
            service: names.service.clone(),
        },
        Some("ClusterNotFoundException") => Error::ClusterNotFound {
            cluster: names.cluster.clone(),
        },
        // EC2's words for keys or a signature it does not take.
        Some("AuthFailure" | "SignatureDoesNotMatch" | "InvalidClientTokenId") => {
            Error::invalid_config(
                "AWS credentials",
                format!(
                    "were refused by `{action}`: the access key is unknown, or the secret key does not match it; check AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or get new credentials"
                ),
            )
        }
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
        _ if server_error => Error::Unavailable { action },
        _ => return None,
    })
}
