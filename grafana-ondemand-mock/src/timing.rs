//! How long each step of a simulated task takes.

use std::time::Duration;

/// Durations of the simulated lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// PROVISIONING: capacity is found.
    pub provisioning: Duration,
    /// PENDING: the image is pulled.
    pub pending: Duration,
    /// ACTIVATING: networking is wired.
    pub activating: Duration,
    /// After RUNNING, until the ENI's public IP shows in EC2.
    pub public_ip_delay: Duration,
    /// After RUNNING, until the service answers its health check.
    pub health_delay: Duration,
    /// DEACTIVATING.
    pub deactivating: Duration,
    /// STOPPING: the container gets its stop signal and exits.
    pub stopping: Duration,
    /// DEPROVISIONING: the ENI is deleted.
    pub deprovisioning: Duration,
    /// How long the scheduler waits before replacing a task that failed.
    pub relaunch_delay: Duration,
    /// The container health check's interval: ECS reports HEALTHY at the first check after
    /// the service answers (the module's task definition uses 5 s).
    pub health_check_interval: Duration,
    /// How far DescribeServices' running and pending counts lag the tasks.
    pub count_lag: Duration,
    /// How long a tag written on the service takes to show to readers (ECS's tags are
    /// eventually consistent; the lag is undocumented).
    pub tag_lag: Duration,
    /// How long a new task stays invisible to DescribeTasks (listed, but a `MISSING` failure).
    pub describe_lag: Duration,
    /// How long a Route 53 change stays PENDING before it is INSYNC, answered by every name
    /// server (Route 53 documents "generally within 60 seconds").
    pub dns_sync: Duration,
    /// How long each in-process call takes (so concurrent callers really interleave).
    pub call_latency: Duration,
}

impl Timing {
    /// Figures close to a Grafana task on Fargate: about 37 s from start to answering.
    pub fn fargate() -> Self {
        Timing {
            provisioning: Duration::from_secs(8),
            pending: Duration::from_secs(15),
            activating: Duration::from_secs(4),
            public_ip_delay: Duration::from_secs(2),
            health_delay: Duration::from_secs(10),
            deactivating: Duration::from_secs(3),
            stopping: Duration::from_secs(5),
            deprovisioning: Duration::from_secs(8),
            relaunch_delay: Duration::from_secs(20),
            health_check_interval: Duration::from_secs(5),
            count_lag: Duration::from_secs(3),
            tag_lag: Duration::from_secs(1),
            describe_lag: Duration::from_secs(1),
            dns_sync: Duration::from_secs(30),
            call_latency: Duration::from_millis(30),
        }
    }

    /// Every duration multiplied by `factor` (for demos in real time: `0.1` is ten times faster).
    pub fn scaled(&self, factor: f64) -> Self {
        let f = |d: Duration| d.mul_f64(factor.max(0.0));
        Timing {
            provisioning: f(self.provisioning),
            pending: f(self.pending),
            activating: f(self.activating),
            public_ip_delay: f(self.public_ip_delay),
            health_delay: f(self.health_delay),
            deactivating: f(self.deactivating),
            stopping: f(self.stopping),
            deprovisioning: f(self.deprovisioning),
            relaunch_delay: f(self.relaunch_delay),
            health_check_interval: f(self.health_check_interval),
            count_lag: f(self.count_lag),
            tag_lag: f(self.tag_lag),
            describe_lag: f(self.describe_lag),
            dns_sync: f(self.dns_sync),
            call_latency: f(self.call_latency),
        }
    }

    /// From the start request until the service answers.
    pub fn cold_start(&self) -> Duration {
        self.provisioning
            + self.pending
            + self.activating
            + self.health_delay.max(self.public_ip_delay)
    }

    /// From RUNNING until ECS reports the container HEALTHY: the first health check at or
    /// after the service answers.
    pub fn healthy_after(&self) -> Duration {
        if self.health_check_interval.is_zero() {
            return self.health_delay;
        }
        let interval = self.health_check_interval.as_nanos();
        let checks = self.health_delay.as_nanos().div_ceil(interval).max(1);
        Duration::from_nanos(u64::try_from(checks * interval).unwrap_or(u64::MAX))
    }

    /// From the stop request of a running task until it is STOPPED.
    pub fn shutdown(&self) -> Duration {
        self.deactivating + self.stopping + self.deprovisioning
    }
}

impl Default for Timing {
    fn default() -> Self {
        Timing::fargate()
    }
}
