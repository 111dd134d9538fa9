//! The front door's entry: the one CloudFront KeyValueStore entry the door's function
//! (`infra/modules/grafana_on_demand/door.js`) reads for every request, to choose where it
//! goes. The controller owns it: `running` with the serving task's origin once Grafana
//! answers, `asleep` otherwise. The name never moves; only this entry does.
//!
//! Writes are compare-and-set: the store's ETag read with the entry goes back as `If-Match`,
//! so a write based on an older read loses (`ConflictException`). Each write carries a
//! generation one above the entry it replaces: it only grows, and a writer that lost sees by
//! it that someone wrote after it read, and leaves their entry alone (the next read decides
//! again, on a fresh look at ECS). A stop always writes, so a status read before the stop
//! cannot put a stopping task back behind the door.

use crate::error::{Error, Result};
use crate::platform::{Platform, StoreEntry};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::Duration;

/// The key the function reads.
pub const DOOR_KEY: &str = "door";

/// How long after the entry is written the running notice waits, unless configured: a guess
/// (AWS does not document how long an entry takes to reach every edge location) until the
/// real-account script measures it.
pub const DEFAULT_PROPAGATION_GRACE: Duration = Duration::from_secs(5);

/// How long an entry this process read or wrote is trusted without reading it again, while
/// the target stays the same: KeyValueStore's API calls are billed, and the reaper's tick
/// comes every minute (2 calls a read: 86,400 a month). A new target, a stop, a cold start or
/// a failed write reads at once; a change made by hand is put right within this time.
pub const ENTRY_RECHECK: Duration = Duration::from_secs(15 * 60);

/// Times a write that lost to a concurrent one is tried again on a fresh read.
const CONFLICT_TRIES: usize = 3;

/// What a write failed on, said on the status until a later write succeeds.
const NOT_OPEN: &str = "the front door could not be opened";

/// How the door reaches the task: the protocol CloudFront speaks to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OriginProtocol {
    /// Plain HTTP (a door without a name of its own: no certificate on the task).
    Http,
    /// HTTPS, the certificate checked against the door's host.
    Https,
}

/// The front door of one service: its KeyValueStore and how the door reaches the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontDoor {
    /// The KeyValueStore's ARN (`arn:aws:cloudfront::<account>:key-value-store/<id>`).
    pub store_arn: String,
    /// The door's own host (the public name, or the distribution's domain): the URL's host,
    /// the `Host` Grafana expects, and with HTTPS the name its certificate must carry.
    pub host: String,
    /// The protocol CloudFront speaks to the task.
    pub protocol: OriginProtocol,
    /// The task's port.
    pub port: u16,
    /// How long after a write the entry is taken to have reached the edges.
    pub grace: Duration,
}

impl FrontDoor {
    /// The door in `DOOR_KVS_ARN`, at `host`, reaching the task over `scheme` on `port`;
    /// `DOOR_PROPAGATION_GRACE_S` (default 5) is how long the running notice waits after a
    /// write. `None` when no store is configured.
    pub fn from_env(host: Option<&str>, scheme: &str, port: u16) -> Result<Option<Self>> {
        use crate::env::setting as var;
        let Some(arn) = var("DOOR_KVS_ARN") else {
            return Ok(None);
        };
        if !arn.starts_with("arn:") || !arn.contains(":key-value-store/") {
            return Err(Error::invalid_config(
                "DOOR_KVS_ARN",
                format!(
                    "`{arn}` is not a KeyValueStore ARN (arn:aws:cloudfront::<account>:key-value-store/<id>)"
                ),
            ));
        }
        let host = host.ok_or_else(|| {
            Error::invalid_config(
                "PUBLIC_NAME",
                "is not set: a front door needs its host (the name, or the distribution's domain dxxxx.cloudfront.net)",
            )
        })?;
        let grace = match var("DOOR_PROPAGATION_GRACE_S") {
            None => DEFAULT_PROPAGATION_GRACE,
            Some(v) => v
                .parse()
                .ok()
                .filter(|s| *s <= 300)
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    Error::invalid_config(
                        "DOOR_PROPAGATION_GRACE_S",
                        format!("`{v}` is not seconds from 0 to 300"),
                    )
                })?,
        };
        Ok(Some(FrontDoor {
            store_arn: arn,
            host: host.to_owned(),
            protocol: if scheme == "https" {
                OriginProtocol::Https
            } else {
                OriginProtocol::Http
            },
            port,
            grace,
        }))
    }

    /// The entry for `target`, at `generation`.
    pub fn entry(&self, target: &DoorTarget, generation: u64) -> DoorEntry {
        match target {
            DoorTarget::Asleep => DoorEntry {
                state: DoorState::Asleep,
                generation,
                origin: None,
                host: None,
                protocol: None,
                port: None,
            },
            DoorTarget::Task { origin } => DoorEntry {
                state: DoorState::Running,
                generation,
                origin: Some(origin.clone()),
                host: Some(self.host.clone()),
                protocol: Some(self.protocol),
                port: Some(self.port),
            },
        }
    }

    /// What to write over `current` (the stored value, if any) for `target`: `None` when the
    /// entry already routes there and nothing forces a write; else the entry one generation
    /// above the current one.
    pub fn next(
        &self,
        current: Option<&str>,
        target: &DoorTarget,
        force: bool,
    ) -> Option<DoorEntry> {
        let current = current.and_then(DoorEntry::parse);
        let generation = current.as_ref().map_or(0, |c| c.generation);
        let wanted = self.entry(target, generation);
        if !force && current.is_some_and(|c| c.routes_like(&wanted)) {
            return None;
        }
        Some(self.entry(target, generation.saturating_add(1)))
    }
}

/// Where the door should send Grafana's requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoorTarget {
    /// Nothing serves: a person's navigation gets the wake page, everything else a 503.
    Asleep,
    /// The serving task, by its ENI's public DNS name.
    Task {
        /// `ec2-…compute.amazonaws.com`, as EC2 reports it.
        origin: String,
    },
}

/// The entry's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DoorState {
    /// Requests go to the task.
    Running,
    /// Requests go to the wake page, or get a 503 at the edge.
    Asleep,
}

/// The entry as the function reads it (JSON, under 1 KB).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorEntry {
    /// Running or asleep.
    pub state: DoorState,
    /// One above the entry it replaced.
    pub generation: u64,
    /// The task's public DNS name (running only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The `Host` sent to the task (running only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `http` or `https` (running only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<OriginProtocol>,
    /// The task's port (running only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

impl DoorEntry {
    /// The entry in a stored value; `None` when it is not one (the function reads it as
    /// asleep).
    pub fn parse(value: &str) -> Option<DoorEntry> {
        serde_json::from_str(value).ok()
    }

    /// The stored value.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether both send requests to the same place, whatever their generations.
    pub fn routes_like(&self, other: &DoorEntry) -> bool {
        DoorEntry {
            generation: 0,
            ..self.clone()
        } == DoorEntry {
            generation: 0,
            ..other.clone()
        }
    }
}

/// What this process last knew of the door.
#[derive(Debug, Clone, Default)]
struct Known {
    /// The entry as last read or written, and when it was confirmed.
    entry: Option<(DoorEntry, DateTime<Utc>)>,
    /// When the store was last read or written.
    checked: Option<DateTime<Utc>>,
}

/// Whether the door leads where a read wanted it to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoorOutcome {
    /// The entry routes to the target, confirmed (read or written) at this time.
    Open(DateTime<Utc>),
    /// It does not, and why (said on the status).
    NotOpen(String),
}

/// Writes the door's entry for the controller, compare-and-set, and remembers what it wrote.
#[derive(Debug)]
pub(crate) struct DoorWriter {
    door: FrontDoor,
    known: Mutex<Known>,
}

impl DoorWriter {
    pub fn new(door: FrontDoor) -> Self {
        DoorWriter {
            door,
            known: Mutex::default(),
        }
    }

    pub fn door(&self) -> &FrontDoor {
        &self.door
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes the entry route to `target` (always writing when `force`), reading it first:
    /// a change by hand or by another instance is seen and put right. Never fails the
    /// caller: the outcome says what holds.
    pub async fn point<P: Platform>(
        &self,
        platform: &P,
        target: &DoorTarget,
        force: bool,
    ) -> DoorOutcome {
        if !force && let Some(at) = self.trusted(target, platform.now()) {
            return DoorOutcome::Open(at);
        }
        let outcome = self.try_point(platform, target, force).await;
        let now = platform.now();
        let mut known = self.known();
        known.checked = Some(now);
        match outcome {
            Ok(entry) => {
                // Unchanged: confirmed when it was written (the edges have had it since).
                let at = match &known.entry {
                    Some((old, at)) if old == &entry => *at,
                    _ => now,
                };
                known.entry = Some((entry, at));
                DoorOutcome::Open(at)
            }
            Err(problem) => {
                tracing::warn!(store = %self.door.store_arn, %problem, "{NOT_OPEN}; the next read tries again");
                known.entry = None;
                DoorOutcome::NotOpen(problem)
            }
        }
    }

    /// When the entry was confirmed, if this process knows it routes to `target` and read or
    /// wrote it within [`ENTRY_RECHECK`]: nothing says it may be wrong, so it is not read.
    fn trusted(&self, target: &DoorTarget, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let known = self.known();
        let (entry, at) = known.entry.as_ref()?;
        let fresh = now.signed_duration_since(known.checked?)
            < chrono::Duration::from_std(ENTRY_RECHECK).unwrap_or_default();
        (fresh && entry.routes_like(&self.door.entry(target, 0))).then_some(*at)
    }

    async fn try_point<P: Platform>(
        &self,
        platform: &P,
        target: &DoorTarget,
        force: bool,
    ) -> std::result::Result<DoorEntry, String> {
        let arn = &self.door.store_arn;
        let said = |e: Error| format!("{NOT_OPEN}: {e}");
        let mut read: StoreEntry = platform.door_entry(arn, DOOR_KEY).await.map_err(said)?;
        let first = read.value.as_deref().and_then(DoorEntry::parse);
        for _ in 0..CONFLICT_TRIES {
            let Some(entry) = self.door.next(read.value.as_deref(), target, force) else {
                return DoorEntry::parse(read.value.as_deref().unwrap_or_default())
                    .ok_or_else(|| format!("{NOT_OPEN}: its entry cannot be read back"));
            };
            match platform
                .put_door_entry(arn, DOOR_KEY, &entry.to_json(), &read.etag)
                .await
            {
                Ok(_) => {
                    tracing::info!(state = ?entry.state, generation = entry.generation, origin = entry.origin.as_deref().unwrap_or_default(), "front door pointed");
                    return Ok(entry);
                }
                Err(Error::Conflict { .. }) => {
                    read = platform.door_entry(arn, DOOR_KEY).await.map_err(said)?;
                    let now = read.value.as_deref().and_then(DoorEntry::parse);
                    let newer = match (&first, &now) {
                        (Some(f), Some(n)) => n.generation > f.generation,
                        (None, Some(_)) => true,
                        _ => false,
                    };
                    // A stop's write is the fresh truth: it keeps trying.
                    if let Some(theirs) = now.filter(|_| newer && !force) {
                        let wanted = self.door.entry(target, theirs.generation);
                        if theirs.routes_like(&wanted) {
                            return Ok(theirs);
                        }
                        // Someone wrote after this read of ECS: theirs may be the newer truth.
                        return Err(format!(
                            "{NOT_OPEN}: another controller wrote it meanwhile (generation {}); the next read decides again",
                            theirs.generation
                        ));
                    }
                }
                Err(e) => return Err(said(e)),
            }
        }
        Err(format!(
            "{NOT_OPEN}: its store kept changing under {CONFLICT_TRIES} writes"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn door() -> FrontDoor {
        FrontDoor {
            store_arn: "arn:aws:cloudfront::123456789012:key-value-store/abc".into(),
            host: "grafana.example.com".into(),
            protocol: OriginProtocol::Https,
            port: 443,
            grace: DEFAULT_PROPAGATION_GRACE,
        }
    }

    fn task() -> DoorTarget {
        DoorTarget::Task {
            origin: "ec2-203-0-113-7.eu-west-3.compute.amazonaws.com".into(),
        }
    }

    #[test]
    fn the_entry_is_the_json_the_function_reads() {
        let running = door().entry(&task(), 4);
        assert_eq!(
            running.to_json(),
            r#"{"state":"running","generation":4,"origin":"ec2-203-0-113-7.eu-west-3.compute.amazonaws.com","host":"grafana.example.com","protocol":"https","port":443}"#
        );
        assert_eq!(
            door().entry(&DoorTarget::Asleep, 5).to_json(),
            r#"{"state":"asleep","generation":5}"#
        );
        assert_eq!(DoorEntry::parse(&running.to_json()), Some(running));
        assert_eq!(DoorEntry::parse("not json"), None);
    }

    #[test]
    fn a_write_is_one_generation_up_and_only_when_the_route_changes() {
        let d = door();
        let asleep = d.entry(&DoorTarget::Asleep, 7).to_json();
        assert_eq!(d.next(Some(&asleep), &DoorTarget::Asleep, false), None);
        assert_eq!(
            d.next(Some(&asleep), &DoorTarget::Asleep, true),
            Some(d.entry(&DoorTarget::Asleep, 8))
        );
        assert_eq!(
            d.next(Some(&asleep), &task(), false),
            Some(d.entry(&task(), 8))
        );
        // Missing or unreadable: generation 1.
        assert_eq!(d.next(None, &task(), false), Some(d.entry(&task(), 1)));
        assert_eq!(
            d.next(Some("{"), &DoorTarget::Asleep, false),
            Some(d.entry(&DoorTarget::Asleep, 1))
        );
        // Another task, another port: a change.
        let mut other = d.entry(&task(), 3);
        other.port = Some(3000);
        assert_eq!(
            d.next(Some(&other.to_json()), &task(), false),
            Some(d.entry(&task(), 4))
        );
    }
}
