//! What a session costs: the task's size at list prices, in one table.

use crate::observation::TaskSnapshot;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Fargate's price of one vCPU-hour and one GB-hour of memory.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rate {
    /// USD per vCPU-hour.
    pub vcpu_hour: f64,
    /// USD per GB-hour of memory.
    pub gb_hour: f64,
}

/// List prices in one region at one date, in USD. Override them with `PRICES` (this
/// struct as JSON) for another region or a newer list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Prices {
    /// The region these prices are for.
    pub region: String,
    /// When they were read from AWS's price list.
    pub as_of: String,
    /// Fargate, Linux, x86_64.
    pub fargate: Rate,
    /// Fargate, Linux, arm64.
    pub fargate_arm: Rate,
    /// Fargate Spot, x86_64 (Spot prices move; this is a typical level).
    pub spot: Rate,
    /// Fargate Spot, arm64.
    pub spot_arm: Rate,
    /// A public IPv4 address, per hour.
    pub public_ipv4_hour: f64,
}

impl Default for Prices {
    /// us-east-1 list prices (Linux) as of 2025-01.
    fn default() -> Self {
        Prices {
            region: "us-east-1".into(),
            as_of: "2025-01".into(),
            fargate: Rate {
                vcpu_hour: 0.04048,
                gb_hour: 0.004445,
            },
            fargate_arm: Rate {
                vcpu_hour: 0.03238,
                gb_hour: 0.00356,
            },
            spot: Rate {
                vcpu_hour: 0.012144,
                gb_hour: 0.0013335,
            },
            spot_arm: Rate {
                vcpu_hour: 0.009714,
                gb_hour: 0.001068,
            },
            public_ipv4_hour: 0.005,
        }
    }
}

impl Prices {
    /// The default table, or `PRICES` (JSON, every field) when set.
    pub fn from_env() -> crate::Result<Self> {
        match crate::env::setting("PRICES") {
            None => Ok(Prices::default()),
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                crate::Error::invalid_config(
                    "PRICES",
                    format!(
                        "is not a price table ({e}): give every field of the default, such as {}",
                        serde_json::to_string(&Prices::default()).unwrap_or_default()
                    ),
                )
            }),
        }
    }

    /// USD per hour for this task, when its size is known.
    pub fn hourly(&self, task: &TaskSnapshot) -> Option<f64> {
        let size = &task.size;
        let (cpu, mem) = (size.cpu_units?, size.memory_mib?);
        let rate = match (size.spot, size.arm64) {
            (false, false) => self.fargate,
            (false, true) => self.fargate_arm,
            (true, false) => self.spot,
            (true, true) => self.spot_arm,
        };
        let ip = if task.network.public_ip.is_some() {
            self.public_ipv4_hour
        } else {
            0.0
        };
        Some(f64::from(cpu) / 1024.0 * rate.vcpu_hour + f64::from(mem) / 1024.0 * rate.gb_hour + ip)
    }

    /// What the task has cost from its creation (Fargate bills from the image pull) to `now`.
    pub fn cost(&self, task: &TaskSnapshot, now: DateTime<Utc>) -> Option<Cost> {
        let per_hour = self.hourly(task)?;
        let since = task.created_at.or(task.started_at)?;
        let seconds = (now - since).num_seconds().max(60) as f64;
        Some(Cost {
            per_hour,
            so_far: per_hour * seconds / 3600.0,
            since,
            pricing: format!("{} list prices of {}", self.region, self.as_of),
        })
    }
}

/// The cost of the current session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    /// USD per hour while it runs.
    pub per_hour: f64,
    /// USD so far (Fargate bills at least a minute).
    pub so_far: f64,
    /// Since when it is billed.
    pub since: DateTime<Utc>,
    /// Which prices these are.
    pub pricing: String,
}

impl Cost {
    /// `1 h 12 min, $0.02` (the session's length and cost so far).
    pub fn summary(&self, now: DateTime<Utc>) -> String {
        let length = (now - self.since).to_std().unwrap_or_default();
        format!(
            "{}, ${:.2} (${:.3}/h)",
            crate::session::human(std::time::Duration::from_secs(length.as_secs())),
            self.so_far,
            self.per_hour
        )
    }
}
