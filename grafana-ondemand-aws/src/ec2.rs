//! EC2's `DescribeNetworkInterfaces`, the one EC2 call the controller makes, without
//! `aws-sdk-ec2`.
//!
//! `aws-sdk-ec2` is the largest crate of the AWS SDK for Rust: 213 s and a 6.9 GB rustc of the
//! Lambda's release build, for one call (docs/architecture.md has the figures). This client
//! makes that call on the SDK's own parts and the SDK's configuration, as the SDK would:
//! - credentials from the [`SdkConfig`]'s provider (the same chain), kept until 5 minutes
//!   before they expire;
//! - the endpoint as the SDK resolves it: one set in code, else `AWS_ENDPOINT_URL_EC2` or the
//!   profile's `endpoint_url` for EC2, else `AWS_ENDPOINT_URL`, else EC2's regional endpoint
//!   (FIPS and dual-stack honoured);
//! - signed with SigV4 by `aws-sigv4` (service `ec2`), the SDK's signer;
//! - EC2's query protocol (`Action=DescribeNetworkInterfaces&Version=2016-11-15`, form-encoded;
//!   XML answers; `<Response><Errors>` errors);
//! - the standard retry mode: the [`RetryConfig`]'s attempts and backoff (exponential, with
//!   full jitter), retrying throttling, transient and 5xx answers, timeouts and connection
//!   failures; the [`TimeoutConfig`]'s connect, attempt and operation timeouts.
//!
//! Left out, because one call a few times a minute does not need it: the SDK's client-wide
//! retry quota (a token bucket shared across calls) and clock-skew correction.
//!
//! doctor (the CLI's `admin` feature) still uses `aws-sdk-ec2` for its many EC2 reads.

use crate::errors::{Names, by_code, no_credentials, no_endpoint, no_such_host};
use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_xml::decode::{Document, ScopedDecoder, XmlDecodeError, try_data};
use grafana_ondemand_core::{Error, NetworkInterface, Result};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;

/// The IAM action, as errors name it.
const ACTION: &str = "ec2:DescribeNetworkInterfaces";
/// EC2's API version, as `aws-sdk-ec2` sends it.
const VERSION: &str = "2016-11-15";
/// Credentials this close to their expiry are fetched again (the SDK's identity cache
/// refreshes them ahead of time too).
const REFRESH_AHEAD: Duration = Duration::from_secs(300);
/// Pages followed at most (EC2 answers one page without `MaxResults`; this bounds a loop).
const MAX_PAGES: usize = 20;

/// The error codes the SDK's standard retry mode retries (throttling and transient ones).
const RETRIED_CODES: [&str; 15] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "EC2ThrottledException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// The HTTP statuses the standard retry mode retries.
const RETRIED_STATUSES: [u16; 4] = [500, 502, 503, 504];

/// A client for `DescribeNetworkInterfaces`, built from the SDK's configuration.
#[derive(Debug, Clone)]
pub(crate) struct Ec2Client {
    http: std::result::Result<reqwest::Client, String>,
    /// `None`: the region gives no endpoint (said at the call, as the SDK does).
    endpoint: Option<String>,
    region: String,
    credentials: Option<SharedCredentialsProvider>,
    cached: Arc<Mutex<Option<Credentials>>>,
    retry: RetryConfig,
    timeouts: TimeoutConfig,
    /// The clock requests are signed and credentials judged by (the SDK's, when it has one).
    clock: Option<SharedTimeSource>,
}

/// What one attempt came to.
enum Attempt {
    /// Worth another attempt (throttled, transient, a timeout, no connection).
    Retry(Error),
    /// Final.
    Done(Result<Page>),
}

/// One page of the answer.
struct Page {
    interfaces: Vec<NetworkInterface>,
    next_token: Option<String>,
}

impl Ec2Client {
    /// A client on the configuration every SDK client of the platform shares.
    pub(crate) fn new(sdk: &SdkConfig) -> Self {
        let timeouts = sdk
            .timeout_config()
            .cloned()
            .unwrap_or_else(TimeoutConfig::disabled);
        let mut http = reqwest::Client::builder().user_agent(concat!(
            "grafana-ondemand-aws/",
            env!("CARGO_PKG_VERSION"),
            " api/ec2"
        ));
        if let Some(t) = timeouts.connect_timeout() {
            http = http.connect_timeout(t);
        }
        if let Some(t) = timeouts.read_timeout() {
            http = http.read_timeout(t);
        }
        Ec2Client {
            http: http
                .build()
                .map_err(|e| format!("the HTTP client could not be built: {e}")),
            endpoint: endpoint(sdk),
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            credentials: sdk.credentials_provider(),
            cached: Arc::default(),
            retry: sdk
                .retry_config()
                .cloned()
                .unwrap_or_else(RetryConfig::standard),
            timeouts,
            clock: sdk.time_source(),
        }
    }

    fn now(&self) -> SystemTime {
        self.clock
            .as_ref()
            .map(|t| t.now())
            .unwrap_or_else(SystemTime::now)
    }

    /// The interfaces among `ids` that still exist. By filter, not by id: EC2 fails a whole
    /// by-id call when one interface is gone (as a draining task's is); a filter leaves it out.
    pub(crate) async fn describe_network_interfaces(
        &self,
        ids: &[String],
        names: &Names,
    ) -> Result<Vec<NetworkInterface>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let all = async {
            let mut found = Vec::new();
            let mut token = None;
            for _ in 0..MAX_PAGES {
                let page = self.call(&form(ids, token.as_deref()), names).await?;
                found.extend(page.interfaces);
                match page.next_token {
                    Some(next) => token = Some(next),
                    None => return Ok(found),
                }
            }
            Ok(found)
        };
        match self.timeouts.operation_timeout() {
            Some(limit) => tokio::time::timeout(limit, all)
                .await
                .unwrap_or_else(|_| Err(timed_out(Some(limit)))),
            None => all.await,
        }
    }

    /// One page, with the standard mode's retries.
    async fn call(&self, body: &str, names: &Names) -> Result<Page> {
        let attempts = self.retry.max_attempts().max(1);
        let mut attempt = 1;
        loop {
            let error = match self.attempt(body, names).await {
                Attempt::Done(result) => return result,
                Attempt::Retry(error) => error,
            };
            if attempt >= attempts {
                return Err(error);
            }
            tracing::debug!(attempt, %error, "ec2:DescribeNetworkInterfaces again");
            tokio::time::sleep(self.backoff(attempt)).await;
            attempt += 1;
        }
    }

    /// The standard mode's backoff before attempt `attempt + 1`:
    /// `min(rand(0..1) × initial × 2^(attempt-1), max)`.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = if self.retry.use_static_exponential_base() {
            1.0
        } else {
            fastrand::f64()
        };
        let exponential = self
            .retry
            .initial_backoff()
            .mul_f64(base * 2f64.powi(attempt.saturating_sub(1).min(30) as i32));
        exponential.min(self.retry.max_backoff())
    }

    async fn attempt(&self, body: &str, names: &Names) -> Attempt {
        let request = match self.signed(body).await {
            Ok(request) => request,
            Err(e) => return Attempt::Done(Err(e)),
        };
        let sent = async {
            let answer = request.send().await?;
            let status = answer.status().as_u16();
            let text = answer.text().await?;
            Ok::<_, reqwest::Error>((status, text))
        };
        let answered = match self.timeouts.operation_attempt_timeout() {
            Some(limit) => match tokio::time::timeout(limit, sent).await {
                Ok(answered) => answered,
                Err(_) => return Attempt::Retry(timed_out(Some(limit))),
            },
            None => sent.await,
        };
        let (status, text) = match answered {
            Ok(answered) => answered,
            Err(e) if e.is_timeout() => return Attempt::Retry(timed_out(None)),
            Err(e) if no_such_host(&e) => return Attempt::Done(Err(no_endpoint(ACTION))),
            Err(e) => {
                return Attempt::Retry(Error::backend(
                    ACTION,
                    format!("no answer from EC2's endpoint: {}", e.without_url()),
                ));
            }
        };
        if (200..300).contains(&status) {
            return Attempt::Done(parse_page(&text).map_err(|e| {
                Error::backend(ACTION, format!("EC2's answer could not be read: {e}"))
            }));
        }
        let (code, message) = parse_error(&text);
        let error = by_code(
            code.as_deref(),
            message.as_deref(),
            Some(status),
            ACTION,
            names,
        )
        .unwrap_or_else(|| {
            Error::backend(
                ACTION,
                format!(
                    "EC2 answered {status} {}: {}",
                    code.as_deref().unwrap_or("without an error code"),
                    message.as_deref().unwrap_or("no message")
                ),
            )
        });
        let retried = RETRIED_STATUSES.contains(&status)
            || code.as_deref().is_some_and(|c| RETRIED_CODES.contains(&c));
        if retried {
            Attempt::Retry(error)
        } else {
            Attempt::Done(Err(error))
        }
    }

    /// The request, signed for now.
    async fn signed(&self, body: &str) -> Result<reqwest::RequestBuilder> {
        let http = self
            .http
            .as_ref()
            .map_err(|e| Error::backend(ACTION, e.clone()))?;
        let url = self.endpoint.clone().ok_or_else(|| no_endpoint(ACTION))?;
        let identity: Identity = self.credentials().await?.into();
        let now = self.now();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("ec2")
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| Error::backend(ACTION, format!("the request could not be signed: {e}")))?
            .into();
        const CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
        let headers = [("content-type", CONTENT_TYPE)];
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| no_endpoint_or(e.to_string()))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| Error::backend(ACTION, format!("the request could not be signed: {e}")))?
            .into_parts();
        let mut request = http
            .post(url.as_str())
            .header("content-type", CONTENT_TYPE)
            .body(body.to_owned());
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        Ok(request)
    }

    /// Credentials from the chain, reused until [`REFRESH_AHEAD`] before they expire.
    async fn credentials(&self) -> Result<Credentials> {
        let provider = self.credentials.as_ref().ok_or_else(no_credentials)?;
        let mut cached = self.cached.lock().await;
        let now = self.now();
        let fresh = |c: &Credentials| c.expiry().is_none_or(|at| at > now + REFRESH_AHEAD);
        if let Some(c) = cached.as_ref().filter(|c| fresh(c)) {
            return Ok(c.clone());
        }
        let loaded = provider.provide_credentials().await.map_err(|e| {
            tracing::debug!(error = %e, "no credentials for ec2:DescribeNetworkInterfaces");
            no_credentials()
        })?;
        *cached = Some(loaded.clone());
        Ok(loaded)
    }
}

/// A URL the signer cannot read is a bad endpoint setting.
fn no_endpoint_or(detail: String) -> Error {
    Error::invalid_config(
        "AWS endpoint",
        format!("`{ACTION}`'s endpoint is not a URL ({detail}): check AWS_ENDPOINT_URL"),
    )
}

fn timed_out(after: Option<Duration>) -> Error {
    Error::Timeout {
        action: ACTION.to_owned(),
        after,
    }
}

/// EC2's endpoint, resolved as `aws-sdk-ec2` resolves it; `None` for a malformed region.
fn endpoint(sdk: &SdkConfig) -> Option<String> {
    let configured = if sdk.get_origin("endpoint_url").is_client_config() {
        sdk.endpoint_url().map(str::to_owned)
    } else {
        let key = aws_types::service_config::ServiceConfigKey::builder()
            .service_id("EC2")
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .ok();
        key.and_then(|key| sdk.service_config()?.load_config(key))
            .or_else(|| sdk.endpoint_url().map(str::to_owned))
    };
    if configured.is_some() {
        return configured;
    }
    let region = sdk.region().map(|r| r.as_ref()).unwrap_or_default();
    // The SDK's rules: a region must be a valid host label.
    let valid = !region.is_empty()
        && region.len() <= 63
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    if !valid {
        return None;
    }
    let china = region.starts_with("cn-");
    let fips = sdk.use_fips().unwrap_or(false);
    let dual_stack = sdk.use_dual_stack().unwrap_or(false);
    let host = if fips { "ec2-fips" } else { "ec2" };
    let suffix = match (dual_stack, china) {
        (true, true) => "api.amazonwebservices.com.cn",
        (true, false) => "api.aws",
        (false, true) => "amazonaws.com.cn",
        (false, false) => "amazonaws.com",
    };
    Some(format!("https://{host}.{region}.{suffix}"))
}

/// The form `aws-sdk-ec2` sends: the ids as one filter's values.
fn form(ids: &[String], token: Option<&str>) -> String {
    let encode = |s: &str| percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string();
    let mut form = format!(
        "Action=DescribeNetworkInterfaces&Version={VERSION}&Filter.1.Name=network-interface-id"
    );
    for (n, id) in ids.iter().enumerate() {
        form.push_str(&format!("&Filter.1.Value.{}={}", n + 1, encode(id)));
    }
    if let Some(token) = token {
        form.push_str(&format!("&NextToken={}", encode(token)));
    }
    form
}

/// What the query protocol escapes: all but RFC 3986's unreserved characters.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A `DescribeNetworkInterfacesResponse`.
fn parse_page(xml: &str) -> std::result::Result<Page, XmlDecodeError> {
    let mut doc = Document::new(xml);
    let mut root = doc.root_element()?;
    if !root.start_el().matches("DescribeNetworkInterfacesResponse") {
        return Err(XmlDecodeError::custom(
            "not a DescribeNetworkInterfacesResponse",
        ));
    }
    let mut page = Page {
        interfaces: Vec::new(),
        next_token: None,
    };
    while let Some(mut tag) = root.next_tag() {
        if tag.start_el().matches("networkInterfaceSet") {
            while let Some(mut item) = tag.next_tag() {
                if item.start_el().matches("item") {
                    page.interfaces.push(interface(&mut item)?);
                }
            }
        } else if tag.start_el().matches("nextToken") {
            let token = try_data(&mut tag)?;
            page.next_token = Some(token.into_owned()).filter(|t| !t.is_empty());
        }
    }
    Ok(page)
}

/// One `<item>` of `networkInterfaceSet`.
fn interface(
    item: &mut ScopedDecoder<'_, '_>,
) -> std::result::Result<NetworkInterface, XmlDecodeError> {
    let mut n = NetworkInterface {
        id: String::new(),
        public_ip: None,
        private_ip: None,
        ipv6: None,
        public_dns_name: None,
    };
    while let Some(mut field) = item.next_tag() {
        let name = field.start_el().local().to_owned();
        match name.as_str() {
            "networkInterfaceId" => n.id = try_data(&mut field)?.into_owned(),
            "privateIpAddress" => n.private_ip = try_data(&mut field)?.parse().ok(),
            "association" => {
                while let Some(mut a) = field.next_tag() {
                    if a.start_el().matches("publicIp") {
                        n.public_ip = try_data(&mut a)?.parse().ok();
                    } else if a.start_el().matches("publicDnsName") {
                        n.public_dns_name =
                            Some(try_data(&mut a)?.into_owned()).filter(|d| !d.is_empty());
                    }
                }
            }
            "ipv6AddressesSet" => {
                while let Some(mut entry) = field.next_tag() {
                    while let Some(mut a) = entry.next_tag() {
                        if a.start_el().matches("ipv6Address") && n.ipv6.is_none() {
                            n.ipv6 = try_data(&mut a)?.parse().ok();
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(n)
}

/// `<Response><Errors><Error><Code>…</Code><Message>…</Message></Error></Errors>…`: the code
/// and message, or nothing when the answer is not that.
fn parse_error(xml: &str) -> (Option<String>, Option<String>) {
    let read = || -> std::result::Result<(Option<String>, Option<String>), XmlDecodeError> {
        let mut doc = Document::new(xml);
        let mut root = doc.root_element()?;
        let (mut code, mut message) = (None, None);
        while let Some(mut errors) = root.next_tag() {
            if !errors.start_el().matches("Errors") {
                continue;
            }
            while let Some(mut error) = errors.next_tag() {
                while let Some(mut field) = error.next_tag() {
                    if field.start_el().matches("Code") {
                        code = Some(try_data(&mut field)?.into_owned());
                    } else if field.start_el().matches("Message") {
                        message = Some(try_data(&mut field)?.into_owned());
                    }
                }
            }
        }
        Ok((code, message))
    };
    read().unwrap_or((None, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_is_the_sdks() {
        let ids = ["eni-1".to_owned(), "eni-2".to_owned()];
        assert_eq!(
            form(&ids, Some("a+b/c=")),
            "Action=DescribeNetworkInterfaces&Version=2016-11-15&Filter.1.Name=network-interface-id&Filter.1.Value.1=eni-1&Filter.1.Value.2=eni-2&NextToken=a%2Bb%2Fc%3D"
        );
    }

    #[test]
    fn an_answer_is_read_field_by_field() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeNetworkInterfacesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>1</requestId>
    <networkInterfaceSet>
        <item>
            <networkInterfaceId>eni-1</networkInterfaceId>
            <privateIpAddressesSet><item><privateIpAddress>10.0.0.9</privateIpAddress></item></privateIpAddressesSet>
            <privateIpAddress>10.0.0.5</privateIpAddress>
            <association><publicIp>203.0.113.7</publicIp><publicDnsName>ec2-203-0-113-7.eu-west-3.compute.amazonaws.com</publicDnsName></association>
            <ipv6AddressesSet><item><ipv6Address>2001:db8::1</ipv6Address><isPrimaryIpv6>false</isPrimaryIpv6></item></ipv6AddressesSet>
            <tagSet/>
        </item>
        <item>
            <networkInterfaceId>eni-2</networkInterfaceId>
            <association><publicIp>203.0.113.8</publicIp><publicDnsName></publicDnsName></association>
        </item>
    </networkInterfaceSet>
    <nextToken>next</nextToken>
</DescribeNetworkInterfacesResponse>"#;
        let page = parse_page(xml).unwrap();
        assert_eq!(page.next_token.as_deref(), Some("next"));
        let [one, two] = page.interfaces.as_slice() else {
            panic!("two interfaces: {:?}", page.interfaces);
        };
        assert_eq!(one.id, "eni-1");
        assert_eq!(one.private_ip, Some("10.0.0.5".parse().unwrap()));
        assert_eq!(one.public_ip, Some("203.0.113.7".parse().unwrap()));
        assert_eq!(one.ipv6, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(
            one.public_dns_name.as_deref(),
            Some("ec2-203-0-113-7.eu-west-3.compute.amazonaws.com")
        );
        assert_eq!(two.public_dns_name, None);
        assert_eq!(two.private_ip, None);
    }

    #[test]
    fn an_error_answer_gives_its_code_and_message() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized.</Message></Error></Errors><RequestID>1</RequestID></Response>";
        assert_eq!(
            parse_error(xml),
            (
                Some("UnauthorizedOperation".to_owned()),
                Some("You are not authorized.".to_owned())
            )
        );
        assert_eq!(parse_error("<html>busy</html>"), (None, None));
        assert!(parse_page("}}} not XML").is_err());
        assert!(parse_page(xml).is_err(), "an error is not an empty page");
    }

    #[test]
    fn the_regional_endpoint_is_the_sdks() {
        let at = |region: &str, fips: bool, dual: bool| {
            let sdk = SdkConfig::builder()
                .region(aws_config::Region::new(region.to_owned()))
                .use_fips(fips)
                .use_dual_stack(dual)
                .behavior_version(aws_config::BehaviorVersion::latest())
                .build();
            endpoint(&sdk)
        };
        assert_eq!(
            at("eu-west-3", false, false).unwrap(),
            "https://ec2.eu-west-3.amazonaws.com"
        );
        assert_eq!(
            at("cn-north-1", false, false).unwrap(),
            "https://ec2.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            at("us-east-1", true, false).unwrap(),
            "https://ec2-fips.us-east-1.amazonaws.com"
        );
        assert_eq!(
            at("eu-west-3", false, true).unwrap(),
            "https://ec2.eu-west-3.api.aws"
        );
        assert_eq!(at("eu west 3", false, false), None);
        assert_eq!(at("EU-WEST-3", false, false), None);
    }
}
