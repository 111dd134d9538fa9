//! A simulated API Gateway HTTP API: what stands between the front door and the controller's
//! Lambda on AWS, with AWS's rules rather than ours ("Working with routes for HTTP APIs",
//! "Working with AWS Lambda proxy integrations for HTTP APIs", API Gateway Developer Guide):
//!
//! - routes are `METHOD /path` keys (`ANY`, `{name}` for one segment, a last `{name+}` for
//!   one or more) or `$default`; the most specific match wins (a path without variables, then
//!   with, then greedy; a method over `ANY`); with no match API Gateway answers `404
//!   {"message":"Not Found"}` itself;
//! - a route with `AWS_IAM` authorization refuses an unsigned request (`403
//!   {"message":"Forbidden"}`); a signed one reaches the function with the caller in
//!   `requestContext.authorizer.iam` (the signature's bytes are not verified here);
//! - the function is invoked only when its resource policy allows the route's source ARN,
//!   `arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>` (`.../<stage>/$default`
//!   for the default route), matched as Lambda does (`StringLike`); a refused invoke is `500
//!   {"message":"Internal Server Error"}`, and so is a response API Gateway cannot read;
//! - the event is payload format 2.0 as API Gateway builds it (lower-case headers, repeated
//!   ones joined with commas, `cookies` apart, `rawPath` and `rawQueryString`); an integration
//!   that takes longer than its timeout (at most 29 s) is `503 {"message":"Service Unavailable"}`.
//!
//! Its routes, their authorization and the permission come from the module
//! ([`FrontDoorConfig`](super::FrontDoorConfig)), never from a copy written here.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// API Gateway's own limit on an integration.
pub const MAX_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);
/// The largest request payload an HTTP API takes.
const MAX_PAYLOAD: usize = 10 * 1024 * 1024;

/// A route's authorization, as `aws_apigatewayv2_route.authorization_type` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Authorization {
    /// Anyone.
    #[serde(rename = "NONE")]
    None,
    /// SigV4-signed requests only.
    #[serde(rename = "AWS_IAM")]
    AwsIam,
}

/// One route: its key and its authorization.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Route {
    /// `METHOD /path` or `$default`.
    pub route_key: String,
    /// Who may call it.
    pub authorization_type: Authorization,
}

/// An HTTP API as the module configures it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HttpApiConfig {
    /// The stage's name (`$default`).
    pub stage: String,
    /// The routes, all to the one Lambda integration.
    pub routes: Vec<Route>,
    /// The integration's payload format version (`2.0`).
    pub payload_format_version: String,
    /// The integration's timeout.
    pub timeout_milliseconds: u64,
    /// The `source_arn` of each Lambda permission for `apigateway.amazonaws.com`, with the
    /// API's execution ARN in place of `${execution_arn}`.
    pub permission_source_arns: Vec<String>,
}

/// The function behind the integration: takes API Gateway's event, gives its answer.
#[async_trait::async_trait]
pub trait LambdaFunction: Send + Sync + 'static {
    /// One invocation. An `Err` is the function's error (API Gateway answers 500).
    async fn invoke(&self, event: Value) -> Result<Value, String>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Variable(String),
    Greedy(String),
}

#[derive(Debug, Clone)]
struct ParsedRoute {
    route: Route,
    /// `None`: `ANY`.
    method: Option<Method>,
    /// `None`: `$default`.
    path: Option<(String, Vec<Segment>)>,
}

const METHODS: [&str; 8] = [
    "ANY", "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS",
];

fn parse_route(route: &Route) -> Result<ParsedRoute, String> {
    if route.route_key == "$default" {
        return Ok(ParsedRoute {
            route: route.clone(),
            method: None,
            path: None,
        });
    }
    let (method, path) = route.route_key.split_once(' ').ok_or(format!(
        "route key `{}`: `METHOD /path` or `$default`",
        route.route_key
    ))?;
    if !METHODS.contains(&method) {
        return Err(format!(
            "route key `{}`: no method {method}",
            route.route_key
        ));
    }
    if !path.starts_with('/') {
        return Err(format!(
            "route key `{}`: the path starts with /",
            route.route_key
        ));
    }
    let parts: Vec<&str> = path[1..].split('/').collect();
    let mut segments = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if name.ends_with('+') => {
                if i + 1 != parts.len() {
                    return Err(format!(
                        "route key `{}`: a greedy variable must be the last segment",
                        route.route_key
                    ));
                }
                Segment::Greedy(name.trim_end_matches('+').to_owned())
            }
            Some(name) if !name.is_empty() => Segment::Variable(name.to_owned()),
            _ => Segment::Literal((*part).to_owned()),
        };
        segments.push(segment);
    }
    let method = match method {
        "ANY" => None,
        m => Some(Method::from_bytes(m.as_bytes()).map_err(|e| e.to_string())?),
    };
    Ok(ParsedRoute {
        route: route.clone(),
        method,
        path: Some((path.to_owned(), segments)),
    })
}

/// How specifically a route matched (higher wins), and its path parameters.
type Match = ((u8, u8, usize), Map<String, Value>);

fn matches(route: &ParsedRoute, method: &Method, path: &str) -> Option<Match> {
    let (_, segments) = route.path.as_ref()?;
    if route.method.as_ref().is_some_and(|m| m != method) {
        return None;
    }
    let asked: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let mut params = Map::new();
    let mut kind = 3u8;
    let mut literals = 0usize;
    for (i, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Literal(l) => {
                if asked.get(i) != Some(&l.as_str()) {
                    return None;
                }
                literals += 1;
            }
            Segment::Variable(name) => {
                let value = asked.get(i).filter(|v| !v.is_empty())?;
                params.insert(name.clone(), json!(value));
                kind = kind.min(2);
            }
            Segment::Greedy(name) => {
                let rest = asked.get(i..).map(|r| r.join("/")).unwrap_or_default();
                if rest.is_empty() {
                    return None;
                }
                params.insert(name.clone(), json!(rest));
                return Some(((1, u8::from(route.method.is_some()), literals), params));
            }
        }
    }
    (asked.len() == segments.len())
        .then_some(((kind, u8::from(route.method.is_some()), literals), params))
}

/// Whether `pattern` (a permission's `source_arn`, with `*` and `?`) allows `arn`, as
/// Lambda's `StringLike` condition does.
pub fn source_arn_allows(pattern: &str, arn: &str) -> bool {
    fn like(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| like(rest, &s[i..])),
            Some((b'?', rest)) => !s.is_empty() && like(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && like(rest, &s[1..]),
        }
    }
    like(pattern.as_bytes(), arn.as_bytes())
}

/// A running HTTP API in front of one function.
pub struct HttpApi {
    config: HttpApiConfig,
    routes: Vec<ParsedRoute>,
    execution_arn: String,
    domain: String,
    function: Arc<dyn LambdaFunction>,
    invocations: AtomicU64,
    requests: AtomicU64,
}

impl std::fmt::Debug for HttpApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpApi")
            .field("domain", &self.domain)
            .field("routes", &self.config.routes)
            .finish_non_exhaustive()
    }
}

fn gateway_answer(status: StatusCode, message: &str) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(json!({ "message": message }).to_string()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert("apigw-requestid", HeaderValue::from_static("simulated"));
    r
}

impl HttpApi {
    /// An API with `config`, known as `execution_arn` (`arn:aws:execute-api:<region>:<account>:<id>`)
    /// at `domain`, invoking `function`. Refused when a route key or the timeout is one API
    /// Gateway would refuse.
    pub fn new(
        config: HttpApiConfig,
        execution_arn: &str,
        domain: &str,
        function: Arc<dyn LambdaFunction>,
    ) -> Result<Arc<HttpApi>, String> {
        let routes = config
            .routes
            .iter()
            .map(parse_route)
            .collect::<Result<Vec<_>, _>>()?;
        if config.timeout_milliseconds < 50
            || Duration::from_millis(config.timeout_milliseconds) > MAX_INTEGRATION_TIMEOUT
        {
            return Err(format!(
                "an integration timeout of {} ms: from 50 to 29,000",
                config.timeout_milliseconds
            ));
        }
        if config.payload_format_version != "2.0" {
            return Err(format!(
                "payload format {}: the controller reads 2.0 events",
                config.payload_format_version
            ));
        }
        Ok(Arc::new(HttpApi {
            config,
            routes,
            execution_arn: execution_arn.to_owned(),
            domain: domain.to_owned(),
            function,
            invocations: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }))
    }

    /// How many times the function was invoked.
    pub fn invocations(&self) -> u64 {
        self.invocations.load(Ordering::SeqCst)
    }

    /// The API's own domain (`<id>.execute-api.<region>.amazonaws.com`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The route a request selects, as API Gateway selects it.
    fn select(&self, method: &Method, path: &str) -> Option<(&ParsedRoute, Map<String, Value>)> {
        let mut best: Option<(&ParsedRoute, Match)> = None;
        for route in &self.routes {
            if let Some(m) = matches(route, method, path)
                && best.as_ref().is_none_or(|(_, b)| m.0 > b.0)
            {
                best = Some((route, m));
            }
        }
        match best {
            Some((route, (_, params))) => Some((route, params)),
            None => self
                .routes
                .iter()
                .find(|r| r.path.is_none())
                .map(|r| (r, Map::new())),
        }
    }

    /// The source ARN API Gateway invokes the function with for `route`.
    fn source_arn(&self, route: &ParsedRoute) -> String {
        let stage = &self.config.stage;
        match &route.path {
            None => format!("{}/{stage}/$default", self.execution_arn),
            Some((path, _)) => {
                let method = route.method.as_ref().map_or("ANY", Method::as_str);
                format!("{}/{stage}/{method}{path}", self.execution_arn)
            }
        }
    }

    /// Answers one request as API Gateway would; `source_ip` is the caller's address.
    pub async fn handle(&self, request: Request<Bytes>, source_ip: &str) -> Response<Bytes> {
        let serial = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let (parts, body) = request.into_parts();
        let path = parts.uri.path().to_owned();
        let Some((route, params)) = self.select(&parts.method, &path) else {
            return gateway_answer(StatusCode::NOT_FOUND, "Not Found");
        };
        let signed = signer(&parts.headers);
        if route.route.authorization_type == Authorization::AwsIam && signed.is_none() {
            return gateway_answer(StatusCode::FORBIDDEN, "Forbidden");
        }
        let source_arn = self.source_arn(route);
        if !self
            .config
            .permission_source_arns
            .iter()
            .any(|p| source_arn_allows(p, &source_arn))
        {
            tracing::debug!(%source_arn, "the function's policy does not allow API Gateway");
            return gateway_answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
        let signer = signed.filter(|_| route.route.authorization_type == Authorization::AwsIam);
        let event = self.event(
            &route.route,
            &parts,
            &body,
            params,
            source_ip,
            serial,
            signer,
        );
        self.invocations.fetch_add(1, Ordering::SeqCst);
        let timeout = Duration::from_millis(self.config.timeout_milliseconds);
        match tokio::time::timeout(timeout, self.function.invoke(event)).await {
            Err(_) => gateway_answer(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
            Ok(Err(why)) => {
                tracing::debug!(%why, "the function failed");
                gateway_answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
            Ok(Ok(answer)) => response_of(&answer).unwrap_or_else(|why| {
                tracing::debug!(%why, "API Gateway cannot read the function's answer");
                gateway_answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }),
        }
    }

    /// The payload format 2.0 event for a request that selected `route`.
    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        route: &Route,
        parts: &axum::http::request::Parts,
        body: &Bytes,
        params: Map<String, Value>,
        source_ip: &str,
        serial: u64,
        signer: Option<String>,
    ) -> Value {
        let mut headers = Map::new();
        let mut cookies = Vec::new();
        for name in parts.headers.keys() {
            let values: Vec<&str> = parts
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            if name == "cookie" {
                cookies.extend(
                    values
                        .iter()
                        .flat_map(|v| v.split(';'))
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                );
                continue;
            }
            headers.insert(name.as_str().to_owned(), json!(values.join(",")));
        }
        headers.insert("x-forwarded-for".into(), json!(source_ip));
        headers.insert("x-forwarded-port".into(), json!("443"));
        headers.insert("x-forwarded-proto".into(), json!("https"));
        headers.insert(
            "x-amzn-trace-id".into(),
            json!(format!("Root=1-00000000-{serial:024x}")),
        );
        let raw_query = parts.uri.query().unwrap_or_default();
        let mut query = Map::new();
        for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match query.get_mut(k) {
                Some(Value::String(existing)) => {
                    existing.push(',');
                    existing.push_str(v);
                }
                _ => {
                    query.insert(k.to_owned(), json!(v));
                }
            }
        }
        let (account, api_id) = self.arn_parts();
        let now = chrono::Utc::now();
        let mut context = json!({
            "accountId": account,
            "apiId": api_id,
            "domainName": self.domain,
            "domainPrefix": api_id,
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": parts.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default(),
            },
            "requestId": format!("Sim{serial:013}="),
            "routeKey": route.route_key,
            "stage": self.config.stage,
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.timestamp_millis(),
        });
        if let Some(access_key) = signer {
            context["authorizer"] = json!({ "iam": {
                "accessKey": access_key,
                "accountId": account,
                "callerId": "AIDASIMULATED",
                "principalOrgId": null,
                "userArn": format!("arn:aws:iam::{account}:user/signed"),
                "userId": "AIDASIMULATED",
            }});
        }
        let mut event = json!({
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": parts.uri.path(),
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": false,
        });
        if !cookies.is_empty() {
            event["cookies"] = json!(cookies);
        }
        if !query.is_empty() {
            event["queryStringParameters"] = Value::Object(query);
        }
        if !params.is_empty() {
            event["pathParameters"] = Value::Object(params);
        }
        if !body.is_empty() {
            match std::str::from_utf8(body) {
                Ok(text) => event["body"] = json!(text),
                Err(_) => {
                    use base64::Engine;
                    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
                    event["isBase64Encoded"] = json!(true);
                }
            }
        }
        event
    }

    /// The account and API id of the execution ARN.
    fn arn_parts(&self) -> (&str, &str) {
        let fields: Vec<&str> = self.execution_arn.split(':').collect();
        match fields.as_slice() {
            [_, _, _, _, account, api_id] => (account, api_id),
            _ => ("123456789012", "simulated"),
        }
    }

    /// Serves the API over plain HTTP on `listener` (API Gateway's TLS is not simulated).
    pub fn spawn(
        self: &Arc<Self>,
        listener: tokio::net::TcpListener,
    ) -> tokio::task::JoinHandle<()> {
        let api = self.clone();
        let app = axum::Router::new().fallback(
            move |axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<
                std::net::SocketAddr,
            >,
                  request: axum::extract::Request| {
                let api = api.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let Ok(body) = axum::body::to_bytes(body, MAX_PAYLOAD).await else {
                        let r = gateway_answer(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "Request Entity Too Large",
                        );
                        return r.map(axum::body::Body::from);
                    };
                    api.handle(Request::from_parts(parts, body), &peer.ip().to_string())
                        .await
                        .map(axum::body::Body::from)
                }
            },
        );
        tokio::spawn(async move {
            let served = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "the simulated API Gateway stopped");
            }
        })
    }
}

/// The access key of a SigV4 `Authorization` header, if the request carries one.
fn signer(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ")?;
    if !rest.contains("Signature=") || !rest.contains("SignedHeaders=") {
        return None;
    }
    let credential = rest
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("Credential="))?;
    Some(credential.split('/').next()?.to_owned())
}

/// The HTTP answer for a payload format 2.0 response: `statusCode`, `headers`, `cookies`,
/// `body`, `isBase64Encoded`; an answer without `statusCode` is a 200 with the answer as its
/// JSON body, as API Gateway reads it.
fn response_of(answer: &Value) -> Result<Response<Bytes>, String> {
    let Some(fields) = answer.as_object().filter(|o| o.contains_key("statusCode")) else {
        let mut r = Response::new(Bytes::from(answer.to_string()));
        r.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        return Ok(r);
    };
    let status = fields["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or("statusCode is not an HTTP status")?;
    let body = match fields.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) if fields.get("isBase64Encoded") == Some(&json!(true)) => {
            use base64::Engine;
            Bytes::from(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| e.to_string())?,
            )
        }
        Some(Value::String(text)) => Bytes::from(text.clone()),
        Some(other) => return Err(format!("body is not a string: {other}")),
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    if let Some(headers) = fields.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            let value = value
                .as_str()
                .ok_or(format!("header {name} is not a string"))?;
            let name =
                axum::http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            r.headers_mut().insert(
                name,
                HeaderValue::from_str(value).map_err(|e| e.to_string())?,
            );
        }
    }
    if let Some(cookies) = fields.get("cookies").and_then(Value::as_array) {
        for cookie in cookies.iter().filter_map(Value::as_str) {
            r.headers_mut().append(
                "set-cookie",
                HeaderValue::from_str(cookie).map_err(|e| e.to_string())?,
            );
        }
    }
    Ok(r)
}
