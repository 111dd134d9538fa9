//! The AWS backend, with the real SDK clients, against the simulated ECS served over the real
//! ECS (JSON 1.1) and EC2 (query/XML) wire protocols.
//!
//! The scenarios run under tokio's paused clock like every other backend. Real sockets cannot
//! wait on a paused clock (it would jump ahead while a response is in flight), so each SDK
//! call runs on a small real-time runtime, awaited from `spawn_blocking`, which holds the
//! paused clock still until the answer is in. The model behind the stub follows the paused
//! clock, so ECS time still only moves when a scenario sleeps.

use crate::scenarios::World;
use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, error::CredentialsError, future};
use chrono::{DateTime, Utc};
use grafana_ondemand::aws::{Builder, Clock, EcsPlatform, RequestLog};
use grafana_ondemand::mock::wire::WireStub;
use grafana_ondemand::mock::{SimulatedEcs, SimulatedProbe, Timing};
use grafana_ondemand::{
    Controller, DesiredStatus, Error, LogPage, NameRecord, NetworkInterface, Platform,
    RecordChange, Result, ServiceController, ServiceProfile, ServiceSnapshot, State, StoreEntry,
    TaskPage, TaskSnapshot,
};
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use wiremock::matchers::{body_string_contains, header};
use wiremock::{Mock, ResponseTemplate};

/// A small real-time runtime, for work that must not run on a test's (paused) clock.
pub fn io() -> &'static tokio::runtime::Runtime {
    static IO: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    IO.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("io runtime")
    })
}

/// Runs `f` on the real-time runtime while the paused clock waits for it.
async fn off_clock<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> T {
    let io = io().handle().clone();
    tokio::task::spawn_blocking(move || io.block_on(f))
        .await
        .expect("io task")
}

#[derive(Debug, Clone)]
pub struct OffClock(Arc<EcsPlatform>);

#[async_trait]
impl Platform for OffClock {
    async fn describe_service(&self) -> Result<ServiceSnapshot> {
        let p = self.0.clone();
        off_clock(async move { p.describe_service().await }).await
    }
    async fn list_tasks(&self, desired: DesiredStatus, page: Option<String>) -> Result<TaskPage> {
        let p = self.0.clone();
        off_clock(async move { p.list_tasks(desired, page).await }).await
    }
    async fn describe_tasks(&self, arns: &[String]) -> Result<Vec<TaskSnapshot>> {
        let (p, arns) = (self.0.clone(), arns.to_vec());
        off_clock(async move { p.describe_tasks(&arns).await }).await
    }
    async fn describe_network_interfaces(&self, ids: &[String]) -> Result<Vec<NetworkInterface>> {
        let (p, ids) = (self.0.clone(), ids.to_vec());
        off_clock(async move { p.describe_network_interfaces(&ids).await }).await
    }
    async fn update_service(&self, desired: u32, force: bool) -> Result<ServiceSnapshot> {
        let p = self.0.clone();
        off_clock(async move { p.update_service(desired, force).await }).await
    }
    async fn tag_service(&self, tags: &[(&str, String)]) -> Result<()> {
        let p = self.0.clone();
        let tags: Vec<(String, String)> = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        off_clock(async move {
            let tags: Vec<(&str, String)> =
                tags.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            p.tag_service(&tags).await
        })
        .await
    }
    async fn request_log(
        &self,
        task_id: &str,
        since: DateTime<Utc>,
        filter: &str,
        page: Option<String>,
    ) -> Result<LogPage> {
        let (p, task_id, filter) = (self.0.clone(), task_id.to_owned(), filter.to_owned());
        off_clock(async move { p.request_log(&task_id, since, &filter, page).await }).await
    }
    async fn address_records(&self, zone_id: &str, name: &str) -> Result<Vec<NameRecord>> {
        let (p, zone_id, name) = (self.0.clone(), zone_id.to_owned(), name.to_owned());
        off_clock(async move { p.address_records(&zone_id, &name).await }).await
    }
    async fn change_address_records(
        &self,
        zone_id: &str,
        name: &str,
        changes: &[RecordChange],
    ) -> Result<String> {
        let (p, zone_id, name, changes) = (
            self.0.clone(),
            zone_id.to_owned(),
            name.to_owned(),
            changes.to_vec(),
        );
        off_clock(async move { p.change_address_records(&zone_id, &name, &changes).await }).await
    }
    async fn change_in_sync(&self, change_id: &str) -> Result<bool> {
        let (p, id) = (self.0.clone(), change_id.to_owned());
        off_clock(async move { p.change_in_sync(&id).await }).await
    }
    async fn door_entry(&self, store_arn: &str, key: &str) -> Result<StoreEntry> {
        let (p, arn, key) = (self.0.clone(), store_arn.to_owned(), key.to_owned());
        off_clock(async move { p.door_entry(&arn, &key).await }).await
    }
    async fn put_door_entry(
        &self,
        store_arn: &str,
        key: &str,
        value: &str,
        if_match: &str,
    ) -> Result<String> {
        let (p, arn, key, value, etag) = (
            self.0.clone(),
            store_arn.to_owned(),
            key.to_owned(),
            value.to_owned(),
            if_match.to_owned(),
        );
        off_clock(async move { p.put_door_entry(&arn, &key, &value, &etag).await }).await
    }
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
}

/// Where the module's task definition logs Grafana's requests.
pub fn request_log() -> RequestLog {
    RequestLog {
        group: "/ecs/grafana-ondemand".into(),
        stream_prefix: "grafana/grafana".into(),
    }
}

/// SDK settings a test uses: the stub's URL, static credentials, a fixed region, short backoff.
pub async fn sdk_config(uri: String, credentials: Option<Credentials>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(uri)
        .region(Region::new("eu-west-3"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(5)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(5))
                .build(),
        );
    loader = match credentials {
        Some(c) => loader.credentials_provider(c),
        None => loader.credentials_provider(NoCredentials),
    };
    loader.load().await
}

#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
            "no providers in chain provided credentials",
        )))
    }
}

fn test_credentials() -> Credentials {
    Credentials::new(
        grafana_ondemand::mock::wire::sigv4::ACCESS_KEY_ID,
        grafana_ondemand::mock::wire::sigv4::SECRET_ACCESS_KEY,
        None,
        None,
        "test",
    )
}

pub struct OverTheWire {
    pub stub: WireStub,
    pub controller: Controller<OffClock>,
}

impl OverTheWire {
    pub async fn new() -> Self {
        Self::named("ondemand", "grafana", Some(test_credentials())).await
    }

    async fn named(
        cluster: &'static str,
        service: &'static str,
        credentials: Option<Credentials>,
    ) -> Self {
        let ecs = SimulatedEcs::new(Timing::fargate());
        let stub = WireStub::start(ecs.clone()).await;
        let platform = platform(&ecs, stub.uri(), cluster, service, credentials).await;
        let probe = Arc::new(SimulatedProbe::new(ecs));
        let controller = Controller::new(platform, ServiceProfile::grafana(), probe);
        OverTheWire { stub, controller }
    }
}

/// The AWS backend with the real SDK clients, pointed at the stub.
async fn platform(
    ecs: &SimulatedEcs,
    uri: String,
    cluster: &'static str,
    service: &'static str,
    credentials: Option<Credentials>,
) -> OffClock {
    // The platform reads time as the simulated world does: tokio's paused clock.
    let world = ecs.clone();
    let platform = off_clock(async move {
        let sdk = sdk_config(uri, credentials).await;
        Builder::new()
            .cluster(cluster)
            .service(service)
            .sdk_config(sdk)
            .request_log(Some(request_log()))
            .clock(Clock::from_fn(move || world.now()))
            .build()
            .await
    })
    .await
    .expect("platform");
    OffClock(Arc::new(platform))
}

impl OverTheWire {
    /// A controller of its own (another Lambda instance) on the same stub.
    async fn second_process(&self, profile: ServiceProfile) -> Controller<OffClock> {
        let platform = platform(
            self.stub.ecs(),
            self.stub.uri(),
            "ondemand",
            "grafana",
            Some(test_credentials()),
        )
        .await;
        let probe = Arc::new(SimulatedProbe::new(self.stub.ecs().clone()));
        Controller::new(platform, profile, probe)
    }
}

impl World for OverTheWire {
    fn controller(&self) -> &dyn ServiceController {
        &self.controller
    }
    fn ecs(&self) -> &SimulatedEcs {
        self.stub.ecs()
    }
    async fn another_controller(&self, profile: ServiceProfile) -> Box<dyn ServiceController> {
        Box::new(self.second_process(profile).await)
    }
    async fn named_controller(
        &self,
        profile: ServiceProfile,
        zone: grafana_ondemand::HostedZone,
        notifier: Arc<dyn grafana_ondemand::Notifier>,
    ) -> Box<dyn crate::scenarios::Watcher> {
        Box::new(
            self.second_process(profile)
                .await
                .with_hosted_zone(zone)
                .expect("the profile has a name")
                .with_notifier(notifier),
        )
    }
    async fn door_controller(
        &self,
        profile: ServiceProfile,
        door: grafana_ondemand::FrontDoor,
        notifier: Arc<dyn grafana_ondemand::Notifier>,
    ) -> Box<dyn crate::scenarios::Watcher> {
        Box::new(
            self.second_process(profile)
                .await
                .with_front_door(door)
                .expect("a door alone")
                .with_notifier(notifier),
        )
    }
}

crate::scenario_suite!(OverTheWire::new().await);

// ---- what only the wire can show -------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn requests_speak_the_real_protocols() {
    let w = OverTheWire::new().await;
    w.controller
        .start(Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(w.controller.status().await.unwrap().state, State::Running);
    let requests = w.stub.server().received_requests().await.unwrap();
    let mut ops = std::collections::BTreeSet::new();
    for r in &requests {
        assert_eq!(r.method.as_str(), "POST");
        assert_eq!(r.url.path(), "/");
        assert!(
            r.headers
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        );
        match r.headers.get("x-amz-target") {
            Some(target) => {
                assert_eq!(
                    r.headers.get("content-type").unwrap(),
                    "application/x-amz-json-1.1"
                );
                let target = target.to_str().unwrap();
                let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                if let Some(op) = target.strip_prefix("Logs_20140328.") {
                    // One stream, bounded by time, filtered on CloudWatch's side.
                    assert_eq!(body["logGroupName"], "/ecs/grafana-ondemand", "{body}");
                    let stream = body["logStreamNames"][0].as_str().unwrap();
                    assert!(stream.starts_with("grafana/grafana/"), "{body}");
                    assert!(body["startTime"].as_i64().unwrap() > 1_700_000_000_000);
                    assert!(
                        body["filterPattern"]
                            .as_str()
                            .unwrap()
                            .contains("Request Completed")
                    );
                    ops.insert(op.to_owned());
                    continue;
                }
                let op = target
                    .strip_prefix("AmazonEC2ContainerServiceV20141113.")
                    .unwrap();
                if op == "DescribeServices" {
                    assert_eq!(body["include"], serde_json::json!(["TAGS"]), "{body}");
                }
                if op == "TagResource" {
                    assert_eq!(
                        body["resourceArn"],
                        "arn:aws:ecs:eu-west-3:123456789012:service/ondemand/grafana"
                    );
                } else {
                    assert_eq!(body["cluster"], "ondemand", "{op}: {body}");
                }
                ops.insert(op.to_owned());
            }
            None => {
                let body = String::from_utf8(r.body.clone()).unwrap();
                // By filter: a by-id call fails whole when one interface is gone.
                assert!(body.starts_with("Action=DescribeNetworkInterfaces&Version=2016-11-15&Filter.1.Name=network-interface-id&Filter.1.Value.1=eni-"), "{body}");
                ops.insert("DescribeNetworkInterfaces".to_owned());
            }
        }
    }
    let expected = [
        "DescribeNetworkInterfaces",
        "DescribeServices",
        "DescribeTasks",
        "FilterLogEvents",
        "ListTasks",
        "TagResource",
        "UpdateService",
    ];
    assert_eq!(ops.into_iter().collect::<Vec<_>>(), expected);
}

#[tokio::test(start_paused = true)]
async fn throttling_then_success_is_absorbed_by_the_sdk_retry() {
    let w = OverTheWire::new().await;
    w.stub.ecs().throttle_next_calls(2);
    assert_eq!(w.controller.status().await.unwrap().state, State::Stopped);
}

#[tokio::test(start_paused = true)]
async fn throttling_past_the_retry_budget_is_throttled() {
    let w = OverTheWire::new().await;
    w.stub.ecs().throttle_next_calls(100);
    match w.controller.status().await {
        Err(e @ Error::Throttled { .. }) => assert!(e.is_retryable()),
        other => panic!("expected Throttled, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn access_denied_names_the_iam_action() {
    let w = OverTheWire::new().await;
    w.stub.ecs().deny("UpdateService");
    match w.controller.start(None).await {
        Err(Error::PermissionDenied { action }) => assert_eq!(action, "ecs:UpdateService"),
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn ec2_access_denied_names_the_ec2_action() {
    let w = OverTheWire::new().await;
    w.stub.ecs().deny("DescribeNetworkInterfaces");
    w.controller.start(None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    match w.controller.status().await {
        Err(Error::PermissionDenied { action }) => {
            assert_eq!(action, "ec2:DescribeNetworkInterfaces")
        }
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_missing_cluster_is_named() {
    let w = OverTheWire::named("nope", "grafana", Some(test_credentials())).await;
    match w.controller.status().await {
        Err(Error::ClusterNotFound { cluster }) => assert_eq!(cluster, "nope"),
        other => panic!("expected ClusterNotFound, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_missing_service_answered_as_missing_is_named() {
    let w = OverTheWire::named("ondemand", "grafana-typo", Some(test_credentials())).await;
    for result in [w.controller.status().await, w.controller.start(None).await] {
        match result {
            Err(Error::ServiceNotFound { cluster, service }) => assert_eq!(
                (cluster.as_str(), service.as_str()),
                ("ondemand", "grafana-typo")
            ),
            other => panic!("expected ServiceNotFound, got {other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn missing_credentials_are_named_at_the_first_call() {
    let w = OverTheWire::named("ondemand", "grafana", None).await;
    match w.controller.status().await {
        Err(Error::InvalidConfig { setting, problem }) => {
            assert_eq!(setting, "AWS credentials");
            assert!(problem.contains("AWS_PROFILE"), "{problem}");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_truncated_answer_is_a_backend_error_not_a_panic() {
    let w = OverTheWire::new().await;
    Mock::given(header(
        "x-amz-target",
        "AmazonEC2ContainerServiceV20141113.DescribeServices",
    ))
    .respond_with(ResponseTemplate::new(200).set_body_raw(
        r#"{"services": [{"serviceName": "graf"#,
        "application/x-amz-json-1.1",
    ))
    .with_priority(1)
    .mount(w.stub.server())
    .await;
    match w.controller.status().await {
        Err(e @ Error::Backend { .. }) => {
            assert!(e.to_string().contains("ecs:DescribeServices"), "{e}")
        }
        other => panic!("expected Backend, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn answers_with_missing_fields_do_not_panic() {
    let w = OverTheWire::new().await;
    w.controller.start(None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    Mock::given(header(
        "x-amz-target",
        "AmazonEC2ContainerServiceV20141113.DescribeServices",
    ))
    .respond_with(ResponseTemplate::new(200).set_body_raw(
        r#"{"services": [{"desiredCount": 1}]}"#,
        "application/x-amz-json-1.1",
    ))
    .with_priority(1)
    .mount(w.stub.server())
    .await;
    Mock::given(header("x-amz-target", "AmazonEC2ContainerServiceV20141113.DescribeTasks"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(r#"{"tasks": [{}, {"lastStatus": "RUNNING", "attachments": [{"type": "ElasticNetworkInterface"}]}]}"#, "application/x-amz-json-1.1"))
        .with_priority(1)
        .mount(w.stub.server())
        .await;
    let s = w.controller.status().await.unwrap();
    assert_eq!(s.state, State::Starting, "{s:?}");
    assert!(s.endpoint.is_none());
    let described = w
        .stub
        .server()
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| {
            r.headers
                .get("x-amz-target")
                .is_some_and(|t| t.to_str().unwrap().ends_with(".DescribeTasks"))
        })
        .count();
    assert_eq!(described, 1, "the odd DescribeTasks answer was read");
}

#[tokio::test(start_paused = true)]
async fn malformed_ec2_xml_is_a_backend_error_naming_the_call() {
    let w = OverTheWire::new().await;
    w.controller.start(None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    Mock::given(body_string_contains("Action=DescribeNetworkInterfaces"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("}}} this is not XML", "text/xml"))
        .with_priority(1)
        .mount(w.stub.server())
        .await;
    match w.controller.status().await {
        Err(e @ Error::Backend { .. }) => assert!(
            e.to_string().contains("ec2:DescribeNetworkInterfaces"),
            "{e}"
        ),
        other => panic!("expected Backend, got {other:?}"),
    }
}

/// A `POST` made by hand to the stub, off the paused clock: its status and body.
async fn post_by_hand(uri: String, body: String, headers: Vec<(String, Vec<u8>)>) -> (u16, String) {
    off_clock(async move {
        let mut request = reqwest::Client::new().post(uri).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let r = request.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
    .await
}

/// What the stub received, as a request made by hand would send it again (its body, and its
/// headers but the length).
fn as_received(request: &wiremock::Request) -> (String, Vec<(String, Vec<u8>)>) {
    let headers = request
        .headers
        .iter()
        .filter(|(name, _)| *name != "content-length")
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    (String::from_utf8_lossy(&request.body).into_owned(), headers)
}

/// The EC2 requests the stub received.
async fn ec2_requests(stub: &WireStub) -> usize {
    stub.server()
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| {
            String::from_utf8_lossy(&r.body).starts_with("Action=DescribeNetworkInterfaces")
        })
        .count()
}

#[tokio::test(start_paused = true)]
async fn ec2_throttling_is_retried_as_the_sdk_retries() {
    let w = OverTheWire::new().await;
    w.controller.start(None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let eni = w.stub.ecs().tasks()[0].network.eni_id.clone().unwrap();
    let throttled = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>1</RequestID></Response>";
    Mock::given(body_string_contains("Action=DescribeNetworkInterfaces"))
        .respond_with(ResponseTemplate::new(503).set_body_raw(throttled, "text/xml"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(w.stub.server())
        .await;
    let before = ec2_requests(&w.stub).await;
    let found = w
        .controller
        .platform()
        .describe_network_interfaces(std::slice::from_ref(&eni))
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "the third attempt is answered");
    assert_eq!(ec2_requests(&w.stub).await - before, 3);
    // Past the configured attempts (3), the call is Throttled, and retryable.
    Mock::given(body_string_contains("Action=DescribeNetworkInterfaces"))
        .respond_with(ResponseTemplate::new(503).set_body_raw(throttled, "text/xml"))
        .with_priority(1)
        .mount(w.stub.server())
        .await;
    let before = ec2_requests(&w.stub).await;
    match w
        .controller
        .platform()
        .describe_network_interfaces(&[eni])
        .await
    {
        Err(e @ Error::Throttled { .. }) => assert!(e.is_retryable()),
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert_eq!(ec2_requests(&w.stub).await - before, 3);
}

#[tokio::test(start_paused = true)]
async fn an_ec2_request_signed_with_a_wrong_secret_is_refused_as_ec2_refuses_it() {
    let wrong = Credentials::new(
        grafana_ondemand::mock::wire::sigv4::ACCESS_KEY_ID,
        "not-the-secret-of-that-key",
        None,
        None,
        "test",
    );
    let w = OverTheWire::named("ondemand", "grafana", Some(wrong)).await;
    let found = w
        .controller
        .platform()
        .describe_network_interfaces(&["eni-0123456789abcdef0".to_owned()])
        .await;
    match found {
        Err(Error::InvalidConfig { setting, problem }) => {
            assert_eq!(setting, "AWS credentials");
            assert!(
                problem.contains("ec2:DescribeNetworkInterfaces"),
                "{problem}"
            );
            assert!(problem.contains("AWS_SECRET_ACCESS_KEY"), "{problem}");
        }
        other => panic!("expected a credentials error, got {other:?}"),
    }
    // Not retried: a refused signature stays refused.
    assert_eq!(ec2_requests(&w.stub).await, 1);
    // A request whose body changed after signing is refused too (the stub reads the
    // signature back from the wire, as EC2 does).
    let good = OverTheWire::new().await;
    good.controller
        .platform()
        .describe_network_interfaces(&["eni-0123456789abcdef0".to_owned()])
        .await
        .unwrap();
    let signed = good
        .stub
        .server()
        .received_requests()
        .await
        .unwrap_or_default();
    let (body, headers) = as_received(signed.last().unwrap());
    let tampered = body.replace("Value.1=eni-0", "Value.1=eni-1");
    let (code, body) = post_by_hand(good.stub.uri(), tampered, headers).await;
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("<Code>AuthFailure</Code>"), "{body}");
    assert!(body.contains("signature"), "{body}");
}

#[tokio::test(start_paused = true)]
async fn an_ec2_request_carries_and_signs_the_session_token_of_temporary_credentials() {
    // What a Lambda function has: its role's temporary credentials, with a session token.
    let temporary = Credentials::new(
        grafana_ondemand::mock::wire::sigv4::ACCESS_KEY_ID,
        grafana_ondemand::mock::wire::sigv4::SECRET_ACCESS_KEY,
        Some("FQoGZXIvYXdzEXAMPLEsession".to_owned()),
        None,
        "test",
    );
    let w = OverTheWire::named("ondemand", "grafana", Some(temporary)).await;
    w.controller
        .platform()
        .describe_network_interfaces(&["eni-0123456789abcdef0".to_owned()])
        .await
        .unwrap();
    let received = w
        .stub
        .server()
        .received_requests()
        .await
        .unwrap_or_default();
    let sent = received.last().unwrap();
    assert_eq!(
        sent.headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok()),
        Some("FQoGZXIvYXdzEXAMPLEsession")
    );
    let authorization = sent.headers.get("authorization").unwrap().to_str().unwrap();
    assert!(
        authorization.contains("x-amz-security-token"),
        "the token is among the signed headers: {authorization}"
    );
    // Another token under the same signature is refused.
    let (body, mut headers) = as_received(sent);
    for (name, value) in &mut headers {
        if name == "x-amz-security-token" {
            *value = b"FQoGZXIvYXdzEXAMPLEother".to_vec();
        }
    }
    let (code, body) = post_by_hand(w.stub.uri(), body, headers).await;
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("<Code>AuthFailure</Code>"), "{body}");
}

#[tokio::test(start_paused = true)]
async fn a_vanished_interface_leaves_out_only_itself() {
    let w = OverTheWire::new().await;
    w.controller.start(None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let eni = w.stub.ecs().tasks()[0].network.eni_id.clone().unwrap();
    let gone = "eni-0000000000deadbee".to_owned();
    // EC2 itself fails a whole by-id call for one missing interface, and so does the stub.
    let by_id = format!(
        "Action=DescribeNetworkInterfaces&Version=2016-11-15&NetworkInterfaceId.1={eni}&NetworkInterfaceId.2={gone}"
    );
    let uri = w.stub.uri();
    let headers =
        grafana_ondemand::mock::wire::sigv4::signed_form_headers(&uri, &by_id, "ec2", "eu-west-3");
    let headers = headers
        .into_iter()
        .map(|(name, value)| (name, value.into_bytes()))
        .collect();
    let (code, body) = post_by_hand(uri, by_id, headers).await;
    assert_eq!(code, 400);
    assert!(
        body.contains("InvalidNetworkInterfaceID.NotFound"),
        "{body}"
    );
    // The backend asks by filter: the live interface still comes back, with its address.
    let found = w
        .controller
        .platform()
        .describe_network_interfaces(&[eni.clone(), gone])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, eni);
    assert!(found[0].public_ip.is_some());
}

#[tokio::test(start_paused = true)]
async fn describe_tasks_failures_leave_the_task_out() {
    let w = OverTheWire::new().await;
    let missing = "arn:aws:ecs:eu-west-3:123456789012:task/ondemand/0123456789abcdef".to_owned();
    let tasks = w
        .controller
        .platform()
        .describe_tasks(&[missing])
        .await
        .unwrap();
    assert!(tasks.is_empty());
}
