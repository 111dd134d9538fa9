//! The discrete-event model of one ECS service, its tasks and their ENIs.
//!
//! Time only moves when [`Model::sync`] is called with a later instant: every transition due
//! by then is applied in order, and the service scheduler reconciles after each one.

use crate::log_filter::LogFilter;
use crate::timing::Timing;
use chrono::{DateTime, Utc};
use grafana_ondemand_core::{
    Deployment, Health, LogPage, NetworkInterface, ServiceEvent, ServiceSnapshot, TaskNetwork,
    TaskPhase, TaskSize, TaskSnapshot,
};
use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use tokio::time::Instant;

/// How many loopback addresses simulated tasks cycle through (127.0.0.10 and up).
pub const ADDRESS_POOL: u8 = 16;
/// The first public address of the pool.
pub const FIRST_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 10);

/// Stopped tasks stay visible this long, as in ECS.
const STOPPED_RETENTION: Duration = Duration::from_secs(3600);
/// ECS keeps a service's last 100 events.
const EVENTS_KEPT: usize = 100;
/// ListTasks' largest page.
pub const LIST_PAGE_MAX: usize = 100;
/// Events per simulated FilterLogEvents page (AWS: up to 10,000 or 1 MB).
const LOG_PAGE: usize = 50;

/// The page of `all` after the position `token` names (tokens are `<prefix><n>`, as this
/// model gave them; any other is refused as AWS refuses a token it never gave), and the
/// next page's token.
pub fn page<T: Clone>(
    all: &[T],
    token: Option<&str>,
    prefix: &str,
    size: usize,
) -> Result<(Vec<T>, Option<String>), CallFault> {
    let offset = match token {
        None => 0,
        Some(t) => t
            .strip_prefix(prefix)
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| CallFault::InvalidParameter("Invalid nextToken.".into()))?,
    };
    let end = offset.saturating_add(size).min(all.len());
    Ok((
        all.get(offset..end).unwrap_or_default().to_vec(),
        (end < all.len()).then(|| format!("{prefix}{end}")),
    ))
}

/// A fault the next call meets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFault {
    /// The call is throttled.
    Throttled,
    /// The service does not exist.
    ServiceNotFound,
    /// The caller may not call this operation.
    AccessDenied,
    /// A parameter is invalid (such as a ListTasks token it never gave).
    InvalidParameter(String),
    /// A log stream or group that does not exist.
    ResourceNotFound(String),
    /// Route 53 refused a change batch, with its sentence.
    InvalidChangeBatch(String),
    /// No hosted zone has this id.
    NoSuchHostedZone(String),
    /// No Route 53 change has this id.
    NoSuchChange(String),
    /// A KeyValueStore write whose `If-Match` is not the store's ETag.
    Conflict(String),
}

/// An API Gateway custom domain: what an alias record may target, and where it serves on
/// this machine.
#[derive(Debug, Clone)]
pub(crate) struct CustomDomain {
    pub hosted_zone_id: String,
    pub serves_at: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone)]
pub(crate) struct SimDeployment {
    pub id: String,
    pub task_definition: String,
    pub created: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct SimTask {
    pub arn: String,
    pub deployment_id: String,
    pub task_definition: String,
    pub phase: TaskPhase,
    pub since: Instant,
    pub desired_running: bool,
    pub created: Instant,
    pub started: Option<Instant>,
    pub stopped: Option<Instant>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub fails_with: Option<String>,
    pub eni_id: String,
    pub public_ip: Ipv4Addr,
    pub private_ip: Ipv4Addr,
    /// Every phase it entered, and when: what lagging counts are read from.
    pub history: Vec<(Instant, TaskPhase)>,
    /// The requests its Grafana served, as Grafana logs them (router logging on).
    pub requests: Vec<(Instant, String)>,
}

impl SimTask {
    /// The phase it was in at `at`; `None` before it existed.
    pub fn phase_at(&self, at: Instant) -> Option<&TaskPhase> {
        self.history
            .iter()
            .take_while(|(when, _)| *when <= at)
            .last()
            .map(|(_, phase)| phase)
    }

    /// When it first entered `phase`, if it did.
    pub fn entered(&self, phase: &TaskPhase) -> Option<Instant> {
        self.history
            .iter()
            .find(|(_, p)| p == phase)
            .map(|(at, _)| *at)
    }

    fn enter(&mut self, phase: TaskPhase, at: Instant) {
        self.history.push((at, phase.clone()));
        self.phase = phase;
        self.since = at;
    }
}

/// How the simulated service logs a request it served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestFormat {
    /// Grafana's router log (`msg="Request Completed" method=GET path=/d/abc …`).
    Grafana,
    /// An access log line in the Common Log Format (`"GET /lab HTTP/1.1" 200 …`).
    AccessLog,
}

#[derive(Debug)]
pub(crate) struct Model {
    pub timing: Timing,
    pub cluster: String,
    pub service: String,
    pub exists: bool,
    pub desired: u32,
    /// Primary first.
    pub deployments: Vec<SimDeployment>,
    pub tasks: Vec<SimTask>,
    pub next_launch_at: Instant,
    pub fail_launches: VecDeque<String>,
    pub throttle_calls: u32,
    pub denied: std::collections::BTreeSet<String>,
    pub assign_public_ip: bool,
    /// Tasks get only an IPv6 address (an IPv6-only subnet).
    pub ipv6_only: bool,
    /// Whether the controller has a network path to the tasks.
    pub reachable: bool,
    /// The next launches ECS cannot place, each with the event it writes.
    pub fail_placements: VecDeque<String>,
    /// Service events, newest first.
    pub events: VecDeque<(Instant, String)>,
    pub list_page_size: usize,
    /// Empty pages (with a token) FilterLogEvents answers first, as AWS does while it searches.
    pub log_empty_pages: usize,
    /// The message Grafana writes for each request it served ("Request Completed"; another
    /// version or configuration may word it otherwise).
    pub request_message: String,
    /// How the service logs a request it served: Grafana's router log, or an access log.
    pub request_format: RequestFormat,
    /// The path its container health check (and the stand-in's health answer) uses.
    pub health_path: String,
    /// Deployments ever created, the first included.
    pub deployments_created: u64,
    /// Requests that reached a task with the front door's secret.
    pub leaked_door_secret: u64,
    /// KeyValueStore's API refuses session tokens (version 1 tokens, in AWS).
    pub kvs_refuses_session_tokens: bool,
    /// CloudWatch Logs' log groups of the account (the task definition's, at first).
    pub log_groups: std::collections::BTreeSet<String>,
    /// ECR's repositories of the account and region, and their tags.
    pub ecr: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// The image of the task definition's container.
    pub image: String,
    /// Roles' trust policies (JSON) by role name, where a test changed them; the others
    /// trust `ecs-tasks.amazonaws.com`.
    pub role_trusts: BTreeMap<String, String>,
    pub calls: BTreeMap<String, u64>,
    pub serial: u64,
    pub revision: u32,
    pub now: Instant,
    /// The service's tags: every write, and when, so that readers see them after the lag.
    pub tags: ServiceTags,
    /// The size every task gets (the task definition's).
    pub task_size: TaskSize,
    /// Tags another client sets while the next call of an operation is in flight.
    pub meanwhile: Vec<(String, String, String)>,
    /// Route 53 hosted zones, by id.
    pub zones: BTreeMap<String, crate::zone::SimZone>,
    /// API Gateway custom domains, by their target's name (with the trailing dot).
    pub custom_domains: BTreeMap<String, CustomDomain>,
    /// Route 53 changes made so far (their ids count them, apart from the tasks' serials).
    pub dns_changes: u64,
    /// The service's deployment configuration: minimum healthy and maximum percent (the
    /// module's 0 and 100 by default: the old task stops before the new one is placed).
    pub deployment_configuration: (u32, u32),
    /// CloudFront KeyValueStores, by ARN.
    pub stores: BTreeMap<String, crate::kvs::SimStore>,
    /// The next KeyValueStore writes that meet another client's write just before them.
    pub store_races: u32,
    /// A write another client makes right after the next GetKey: store, key, value.
    pub store_after_read: Option<(String, String, String)>,
    /// Whether the VPC gives public IPs DNS names (`enableDnsHostnames`).
    pub public_dns_names: bool,
    /// Placement failures ECS reported as "ECS Service Action" events: when, and the reason.
    pub placement_failures: Vec<(Instant, String)>,
    /// EventBridge delivery: task state changes delivered so far, by task ARN, and service
    /// actions delivered so far.
    pub delivered: (BTreeMap<String, usize>, usize),
    /// AWS Backup's recovery points and restore jobs, and one-off tasks.
    pub backup: crate::backup::SimBackup,
    epoch: (Instant, DateTime<Utc>),
}

fn next_phase(task: &SimTask, t: &Timing) -> Option<(Instant, TaskPhase)> {
    let after = |d: Duration| task.since + d;
    Some(match task.phase {
        TaskPhase::Provisioning => (after(t.provisioning), TaskPhase::Pending),
        TaskPhase::Pending if task.fails_with.is_some() => {
            (after(t.pending), TaskPhase::Deprovisioning)
        }
        TaskPhase::Pending => (after(t.pending), TaskPhase::Activating),
        TaskPhase::Activating => (after(t.activating), TaskPhase::Running),
        TaskPhase::Deactivating => (after(t.deactivating), TaskPhase::Stopping),
        TaskPhase::Stopping => (after(t.stopping), TaskPhase::Deprovisioning),
        TaskPhase::Deprovisioning => (after(t.deprovisioning), TaskPhase::Stopped),
        _ => return None,
    })
}

impl Model {
    pub fn new(cluster: &str, service: &str, timing: Timing, now: Instant) -> Self {
        let mut model = Model {
            timing,
            cluster: cluster.into(),
            service: service.into(),
            exists: true,
            desired: 0,
            deployments: Vec::new(),
            tasks: Vec::new(),
            next_launch_at: now,
            fail_launches: VecDeque::new(),
            throttle_calls: 0,
            denied: Default::default(),
            assign_public_ip: true,
            ipv6_only: false,
            reachable: true,
            fail_placements: VecDeque::new(),
            events: VecDeque::new(),
            list_page_size: LIST_PAGE_MAX,
            log_empty_pages: 0,
            request_message: "Request Completed".into(),
            request_format: RequestFormat::Grafana,
            health_path: "/api/health".into(),
            deployments_created: 0,
            leaked_door_secret: 0,
            kvs_refuses_session_tokens: false,
            log_groups: [format!("/ecs/{service}")].into(),
            ecr: BTreeMap::new(),
            image: "grafana/grafana-oss:11.3.0".into(),
            role_trusts: BTreeMap::new(),
            calls: BTreeMap::new(),
            serial: 0,
            revision: 1,
            now,
            tags: ServiceTags::default(),
            // The module's default size.
            task_size: TaskSize {
                cpu_units: Some(256),
                memory_mib: Some(512),
                arm64: false,
                spot: false,
            },
            meanwhile: Vec::new(),
            zones: BTreeMap::new(),
            custom_domains: BTreeMap::new(),
            dns_changes: 0,
            deployment_configuration: (0, 100),
            stores: BTreeMap::new(),
            store_races: 0,
            store_after_read: None,
            public_dns_names: true,
            placement_failures: Vec::new(),
            delivered: (BTreeMap::new(), 0),
            backup: Default::default(),
            epoch: (now, Utc::now()),
        };
        model.new_deployment();
        model
    }

    /// The instant of a wall-clock time (the epoch's for times before it).
    pub fn instant(&self, at: DateTime<Utc>) -> Instant {
        let offset = (at - self.epoch.1).to_std().unwrap_or_default();
        self.epoch.0 + offset
    }

    pub fn wall(&self, at: Instant) -> DateTime<Utc> {
        let offset = at.saturating_duration_since(self.epoch.0);
        self.epoch.1 + chrono::Duration::from_std(offset).unwrap_or_default()
    }

    fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// The id of the next Route 53 change, by hand (`C0HAND…`) or through the API (`C0SIM…`).
    pub fn next_change_id(&mut self, by_hand: bool) -> String {
        self.dns_changes += 1;
        let prefix = if by_hand { "C0HAND" } else { "C0SIM" };
        format!("{prefix}{:09}", self.dns_changes)
    }

    pub fn task_definition(&self) -> String {
        format!(
            "arn:aws:ecs:eu-west-3:123456789012:task-definition/{}:{}",
            self.service, self.revision
        )
    }

    pub fn new_deployment(&mut self) {
        let id = format!(
            "ecs-svc/{:019}",
            4_000_000_000_000_000_000u64 + self.next_serial()
        );
        let task_definition = self.task_definition();
        self.deployments_created += 1;
        self.deployments.insert(
            0,
            SimDeployment {
                id,
                task_definition,
                created: self.now,
            },
        );
        self.next_launch_at = self.now;
    }

    fn event(&mut self, message: String) {
        self.events.push_front((self.now, message));
        self.events.truncate(EVENTS_KEPT);
    }

    /// Counts a call and returns the fault it meets, if any.
    pub fn enter(&mut self, op: &str, needs_service: bool) -> Option<CallFault> {
        *self.calls.entry(op.to_owned()).or_default() += 1;
        let (now_due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.meanwhile)
            .into_iter()
            .partition(|(o, _, _)| o == op);
        self.meanwhile = later;
        let now = self.now;
        for (_, key, value) in now_due {
            self.tags.set(now, self.timing.tag_lag, key, value);
        }
        if self.denied.contains(op) {
            return Some(CallFault::AccessDenied);
        }
        if self.throttle_calls > 0 {
            self.throttle_calls -= 1;
            return Some(CallFault::Throttled);
        }
        (needs_service && !self.exists).then_some(CallFault::ServiceNotFound)
    }

    pub fn sync(&mut self, now: Instant) {
        loop {
            self.reconcile();
            let timing = self.timing.clone();
            let at = self.now;
            let mut progressed = false;
            let mut failures = Vec::new();
            for task in &mut self.tasks {
                while let Some((when, phase)) = next_phase(task, &timing).filter(|(w, _)| *w <= at)
                {
                    if task.phase == TaskPhase::Pending
                        && let Some(reason) = task.fails_with.take()
                    {
                        task.desired_running = false;
                        task.stop_code = Some("TaskFailedToStart".into());
                        task.stopped_reason = Some(reason);
                        failures.push(when);
                    }
                    if phase == TaskPhase::Running {
                        task.started = Some(when);
                    }
                    if phase == TaskPhase::Stopped {
                        task.stopped = Some(when);
                    }
                    task.enter(phase, when);
                    progressed = true;
                }
            }
            for when in failures {
                self.next_launch_at = self.next_launch_at.max(when + timing.relaunch_delay);
            }
            if progressed {
                continue;
            }
            match self.next_event().filter(|t| *t <= now) {
                Some(t) => self.now = t,
                None => break,
            }
        }
        self.now = self.now.max(now);
        self.reconcile();
        let horizon = self.now;
        self.tasks.retain(|t| {
            t.stopped
                .is_none_or(|s| horizon.saturating_duration_since(s) < STOPPED_RETENTION)
        });
    }

    fn next_event(&self) -> Option<Instant> {
        let now = self.now;
        let transitions = self
            .tasks
            .iter()
            .filter_map(|t| next_phase(t, &self.timing))
            .map(|(w, _)| w);
        let health = self
            .tasks
            .iter()
            .filter_map(|t| t.started)
            .flat_map(|s| {
                [
                    s + self.timing.health_delay,
                    s + self.timing.healthy_after(),
                ]
            })
            .filter(|w| *w > now);
        let launch =
            (self.exists && self.primary_alive() < self.desired && self.next_launch_at > now)
                .then_some(self.next_launch_at);
        transitions
            .chain(health)
            .chain(launch)
            .filter(|w| *w > now)
            .min()
    }

    fn primary_id(&self) -> Option<&str> {
        self.deployments.first().map(|d| d.id.as_str())
    }

    fn primary_alive(&self) -> u32 {
        let primary = self.primary_id();
        self.tasks
            .iter()
            .filter(|t| {
                t.desired_running
                    && t.phase != TaskPhase::Stopped
                    && Some(t.deployment_id.as_str()) == primary
            })
            .count() as u32
    }

    pub fn is_answering_task(&self, task: &SimTask) -> bool {
        task.phase == TaskPhase::Running
            && task
                .started
                .is_some_and(|s| self.now >= s + self.timing.health_delay)
    }

    /// Whether ECS reports the container HEALTHY: its health check passed once.
    pub fn is_healthy_task(&self, task: &SimTask) -> bool {
        task.phase == TaskPhase::Running
            && task
                .started
                .is_some_and(|s| self.now >= s + self.timing.healthy_after())
    }

    /// The service scheduler: launch what is missing, stop what is extra, drain old deployments.
    fn reconcile(&mut self) {
        if !self.exists {
            return;
        }
        let now = self.now;
        let Some(primary) = self.primary_id().map(str::to_owned) else {
            return;
        };
        let alive = self.primary_alive();
        let (min_healthy, max_percent) = self.deployment_configuration;
        // ECS counts the tasks in RUNNING or PENDING (PROVISIONING included) against the
        // maximum: a task shutting down counts no more, and a new one may be placed beside it.
        let in_service = self
            .tasks
            .iter()
            .filter(|t| {
                t.desired_running
                    && matches!(
                        t.phase,
                        TaskPhase::Provisioning
                            | TaskPhase::Pending
                            | TaskPhase::Activating
                            | TaskPhase::Running
                    )
            })
            .count() as u32;
        let cap = self.desired * max_percent / 100;
        if alive < self.desired && now >= self.next_launch_at {
            let room = cap.saturating_sub(in_service);
            for _ in 0..room.min(self.desired - alive) {
                self.launch(&primary);
            }
            if room == 0 {
                // No room for the new deployment's task: the old deployment's tasks go first,
                // down to the minimum healthy.
                let keep = (self.desired * min_healthy).div_ceil(100) as usize;
                let reason = format!("Scaling activity initiated by (deployment {primary})");
                let old: Vec<usize> = (0..self.tasks.len())
                    .filter(|&i| {
                        let t = &self.tasks[i];
                        t.deployment_id != primary
                            && t.desired_running
                            && t.phase != TaskPhase::Stopped
                    })
                    .collect();
                for i in old.into_iter().skip(keep) {
                    self.request_stop(i, "ServiceSchedulerInitiated", &reason);
                }
            }
        }
        if alive > self.desired {
            let extra = (alive - self.desired) as usize;
            let reason = format!("Scaling activity initiated by (deployment {primary})");
            let mut victims: Vec<usize> = (0..self.tasks.len())
                .filter(|&i| {
                    let t = &self.tasks[i];
                    t.desired_running && t.phase != TaskPhase::Stopped && t.deployment_id == primary
                })
                .collect();
            victims.sort_by_key(|&i| std::cmp::Reverse(self.tasks[i].created));
            for i in victims.into_iter().take(extra) {
                self.request_stop(i, "ServiceSchedulerInitiated", &reason);
            }
        }
        // ECS counts a task of the new deployment once its container health check passes.
        let ready = self
            .tasks
            .iter()
            .filter(|t| t.deployment_id == primary && self.is_healthy_task(t))
            .count() as u32;
        if self.desired == 0 || ready >= self.desired {
            let reason = format!("Scaling activity initiated by (deployment {primary})");
            for i in 0..self.tasks.len() {
                let t = &self.tasks[i];
                if t.deployment_id != primary && t.desired_running && t.phase != TaskPhase::Stopped
                {
                    self.request_stop(i, "ServiceSchedulerInitiated", &reason);
                }
            }
        }
        let tasks = &self.tasks;
        self.deployments.retain(|d| {
            d.id == primary
                || tasks
                    .iter()
                    .any(|t| t.deployment_id == d.id && t.phase != TaskPhase::Stopped)
        });
    }

    fn launch(&mut self, deployment: &str) {
        if let Some(message) = self.fail_placements.pop_front() {
            // ECS creates no task: it writes an event and tries again later.
            self.event(format!(
                "(service {}) was unable to place a task. Reason: {message}",
                self.service
            ));
            self.placement_failures.push((self.now, message));
            self.next_launch_at = self.now + self.timing.relaunch_delay;
            return;
        }
        let n = self.next_serial();
        let slot = ((n - 1) % u64::from(ADDRESS_POOL)) as u8;
        let [a, b, c, d] = FIRST_ADDRESS.octets();
        let task_definition = self
            .deployments
            .iter()
            .find(|x| x.id == deployment)
            .map(|x| x.task_definition.clone())
            .unwrap_or_default();
        let now = self.now;
        self.tasks.push(SimTask {
            arn: format!(
                "arn:aws:ecs:eu-west-3:123456789012:task/{}/{:032x}",
                self.cluster,
                0xa11ce000u64 + n
            ),
            deployment_id: deployment.to_owned(),
            task_definition,
            phase: TaskPhase::Provisioning,
            since: now,
            desired_running: true,
            created: now,
            started: None,
            stopped: None,
            stop_code: None,
            stopped_reason: None,
            fails_with: self.fail_launches.pop_front(),
            eni_id: format!("eni-{:017x}", 0x0feed000u64 + n),
            public_ip: Ipv4Addr::new(a, b, c, d + slot),
            private_ip: Ipv4Addr::new(a, b, c + 1, d + slot),
            history: vec![(now, TaskPhase::Provisioning)],
            requests: Vec::new(),
        });
        let id = format!("{:032x}", 0xa11ce000u64 + n);
        self.event(format!(
            "(service {}) has started 1 tasks: (task {id}).",
            self.service
        ));
    }

    pub fn request_stop(&mut self, i: usize, code: &str, reason: &str) {
        let now = self.now;
        let task = &mut self.tasks[i];
        task.desired_running = false;
        task.stop_code.get_or_insert_with(|| code.to_owned());
        task.stopped_reason.get_or_insert_with(|| reason.to_owned());
        let next = match task.phase {
            TaskPhase::Provisioning | TaskPhase::Pending | TaskPhase::Activating => {
                TaskPhase::Deprovisioning
            }
            TaskPhase::Running => TaskPhase::Deactivating,
            _ => return,
        };
        task.fails_with = None;
        task.enter(next, now);
    }

    /// The running task's essential container exits with `reason`.
    pub fn crash(&mut self, reason: &str) -> bool {
        self.stop_running("EssentialContainerExited", reason)
    }

    /// ECS replaces a running task whose container health check fails: the service
    /// scheduler stops it, with its own stop code, and launches another.
    pub fn replace_unhealthy(&mut self) -> bool {
        self.stop_running(
            "ServiceSchedulerInitiated",
            "Task failed container health checks",
        )
    }

    /// The running task stops on its own (`code`, `reason`); the service launches another.
    fn stop_running(&mut self, code: &str, reason: &str) -> bool {
        let now = self.now;
        let Some(task) = self
            .tasks
            .iter_mut()
            .find(|t| t.phase == TaskPhase::Running)
        else {
            return false;
        };
        task.desired_running = false;
        task.stop_code = Some(code.into());
        task.stopped_reason = Some(reason.to_owned());
        task.enter(TaskPhase::Stopping, now);
        self.next_launch_at = now + self.timing.relaunch_delay;
        true
    }

    pub fn snapshot(&self) -> ServiceSnapshot {
        // The counts ECS reports lag what the tasks do.
        let seen = self
            .now
            .checked_sub(self.timing.count_lag)
            .unwrap_or(self.epoch.0);
        let count = |f: fn(&TaskPhase) -> bool| {
            self.tasks
                .iter()
                .filter(|t| t.phase_at(seen).is_some_and(f))
                .count() as u32
        };
        ServiceSnapshot {
            desired_count: self.desired,
            running_count: count(|p| *p == TaskPhase::Running),
            pending_count: count(|p| {
                matches!(
                    p,
                    TaskPhase::Provisioning | TaskPhase::Pending | TaskPhase::Activating
                )
            }),
            deployments: self
                .deployments
                .iter()
                .enumerate()
                .map(|(i, d)| Deployment {
                    id: d.id.clone(),
                    primary: i == 0,
                    task_definition: Some(d.task_definition.clone()),
                    created_at: Some(self.wall(d.created)),
                })
                .collect(),
            events: self
                .events
                .iter()
                .map(|(at, message)| ServiceEvent {
                    at: Some(self.wall(*at)),
                    message: message.clone(),
                })
                .collect(),
            assign_public_ip: Some(self.assign_public_ip),
            tags: self.tags.visible(self.now, self.timing.tag_lag),
        }
    }

    /// Whether the task's ENI exists in EC2: from PENDING until EC2 deletes it, which it
    /// does during DEPROVISIONING.
    pub fn has_eni(task: &SimTask) -> bool {
        !matches!(
            task.phase,
            TaskPhase::Provisioning | TaskPhase::Deprovisioning | TaskPhase::Stopped
        )
    }

    pub fn public_ip_of(&self, task: &SimTask) -> Option<Ipv4Addr> {
        let visible = task
            .started
            .is_some_and(|s| self.now >= s + self.timing.public_ip_delay);
        (self.assign_public_ip && !self.ipv6_only && visible && Model::has_eni(task))
            .then_some(task.public_ip)
    }

    /// The task's IPv6 address in an IPv6-only subnet: its loopback address, IPv4-mapped.
    pub fn ipv6_of(&self, task: &SimTask) -> Option<IpAddr> {
        self.ipv6_only
            .then(|| IpAddr::V6(task.public_ip.to_ipv6_mapped()))
    }

    fn private_ip_of(&self, task: &SimTask) -> Option<IpAddr> {
        (!self.ipv6_only).then_some(IpAddr::V4(task.private_ip))
    }

    /// Whether the task is visible to DescribeTasks yet.
    pub fn is_described(&self, task: &SimTask) -> bool {
        self.now >= task.created + self.timing.describe_lag
    }

    pub fn describe(&self, task: &SimTask) -> TaskSnapshot {
        // The attachment's details stay in DescribeTasks after EC2 deleted the ENI.
        let attached = task.phase != TaskPhase::Provisioning;
        TaskSnapshot {
            arn: task.arn.clone(),
            last_status: task.phase.clone(),
            desired_status: if task.desired_running {
                TaskPhase::Running
            } else {
                TaskPhase::Stopped
            },
            started_by: Some(task.deployment_id.clone()),
            task_definition: Some(task.task_definition.clone()),
            health: if self.is_healthy_task(task) {
                Health::Healthy
            } else {
                Health::Unknown
            },
            stop_code: task.stop_code.clone().filter(|_| !task.desired_running),
            stopped_reason: task
                .stopped_reason
                .clone()
                .filter(|_| !task.desired_running),
            created_at: Some(self.wall(task.created)),
            started_at: task.started.map(|s| self.wall(s)),
            // The pull is PENDING's work: it begins as the task enters it and ends as the
            // task leaves it for ACTIVATING.
            pull_started_at: task.entered(&TaskPhase::Pending).map(|s| self.wall(s)),
            pull_stopped_at: task.entered(&TaskPhase::Activating).map(|s| self.wall(s)),
            stopped_at: task.stopped.map(|s| self.wall(s)),
            network: TaskNetwork {
                eni_id: attached.then(|| task.eni_id.clone()),
                private_ip: self.private_ip_of(task).filter(|_| attached),
                public_ip: None,
                ipv6: self.ipv6_of(task).filter(|_| attached),
                public_dns_name: None,
            },
            size: self.task_size.clone(),
        }
    }

    /// The service's log line for one request: Grafana's, in its text format with router
    /// logging on; any other service's, an access log line in the Common Log Format.
    fn request_line(&self, at: DateTime<Utc>, method: &str, path: &str, status: u16) -> String {
        match self.request_format {
            RequestFormat::Grafana => format!(
                "logger=context userId=0 orgId=1 uname= t={} level=info msg=\"{}\" method={method} path={path} status={status} remote_addr=127.0.0.1 time_ms=1 duration=1.2ms size=120 referer= handler={path} status_source=server",
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                self.request_message
            ),
            RequestFormat::AccessLog => format!(
                "127.0.0.1 - - [{}] \"{method} {path} HTTP/1.1\" {status} 120",
                at.format("%d/%b/%Y:%H:%M:%S +0000")
            ),
        }
    }

    /// Records a request served by the task at `ip`; false when no running task is there.
    pub fn record_request(&mut self, ip: IpAddr, method: &str, path: &str, status: u16) -> bool {
        let ip = ip.to_canonical();
        let now = self.now;
        let line = self.request_line(self.wall(now), method, path, status);
        let Some(task) = self.tasks.iter_mut().find(|t| {
            t.phase == TaskPhase::Running
                && (IpAddr::V4(t.public_ip) == ip || IpAddr::V4(t.private_ip) == ip)
        }) else {
            return false;
        };
        task.requests.push((now, line));
        true
    }

    /// The task's log stream as CloudWatch holds it: Grafana's start line, the container
    /// health check's request every interval, and the requests it served.
    fn log_stream(&self, task: &SimTask, from: Instant) -> Vec<(Instant, String)> {
        let Some(started) = task.started else {
            return Vec::new();
        };
        let end = task.stopped.unwrap_or(self.now).min(self.now);
        let at = self
            .wall(started)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let listening = match self.request_format {
            RequestFormat::Grafana => format!(
                "logger=http.server t={at} level=info msg=\"HTTP Server Listen\" address=[::]:3000 protocol=http"
            ),
            RequestFormat::AccessLog => format!("{at} listening for HTTP requests"),
        };
        let mut lines = vec![(started, listening)];
        let interval = self.timing.health_check_interval;
        if !interval.is_zero() {
            // Only the checks from `from` on: a long session has thousands before.
            let skipped = from.saturating_duration_since(started).as_nanos() / interval.as_nanos();
            let mut at = started + interval * u32::try_from(skipped).unwrap_or(u32::MAX).max(1);
            while at <= end {
                lines.push((
                    at,
                    self.request_line(self.wall(at), "GET", &self.health_path, 200),
                ));
                at += interval;
            }
        }
        lines.extend(task.requests.iter().cloned());
        lines.sort_by_key(|(at, _)| *at);
        lines
    }

    /// FilterLogEvents on one task's stream: the matching events at or after `since`.
    pub fn filter_log_events(
        &self,
        task_id: &str,
        since: DateTime<Utc>,
        pattern: &str,
        token: Option<&str>,
    ) -> Result<LogPage, CallFault> {
        let filter = LogFilter::parse(pattern).map_err(CallFault::InvalidParameter)?;
        // AWS may answer empty pages, each with a token, while it searches.
        let searched = match token {
            None => 0,
            Some(t) => t
                .strip_prefix("searching-")
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(self.log_empty_pages),
        };
        if searched < self.log_empty_pages {
            return Ok(LogPage {
                times: Vec::new(),
                next_token: Some(format!("searching-{}", searched + 1)),
            });
        }
        let token = token.filter(|t| !t.starts_with("searching-"));
        let task = self
            .tasks
            .iter()
            .find(|t| t.arn.rsplit('/').next() == Some(task_id) && t.started.is_some())
            .ok_or_else(|| {
                CallFault::ResourceNotFound("The specified log stream does not exist.".into())
            })?;
        let times: Vec<DateTime<Utc>> = self
            .log_stream(task, self.instant(since))
            .into_iter()
            .map(|(at, line)| (self.wall(at), line))
            .filter(|(at, line)| *at >= since && filter.matches(line))
            .map(|(at, _)| at)
            .collect();
        let (times, next_token) = page(&times, token, "events-after-", LOG_PAGE)?;
        Ok(LogPage { times, next_token })
    }

    pub fn interface(&self, eni_id: &str) -> Option<NetworkInterface> {
        let task = self
            .tasks
            .iter()
            .find(|t| t.eni_id == eni_id && Model::has_eni(t))?;
        Some(NetworkInterface {
            id: task.eni_id.clone(),
            public_ip: self.public_ip_of(task).map(IpAddr::V4),
            private_ip: self.private_ip_of(task),
            ipv6: self.ipv6_of(task),
            public_dns_name: self
                .public_ip_of(task)
                .filter(|_| self.public_dns_names)
                .map(public_dns_name),
        })
    }
}

/// A service's tags as ECS keeps them: eventually consistent, a write shows to readers (the
/// writer included) only `tag_lag` after it was made.
#[derive(Debug, Default)]
pub struct ServiceTags {
    /// What every reader sees: writes older than the lag.
    settled: BTreeMap<String, String>,
    /// Newer writes, oldest first.
    recent: std::collections::VecDeque<(Instant, String, String)>,
}

impl ServiceTags {
    /// Writes `key`, at `at`; writes older than `lag` settle (no reader comes before `at`).
    pub fn set(&mut self, at: Instant, lag: std::time::Duration, key: String, value: String) {
        let seen = at.checked_sub(lag).unwrap_or(at);
        while self.recent.front().is_some_and(|(t, _, _)| *t <= seen) {
            if let Some((_, k, v)) = self.recent.pop_front() {
                self.settled.insert(k, v);
            }
        }
        self.recent.push_back((at, key, value));
    }

    /// A tag every reader sees at once: one set when the service was made (Terraform's).
    pub fn set_settled(&mut self, key: String, value: String) {
        self.settled.insert(key, value);
    }

    /// The tags as they are, every write applied (what the platform holds, not what a reader
    /// sees yet).
    pub fn current(&self) -> BTreeMap<String, String> {
        let mut tags = self.settled.clone();
        for (_, k, v) in &self.recent {
            tags.insert(k.clone(), v.clone());
        }
        tags
    }

    /// The tags a reader sees at `now`: the writes made at least `lag` before.
    pub fn visible(&self, now: Instant, lag: std::time::Duration) -> BTreeMap<String, String> {
        let seen = now.checked_sub(lag).unwrap_or(now);
        let mut tags = self.settled.clone();
        for (_, k, v) in self.recent.iter().filter(|(at, _, _)| *at <= seen) {
            tags.insert(k.clone(), v.clone());
        }
        tags
    }
}

/// The public DNS name EC2 gives a public IP in the simulated region, as AWS spells it
/// (`ec2-203-0-113-7.eu-west-3.compute.amazonaws.com`); the simulated edge resolves it
/// through the model, never by reading the address back out of it.
pub fn public_dns_name(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("ec2-{a}-{b}-{c}-{d}.eu-west-3.compute.amazonaws.com")
}
