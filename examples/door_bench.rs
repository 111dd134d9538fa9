//! Benchmark: from the click on "Wake it" to Grafana's page, through the front door, at
//! propagation delays of 0, 3 and 10 s, beside the boot time measured in the same run.
//!
//! The world is the simulated one (a Fargate-like boot of about 37 s) run ten times faster
//! than real time (`SCALE`, default 0.1), behind a simulated CloudFront edge location that
//! runs the door's function; a client does what the wake page does, at the same pace scaled
//! alike (the status every second while it starts, a look for Grafana at the door every half
//! second once it runs), over one kept-alive connection. Figures are printed in the world's
//! seconds. The goal: boot + health lag + propagation + at most 1 s.
//!
//! ```sh
//! cargo run --example door_bench
//! ```

use grafana_ondemand::api::{Access, Api, MARKER};
use grafana_ondemand::lambda::InProcess;
use grafana_ondemand::mock::edge::{
    DoorWorld, FrontDoorConfig, SIMULATED_API_DOMAIN, SIMULATED_EXECUTION_ARN, SimulatedFrontDoor,
};
use grafana_ondemand::mock::{SimulatedEcs, SimulatedProbe, StandIn, Timing};
use grafana_ondemand::{
    Controller, FrontDoor, OriginProtocol, ServiceProfile, SessionPolicy, SharedStatus,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NAME: &str = "grafana.example.test";
const STORE: &str = "arn:aws:cloudfront::123456789012:key-value-store/bench";
const SECRET: &str = "a-secret-origin-header-of-the-bench";

struct Run {
    propagation: f64,
    /// From the click until the task answered on its address (ECS's boot).
    boot: f64,
    /// From the click until the status said running (the door written).
    running: f64,
    /// From the click until Grafana's page came back through the door.
    page: f64,
}

async fn one(propagation_s: f64, scale: f64) -> Result<Run, Box<dyn std::error::Error>> {
    let timing = Timing::fargate().scaled(scale);
    let ecs = SimulatedEcs::new(timing.clone());
    let port = std::net::TcpListener::bind("127.0.0.10:0")?
        .local_addr()?
        .port();
    let _stand_in = StandIn::spawn(ecs.clone(), port).await?;
    ecs.add_key_value_store(STORE);
    let profile = ServiceProfile {
        port,
        ..ServiceProfile::grafana()
    };
    let probe = Arc::new(SimulatedProbe::new(ecs.clone()));
    let controller = Controller::new(ecs.clone(), profile, probe).with_front_door(FrontDoor {
        store_arn: STORE.into(),
        host: NAME.into(),
        protocol: OriginProtocol::Http,
        port,
        grace: Duration::ZERO,
    })?;
    let shared = Arc::new(SharedStatus::new(
        controller,
        Duration::from_secs_f64(scale),
    ));
    let api = Api::new(shared, Access::default()).through_door(SECRET, &SessionPolicy::default());
    // The door as the module deploys it: the edge, then API Gateway's routes, then the
    // controller's function.
    let module = FrontDoorConfig::from_module(
        "token",
        SIMULATED_EXECUTION_ARN,
        SIMULATED_API_DOMAIN,
        SECRET,
    )?;
    let front_door = SimulatedFrontDoor::spawn(
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        module,
        Arc::new(InProcess(api)),
        DoorWorld {
            ecs: ecs.clone(),
            store_arn: STORE.into(),
            propagation: Duration::from_secs_f64(propagation_s * scale),
            service_port: port,
            origin_ca_pem: None,
        },
    )?;
    let door = format!("http://{}", front_door.edge_addr());
    let browser = reqwest::Client::builder()
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0")
        .pool_max_idle_per_host(1)
        .build()?;
    let wake = browser
        .get(format!("{door}/d/abc?x=1"))
        .header("sec-fetch-mode", "navigate")
        .send()
        .await?;
    if !wake.headers().contains_key(MARKER) {
        return Err("the sleeping door did not serve the wake page".into());
    }
    let status = |action: &'static str| {
        let browser = browser.clone();
        let door = door.clone();
        async move {
            let r: serde_json::Value = browser
                .post(format!("{door}/_ondemand/"))
                .header("sec-fetch-mode", "cors")
                .json(&serde_json::json!({ "action": action }))
                .send()
                .await?
                .json()
                .await?;
            Ok::<_, reqwest::Error>(r["status"].as_str().unwrap_or_default().to_owned())
        }
    };
    let clicked = Instant::now();
    status("start").await?;
    // When the task answers on its own address, watched beside the page's client.
    let watched = ecs.clone();
    let boot = tokio::spawn(async move {
        while !watched
            .serving()
            .is_some_and(|(_, ip)| watched.is_answering(ip))
        {
            tokio::time::sleep(Duration::from_secs_f64(0.01 * scale)).await;
        }
        clicked.elapsed()
    });
    let mut running = None;
    let page = loop {
        if running.is_none() {
            tokio::time::sleep(Duration::from_secs_f64(scale)).await;
            if status("status").await? == "running" {
                running = Some(clicked.elapsed());
            } else {
                continue;
            }
        } else {
            tokio::time::sleep(Duration::from_secs_f64(0.5 * scale)).await;
        }
        let health = browser
            .get(format!("{door}/api/health"))
            .header("sec-fetch-mode", "cors")
            .send()
            .await?;
        if !health.headers().contains_key(MARKER) && health.status().is_success() {
            let page = browser
                .get(format!("{door}/d/abc?x=1"))
                .header("sec-fetch-mode", "navigate")
                .send()
                .await?
                .text()
                .await?;
            if !page.contains("stands in for Grafana") {
                return Err(format!("not Grafana's page: {page}").into());
            }
            break clicked.elapsed();
        }
        if clicked.elapsed() > Duration::from_secs_f64(300.0 * scale) {
            return Err("Grafana never came through the door".into());
        }
    };
    let world = |d: Duration| d.as_secs_f64() / scale;
    Ok(Run {
        propagation: propagation_s,
        boot: world(boot.await?),
        running: running.map_or(f64::NAN, world),
        page: world(page),
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scale: f64 = std::env::var("SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s| *s > 0.0 && *s <= 1.0)
        .unwrap_or(0.1);
    let timing = Timing::fargate();
    let health_lag = timing.healthy_after().as_secs_f64() - timing.health_delay.as_secs_f64();
    println!(
        "click → Grafana through the front door (world seconds, run at {scale}× real time; ECS health check every {} s, lag {health_lag:.1} s)",
        timing.health_check_interval.as_secs()
    );
    println!(
        "{:>12} {:>8} {:>10} {:>9} {:>22} {:>8}",
        "propagation", "boot", "running", "Grafana", "boot+lag+propagation", "over"
    );
    for propagation in [0.0, 3.0, 10.0] {
        let r = one(propagation, scale).await?;
        let floor = r.boot + health_lag + r.propagation;
        println!(
            "{:>11.0}s {:>7.1}s {:>9.1}s {:>8.1}s {:>21.1}s {:>+7.1}s",
            r.propagation,
            r.boot,
            r.running,
            r.page,
            floor,
            r.page - floor
        );
    }
    println!(
        "goal: Grafana within boot + health lag + propagation + 1 s; before the door, the DNS switch measured 119 s for a 37 s boot"
    );
    Ok(())
}
