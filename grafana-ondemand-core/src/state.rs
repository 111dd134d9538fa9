//! The five states a service on demand can be in.

use serde::{Deserialize, Serialize};

/// Where the service stands, as a user sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Nothing runs and nothing is asked to run: costs nothing.
    Stopped,
    /// A task is asked for and is coming up, or is up but does not answer yet.
    Starting,
    /// A task runs and answers its health check on the endpoint.
    Running,
    /// A stop was asked for and a task is still alive.
    Stopping,
    /// The last task stopped on its own (image pull error, crash, failed health check).
    Failed,
}

impl State {
    /// The lower-case name used in the JSON contract (`"running"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Stopped => "stopped",
            State::Starting => "starting",
            State::Running => "running",
            State::Stopping => "stopping",
            State::Failed => "failed",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for State {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "stopped" => Ok(State::Stopped),
            "starting" => Ok(State::Starting),
            "running" => Ok(State::Running),
            "stopping" => Ok(State::Stopping),
            "failed" => Ok(State::Failed),
            other => Err(format!(
                "unknown state `{other}`: expected stopped, starting, running, stopping or failed"
            )),
        }
    }
}
