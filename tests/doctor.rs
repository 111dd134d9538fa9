//! `doctor` on the wire stub: the CLI on the AWS backend, reading the deployment as the
//! module leaves it (the service's tags name the controller's role and the door's store), IAM's
//! answers decided by the same evaluator `tests/iam.rs` replays every call against. The
//! network checks need EC2 calls the stub does not serve; moto runs them
//! (`infra/test/moto-apply`).

use crate::restore::run_cli;
use crate::support::text;
use grafana_ondemand::aws::{CONTROLLER_ROLE_TAG, DOOR_TAG};
use grafana_ondemand::mock::wire::WireStub;
use grafana_ondemand::mock::{SimulatedEcs, Timing};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Output;

/// `doctor --json`, told nothing but the cluster and the service (README step 5).
async fn doctor(stub: &WireStub) -> Output {
    run_cli(stub, &["--json", "doctor"], &[]).await
}

/// Each check's `field` (`verdict`, `detail`, `fix`), by name.
fn field(out: &Output, field: &str) -> BTreeMap<String, String> {
    let d: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    d["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap().to_owned(),
                c[field].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Each check's verdict and fix, by name.
fn verdicts(out: &Output) -> BTreeMap<String, (String, String)> {
    let fixes = field(out, "fix");
    field(out, "verdict")
        .into_iter()
        .map(|(check, verdict)| {
            let fix = fixes.get(&check).cloned().unwrap_or_default();
            (check, (verdict, fix))
        })
        .collect()
}

/// Each check's detail, by name.
fn details(out: &Output) -> BTreeMap<String, String> {
    field(out, "detail")
}

/// The controller's role as the module renders it (its template, with the door's store),
/// for the stub's task definition, which logs to `/ecs/grafana`.
fn controller_policy() -> Value {
    let policy =
        crate::iam::module_policy_with(&[("door_kvs_arn", crate::scenarios::STORE.to_owned())]);
    serde_json::from_str(
        &policy
            .to_string()
            .replace("/ecs/grafana-ondemand", "/ecs/grafana"),
    )
    .unwrap()
}

/// The checks the stub models (the service, its task definition and images, the roles,
/// capacity, the front door's entry found through the service's tag) pass on the module's
/// deployment; each broken one way fails with its fix: the door's entry routed to a task while
/// Grafana is stopped, the execution role without `logs:CreateLogStream`, the task role's
/// condition naming another access point, the controller's role without `ecs:UpdateService`,
/// the account without ECS's service-linked role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reads_the_deployment_and_names_a_door_that_disagrees() {
    use crate::scenarios::STORE;
    let ecs = SimulatedEcs::named("ondemand", "grafana", Timing::fargate().scaled(0.02));
    ecs.add_key_value_store(STORE);
    let stub = WireStub::start(ecs.clone()).await;
    // The module's tags on the service: the controller's role and the door's store.
    let controller_role = "arn:aws:iam::123456789012:role/grafana-ctl-20250101";
    ecs.tag_service(CONTROLLER_ROLE_TAG, controller_role);
    ecs.tag_service(DOOR_TAG, STORE);
    stub.serve_role_policy(controller_role, controller_policy());
    // The roles as the module writes them (iam.tf): the execution role writes the task's log
    // streams and reads its password; the task role mounts through the access point.
    let exec_role = "arn:aws:iam::123456789012:role/grafana-exec";
    let task_role = "arn:aws:iam::123456789012:role/grafana-task";
    let execution = |log_actions: &[&str]| {
        serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": log_actions,
             "Resource": ["arn:aws:logs:eu-west-3:123456789012:log-group:/ecs/grafana:*"]},
            {"Effect": "Allow", "Action": ["ssm:GetParameters"],
             "Resource": ["arn:aws:ssm:eu-west-3:123456789012:parameter/grafana/admin-password"]}
        ]})
    };
    let task = |access_point: &str| {
        serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
             "Resource": "arn:aws:elasticfilesystem:eu-west-3:123456789012:file-system/fs-0123456789abcdef0",
             "Condition": {"StringEquals": {"elasticfilesystem:AccessPointArn":
                 format!("arn:aws:elasticfilesystem:eu-west-3:123456789012:access-point/{access_point}")}}}
        ]})
    };
    stub.serve_role_policy(
        exec_role,
        execution(&["logs:CreateLogStream", "logs:PutLogEvents"]),
    );
    stub.serve_role_policy(task_role, task("fsap-0123456789abcdef0"));
    // Stopped, the door asleep (as the controller leaves it).
    ecs.write_store_by_hand(
        STORE,
        grafana_ondemand::DOOR_KEY,
        Some(r#"{"state":"asleep","generation":6}"#),
    );
    let out = doctor(&stub).await;
    let v = verdicts(&out);
    assert_eq!(v["the ECS service exists"].0, "pass", "{v:?}");
    assert_eq!(
        v["its task definition exists"].0,
        "pass",
        "{}",
        text(&out.stdout)
    );
    assert_eq!(v["its images' registry"].0, "warn", "Docker Hub: {v:?}");
    assert_eq!(v["capacity"].0, "pass");
    assert_eq!(
        v["the execution role can start the task"].0, "pass",
        "{v:?}"
    );
    assert_eq!(
        v["the task role can mount Grafana's data"].0, "pass",
        "{v:?}"
    );
    assert_eq!(
        v["the front door's entry agrees with the service"].0, "pass",
        "{v:?}"
    );
    assert_eq!(
        v["the controller's role can start and stop Grafana"].0, "pass",
        "{v:?}"
    );
    assert_eq!(v["ECS's service-linked role exists"].0, "pass", "{v:?}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the stub serves no route table: that check fails"
    );
    // Someone routes the door to a task while Grafana is stopped.
    ecs.write_store_by_hand(
        STORE,
        grafana_ondemand::DOOR_KEY,
        Some(r#"{"state":"running","generation":7,"origin":"ec2-203-0-113-7.eu-west-3.compute.amazonaws.com","host":"grafana.example.com","protocol":"http","port":3000}"#),
    );
    let v = verdicts(&doctor(&stub).await);
    let (verdict, fix) = &v["the front door's entry agrees with the service"];
    assert_eq!(verdict, "fail", "{v:?}");
    assert!(fix.contains("any status puts it right"), "{fix}");
    // A role that lost a permission, and one whose condition names another access point.
    stub.serve_role_policy(exec_role, execution(&["logs:PutLogEvents"]));
    stub.serve_role_policy(task_role, task("fsap-0000000000other"));
    let out = doctor(&stub).await;
    let v = verdicts(&out);
    let (verdict, fix) = &v["the execution role can start the task"];
    assert_eq!(verdict, "fail", "{v:?}");
    assert!(fix.contains("aws_iam_role_policy.execution"), "{fix}");
    let said = text(&out.stdout);
    assert!(said.contains("logs:CreateLogStream on arn:aws:logs:eu-west-3:123456789012:log-group:/ecs/grafana:log-stream:grafana/grafana/0 (implicitDeny)"), "{said}");
    assert!(
        !said.contains("logs:PutLogEvents on"),
        "only what is denied: {said}"
    );
    assert_eq!(
        v["the task role can mount Grafana's data"].0, "fail",
        "{v:?}"
    );
    // The controller's role without UpdateService: a start would be refused.
    let mut policy = controller_policy();
    for statement in policy["Statement"].as_array_mut().unwrap() {
        if statement["Sid"] == "StartStopAndReadTheService" {
            statement["Action"] = serde_json::json!(["ecs:DescribeServices"]);
        }
    }
    stub.serve_role_policy(controller_role, policy);
    stub.delete_role("AWSServiceRoleForECS");
    let out = doctor(&stub).await;
    let v = verdicts(&out);
    let (verdict, fix) = &v["the controller's role can start and stop Grafana"];
    assert_eq!(verdict, "fail", "{v:?}");
    assert!(fix.contains("aws_iam_role_policy.controller"), "{fix}");
    let said = text(&out.stdout);
    assert!(
        said.contains("ecs:UpdateService on arn:aws:ecs:eu-west-3:123456789012:service/ondemand/grafana (implicitDeny)"),
        "{said}"
    );
    assert!(
        !said.contains("ecs:DescribeServices on"),
        "only what is denied: {said}"
    );
    let (verdict, fix) = &v["ECS's service-linked role exists"];
    assert_eq!(verdict, "fail", "{v:?}");
    assert!(
        fix.contains("create_ecs_service_linked_role = true")
            && fix.contains(
                "aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com"
            ),
        "{fix}"
    );
    let before = ecs.total_calls();
    let _ = doctor(&stub).await;
    assert!(
        ecs.total_calls() - before <= 6,
        "read-only and bounded: {}",
        ecs.total_calls() - before
    );
    // What stops a first start: an image that does not exist in the account's ECR (its
    // repository, then its tag), a deleted log group, a role ECS cannot assume. Each is named
    // with the variable or the resource to fix.
    let v = verdicts(&doctor(&stub).await);
    assert_eq!(v["its log groups exist"].0, "pass", "{v:?}");
    assert_eq!(v["ECS can assume its roles"].0, "pass", "{v:?}");
    assert_eq!(v["its images exist"].0, "warn", "Docker Hub, unseen: {v:?}");
    assert!(
        v["its images' registry"].1.contains("grafana_image = "),
        "{v:?}"
    );
    let ecr = "123456789012.dkr.ecr.eu-west-3.amazonaws.com/grafana-mirror:11.3.0";
    ecs.set_image(ecr);
    let out = doctor(&stub).await;
    let (verdict, fix) = &verdicts(&out)["its images exist"];
    assert_eq!(verdict, "fail");
    assert!(fix.contains("push the image"), "{fix}");
    let detail = &details(&out)["its images exist"];
    assert!(
        detail.contains(ecr)
            && detail.contains("grafana_image")
            && detail.contains("repository grafana-mirror does not exist"),
        "{detail}"
    );
    ecs.add_ecr_image("grafana-mirror", "11.2.0");
    let detail = &details(&doctor(&stub).await)["its images exist"];
    assert!(
        detail.contains("tag 11.3.0 is not in repository grafana-mirror"),
        "{detail}"
    );
    ecs.add_ecr_image("grafana-mirror", "11.3.0");
    assert_eq!(verdicts(&doctor(&stub).await)["its images exist"].0, "pass");
    ecs.delete_log_group("/ecs/grafana");
    let out = doctor(&stub).await;
    let (verdict, fix) = &verdicts(&out)["its log groups exist"];
    assert_eq!(verdict, "fail");
    assert!(fix.contains("aws_cloudwatch_log_group.grafana"), "{fix}");
    assert!(details(&out)["its log groups exist"].contains("/ecs/grafana does not exist"));
    ecs.set_role_trust(
        "grafana-exec",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    );
    let out = doctor(&stub).await;
    assert_eq!(verdicts(&out)["ECS can assume its roles"].0, "fail");
    let detail = &details(&out)["ECS can assume its roles"];
    assert!(
        detail.contains(exec_role)
            && detail.contains("lambda.amazonaws.com")
            && detail.contains("ecs-tasks.amazonaws.com"),
        "{detail}"
    );

    // A cluster that does not exist, a malformed region: each its own fix, not a permission's.
    let cli = |cluster: &'static str, region: &'static str| {
        let mut c = crate::support::command("cli");
        c.args([
            "--json",
            "--backend",
            "aws",
            "--region",
            region,
            "--cluster",
            cluster,
        ])
        .args(["--service", "grafana", "doctor"])
        .env("AWS_ENDPOINT_URL", stub.uri())
        .env(
            "AWS_ACCESS_KEY_ID",
            grafana_ondemand_mock::wire::sigv4::ACCESS_KEY_ID,
        )
        .env(
            "AWS_SECRET_ACCESS_KEY",
            grafana_ondemand_mock::wire::sigv4::SECRET_ACCESS_KEY,
        );
        tokio::task::spawn_blocking(move || c.output().unwrap())
    };
    let out = cli("nope", "eu-west-3").await.unwrap();
    let (verdict, fix) = &verdicts(&out)["the ECS service exists"];
    assert_eq!(verdict, "fail");
    assert!(
        fix.contains("--cluster") && !fix.contains("permission"),
        "{fix}"
    );
    let out = cli("ondemand", "not a region").await.unwrap();
    let (verdict, fix) = &verdicts(&out)["the ECS service exists"];
    assert_eq!(verdict, "fail");
    assert!(
        fix.contains("AWS region") && !fix.contains("permission"),
        "{fix}"
    );
    let detail = &details(&out)["the ECS service exists"];
    assert!(
        detail.contains("such as eu-west-3") && !detail.contains("DispatchFailure"),
        "{detail}"
    );

    // Access denied and throttled past the SDK's retries: each its own fix.
    ecs.deny("DescribeServices");
    let (verdict, fix) = verdicts(&doctor(&stub).await)["the ECS service exists"].clone();
    assert_eq!(verdict, "fail");
    assert!(
        fix.contains("needs ecs:DescribeServices") && fix.contains("permission"),
        "{fix}"
    );
    ecs.allow("DescribeServices");
    ecs.throttle_next_calls(50);
    let (verdict, fix) = verdicts(&doctor(&stub).await)["the ECS service exists"].clone();
    assert_eq!(verdict, "fail");
    assert!(fix.contains("busy") && !fix.contains("permission"), "{fix}");
    ecs.throttle_next_calls(0);

    // Credentials with a version 1 session token (STS's global endpoint): KeyValueStore's
    // SigV4A refuses them, and doctor says what to do about the credentials, not a permission.
    ecs.refuse_session_tokens();
    let out = run_cli(
        &stub,
        &["--json", "doctor"],
        &[("AWS_SESSION_TOKEN", "FQoGZXIvYXdzEXAMPLEv1")],
    )
    .await;
    let v = verdicts(&out);
    let (verdict, fix) = &v["the front door's entry agrees with the service"];
    assert_eq!(verdict, "fail", "{v:?}");
    let detail = &details(&out)["the front door's entry agrees with the service"];
    assert!(
        detail.contains("SigV4A") && detail.contains("AWS_STS_REGIONAL_ENDPOINTS=regional"),
        "{detail}"
    );
    assert!(!fix.contains("permission"), "{fix}");
}

/// What sleeps with Grafana: while it runs, doctor counts its alert rules through Grafana's
/// own API, as its admin (the password read from Parameter Store, as the task reads it), and
/// says they do not run while it sleeps; while it sleeps, it says it could not count them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_says_which_alert_rules_sleep_with_grafana() {
    use grafana_ondemand::Platform;
    use grafana_ondemand::aws::GRAFANA_URL_TAG;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    const CHECK: &str = "no alert rules sleep with Grafana";
    let ecs = SimulatedEcs::named("ondemand", "grafana", Timing::fargate().scaled(0.02));
    let stub = WireStub::start(ecs.clone()).await;
    let password = "correct horse battery staple";
    crate::lambda_runtime::serve_parameter(
        &stub,
        "arn:aws:ssm:eu-west-3:123456789012:parameter/grafana/admin-password",
        password,
    )
    .await;
    // Grafana's API at its address (the door's, in the service's tag): two alert rules.
    let grafana = wiremock::MockServer::start().await;
    let rules = |titles: &[&str]| {
        let list: Vec<Value> = titles
            .iter()
            .map(|t| serde_json::json!({"uid": "r1", "title": t, "folderUID": "f", "ruleGroup": "g"}))
            .collect();
        Mock::given(method("GET"))
            .and(path("/api/v1/provisioning/alert-rules"))
            .respond_with(ResponseTemplate::new(200).set_body_json(list))
    };
    rules(&["Disk almost full", "5xx rate"])
        .mount(&grafana)
        .await;
    ecs.tag_service(GRAFANA_URL_TAG, &grafana.uri());

    // Asleep: not counted, and said why.
    let out = doctor(&stub).await;
    assert_eq!(verdicts(&out)[CHECK].0, "warn");
    assert!(
        details(&out)[CHECK].contains("not counted: Grafana sleeps"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        grafana.received_requests().await.unwrap().is_empty(),
        "nothing asked of a Grafana that sleeps"
    );

    // Running: counted as its admin, and said.
    Platform::update_service(&ecs, 1, false).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while ecs.describe_service().await.unwrap().running_count == 0 {
        assert!(std::time::Instant::now() < deadline, "the task never ran");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let out = doctor(&stub).await;
    let (verdict, fix) = &verdicts(&out)[CHECK];
    assert_eq!(verdict, "warn", "{}", text(&out.stdout));
    assert!(
        details(&out)[CHECK].starts_with(
            "2 alert rules (Disk almost full, 5xx rate): not evaluated while Grafana sleeps"
        ),
        "{}",
        text(&out.stdout)
    );
    assert!(fix.contains("CloudWatch alarms"), "{fix}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a warning fails nothing; the stub's missing EC2 calls do"
    );
    let asked = grafana.received_requests().await.unwrap();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].headers.get("authorization").unwrap(),
        // base64 of "admin:correct horse battery staple"
        "Basic YWRtaW46Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ=="
    );

    // None: it passes.
    grafana.reset().await;
    rules(&[]).mount(&grafana).await;
    let out = doctor(&stub).await;
    assert_eq!(verdicts(&out)[CHECK].0, "pass", "{}", text(&out.stdout));

    // Grafana refuses (the password was changed in Grafana): not counted, and why.
    grafana.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&grafana)
        .await;
    let out = doctor(&stub).await;
    assert_eq!(verdicts(&out)[CHECK].0, "warn");
    assert!(
        details(&out)[CHECK].contains("Grafana answered 401"),
        "{}",
        text(&out.stdout)
    );
}

/// The front door's certificate, as ACM describes it (in us-east-1, whatever the service's
/// region): issued with time left passes; not issued, a renewal ACM cannot finish, one close to
/// its end, and one deleted fail or warn with what to do. The name's hosted zone has no CAA
/// records: that check passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reads_the_front_doors_certificate() {
    use grafana_ondemand::aws::{CERTIFICATE_TAG, NAME_TAG, ZONE_TAG};
    use wiremock::matchers::header;
    use wiremock::{Mock, ResponseTemplate};
    const CHECK: &str = "the front door's certificate is valid";
    const CERT: &str =
        "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b";
    let ecs = SimulatedEcs::named("ondemand", "grafana", Timing::fargate().scaled(0.02));
    ecs.add_hosted_zone(crate::scenarios::ZONE, "example.com");
    let stub = WireStub::start(ecs.clone()).await;
    ecs.tag_service(NAME_TAG, "grafana.example.com");
    ecs.tag_service(ZONE_TAG, crate::scenarios::ZONE);
    ecs.tag_service(CERTIFICATE_TAG, CERT);
    // Whole days and an hour: the CLI reads the clock a little later than the test.
    let day = 86_400;
    let now = ecs.now().timestamp();
    // ACM's DescribeCertificate (JSON 1.1), answering what `acm` holds.
    let acm = std::sync::Arc::new(std::sync::Mutex::new(ResponseTemplate::new(500)));
    let answer = acm.clone();
    Mock::given(header(
        "x-amz-target",
        "CertificateManager.DescribeCertificate",
    ))
    .respond_with(move |_: &wiremock::Request| answer.lock().unwrap().clone())
    .with_priority(1)
    .mount(stub.server())
    .await;
    let serve = |template: ResponseTemplate| *acm.lock().unwrap() = template;
    let described = |extra: Value| {
        let mut cert = serde_json::json!({
            "CertificateArn": CERT, "DomainName": "grafana.example.com",
            "SubjectAlternativeNames": ["grafana.example.com"], "Type": "AMAZON_ISSUED",
            "Status": "ISSUED", "NotBefore": now - 65 * day, "NotAfter": now + 300 * day + 3600,
            "InUseBy": ["arn:aws:cloudfront::123456789012:distribution/E2EXAMPLE0DOOR"],
            "RenewalEligibility": "ELIGIBLE"
        });
        for (k, v) in extra.as_object().unwrap() {
            cert[k] = v.clone();
        }
        ResponseTemplate::new(200).set_body_raw(
            serde_json::json!({ "Certificate": cert }).to_string(),
            "application/x-amz-json-1.1",
        )
    };
    let said = |out: &Output| {
        (
            verdicts(out)[CHECK].clone(),
            details(out)[CHECK].clone(),
            text(&out.stdout),
        )
    };

    serve(described(serde_json::json!({})));
    let out = doctor(&stub).await;
    let ((verdict, _), detail, all) = said(&out);
    assert_eq!(verdict, "pass", "{all}");
    assert_eq!(detail, "ISSUED for grafana.example.com, 300 days left");
    assert_eq!(
        verdicts(&out)["the name's CAA records allow its certificates"].0,
        "pass",
        "{all}"
    );
    let asked: Vec<_> = stub
        .server()
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.headers.get("x-amz-target").map(|v| v.as_bytes())
                == Some(b"CertificateManager.DescribeCertificate")
        })
        .collect();
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0]
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("/us-east-1/acm/aws4_request"),
        "ACM is asked in the certificate's region"
    );

    serve(described(
        serde_json::json!({"Status": "PENDING_VALIDATION"}),
    ));
    let ((verdict, fix), detail, all) = said(&doctor(&stub).await);
    assert_eq!(verdict, "fail", "{all}");
    assert!(
        detail.contains("is PENDING_VALIDATION, not ISSUED"),
        "{detail}"
    );
    assert!(fix.contains("validation record"), "{fix}");

    serve(described(serde_json::json!({
        "NotAfter": now + 45 * day + 3600,
        "RenewalSummary": {"RenewalStatus": "PENDING_VALIDATION", "RenewalStatusReason": "CAA_ERROR",
                           "DomainValidationOptions": [], "UpdatedAt": now - day}
    })));
    let ((verdict, _), detail, all) = said(&doctor(&stub).await);
    assert_eq!(verdict, "fail", "{all}");
    assert!(
        detail.contains("ACM cannot renew it: its renewal is PENDING_VALIDATION (CAA_ERROR), 45 days before it expires"),
        "{detail}"
    );

    serve(described(
        serde_json::json!({"NotAfter": now + 20 * day + 3600}),
    ));
    let ((verdict, _), detail, all) = said(&doctor(&stub).await);
    assert_eq!(verdict, "warn", "{all}");
    assert!(detail.starts_with("it expires in 20 days"), "{detail}");

    serve(
        ResponseTemplate::new(400).set_body_raw(
            serde_json::json!({"__type": "ResourceNotFoundException",
            "message": format!("Could not find certificate {CERT}.")})
            .to_string(),
            "application/x-amz-json-1.1",
        ),
    );
    let ((verdict, fix), detail, all) = said(&doctor(&stub).await);
    assert_eq!(verdict, "fail", "{all}");
    assert!(detail.contains("does not exist"), "{detail}");
    assert!(fix.contains("aws_acm_certificate.name"), "{fix}");
}
