//! The HTTP contract under arbitrary input: every answer is a 2xx, or a 4xx with a JSON error
//! that says what to fix; never a panic, never a dropped connection.

use async_trait::async_trait;
use grafana_ondemand::api::{Access, Api};
use grafana_ondemand::{Result, ServiceController, State, Status, web};
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};

/// A controller that always answers at once: the property is about input, not the backend.
struct Steady;

fn status(state: State) -> Status {
    serde_json::from_value(serde_json::json!({
        "status": state, "message": "m", "runningCount": 0, "desiredCount": 0,
    }))
    .unwrap()
}

#[async_trait]
impl ServiceController for Steady {
    async fn start(&self, _: Option<std::time::Duration>) -> Result<Status> {
        Ok(status(State::Starting))
    }
    async fn extend(&self, _: std::time::Duration) -> Result<Status> {
        Ok(status(State::Running))
    }
    async fn stop(&self) -> Result<Status> {
        Ok(status(State::Stopped))
    }
    async fn status(&self) -> Result<Status> {
        Ok(status(State::Stopped))
    }
    async fn reap(&self) -> Result<Status> {
        Ok(status(State::Stopped))
    }
}

const TOKEN: &str = "s3cret-token-0123456789";

fn api() -> Api {
    Api::new(
        Arc::new(Steady),
        Access {
            token: Some(TOKEN.into()),
            protect_status: false,
            allowed_origins: vec!["https://dash.example.com".into()],
            signed_only: false,
        },
    )
}

#[derive(Debug, Clone)]
struct Input {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|f| format!("{f:e}")),
        Just("1e308".to_string()),
        Just("-0".to_string()),
        Just("1e400".to_string()),
        (0u64..100).prop_map(|n| n.to_string()),
        Just("\"25\"".to_string()),
        Just("null".to_string()),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let action = prop_oneof![
        Just("start".to_string()),
        Just("stop".to_string()),
        Just("status".to_string()),
        Just("extend".to_string()),
        Just("reap".to_string()),
        ".{0,12}"
    ];
    let lease = prop_oneof![
        Just("\"1h\"".to_string()),
        Just("\"0s\"".to_string()),
        Just("\"8d\"".to_string()),
        Just("\"99999999999999999999d\"".to_string()),
        "\"[0-9]{0,4}[dhms]{0,2}\"",
        number(),
    ];
    let json = (
        prop::option::of(action),
        prop::option::of(number()),
        prop::option::of(".{0,8}"),
        prop::option::of(lease),
    )
        .prop_map(|(action, wait, extra, lease)| {
            let mut fields = Vec::new();
            if let Some(a) = action {
                fields.push(format!("\"action\": {}", serde_json::json!(a)));
            }
            if let Some(w) = wait {
                fields.push(format!("\"wait\": {w}"));
            }
            if let Some(l) = lease {
                fields.push(format!("\"for\": {l}"));
            }
            if let Some(e) = extra {
                fields.push(format!("{}: 1", serde_json::json!(e)));
            }
            format!("{{{}}}", fields.join(", ")).into_bytes()
        });
    prop_oneof![
        4 => json,
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => (4090usize..4200).prop_map(|n| vec![b' '; n]),
        1 => Just(b"[]".to_vec()),
        1 => Just(b"\"start\"".to_vec()),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    let method = prop_oneof![
        1 => Just("GET"),
        4 => Just("POST"),
        1 => Just("PUT"),
        1 => Just("DELETE"),
        1 => Just("PATCH"),
        1 => Just("OPTIONS"),
        1 => Just("HEAD"),
        1 => Just("BREW"),
    ];
    let path = prop_oneof![
        Just("/".to_string()),
        Just("/grafana".to_string()),
        Just("/grafana/api/status".to_string()),
        "/[a-z0-9/._%-]{0,30}",
    ];
    let header = prop_oneof![
        (
            Just("authorization".to_string()),
            prop_oneof![Just(format!("Bearer {TOKEN}")), "[ -~]{0,40}"]
        ),
        (
            Just("origin".to_string()),
            prop_oneof![Just("https://dash.example.com".to_string()), "[ -~]{0,30}"]
        ),
        (Just("content-type".to_string()), "[ -~]{0,30}"),
        ("[a-z-]{1,12}", "[ -~]{0,30}"),
    ];
    (method, path, prop::collection::vec(header, 0..4), body()).prop_map(
        |(method, path, headers, body)| Input {
            method: method.to_string(),
            path,
            headers,
            body,
        },
    )
}

fn request(input: &Input) -> Option<http::Request<bytes::Bytes>> {
    let mut r = http::Request::builder()
        .method(input.method.as_str())
        .uri(&input.path);
    for (k, v) in &input.headers {
        r = r.header(k, v);
    }
    // Inputs http itself refuses never reach a server either.
    r.body(bytes::Bytes::from(input.body.clone())).ok()
}

/// The contract, checked on one answer.
fn check(
    input: &Input,
    code: u16,
    content_type: Option<&str>,
    body: &str,
) -> std::result::Result<(), TestCaseError> {
    prop_assert!(
        (200..300).contains(&code) || (400..500).contains(&code),
        "{input:?} answered {code}: {body}"
    );
    if code >= 400 && input.method != "HEAD" {
        let v: serde_json::Value = serde_json::from_str(body).map_err(|e| {
            TestCaseError::fail(format!("{input:?}: {code} not JSON ({e}): {body}"))
        })?;
        let error = v["error"].as_str().unwrap_or_default();
        prop_assert!(error.len() > 10, "{input:?}: {body}");
        prop_assert_eq!(content_type, Some("application/json"));
    }
    if code < 300 && input.method == "POST" {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        prop_assert!(v["status"].is_string(), "{body}");
    }
    Ok(())
}

/// The web server on loopback, started once for the socket property.
fn server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        crate::aws_wire::io().block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, web::router(api())).await });
            url
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn any_request_gets_a_2xx_or_a_4xx_saying_what_to_fix(input in input()) {
        let Some(req) = request(&input) else { return Ok(()) };
        let answer = crate::aws_wire::io().block_on(api().handle(req));
        let ct = answer.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
        check(&input, answer.status().as_u16(), ct.as_deref(), answer.body())?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn over_a_real_socket_no_request_drops_the_connection(input in input()) {
        let Some(req) = request(&input) else { return Ok(()) };
        let url = format!("{}{}", server(), req.uri());
        let Ok(method) = reqwest::Method::from_bytes(input.method.as_bytes()) else { return Ok(()) };
        let (code, ct, body) = crate::aws_wire::io().block_on(async {
            let mut r = reqwest::Client::new().request(method, &url).body(input.body.clone());
            for (k, v) in &input.headers {
                r = r.header(k.as_str(), v.as_str());
            }
            let answer = r.send().await.map_err(|e| format!("{input:?}: no answer: {e}"))?;
            let code = answer.status().as_u16();
            let ct = answer.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
            Ok::<_, String>((code, ct, answer.text().await.unwrap_or_default()))
        }).map_err(TestCaseError::fail)?;
        check(&input, code, ct.as_deref(), &body)?;
    }
}

/// AWS as slow as it gets: every read hangs for a minute.
struct Hanging;

#[async_trait]
impl ServiceController for Hanging {
    async fn start(&self, _: Option<std::time::Duration>) -> Result<Status> {
        Ok(status(State::Starting))
    }
    async fn extend(&self, _: std::time::Duration) -> Result<Status> {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        Ok(status(State::Running))
    }
    async fn reap(&self) -> Result<Status> {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        Ok(status(State::Running))
    }
    async fn stop(&self) -> Result<Status> {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        Ok(status(State::Stopping))
    }
    async fn status(&self) -> Result<Status> {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        Ok(status(State::Running))
    }
}

#[tokio::test(start_paused = true)]
async fn every_answer_comes_within_the_budget_whatever_aws_does() {
    use std::time::Duration;
    let api = Api::new(Arc::new(Hanging), Access::default());
    let post = |body: &str| {
        http::Request::post("/")
            .body(bytes::Bytes::from(body.to_owned()))
            .unwrap()
    };
    let budget = Duration::from_secs(10);
    let begun = tokio::time::Instant::now();
    let answer = api
        .handle_within(post(r#"{"action": "start", "wait": 25}"#), budget)
        .await;
    assert!(begun.elapsed() <= budget, "{:?}", begun.elapsed());
    assert_eq!(
        answer.status(),
        202,
        "the wait gave up in time: {}",
        answer.body()
    );
    let begun = tokio::time::Instant::now();
    let answer = api
        .handle_within(post(r#"{"action": "stop"}"#), budget)
        .await;
    assert_eq!(begun.elapsed(), budget);
    assert_eq!(answer.status(), 504, "{}", answer.body());
    assert!(
        answer.body().contains("did not answer in time"),
        "{}",
        answer.body()
    );
}

#[test]
fn leases_are_parsed_bounded_and_refused_with_what_to_send() {
    use grafana_ondemand::api::{Action, parse};
    use std::time::Duration;
    let ok = parse(br#"{"action": "extend", "for": "1h30m"}"#).unwrap();
    assert_eq!(
        (ok.action, ok.lease),
        (Action::Extend, Some(Duration::from_secs(5400)))
    );
    let ok = parse(br#"{"action": "start", "for": "2h", "wait": 5}"#).unwrap();
    assert_eq!(ok.lease, Some(Duration::from_secs(7200)));
    assert_eq!(
        parse(br#"{"action": "reap"}"#).unwrap().action,
        Action::Reap
    );
    for (body, says) in [
        (
            &br#"{"action": "stop", "for": "1h"}"#[..],
            "start or extend only",
        ),
        (br#"{"action": "start", "for": "8d"}"#, "at most 7d"),
        (br#"{"action": "start", "for": "0s"}"#, "more than 0"),
        (br#"{"action": "extend", "for": "soon"}"#, "not a duration"),
        (br#"{"action": "extend", "for": 3600}"#, "expected JSON"),
    ] {
        let refused = parse(body).unwrap_err();
        assert_eq!(refused.status, 400, "{}", String::from_utf8_lossy(body));
        assert!(refused.message.contains(says), "{}", refused.message);
    }
}

/// Every error that lists the actions lists the same ones, all that the contract takes.
#[test]
fn errors_list_the_same_actions() {
    use grafana_ondemand::api::{ACTIONS, Action, parse};
    for action in ACTIONS.split(", ") {
        let body = format!(r#"{{"action": "{action}"}}"#);
        assert!(
            parse(body.as_bytes()).is_ok(),
            "{action} is listed and taken"
        );
    }
    assert_eq!(
        parse(br#"{"action": "reap"}"#).unwrap().action,
        Action::Reap
    );
    for body in [
        &br#"{"action": "restart"}"#[..],
        b"{not json",
        br#"{"action": 1}"#,
    ] {
        let refused = parse(body).unwrap_err();
        assert!(
            refused.message.contains(ACTIONS),
            "{}: {}",
            String::from_utf8_lossy(body),
            refused.message
        );
    }
}

/// Counts what it was asked to do, answering at once.
#[derive(Default)]
struct Counting {
    actions: std::sync::atomic::AtomicU64,
}

#[async_trait]
impl ServiceController for Counting {
    async fn start(&self, _: Option<std::time::Duration>) -> Result<Status> {
        self.count();
        Ok(status(State::Starting))
    }
    async fn extend(&self, _: std::time::Duration) -> Result<Status> {
        self.count();
        Ok(status(State::Running))
    }
    async fn stop(&self) -> Result<Status> {
        self.count();
        Ok(status(State::Stopped))
    }
    async fn status(&self) -> Result<Status> {
        Ok(status(State::Stopped))
    }
    async fn reap(&self) -> Result<Status> {
        self.count();
        Ok(status(State::Stopped))
    }
}

impl Counting {
    fn count(&self) {
        self.actions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

const NAME: &str = "grafana.example.com";

/// Any request at the public name: the path Grafana would serve, or the contract's.
fn at_the_name() -> impl Strategy<Value = Input> {
    let mode = prop_oneof![
        Just("navigate".to_string()),
        Just("cors".to_string()),
        Just("no-cors".to_string()),
        Just("same-origin".to_string()),
        "[a-z-]{0,10}"
    ];
    let path = prop_oneof![
        "/[a-z0-9/._%-]{0,30}",
        "/_ondemand[a-z0-9/._%-]{0,12}",
        Just("/_ondemand".to_string()),
        Just("/_ondemand/api/status".to_string()),
    ];
    (input(), prop::option::of(mode), path).prop_map(|(mut input, mode, path)| {
        input.path = path;
        input.headers.retain(|(k, _)| k != "host");
        input.headers.push(("host".into(), NAME.into()));
        if let Some(mode) = mode {
            input
                .headers
                .push(("sec-fetch-mode".into(), mode.to_string()));
        }
        input
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// Through the door nothing is ever started or stopped but by a POST to the contract's
    /// path; every answer says it is the controller's, a 2xx, a 4xx that says what to fix, or
    /// a 503 to try later; and no Cookie is needed or read.
    #[test]
    fn through_the_door_only_the_contract_acts(input in at_the_name()) {
        let Some(mut req) = request(&input) else { return Ok(()) };
        req.headers_mut().insert(grafana_ondemand::api::DOOR_HEADER, http::HeaderValue::from_static(DOOR));
        let counting = Arc::new(Counting::default());
        let api = guarded(&counting).through_door(DOOR, &grafana_ondemand::SessionPolicy::default());
        let answer = crate::aws_wire::io().block_on(api.handle(req));
        let code = answer.status().as_u16();
        prop_assert_eq!(answer.headers().get("x-grafana-ondemand").map(|v| v.as_bytes()), Some(&b"controller"[..]));
        let acted = counting.actions.load(std::sync::atomic::Ordering::Relaxed) > 0;
        let under = input.path == "/_ondemand" || input.path.starts_with("/_ondemand/");
        let contract = input.path == "/_ondemand" || input.path == "/_ondemand/";
        let status = input.path.trim_end_matches('/') == "/_ondemand/api/status";
        if acted {
            prop_assert!(contract && input.method == "POST", "{:?} acted", input);
        }
        // Only the documented paths answer under /_ondemand: any other is a 404.
        if under && !contract && !status {
            prop_assert_eq!(code, 404, "{:?}", input);
        }
        if status && !["GET", "HEAD", "OPTIONS"].contains(&input.method.as_str()) {
            prop_assert_eq!(code, 405, "{:?}", input);
        }
        let contract = under;
        if code == 503 {
            prop_assert!(!contract, "{input:?}");
            prop_assert_eq!(answer.headers().get("retry-after").map(|v| v.as_bytes()), Some(&b"30"[..]));
        } else {
            let ct = answer.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
            check(&input, code, ct.as_deref(), answer.body())?;
        }
    }
}

/// The front door's secret in these tests.
const DOOR: &str = "the-door-secret-0123456789abcdef";

/// An API over `counting` that wants `TOKEN` for every action but the status.
fn guarded(counting: &Arc<Counting>) -> Api {
    Api::new(
        counting.clone(),
        Access {
            token: Some(TOKEN.into()),
            ..Access::default()
        },
    )
}

/// `api`'s answer to `method path` with `host` and `headers`, and `body`.
fn ask(
    api: &Api,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> http::Response<String> {
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(bytes::Bytes::from(body.to_owned())).unwrap();
    crate::aws_wire::io().block_on(api.handle(req))
}

/// Through the front door, known by its secret header and never by `Host` (the door sends
/// the API's own): a person's navigation to any path gets the wake page, anything else a
/// 503, and the contract lives under `/_ondemand`, with its documented paths only. Without
/// the secret, or with a wrong one, a request is a direct call to the contract.
#[test]
fn through_the_door_by_its_secret_never_by_host() {
    use grafana_ondemand::api::{DOOR_HEADER, door_secret};
    const SECRET: &str = DOOR;
    let counting = Arc::new(Counting::default());
    let api = guarded(&counting).through_door(SECRET, &grafana_ondemand::SessionPolicy::default());
    let ask =
        |method: &str, path: &str, secret: Option<&str>, headers: &[(&str, &str)], body: &str| {
            let mut headers = headers.to_vec();
            headers.extend(secret.map(|s| (DOOR_HEADER, s)));
            ask(
                &api,
                "abc123.execute-api.eu-west-3.amazonaws.com",
                method,
                path,
                &headers,
                body,
            )
        };
    let marked = |a: &http::Response<String>| a.headers().contains_key("x-grafana-ondemand");
    let navigate = [("sec-fetch-mode", "navigate"), ("accept", "text/html")];

    let wake = ask("GET", "/d/abc?x=1", Some(SECRET), &navigate, "");
    assert_eq!(wake.status(), 200);
    assert!(
        marked(&wake) && wake.body().contains(r#"data-mode="wake""#),
        "{}",
        wake.body()
    );
    let refresh = ask(
        "POST",
        "/api/ds/query",
        Some(SECRET),
        &[("sec-fetch-mode", "cors")],
        "{}",
    );
    assert_eq!(refresh.status(), 503);
    assert!(marked(&refresh) && refresh.headers().contains_key("retry-after"));
    let status = ask("GET", "/_ondemand/api/status", Some(SECRET), &[], "");
    assert_eq!(status.status(), 200, "{}", status.body());
    let unknown = ask(
        "GET",
        "/_ondemand/no/such/thing",
        Some(SECRET),
        &navigate,
        "",
    );
    assert_eq!(unknown.status(), 404, "{}", unknown.body());
    let posted_to_status = ask(
        "POST",
        "/_ondemand/api/status",
        Some(SECRET),
        &[],
        r#"{"action":"start"}"#,
    );
    assert_eq!(posted_to_status.status(), 405);
    assert_eq!(
        counting.actions.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "nothing acted yet"
    );
    let bearer = format!("Bearer {TOKEN}");
    let start = ask(
        "POST",
        "/_ondemand",
        Some(SECRET),
        &[("authorization", &bearer)],
        r#"{"action":"start"}"#,
    );
    assert!(start.status().is_success(), "{}", start.body());
    assert_eq!(
        counting.actions.load(std::sync::atomic::Ordering::Relaxed),
        1
    );

    // No secret, or a wrong one: a direct call, with the control page and no marker.
    for secret in [None, Some("not-the-door-secret-0000000000000")] {
        let direct = ask("GET", "/d/abc", secret, &navigate, "");
        assert_eq!(direct.status(), 200);
        assert!(!marked(&direct), "{secret:?}");
        assert!(direct.body().contains(r#"data-mode="control""#));
    }
    assert!(door_secret(Some("short".into())).is_err());
    assert_eq!(
        door_secret(Some(SECRET.into())).unwrap().as_deref(),
        Some(SECRET)
    );
}

/// Through the door, the token given once in `Authorization` is kept in an `HttpOnly`,
/// `Secure`, `SameSite=Strict` cookie for `/_ondemand` only, and read from there by the
/// contract's paths alone; every other cookie is dropped, and a direct call never reads it.
#[test]
fn through_the_door_the_token_lives_in_an_httponly_cookie_for_the_contract_only() {
    use grafana_ondemand::api::DOOR_HEADER;
    let counting = Arc::new(Counting::default());
    let api = guarded(&counting).through_door(DOOR, &grafana_ondemand::SessionPolicy::default());
    // At the name: through the door, its secret added; anywhere else, a direct call.
    let ask = |host: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str| {
        let mut headers = headers.to_vec();
        if host == NAME {
            headers.push((DOOR_HEADER, DOOR));
        }
        ask(&api, host, method, path, &headers, body)
    };
    let acted = || counting.actions.load(std::sync::atomic::Ordering::Relaxed);
    let start = r#"{"action":"start"}"#;
    let bearer = format!("Bearer {TOKEN}");
    let kept = format!("grafana_session=abc; grafana-ondemand-token={TOKEN}");

    let given = ask(
        NAME,
        "POST",
        "/_ondemand/",
        &[("authorization", &bearer)],
        start,
    );
    assert!(given.status().is_success(), "{}", given.body());
    let set = given
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    for part in [
        &format!("grafana-ondemand-token={TOKEN}")[..],
        "Path=/_ondemand",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
    ] {
        assert!(set.contains(part), "{part} in {set}");
    }
    assert_eq!(acted(), 1);
    let from_cookie = ask(NAME, "POST", "/_ondemand", &[("cookie", &kept)], start);
    assert!(from_cookie.status().is_success(), "{}", from_cookie.body());
    assert!(
        from_cookie.headers().get("set-cookie").is_none(),
        "set once, when given"
    );
    assert_eq!(acted(), 2);
    let wrong = ask(
        NAME,
        "POST",
        "/_ondemand",
        &[("cookie", "grafana-ondemand-token=not-it-at-all-00000000")],
        start,
    );
    assert_eq!(wrong.status(), 401);
    let bad = ask(
        NAME,
        "POST",
        "/_ondemand",
        &[("authorization", "Bearer not-it-at-all-00000000")],
        start,
    );
    assert_eq!(bad.status(), 401);
    assert!(
        bad.headers().get("set-cookie").is_none(),
        "a wrong token is never kept"
    );
    // Outside the contract's paths, and for a direct call, the cookie means nothing.
    let page = ask(
        NAME,
        "GET",
        "/d/abc",
        &[("cookie", &kept), ("sec-fetch-mode", "navigate")],
        "",
    );
    assert!(page.headers().get("set-cookie").is_none());
    let direct = ask("api.example.net", "POST", "/", &[("cookie", &kept)], start);
    assert_eq!(direct.status(), 401, "{}", direct.body());
    assert_eq!(acted(), 2);
}
