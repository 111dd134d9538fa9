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

async fn handle(State(api): State<Api>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // One byte over the limit is enough for the API to say the body is too large.
    let bytes = match to_bytes(body, MAX_BODY + 1).await {
        Ok(b) => b,
        Err(_) => bytes::Bytes::from(vec![b' '; MAX_BODY + 1]),
    };
    let answer = api.handle(http::Request::from_parts(parts, bytes)).await;
    answer.map(Body::from).into_response()
}
