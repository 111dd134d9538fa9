resource "aws_ecs_cluster" "this" {
  #checkov:skip=CKV_AWS_65:Container Insights is container_insights (off by default): it bills custom metrics for every task-hour, more than this service costs when used a little.
  name = var.name

  setting {
    name  = "containerInsights"
    value = var.container_insights ? "enabled" : "disabled"
  }

  tags = local.tags
  # CreateCluster makes ECS's service-linked role itself when it is missing: with
  # create_ecs_service_linked_role, the module's own comes first, or the two collide.
  depends_on = [aws_iam_service_linked_role.ecs]
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
}

locals {
  # The CloudWatch data source, provisioned at start so Grafana is useful at once.
  datasources = yamlencode({
    apiVersion = 1
    datasources = [{
      name      = "CloudWatch"
      type      = "cloudwatch"
      isDefault = true
      jsonData  = { authType = "default", defaultRegion = local.region }
    }]
  })

  environment = concat(
    [
      { name = "GF_SERVER_HTTP_PORT", value = tostring(local.port) },
      { name = "GF_SECURITY_ADMIN_USER", value = "admin" },
      { name = "GF_AUTH_ANONYMOUS_ENABLED", value = "false" },
      { name = "GF_SERVER_ENFORCE_DOMAIN", value = "false" },
      { name = "GF_PATHS_PROVISIONING", value = "/tmp/provisioning" },
      { name = "GF_DATASOURCES_YAML", value = local.datasources },
      { name = "GF_ANALYTICS_REPORTING_ENABLED", value = "false" },
      # Every request a line in the task's log: what the controller reads its use from.
      { name = "GF_SERVER_ROUTER_LOGGING", value = "true" },
      # SQLite on NFS (EFS) must not use WAL (SQLite's own rule), and WAL persists once set
      # in a file: pinned off, whatever Grafana's default becomes.
      { name = "GF_DATABASE_WAL", value = "false" },
    ],
    # Grafana's links, login and redirects stay on the door.
    [{ name = "GF_SERVER_ROOT_URL", value = local.root_url }],
    local.https_environment,
    local.dashboard_environment,
  )

  health_url = "${local.scheme}://localhost:${local.port}/api/health"

  container_definitions = jsonencode(concat(
    local.named ? [jsondecode(jsonencode(local.acme_container))] : [],
    [jsondecode(jsonencode(local.grafana_container))],
  ))

  # Every container's output in the task's log group, as `grafana/<container>/<task id>`.
  log_configuration = {
    logDriver = "awslogs"
    options = {
      "awslogs-group"         = aws_cloudwatch_log_group.grafana.name
      "awslogs-region"        = local.region
      "awslogs-stream-prefix" = "grafana"
    }
  }

  grafana_container = {
    name      = "grafana"
    image     = var.grafana_image
    essential = true
    # Writes the data source's and the dashboards' files (dashboards.tf), then hands over to
    # Grafana's own entry point.
    entryPoint = ["/bin/sh", "-c"]
    command = [join(" && ", concat(
      [
        "mkdir -p /tmp/provisioning/datasources /tmp/provisioning/dashboards /tmp/provisioning/plugins /tmp/provisioning/alerting",
        "printf '%s' \"$GF_DATASOURCES_YAML\" > /tmp/provisioning/datasources/cloudwatch.yaml",
      ],
      local.dashboard_commands,
      ["exec /run.sh"],
    ))]
    # With a name, Grafana (uid 472) serves 443 itself: the task's network namespace lets
    # unprivileged processes bind low ports.
    systemControls = local.named ? [{ namespace = "net.ipv4.ip_unprivileged_port_start", value = "0" }] : []
    dependsOn      = local.named ? [{ containerName = "acme", condition = "SUCCESS" }] : []
    portMappings   = [{ containerPort = local.port, protocol = "tcp" }]
    environment    = local.environment
    secrets = [{
      name      = "GF_SECURITY_ADMIN_PASSWORD"
      valueFrom = aws_ssm_parameter.admin_password.arn
    }]
    mountPoints = var.persistent_storage ? [{
      sourceVolume  = "grafana-data"
      containerPath = "/var/lib/grafana"
      readOnly      = false
    }] : []
    # Grafana finishes its writes before it is killed: Fargate's longest stop timeout.
    stopTimeout = 120
    # What the controller reads as readiness (READINESS=ecs): every 5 s (ECS's shortest), so
    # "running" follows "Grafana answers" by 5 s at most; failures during the start period
    # (database migrations, minutes on slow storage) do not count, and a pass there reports
    # HEALTHY at once. Over
    # HTTPS the certificate names the public name, not localhost: it is not checked here.
    # curl, not wget: Grafana's Ubuntu images have no wget; both image flavours have curl.
    healthCheck = {
      command     = ["CMD-SHELL", "curl -fsS ${local.named ? "-k " : ""}-o /dev/null ${local.health_url} || exit 1"]
      interval    = 5
      timeout     = 2
      retries     = 3
      startPeriod = var.health_check_start_period
    }
    readonlyRootFilesystem = false
    logConfiguration       = local.log_configuration
  }
}

resource "aws_ecs_task_definition" "grafana" {
  family                   = var.name
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.architecture
  }

  # The certificate's container first, when there is a name.
  container_definitions = local.container_definitions

  dynamic "volume" {
    for_each = var.persistent_storage ? [1] : []
    content {
      name = "grafana-data"
      efs_volume_configuration {
        file_system_id     = aws_efs_file_system.grafana[0].id
        transit_encryption = "ENABLED"
        authorization_config {
          access_point_id = aws_efs_access_point.grafana[0].id
          iam             = "ENABLED"
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = alltrue([for f in local.dashboard_files : can(regex("^[A-Za-z0-9][A-Za-z0-9._-]*\\.json$", f))])
      error_message = "dashboards_path: rename ${join(", ", [for f in local.dashboard_files : f if !can(regex("^[A-Za-z0-9][A-Za-z0-9._-]*\\.json$", f))])} to letters, digits, dots, dashes and underscores (each file becomes a file of Grafana's, written by a shell)."
    }
    precondition {
      condition     = alltrue([for f in local.dashboard_files : can(keys(jsondecode(file("${var.dashboards_path}/${f}"))))])
      error_message = "dashboards_path: ${join(", ", [for f in local.dashboard_files : f if !can(keys(jsondecode(file("${var.dashboards_path}/${f}"))))])} is not a JSON object: export a dashboard's JSON from Grafana (Share, Export, Save to file) and put that file there."
    }
    precondition {
      condition     = local.dashboards_bytes <= local.dashboards_budget
      error_message = "The dashboards would weigh ${ceil(local.dashboards_bytes / 1024)} KiB in the task definition (compressed): ECS takes 64 KiB at most for a whole definition, and this module gives the dashboards 48 KiB of it. Make the largest of dashboards_path's files smaller (remove their \"__inputs\" and unused panels), move some to another folder, or set on_demand_dashboard = false."
    }
    precondition {
      condition     = !local.named || var.hosted_zone_id != null
      error_message = "public_name needs hosted_zone_id: the Route 53 hosted zone that holds it."
    }
    precondition {
      condition     = !local.named || var.persistent_storage
      error_message = "public_name needs persistent_storage = true: the certificate is kept on EFS, or every start would ask Let's Encrypt for a new one and meet its rate limits (5 a week per name)."
    }
    precondition {
      condition     = !local.named || var.acme_email != null
      error_message = "public_name needs acme_email: lego registers an account with the certificate authority before its first certificate and refuses to without an address, and Grafana would never start."
    }
  }

  tags = local.tags
}

# ECS creates this role itself when the console or CreateCluster is first used in an account;
# Terraform alone on a brand-new account does not, and CreateService then fails.
resource "aws_iam_service_linked_role" "ecs" {
  count            = var.create_ecs_service_linked_role ? 1 : 0
  aws_service_name = "ecs.amazonaws.com"
  description      = "ECS's own role (grafana-ondemand created it: the account had none)"
}

resource "aws_ecs_service" "grafana" {
  #checkov:skip=CKV_AWS_333:A public IP instead of a load balancer is the point ($0 when stopped); ingress is limited to allowed_cidrs, and assign_public_ip = false serves private subnets.
  name            = var.name
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.grafana.arn
  # Off by default: the controller Lambda sets it to 1 on demand.
  desired_count = 0

  dynamic "capacity_provider_strategy" {
    for_each = var.use_fargate_spot ? [] : [1]
    content {
      capacity_provider = "FARGATE"
      weight            = 1
    }
  }

  dynamic "capacity_provider_strategy" {
    for_each = var.use_fargate_spot ? [1] : []
    content {
      capacity_provider = "FARGATE_SPOT"
      weight            = 1
    }
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.grafana.id]
    assign_public_ip = var.assign_public_ip
  }

  # One Grafana on SQLite: never two tasks writing the same database.
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  deployment_circuit_breaker {
    enable   = true
    rollback = false
  }

  propagate_tags = "SERVICE"

  lifecycle {
    # Managed at run time: the count, a user's lease, the last stop, the notices told, the
    # last start's timings (the controller), a restore's hold (the CLI's restore).
    ignore_changes = [
      desired_count,
      tags["grafana-ondemand:lease-until"],
      tags["grafana-ondemand:stopped"],
      tags["grafana-ondemand:announced"],
      tags["grafana-ondemand:ready"],
      tags["grafana-ondemand:restoring"],
    ]
  }

  depends_on = [aws_ecs_cluster_capacity_providers.this, aws_efs_mount_target.grafana, aws_iam_service_linked_role.ecs]

  # What `doctor` reads of the deployment, so that the cluster and the service are all it is
  # told: the controller's role (whose permissions it checks), Grafana's address (where it
  # counts alert rules while Grafana runs), the door's store (whose entry it reads), the
  # public name, its certificate (ACM's status and renewal) and its hosted zone (whose CAA
  # records it reads).
  tags = merge(
    local.tags,
    { "grafana-ondemand:controller-role" = aws_iam_role.controller.arn, "grafana-ondemand:url" = local.door_url },
    local.door_kvs_arn != "" ? { "grafana-ondemand:door" = local.door_kvs_arn } : {},
    local.named ? {
      "grafana-ondemand:name"        = var.public_name,
      "grafana-ondemand:hosted-zone" = local.zone_id,
      "grafana-ondemand:certificate" = aws_acm_certificate.name[0].arn,
    } : {},
  )
}
