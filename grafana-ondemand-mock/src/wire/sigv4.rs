//! SigV4 checked as AWS checks it, for the calls our own code signs (EC2's, `ec2.rs` in the
//! AWS crate): the stub knows the account's keys, rebuilds the signature from what came over
//! the wire (method, host, path, the signed headers, the body) and refuses a request whose
//! signature differs, as EC2 does (`401 AuthFailure`).
//!
//! Not checked: the request's age against the world's clock (AWS refuses one over 15 minutes
//! off; the tests' clocks are paused and the signer reads the system's).

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SigningInstructions, SigningSettings, sign,
};
use aws_smithy_runtime_api::client::identity::Identity;
use std::time::SystemTime;
use wiremock::Request;

/// The access key the stub's account has (AWS's documented example key pair).
pub const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
/// Its secret.
pub const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// Why a request's signature is refused, in EC2's words (`None`: it is good).
pub(crate) fn refused(request: &Request, service: &str, region: &str) -> Option<String> {
    check(request, service, region).err()
}

fn check(request: &Request, service: &str, region: &str) -> Result<(), String> {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = header("authorization").ok_or("Request is missing Authentication Token")?;
    let fields = parse(&authorization)
        .ok_or("Authorization header requires a Credential and SignedHeaders")?;
    let scope: Vec<&str> = fields.credential.split('/').collect();
    let [key, _day, scope_region, scope_service, "aws4_request"] = scope.as_slice() else {
        return Err(format!("malformed credential scope {}", fields.credential));
    };
    if *key != ACCESS_KEY_ID {
        return Err("AWS was not able to validate the provided access credentials".into());
    }
    if *scope_service != service || *scope_region != region {
        return Err(format!(
            "Credential should be scoped to a valid region ({region}) and service ({service}), not {scope_region}/{scope_service}"
        ));
    }
    let time = header("x-amz-date")
        .and_then(|d| chrono::NaiveDateTime::parse_from_str(&d, "%Y%m%dT%H%M%SZ").ok())
        .map(|t| SystemTime::from(t.and_utc()))
        .ok_or(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header",
        )?;
    // What was signed, read back from the wire: the headers the signature names (the signer
    // adds the date and the token itself).
    let signed: Vec<(String, String)> = fields
        .signed_headers
        .split(';')
        .filter(|h| !matches!(*h, "x-amz-date" | "x-amz-security-token"))
        .map(|h| (h.to_owned(), header(h).unwrap_or_default()))
        .collect();
    let host = header("host").unwrap_or_default();
    let uri = format!("http://{host}{}", request.url.path());
    let signable = SignableRequest::new(
        request.method.as_str(),
        uri,
        signed.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&request.body),
    )
    .map_err(|e| e.to_string())?;
    let token = header("x-amz-security-token");
    let expected = sign_with_the_stubs_key(signable, token, service, region, time)?;
    let expected = expected
        .headers()
        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| value.to_owned())
        .unwrap_or_default();
    if expected != authorization {
        return Err(
            "The request signature we calculated does not match the signature you provided".into(),
        );
    }
    Ok(())
}

struct Fields {
    credential: String,
    signed_headers: String,
}

/// `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
fn parse(authorization: &str) -> Option<Fields> {
    let rest = authorization.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let mut credential = None;
    let mut signed_headers = None;
    for part in rest.split(',').map(str::trim) {
        if let Some(c) = part.strip_prefix("Credential=") {
            credential = Some(c.to_owned());
        } else if let Some(h) = part.strip_prefix("SignedHeaders=") {
            signed_headers = Some(h.to_owned());
        }
    }
    Some(Fields {
        credential: credential?,
        signed_headers: signed_headers?,
    })
}

/// How `request` is signed at `time` with the account's key (and `token`, a session's).
fn sign_with_the_stubs_key(
    request: SignableRequest<'_>,
    token: Option<String>,
    service: &str,
    region: &str,
    time: SystemTime,
) -> Result<SigningInstructions, String> {
    let identity: Identity =
        Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, token, None, "stub").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    Ok(sign(request, &params)
        .map_err(|e| e.to_string())?
        .into_parts()
        .0)
}

/// The headers that sign a form-encoded `POST` to `url` with the stub's key, for a test that
/// speaks to the stub by hand (`content-type` among them).
pub fn signed_form_headers(
    url: &str,
    body: &str,
    service: &str,
    region: &str,
) -> Vec<(String, String)> {
    const CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
    let signed = SignableRequest::new(
        "POST",
        url,
        [("content-type", CONTENT_TYPE)].into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| e.to_string())
    .and_then(|request| sign_with_the_stubs_key(request, None, service, region, SystemTime::now()));
    let mut headers = vec![("content-type".to_owned(), CONTENT_TYPE.to_owned())];
    if let Ok(instructions) = signed {
        headers.extend(
            instructions
                .headers()
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
    }
    headers
}
