//! The https path for real: the stand-in serves a certificate for the public name, issued by
//! a CA of this run; the controller's probe connects to the task's address, checks the
//! certificate against the name, and only then says Grafana answers.

use crate::support::free_port;
use grafana_ondemand::mock::{SimulatedEcs, StandIn, TestCertificate, Timing};
use grafana_ondemand::{
    Controller, Endpoint, HttpProbe, Readiness, ReadinessProbe, ReadinessSource, ReadyBy,
    ServiceController, ServiceProfile, State, wait_for,
};
use std::sync::Arc;
use std::time::Duration;

const NAME: &str = "grafana.example.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_reaches_grafana_over_https_and_checks_the_name() {
    let ecs = SimulatedEcs::new(Timing::fargate().scaled(0.02));
    let port = free_port();
    let cert = TestCertificate::for_name(NAME).unwrap();
    let _stand_in = StandIn::spawn_https(ecs.clone(), port, &cert)
        .await
        .unwrap();
    let profile = ServiceProfile {
        public_name: Some(NAME.into()),
        scheme: "https".into(),
        port,
        // Only the probe may confirm: the https path decides.
        readiness: ReadinessSource::Http,
        ..ServiceProfile::grafana()
    };
    let trusting = HttpProbe::new(&profile)
        .unwrap()
        .trusting(cert.ca_pem.as_bytes())
        .unwrap();
    let grafana = Controller::new(ecs.clone(), profile.clone(), Arc::new(trusting.clone()));
    grafana.start(None).await.unwrap();
    let up = wait_for(&grafana, State::Running, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(up.state, State::Running, "{up:?}");
    assert_eq!(up.ready_by, Some(ReadyBy::HttpProbe));
    assert_eq!(up.url().unwrap(), format!("https://{NAME}:{port}"));
    let endpoint = up.endpoint.unwrap();

    // The same endpoint fails every way TLS should make it fail.
    let untrusted = HttpProbe::new(&profile).unwrap();
    let wrong_name = Endpoint {
        host: Some("other.example.test".into()),
        ..endpoint.clone()
    };
    let plain = Endpoint {
        scheme: "http".into(),
        ..endpoint.clone()
    };
    assert_eq!(trusting.check(&endpoint).await, Readiness::Ready);
    for (why, probe, e) in [
        ("a CA the client does not trust", &untrusted, &endpoint),
        (
            "a name the certificate does not hold",
            &trusting,
            &wrong_name,
        ),
        ("plain HTTP to a TLS port", &trusting, &plain),
    ] {
        match probe.check(e).await {
            Readiness::NotReady(reason) => {
                assert!(reason.contains("/api/health"), "{why}: {reason}")
            }
            other => panic!("{why}: {other:?}"),
        }
    }
}
