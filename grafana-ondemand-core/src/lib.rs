//! The state model and decisions of grafana-ondemand: run a service on ECS Fargate only
//! while someone uses it.
//!
//! Backends translate the platform into an [`Observation`]; [`derive()`] decides the
//! [`Status`] from it, purely; [`Controller`] reads and acts through a [`Platform`];
//! frontends talk to a [`ServiceController`].
//!
//! ```
//! use grafana_ondemand_core::{derive, Observation, Probes, ServiceProfile, State};
//!
//! let mut seen = Observation::default();
//! seen.service.desired_count = 1; // asked for, nothing placed yet
//! let status = derive(&seen, &ServiceProfile::grafana(), &Probes::new());
//! assert_eq!(status.state, State::Starting);
//! assert!(status.endpoint.is_none());
//! ```
//!
//! ## Features
//!
//! - `automock`: `MockServiceController` (mockall), for frontends' tests.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod announced;
mod controller;
mod cost;
mod derive;
mod dns;
mod door;
mod endpoint;
mod env;
mod error;
mod event;
mod metrics;
mod notice;
mod observation;
mod platform;
mod readiness;
mod restore;
mod service;
mod session;
mod session_tags;
mod shared;
mod state;
mod status;
mod timings;
mod wait;

pub use announced::{
    ANNOUNCED_TAG, ClaimSeen, already_announced, announced_tag, claim_on, released,
};
pub use controller::Controller;
pub use cost::{Cost, Prices, Rate};
pub use derive::{
    MAX_PROBES, Probes, confirmed, derive, probe_targets, select_task, task_endpoint,
};
pub use dns::{
    AliasTarget, DEFAULT_TTL, HostedZone, NameRecord, PARKED, RecordChange, RecordTarget,
    RecordType, changes, check_name, fqdn,
};
pub use door::{
    DEFAULT_PROPAGATION_GRACE, DOOR_KEY, DoorEntry, DoorOutcome, DoorState, DoorTarget,
    ENTRY_RECHECK, FrontDoor, OriginProtocol,
};
pub use endpoint::{
    AddressKind, Endpoint, GRAFANA_ACTIVITY_FILTER, ReadinessSource, ServiceProfile,
    access_log_filter,
};
pub use env::setting;
pub use error::{Error, Result};
pub use event::{ContainerState, PlatformEvent, TaskEvent};
pub use metrics::{EmfMetrics, NAMESPACE, emf_line};
pub use notice::{
    EventHandler, Handled, Notice, NoticeContext, NoticeKind, Notifier, Webhook, notice_for,
    running_notice,
};
pub use observation::{
    Deployment, Health, Observation, ServiceEvent, ServiceSnapshot, TaskNetwork, TaskPhase,
    TaskSize, TaskSnapshot,
};
pub use platform::{DesiredStatus, LogPage, NetworkInterface, Platform, StoreEntry, TaskPage};
pub use readiness::{HttpProbe, NoNetworkPath, Readiness, ReadinessProbe, ReadyBy, probe_for};
pub use restore::{
    JobState, MoverState, RESTORE_TAG, RecoveryPoint, Restore, RestoreLimits, RestorePlatform,
    Restored, Step, hold_tag, mover_exit_meaning, released_tag, restore_hold,
};
#[cfg(feature = "automock")]
pub use service::MockServiceController;
pub use service::ServiceController;
pub use session::{
    Activity, KeepReason, Session, SessionPolicy, StopReason, Verdict, decide, every_request,
    human, parse_duration, parse_limit, past_session_limit, within_session,
};
pub use session_tags::{LEASE_TAG, STOP_TAG, StopRecord, StoppedBy, lease_in, lease_tag};
pub use shared::SharedStatus;
pub use state::State;
pub use status::{Status, TaskInfo};
pub use timings::{READY_TAG, Seen, StartTimings};
pub use wait::{poll_delay, wait_for};
