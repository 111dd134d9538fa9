//! The front door's function (`infra/modules/grafana_on_demand/door.js`), run in the engine
//! the simulated edge uses: where each request goes, asleep and awake, and what CloudFront's
//! runtime would refuse in the file.

use grafana_ondemand::mock::edge::{
    DOOR_JS, Door, Entry, Routed, VALIDATION_ERROR, ViewerRequest, check, check_origin,
};

fn door() -> Door {
    Door::load(DOOR_JS).expect("the door's function loads")
}

const RUNNING_HTTPS: &str = r#"{"state":"running","generation":7,"origin":"ec2-203-0-113-7.eu-west-3.compute.amazonaws.com","host":"grafana.example.com","protocol":"https","port":443}"#;
const RUNNING_HTTP: &str = r#"{"state":"running","generation":3,"origin":"ec2-203-0-113-8.eu-west-3.compute.amazonaws.com","host":"d111111abcdef8.cloudfront.net","protocol":"http","port":3000}"#;

fn navigation(uri: &str) -> ViewerRequest {
    ViewerRequest::new(
        "GET",
        uri,
        &[
            ("sec-fetch-mode", "navigate"),
            ("accept", "text/html,application/xhtml+xml"),
            ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0"),
        ],
    )
}

fn asleep_answer(routed: &Routed) {
    match routed {
        Routed::Answered {
            status,
            headers,
            body,
        } => {
            assert_eq!(*status, 503, "{routed:?}");
            assert_eq!(headers.get("retry-after").map(String::as_str), Some("30"));
            assert!(headers.contains_key("x-grafana-ondemand"), "{headers:?}");
            assert!(body.contains("asleep"), "{body}");
        }
        other => panic!("503 at the edge expected: {other:?}"),
    }
}

#[test]
fn the_file_is_what_cloudfront_takes_and_the_check_refuses_what_it_would_not() {
    assert_eq!(check(DOOR_JS), Vec::<String>::new());
    let broken = [
        (
            DOOR_JS.replace("} catch (e) {", "} catch {"),
            "optional catch",
        ),
        (
            format!("{DOOR_JS}\n// {}\n", "x".repeat(10 * 1024)),
            "bytes",
        ),
        (
            DOOR_JS.replace(
                "import cf from 'cloudfront';",
                "import cf from 'cloudfront';\nimport crypto from 'crypto';",
            ),
            "imports",
        ),
        (
            DOOR_JS.replace("entry && entry.state", "entry?.state"),
            "optional chaining",
        ),
    ];
    for (source, says) in broken {
        let refused = check(&source);
        assert!(
            refused.iter().any(|r| r.contains(says)),
            "{says}: {refused:?}"
        );
        assert!(Door::load(&source).is_err(), "{says}: loaded all the same");
    }
}

#[test]
fn asleep_a_persons_navigation_reaches_the_controller_for_the_wake_page() {
    let door = door();
    for entry in [
        Entry::Missing,
        Entry::Failing,
        Entry::Value("not json".into()),
        Entry::Value(r#"{"state":"asleep","generation":8}"#.into()),
        // Running, but with no origin to send it to: asleep rather than a broken origin.
        Entry::Value(r#"{"state":"running","generation":9,"host":"grafana.example.com","protocol":"https","port":443}"#.into()),
        Entry::Value(r#"{"state":"running","origin":"ec2-x.compute.amazonaws.com","host":"h","protocol":"ftp","port":443}"#.into()),
        Entry::Value(r#"{"state":"running","origin":"ec2-x.compute.amazonaws.com","host":"h","protocol":"https","port":"443"}"#.into()),
        Entry::Value(r#"{"state":"running","origin":"ec2-x.compute.amazonaws.com","host":"h","protocol":"https","port":443.5}"#.into()),
    ] {
        let routed = door.route(&navigation("/d/abc"), &entry).unwrap();
        assert_eq!(routed, Routed::Controller, "{entry:?}");
        // An older browser without Fetch Metadata, asking for HTML, is a person too.
        let old = ViewerRequest::new("GET", "/d/abc", &[("accept", "text/html")]);
        assert_eq!(door.route(&old, &entry).unwrap(), Routed::Controller, "{entry:?}");
    }
}

#[test]
fn asleep_scripts_head_requests_and_robots_get_503_from_the_edge_itself() {
    let door = door();
    let requests = [
        // An open Grafana tab's refresh.
        ViewerRequest::new(
            "POST",
            "/api/ds/query",
            &[("sec-fetch-mode", "cors"), ("accept", "application/json")],
        ),
        ViewerRequest::new("GET", "/api/live/ws", &[("sec-fetch-mode", "websocket")]),
        ViewerRequest::new("HEAD", "/", &[("accept", "text/html")]),
        // A link unfurler asking for the page as a browser would.
        ViewerRequest::new(
            "GET",
            "/d/abc",
            &[
                ("accept", "text/html"),
                ("user-agent", "Slackbot-LinkExpanding 1.0"),
            ],
        ),
        ViewerRequest::new(
            "GET",
            "/api/health",
            &[("user-agent", "UptimeRobot/2.0"), ("accept", "*/*")],
        ),
    ];
    for request in requests {
        for entry in [Entry::Missing, Entry::Failing] {
            asleep_answer(&door.route(&request, &entry).unwrap());
        }
    }
}

#[test]
fn awake_every_request_goes_to_the_serving_task_as_the_entry_says() {
    let door = door();
    for request in [
        navigation("/d/abc?x=1"),
        ViewerRequest::new("POST", "/api/ds/query", &[("sec-fetch-mode", "cors")]),
        ViewerRequest::new("HEAD", "/", &[]),
        ViewerRequest::new("GET", "/login", &[("user-agent", "curl/8.5")]),
    ] {
        let routed = door
            .route(&request, &Entry::Value(RUNNING_HTTPS.into()))
            .unwrap();
        assert_eq!(
            routed,
            Routed::Origin(serde_json::json!({
                "domainName": "ec2-203-0-113-7.eu-west-3.compute.amazonaws.com",
                "hostHeader": "grafana.example.com",
                "originAccessControlConfig": { "enabled": false },
                "customOriginConfig": { "port": 443, "protocol": "https", "sslProtocols": ["TLSv1.2"] },
                "customHeaders": {},
                "sni": "grafana.example.com",
                "allowedCertificateNames": ["grafana.example.com"],
            })),
            "{request:?}"
        );
    }
    // Without a name, plain HTTP to the task's port, and no certificate to pin.
    let routed = door
        .route(&navigation("/"), &Entry::Value(RUNNING_HTTP.into()))
        .unwrap();
    assert_eq!(
        routed,
        Routed::Origin(serde_json::json!({
            "domainName": "ec2-203-0-113-8.eu-west-3.compute.amazonaws.com",
            "hostHeader": "d111111abcdef8.cloudfront.net",
            "originAccessControlConfig": { "enabled": false },
            "customOriginConfig": { "port": 3000, "protocol": "http", "sslProtocols": ["TLSv1.2"] },
            "customHeaders": {},
        }))
    );
}

#[test]
fn the_controllers_paths_always_reach_the_controller() {
    let door = door();
    for uri in ["/_ondemand", "/_ondemand/", "/_ondemand/api/status"] {
        for entry in [
            Entry::Missing,
            Entry::Failing,
            Entry::Value(RUNNING_HTTPS.into()),
        ] {
            let request = ViewerRequest::new("POST", uri, &[("sec-fetch-mode", "cors")]);
            assert_eq!(
                door.route(&request, &entry).unwrap(),
                Routed::Controller,
                "{uri} {entry:?}"
            );
        }
    }
    // A path that only begins alike is Grafana's.
    let request = ViewerRequest::new("GET", "/_ondemandx", &[("sec-fetch-mode", "cors")]);
    asleep_answer(&door.route(&request, &Entry::Missing).unwrap());
}

/// An entry CloudFront would refuse as an origin is asleep, as the file's header promises for
/// malformed entries: never a call AWS answers with a 502.
#[test]
fn an_entry_cloudfront_would_refuse_as_an_origin_is_asleep() {
    let door = door();
    let long = format!("{}.example.com", "a".repeat(250));
    let long_host = format!("{}.example.com", "g".repeat(60));
    for (origin, host, protocol, port) in [
        ("203.0.113.7", "grafana.example.com", "https", 443),
        (
            "ec2-203-0-113-7.compute.amazonaws.com:3000",
            "grafana.example.com",
            "http",
            3000,
        ),
        (long.as_str(), "grafana.example.com", "https", 443),
        // Pinned as the certificate's name: 64 characters at most.
        (
            "ec2-203-0-113-7.compute.amazonaws.com",
            long_host.as_str(),
            "https",
            443,
        ),
        (
            "ec2-203-0-113-7.compute.amazonaws.com",
            "grafana.example.com",
            "https",
            8,
        ),
        (
            "ec2-203-0-113-7.compute.amazonaws.com",
            "[::1]",
            "http",
            3000,
        ),
    ] {
        let entry = serde_json::json!({
            "state": "running", "generation": 4, "origin": origin, "host": host,
            "protocol": protocol, "port": port,
        });
        let routed = door
            .route(&navigation("/d/abc"), &Entry::Value(entry.to_string()))
            .unwrap();
        assert_eq!(routed, Routed::Controller, "{entry}");
    }
    // A host over 64 characters is fine where nothing pins it (plain HTTP).
    let entry = serde_json::json!({
        "state": "running", "generation": 4, "origin": "ec2-203-0-113-7.compute.amazonaws.com",
        "host": long_host, "protocol": "http", "port": 3000,
    });
    let routed = door
        .route(&navigation("/"), &Entry::Value(entry.to_string()))
        .unwrap();
    assert!(matches!(routed, Routed::Origin(_)), "{routed:?}");
}

/// Media types are case-insensitive (RFC 9110, 8.3.1): an old browser's `TEXT/HTML` is a
/// person too.
#[test]
fn accept_is_read_case_insensitively() {
    let old = ViewerRequest::new("GET", "/d/abc", &[("accept", "TEXT/HTML,*/*")]);
    assert_eq!(
        door().route(&old, &Entry::Missing).unwrap(),
        Routed::Controller
    );
}

/// The edge checks every `updateRequestOrigin` call against AWS's documented schema, as
/// CloudFront does at run time: the door's own calls pass, and what AWS refuses is refused.
#[test]
fn the_edge_refuses_what_cloudfront_refuses_in_update_request_origin() {
    let good = serde_json::json!({
        "domainName": "ec2-203-0-113-7.eu-west-3.compute.amazonaws.com",
        "hostHeader": "grafana.example.com",
        "originAccessControlConfig": { "enabled": false },
        "customOriginConfig": { "port": 443, "protocol": "https", "sslProtocols": ["TLSv1.2"] },
        "customHeaders": {},
        "sni": "grafana.example.com",
        "allowedCertificateNames": ["grafana.example.com"],
        "connectionAttempts": 3,
        "timeouts": { "readTimeout": 120, "connectionTimeout": 10, "keepAliveTimeout": 5 },
        "originPath": "/grafana",
    });
    let chosen = check_origin(&good).unwrap();
    assert_eq!(chosen.port_and_https, Some((443, true)));
    assert_eq!(chosen.custom_headers, Some(Default::default()));
    let with = |path: &str, value: serde_json::Value| {
        let mut v = good.clone();
        let mut at = &mut v;
        let parts: Vec<&str> = path.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            at = &mut at[*p];
        }
        at[parts[parts.len() - 1]] = value;
        v
    };
    let without = |path: &str| {
        let mut v = good.clone();
        let (parent, field) = path.rsplit_once('.').unwrap_or(("", path));
        let at = if parent.is_empty() {
            &mut v
        } else {
            &mut v[parent]
        };
        at.as_object_mut().unwrap().remove(field);
        v
    };
    let refused = [
        (
            with("customOriginConfig.protocol", "https-only".into()),
            "protocol",
        ),
        (
            with("customOriginConfig.protocol", "http-only".into()),
            "protocol",
        ),
        (with("customOriginConfig.port", 22.into()), "port"),
        (with("customOriginConfig.port", 70000.into()), "port"),
        (with("customOriginConfig.port", "443".into()), "port"),
        (without("customOriginConfig.sslProtocols"), "sslProtocols"),
        (
            with(
                "customOriginConfig.sslProtocols",
                serde_json::json!(["TLSv1.3"]),
            ),
            "sslProtocols",
        ),
        (without("customOriginConfig.port"), "port"),
        (with("domainName", "203.0.113.7".into()), "IP address"),
        (
            with("domainName", "ec2-x.compute.amazonaws.com:3000".into()),
            "colon",
        ),
        (with("hostHeader", "x".repeat(254).into()), "253"),
        (with("sni", "::1".into()), "colon"),
        (
            with(
                "allowedCertificateNames",
                serde_json::json!([format!("{}.example.com", "g".repeat(60))]),
            ),
            "64",
        ),
        (
            with(
                "allowedCertificateNames",
                serde_json::json!(vec!["a.example.com"; 21]),
            ),
            "20",
        ),
        (with("connectionAttempts", 4.into()), "connectionAttempts"),
        (with("timeouts.readTimeout", 121.into()), "readTimeout"),
        (
            with("timeouts.connectionTimeout", 11.into()),
            "connectionTimeout",
        ),
        (
            with("customHeaders", serde_json::json!({"host": "x"})),
            "host",
        ),
        (
            with("customHeaders", serde_json::json!({"x-secret": 1})),
            "string",
        ),
        (with("originPath", "grafana/".into()), "originPath"),
        (
            with(
                "originAccessControlConfig",
                serde_json::json!({"enabled": true}),
            ),
            "signingBehavior",
        ),
        (with("protocol", "https".into()), "not a field"),
    ];
    for (arg, says) in refused {
        let why = check_origin(&arg).expect_err(&format!("accepted: {arg}"));
        assert!(why.contains(says), "{says}: {why}");
    }
}

/// The door before this check: `https-only` is a distribution's word, not this helper's;
/// CloudFront refuses the call at run time with a 502, and so does the simulated edge.
#[test]
fn a_function_passing_what_aws_refuses_is_cloudfronts_502_not_a_fallback() {
    let broken = DOOR_JS.replace(
        "protocol: entry.protocol,",
        "protocol: entry.protocol + '-only',",
    );
    assert_ne!(broken, DOOR_JS);
    let door = Door::load(&broken).unwrap();
    match door
        .route(&navigation("/d/abc"), &Entry::Value(RUNNING_HTTPS.into()))
        .unwrap()
    {
        Routed::Refused { error, why } => {
            assert_eq!(error, VALIDATION_ERROR);
            assert!(why.contains("https-only"), "{why}");
        }
        other => panic!("CloudFront's validation error expected: {other:?}"),
    }
    // A function that throws is CloudFront's execution error.
    let throwing = DOOR_JS.replace(
        "const request = event.request;",
        "const request = event.request; throw new Error('boom');",
    );
    assert_ne!(throwing, DOOR_JS);
    let routed = Door::load(&throwing)
        .unwrap()
        .route(&navigation("/"), &Entry::Missing)
        .unwrap();
    assert!(
        matches!(
            routed,
            Routed::Refused {
                error: "FunctionExecutionError",
                ..
            }
        ),
        "{routed:?}"
    );
}
