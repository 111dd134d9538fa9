//! `doctor`: read-only checks of the deployed service, one line each, on AWS only.

use grafana_ondemand::aws::{Builder, Verdict};
use grafana_ondemand::{FrontDoor, Result, ServiceProfile};
use std::time::Instant;

/// Runs every check and prints them; 0 when none failed (warnings say what to know), 1
/// otherwise.
pub async fn run(
    cluster: String,
    service: String,
    region: Option<String>,
    json: bool,
) -> Result<u8> {
    let profile = ServiceProfile::from_env()?;
    let door = FrontDoor::from_env(
        profile.public_name.as_deref(),
        &profile.scheme,
        profile.port,
    )?;
    let mut builder = Builder::new()
        .cluster(cluster)
        .service(service)
        .profile(profile)
        .front_door(door);
    if let Some(region) = region {
        builder = builder.region(region);
    }
    let doctor = builder.build_doctor().await?;
    let begun = Instant::now();
    let checks = doctor.run().await;
    let took = begun.elapsed();
    let failed = checks.iter().any(|c| c.verdict == Verdict::Fail);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "passed": !failed,
                "checks": checks,
                "calls": doctor.calls(),
                "seconds": took.as_secs_f64(),
            })
        );
    } else {
        for c in &checks {
            let mark = match c.verdict {
                Verdict::Pass => "✓",
                Verdict::Warn => "!",
                Verdict::Fail => "✗",
            };
            println!("{mark} {}: {}", c.check, c.detail);
            if let Some(fix) = &c.fix {
                println!("    what to do: {fix}");
            }
        }
        eprintln!(
            "{} check{}, {} read-only AWS call{}, {:.1} s",
            checks.len(),
            if checks.len() == 1 { "" } else { "s" },
            doctor.calls(),
            if doctor.calls() == 1 { "" } else { "s" },
            took.as_secs_f64()
        );
    }
    Ok(if failed { 1 } else { 0 })
}
