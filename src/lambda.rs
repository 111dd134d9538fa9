//! The HTTP contract inside a Lambda function: an API Gateway (REST v1, HTTP API v2) or
//! function URL event in, its answer out, through [`Api::handle_within`] with the time the
//! invocation has left. The Lambda example and the simulated API Gateway's in-process
//! function both answer through [`answer`], so the demo's door runs the deployed code path.

use crate::api::{Api, DEFAULT_BUDGET, Signed};
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::tower::Service;
use lambda_http::{Adapter, Body, Request, RequestExt, Response, service_fn};
use serde_json::Value;
use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::Instrument;

/// Kept back from the invocation's deadline to send the answer.
const ANSWER_MARGIN: Duration = Duration::from_millis(1500);

/// The time an invocation has left, less the margin to answer, within the API's budget.
pub fn budget(context: &Context) -> Duration {
    let deadline = UNIX_EPOCH + Duration::from_millis(context.deadline);
    Some(
        deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .saturating_sub(ANSWER_MARGIN),
    )
    .filter(|b| !b.is_zero())
    .unwrap_or(DEFAULT_BUDGET)
    .min(DEFAULT_BUDGET)
}

/// Whether API Gateway checked the request's SigV4 signature: its IAM authorizer's context.
fn signed_by_gateway(context: &RequestContext) -> bool {
    #[allow(unreachable_patterns)] // the variants of lambda_http's other features
    match context {
        RequestContext::ApiGatewayV2(c) => c.authorizer.as_ref().is_some_and(|a| a.iam.is_some()),
        RequestContext::ApiGatewayV1(c) => c.identity.user_arn.is_some(),
        _ => false,
    }
}

/// Parse → call → render, all in [`Api::handle_within`]; this only converts the event, marks
/// what API Gateway authorized, and passes down the time the invocation has left.
async fn handler(api: &Api, event: Request) -> Result<Response<Body>, Infallible> {
    let context = event.lambda_context_ref();
    let request_id = context.map(|c| c.request_id.clone()).unwrap_or_default();
    let budget = context.map(budget).unwrap_or(DEFAULT_BUDGET);
    let signed = event.request_context_ref().is_some_and(signed_by_gateway);
    let (mut parts, body) = event.into_parts();
    if signed {
        parts.extensions.insert(Signed);
    }
    let request = http::Request::from_parts(parts, bytes::Bytes::copy_from_slice(body.as_ref()));
    let answer = api
        .handle_within(request, budget)
        .instrument(tracing::info_span!("request", %request_id))
        .await;
    Ok(answer.map(Body::Text))
}

/// Answers one HTTP event in the shape its source reads (API Gateway's v1 or v2 response).
pub async fn answer(api: &Api, request: LambdaRequest, context: Context) -> Value {
    let mut adapter = Adapter::from(service_fn(|r| handler(api, r)));
    let response = match adapter.call(LambdaEvent::new(request, context)).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    serde_json::to_value(response).unwrap_or(Value::Null)
}

/// The controller's function run in this process, invoked by the simulated API Gateway as
/// Lambda invokes the deployed one: the event parsed by lambda_http, answered by [`answer`].
#[cfg(feature = "edge")]
#[derive(Debug)]
pub struct InProcess(pub Api);

#[cfg(feature = "edge")]
#[async_trait::async_trait]
impl grafana_ondemand_mock::edge::LambdaFunction for InProcess {
    async fn invoke(&self, event: Value) -> Result<Value, String> {
        let request: LambdaRequest = serde_json::from_value(event)
            .map_err(|e| format!("the event is not one lambda_http reads: {e}"))?;
        Ok(answer(&self.0, request, Context::default()).await)
    }
}
