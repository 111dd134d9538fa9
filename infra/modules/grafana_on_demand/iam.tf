data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# Execution role: what ECS itself needs to start the task.
resource "aws_iam_role" "execution" {
  name_prefix        = "${var.name}-exec-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

# Narrower than AmazonECSTaskExecutionRolePolicy: this task's logs and password only.
resource "aws_iam_role_policy" "execution" {
  name = "start-grafana"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid      = "WriteItsLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.grafana.arn}:*"]
      },
      {
        # ECS reads task secrets from Parameter Store with GetParameters.
        Sid      = "ReadAdminPassword"
        Effect   = "Allow"
        Action   = ["ssm:GetParameters"]
        Resource = [local.admin_password_arn]
      },
      ],
      # With a customer-managed key, the parameter can only be read with kms:Decrypt on it.
      var.kms_key_arn == null ? [] : [{
        Sid      = "DecryptAdminPassword"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [var.kms_key_arn]
        Condition = {
          StringEquals = { "kms:ViaService" = "ssm.${local.region}.amazonaws.com" }
        }
      }],
      [
        {
          # Only for images kept in ECR; GetAuthorizationToken supports no resource scoping.
          Sid      = "EcrLogin"
          Effect   = "Allow"
          Action   = ["ecr:GetAuthorizationToken"]
          Resource = ["*"]
        },
        {
          Sid      = "PullFromThisAccountsEcr"
          Effect   = "Allow"
          Action   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
          Resource = ["arn:${local.partition}:ecr:${local.region}:${local.account_id}:repository/*"]
        }
    ])
  })
}

# Task role: what Grafana may do (read CloudWatch, mount its EFS).
resource "aws_iam_role" "task" {
  name_prefix        = "${var.name}-task-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "task" {
  #checkov:skip=CKV_AWS_356:The CloudWatch data source lists metrics, alarms, log groups and tags across the account; those read actions support no resource-level scoping.
  statement {
    sid = "ReadMetrics"
    # These CloudWatch and Logs read actions support no resource-level permissions.
    actions = [
      "cloudwatch:DescribeAlarmsForMetric",
      "cloudwatch:DescribeAlarmHistory",
      "cloudwatch:DescribeAlarms",
      "cloudwatch:ListMetrics",
      "cloudwatch:GetMetricData",
      "cloudwatch:GetInsightRuleReport",
      "logs:DescribeLogGroups",
      "logs:GetQueryResults",
      "logs:StopQuery",
      "ec2:DescribeTags",
      "ec2:DescribeInstances",
      "ec2:DescribeRegions",
      "tag:GetResources",
    ]
    resources = ["*"]
  }

  # Log contents only of the groups the user lists.
  dynamic "statement" {
    for_each = length(var.grafana_log_groups) > 0 ? [1] : []
    content {
      sid       = "QueryListedLogs"
      actions   = ["logs:StartQuery", "logs:GetLogGroupFields", "logs:GetLogEvents", "logs:FilterLogEvents"]
      resources = [for g in var.grafana_log_groups : "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${g}:*"]
    }
  }

  dynamic "statement" {
    for_each = var.persistent_storage ? [1] : []
    content {
      sid       = "MountData"
      actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
      resources = [aws_efs_file_system.grafana[0].arn]
      condition {
        test     = "StringEquals"
        variable = "elasticfilesystem:AccessPointArn"
        values   = [aws_efs_access_point.grafana[0].arn]
      }
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "grafana"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# The controller Lambda: start, stop and read this one service.
data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "controller" {
  name_prefix        = "${var.name}-ctl-"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

# What the controller's code calls (ECS, EC2, Logs, its token, the keys behind them), in a file of its own: the Rust
# tests replay every call the code makes against it (tests/iam.rs, tests/lambda_runtime.rs),
# with the resources and conditions IAM evaluates.
locals {
  controller_policy = templatefile("${path.module}/controller-policy.json.tftpl", {
    service_arn         = local.service_arn
    cluster_arn         = local.cluster_arn
    token_parameter_arn = local.token_arn
    log_group_arn       = aws_cloudwatch_log_group.grafana.arn
    # The name is the door's, set once by Terraform: the controller changes no record.
    hosted_zone_arn       = ""
    change_arn            = "arn:${local.partition}:route53:::change/*"
    public_name           = coalesce(var.public_name, "none")
    topic_arn             = local.topic_arn
    webhook_parameter_arn = local.webhook_parameter_arn
    region                = local.region
    # A customer key: SSM decrypts the token and the webhook URL with it (in either auth mode:
    # the webhook URL is read at every cold start), and SNS encrypts each notice with it.
    # The door's secret is read at every cold start: with a customer key, always.
    ssm_key_arn = var.kms_key_arn != null ? var.kms_key_arn : ""
    sns_key_arn = var.kms_key_arn != null && var.notification_topic ? var.kms_key_arn : ""
    # The front door's KeyValueStore: describe, get and put on that store only.
    door_kvs_arn              = local.door_kvs_arn
    door_secret_parameter_arn = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter/${var.name}/door-secret"
  })
}

data "aws_iam_policy_document" "controller" {
  source_policy_documents = [local.controller_policy]

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }

  dynamic "statement" {
    for_each = var.lambda_tracing ? [1] : []
    content {
      sid = "WriteTraces"
      # X-Ray's trace writes support no resource-level permissions.
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "controller" {
  name   = "controller"
  role   = aws_iam_role.controller.id
  policy = data.aws_iam_policy_document.controller.json
}
