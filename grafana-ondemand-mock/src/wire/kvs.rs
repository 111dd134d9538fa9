//! CloudFront KeyValueStore's REST-JSON protocol over the simulated stores:
//! `GET /key-value-stores/{arn}` (DescribeKeyValueStore, the ETag in a header),
//! `GET /key-value-stores/{arn}/keys/{key}` (GetKey) and `PUT …/keys/{key}` (PutKey, with
//! `If-Match`), the ARN and key percent-encoded in the path as the SDK sends them; errors
//! with `x-amzn-ErrorType` and a JSON `Message`, in the status codes AWS gives them.

use super::rest_json_error as error;
use crate::ecs::SimulatedEcs;
use crate::model::CallFault;
use serde_json::json;
use std::time::Duration;
use wiremock::{Request, Respond, ResponseTemplate};

#[derive(Debug)]
pub(super) struct KvsWire {
    pub ecs: SimulatedEcs,
    pub delay: Duration,
}

fn fault(f: CallFault, action: &str) -> ResponseTemplate {
    match f {
        CallFault::Throttled => error(429, "ThrottlingException", "Rate exceeded"),
        CallFault::AccessDenied => error(
            403,
            "AccessDeniedException",
            &format!(
                "User: arn:aws:sts::123456789012:assumed-role/controller/fn is not authorized to perform: {action}"
            ),
        ),
        CallFault::Conflict(m) => error(409, "ConflictException", &m),
        CallFault::ResourceNotFound(m) => error(404, "ResourceNotFoundException", &m),
        CallFault::InvalidParameter(m)
        | CallFault::InvalidChangeBatch(m)
        | CallFault::NoSuchHostedZone(m)
        | CallFault::NoSuchChange(m) => error(400, "ValidationException", &m),
        CallFault::ServiceNotFound => error(400, "ValidationException", "not a KVS error"),
    }
}

fn ok(body: serde_json::Value, etag: Option<&str>) -> ResponseTemplate {
    let mut r = ResponseTemplate::new(200)
        .insert_header("x-amzn-RequestId", "6e2f3a4b-5c6d-4e7f-9a0b-1c2d3e4f5a6b");
    if let Some(etag) = etag {
        r = r.insert_header("ETag", etag);
    }
    r.set_body_raw(body.to_string(), "application/json")
}

impl KvsWire {
    fn answer(&self, request: &Request) -> ResponseTemplate {
        // KeyValueStore's API is signed with SigV4A, which refuses version 1 session tokens
        // (from STS's global endpoint): the stub refuses the tokens it is told are such.
        if self.ecs.refuses_session_tokens() && request.headers.contains_key("x-amz-security-token")
        {
            return error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            );
        }
        let path = request.url.path().trim_start_matches("/key-value-stores/");
        let mut parts = path.split('/');
        let arn = super::percent_decoded(parts.next().unwrap_or_default());
        let key = match (parts.next(), parts.next()) {
            (Some("keys"), Some(k)) => Some(super::percent_decoded(k)),
            _ => None,
        };
        let size = |v: &Option<String>| v.as_ref().map_or(0, |v| v.len());
        match (request.method.as_str(), key) {
            ("GET", None) => match self.ecs.op_describe_store(&arn) {
                Ok(etag) => ok(
                    json!({
                        "KvsARN": arn,
                        "ItemCount": 1,
                        "TotalSizeInBytes": 0,
                        "Created": 1_764_000_000,
                        "LastModified": 1_764_000_000,
                        "Status": "READY",
                    }),
                    Some(&etag),
                ),
                Err(f) => fault(f, "cloudfront-keyvaluestore:DescribeKeyValueStore"),
            },
            ("GET", Some(key)) => match self.ecs.op_get_key(&arn, &key) {
                Ok(Some(value)) => ok(
                    json!({
                        "Key": key,
                        "Value": value,
                        "ItemCount": 1,
                        "TotalSizeInBytes": value.len(),
                    }),
                    None,
                ),
                Ok(None) => error(
                    404,
                    "ResourceNotFoundException",
                    &format!("Key {key} not found"),
                ),
                Err(f) => fault(f, "cloudfront-keyvaluestore:GetKey"),
            },
            ("PUT", Some(key)) => {
                let Some(if_match) = request
                    .headers
                    .get("if-match")
                    .and_then(|v| v.to_str().ok())
                else {
                    return error(400, "ValidationException", "If-Match is required");
                };
                let body: serde_json::Value =
                    serde_json::from_slice(&request.body).unwrap_or_default();
                let Some(value) = body.get("Value").and_then(|v| v.as_str()) else {
                    return error(400, "ValidationException", "Value is required");
                };
                if value.len() > 1024 {
                    return error(
                        400,
                        "ValidationException",
                        "Value must be at most 1024 characters",
                    );
                }
                match self.ecs.op_put_key(&arn, &key, value, if_match) {
                    Ok(etag) => ok(
                        json!({
                            "ItemCount": 1,
                            "TotalSizeInBytes": size(&Some(value.to_owned())),
                        }),
                        Some(&etag),
                    ),
                    Err(f) => fault(f, "cloudfront-keyvaluestore:PutKey"),
                }
            }
            (m, _) => error(400, "ValidationException", &format!("{m} is not simulated")),
        }
    }
}

impl Respond for KvsWire {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.answer(request).set_delay(self.delay)
    }
}
