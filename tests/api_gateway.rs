//! The simulated API Gateway HTTP API, configured from the module (`infra/test/front-door.json`,
//! written from `terraform show -json` by the moto apply): route selection, the Lambda
//! permission, `AWS_IAM` routes, payload format 2.0, the integration timeout, as AWS
//! documents them; and the whole door (edge → API Gateway → the controller's code) asleep.

use axum::body::Bytes;
use grafana_ondemand::api::{Access, Api, MARKER};
use grafana_ondemand::lambda::InProcess;
use grafana_ondemand::mock::edge::{
    Authorization, FrontDoorConfig, HttpApi, HttpApiConfig, LambdaFunction, MODULE_FRONT_DOOR,
    Route, SIMULATED_API_DOMAIN, SIMULATED_EXECUTION_ARN, source_arn_allows,
};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "the-door-secret-0123456789abcdef";

/// A function that records each event and answers a fixed 2.0 response, or takes `delay`.
#[derive(Debug, Default)]
struct Recorder {
    events: Mutex<Vec<Value>>,
    delay: Option<Duration>,
}

#[async_trait::async_trait]
impl LambdaFunction for Recorder {
    async fn invoke(&self, event: Value) -> Result<Value, String> {
        self.events.lock().unwrap().push(event);
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
        }
        Ok(json!({
            "statusCode": 201,
            "headers": {"content-type": "text/plain", "x-from": "lambda"},
            "cookies": ["a=1; Path=/", "b=2; Path=/"],
            "body": "hello",
            "isBase64Encoded": false,
        }))
    }
}

fn module(api_auth: &str) -> FrontDoorConfig {
    FrontDoorConfig::from_module(
        api_auth,
        SIMULATED_EXECUTION_ARN,
        SIMULATED_API_DOMAIN,
        SECRET,
    )
    .unwrap()
}

fn api(config: HttpApiConfig, function: Arc<Recorder>) -> Arc<HttpApi> {
    HttpApi::new(
        config,
        SIMULATED_EXECUTION_ARN,
        SIMULATED_API_DOMAIN,
        function,
    )
    .unwrap()
}

fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> http::Request<Bytes> {
    let mut r = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Bytes::from(body.to_owned())).unwrap()
}

/// Asks `gateway` from the address every test's viewer has: its status and JSON body.
async fn ask(gateway: &HttpApi, request: http::Request<Bytes>) -> (u16, Value) {
    let response = gateway.handle(request, "198.51.100.7").await;
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body()).unwrap_or(Value::Null),
    )
}

#[test]
fn the_fixture_is_the_modules_front_door() {
    // What the module deploys, read back: the moto apply fails CI when this file is not.
    for variant in ["token", "iam"] {
        let m = module(variant);
        assert!(
            m.api
                .routes
                .iter()
                .any(|r| r.route_key == "$default" && r.authorization_type == Authorization::None),
            "{variant}: the door's paths have a route: {:?}",
            m.api.routes
        );
        let controller = m.controller_origin().unwrap();
        assert_eq!(controller.domain_name, SIMULATED_API_DOMAIN);
        assert_eq!(
            controller
                .custom_headers
                .get("x-grafana-ondemand-door")
                .map(String::as_str),
            Some(SECRET)
        );
    }
    assert!(
        MODULE_FRONT_DOOR.contains("${door_secret}"),
        "no secret in the repository"
    );
    let iam = module("iam");
    for key in ["GET /grafana", "POST /grafana", "GET /grafana/api/status"] {
        let route = iam.api.routes.iter().find(|r| r.route_key == key).unwrap();
        assert_eq!(route.authorization_type, Authorization::AwsIam, "{key}");
    }
}

/// API Gateway selects the most specific route: a full match over a path variable over a
/// greedy one, a method over `ANY`; `$default` takes the rest; with no match it answers 404
/// itself and never invokes the function.
#[tokio::test]
async fn routes_are_selected_as_api_gateway_selects_them() {
    let routes = [
        "GET /pets/dog",
        "GET /pets/{name}",
        "ANY /pets/{proxy+}",
        "GET /pets/{proxy+}",
        "POST /grafana",
    ];
    let config = HttpApiConfig {
        routes: routes
            .iter()
            .map(|k| Route {
                route_key: (*k).into(),
                authorization_type: Authorization::None,
            })
            .collect(),
        ..module("token").api
    };
    let without_default = HttpApiConfig {
        routes: config.routes.clone(),
        permission_source_arns: vec![format!("{SIMULATED_EXECUTION_ARN}/*")],
        ..config.clone()
    };
    let f = Arc::new(Recorder::default());
    let gateway = api(without_default, f.clone());
    for (method, path, key) in [
        ("GET", "/pets/dog", Some("GET /pets/dog")),
        ("GET", "/pets/cat", Some("GET /pets/{name}")),
        ("GET", "/pets/cat/toys", Some("GET /pets/{proxy+}")),
        ("DELETE", "/pets/cat", Some("ANY /pets/{proxy+}")),
        ("POST", "/grafana", Some("POST /grafana")),
        // A greedy variable does not match its parent; a method of another route is no match.
        ("GET", "/pets", None),
        ("GET", "/grafana", None),
        ("POST", "/grafana/", None),
        ("GET", "/_ondemand", None),
    ] {
        let before = f.events.lock().unwrap().len();
        let (status, body) = ask(&gateway, request(method, path, &[], "")).await;
        match key {
            Some(key) => {
                assert_eq!(status, 201, "{method} {path}: {body}");
                let events = f.events.lock().unwrap();
                assert_eq!(events.len(), before + 1);
                assert_eq!(events[before]["routeKey"], key, "{method} {path}");
            }
            None => {
                assert_eq!(
                    (status, body),
                    (404, json!({"message": "Not Found"})),
                    "{method} {path}"
                );
                assert_eq!(
                    f.events.lock().unwrap().len(),
                    before,
                    "{method} {path}: invoked"
                );
            }
        }
    }
    // With $default, what no route takes goes there.
    let mut with_default = config;
    with_default.routes.push(Route {
        route_key: "$default".into(),
        authorization_type: Authorization::None,
    });
    let f = Arc::new(Recorder::default());
    let gateway = api(with_default, f.clone());
    let (status, _) = ask(&gateway, request("GET", "/d/abc", &[], "")).await;
    assert_eq!(status, 201);
    assert_eq!(f.events.lock().unwrap()[0]["routeKey"], "$default");
    // Keys API Gateway refuses.
    for bad in [
        "GET grafana",
        "FETCH /grafana",
        "GET /a/{proxy+}/b",
        "/grafana",
    ] {
        let config = HttpApiConfig {
            routes: vec![Route {
                route_key: bad.into(),
                authorization_type: Authorization::None,
            }],
            ..module("token").api
        };
        assert!(
            HttpApi::new(
                config,
                SIMULATED_EXECUTION_ARN,
                SIMULATED_API_DOMAIN,
                f.clone()
            )
            .is_err(),
            "{bad}"
        );
    }
}

/// The function is invoked only when its resource policy allows the route's source ARN: the
/// module's old permission (`/*/*/grafana*`) let API Gateway call it for the contract's routes
/// only, and the door's paths got API Gateway's own 500.
#[tokio::test]
async fn the_lambda_permission_decides_which_routes_reach_the_function() {
    let old = HttpApiConfig {
        permission_source_arns: vec![format!("{SIMULATED_EXECUTION_ARN}/*/*/grafana*")],
        ..module("token").api
    };
    let f = Arc::new(Recorder::default());
    let gateway = api(old, f.clone());
    let (status, body) = ask(&gateway, request("GET", "/d/abc", &[], "")).await;
    assert_eq!(
        (status, body),
        (500, json!({"message": "Internal Server Error"}))
    );
    assert!(
        f.events.lock().unwrap().is_empty(),
        "invoked without a permission"
    );
    let (status, _) = ask(&gateway, request("POST", "/grafana", &[], "{}")).await;
    assert_eq!(status, 201);
    // The module's: every route of the stage.
    let f = Arc::new(Recorder::default());
    let gateway = api(module("token").api, f.clone());
    for (method, path) in [
        ("GET", "/d/abc"),
        ("POST", "/_ondemand"),
        ("GET", "/grafana/api/status"),
    ] {
        let (status, _) = ask(&gateway, request(method, path, &[], "")).await;
        assert_eq!(status, 201, "{method} {path}");
    }
    assert!(source_arn_allows(
        &format!("{SIMULATED_EXECUTION_ARN}/$default/*"),
        &format!("{SIMULATED_EXECUTION_ARN}/$default/$default")
    ));
    assert!(!source_arn_allows(
        &format!("{SIMULATED_EXECUTION_ARN}/prod/*"),
        &format!("{SIMULATED_EXECUTION_ARN}/$default/GET/grafana")
    ));
}

/// With `api_auth = "iam"` the contract's routes refuse an unsigned request themselves; a
/// signed one reaches the function with its caller; the door's route takes a browser's.
#[tokio::test]
async fn aws_iam_routes_refuse_unsigned_requests_and_the_doors_route_does_not() {
    let f = Arc::new(Recorder::default());
    let gateway = api(module("iam").api, f.clone());
    for (method, path) in [("POST", "/grafana"), ("GET", "/grafana/api/status")] {
        let (status, body) = ask(
            &gateway,
            request(
                method,
                path,
                &[("authorization", "Bearer a-long-enough-token-0123456789")],
                "",
            ),
        )
        .await;
        assert_eq!(
            (status, body),
            (403, json!({"message": "Forbidden"})),
            "{method} {path}"
        );
    }
    assert!(f.events.lock().unwrap().is_empty());
    let signed = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261207/eu-west-3/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc123";
    let (status, _) = ask(
        &gateway,
        request(
            "POST",
            "/grafana",
            &[
                ("authorization", signed),
                ("x-amz-date", "20261207T000000Z"),
            ],
            "{}",
        ),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = ask(&gateway, request("GET", "/_ondemand/api/status", &[], "")).await;
    assert_eq!(status, 201);
    let events = f.events.lock().unwrap();
    assert_eq!(
        events[0]["requestContext"]["authorizer"]["iam"]["accessKey"],
        "AKIAEXAMPLE"
    );
    assert!(
        events[1]["requestContext"].get("authorizer").is_none(),
        "{}",
        events[1]
    );
}

/// Payload format 2.0 as API Gateway builds it, and its answer read back as API Gateway reads
/// it (cookies apart, each a Set-Cookie).
#[tokio::test]
async fn the_event_and_the_answer_are_payload_format_2_0() {
    let f = Arc::new(Recorder::default());
    let gateway = api(module("token").api, f.clone());
    let mut r = request(
        "GET",
        "/d/abc?x=1&y=2&x=3",
        &[
            ("Accept", "text/html"),
            ("X-Many", "one"),
            ("cookie", "grafana_session=s; theme=dark"),
            ("Host", SIMULATED_API_DOMAIN),
        ],
        "",
    );
    r.headers_mut().append("x-many", "two".parse().unwrap());
    let response = gateway.handle(r, "198.51.100.7").await;
    assert_eq!(response.status(), 201);
    let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2; Path=/"]);
    assert_eq!(response.headers()["x-from"], "lambda");
    assert_eq!(response.body(), "hello");
    let event = f.events.lock().unwrap()[0].clone();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["rawPath"], "/d/abc");
    assert_eq!(event["rawQueryString"], "x=1&y=2&x=3");
    assert_eq!(
        event["queryStringParameters"],
        json!({"x": "1,3", "y": "2"})
    );
    assert_eq!(event["cookies"], json!(["grafana_session=s", "theme=dark"]));
    assert_eq!(event["headers"]["accept"], "text/html");
    assert_eq!(event["headers"]["x-many"], "one,two");
    assert!(event["headers"].get("cookie").is_none() && event["headers"].get("Accept").is_none());
    assert_eq!(event["headers"]["x-forwarded-for"], "198.51.100.7");
    assert_eq!(event["requestContext"]["http"]["method"], "GET");
    assert_eq!(event["requestContext"]["stage"], "$default");
    assert_eq!(event["requestContext"]["accountId"], "123456789012");
    // lambda_http reads it as the deployed function does.
    let parsed: lambda_http::request::LambdaRequest = serde_json::from_value(event).unwrap();
    assert!(matches!(
        parsed,
        lambda_http::request::LambdaRequest::ApiGatewayV2(_)
    ));
}

/// An integration slower than its timeout (29 s, the module's) is API Gateway's 503.
#[tokio::test(start_paused = true)]
async fn a_function_slower_than_29_s_is_api_gateways_503() {
    let f = Arc::new(Recorder {
        delay: Some(Duration::from_secs(40)),
        ..Recorder::default()
    });
    let gateway = api(module("token").api, f.clone());
    let started = tokio::time::Instant::now();
    let (status, body) = ask(&gateway, request("POST", "/grafana", &[], "{}")).await;
    assert_eq!(
        (status, body),
        (503, json!({"message": "Service Unavailable"}))
    );
    assert_eq!(started.elapsed(), Duration::from_millis(29_000));
    assert_eq!(f.events.lock().unwrap().len(), 1, "it was invoked");
}

/// The controller's own code behind the module's API: asleep, a person's navigation through
/// the door (the secret the distribution adds) gets the wake page by the $default route; an
/// unsigned contract call under iam is refused by API Gateway before the function.
#[tokio::test]
async fn the_wake_page_comes_through_api_gateways_default_route() {
    use grafana_ondemand::mock::{SimulatedEcs, SimulatedProbe, Timing};
    use grafana_ondemand::{Controller, ServiceController, ServiceProfile, SessionPolicy};
    let ecs = SimulatedEcs::new(Timing::fargate());
    let controller: Arc<dyn ServiceController> = Arc::new(Controller::new(
        ecs.clone(),
        ServiceProfile::grafana(),
        Arc::new(SimulatedProbe::new(ecs)),
    ));
    for variant in ["token", "iam"] {
        let access = Access {
            signed_only: variant == "iam",
            ..Access::default()
        };
        let function = Arc::new(InProcess(
            Api::new(controller.clone(), access).through_door(SECRET, &SessionPolicy::default()),
        ));
        let gateway = HttpApi::new(
            module(variant).api,
            SIMULATED_EXECUTION_ARN,
            SIMULATED_API_DOMAIN,
            function,
        )
        .unwrap();
        let response = gateway
            .handle(
                request(
                    "GET",
                    "/d/abc?x=1",
                    &[
                        ("sec-fetch-mode", "navigate"),
                        ("accept", "text/html"),
                        ("x-grafana-ondemand-door", SECRET),
                    ],
                    "",
                ),
                "198.51.100.7",
            )
            .await;
        assert_eq!(response.status(), 200, "{variant}");
        assert_eq!(response.headers()[MARKER], "controller", "{variant}");
        assert!(
            String::from_utf8_lossy(response.body()).contains("data-mode=\"wake\""),
            "{variant}"
        );
        assert_eq!(gateway.invocations(), 1);
    }
}
