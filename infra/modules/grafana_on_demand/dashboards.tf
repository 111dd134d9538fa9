# Dashboards as code: the JSON files of var.dashboards_path, and the built-in "On demand"
# dashboard, provisioned by Grafana at every start (docs/dashboards.md).
#
# How they reach the task: in the task definition itself, each file gzip-compressed and
# base64-encoded in an environment variable of Grafana's container, written to
# /tmp/provisioning/dashboards by the container's own start command before Grafana starts.
# - No image pull, no download, no AWS call at start: ECS hands the task definition over as
#   it always does; writing the files takes milliseconds (docs/dashboards.md has the figures).
# - No permission: the task role reads nothing more; the files live in the task definition,
#   which only ECS and whoever may describe task definitions read.
# - Bounded by ECS's quota (a task definition is 64 KiB at most): checked at plan time below,
#   with the sizes in the message.
# - A changed or removed file is a new task definition revision; the next start writes
#   exactly the files it has, on a fresh /tmp, and Grafana's file provider deletes the
#   dashboard of a file that is gone (disableDeletion = false).

locals {
  dashboard_files = var.dashboards_path == null ? [] : sort(fileset(var.dashboards_path, "*.json"))

  # The built-in dashboard, with this deployment's service, region and settings.
  on_demand_dashboard = replace(replace(replace(replace(replace(
    file("${path.module}/dashboards/on-demand.json"),
    "__SERVICE__", var.name),
    "__REGION__", local.region),
    "__IDLE_TIMEOUT__", var.auto_stop ? var.idle_timeout : "off"),
    "__MAX_SESSION__", var.auto_stop ? var.max_session : "off"),
  "__STARTUP_GRACE__", var.auto_stop ? var.startup_grace : "off")

  # Where each file goes under /tmp/provisioning/dashboards, and what it holds.
  dashboards = merge(
    { for f in local.dashboard_files : "files/${f}" => file("${var.dashboards_path}/${f}") },
    var.on_demand_dashboard ? { "on-demand/on-demand.json" = local.on_demand_dashboard } : {},
  )
  dashboard_paths = sort(keys(local.dashboards))

  # One provider per folder. Files are rewritten at every start (a fresh /tmp), so Grafana
  # need not watch them; a dashboard whose file is gone is deleted; the UI cannot save over
  # a file's dashboard (Save as makes a copy).
  dashboard_providers = yamlencode({
    apiVersion = 1
    providers = concat(
      length(local.dashboard_files) > 0 ? [{
        name                  = "repository"
        folder                = var.dashboards_folder
        type                  = "file"
        disableDeletion       = false
        allowUiUpdates        = false
        updateIntervalSeconds = 3600
        options               = { path = "/tmp/provisioning/dashboards/files" }
      }] : [],
      var.on_demand_dashboard ? [{
        name                  = "on-demand"
        folder                = "On demand"
        type                  = "file"
        disableDeletion       = false
        allowUiUpdates        = false
        updateIntervalSeconds = 3600
        options               = { path = "/tmp/provisioning/dashboards/on-demand" }
      }] : [],
    )
  })

  dashboard_environment = concat(
    [{ name = "GF_DASHBOARD_PROVIDERS_YAML", value = local.dashboard_providers }],
    [for i, p in local.dashboard_paths : {
      name  = "GF_DASHBOARD_${i}"
      value = base64gzip(local.dashboards[p])
    }],
  )

  # The start command's part: the folders, the providers' file, then each dashboard.
  dashboard_commands = concat(
    ["mkdir -p /tmp/provisioning/dashboards/files /tmp/provisioning/dashboards/on-demand"],
    ["printf '%s' \"$GF_DASHBOARD_PROVIDERS_YAML\" > /tmp/provisioning/dashboards/providers.yaml"],
    [for i, p in local.dashboard_paths :
    "printf '%s' \"$GF_DASHBOARD_${i}\" | base64 -d | gunzip > '/tmp/provisioning/dashboards/${p}'"],
  )

  # What the dashboards may weigh in the task definition: ECS takes 64 KiB at most for a
  # whole definition, and the rest of this one (both containers, every feature on) weighs
  # about 5 KiB (infra/test/moto-apply prints it): 16 KiB are kept for it. Counted from
  # what is known at plan time (the definition itself holds ARNs known only at apply).
  dashboards_budget = 48 * 1024
  dashboards_bytes  = sum(concat([0], [for e in local.dashboard_environment : length(e.name) + length(e.value)]))
}
