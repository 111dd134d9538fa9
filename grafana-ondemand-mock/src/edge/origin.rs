//! What `cf.updateRequestOrigin` accepts, as AWS documents it ("Helper methods for origin
//! modification", CloudFront Developer Guide): every field's name, type, allowed values and
//! ranges. CloudFront refuses a call outside them at run time with a 502 and
//! `FunctionValidationError`; the simulated edge does the same with this check, so a door
//! function that AWS would refuse fails here too instead of passing on a kinder reading.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// An origin a function chose, checked: what the edge needs to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenOrigin {
    /// `domainName`, when the function set one (else the behaviour's origin's).
    pub domain_name: Option<String>,
    /// `hostHeader`, when set.
    pub host_header: Option<String>,
    /// `sni`, when set.
    pub sni: Option<String>,
    /// `allowedCertificateNames`, when set.
    pub allowed_certificate_names: Vec<String>,
    /// `customOriginConfig`'s port and whether its protocol is `https`, when set.
    pub port_and_https: Option<(u16, bool)>,
    /// `customHeaders`: `None` when not given (the behaviour's origin's are inherited),
    /// names in lower case.
    pub custom_headers: Option<BTreeMap<String, String>>,
    /// `originPath`, when set.
    pub origin_path: Option<String>,
}

/// The fields the helper takes; any other name is refused.
const FIELDS: [&str; 11] = [
    "domainName",
    "hostHeader",
    "sni",
    "allowedCertificateNames",
    "customHeaders",
    "originPath",
    "originAccessControlConfig",
    "connectionAttempts",
    "timeouts",
    "customOriginConfig",
    "originShield",
];

/// `sslProtocols` values CloudFront knows for a custom origin.
const SSL_PROTOCOLS: [&str; 4] = ["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2"];

/// Headers CloudFront does not let an origin's custom headers set (the documented list of
/// custom headers that CloudFront can't add, in lower case).
const FORBIDDEN_CUSTOM_HEADERS: [&str; 17] = [
    "cache-control",
    "connection",
    "content-length",
    "cookie",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "max-forwards",
    "pragma",
    "proxy-authorization",
    "proxy-connection",
    "range",
    "request-range",
    "te",
];

/// Checks `arg`, the value a function passed to `cf.updateRequestOrigin`: the origin it
/// describes, or the reason CloudFront would refuse it.
pub fn check_origin(arg: &Value) -> Result<ChosenOrigin, String> {
    let fields = arg
        .as_object()
        .ok_or("updateRequestOrigin takes an object")?;
    if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!("`{unknown}` is not a field of updateRequestOrigin"));
    }
    let domain_name = optional_name(fields, "domainName", 253)?;
    let host_header = optional_name(fields, "hostHeader", 253)?;
    let sni = optional_name(fields, "sni", 253)?;
    let allowed_certificate_names = match fields.get("allowedCertificateNames") {
        None => Vec::new(),
        Some(v) => {
            let list = v
                .as_array()
                .ok_or("`allowedCertificateNames` must be an array of strings")?;
            if list.is_empty() || list.len() > 20 {
                return Err(format!(
                    "`allowedCertificateNames` holds {} names: from 1 to 20",
                    list.len()
                ));
            }
            list.iter()
                .map(|n| match n.as_str() {
                    Some(s) if !s.is_empty() && s.len() <= 64 => Ok(s.to_owned()),
                    _ => Err(format!(
                        "`allowedCertificateNames` entry {n} is not a name of 1 to 64 characters"
                    )),
                })
                .collect::<Result<_, _>>()?
        }
    };
    let custom_headers = match fields.get("customHeaders") {
        None => None,
        Some(v) => {
            let map = v
                .as_object()
                .ok_or("`customHeaders` must be an object of header names to strings")?;
            let mut headers = BTreeMap::new();
            for (name, value) in map {
                let lower = name.to_ascii_lowercase();
                if lower.is_empty()
                    || !lower
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(format!("`customHeaders`: `{name}` is not a header name"));
                }
                if FORBIDDEN_CUSTOM_HEADERS.contains(&lower.as_str())
                    || lower.starts_with("x-amz-")
                    || lower.starts_with("x-edge-")
                {
                    return Err(format!(
                        "`customHeaders`: CloudFront does not let a function set `{name}`"
                    ));
                }
                let value = value
                    .as_str()
                    .ok_or(format!("`customHeaders`: `{name}`'s value is not a string"))?;
                headers.insert(lower, value.to_owned());
            }
            Some(headers)
        }
    };
    let origin_path = match fields.get("originPath") {
        None => None,
        Some(v) => {
            let p = v.as_str().ok_or("`originPath` must be a string")?;
            if !p.starts_with('/') || p.ends_with('/') || p.len() > 255 {
                return Err(format!(
                    "`originPath` `{p}` must start with / and not end with one, within 255 characters"
                ));
            }
            Some(p.to_owned())
        }
    };
    if let Some(oac) = fields.get("originAccessControlConfig") {
        check_oac(oac)?;
    }
    if let Some(n) = fields.get("connectionAttempts") {
        integer_in(n, "connectionAttempts", 1, 3)?;
    }
    if let Some(t) = fields.get("timeouts") {
        check_timeouts(t)?;
    }
    if let Some(shield) = fields.get("originShield") {
        let s = shield
            .as_object()
            .ok_or("`originShield` must be an object")?;
        match s.get("enabled") {
            Some(Value::Bool(true)) if s.get("region").and_then(Value::as_str).is_none() => {
                return Err("`originShield` enabled needs a `region`".into());
            }
            Some(Value::Bool(_)) => {}
            _ => return Err("`originShield.enabled` must be true or false".into()),
        }
    }
    let port_and_https = match fields.get("customOriginConfig") {
        None => None,
        Some(c) => Some(check_custom_origin(c)?),
    };
    Ok(ChosenOrigin {
        domain_name,
        host_header,
        sni,
        allowed_certificate_names,
        port_and_https,
        custom_headers,
        origin_path,
    })
}

/// `domainName`, `hostHeader` and `sni`: "can't include a colon and can't be an IP address".
fn optional_name(
    fields: &Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Option<String>, String> {
    let Some(v) = fields.get(field) else {
        return Ok(None);
    };
    let name = v.as_str().ok_or(format!("`{field}` must be a string"))?;
    if name.is_empty() || name.len() > max {
        return Err(format!("`{field}` must have 1 to {max} characters"));
    }
    if name.contains(':') {
        return Err(format!("`{field}` `{name}` can't include a colon"));
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!("`{field}` `{name}` can't be an IP address"));
    }
    Ok(Some(name.to_owned()))
}

fn integer_in(v: &Value, field: &str, min: u64, max: u64) -> Result<u64, String> {
    match v.as_u64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("`{field}` is {v}: an integer from {min} to {max}")),
    }
}

fn check_oac(oac: &Value) -> Result<(), String> {
    let o = oac
        .as_object()
        .ok_or("`originAccessControlConfig` must be an object")?;
    match o.get("enabled") {
        Some(Value::Bool(false)) => Ok(()),
        Some(Value::Bool(true)) => {
            for (field, allowed) in [
                ("signingBehavior", &["always", "never", "no-override"][..]),
                ("signingProtocol", &["sigv4"][..]),
                ("originType", &["s3", "mediapackagev2", "lambda"][..]),
            ] {
                match o.get(field).and_then(Value::as_str) {
                    Some(v) if allowed.contains(&v) => {}
                    _ => {
                        return Err(format!(
                            "`originAccessControlConfig.{field}` must be one of {allowed:?}"
                        ));
                    }
                }
            }
            Ok(())
        }
        _ => Err("`originAccessControlConfig.enabled` must be true or false".into()),
    }
}

fn check_timeouts(t: &Value) -> Result<(), String> {
    let t = t.as_object().ok_or("`timeouts` must be an object")?;
    for (field, value) in t {
        match field.as_str() {
            "readTimeout" | "keepAliveTimeout" => {
                integer_in(value, &format!("timeouts.{field}"), 1, 120)?;
            }
            "connectionTimeout" => {
                integer_in(value, "timeouts.connectionTimeout", 1, 10)?;
            }
            "responseCompletionTimeout" => {
                integer_in(value, "timeouts.responseCompletionTimeout", 1, u64::MAX)?;
            }
            other => {
                return Err(format!(
                    "`timeouts.{other}` is not a timeout CloudFront has"
                ));
            }
        }
    }
    Ok(())
}

/// `customOriginConfig`: `port`, `protocol` and `sslProtocols`, all three required.
fn check_custom_origin(c: &Value) -> Result<(u16, bool), String> {
    let c = c
        .as_object()
        .ok_or("`customOriginConfig` must be an object")?;
    if let Some(unknown) = c
        .keys()
        .find(|k| !["port", "protocol", "sslProtocols"].contains(&k.as_str()))
    {
        return Err(format!("`customOriginConfig.{unknown}` is not a field"));
    }
    let port = match c.get("port").and_then(Value::as_u64) {
        Some(p @ (80 | 443 | 1024..=65535)) => p,
        _ => {
            return Err(format!(
                "`customOriginConfig.port` is {}: 80, 443, or 1024 to 65535",
                c.get("port").unwrap_or(&Value::Null)
            ));
        }
    };
    let https = match c.get("protocol").and_then(Value::as_str) {
        Some("https") => true,
        Some("http") => false,
        other => {
            return Err(format!(
                "`customOriginConfig.protocol` is {other:?}: \"http\" or \"https\" (http-only and https-only are a distribution's OriginProtocolPolicy, not this helper's)"
            ));
        }
    };
    let protocols = c
        .get("sslProtocols")
        .and_then(Value::as_array)
        .ok_or("`customOriginConfig.sslProtocols` is required: an array such as [\"TLSv1.2\"]")?;
    if protocols.is_empty()
        || !protocols
            .iter()
            .all(|p| p.as_str().is_some_and(|p| SSL_PROTOCOLS.contains(&p)))
    {
        return Err(format!(
            "`customOriginConfig.sslProtocols` is {protocols:?}: a non-empty array of {SSL_PROTOCOLS:?}"
        ));
    }
    let port = u16::try_from(port).map_err(|e| e.to_string())?;
    Ok((port, https))
}
