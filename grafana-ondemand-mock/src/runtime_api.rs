//! A Lambda Runtime API emulator on loopback: serves invocation events to a Lambda binary
//! (`AWS_LAMBDA_RUNTIME_API`) and collects its answers, so the real bootstrap can be driven
//! and its cold start timed without AWS.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// How long each invocation may run, as the emulator tells the function.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct Shared {
    events: Arc<Mutex<VecDeque<(String, Value)>>>,
    first_next: Arc<Mutex<Option<Instant>>>,
    answers: mpsc::UnboundedSender<(String, Value)>,
}

/// A running emulator: give its [`RuntimeApi::address`] to the function as
/// `AWS_LAMBDA_RUNTIME_API`.
#[derive(Debug)]
pub struct RuntimeApi {
    address: SocketAddr,
    first_next: Arc<Mutex<Option<Instant>>>,
    answers: mpsc::UnboundedReceiver<(String, Value)>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Starts an emulator that hands out `events` (request id, event JSON) in order.
    pub async fn start(events: Vec<(String, Value)>) -> std::io::Result<RuntimeApi> {
        let (tx, answers) = mpsc::unbounded_channel();
        let shared = Shared {
            events: Arc::new(Mutex::new(events.into())),
            first_next: Arc::default(),
            answers: tx,
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "runtime API emulator stopped");
            }
        });
        Ok(RuntimeApi {
            address,
            first_next: shared.first_next,
            answers,
            server,
        })
    }

    /// `host:port`, for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// The environment Lambda gives a function, pointed at this emulator.
    pub fn function_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_LAMBDA_RUNTIME_API", self.address()),
            ("AWS_LAMBDA_FUNCTION_NAME", "grafana-controller".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/25/[$LATEST]0123".into(),
            ),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "/aws/lambda/grafana-controller".into(),
            ),
        ]
    }

    /// When the function first asked for an event: the end of its init.
    pub fn first_next(&self) -> Option<Instant> {
        *self.first_next.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next answer (request id, response JSON or `{"runtimeError": ...}`), if one comes
    /// within `timeout`.
    pub async fn answer(&mut self, timeout: Duration) -> Option<(String, Value)> {
        tokio::time::timeout(timeout, self.answers.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

async fn next(State(s): State<Shared>) -> (HeaderMap, String) {
    s.first_next
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(Instant::now);
    loop {
        let event = s
            .events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        if let Some((id, event)) = event {
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                + INVOCATION_TIMEOUT;
            let mut h = HeaderMap::new();
            h.insert("lambda-runtime-aws-request-id", header(&id));
            h.insert(
                "lambda-runtime-deadline-ms",
                header(&deadline.as_millis().to_string()),
            );
            h.insert(
                "lambda-runtime-invoked-function-arn",
                HeaderValue::from_static(
                    "arn:aws:lambda:eu-west-3:123456789012:function:grafana-controller",
                ),
            );
            h.insert(
                "lambda-runtime-trace-id",
                HeaderValue::from_static("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
            );
            return (h, event.to_string());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn response(State(s): State<Shared>, Path(id): Path<String>, body: String) -> &'static str {
    let answer = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let _ = s.answers.send((id, answer));
    "{}"
}

async fn error(State(s): State<Shared>, Path(id): Path<String>, body: String) -> &'static str {
    let _ = s.answers.send((id, json!({ "runtimeError": body })));
    "{}"
}
