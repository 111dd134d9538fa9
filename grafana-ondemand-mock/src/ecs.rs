//! [`SimulatedEcs`]: the handle tests, demos and the wire stub share.

use crate::model::{CallFault, Model};
use crate::timing::Timing;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use grafana_ondemand_core::{
    AliasTarget, DesiredStatus, Error, LogPage, NameRecord, NetworkInterface, Platform,
    RecordChange, Result, ServiceSnapshot, StoreEntry, TaskPage, TaskPhase, TaskSize, TaskSnapshot,
};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::runtime::Handle;
use tokio::time::Instant;

/// A simulated ECS service (and the EC2 interfaces of its tasks) on tokio time.
///
/// Cheap to clone: clones share one model. Time moves with tokio's clock, so under
/// `tokio::time::pause()` a whole cold start takes no real time.
#[derive(Debug, Clone)]
pub struct SimulatedEcs {
    model: Arc<Mutex<Model>>,
    /// The runtime whose clock the model follows, even when called from another runtime.
    clock: Option<Handle>,
}

impl SimulatedEcs {
    /// A stopped service `grafana` in cluster `ondemand`, with Fargate-like timing: Grafana,
    /// as the module deploys it ([`SimulatedEcs::for_service`] simulates any other).
    pub fn new(timing: Timing) -> Self {
        Self::named("ondemand", "grafana", timing)
    }

    /// A stopped service `service` in `cluster` that runs what `profile` describes: its
    /// health checks at the profile's health path, its requests logged as that service logs
    /// them ([`SimulatedEcs::serve_profile`]).
    pub fn for_service(
        cluster: &str,
        service: &str,
        profile: &grafana_ondemand_core::ServiceProfile,
        timing: Timing,
    ) -> Self {
        let ecs = Self::named(cluster, service, timing);
        ecs.serve_profile(profile);
        ecs
    }

    /// The service's tasks run what `profile` describes from now on: their container health
    /// check and the stand-in's health answer at its health path; their requests logged as
    /// Grafana's router log for Grafana's activity filter, else as an access log in the
    /// Common Log Format (what [`ServiceProfile::http`](grafana_ondemand_core::ServiceProfile::http)'s
    /// filter reads).
    pub fn serve_profile(&self, profile: &grafana_ondemand_core::ServiceProfile) {
        let mut m = self.model();
        m.health_path = profile.health_path.clone();
        m.request_format =
            if profile.activity_filter == grafana_ondemand_core::GRAFANA_ACTIVITY_FILTER {
                crate::model::RequestFormat::Grafana
            } else {
                crate::model::RequestFormat::AccessLog
            };
    }

    /// The path the service's health checks ask.
    pub fn health_path(&self) -> String {
        self.model().health_path.clone()
    }

    /// A stopped service with the given cluster and service names.
    pub fn named(cluster: &str, service: &str, timing: Timing) -> Self {
        let clock = Handle::try_current().ok();
        let now = Self::read_clock(&clock);
        SimulatedEcs {
            model: Arc::new(Mutex::new(Model::new(cluster, service, timing, now))),
            clock,
        }
    }

    fn read_clock(clock: &Option<Handle>) -> Instant {
        match clock {
            Some(handle) => {
                let _inside = handle.enter();
                Instant::now()
            }
            None => Instant::now(),
        }
    }

    /// The model, brought up to the present.
    pub(crate) fn model(&self) -> MutexGuard<'_, Model> {
        let now = Self::read_clock(&self.clock);
        let mut model = self.model.lock().unwrap_or_else(|p| p.into_inner());
        model.sync(now);
        model
    }

    /// The cluster name.
    pub fn cluster(&self) -> String {
        self.model().cluster.clone()
    }

    /// The service name.
    pub fn service(&self) -> String {
        self.model().service.clone()
    }

    /// The timing in force.
    pub fn timing(&self) -> Timing {
        self.model().timing.clone()
    }

    // ---- faults -------------------------------------------------------------------------

    /// The next `n` launched tasks fail in PENDING with `reason` (like an image pull error).
    pub fn fail_next_launches(&self, n: usize, reason: &str) {
        let mut m = self.model();
        for _ in 0..n {
            m.fail_launches.push_back(reason.to_owned());
        }
    }

    /// The running task's essential container exits with `reason`; returns whether one ran.
    pub fn crash_running_task(&self, reason: &str) -> bool {
        self.model().crash(reason)
    }

    /// Whether the service gives its tasks a public IP (`assignPublicIp`; false in private
    /// subnets).
    pub fn set_assign_public_ip(&self, assign: bool) {
        self.model().assign_public_ip = assign;
    }

    /// Tasks get only an IPv6 address, as in an IPv6-only subnet (no IPv4 at all).
    pub fn set_ipv6_only(&self, ipv6_only: bool) {
        self.model().ipv6_only = ipv6_only;
    }

    /// Whether the controller has a network path to the tasks. False is the Lambda's case:
    /// it runs outside the VPC and the security group admits only the users.
    pub fn set_reachable(&self, reachable: bool) {
        self.model().reachable = reachable;
    }

    /// The next `n` launches cannot be placed: ECS creates no task and writes a service event
    /// with `reason` (such as "Capacity is unavailable at this time.").
    pub fn fail_next_placements(&self, n: usize, reason: &str) {
        let mut m = self.model();
        for _ in 0..n {
            m.fail_placements.push_back(reason.to_owned());
        }
    }

    /// DescribeServices' counts lag the tasks by `lag` (ECS: seconds).
    pub fn set_count_lag(&self, lag: std::time::Duration) {
        self.model().timing.count_lag = lag;
    }

    /// The service's deployment configuration (minimum healthy and maximum percent): the
    /// module's 0 and 100 by default (the old task stops before the new one is placed); 100
    /// and 200 for a rolling deployment, old and new side by side.
    pub fn set_deployment_configuration(&self, minimum_healthy_percent: u32, maximum_percent: u32) {
        self.model().deployment_configuration = (minimum_healthy_percent, maximum_percent);
    }

    /// How long a task's container takes to shut down once asked to stop (STOPPING): ECS's
    /// `stopTimeout`, 30 s by default, before it is killed.
    pub fn set_stop_timeout(&self, timeout: std::time::Duration) {
        self.model().timing.stopping = timeout;
    }

    /// Tasks launched from now on answer `delay` after RUNNING (a slow first boot: database
    /// migrations, plugins).
    pub fn set_health_delay(&self, delay: std::time::Duration) {
        self.model().timing.health_delay = delay;
    }

    /// Tags written show to readers `lag` later (ECS's tags are eventually consistent).
    pub fn set_tag_lag(&self, lag: std::time::Duration) {
        self.model().timing.tag_lag = lag;
    }

    /// ListTasks answers at most `n` ARNs a page (ECS: 100).
    pub fn set_list_page_size(&self, n: usize) {
        self.model().list_page_size = n.clamp(1, crate::model::LIST_PAGE_MAX);
    }

    /// FilterLogEvents answers `n` empty pages, each with a token, before the events: AWS
    /// does so while it searches a stream.
    pub fn set_log_empty_pages(&self, n: usize) {
        self.model().log_empty_pages = n;
    }

    /// Grafana words each request it logs with `message` instead of "Request Completed" (a
    /// version or a log configuration the activity filter does not expect).
    pub fn set_request_log_message(&self, message: &str) {
        self.model().request_message = message.to_owned();
    }

    /// The running task's essential container stays up but fails its health checks: ECS
    /// stops it ("Task failed container health checks") and the service starts another.
    /// Returns whether one ran.
    pub fn fail_health_checks_of_running_task(&self) -> bool {
        self.model().replace_unhealthy()
    }

    /// The next `n` API calls, of any operation, are throttled.
    pub fn throttle_next_calls(&self, n: u32) {
        self.model().throttle_calls = n;
    }

    /// Calls of operation `op` (such as `UpdateService`) are denied from now on.
    pub fn deny(&self, op: &str) {
        self.model().denied.insert(op.to_owned());
    }

    /// Lets callers call an operation denied before (a policy fixed).
    pub fn allow(&self, op: &str) {
        self.model().denied.remove(op);
    }

    /// Rolls out a new task definition revision: a new task starts beside the old one, which
    /// drains once the new one answers.
    pub fn start_deployment(&self) {
        let mut m = self.model();
        m.revision += 1;
        m.new_deployment();
    }

    /// Deletes the service: calls now fail as ECS fails them for a missing service.
    pub fn delete_service(&self) {
        let mut m = self.model();
        m.exists = false;
        m.tasks.clear();
    }

    /// The size (and capacity: Spot, arm64) every task gets from now on.
    pub fn set_task_size(&self, size: TaskSize) {
        self.model().task_size = size;
    }

    /// Tags the service as Terraform does when it applies the module (the controller's role,
    /// the door's store, the name): seen by every reader at once.
    pub fn tag_service(&self, key: &str, value: &str) {
        self.model()
            .tags
            .set_settled(key.to_owned(), value.to_owned());
    }

    /// When the next call of `op` (such as `FilterLogEvents`) is in flight, another client
    /// sets this service tag: what a start or an extend through another Lambda instance
    /// does while this one decides.
    pub fn tag_during_next(&self, op: &str, key: &str, value: &str) {
        self.model()
            .meanwhile
            .push((op.to_owned(), key.to_owned(), value.to_owned()));
    }

    // ---- use ----------------------------------------------------------------------------

    /// Someone uses the service: the task at `ip` serves `method path`, and logs the request
    /// as the service does. The stand-in calls this for every request it serves.
    /// False when no running task has that address.
    pub fn record_request(&self, ip: IpAddr, method: &str, path: &str) -> bool {
        self.model().record_request(ip, method, path, 200)
    }

    /// Deletes the log group `name` (the task definition's is `/ecs/<service>`).
    pub fn delete_log_group(&self, name: &str) {
        self.model().log_groups.remove(name);
    }

    /// Whether the log group `name` exists.
    pub fn log_group_exists(&self, name: &str) -> bool {
        self.model().log_groups.contains(name)
    }

    /// The task definition's container runs `image` from now on.
    pub fn set_image(&self, image: &str) {
        self.model().image = image.to_owned();
    }

    /// The task definition's container's image.
    pub fn image(&self) -> String {
        self.model().image.clone()
    }

    /// ECR holds `repository` (created if need be) with the tag `tag`.
    pub fn add_ecr_image(&self, repository: &str, tag: &str) {
        self.model()
            .ecr
            .entry(repository.to_owned())
            .or_default()
            .insert(tag.to_owned());
    }

    /// ECR's repository `repository`'s tags, `None` when it does not exist.
    pub fn ecr_tags(&self, repository: &str) -> Option<Vec<String>> {
        self.model()
            .ecr
            .get(repository)
            .map(|t| t.iter().cloned().collect())
    }

    /// The role named `role` trusts what `policy` (a trust policy's JSON) says from now on.
    pub fn set_role_trust(&self, role: &str, policy: &str) {
        self.model()
            .role_trusts
            .insert(role.to_owned(), policy.to_owned());
    }

    /// The role named `role`'s trust policy (JSON): `ecs-tasks.amazonaws.com` unless changed.
    pub fn role_trust(&self, role: &str) -> String {
        self.model().role_trusts.get(role).cloned().unwrap_or_else(|| {
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#.to_owned()
        })
    }

    /// From now on KeyValueStore's API refuses requests signed with a session token, as it
    /// refuses version 1 tokens from STS's global endpoint (SigV4A takes only regional ones).
    pub fn refuse_session_tokens(&self) {
        self.model().kvs_refuses_session_tokens = true;
    }

    /// Whether KeyValueStore's API refuses session tokens ([`SimulatedEcs::refuse_session_tokens`]).
    pub fn refuses_session_tokens(&self) -> bool {
        self.model().kvs_refuses_session_tokens
    }

    /// Counts a request that reached a task with the front door's secret (the stand-in
    /// refuses it).
    pub fn count_leaked_door_secret(&self) {
        self.model().leaked_door_secret += 1;
    }

    /// How many requests reached a task with the front door's secret: always 0 when the door
    /// keeps it for the controller.
    pub fn leaked_door_secrets(&self) -> u64 {
        self.model().leaked_door_secret
    }

    /// The platform's clock: tokio's, as wall-clock time.
    pub fn now(&self) -> DateTime<Utc> {
        let m = self.model();
        m.wall(m.now)
    }

    // ---- Route 53 and EventBridge ----------------------------------------------------------

    /// Adds a Route 53 hosted zone for `domain` (such as `example.com`) with this id.
    pub fn add_hosted_zone(&self, zone_id: &str, domain: &str) {
        self.model()
            .zones
            .insert(zone_id.to_owned(), crate::zone::SimZone::new(domain));
    }

    /// Adds an API Gateway custom domain whose target (`d-….execute-api.<region>.amazonaws.com`
    /// in the hosted zone `hosted_zone_id`) an alias record may lead to, served at `serves_at`
    /// on this machine (where the simulated network connects a client the alias leads there).
    pub fn add_custom_domain(
        &self,
        target: &str,
        hosted_zone_id: &str,
        serves_at: Option<std::net::SocketAddr>,
    ) -> AliasTarget {
        let alias = AliasTarget::new(target, hosted_zone_id);
        self.model().custom_domains.insert(
            alias.dns_name.clone(),
            crate::model::CustomDomain {
                hosted_zone_id: alias.hosted_zone_id.clone(),
                serves_at,
            },
        );
        alias
    }

    /// The A and AAAA record sets of `name` in the zone as ListResourceRecordSets returns them
    /// (empty for an unknown zone).
    pub fn records(&self, zone_id: &str, name: &str) -> Vec<NameRecord> {
        self.model()
            .zones
            .get(zone_id)
            .map(|z| z.address_records(name))
            .unwrap_or_default()
    }

    /// What Route 53's name servers answer for `name` now, in whichever simulated zone holds
    /// it: the record sets as of the zone's last change INSYNC.
    pub fn served_records(&self, name: &str) -> Vec<NameRecord> {
        let mut m = self.model();
        let now = m.now;
        let name = grafana_ondemand_core::fqdn(name);
        m.zones
            .values_mut()
            .filter(|z| name == z.domain || name.ends_with(&format!(".{}", z.domain)))
            .max_by_key(|z| z.domain.len())
            .map(|z| z.served(&name, now))
            .unwrap_or_default()
    }

    /// Where a custom domain alias target serves on this machine.
    pub fn custom_domain_address(&self, target: &AliasTarget) -> Option<std::net::SocketAddr> {
        self.model()
            .custom_domains
            .get(&target.dns_name)
            .filter(|d| d.hosted_zone_id == target.hosted_zone_id)
            .and_then(|d| d.serves_at)
    }

    /// Someone else sets the record (the console, an old controller): drift to correct. The
    /// record set it replaces goes, whatever its kind.
    pub fn set_record(&self, zone_id: &str, name: &str, record: NameRecord) {
        let mut batch: Vec<RecordChange> = self
            .records(zone_id, name)
            .into_iter()
            .filter(|r| r.kind() == record.kind())
            .map(RecordChange::Delete)
            .collect();
        batch.push(RecordChange::Create(record));
        self.change_by_hand(zone_id, name, &batch);
    }

    /// Someone else deletes every record set of `name` (by hand, in the console).
    pub fn remove_records(&self, zone_id: &str, name: &str) {
        let batch: Vec<RecordChange> = self
            .records(zone_id, name)
            .into_iter()
            .map(RecordChange::Delete)
            .collect();
        if !batch.is_empty() {
            self.change_by_hand(zone_id, name, &batch);
        }
    }

    /// A change made outside the controller, uncounted: a valid batch always applies.
    fn change_by_hand(&self, zone_id: &str, name: &str, batch: &[RecordChange]) {
        let mut m = self.model();
        let id = m.next_change_id(true);
        let (now, sync) = (m.now, m.timing.dns_sync);
        if let Some(zone) = m.zones.get_mut(zone_id)
            && let Err(e) = zone.change(name, batch, |_| true, id, now, sync)
        {
            tracing::warn!(error = %e, "a change by hand was refused");
        }
    }

    /// The events EventBridge would have delivered since the last call, oldest first, as
    /// JSON in the shape AWS documents: "ECS Task State Change" for every phase a task
    /// entered, "ECS Service Action" for every placement failure.
    pub fn take_events(&self) -> Vec<serde_json::Value> {
        self.model().take_events()
    }

    // ---- what tests look at -------------------------------------------------------------

    /// The service's tags.
    pub fn tags(&self) -> BTreeMap<String, String> {
        self.model().tags.current()
    }

    /// The task that answers users now (RUNNING, healthy) and its public address: what a
    /// user's browser would reach.
    pub fn serving(&self) -> Option<(String, IpAddr)> {
        let m = self.model();
        m.tasks
            .iter()
            .filter(|t| t.phase == TaskPhase::Running && t.desired_running)
            .filter(|t| m.is_healthy_task(t))
            .find_map(|t| Some((t.arn.clone(), IpAddr::V4(m.public_ip_of(t)?))))
    }

    /// The public IPv4 of each task ECS reports RUNNING now (and EC2 shows), by task ARN: what
    /// a name pointed by a RUNNING event may hold.
    pub fn running_public_ips(&self) -> Vec<(String, IpAddr)> {
        let m = self.model();
        m.tasks
            .iter()
            .filter(|t| t.phase == TaskPhase::Running)
            .filter_map(|t| Some((t.arn.clone(), IpAddr::V4(m.public_ip_of(t)?))))
            .collect()
    }

    /// Calls made so far, by operation name (`DescribeServices`, `UpdateService`, ...).
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.model().calls.clone()
    }

    /// All calls made so far.
    pub fn total_calls(&self) -> u64 {
        self.model().calls.values().sum()
    }

    /// Calls of one operation made so far.
    pub fn call_count(&self, op: &str) -> u64 {
        self.model().calls.get(op).copied().unwrap_or(0)
    }

    /// Forgets the call counts.
    pub fn reset_calls(&self) {
        self.model().calls.clear();
    }

    /// Deployments created since the service was, the first included.
    pub fn deployments_created(&self) -> u64 {
        self.model().deployments_created
    }

    /// The phases of the tasks still remembered, oldest task first.
    pub fn task_phases(&self) -> Vec<TaskPhase> {
        self.model().tasks.iter().map(|t| t.phase.clone()).collect()
    }

    /// The desired count.
    pub fn desired_count(&self) -> u32 {
        self.model().desired
    }

    /// Tasks ever launched that are still remembered (alive, or stopped within the hour).
    pub fn tasks(&self) -> Vec<TaskSnapshot> {
        let m = self.model();
        m.tasks.iter().map(|t| m.describe(t)).collect()
    }

    /// Tasks not STOPPED yet.
    pub fn alive_tasks(&self) -> usize {
        self.model()
            .tasks
            .iter()
            .filter(|t| t.phase != TaskPhase::Stopped)
            .count()
    }

    /// Whether the task reachable at `ip` answers its health check now (an IPv4-mapped
    /// IPv6 address names the task of that IPv4 address).
    pub fn is_answering(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let m = self.model();
        m.tasks.iter().any(|t| {
            (IpAddr::V4(t.public_ip) == ip || IpAddr::V4(t.private_ip) == ip)
                && m.is_answering_task(t)
        })
    }

    /// Whether the controller can reach the tasks (see [`SimulatedEcs::set_reachable`]).
    pub fn is_reachable(&self) -> bool {
        self.model().reachable
    }

    // ---- CloudFront KeyValueStore ----------------------------------------------------------

    /// Adds a KeyValueStore with this ARN (empty: the door reads it as asleep) and returns
    /// the ARN.
    pub fn add_key_value_store(&self, arn: &str) -> String {
        self.model().stores.entry(arn.to_owned()).or_default();
        arn.to_owned()
    }

    /// A key's value as the store's API reads it now.
    pub fn store_value(&self, arn: &str, key: &str) -> Option<String> {
        self.model().stores.get(arn).and_then(|s| s.get(key))
    }

    /// What an edge location `delay` behind the store reads for `key` now.
    pub fn store_value_at_edge(
        &self,
        arn: &str,
        key: &str,
        delay: std::time::Duration,
    ) -> Option<String> {
        let m = self.model();
        m.stores.get(arn).and_then(|s| s.at_edge(key, m.now, delay))
    }

    /// When `key` was last written, on the world's clock.
    pub fn store_written_at(&self, arn: &str, key: &str) -> Option<DateTime<Utc>> {
        let m = self.model();
        m.stores
            .get(arn)
            .and_then(|s| s.written_at(key))
            .map(|at| m.wall(at))
    }

    /// Someone else writes `key` (`None`: deletes it): drift to correct.
    pub fn write_store_by_hand(&self, arn: &str, key: &str, value: Option<&str>) {
        let mut m = self.model();
        let now = m.now;
        m.stores
            .entry(arn.to_owned())
            .or_default()
            .write(key, value.map(str::to_owned), now);
    }

    /// The next `n` PutKey calls each meet another client's write just before them: their
    /// ETag is stale, and they are refused with a conflict.
    pub fn race_next_store_writes(&self, n: u32) {
        self.model().store_races = n;
    }

    /// Another client writes `value` to `key` right after the next GetKey has read it: the
    /// reader's ETag is stale when it writes.
    pub fn write_store_after_next_read(&self, arn: &str, key: &str, value: &str) {
        self.model().store_after_read = Some((arn.to_owned(), key.to_owned(), value.to_owned()));
    }

    /// Whether the VPC gives public IPs DNS names (`enableDnsHostnames`; on by default).
    pub fn set_public_dns_names(&self, on: bool) {
        self.model().public_dns_names = on;
    }

    /// The address of a running task whose public DNS name is `name`: what the simulated
    /// edge connects to (none once the task has stopped, or for a name never given).
    pub fn resolve_public_name(&self, name: &str) -> Option<IpAddr> {
        let m = self.model();
        m.tasks.iter().find_map(|t| {
            let ip = m.public_ip_of(t)?;
            (m.public_dns_names && crate::model::public_dns_name(ip) == name)
                .then_some(IpAddr::V4(ip))
        })
    }

    // ---- AWS Backup and one-off tasks (what a restore drives) -----------------------------

    /// Adds a recovery point of `resource_arn` (a file system's ARN) to `vault`, taken at
    /// `created`, with its status (`COMPLETED`, `PARTIAL`…); returns its ARN.
    pub fn add_recovery_point(
        &self,
        resource_arn: &str,
        vault: &str,
        created: DateTime<Utc>,
        status: &str,
    ) -> String {
        let mut m = self.model();
        let arn = format!(
            "arn:aws:backup:{}:{}:recovery-point:{:08x}-5e1f-4a2b-8c3d-{:012x}",
            crate::events::REGION,
            crate::events::ACCOUNT,
            m.backup.points.len(),
            created.timestamp()
        );
        m.backup.points.push(crate::backup::SimPoint {
            arn: arn.clone(),
            vault: vault.into(),
            resource_arn: resource_arn.into(),
            created,
            status: status.into(),
        });
        arn
    }

    /// How long the next restore jobs take, and how long one-off tasks run before they stop
    /// with `exit_code`.
    pub fn set_restore_timing(
        &self,
        job: std::time::Duration,
        task: std::time::Duration,
        exit_code: i32,
    ) {
        let mut m = self.model();
        m.backup.restore_duration = job;
        m.backup.run_duration = task;
        m.backup.run_exit_code = exit_code;
    }

    /// The next restore job fails with this reason.
    pub fn fail_next_restore(&self, reason: &str) {
        self.model().backup.fail_next_job = Some(reason.into());
    }

    /// The restore jobs asked for, oldest first.
    pub fn restore_jobs(&self) -> Vec<crate::RestoreJobRecord> {
        self.model()
            .backup
            .jobs
            .iter()
            .map(|j| j.record.clone())
            .collect()
    }

    /// The one-off tasks asked for, oldest first.
    pub fn one_off_runs(&self) -> Vec<crate::OneOffRun> {
        self.model()
            .backup
            .runs
            .iter()
            .map(|r| r.run.clone())
            .collect()
    }

    // ---- the operations, shared by the Platform impl and the wire stub ------------------

    /// Runs one operation against the model, counting it and applying faults.
    pub(crate) fn call<T>(
        &self,
        op: &str,
        needs_service: bool,
        f: impl FnOnce(&mut Model) -> T,
    ) -> std::result::Result<T, CallFault> {
        let mut m = self.model();
        match m.enter(op, needs_service) {
            Some(fault) => Err(fault),
            None => Ok(f(&mut m)),
        }
    }

    pub(crate) fn op_describe_service(&self) -> std::result::Result<ServiceSnapshot, CallFault> {
        self.call("DescribeServices", true, |m| m.snapshot())
    }

    pub(crate) fn op_list_tasks(
        &self,
        desired: DesiredStatus,
        token: Option<&str>,
    ) -> std::result::Result<TaskPage, CallFault> {
        self.call("ListTasks", true, |m| {
            let want_running = desired == DesiredStatus::Running;
            let all: Vec<String> = m
                .tasks
                .iter()
                .filter(|t| t.desired_running == want_running)
                .map(|t| t.arn.clone())
                .collect();
            let (arns, next_token) =
                crate::model::page(&all, token, "page-after-", m.list_page_size)?;
            Ok(TaskPage { arns, next_token })
        })?
    }

    pub(crate) fn op_describe_tasks(
        &self,
        arns: &[String],
    ) -> std::result::Result<Vec<TaskSnapshot>, CallFault> {
        self.call("DescribeTasks", false, |m| {
            arns.iter()
                .filter_map(|a| m.tasks.iter().find(|t| &t.arn == a))
                .filter(|t| m.is_described(t))
                .map(|t| m.describe(t))
                .collect()
        })
    }

    pub(crate) fn op_describe_interfaces(
        &self,
        ids: &[String],
    ) -> std::result::Result<Vec<NetworkInterface>, CallFault> {
        self.call("DescribeNetworkInterfaces", false, |m| {
            ids.iter().filter_map(|id| m.interface(id)).collect()
        })
    }

    pub(crate) fn op_update_service(
        &self,
        desired: u32,
        force_new_deployment: bool,
    ) -> std::result::Result<ServiceSnapshot, CallFault> {
        self.call("UpdateService", true, |m| {
            m.desired = desired;
            if force_new_deployment {
                m.new_deployment();
            }
            let now = m.now;
            m.sync(now);
            m.snapshot()
        })
    }

    pub(crate) fn op_tag_service(
        &self,
        tags: &[(String, String)],
    ) -> std::result::Result<(), CallFault> {
        self.call("TagResource", true, |m| {
            let now = m.now;
            for (k, v) in tags {
                m.tags.set(now, m.timing.tag_lag, k.clone(), v.clone());
            }
        })
    }

    pub(crate) fn op_request_log(
        &self,
        task_id: &str,
        since: DateTime<Utc>,
        filter: &str,
        token: Option<&str>,
    ) -> std::result::Result<LogPage, CallFault> {
        self.call("FilterLogEvents", false, |m| {
            m.filter_log_events(task_id, since, filter, token)
        })?
    }

    pub(crate) fn op_address_records(
        &self,
        zone_id: &str,
        name: &str,
    ) -> std::result::Result<Vec<NameRecord>, CallFault> {
        self.call("ListResourceRecordSets", false, |m| {
            m.zones
                .get(zone_id)
                .map(|z| z.address_records(name))
                .ok_or_else(|| no_zone(zone_id))
        })?
    }

    pub(crate) fn op_change_address_records(
        &self,
        zone_id: &str,
        name: &str,
        changes: &[RecordChange],
    ) -> std::result::Result<String, CallFault> {
        self.call("ChangeResourceRecordSets", false, |m| {
            let id = m.next_change_id(false);
            let (now, sync) = (m.now, m.timing.dns_sync);
            let domains = &m.custom_domains;
            let zone = m.zones.get_mut(zone_id).ok_or_else(|| no_zone(zone_id))?;
            let known = |t: &AliasTarget| {
                domains
                    .get(&t.dns_name)
                    .is_some_and(|d| d.hosted_zone_id == t.hosted_zone_id)
            };
            zone.change(name, changes, known, id, now, sync)
                .map_err(CallFault::InvalidChangeBatch)
        })?
    }

    pub(crate) fn op_change_status(&self, id: &str) -> std::result::Result<bool, CallFault> {
        let id = id.trim_start_matches("/change/");
        self.call("GetChange", false, |m| {
            let now = m.now;
            m.zones
                .values_mut()
                .find_map(|z| z.in_sync(id, now))
                .ok_or_else(|| {
                    CallFault::NoSuchChange(format!("Could not find resource with ID: {id}"))
                })
        })?
    }

    pub(crate) fn op_describe_store(&self, arn: &str) -> std::result::Result<String, CallFault> {
        self.call("DescribeKeyValueStore", false, |m| {
            m.stores
                .get(arn)
                .map(|s| s.etag())
                .ok_or_else(|| no_store(arn))
        })?
    }

    pub(crate) fn op_get_key(
        &self,
        arn: &str,
        key: &str,
    ) -> std::result::Result<Option<String>, CallFault> {
        self.call("GetKey", false, |m| {
            let read = m
                .stores
                .get(arn)
                .map(|s| s.get(key))
                .ok_or_else(|| no_store(arn));
            if let Some((arn, key, value)) = m.store_after_read.take() {
                let now = m.now;
                m.stores
                    .entry(arn)
                    .or_default()
                    .write(&key, Some(value), now);
            }
            read
        })?
    }

    pub(crate) fn op_put_key(
        &self,
        arn: &str,
        key: &str,
        value: &str,
        if_match: &str,
    ) -> std::result::Result<String, CallFault> {
        self.call("PutKey", false, |m| {
            let now = m.now;
            let race = m.store_races > 0;
            m.store_races = m.store_races.saturating_sub(1);
            let store = m.stores.get_mut(arn).ok_or_else(|| no_store(arn))?;
            if race {
                // Another client's write of another key lands first.
                store.write("other", Some(format!("{now:?}")), now);
            }
            store.put(key, value, if_match, now).map_err(|_| {
                CallFault::Conflict("Pre-condition failed: the ETag does not match".into())
            })
        })?
    }

    fn fault(&self, fault: CallFault, action: &str) -> Error {
        match fault {
            CallFault::Throttled => Error::Throttled {
                action: action.into(),
            },
            CallFault::AccessDenied => Error::PermissionDenied {
                action: action.into(),
            },
            CallFault::ServiceNotFound => {
                let m = self.model();
                Error::ServiceNotFound {
                    cluster: m.cluster.clone(),
                    service: m.service.clone(),
                }
            }
            CallFault::Conflict(_) => Error::Conflict {
                action: action.into(),
            },
            CallFault::InvalidParameter(message)
            | CallFault::ResourceNotFound(message)
            | CallFault::InvalidChangeBatch(message)
            | CallFault::NoSuchHostedZone(message)
            | CallFault::NoSuchChange(message) => Error::backend(action, message),
        }
    }

    /// The time one in-process call takes, on tokio's clock: callers really interleave.
    async fn latency(&self) {
        let latency = self.model().timing.call_latency;
        if latency.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(latency).await;
        }
    }
}

#[async_trait]
impl Platform for SimulatedEcs {
    // Each call takes its latency before it reads the model, as a request in flight would:
    // two controllers read and act in interleaved order, as two Lambda instances do.
    async fn describe_service(&self) -> Result<ServiceSnapshot> {
        self.latency().await;
        self.op_describe_service()
            .map_err(|f| self.fault(f, "ecs:DescribeServices"))
    }

    async fn list_tasks(&self, desired: DesiredStatus, page: Option<String>) -> Result<TaskPage> {
        self.latency().await;
        self.op_list_tasks(desired, page.as_deref())
            .map_err(|f| self.fault(f, "ecs:ListTasks"))
    }

    async fn describe_tasks(&self, arns: &[String]) -> Result<Vec<TaskSnapshot>> {
        self.latency().await;
        self.op_describe_tasks(arns)
            .map_err(|f| self.fault(f, "ecs:DescribeTasks"))
    }

    async fn describe_network_interfaces(&self, ids: &[String]) -> Result<Vec<NetworkInterface>> {
        self.latency().await;
        self.op_describe_interfaces(ids)
            .map_err(|f| self.fault(f, "ec2:DescribeNetworkInterfaces"))
    }

    async fn update_service(
        &self,
        desired_count: u32,
        force_new_deployment: bool,
    ) -> Result<ServiceSnapshot> {
        self.latency().await;
        self.op_update_service(desired_count, force_new_deployment)
            .map_err(|f| self.fault(f, "ecs:UpdateService"))
    }

    async fn tag_service(&self, tags: &[(&str, String)]) -> Result<()> {
        self.latency().await;
        let tags: Vec<(String, String)> = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        self.op_tag_service(&tags)
            .map_err(|f| self.fault(f, "ecs:TagResource"))
    }

    async fn request_log(
        &self,
        task_id: &str,
        since: DateTime<Utc>,
        filter: &str,
        page: Option<String>,
    ) -> Result<LogPage> {
        self.latency().await;
        self.op_request_log(task_id, since, filter, page.as_deref())
            .map_err(|f| self.fault(f, "logs:FilterLogEvents"))
    }

    async fn address_records(&self, zone_id: &str, name: &str) -> Result<Vec<NameRecord>> {
        self.latency().await;
        self.op_address_records(zone_id, name)
            .map_err(|f| self.fault(f, "route53:ListResourceRecordSets"))
    }

    async fn change_address_records(
        &self,
        zone_id: &str,
        name: &str,
        changes: &[RecordChange],
    ) -> Result<String> {
        self.latency().await;
        self.op_change_address_records(zone_id, name, changes)
            .map_err(|f| self.fault(f, "route53:ChangeResourceRecordSets"))
    }

    async fn change_in_sync(&self, change_id: &str) -> Result<bool> {
        self.latency().await;
        self.op_change_status(change_id)
            .map_err(|f| self.fault(f, "route53:GetChange"))
    }

    async fn door_entry(&self, store_arn: &str, key: &str) -> Result<StoreEntry> {
        self.latency().await;
        let etag = self
            .op_describe_store(store_arn)
            .map_err(|f| self.fault(f, "cloudfront-keyvaluestore:DescribeKeyValueStore"))?;
        self.latency().await;
        let value = self
            .op_get_key(store_arn, key)
            .map_err(|f| self.fault(f, "cloudfront-keyvaluestore:GetKey"))?;
        Ok(StoreEntry { etag, value })
    }

    async fn put_door_entry(
        &self,
        store_arn: &str,
        key: &str,
        value: &str,
        if_match: &str,
    ) -> Result<String> {
        self.latency().await;
        self.op_put_key(store_arn, key, value, if_match)
            .map_err(|f| self.fault(f, "cloudfront-keyvaluestore:PutKey"))
    }

    fn now(&self) -> DateTime<Utc> {
        SimulatedEcs::now(self)
    }
}

fn no_store(arn: &str) -> CallFault {
    CallFault::ResourceNotFound(format!("Resource {arn} not found"))
}

fn no_zone(zone_id: &str) -> CallFault {
    CallFault::NoSuchHostedZone(format!("No hosted zone found with ID: {zone_id}"))
}
