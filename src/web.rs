//! The web server's router: the page and the JSON API, through [`Api::handle`].

use crate::api::{Api, MAX_BODY};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

/// Every path goes to the API, as behind API Gateway: `GET` the page or `…/api/status`,
/// `POST` an action.
pub fn router(api: Api) -> Router {
    Router::new().fallback(handle).with_state(api)
}

/// How long a client has to send its body (4 KiB at most): a slow client cannot hold a
/// connection and a task.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn handle(State(api): State<Api>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // One byte over the limit is enough for the API to say the body is too large.
    let bytes = match tokio::time::timeout(BODY_READ_TIMEOUT, to_bytes(body, MAX_BODY + 1)).await {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => bytes::Bytes::from(vec![b' '; MAX_BODY + 1]),
        Err(_) => {
            let error = serde_json::json!({"error": format!(
                "the request's body did not arrive within {} s: send it whole, at once",
                BODY_READ_TIMEOUT.as_secs()
            )});
            return (http::StatusCode::REQUEST_TIMEOUT, axum::Json(error)).into_response();
        }
    };
    let answer = api.handle(http::Request::from_parts(parts, bytes)).await;
    answer.map(Body::from).into_response()
}
