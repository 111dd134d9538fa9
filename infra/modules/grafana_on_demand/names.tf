# ---------------------------------------------------------------------------------------
# Grafana's HTTPS on the name, and word when Grafana starts, stops or fails.
#
# ECS's own events (a task changed phase, a task could not be placed) reach the controller
# through EventBridge: it opens the front door to the task at once, and tells people. The
# schedule's tick and every status read put the door's entry right if an event was missed.

locals {
  named   = var.public_name != null
  notify  = var.notification_topic || var.notification_webhook
  events  = local.door_functions || local.notify
  scheme  = local.named ? "https" : "http"
  port    = local.named ? 443 : var.grafana_port
  zone_id = local.named ? trimprefix(var.hosted_zone_id, "/hostedzone/") : ""
  # Where lego keeps its account and the certificate, on Grafana's EFS volume: a restart
  # reuses it, so the certificate authority is asked only every 60 days.
  acme_path = "/var/lib/grafana/acme"
  cert_file = "${local.acme_path}/certificates/${coalesce(var.public_name, "none")}.crt"
  key_file  = "${local.acme_path}/certificates/${coalesce(var.public_name, "none")}.key"
  # lego refuses to run without an account's email (cmd/setup.go: "You have to pass an account
  # (email address)"): a precondition on the service requires acme_email with public_name.
  # lego works in a directory of its own (the account and the certificates copied there), and
  # only a complete pair is moved into place, key first: a renewal cut short (a stop, a
  # crash) never leaves a certificate without its key.
  acme_next = "${local.acme_path}/.next"
  acme_args = "/lego --accept-tos --email ${coalesce(var.acme_email, "none")} --dns route53 --domains ${coalesce(var.public_name, "none")} --path ${local.acme_next} --server ${var.acme_server}"
  acme_script = join(" && ", [
    "set -e",
    "rm -rf ${local.acme_next}",
    "mkdir -p ${local.acme_next} ${local.acme_path}/certificates",
    "if [ -d ${local.acme_path}/accounts ]; then cp -a ${local.acme_path}/accounts ${local.acme_next}/; fi",
    # A certificate and its key: renewed when under 30 days from expiry. A certificate
    # without its key (an older, interrupted renewal): a new one, said in the log.
    "if [ -s ${local.cert_file} ] && [ -s ${local.key_file} ]; then cp -a ${local.acme_path}/certificates ${local.acme_next}/ && ${local.acme_args} renew --days 30 --no-random-sleep; else if [ -e ${local.cert_file} ]; then echo \"${local.cert_file} has no key ${local.key_file}: obtaining a new certificate\"; fi; ${local.acme_args} run; fi",
    "test -s ${local.acme_next}/certificates/${coalesce(var.public_name, "none")}.key",
    "test -s ${local.acme_next}/certificates/${coalesce(var.public_name, "none")}.crt",
    "cp -a ${local.acme_next}/accounts ${local.acme_path}/",
    "mv -f ${local.acme_next}/certificates/${coalesce(var.public_name, "none")}.key ${local.key_file}",
    "mv -f ${local.acme_next}/certificates/${coalesce(var.public_name, "none")}.crt ${local.cert_file}",
    "rm -rf ${local.acme_next}",
  ])
}

# ---- the certificate's container: runs to completion before Grafana starts ----------------

locals {
  acme_container = {
    name      = "acme"
    image     = var.acme_image
    essential = false
    # A certificate on the volume is renewed when under 30 days from expiry (else kept);
    # the first start obtains one. --no-random-sleep: without a TTY, lego renew otherwise
    # sleeps a random 0-8 minutes first (meant for cron), and Grafana waits for it. DNS-01 through Route 53: no port is opened to anyone.
    entryPoint = ["/bin/sh", "-c"]
    command    = [local.acme_script]
    environment = [
      { name = "AWS_REGION", value = local.region },
      { name = "AWS_HOSTED_ZONE_ID", value = local.zone_id },
    ]
    mountPoints      = [{ sourceVolume = "grafana-data", containerPath = "/var/lib/grafana", readOnly = false }]
    logConfiguration = local.log_configuration
  }

  # Grafana on HTTPS on its name: the certificate lego wrote, on port 443.
  https_environment = local.named ? [
    { name = "GF_SERVER_PROTOCOL", value = "https" },
    { name = "GF_SERVER_DOMAIN", value = var.public_name },
    { name = "GF_SERVER_CERT_FILE", value = local.cert_file },
    { name = "GF_SERVER_CERT_KEY", value = local.key_file },
  ] : []
}

# lego's Route 53 provider: the TXT record of the challenge only, in this zone only.
data "aws_iam_policy_document" "acme" {
  count = local.named ? 1 : 0

  statement {
    sid       = "AnswerTheDnsChallenge"
    actions   = ["route53:ChangeResourceRecordSets"]
    resources = ["arn:${local.partition}:route53:::hostedzone/${local.zone_id}"]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "route53:ChangeResourceRecordSetsNormalizedRecordNames"
      values   = ["_acme-challenge.${var.public_name}"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "route53:ChangeResourceRecordSetsRecordTypes"
      values   = ["TXT"]
    }
  }

  statement {
    sid       = "ReadTheZone"
    actions   = ["route53:ListResourceRecordSets"]
    resources = ["arn:${local.partition}:route53:::hostedzone/${local.zone_id}"]
  }

  statement {
    sid       = "WaitForTheChange"
    actions   = ["route53:GetChange"]
    resources = ["arn:${local.partition}:route53:::change/*"]
  }
}

resource "aws_iam_role_policy" "acme" {
  count  = local.named ? 1 : 0
  name   = "acme-dns-challenge"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.acme[0].json
}

# ---- ECS's events to the controller --------------------------------------------------------

resource "aws_cloudwatch_event_rule" "task_state" {
  count       = local.events ? 1 : 0
  name        = "${var.name}-task-state"
  description = "Grafana's task started, runs or stopped: point the name, tell people"
  # The phases that matter (first, running, stopped): three invocations a session.
  event_pattern = jsonencode({
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Task State Change"]
    detail = {
      clusterArn = [local.cluster_arn]
      group      = ["service:${var.name}"]
      lastStatus = ["PROVISIONING", "RUNNING", "STOPPED"]
    }
  })
  tags = local.tags
}

resource "aws_cloudwatch_event_rule" "placement_failure" {
  count       = local.notify ? 1 : 0
  name        = "${var.name}-placement-failure"
  description = "ECS could not place Grafana's task: tell people"
  event_pattern = jsonencode({
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Service Action"]
    resources     = [local.service_arn]
    detail        = { eventName = ["SERVICE_TASK_PLACEMENT_FAILURE"] }
  })
  tags = local.tags
}

locals {
  event_rules = merge(
    local.events ? { task_state = aws_cloudwatch_event_rule.task_state[0] } : {},
    local.notify ? { placement_failure = aws_cloudwatch_event_rule.placement_failure[0] } : {},
  )
}

resource "aws_cloudwatch_event_target" "controller" {
  for_each = local.event_rules
  rule     = each.value.name
  arn      = aws_lambda_function.controller.arn

  # An event older than ten minutes is stale: the schedule's tick has put the name right.
  retry_policy {
    maximum_event_age_in_seconds = 600
    maximum_retry_attempts       = 3
  }
}

resource "aws_lambda_permission" "events" {
  for_each      = local.event_rules
  statement_id  = "ecs-events-${replace(each.key, "_", "-")}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.controller.function_name
  principal     = "events.amazonaws.com"
  source_arn    = each.value.arn
}

# ---- where notices go -----------------------------------------------------------------------

resource "aws_sns_topic" "notices" {
  count             = var.notification_topic ? 1 : 0
  name              = "${var.name}-events"
  kms_master_key_id = coalesce(var.kms_key_arn, "alias/aws/sns")
  tags              = local.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = var.notification_topic ? toset(var.notification_emails) : toset([])
  topic_arn = aws_sns_topic.notices[0].arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_ssm_parameter" "webhook" {
  #checkov:skip=CKV_AWS_337:Encrypted with the AWS-managed aws/ssm key by default (free); kms_key_arn sets a customer-managed key ($1 a month, more than the whole stopped service).
  count            = var.notification_webhook ? 1 : 0
  name             = "/${var.name}/notification-webhook"
  description      = "The webhook URL notices are posted to (${var.name})"
  type             = "SecureString"
  tier             = "Standard"
  key_id           = var.kms_key_arn
  value_wo         = var.notification_webhook_url
  value_wo_version = var.notification_webhook_version
  tags             = local.tags
}

locals {
  topic_arn             = var.notification_topic ? aws_sns_topic.notices[0].arn : ""
  webhook_parameter_arn = var.notification_webhook ? "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter/${var.name}/notification-webhook" : ""
}
