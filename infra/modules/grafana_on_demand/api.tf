resource "aws_lambda_function" "controller" {
  #checkov:skip=CKV_AWS_117:The controller calls only public AWS APIs; a VPC would need NAT or endpoints that cost more than the whole service.
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway, which returns errors to the caller; a dead-letter queue would hold nothing.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the user may not have; the zip is built from this repository.
  #checkov:skip=CKV_AWS_173:The environment holds names (cluster, service, secret ARN), no secret; the token itself stays in Secrets Manager.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is lambda_tracing (off by default): Active tracing needs xray:PutTraceSegments, granted only then.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is lambda_reserved_concurrency (off by default): new accounts, limited to 10 concurrent executions, reject any reservation.
  function_name    = "${var.name}-controller"
  role             = aws_iam_role.controller.arn
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = [lower(var.architecture) == "arm64" ? "arm64" : "x86_64"]
  memory_size      = 128
  # Under API Gateway's 29 s integration limit, with room for a 25 s wait.
  timeout = 28
  # -1: no reservation (new accounts, with 10 concurrent executions in all, allow none).
  reserved_concurrent_executions = var.lambda_reserved_concurrency == null ? -1 : var.lambda_reserved_concurrency

  tracing_config {
    mode = var.lambda_tracing ? "Active" : "PassThrough"
  }

  environment {
    variables = merge(
      {
        CLUSTER_NAME    = aws_ecs_cluster.this.name
        SERVICE_NAME    = aws_ecs_service.grafana.name
        SERVICE_PORT    = tostring(var.grafana_port)
        SERVICE_ADDRESS = var.assign_public_ip ? "public" : "private"
        # The function runs outside the VPC: only ECS's container health can say Grafana serves.
        READINESS       = "ecs"
        PROTECT_STATUS  = tostring(var.protect_status)
        ALLOWED_ORIGINS = join(",", var.allowed_origins)
        RUST_LOG        = "info"
      },
      local.token_auth ? { ACCESS_TOKEN_SECRET_ARN = aws_secretsmanager_secret.access_token[0].arn } : {},
    )
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambda.name
  }

  depends_on = [aws_iam_role_policy.controller]
  tags       = local.tags
}

# An HTTP API (v2): cheaper and simpler than REST; the Lambda speaks both.
resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  protocol_type = "HTTP"
  description   = "Start, stop and locate Grafana on demand"

  dynamic "cors_configuration" {
    for_each = length(var.allowed_origins) > 0 ? [1] : []
    content {
      allow_origins = var.allowed_origins
      allow_methods = ["GET", "POST", "OPTIONS"]
      allow_headers = ["content-type", "authorization"]
      max_age       = 600
    }
  }

  tags = local.tags
}

resource "aws_apigatewayv2_integration" "controller" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.controller.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 29000
}

resource "aws_apigatewayv2_route" "grafana" {
  #checkov:skip=CKV_AWS_309:With api_auth = "token" the Lambda checks the bearer token itself (constant-time), so the page can be served to a browser; api_auth = "iam" sets AWS_IAM here.
  for_each           = toset(["GET /grafana", "POST /grafana", "GET /grafana/api/status"])
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.value
  target             = "integrations/${aws_apigatewayv2_integration.controller.id}"
  authorization_type = var.api_auth == "iam" ? "AWS_IAM" : "NONE"
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.api_throttle_rate
    throttling_burst_limit = var.api_throttle_burst
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api.arn
    format = jsonencode({
      requestId = "$context.requestId"
      ip        = "$context.identity.sourceIp"
      route     = "$context.routeKey"
      status    = "$context.status"
      latency   = "$context.integrationLatency"
    })
  }

  tags = local.tags
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.controller.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*/grafana*"
}
