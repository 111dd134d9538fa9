//! The front door's function (`infra/modules/grafana_on_demand/door.js`), run in the engine
//! the simulated edge uses: where each request goes, asleep and awake, and what CloudFront's
//! runtime would refuse in the file.

use grafana_ondemand::mock::edge::{DOOR_JS, Door, Entry, Routed, ViewerRequest, check};

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
                "customOriginConfig": { "port": 443, "protocol": "https-only", "sslProtocols": ["TLSv1.2"] },
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
            "customOriginConfig": { "port": 3000, "protocol": "http-only", "sslProtocols": ["TLSv1.2"] },
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
