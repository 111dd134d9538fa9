//! A [`ServiceController`] over a deployed API: the same actions, through the JSON contract,
//! for people who have the API's URL and token but no AWS credentials.

use crate::{Error, Result, ServiceController, Status};
use async_trait::async_trait;
use serde_json::{Value, json};
use std::time::Duration;

/// How long one request to the API may take (API Gateway cuts at 29 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The controller behind a deployed API (`POST {"action": ...}`).
#[derive(Debug, Clone)]
pub struct RemoteController {
    client: reqwest::Client,
    url: String,
    token: Option<String>,
}

impl RemoteController {
    /// The API at `url` (the module's `api_url`, or the server example's address), with
    /// the bearer token when the API wants one.
    pub fn new(url: &str, token: Option<String>) -> Result<Self> {
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            Error::invalid_config(
                "--api",
                format!("`{url}` is not a URL ({e}): give the API's address, such as https://abc.execute-api.eu-west-3.amazonaws.com/prod"),
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::invalid_config(
                "--api",
                format!("`{url}` is not an http(s) URL"),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| Error::invalid_config("--api", format!("no HTTP client: {e}")))?;
        Ok(RemoteController {
            client,
            url: url.to_owned(),
            token: token.filter(|t| !t.trim().is_empty()),
        })
    }

    async fn call(&self, body: Value) -> Result<Status> {
        let action = body["action"].as_str().unwrap_or("status").to_owned();
        let mut request = self.client.post(&self.url).json(&body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                Error::Timeout {
                    action: format!("api {action}"),
                    after: Some(REQUEST_TIMEOUT),
                }
            } else {
                Error::backend(
                    format!("api {action}"),
                    format!(
                        "cannot reach {} ({e}): check the URL and your network",
                        self.url
                    ),
                )
            }
        })?;
        let code = response.status();
        let text = response.text().await.unwrap_or_default();
        if code.is_success() {
            return serde_json::from_str(&text).map_err(|e| {
                Error::backend(
                    format!("api {action}"),
                    format!(
                        "the answer is not a status ({e}): is {} the grafana-ondemand API?",
                        self.url
                    ),
                )
            });
        }
        let said = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("HTTP {code}"));
        Err(match code.as_u16() {
            401 | 403 => Error::invalid_config(
                "API_TOKEN",
                format!(
                    "the API refused the request ({said}): set API_TOKEN to the API's access token"
                ),
            ),
            429 | 503 => Error::Unavailable {
                action: format!("api {action}: {said}"),
            },
            504 => Error::Timeout {
                action: format!("api {action}"),
                after: None,
            },
            _ => Error::backend(format!("api {action}"), said),
        })
    }
}

#[async_trait]
impl ServiceController for RemoteController {
    async fn start(&self, lease: Option<Duration>) -> Result<Status> {
        let mut body = json!({"action": "start"});
        if let Some(lease) = lease {
            body["for"] = json!(format!("{}s", lease.as_secs()));
        }
        self.call(body).await
    }

    async fn extend(&self, by: Duration) -> Result<Status> {
        self.call(json!({"action": "extend", "for": format!("{}s", by.as_secs())}))
            .await
    }

    async fn stop(&self) -> Result<Status> {
        self.call(json!({"action": "stop"})).await
    }

    async fn status(&self) -> Result<Status> {
        self.call(json!({"action": "status"})).await
    }

    async fn reap(&self) -> Result<Status> {
        self.call(json!({"action": "reap"})).await
    }
}
