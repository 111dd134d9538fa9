//! The HTTP contract every frontend speaks, once: parse, authorize, call, render.
//!
//! `POST {"action": "start" | "stop" | "status" | "extend" | "reap", "wait": seconds,
//! "for": "2h"}` answered with the [`Status`] JSON; `GET …/api/status` for the status alone;
//! `GET` anything else for the control page; `OPTIONS` for CORS preflight. The Lambda and the
//! web server both hand their requests to [`Api::handle`].
//!
//! Through the front door ([`Api::through_door`]: requests that carry [`DOOR_HEADER`] with the
//! door's secret, which the CloudFront distribution adds to what it sends the controller,
//! whatever their `Host`, which the door sets to the API's own), a person's navigation to any
//! path gets the wake page, which wakes Grafana only when its button is pressed and then sends
//! the browser on; the contract lives under [`NAME_API`]; any other request (an open Grafana
//! tab's refreshes, a monitor, when the door's edge sends one here at all) is answered 503
//! with `Retry-After`, and nothing is started. Every answer there carries the [`MARKER`]
//! header, so the page can tell the controller from Grafana.

use crate::{Error, ServiceController, State, Status, wait_for};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, timeout_at};

/// The largest body accepted.
pub const MAX_BODY: usize = 4096;
/// The longest `wait` a request may ask for: API Gateway cuts integrations at 29 s.
pub const MAX_WAIT: Duration = Duration::from_secs(25);
/// How long an answer may take unless the host says otherwise: under API Gateway's 29 s.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(28);
/// The longest lease one request may ask for (the session limit still applies).
pub const MAX_LEASE: Duration = Duration::from_secs(7 * 86_400);
/// What `extend` adds when the request does not say.
pub const DEFAULT_EXTENSION: Duration = Duration::from_secs(3600);
/// Kept back from a wait for the status read that ends it and for the answer itself.
const WAIT_RESERVE: Duration = Duration::from_secs(3);
/// The control page, one HTML file with plain JavaScript; the wake page is the same file in
/// its `wake` mode.
pub const PAGE: &str = include_str!("page.html");
/// Where the contract lives at the front door: a path Grafana never serves.
pub const NAME_API: &str = "/_ondemand";
/// The header on every answer the controller gives at the public name (Grafana's answers
/// have none): how the wake page knows the name leads to Grafana at last.
pub const MARKER: &str = "x-grafana-ondemand";
/// The header the front door adds to every request it sends the controller, with a secret
/// only the door and the controller know: how the controller knows a request came through
/// the door (never by `Host`). Removed on entry, never logged.
pub const DOOR_HEADER: &str = "x-grafana-ondemand-door";
/// The cookie that keeps the access token at the name or the door, where Grafana's scripts
/// cannot read it (`HttpOnly`, only sent to [`NAME_API`]).
pub const TOKEN_COOKIE: &str = "grafana-ondemand-token";
/// How long the browser keeps it: 30 days.
const TOKEN_COOKIE_MAX_AGE: u32 = 30 * 86_400;
/// How long a client at the sleeping name is told to wait before it tries again.
const ASLEEP_RETRY_AFTER: &str = "30";

/// Who may do what.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// When set, every action but `status` needs `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// When true (and a token is set), `status` needs it too.
    pub protect_status: bool,
    /// Origins allowed by CORS; `*` allows all. Empty: no CORS headers at all.
    pub allowed_origins: Vec<String>,
    /// Requests are signed, and API Gateway checks the signatures (`API_AUTH=iam`): every
    /// action but `status` is taken only from a request that carries [`Signed`] (the Lambda
    /// marks those API Gateway authorized), never from one on an unsigned route such as the
    /// public name's.
    pub signed_only: bool,
}

/// The mark a frontend puts in a request's extensions when the gateway in front of it
/// checked the request's signature (API Gateway's IAM authorizer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signed;

impl Access {
    /// From `ACCESS_TOKEN` (the token itself, when not read from a secret by the caller),
    /// `PROTECT_STATUS` (`true`/`false`) and `ALLOWED_ORIGINS` (comma-separated). Without a
    /// token every origin is allowed by default; with one, none unless listed.
    pub fn from_env(token: Option<String>) -> crate::Result<Self> {
        let var = crate::setting;
        let token = token.or_else(|| var("ACCESS_TOKEN"));
        if token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(Error::invalid_config(
                "ACCESS_TOKEN",
                "is shorter than 16 characters: use a long random token",
            ));
        }
        let protect_status = match var("PROTECT_STATUS").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(Error::invalid_config(
                    "PROTECT_STATUS",
                    format!("`{other}` is not true or false"),
                ));
            }
        };
        let signed_only = match var("API_AUTH").as_deref() {
            None | Some("token") => false,
            Some("iam") => true,
            Some(other) => {
                return Err(Error::invalid_config(
                    "API_AUTH",
                    format!("`{other}` is not token or iam"),
                ));
            }
        };
        let allowed_origins = match var("ALLOWED_ORIGINS") {
            Some(list) => list
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            None if token.is_none() => vec!["*".into()],
            None => Vec::new(),
        };
        Ok(Access {
            token,
            protect_status,
            allowed_origins,
            signed_only,
        })
    }
}

/// The action a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Scale to one task (kept at least for the lease, when given).
    Start,
    /// Keep a running service longer.
    Extend,
    /// Scale to zero.
    Stop,
    /// Report.
    Status,
    /// Stop it if its session policy says so (what the schedule calls every minute).
    Reap,
}

impl Action {
    /// The action's name in the contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Extend => "extend",
            Action::Stop => "stop",
            Action::Status => "status",
            Action::Reap => "reap",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    wait: Option<f64>,
    #[serde(default, rename = "for")]
    lease: Option<String>,
}

/// A parsed request: what to do, and how long the caller is willing to wait.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Command {
    /// What to do.
    pub action: Action,
    /// How long to wait for the target state (start: Running, stop: Stopped); zero: answer at once.
    pub wait: Duration,
    /// `for`: the lease a start asks for, or what an extend adds.
    pub lease: Option<Duration>,
}

/// A request the API refuses, with the status code and a message saying what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: StatusCode,
    /// What was wrong and what to do.
    pub message: String,
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

/// The actions the contract takes, as every error that lists them says them.
pub const ACTIONS: &str = "start, stop, status, extend, reap";

/// Parses a POST body: empty means `status`; a missing action means `status`.
pub fn parse(body: &[u8]) -> Result<Command, Refusal> {
    if body.len() > MAX_BODY {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over {MAX_BODY} bytes: send {{\"action\": \"start\"}}"),
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Command {
            action: Action::Status,
            wait: Duration::ZERO,
            lease: None,
        });
    }
    let parsed: Body = serde_json::from_slice(body).map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            format!("the body is not the expected JSON ({e}): send {{\"action\": \"<action>\"}} with one of the actions: {ACTIONS} (start and extend take \"for\": \"1h\")"),
        )
    })?;
    let action = match parsed.action.as_deref().map(str::trim) {
        None | Some("status") => Action::Status,
        Some("start") => Action::Start,
        Some("stop") => Action::Stop,
        Some("extend") => Action::Extend,
        Some("reap") => Action::Reap,
        Some(other) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!("unknown action `{other}`: valid actions are {ACTIONS}"),
            ));
        }
    };
    let lease = match parsed.lease.as_deref() {
        None => None,
        Some(_) if !matches!(action, Action::Start | Action::Extend) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "`for` goes with start or extend only",
            ));
        }
        Some(text) => match crate::parse_duration(text) {
            Ok(d) if d.is_zero() || d > MAX_LEASE => {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "`for` must be more than 0 and at most 7d, such as \"2h\"",
                ));
            }
            Ok(d) => Some(d),
            Err(e) => return Err(refuse(StatusCode::BAD_REQUEST, format!("`for`: {e}"))),
        },
    };
    let wait = match parsed.wait {
        None => Duration::ZERO,
        // Capped before it becomes a Duration: 1e308 seconds is no Duration at all.
        Some(w) if w.is_finite() && w >= 0.0 => {
            Duration::from_secs_f64(w.min(MAX_WAIT.as_secs_f64()))
        }
        Some(_) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "`wait` must be a number of seconds from 0 to 25",
            ));
        }
    };
    Ok(Command {
        action,
        wait,
        lease,
    })
}

/// The HTTP status and a message safe to show a client, for an error. The full error goes
/// to the logs, never to the client.
pub fn error_response(e: &Error) -> Refusal {
    match e {
        Error::ServiceNotFound { .. } | Error::ClusterNotFound { .. } => {
            refuse(StatusCode::NOT_FOUND, e.to_string())
        }
        Error::PermissionDenied { action } => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the controller may not call {action}: ask the operator to grant it"),
        ),
        Error::Throttled { .. } => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "AWS is throttling requests: try again in a few seconds",
        ),
        Error::Unavailable { .. } => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "AWS could not answer right now: try again in a few seconds",
        ),
        Error::Timeout { .. } => refuse(
            StatusCode::GATEWAY_TIMEOUT,
            "AWS did not answer in time: try again",
        ),
        Error::NotRunning { .. } => refuse(
            StatusCode::CONFLICT,
            format!("{e}: POST {{\"action\": \"start\", \"for\": \"1h\"}}"),
        ),
        Error::Restoring { .. } => refuse(StatusCode::CONFLICT, e.to_string()),
        Error::InvalidConfig { setting, .. } => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "the controller is misconfigured ({setting}): ask the operator to check its logs"
            ),
        ),
        _ => refuse(
            StatusCode::BAD_GATEWAY,
            "AWS answered with an error: try again, or ask the operator to check the logs",
        ),
    }
}

/// The front door's secret: `given` (the Lambda reads it from the SSM parameter
/// `DOOR_SECRET_PARAMETER` names), else `DOOR_SECRET`; none when neither is set. At least 16
/// characters.
pub fn door_secret(given: Option<String>) -> crate::Result<Option<String>> {
    let secret = given.or_else(|| crate::setting("DOOR_SECRET"));
    if secret.as_ref().is_some_and(|s| s.len() < 16) {
        return Err(Error::invalid_config(
            "DOOR_SECRET",
            "is shorter than 16 characters: use a long random secret, the one the door sends",
        ));
    }
    Ok(secret)
}

/// The HTTP API over one controller.
#[derive(Clone)]
pub struct Api {
    controller: Arc<dyn ServiceController>,
    access: Access,
    page: Arc<str>,
    site: Option<DoorSite>,
    door: Option<String>,
}

/// The front door, while it leads to the controller: its wake page.
#[derive(Clone)]
struct DoorSite {
    page: Arc<str>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("token", &self.access.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Api {
    /// An API over `controller` with these access rules.
    pub fn new(controller: Arc<dyn ServiceController>, access: Access) -> Self {
        Api {
            controller,
            access,
            page: PAGE.into(),
            site: None,
            door: None,
        }
    }

    /// Shows `notice` at the top of the control page and of the wake page (such as
    /// "simulated backend").
    pub fn with_notice(mut self, notice: &str) -> Self {
        let shown = |page: &str| -> Arc<str> {
            page.replace(
                "<!--NOTICE-->",
                &format!("<p id=notice>{}</p>", escape(notice)),
            )
            .into()
        };
        self.page = shown(&self.page);
        if let Some(site) = &mut self.site {
            site.page = shown(&site.page);
        }
        self
    }

    /// Serves the wake page and the contract under [`NAME_API`] to requests that came
    /// through the front door: those carrying [`DOOR_HEADER`] with `secret`, whatever their
    /// `Host`. Without it a request is a direct call to the contract, as before.
    pub fn through_door(mut self, secret: &str, policy: &crate::SessionPolicy) -> Self {
        self.site = Some(DoorSite {
            page: self.wake_page(policy),
        });
        self.door = Some(secret.to_owned());
        self
    }

    fn wake_page(&self, policy: &crate::SessionPolicy) -> Arc<str> {
        let mode = if self.access.signed_only {
            r#"data-mode="wake" data-signed-only="true""#
        } else {
            r#"data-mode="wake""#
        };
        self.page
            .replace(r#"data-mode="control""#, mode)
            .replace("<!--RULES-->", &escape(&policy.describe()))
            .into()
    }

    /// The controller behind the API.
    pub fn controller(&self) -> &Arc<dyn ServiceController> {
        &self.controller
    }

    /// Why `parts` may not ask for `action`, if it may not: the status code and what to do.
    fn refusal(&self, parts: &http::request::Parts, action: Action) -> Option<Refusal> {
        if self.access.signed_only
            && action != Action::Status
            && parts.extensions.get::<Signed>().is_none()
        {
            return Some(refuse(
                StatusCode::FORBIDDEN,
                "this API takes signed requests only (api_auth = iam): send it a SigV4-signed request, or use the CLI with AWS credentials",
            ));
        }
        (!self.has_token(&parts.headers, action)).then(|| {
            refuse(
                StatusCode::UNAUTHORIZED,
                "this action needs the access token: send Authorization: Bearer <token>",
            )
        })
    }

    fn has_token(&self, headers: &HeaderMap, action: Action) -> bool {
        let Some(token) = &self.access.token else {
            return true;
        };
        if action == Action::Status && !self.access.protect_status {
            return true;
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        subtle::ConstantTimeEq::ct_eq(given.as_bytes(), token.as_bytes()).into()
    }

    fn cors(&self, request: &HeaderMap, response: &mut HeaderMap) {
        let origins = &self.access.allowed_origins;
        let allow = if origins.iter().any(|o| o == "*") {
            Some(HeaderValue::from_static("*"))
        } else {
            request
                .get(header::ORIGIN)
                .filter(|o| origins.iter().any(|a| o.as_bytes() == a.as_bytes()))
                .cloned()
        };
        if let Some(origin) = allow {
            response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            response.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Content-Type, Authorization"),
            );
            response.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            );
            response.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
    }

    /// Answers one request within [`DEFAULT_BUDGET`] (a host with no deadline of its own).
    pub async fn handle(&self, request: Request<Bytes>) -> Response<String> {
        self.handle_within(request, DEFAULT_BUDGET).await
    }

    /// Answers one request within `budget` (a Lambda passes what its invocation has left):
    /// every call and wait is bounded by it, whatever AWS does.
    pub async fn handle_within(
        &self,
        request: Request<Bytes>,
        budget: Duration,
    ) -> Response<String> {
        let deadline = Instant::now() + budget;
        let (mut parts, body) = request.into_parts();
        // At the public name, Grafana's own cookies (its session) come along: never read,
        // logged or kept.
        let kept = cookie(&parts.headers, TOKEN_COOKIE);
        parts.headers.remove(header::COOKIE);
        let door = parts.headers.remove(DOOR_HEADER);
        let through_door = match (&self.door, &door) {
            (Some(secret), Some(given)) => {
                subtle::ConstantTimeEq::ct_eq(given.as_bytes(), secret.as_bytes()).into()
            }
            _ => false,
        };
        if let Some(site) = self.site.as_ref().filter(|_| through_door) {
            return self.at_site(site, parts, &body, deadline, kept).await;
        }
        let mut response = self
            .route(&parts, parts.uri.path(), &body, deadline, &self.page)
            .await;
        self.cors(&parts.headers, response.headers_mut());
        response
    }

    /// A request at the name or through the door, with the token kept in its cookie: the
    /// token goes in the cookie (`HttpOnly`, sent only to [`NAME_API`]) once a request gives
    /// it in its `Authorization` header, and comes from there when a request to [`NAME_API`]
    /// has no header of its own. The wake page's scripts, at Grafana's origin, never hold it.
    async fn at_site(
        &self,
        site: &DoorSite,
        mut parts: http::request::Parts,
        body: &[u8],
        deadline: Instant,
        kept: Option<String>,
    ) -> Response<String> {
        let path = parts.uri.path();
        let ours = path
            .strip_prefix(NAME_API)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        let given = parts.headers.contains_key(header::AUTHORIZATION);
        if let (true, false, Some(kept)) = (ours, given, kept)
            && let Ok(value) = HeaderValue::from_str(&format!("Bearer {kept}"))
        {
            parts.headers.insert(header::AUTHORIZATION, value);
        }
        let mut response = self.at_door(site, &parts, body, deadline).await;
        let valid = self.access.token.as_deref().filter(|token| {
            ours && given && self.has_token(&parts.headers, Action::Start) && cookie_safe(token)
        });
        if let Some(token) = valid {
            let cookie = format!(
                "{TOKEN_COOKIE}={token}; Path={NAME_API}; Max-Age={TOKEN_COOKIE_MAX_AGE}; HttpOnly; Secure; SameSite=Strict"
            );
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
        }
        response
    }

    /// A request through the door: the contract under [`NAME_API`], the wake page for a
    /// person's navigation to any other path, and 503 for anything else (never a start).
    async fn at_door(
        &self,
        site: &DoorSite,
        parts: &http::request::Parts,
        body: &[u8],
        deadline: Instant,
    ) -> Response<String> {
        let path = parts.uri.path();
        let mut response = match path.strip_prefix(NAME_API) {
            // Only the documented paths: the page and the contract, and its status.
            Some("" | "/") => self.route(parts, "/", body, deadline, &site.page).await,
            Some("/api/status" | "/api/status/")
                if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) =>
            {
                self.route(parts, "/api/status", body, deadline, &site.page)
                    .await
            }
            Some("/api/status" | "/api/status/") => {
                let mut r = refused(&refuse(
                    StatusCode::METHOD_NOT_ALLOWED,
                    format!(
                        "{} is not supported on {NAME_API}/api/status: GET it; POST {{\"action\": ...}} to {NAME_API}",
                        parts.method
                    ),
                ));
                r.headers_mut().insert(
                    header::ALLOW,
                    HeaderValue::from_static("GET, HEAD, OPTIONS"),
                );
                r
            }
            Some(rest) if rest.starts_with('/') => refused(&refuse(
                StatusCode::NOT_FOUND,
                format!(
                    "no such path: {NAME_API}{rest}. The contract is POST {NAME_API} (the page: GET {NAME_API}), its status GET {NAME_API}/api/status"
                ),
            )),
            _ if is_navigation(&parts.method, &parts.headers) => html(&site.page),
            _ => {
                let mut r = refused(&refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Grafana is not answering here right now (asleep, or waking up): open it in a browser to wake it".to_owned(),
                ));
                r.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(ASLEEP_RETRY_AFTER),
                );
                r
            }
        };
        let headers = response.headers_mut();
        headers.insert(MARKER, HeaderValue::from_static("controller"));
        response
    }

    /// `parts` asked of `path` (the request's, or what follows [`NAME_API`] at the name), with
    /// `page` for a `GET`.
    async fn route(
        &self,
        parts: &http::request::Parts,
        path: &str,
        body: &[u8],
        deadline: Instant,
        page: &str,
    ) -> Response<String> {
        let method = &parts.method;
        match *method {
            Method::OPTIONS => respond(StatusCode::NO_CONTENT, String::new(), None),
            Method::GET | Method::HEAD if path.trim_end_matches('/').ends_with("/api/status") => {
                self.act(
                    parts,
                    Command {
                        action: Action::Status,
                        wait: Duration::ZERO,
                        lease: None,
                    },
                    deadline,
                )
                .await
            }
            Method::GET | Method::HEAD => html(page),
            Method::POST => match parse(body) {
                Ok(command) => self.act(parts, command, deadline).await,
                Err(refusal) => refused(&refusal),
            },
            _ => {
                let mut r = refused(&refuse(
                    StatusCode::METHOD_NOT_ALLOWED,
                    format!("{method} is not supported: POST {{\"action\": ...}}, or GET the page"),
                ));
                r.headers_mut().insert(
                    header::ALLOW,
                    HeaderValue::from_static("GET, POST, OPTIONS"),
                );
                r
            }
        }
    }

    async fn act(
        &self,
        parts: &http::request::Parts,
        command: Command,
        deadline: Instant,
    ) -> Response<String> {
        if let Some(refusal) = self.refusal(parts, command.action) {
            let mut r = refused(&refusal);
            if refusal.status == StatusCode::UNAUTHORIZED {
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            return r;
        }
        let result = self.run(command, deadline).await;
        match result {
            Ok(status) => {
                // Reads are frequent and billed per line on Lambda: actions alone at info.
                if command.action == Action::Status {
                    tracing::debug!(state = %status.state, "answered");
                } else {
                    tracing::info!(action = command.action.as_str(), state = %status.state, "answered");
                }
                let code = match (command.action, status.state) {
                    (Action::Start, State::Starting) => StatusCode::ACCEPTED,
                    _ => StatusCode::OK,
                };
                render(code, &status)
            }
            Err(e) => {
                tracing::error!(action = command.action.as_str(), error = %e, detail = ?e, "the action failed");
                refused(&error_response(&e))
            }
        }
    }
}

impl Api {
    /// Carries out a command, never past `deadline`: the action is cut off there, and a wait
    /// ends early enough to answer with the last status seen.
    async fn run(&self, command: Command, deadline: Instant) -> crate::Result<Status> {
        let c = self.controller.as_ref();
        let out_of_time = || Error::Timeout {
            action: command.action.as_str().into(),
            after: None,
        };
        let (first, target) = match command.action {
            Action::Status => (timeout_at(deadline, c.status()).await, None),
            Action::Reap => (timeout_at(deadline, c.reap()).await, None),
            Action::Extend => (
                timeout_at(
                    deadline,
                    c.extend(command.lease.unwrap_or(DEFAULT_EXTENSION)),
                )
                .await,
                None,
            ),
            Action::Start => (
                timeout_at(deadline, c.start(command.lease)).await,
                Some((State::Starting, State::Running)),
            ),
            Action::Stop => (
                timeout_at(deadline, c.stop()).await,
                Some((State::Stopping, State::Stopped)),
            ),
        };
        let status = first.map_err(|_| out_of_time())??;
        let Some((on_its_way, target)) = target else {
            return Ok(status);
        };
        let left = deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(WAIT_RESERVE);
        let wait = command.wait.min(left);
        if wait.is_zero() || status.state != on_its_way {
            return Ok(status);
        }
        match timeout_at(deadline, wait_for(c, target, wait)).await {
            Ok(waited) => waited,
            // The last read ran long: answer with what the action saw, in time.
            Err(_) => Ok(status),
        }
    }
}

/// A person's browser opening a page: a navigation by Fetch Metadata (`Sec-Fetch-Mode:
/// navigate`); without Fetch Metadata (an older browser, a link preview), a `GET` that asks
/// for HTML. A script's request (`cors`, `same-origin`, `no-cors`) never is.
fn is_navigation(method: &Method, headers: &HeaderMap) -> bool {
    if !matches!(*method, Method::GET | Method::HEAD) {
        return false;
    }
    match headers.get("sec-fetch-mode") {
        Some(mode) => mode.as_bytes() == b"navigate",
        None => headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/html")),
    }
}

/// The value of the cookie `name` in a request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether `value` may stand in a cookie as it is (RFC 6265's cookie-octet).
fn cookie_safe(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b';' | b'\\'))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn respond(code: StatusCode, body: String, content_type: Option<&'static str>) -> Response<String> {
    let mut r = Response::new(body);
    *r.status_mut() = code;
    if let Some(ct) = content_type {
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A page: never framed by another site, where a hidden frame could make a visitor press its
/// buttons (the wake page's token stays in the browser once given).
fn html(page: &str) -> Response<String> {
    let mut r = respond(
        StatusCode::OK,
        page.to_owned(),
        Some("text/html; charset=utf-8"),
    );
    let headers = r.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'"),
    );
    r
}

fn render(code: StatusCode, status: &Status) -> Response<String> {
    let body = serde_json::to_string(status)
        .unwrap_or_else(|_| r#"{"error":"could not render the status"}"#.into());
    respond(code, body, Some("application/json"))
}

fn refused(refusal: &Refusal) -> Response<String> {
    let mut r = respond(
        refusal.status,
        json!({"error": refusal.message}).to_string(),
        Some("application/json"),
    );
    if refusal.status == StatusCode::SERVICE_UNAVAILABLE {
        // Throttling and AWS's hiccups pass in seconds (the sleeping name sets its own).
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    r
}
