//! The Lambda behind API Gateway (REST v1, HTTP API v2) or a function URL, and on a schedule.
//!
//! Speaks the original design's JSON contract: `POST {"action": "start" | "stop" | "status"}`
//! (plus `"extend"`, `"for": "2h"`, and an optional `"wait"`, capped at 25 s to stay under API
//! Gateway's 29 s), CORS, and `GET` for the control page. The EventBridge Scheduler schedule
//! invokes the same function with `{"grafana-ondemand": "reap"}` every minute: it stops
//! Grafana when its session policy says so (`STARTUP_GRACE`, `IDLE_TIMEOUT`, `MAX_SESSION`).
//! Environment: `CLUSTER_NAME`, `SERVICE_NAME` (required: a Lambda never falls back to the
//! simulated ECS), `READINESS` (default `ecs`: the function runs outside the VPC and cannot
//! reach the task), `ACTIVITY_LOG_GROUP` (the task's log group, for its use), and for access
//! `ACCESS_TOKEN_PARAMETER` (an SSM SecureString read once at cold start) or `ACCESS_TOKEN`,
//! `PROTECT_STATUS`, `ALLOWED_ORIGINS`. Every answer fits in what the invocation has left.
//! An EventBridge rule delivers ECS's task state changes and placement failures: with
//! `DOOR_KVS_ARN` the front door's entry follows the task (with `PUBLIC_NAME` and
//! `DNS_ZONE_ID` instead, a private name's record), and with `NOTIFY_TOPIC_ARN` and/or
//! `NOTIFY_WEBHOOK_PARAMETER` (an SSM SecureString holding the URL) people are told. Requests
//! that come through the front door carry its secret (`DOOR_SECRET_PARAMETER`): to those this
//! function serves the wake page on a person's navigation while Grafana sleeps. One status is
//! shared within an instance for `STATUS_SHARE_MS` (1000): however many pages poll, AWS is
//! read at most once a second.
//!
//! ```sh
//! pip install cargo-lambda
//! cargo lambda build --release --x86-64 --example lambda --no-default-features --features aws,lambda --output-format zip
//! ```

use grafana_ondemand::api::{Access, Api};
use grafana_ondemand::backend::{Settings, connect};
use grafana_ondemand::lambda::{answer, budget};
use grafana_ondemand::{EventHandler, PlatformEvent, ReadinessSource};
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::request::LambdaRequest;
use serde_json::{Value, json};
use tracing::Instrument;
/// What the schedule sends (the module's `aws_scheduler_schedule` input).
const SCHEDULED: &str = "grafana-ondemand";

/// What the function is invoked with.
#[derive(Debug)]
enum Invocation {
    /// The schedule's tick: stop Grafana if its session policy says so.
    Reap,
    /// An ECS event through EventBridge: point the name, tell people.
    Event(PlatformEvent),
    /// A request through API Gateway or a function URL.
    Http(Box<LambdaRequest>),
}

impl<'de> serde::Deserialize<'de> for Invocation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        match value.get(SCHEDULED).and_then(Value::as_str) {
            Some("reap") => Ok(Invocation::Reap),
            Some(other) => Err(serde::de::Error::custom(format!(
                "unknown scheduled task `{other}`: the schedule sends {{\"{SCHEDULED}\": \"reap\"}}"
            ))),
            None => match PlatformEvent::from_eventbridge(&value) {
                Some(event) => event
                    .map(Invocation::Event)
                    .map_err(serde::de::Error::custom),
                None => LambdaRequest::deserialize(value)
                    .map(|r| Invocation::Http(Box::new(r)))
                    .map_err(serde::de::Error::custom),
            },
        }
    }
}

/// One invocation: an HTTP request is answered in API Gateway's shape; the schedule's tick
/// reaps and answers what it did (a failed tick is logged, and the next one tries again); an
/// ECS event is handled, and a failure is the invocation's, so that Lambda delivers the
/// event again (asynchronous invocations are retried twice).
async fn invoke(
    api: &Api,
    events: &dyn EventHandler,
    service: &str,
    event: LambdaEvent<Invocation>,
) -> Result<Value, lambda_http::Error> {
    let LambdaEvent { payload, context } = event;
    match payload {
        Invocation::Event(event) if !event.concerns(service) => {
            tracing::debug!(?event, "an event about another service: ignored");
            Ok(json!({"ignored": "not about this service"}))
        }
        Invocation::Event(event) => {
            let span = tracing::info_span!("event", request_id = %context.request_id);
            let handled = tokio::time::timeout(budget(&context), events.handle_event(&event))
                .instrument(span)
                .await
                .map_err(|_| "the event could not be handled in time")?
                .inspect_err(|e| tracing::error!(error = %e, detail = ?e, "the event failed"))?;
            Ok(json!({
                "status": handled.status.state,
                "notice": handled.notice,
                "sent": handled.sent,
            }))
        }
        Invocation::Http(request) => Ok(answer(api, *request, context).await),
        Invocation::Reap => {
            let span = tracing::info_span!("reap", request_id = %context.request_id);
            let reaped = tokio::time::timeout(budget(&context), api.controller().reap())
                .instrument(span)
                .await;
            Ok(match reaped {
                Ok(Ok(status)) => {
                    tracing::debug!(state = %status.state, stops_at = ?status.stops_at, "reaped");
                    serde_json::to_value(status).unwrap_or(Value::Null)
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, detail = ?e, "the reap failed");
                    json!({"error": e.to_string()})
                }
                Err(_) => {
                    tracing::error!("the reap ran out of time");
                    json!({"error": "the reap ran out of time"})
                }
            })
        }
    }
}

/// A secret, read once at cold start from the SSM Parameter Store parameter named in the
/// environment variable `var` (a SecureString, decrypted): the access token
/// (`ACCESS_TOKEN_PARAMETER`), the webhook URL (`NOTIFY_WEBHOOK_PARAMETER`).
async fn secret(var: &str, what: &str) -> Result<Option<String>, lambda_http::Error> {
    let Some(name) = std::env::var(var).ok().filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let value = grafana_ondemand::aws::secure_parameter(&name)
        .await
        .map_err(|e| format!("cannot read the {what} from SSM parameter {name} ({var}): {e}"))?;
    Ok(Some(value.ok_or_else(|| {
        format!("SSM parameter {name} ({var}) holds no {what}")
    })?))
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // lambda_runtime logs every raw event at TRACE, Grafana's cookies and the bearer token
    // with them: that one never, whatever RUST_LOG says.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info".into())
        .add_directive("lambda_runtime::layers::api_response=debug".parse()?);
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .without_time()
        .init();
    let (token, webhook, door) = tokio::try_join!(
        secret("ACCESS_TOKEN_PARAMETER", "access token"),
        secret("NOTIFY_WEBHOOK_PARAMETER", "webhook URL"),
        secret("DOOR_SECRET_PARAMETER", "front door's secret")
    )?;
    let backend = connect(Settings {
        simulated_by_default: false,
        readiness: Some(ReadinessSource::Ecs),
        webhook,
        emf_metrics: true,
        ..Settings::default()
    })
    .await?;
    let service = grafana_ondemand::setting("SERVICE_NAME").unwrap_or_default();
    let mut api = Api::new(backend.controller, Access::from_env(token)?);
    if let Some(secret) = grafana_ondemand::api::door_secret(door)? {
        api = api.through_door(&secret, &backend.policy);
    }
    let events = backend.events;
    tracing::info!(backend = %backend.description, "ready");
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        invoke(&api, events.as_ref(), &service, event)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use grafana_ondemand::{Error, MockServiceController, State, Status};
    use std::sync::Arc;

    fn status(state: State) -> Status {
        serde_json::from_value(serde_json::json!({
            "status": state, "message": format!("Grafana is {state}."), "runningCount": 0, "desiredCount": 1,
        }))
        .unwrap()
    }

    fn api(mock: MockServiceController, token: Option<&str>, origins: &[&str]) -> Api {
        let access = Access {
            token: token.map(str::to_owned),
            allowed_origins: origins.iter().map(|o| o.to_string()).collect(),
            ..Access::default()
        };
        Api::new(Arc::new(mock), access)
    }

    /// The fixture through the function's own answer path: the event parsed as Lambda hands
    /// it over, the answer as API Gateway reads it.
    async fn send(api: &Api, fixture: &str) -> (u16, http::HeaderMap, serde_json::Value) {
        let request: LambdaRequest = serde_json::from_str(fixture).expect("fixture parses");
        let out = answer(api, request, Default::default()).await;
        let code = u16::try_from(out["statusCode"].as_u64().unwrap()).unwrap();
        let mut headers = http::HeaderMap::new();
        let value = |v: &Value| http::HeaderValue::from_str(v.as_str().unwrap()).unwrap();
        for (k, v) in out["headers"].as_object().into_iter().flatten() {
            headers.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                value(v),
            );
        }
        for (k, vs) in out["multiValueHeaders"].as_object().into_iter().flatten() {
            let name = http::HeaderName::from_bytes(k.as_bytes()).unwrap();
            if !headers.contains_key(&name) {
                for v in vs.as_array().unwrap() {
                    headers.append(name.clone(), value(v));
                }
            }
        }
        for cookie in out["cookies"].as_array().into_iter().flatten() {
            headers.append(http::header::SET_COOKIE, value(cookie));
        }
        let body = out["body"].as_str().unwrap_or_default().to_owned();
        let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
        (code, headers, json)
    }

    fn starting_mock() -> MockServiceController {
        let mut m = MockServiceController::new();
        m.expect_start()
            .times(1)
            .returning(|_| Ok(status(State::Starting)));
        m
    }

    #[tokio::test]
    async fn start_through_each_gateway_answers_202_starting_with_cors() {
        for fixture in [
            include_str!("fixtures/apigw_rest_start.json"),
            include_str!("fixtures/apigw_http_start.json"),
            include_str!("fixtures/function_url_start.json"),
        ] {
            let (code, headers, body) = send(&api(starting_mock(), None, &["*"]), fixture).await;
            assert_eq!(code, 202, "{body}");
            assert_eq!(body["status"], "starting");
            assert_eq!(body["desiredCount"], 1);
            assert_eq!(headers["access-control-allow-origin"], "*");
            assert_eq!(headers["content-type"], "application/json");
        }
    }

    #[tokio::test]
    async fn a_missing_body_means_status() {
        let mut m = MockServiceController::new();
        m.expect_status()
            .times(1)
            .returning(|| Ok(status(State::Stopped)));
        let (code, _, body) = send(
            &api(m, None, &["*"]),
            include_str!("fixtures/apigw_rest_no_body.json"),
        )
        .await;
        assert_eq!((code, body["status"].as_str()), (200, Some("stopped")));
    }

    #[tokio::test]
    async fn preflight_is_answered_without_calling_the_backend() {
        let m = MockServiceController::new(); // any call would panic
        let (code, headers, _) = send(
            &api(
                m,
                Some("s3cret-token-0123456789"),
                &["https://dash.example.com"],
            ),
            include_str!("fixtures/apigw_http_options.json"),
        )
        .await;
        assert_eq!(code, 204);
        assert_eq!(
            headers["access-control-allow-origin"],
            "https://dash.example.com"
        );
        assert!(
            headers["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("Authorization")
        );
    }

    #[tokio::test]
    async fn with_a_token_start_needs_it_and_status_does_not() {
        let token = "s3cret-token-0123456789";
        let (code, headers, body) = send(
            &api(MockServiceController::new(), Some(token), &[]),
            include_str!("fixtures/apigw_http_start.json"),
        )
        .await;
        assert_eq!(code, 401);
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("Authorization: Bearer")
        );
        assert!(
            headers.get("access-control-allow-origin").is_none(),
            "no CORS for unlisted origins once a token is set"
        );
        let (code, _, _) = send(
            &api(starting_mock(), Some(token), &[]),
            include_str!("fixtures/apigw_http_start_with_token.json"),
        )
        .await;
        assert_eq!(code, 202);
        let mut m = MockServiceController::new();
        m.expect_status()
            .times(1)
            .returning(|| Ok(status(State::Stopped)));
        assert_eq!(
            send(
                &api(m, Some(token), &[]),
                include_str!("fixtures/apigw_rest_no_body.json")
            )
            .await
            .0,
            200
        );
    }

    #[tokio::test]
    async fn bad_input_is_a_4xx_that_says_what_to_fix() {
        let cases = [
            (
                include_str!("fixtures/apigw_rest_bad_json.json"),
                400,
                "not the expected JSON",
            ),
            (
                include_str!("fixtures/apigw_rest_unknown_action.json"),
                400,
                "valid actions are start, stop, status",
            ),
            (
                include_str!("fixtures/apigw_http_delete.json"),
                405,
                "DELETE is not supported",
            ),
        ];
        for (fixture, expected, words) in cases {
            let (code, _, body) =
                send(&api(MockServiceController::new(), None, &["*"]), fixture).await;
            assert_eq!(code, expected, "{body}");
            assert!(body["error"].as_str().unwrap().contains(words), "{body}");
        }
        let big = include_str!("fixtures/apigw_http_start.json").replace(
            r#"{\"action\": \"start\"}"#,
            &format!(
                r#"{{\"action\": \"start\", \"pad\": \"{}\"}}"#,
                "x".repeat(5000)
            ),
        );
        let (code, _, body) = send(&api(MockServiceController::new(), None, &["*"]), &big).await;
        assert_eq!(code, 413, "{body}");
    }

    #[tokio::test]
    async fn a_backend_failure_is_a_5xx_with_a_safe_message() {
        let mut m = MockServiceController::new();
        m.expect_start().returning(|_| {
            Err(Error::backend(
                "ecs:UpdateService",
                "dispatch failure: io error: connection reset; request id 123 key AKIDEXAMPLE",
            ))
        });
        let (code, _, body) = send(
            &api(m, None, &["*"]),
            include_str!("fixtures/apigw_http_start.json"),
        )
        .await;
        assert_eq!(code, 502);
        let text = body["error"].as_str().unwrap();
        assert!(
            !text.contains("AKID") && !text.contains("connection reset"),
            "{text}"
        );
        let mut m = MockServiceController::new();
        m.expect_start().returning(|_| {
            Err(Error::Throttled {
                action: "ecs:UpdateService".into(),
            })
        });
        let (code, headers, _) = send(
            &api(m, None, &["*"]),
            include_str!("fixtures/apigw_http_start.json"),
        )
        .await;
        assert_eq!((code, headers["retry-after"].to_str().unwrap()), (503, "5"));
    }

    #[tokio::test]
    async fn with_iam_auth_only_what_api_gateway_authorized_acts() {
        let iam = |mock| {
            Api::new(
                Arc::new(mock),
                Access {
                    signed_only: true,
                    ..Access::default()
                },
            )
        };
        // An unsigned start (the name's $default route takes anything): refused, nothing called.
        let (code, _, body) = send(
            &iam(MockServiceController::new()),
            include_str!("fixtures/apigw_http_start.json"),
        )
        .await;
        assert_eq!(code, 403, "{body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("signed requests only")
        );
        // Signed and checked by API Gateway: started.
        let signed = include_str!("fixtures/apigw_http_start.json").replace(
            r#""requestId": "Vb1ZsFx5CGEFgxw=","#,
            r#""requestId": "Vb1ZsFx5CGEFgxw=", "authorizer": {"iam": {"accessKey": "AKIAEXAMPLE", "accountId": "123456789012", "callerId": "AIDAEXAMPLE", "userArn": "arn:aws:iam::123456789012:user/ops", "userId": "AIDAEXAMPLE"}},"#,
        );
        assert_ne!(signed, include_str!("fixtures/apigw_http_start.json"));
        let (code, _, body) = send(&iam(starting_mock()), &signed).await;
        assert_eq!(code, 202, "{body}");
        // The status needs no signature (the name's wake page reads it).
        let mut m = MockServiceController::new();
        m.expect_status()
            .times(1)
            .returning(|| Ok(status(State::Stopped)));
        let (code, _, _) = send(&iam(m), include_str!("fixtures/apigw_rest_no_body.json")).await;
        assert_eq!(code, 200);
    }

    #[tokio::test]
    async fn get_serves_the_control_page() {
        let (code, headers, body) = send(
            &api(MockServiceController::new(), None, &["*"]),
            include_str!("fixtures/apigw_rest_get_page.json"),
        )
        .await;
        assert_eq!(code, 200);
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(body.as_str().unwrap().contains("Start Grafana"));
    }
}
