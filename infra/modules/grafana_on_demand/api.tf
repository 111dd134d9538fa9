resource "aws_lambda_function" "controller" {
  #checkov:skip=CKV_AWS_117:The controller calls only public AWS APIs; a VPC would need NAT or endpoints that cost more than the whole service.
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway, which returns errors to the caller; a dead-letter queue would hold nothing.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the user may not have; the zip is built from this repository.
  #checkov:skip=CKV_AWS_173:The environment holds names (cluster, service, parameter, log group) and durations, no secret; the token itself stays in Parameter Store.
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
        SERVICE_PORT    = tostring(local.port)
        SERVICE_SCHEME  = local.scheme
        SERVICE_ADDRESS = var.assign_public_ip ? "public" : "private"
        # The function runs outside the VPC: only ECS's container health can say Grafana serves.
        READINESS      = "ecs"
        PROTECT_STATUS = tostring(var.protect_status)
        # With iam, only what API Gateway authorized acts: the name's route takes no signature.
        API_AUTH        = var.api_auth
        ALLOWED_ORIGINS = join(",", var.allowed_origins)
        RUST_LOG        = "info"
        # When Grafana stops by itself, and where its use is read.
        # With auto_stop = false the tick still runs (it carries out a start that waits for
        # the previous task, and puts the door's entry right), but never stops Grafana.
        STARTUP_GRACE              = var.auto_stop ? var.startup_grace : "off"
        IDLE_TIMEOUT               = var.auto_stop ? var.idle_timeout : "off"
        MAX_SESSION                = var.auto_stop ? var.max_session : "off"
        ACTIVITY_LOG_GROUP         = aws_cloudwatch_log_group.grafana.name
        ACTIVITY_LOG_STREAM_PREFIX = "grafana/grafana"
      },
      local.token_auth ? { ACCESS_TOKEN_PARAMETER = aws_ssm_parameter.access_token[0].name } : {},
      # The front door: its host (the name, or the distribution's domain), its secret, and
      # the entry the controller writes (without the function, as on moto, there is none).
      {
        PUBLIC_NAME           = local.door_host
        DOOR_SECRET_PARAMETER = aws_ssm_parameter.door_secret.name
      },
      local.door_functions ? { DOOR_KVS_ARN = local.door_kvs_arn } : {},
      var.notification_topic ? { NOTIFY_TOPIC_ARN = local.topic_arn } : {},
      var.notification_webhook ? { NOTIFY_WEBHOOK_PARAMETER = aws_ssm_parameter.webhook[0].name } : {},
    )
  }

  # JSON, with Lambda's own START/END/REPORT lines dropped: the schedule invokes the function
  # 43,200 times a month, and each line is billed as log ingestion.
  logging_config {
    log_format            = "JSON"
    application_log_level = "INFO"
    system_log_level      = "WARN"
    log_group             = aws_cloudwatch_log_group.lambda.name
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

# The front door's paths: its wake page and contract under /_ondemand, and a person's
# navigation to any path while Grafana sleeps. CloudFront sends them unchanged to the API's own
# domain, and API Gateway answers a path no route takes with its own 404, never calling the
# Lambda: $default takes every path the contract's routes do not. NONE whatever api_auth says:
# a browser cannot sign. The Lambda acts on them only with the door's secret (and the token).
resource "aws_apigatewayv2_route" "door" {
  #checkov:skip=CKV_AWS_309:The front door's route: a browser cannot sign; the Lambda serves it only with the door's secret header and checks the token itself.
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "$default"
  target             = "integrations/${aws_apigatewayv2_integration.controller.id}"
  authorization_type = "NONE"
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
  # Every route of the stage: the contract's (<stage>/<METHOD>/grafana...) and the door's
  # ($default/$default). Lambda matches it with StringLike.
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/${aws_apigatewayv2_stage.default.name}/*"
}

# ---------------------------------------------------------------------------------------
# The reaper: every minute, the same function checks whether Grafana should stop by itself
# (no use for idle_timeout, none at all within startup_grace, or max_session reached).

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name_prefix        = "${var.name}-reap-"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name = "invoke-the-controller"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([{
      Sid      = "InvokeTheController"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = [aws_lambda_function.controller.arn]
      }], var.kms_key_arn == null ? [] : [{
      # A schedule under a customer key: Scheduler decrypts its input with the role's grant.
      Sid      = "DecryptTheSchedule"
      Effect   = "Allow"
      Action   = ["kms:Decrypt"]
      Resource = [var.kms_key_arn]
    }])
  })
}

resource "aws_scheduler_schedule" "reaper" {
  #checkov:skip=CKV_AWS_297:The schedule holds only its input ({"grafana-ondemand": "reap"}); kms_key_arn sets a customer-managed key when given, AWS's own key otherwise.
  name                = "${var.name}-reaper"
  kms_key_arn         = var.kms_key_arn
  description         = "Stops Grafana when nobody uses it, carries out a start that waits, puts the door right (grafana-ondemand)"
  schedule_expression = var.reap_schedule
  # Always on: with auto_stop = false the controller's limits are off, and the tick only
  # carries out a waiting start and corrects the door's entry.
  state = "ENABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.controller.arn
    role_arn = aws_iam_role.scheduler.arn
    # What the function tells from an HTTP request.
    input = jsonencode({ "grafana-ondemand" = "reap" })
    # A missed tick is made up by the next one, a minute later.
    retry_policy {
      maximum_retry_attempts = 0
    }
  }
}
