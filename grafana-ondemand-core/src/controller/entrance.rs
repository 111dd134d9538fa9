//! Where people are sent: the front door's entry, or a private name's record, and the one
//! rule both keep: never advertise what people cannot reach. A status says `running`, with a
//! URL, only once the entrance leads to the serving task; an entrance that could not be set
//! (a refused write, a conflict) keeps it `starting`, saying why, until a later read sets it.
//!
//! Reads: the door's KeyValueStore entry, the name's Route 53 records and changes (each only
//! when it may be wrong). Writes: that entry (compare-and-set) or those records, and the
//! status's state, reason and URL when the entrance does not lead there. Must not touch: the
//! service (its count, its tags).

use super::{Controller, Reading};
use crate::derive::{Probes, select_task};
use crate::dns::{NameRecord, RecordTarget, changes};
use crate::door::{DoorOutcome, DoorTarget};
use crate::endpoint::AddressKind;
use crate::error::Error;
use crate::observation::Observation;
use crate::platform::Platform;
use crate::state::State;
use crate::status::Status;
use chrono::{DateTime, Utc};

/// How long the name's record is trusted as last read or written before it is read again:
/// someone may change it by hand (the console, an old deployment of this controller).
const RECORD_RECHECK: chrono::Duration = chrono::Duration::minutes(5);

/// The name's record sets as this process last read or wrote them.
#[derive(Debug, Clone)]
pub(super) struct KnownRecords {
    records: Vec<NameRecord>,
    /// When they were read or written.
    at: DateTime<Utc>,
    /// The Route 53 change that wrote them, until it is seen INSYNC.
    change: Option<String>,
}

impl<P: Platform> Controller<P> {
    /// Points the public name where `target` says, if a zone is configured and the record
    /// differs from what it is known to be. Never fails the caller: a record that could not
    /// be set is logged, read again next time, and said (the problem, for [`hold_back`]).
    ///
    /// [`hold_back`]: Controller::hold_back
    pub(super) async fn point_name(&self, target: RecordTarget) -> Result<(), String> {
        let (Some(zone), Some(name)) = (&self.zone, &self.profile.public_name) else {
            return Ok(());
        };
        let wanted = zone.records(&target);
        let now = self.platform.now();
        let known = self
            .memory()
            .records
            .clone()
            .filter(|k| now - k.at < RECORD_RECHECK)
            .map(|k| k.records);
        let point = |known: Option<Vec<NameRecord>>| async {
            let current = match known {
                Some(records) => records,
                None => self.platform.address_records(&zone.zone_id, name).await?,
            };
            let batch = changes(&current, &wanted);
            if batch.is_empty() {
                return Ok::<_, Error>(None);
            }
            let change = self
                .platform
                .change_address_records(&zone.zone_id, name, &batch)
                .await?;
            tracing::info!(%name, target = ?target, %change, "public name pointed");
            Ok(Some(change))
        };
        let result = match known {
            // What this process remembers may be stale (another instance moved the name, and
            // Route 53 refuses a delete that does not match): read it, and try once more.
            Some(known) => match point(Some(known)).await {
                Err(e) if !e.is_retryable() => point(None).await,
                other => other,
            },
            None => point(None).await,
        };
        let mut memory = self.memory();
        let mut problem = Ok(());
        memory.records = match result {
            Ok(change) => {
                // Unchanged: a change of ours that wrote these may still be on its way.
                let pending = memory
                    .records
                    .as_ref()
                    .filter(|k| k.records == wanted)
                    .and_then(|k| k.change.clone());
                Some(KnownRecords {
                    records: wanted,
                    at: now,
                    change: change.or(pending),
                })
            }
            Err(e) => {
                tracing::warn!(%name, error = %e, "the public name could not be pointed; next read tries again");
                problem = Err(format!("its name {name} could not be pointed at it: {e}"));
                None
            }
        };
        problem
    }

    /// Where the public name should point for what was observed: the chosen task's addresses
    /// once Grafana answers (readiness confirmed), asleep otherwise: the name never leads to
    /// a Grafana still booting, and while it boots the wake page keeps its visitors informed.
    pub(super) fn record_target(
        &self,
        obs: &Observation,
        probes: &Probes,
        status: &Status,
    ) -> RecordTarget {
        if obs.service.desired_count == 0 || status.state != State::Running {
            return RecordTarget::Asleep;
        }
        let Some(task) = select_task(obs, &self.profile, probes) else {
            return RecordTarget::Asleep;
        };
        let v4 = match self.profile.address {
            AddressKind::Public => task.network.public_ip,
            AddressKind::Private => task.network.private_ip,
        };
        match (v4, task.network.ipv6) {
            (None, None) => RecordTarget::Asleep,
            (v4, v6) => RecordTarget::Task { v4, v6 },
        }
    }

    /// Points the front door, if there is one, where the status says, and keeps the status
    /// honest: "running" only once the door leads to the task. A task the door cannot reach
    /// (no public DNS name) is a failure; an entry that cannot be written keeps it "starting",
    /// saying why, until a later read writes it.
    pub(super) async fn open_door(
        &self,
        obs: &Observation,
        probes: &Probes,
        status: &mut Status,
    ) -> Option<DoorOutcome> {
        let writer = self.door.as_ref()?;
        let serving = (status.state == State::Running && obs.service.desired_count > 0)
            .then(|| select_task(obs, &self.profile, probes))
            .flatten();
        let target = match serving {
            None => DoorTarget::Asleep,
            Some(task) => match &task.network.public_dns_name {
                Some(origin) => DoorTarget::Task {
                    origin: origin.clone(),
                },
                None => {
                    let reason = format!(
                        "the task's network interface has no public DNS name, and the front door can only reach a task by name: enable DNS hostnames and DNS support on the VPC (enableDnsHostnames, enableDnsSupport), then start {} again",
                        self.profile.display_name
                    );
                    status.state = State::Failed;
                    status.message = format!(
                        "{} runs but the front door cannot reach it: {reason}.",
                        self.profile.display_name
                    );
                    status.reason = Some(reason);
                    status.endpoint = None;
                    DoorTarget::Asleep
                }
            },
        };
        let outcome = writer.point(&self.platform, &target, false).await;
        if let DoorOutcome::NotOpen(problem) = &outcome {
            self.hold_back(status, problem);
        }
        Some(outcome)
    }

    /// The rule of this room, for the door and the name alike: a status whose entrance does
    /// not lead to the task is not `running`; it stays `starting`, without a URL, saying why,
    /// until a later read sets the entrance.
    pub(super) fn hold_back(&self, status: &mut Status, problem: &str) {
        if status.state != State::Running {
            return;
        }
        status.state = State::Starting;
        status.message = format!(
            "{} is up, but {problem}. Trying again.",
            self.profile.display_name
        );
        status.reason = Some(problem.to_owned());
        status.endpoint = None;
    }

    /// Whether the name leads to `target` on every Route 53 server: its record sets are those
    /// of `target` as this process last read or wrote them, and the change that wrote them is
    /// INSYNC (asked of Route 53 until it is). True without a name.
    pub(super) async fn name_in_sync(&self, target: &RecordTarget) -> bool {
        let Some(zone) = &self.zone else {
            return true;
        };
        let wanted = zone.records(target);
        let change = match &self.memory().records {
            Some(k) if k.records == wanted => k.change.clone(),
            _ => return false,
        };
        let Some(change) = change else {
            return true;
        };
        match self.platform.change_in_sync(&change).await {
            Ok(true) => {
                let mut memory = self.memory();
                if let Some(k) = memory.records.as_mut()
                    && k.change.as_deref() == Some(change.as_str())
                {
                    k.change = None;
                }
                true
            }
            Ok(false) => false,
            Err(e) => {
                tracing::debug!(error = %e, %change, "the name's change could not be read");
                false
            }
        }
    }

    /// Whether "running" may be told for what was read: readiness confirmed and, with a
    /// public name, the name leading to the task everywhere.
    pub(super) async fn running_ready(&self, read: &Reading) -> bool {
        if read.status.state != State::Running {
            return false;
        }
        if let (Some(writer), Some(DoorOutcome::Open(at))) = (&self.door, &read.door) {
            let grace = chrono::Duration::from_std(writer.door().grace).unwrap_or_default();
            return self.platform.now() >= *at + grace;
        }
        match read.target {
            _ if self.zone.is_none() => true,
            RecordTarget::Asleep => false,
            target => self.name_in_sync(&target).await,
        }
    }
}

pub(super) fn both_doors() -> Error {
    Error::invalid_config(
        "DOOR_KVS_ARN",
        "a front door and a hosted zone record (DNS_ZONE_ID) are two ways to reach the same name: set one",
    )
}
