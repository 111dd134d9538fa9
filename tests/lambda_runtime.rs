//! The Lambda binary, end to end: driven through the Lambda Runtime API by a small emulator
//! on loopback, with the AWS backend (the real SDK) against the simulated ECS over the wire
//! stub, and no network path to the task, as where the module deploys it. Prints its cold
//! start.

use crate::support::command;
use grafana_ondemand::mock::runtime_api::RuntimeApi;
use grafana_ondemand::mock::wire::WireStub;
use grafana_ondemand::mock::{SimulatedEcs, Timing};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const TOKEN: &str = "s3cret-token-from-parameter-store";
const PARAMETER: &str = "/grafana-ondemand/grafana/api-token";

fn event(method: &str, body: Option<&str>) -> Value {
    let mut e: Value =
        serde_json::from_str(include_str!("../examples/fixtures/apigw_http_start.json")).unwrap();
    e["headers"]["authorization"] = json!(format!("Bearer {TOKEN}"));
    e["requestContext"]["http"]["method"] = json!(method);
    e["routeKey"] = json!(format!("{method} /grafana"));
    e["body"] = body.map(|b| json!(b)).unwrap_or(Value::Null);
    e
}

/// What the Lambda binary did with its invocations.
struct Invoked {
    /// The answers, by invocation id, in the order they came.
    answers: Vec<(String, Value)>,
    /// From spawn to its first `next` (its init).
    init: Duration,
    /// From spawn to its first answer.
    first_answer: Duration,
    /// Everything it logged (standard output and error).
    output: String,
}

/// Serves `cases` to the Lambda binary through the Runtime API.
async fn invoke(cases: &[(&str, Value)], env: &[(&str, String)]) -> Invoked {
    let mut api = RuntimeApi::start(
        cases
            .iter()
            .map(|(id, e)| (id.to_string(), e.clone()))
            .collect(),
    )
    .await
    .unwrap();

    // LAMBDA_BINARY: measure another build, such as the `bootstrap` inside bootstrap.zip.
    let mut lambda = command("lambda");
    if let Ok(binary) = std::env::var("LAMBDA_BINARY") {
        let mut other = std::process::Command::new(binary);
        for (key, value) in lambda.get_envs() {
            match value {
                Some(v) => other.env(key, v),
                None => other.env_remove(key),
            };
        }
        lambda = other;
    }
    for (key, value) in env {
        lambda.env(key, value);
    }
    for (key, value) in api.function_env() {
        lambda.env(key, value);
    }
    let mut lambda = tokio::process::Command::from(lambda);
    let spawned = Instant::now();
    let mut child = lambda
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("lambda starts");
    let drain = |pipe: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>| {
        tokio::spawn(async move {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut text).await;
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let mut got = Vec::new();
    let mut first_answer = None;
    while got.len() < cases.len() {
        let answer = api
            .answer(Duration::from_secs(60))
            .await
            .expect("answer in time");
        first_answer.get_or_insert_with(|| spawned.elapsed());
        got.push(answer);
    }
    let init = api.first_next().map(|t| t - spawned).unwrap();
    child.kill().await.ok();
    let output = format!("{}{}", stdout.await.unwrap(), stderr.await.unwrap());
    Invoked {
        answers: got,
        init,
        first_answer: first_answer.unwrap(),
        output,
    }
}

/// The environment the module gives the function, pointed at the stub.
fn aws_env(stub: &WireStub) -> Vec<(&'static str, String)> {
    vec![
        ("CLUSTER_NAME", "ondemand".into()),
        ("SERVICE_NAME", "grafana".into()),
        ("SERVICE_ADDRESS", "public".into()),
        ("AWS_REGION", "eu-west-3".into()),
        ("AWS_ENDPOINT_URL", stub.uri()),
        (
            "AWS_ACCESS_KEY_ID",
            grafana_ondemand_mock::wire::sigv4::ACCESS_KEY_ID.into(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY",
            grafana_ondemand_mock::wire::sigv4::SECRET_ACCESS_KEY.into(),
        ),
        // Lambda gives a function its role's temporary credentials: every request carries
        // their session token, signed with it.
        ("AWS_SESSION_TOKEN", "FQoGZXIvYXdzEXAMPLEsession".into()),
        ("ACCESS_TOKEN_PARAMETER", PARAMETER.into()),
        ("ALLOWED_ORIGINS", "https://dash.example.com".into()),
        ("ACTIVITY_LOG_GROUP", "/ecs/grafana-ondemand".into()),
        // No grace: a session nobody used is stopped at the first scheduled reap.
        ("STARTUP_GRACE", "0s".into()),
    ]
}

/// SSM GetParameter on the stub, as the module's SecureString token answers it (decrypted,
/// since the function asks WithDecryption).
async fn serve_the_token(stub: &WireStub) {
    serve_parameter(stub, PARAMETER, TOKEN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_invocations_through_the_runtime_api() {
    // A Fargate start fifty times faster, on the real clock; nothing answers on the task's
    // address: only ECS's container health can say it runs.
    let ecs = SimulatedEcs::new(Timing::fargate().scaled(0.02));
    ecs.set_reachable(false);
    let stub = WireStub::start(ecs.clone()).await;
    serve_the_token(&stub).await;
    let cases = [
        ("status", event("POST", Some(r#"{"action": "status"}"#))),
        ("start", event("POST", Some(r#"{"action": "start"}"#))),
        (
            "start-wait",
            event("POST", Some(r#"{"action": "start", "wait": 20}"#)),
        ),
        ("page", event("GET", None)),
        ("bad", event("POST", Some(r#"{"action": "restart"}"#))),
        (
            "huge-wait",
            event("POST", Some(r#"{"action": "status", "wait": 1e308}"#)),
        ),
        // What the module's EventBridge Scheduler schedule sends every minute.
        ("reap", json!({"grafana-ondemand": "reap"})),
        ("after-reap", event("POST", Some(r#"{"action": "status"}"#))),
        ("stop", event("POST", Some(r#"{"action": "stop"}"#))),
    ];
    let Invoked {
        answers: got,
        init,
        first_answer,
        ..
    } = invoke(&cases, &aws_env(&stub)).await;
    println!(
        "lambda cold start through the runtime API (AWS backend): init {init:?}, first answer {first_answer:?}"
    );

    let by_id = |id: &str| {
        got.iter()
            .find(|(i, _)| i == id)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let body = |v: &Value| serde_json::from_str::<Value>(v["body"].as_str().unwrap()).unwrap();
    let status = by_id("status");
    assert_eq!(status["statusCode"], 200, "{status}");
    assert_eq!(body(&status)["status"], "stopped");
    assert_eq!(
        status["headers"]["access-control-allow-origin"],
        "https://dash.example.com"
    );
    let start = by_id("start");
    assert_eq!(
        (
            start["statusCode"].as_u64(),
            body(&start)["status"].as_str()
        ),
        (Some(202), Some("starting"))
    );
    let up = by_id("start-wait");
    assert_eq!(up["statusCode"], 200, "{up}");
    assert_eq!(body(&up)["status"], "running", "{up}");
    assert_eq!(body(&up)["readyBy"], "ecs-health", "{up}");
    assert!(
        body(&up)["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.")
    );
    let page = by_id("page");
    assert!(page["body"].as_str().unwrap().contains("Start Grafana"));
    let bad = by_id("bad");
    assert_eq!(bad["statusCode"], 400);
    assert!(
        body(&bad)["error"]
            .as_str()
            .unwrap()
            .contains("valid actions are start, stop, status")
    );
    assert_eq!(
        by_id("huge-wait")["statusCode"],
        200,
        "a huge wait is capped, not a panic"
    );
    // The scheduled event is told from an HTTP one: nobody used Grafana, so it stops, and
    // the next status says why.
    let reaped = by_id("reap");
    assert_eq!(reaped["status"], "stopping", "{reaped}");
    assert!(
        reaped["reason"]
            .as_str()
            .unwrap()
            .contains("nobody used it"),
        "{reaped}"
    );
    let after = body(&by_id("after-reap"));
    assert_eq!(after["status"], "stopping", "{after}");
    assert!(
        after["reason"].as_str().unwrap().contains("nobody used it"),
        "{after}"
    );
    assert!(ecs.call_count("FilterLogEvents") >= 1, "{:?}", ecs.calls());
    assert_eq!(body(&by_id("stop"))["status"], "stopping");
    assert!(ecs.call_count("UpdateService") >= 2, "{:?}", ecs.calls());

    // Every call the function made, its token read included, is one the module grants.
    let calls = crate::iam::recorded(&stub).await;
    assert!(
        calls.iter().any(|c| c.action == "ssm:GetParameter"),
        "the token was read from Parameter Store"
    );
    crate::iam::assert_granted(&crate::iam::module_policy(Some(PARAMETER)), &calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_service_the_binary_refuses_to_start_and_says_what_to_set() {
    let out = tokio::process::Command::from(command("lambda"))
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("AWS_REGION", "eu-west-3")
        .output()
        .await
        .expect("lambda runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("CLUSTER_NAME") && stderr.contains("SERVICE_NAME"),
        "{stderr}"
    );
}

const WEBHOOK_PARAMETER: &str = "/grafana-ondemand/grafana/notify-webhook";
const TOPIC: &str = "arn:aws:sns:eu-west-3:123456789012:grafana-ondemand-events";
const ZONE: &str = "Z0SIMULATED42";

/// An ECS event fixture, in the shape AWS documents, as written (its own task, its own date).
fn fixture(name: &str) -> Value {
    let text = match name {
        "running" => include_str!("../examples/fixtures/ecs_task_running.json"),
        "stopped" => include_str!("../examples/fixtures/ecs_task_stopped.json"),
        "failed" => include_str!("../examples/fixtures/ecs_task_failed_to_start.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).unwrap()
}

/// SSM GetParameter answering a SecureString.
pub(crate) async fn serve_parameter(stub: &WireStub, name: &str, value: &str) {
    use wiremock::matchers::{body_partial_json, header};
    wiremock::Mock::given(header("x-amz-target", "AmazonSSM.GetParameter"))
        .and(body_partial_json(json!({"Name": name, "WithDecryption": true})))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_raw(
            json!({"Parameter": {"Name": name, "Type": "SecureString", "Value": value, "Version": 1,
                "ARN": format!("arn:aws:ssm:eu-west-3:123456789012:parameter{name}"), "DataType": "text"}})
            .to_string(),
            "application/x-amz-json-1.1",
        ))
        .with_priority(1)
        .mount(stub.server())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecs_events_point_the_name_and_are_told_once() {
    let ecs = SimulatedEcs::new(Timing::fargate().scaled(0.02));
    ecs.set_reachable(false);
    ecs.add_hosted_zone(ZONE, "example.com");
    let stub = WireStub::start(ecs.clone()).await;
    serve_the_token(&stub).await;
    stub.serve_topic(TOPIC).await;
    // The webhook: another server on loopback, its URL a secret in Parameter Store.
    let webhook = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&webhook)
        .await;
    serve_parameter(
        &stub,
        WEBHOOK_PARAMETER,
        &format!("{}/hooks/T000/B000", webhook.uri()),
    )
    .await;

    let mut env = aws_env(&stub);
    env.extend([
        ("PUBLIC_NAME", "grafana.example.com".to_owned()),
        ("DNS_ZONE_ID", ZONE.to_owned()),
        ("NOTIFY_TOPIC_ARN", TOPIC.to_owned()),
        ("NOTIFY_WEBHOOK_PARAMETER", WEBHOOK_PARAMETER.to_owned()),
    ]);
    // First a start, through one instance: the world now runs a task.
    let started = invoke(
        &[(
            "start-wait",
            event("POST", Some(r#"{"action": "start", "wait": 20}"#)),
        )],
        &env,
    )
    .await
    .answers;
    let (task_arn, task_ip) = ecs.serving().expect("a task serves after the start");
    // The name holds the task's address (the Lambda pointed it while reading the status).
    assert_eq!(
        ecs.records(ZONE, "grafana.example.com"),
        vec![grafana_ondemand::NameRecord::address(task_ip, 30)]
    );
    // Then ECS's events about that task, stamped on the world's clock, through another
    // instance; the failure is a task of its own that never ran.
    let stamped = grafana_ondemand::mock::stamped_fixture;
    let of_the_task = |name: &str| stamped(&fixture(name), Some(&task_arn), ecs.now());
    let mut other_service = of_the_task("running");
    other_service["detail"]["group"] = json!("service:someone-else");
    let cases = [
        ("running", of_the_task("running")),
        // EventBridge delivers at least once: the same event again.
        ("running-again", of_the_task("running")),
        ("other-service", other_service),
        ("stop", event("POST", Some(r#"{"action": "stop"}"#))),
        ("stopped", of_the_task("stopped")),
        ("failed", stamped(&fixture("failed"), None, ecs.now())),
        ("status", event("POST", Some(r#"{"action": "status"}"#))),
    ];
    let handled = invoke(&cases, &env).await;
    let mut got = handled.answers;
    got.extend(started);
    let by_id = |id: &str| {
        got.iter()
            .find(|(i, _)| i == id)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let body = |v: &Value| serde_json::from_str::<Value>(v["body"].as_str().unwrap()).unwrap();

    let up = body(&by_id("start-wait"));
    assert_eq!(up["status"], "running", "{up}");
    assert_eq!(up["url"], "https://grafana.example.com", "{up}");
    let running = by_id("running");
    assert_eq!(running["sent"], true, "{running}");
    assert_eq!(running["notice"]["kind"], "running");
    assert_eq!(by_id("running-again")["sent"], false);
    assert_eq!(by_id("other-service")["ignored"], "not about this service");
    let stopped = by_id("stopped");
    assert_eq!(stopped["sent"], true, "{stopped}");
    let failed = by_id("failed");
    assert_eq!(failed["notice"]["kind"], "failed", "{failed}");

    // The webhook got exactly the three notices, in Slack's shape.
    let posts: Vec<Value> = webhook
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let texts: Vec<&str> = posts.iter().map(|p| p["text"].as_str().unwrap()).collect();
    assert_eq!(texts.len(), 3, "{texts:#?}");
    assert_eq!(texts[0], "Grafana is running: https://grafana.example.com");
    // The world's task, stopped by the request: the controller's record says so (ECS's own
    // sentence, "Scaling activity initiated by …", is for a stop made elsewhere).
    assert_eq!(texts[1], "Grafana stopped on request.");
    assert!(
        texts[2].starts_with("Grafana failed: CannotPullContainerError"),
        "{}",
        texts[2]
    );
    // And CloudWatch metrics, one Embedded Metric Format line each, on the function's output
    // (its log group): the start's phases, the session's minutes, the failure.
    let lines = emf_lines(&handled.output);
    let figures =
        |name: &str| -> Vec<f64> { lines.iter().filter_map(|l| l[name].as_f64()).collect() };
    assert_eq!(lines.len(), 3, "{:#?}", handled.output);
    let ready = figures("StartToReady");
    assert!(ready.len() == 1 && ready[0] > 0.0, "{lines:#?}");
    assert_eq!(figures("Pulling").len(), 1, "{lines:#?}");
    assert_eq!(figures("SessionMinutes").len(), 1, "{lines:#?}");
    assert_eq!(figures("Failures"), [1.0]);

    // And SNS the same three.
    let calls = crate::iam::recorded(&stub).await;
    assert_eq!(
        calls.iter().filter(|c| c.action == "sns:Publish").count(),
        3
    );

    // The record pointed at the task while it ran, and is parked now.
    assert_eq!(
        ecs.records(ZONE, "grafana.example.com"),
        vec![grafana_ondemand::NameRecord::address(
            grafana_ondemand::PARKED.into(),
            30
        )]
    );
    let changes = calls
        .iter()
        .filter(|c| c.action == "route53:ChangeResourceRecordSets")
        .count();
    assert!(changes >= 2, "pointed, then parked: {changes}");

    // Every call is one the module grants with the name, the topic and the webhook on.
    let policy = crate::iam::module_policy_with(&[
        ("token_parameter_arn", crate::iam::parameter_arn(PARAMETER)),
        ("hosted_zone_arn", crate::iam::hosted_zone_arn(ZONE)),
        ("public_name", "grafana.example.com".into()),
        ("topic_arn", TOPIC.into()),
        (
            "webhook_parameter_arn",
            crate::iam::parameter_arn(WEBHOOK_PARAMETER),
        ),
    ]);
    crate::iam::assert_granted(&policy, &calls);
    // With the module's customer key on, SSM and SNS use it for the Lambda: the key's
    // statements grant that, and without them (as before) every read and notice fails.
    let with_key = |ssm: bool, sns: bool| {
        crate::iam::module_policy_with(&[
            ("token_parameter_arn", crate::iam::parameter_arn(PARAMETER)),
            ("topic_arn", TOPIC.into()),
            (
                "webhook_parameter_arn",
                crate::iam::parameter_arn(WEBHOOK_PARAMETER),
            ),
            (
                "ssm_key_arn",
                if ssm {
                    crate::iam::KEY.into()
                } else {
                    String::new()
                },
            ),
            (
                "sns_key_arn",
                if sns {
                    crate::iam::KEY.into()
                } else {
                    String::new()
                },
            ),
        ])
    };
    let key_use = crate::iam::key_use(&calls, crate::iam::KEY);
    for service in ["ssm.", "sns."] {
        assert!(
            key_use
                .iter()
                .any(|c| c.context["kms:ViaService"].starts_with(service)),
            "{key_use:?}"
        );
    }
    crate::iam::assert_granted(&with_key(true, true), &key_use);
    for (ssm, sns, service) in [(false, true, "ssm."), (true, false, "sns.")] {
        let denied: Vec<_> = key_use
            .iter()
            .filter(|c| !crate::iam::allows(&with_key(ssm, sns), c))
            .collect();
        assert!(
            !denied.is_empty()
                && denied
                    .iter()
                    .all(|c| c.context["kms:ViaService"].starts_with(service)),
            "{denied:?}"
        );
    }
    // Without the name's grant, its changes are denied: the check can fail.
    let without = crate::iam::module_policy_with(&[
        ("token_parameter_arn", crate::iam::parameter_arn(PARAMETER)),
        ("topic_arn", TOPIC.into()),
        (
            "webhook_parameter_arn",
            crate::iam::parameter_arn(WEBHOOK_PARAMETER),
        ),
    ]);
    assert!(
        calls
            .iter()
            .any(|c| c.action.starts_with("route53:") && !crate::iam::allows(&without, c))
    );
}

const SESSION: &str = "9f1c0ffee5ecre7c0ffee5ecre7c0ffee";

/// The front door's secret origin header in these tests.
const DOOR: &str = "the-door-secret-0123456789abcdef";

/// A request at the public name, as API Gateway hands it on from the front door (CloudFront
/// sends the API's own `Host` and adds its secret header): a navigation with Grafana's session
/// cookie, by default.
fn at_the_name(method: &str, path: &str, mode: &str, body: Option<&str>) -> Value {
    let mut e: Value = serde_json::from_str(include_str!(
        "../examples/fixtures/apigw_http_at_the_name.json"
    ))
    .unwrap();
    e["rawPath"] = json!(path);
    e["requestContext"]["http"]["method"] = json!(method);
    e["requestContext"]["http"]["path"] = json!(path);
    e["headers"]["sec-fetch-mode"] = json!(mode);
    if mode != "navigate" {
        e["headers"]["accept"] = json!("application/json");
        e["headers"]["authorization"] = json!(format!("Bearer {TOKEN}"));
    }
    e["body"] = body.map(|b| json!(b)).unwrap_or(Value::Null);
    e
}

/// What the door sends: `at_the_name` with the door's secret.
fn through_door(method: &str, path: &str, mode: &str, body: Option<&str>) -> Value {
    let mut e = at_the_name(method, path, mode, body);
    e["headers"]["x-grafana-ondemand-door"] = json!(DOOR);
    e
}

/// While Grafana sleeps the door sends a person's navigation to the API: the function, driven
/// as API Gateway drives it behind the door, gives it the wake page, an open tab's refresh a
/// 503, starts only at the page's button, and writes the door's entry (signed for the
/// KeyValueStore, granted by the module's policy on that store only); a request without the
/// secret is a direct call. Grafana's session cookie, which comes along at the same origin,
/// is never logged, even at the most verbose level (lambda_runtime logs every raw event at
/// TRACE).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_door_the_wake_page_starts_nothing_and_no_cookie_is_logged() {
    use crate::scenarios::{STORE, door_entry_of};
    let ecs = SimulatedEcs::new(Timing::fargate().scaled(0.02));
    ecs.set_reachable(false);
    ecs.add_key_value_store(STORE);
    let stub = WireStub::start(ecs.clone()).await;
    serve_the_token(&stub).await;
    let mut env = aws_env(&stub);
    env.extend([
        ("PUBLIC_NAME", "grafana.example.com".to_owned()),
        ("DOOR_KVS_ARN", STORE.to_owned()),
        ("DOOR_SECRET", DOOR.to_owned()),
        // The most verbose a user can ask for, the raw events named too.
        (
            "RUST_LOG",
            "trace,lambda_runtime::layers::api_response=trace".to_owned(),
        ),
    ]);
    let cases = [
        (
            "navigation",
            through_door("GET", "/d/abc/team-dashboard", "navigate", None),
        ),
        (
            "direct",
            at_the_name("GET", "/d/abc/team-dashboard", "navigate", None),
        ),
        (
            "refresh",
            through_door("POST", "/api/ds/query", "cors", Some("{}")),
        ),
        (
            "status",
            through_door(
                "POST",
                "/_ondemand/",
                "cors",
                Some(r#"{"action": "status"}"#),
            ),
        ),
        (
            "wake",
            through_door(
                "POST",
                "/_ondemand/",
                "cors",
                Some(r#"{"action": "start", "wait": 20}"#),
            ),
        ),
    ];
    let Invoked {
        answers, output, ..
    } = invoke(&cases, &env).await;
    let by_id = |id: &str| {
        answers
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let navigation = by_id("navigation");
    assert_eq!(navigation["statusCode"], 200, "{navigation}");
    assert!(
        navigation["body"]
            .as_str()
            .unwrap()
            .contains(r#"data-mode="wake""#)
    );
    assert_eq!(navigation["headers"]["x-grafana-ondemand"], "controller");
    let direct = by_id("direct");
    assert!(
        direct["body"]
            .as_str()
            .unwrap()
            .contains(r#"data-mode="control""#),
        "without the secret, a direct call: {direct}"
    );
    let refresh = by_id("refresh");
    assert_eq!(refresh["statusCode"], 503, "{refresh}");
    assert_eq!(refresh["headers"]["retry-after"], "30");
    assert_eq!(by_id("status")["statusCode"], 200);
    let wake = by_id("wake");
    assert_eq!(wake["statusCode"], 200, "{wake}");
    let woke: Value = serde_json::from_str(wake["body"].as_str().unwrap()).unwrap();
    assert_eq!(woke["status"], "running", "{woke}");
    assert_eq!(woke["url"], "https://grafana.example.com");
    assert_eq!(
        ecs.call_count("UpdateService"),
        1,
        "only the button started it"
    );
    // The door leads to the task that answers, by its public DNS name.
    let (_, ip) = ecs.serving().expect("Grafana answers");
    let entry = door_entry_of(&ecs).expect("the entry was written");
    assert_eq!(
        entry
            .origin
            .as_deref()
            .and_then(|o| ecs.resolve_public_name(o)),
        Some(ip)
    );
    // Every call is one the module grants with the door; the store's, on that store only.
    let calls = crate::iam::recorded(&stub).await;
    let policy = crate::iam::module_policy_with(&[
        ("token_parameter_arn", crate::iam::parameter_arn(PARAMETER)),
        ("door_kvs_arn", STORE.to_owned()),
    ]);
    crate::iam::assert_granted(&policy, &calls);
    let without = crate::iam::module_policy_with(&[(
        "token_parameter_arn",
        crate::iam::parameter_arn(PARAMETER),
    )]);
    assert!(
        calls
            .iter()
            .any(|c| c.action == "cloudfront-keyvaluestore:PutKey"
                && !crate::iam::allows(&without, c))
    );
    assert!(
        output.contains("answered"),
        "the function logged its work: {output}"
    );
    assert!(
        !output.contains(SESSION) && !output.contains(TOKEN) && !output.contains(DOOR),
        "a cookie, the token or the door's secret in the logs: {output}"
    );
}

/// Anyone with the API's URL may read the status (unless `PROTECT_STATUS`): however many ask,
/// an instance reads AWS at most once per `STATUS_SHARE_MS` (1 s). Measured against the same
/// burst with sharing off, where every request costs its own read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_unauthenticated_status_reads_aws_once_a_second() {
    let ecs = SimulatedEcs::new(Timing::fargate());
    let stub = WireStub::start(ecs.clone()).await;
    serve_the_token(&stub).await;
    let ids: Vec<String> = (0..30).map(|i| format!("status-{i}")).collect();
    let cases: Vec<(&str, Value)> = ids
        .iter()
        .map(|id| {
            let mut e = event("POST", Some(r#"{"action": "status"}"#));
            e["headers"]
                .as_object_mut()
                .unwrap()
                .remove("authorization");
            (id.as_str(), e)
        })
        .collect();
    // Built before the clock starts: the first run must not time cargo.
    crate::support::example("lambda");
    let mut reads = Vec::new();
    for share in ["0", "1000"] {
        let mut env = aws_env(&stub);
        env.push(("STATUS_SHARE_MS", share.to_owned()));
        ecs.reset_calls();
        let begun = Instant::now();
        let invoked = invoke(&cases, &env).await;
        let took = begun.elapsed();
        for (id, answer) in &invoked.answers {
            assert_eq!(answer["statusCode"], 200, "{id}: {answer}");
        }
        let count = ecs.call_count("DescribeServices");
        println!(
            "STATUS_SHARE_MS={share}: {} status requests in {took:.2?}, {count} DescribeServices",
            cases.len()
        );
        reads.push((count, took));
    }
    assert_eq!(
        reads[0].0,
        cases.len() as u64,
        "unshared, each request reads"
    );
    let bound = reads[1].1.as_secs() + 1;
    assert!(
        reads[1].0 <= bound,
        "shared: {} reads in {:?}, at most {bound}",
        reads[1].0,
        reads[1].1
    );
}

/// The Embedded Metric Format lines of `output`, each checked against the specification
/// (docs.aws.amazon.com, CloudWatch_Embedded_Metric_Format_Specification): a root `_aws`
/// with an integer millisecond `Timestamp` and one or more `CloudWatchMetrics` directives,
/// each with a `Namespace`, `Dimensions` (sets of at most 30 keys, every key a string member
/// of the root) and at most 100 `Metrics` (a `Name`, a `Unit` CloudWatch knows), every
/// metric a number member of the root.
fn emf_lines(output: &str) -> Vec<Value> {
    const UNITS: &[&str] = &[
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];
    let now = chrono::Utc::now().timestamp_millis();
    output
        .lines()
        .filter(|l| l.starts_with('{') && l.contains("\"_aws\""))
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("an EMF line is one JSON object");
            let aws = &v["_aws"];
            let at = aws["Timestamp"]
                .as_i64()
                .expect("Timestamp: integer milliseconds");
            assert!(
                (now - at).abs() < 86_400_000,
                "Timestamp {at} is not now ({now})"
            );
            let directives = aws["CloudWatchMetrics"]
                .as_array()
                .expect("CloudWatchMetrics");
            assert!(!directives.is_empty());
            for d in directives {
                let ns = d["Namespace"].as_str().expect("Namespace");
                assert!((1..=1024).contains(&ns.len()));
                for set in d["Dimensions"].as_array().expect("Dimensions") {
                    let keys = set.as_array().expect("a dimension set");
                    assert!(keys.len() <= 30);
                    for k in keys {
                        let k = k.as_str().expect("a dimension key");
                        assert!(v[k].is_string(), "dimension {k} is no string member: {v}");
                    }
                }
                let metrics = d["Metrics"].as_array().expect("Metrics");
                assert!(!metrics.is_empty() && metrics.len() <= 100);
                for m in metrics {
                    let name = m["Name"].as_str().expect("Name");
                    assert!((1..=1024).contains(&name.len()));
                    let unit = m["Unit"].as_str().unwrap_or("None");
                    assert!(UNITS.contains(&unit), "unit {unit}");
                    assert!(
                        v[name].is_number(),
                        "metric {name} is no number member: {v}"
                    );
                }
            }
            v
        })
        .collect()
}
