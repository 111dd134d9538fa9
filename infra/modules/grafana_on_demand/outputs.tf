output "api_url" {
  description = "The URL of the control page and JSON API (GET for the page, POST {\"action\": ...})."
  value       = "${aws_apigatewayv2_stage.default.invoke_url}grafana"
}

output "cluster_name" {
  description = "The ECS cluster's name (CLUSTER_NAME for the CLI)."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "The ECS service's name (SERVICE_NAME for the CLI)."
  value       = aws_ecs_service.grafana.name
}

output "access_token_parameter" {
  description = "The SSM parameter (SecureString) holding the API's bearer token (token auth); see token_command."
  value       = local.token_auth ? aws_ssm_parameter.access_token[0].name : null
}

output "token_command" {
  description = "How to get what the page asks for on the first start: the bearer token (token auth), or how to sign (IAM auth)."
  value       = local.token_auth ? "aws ssm get-parameter --region ${local.region} --with-decryption --name ${aws_ssm_parameter.access_token[0].name} --query Parameter.Value --output text" : "api_auth is iam: sign each request with SigV4 (for example: awscurl --service execute-api -X POST -d '{\"action\": \"start\"}' <api_url>); there is no token"
}

output "admin_password_command" {
  description = "How to print Grafana's admin password (user admin)."
  value       = "aws ssm get-parameter --region ${local.region} --with-decryption --name ${aws_ssm_parameter.admin_password.name} --query Parameter.Value --output text"
}

output "traffic_encryption" {
  description = "What protects traffic to Grafana."
  value       = local.named ? "HTTPS from the browser to the front door (https://${var.public_name}, ACM), and HTTPS from CloudFront to the task, checked against the name (Let's Encrypt, renewed at a start within 30 days of expiry); Grafana admits CloudFront's origin-facing servers only${length(var.allowed_cidrs) > 0 ? " and allowed_cidrs" : ""}." : "HTTPS from the browser to the front door (${local.door_url}); the hop from CloudFront to the task is PLAIN HTTP over the internet (the task has no certificate without a name): set public_name and hosted_zone_id for HTTPS end to end. Grafana admits CloudFront's origin-facing servers only${length(var.allowed_cidrs) > 0 ? " and allowed_cidrs (plain HTTP from those)" : ""}."
}

output "grafana_url" {
  description = "Grafana's address for ever: the front door (https://<public_name>, or the distribution's https://dxxxx.cloudfront.net). Open it asleep, and its wake page wakes Grafana."
  value       = local.door_url
}

output "front_door_distribution_id" {
  description = "The front door's CloudFront distribution."
  value       = aws_cloudfront_distribution.door.id
}

output "front_door_store_arn" {
  description = "The front door's KeyValueStore (null without its function, as on moto)."
  value       = local.door_functions ? local.door_kvs_arn : null
}

output "notification_topic_arn" {
  description = "The SNS topic told when Grafana starts, runs, stops or fails (null unless notification_topic)."
  value       = var.notification_topic ? aws_sns_topic.notices[0].arn : null
}

output "admin_password_parameter" {
  description = "The SSM parameter (SecureString) holding Grafana's admin password."
  value       = aws_ssm_parameter.admin_password.name
}

output "reaper_schedule" {
  description = "The EventBridge Scheduler schedule that stops Grafana when nobody uses it."
  value       = aws_scheduler_schedule.reaper.name
}

output "security_group_id" {
  description = "The security group of the Grafana task."
  value       = aws_security_group.grafana.id
}

output "lambda_function_name" {
  description = "The controller Lambda's name."
  value       = aws_lambda_function.controller.function_name
}

output "efs_file_system_id" {
  description = "The EFS file system holding Grafana's data (null when persistent_storage is false)."
  value       = var.persistent_storage ? aws_efs_file_system.grafana[0].id : null
}

output "grafana_root_url" {
  description = "Grafana's root_url: the front door's, so its login, redirects and links stay on the door."
  value       = local.root_url
}

output "efs_file_system_arn" {
  description = "The EFS file system holding Grafana's data, for the CLI's restore (null when persistent_storage is false)."
  value       = var.persistent_storage ? aws_efs_file_system.grafana[0].arn : null
}

output "restore_flags" {
  description = "The CLI's restore flags for this deployment: `cargo run --features admin --example cli -- restore $(terraform output -raw restore_flags)` lists the backups, and with `--from <ARN>` puts one back (null without efs_backup)."
  value = local.restore ? join(" ", [
    "--region", local.region,
    "--cluster", aws_ecs_cluster.this.name,
    "--service", aws_ecs_service.grafana.name,
    "--file-system", aws_efs_file_system.grafana[0].arn,
    "--backup-role", aws_iam_role.backup_restore[0].arn,
    "--task-definition", aws_ecs_task_definition.restore[0].family,
  ]) : null
}

output "dashboards" {
  description = "The dashboard files Grafana provisions at every start, under /tmp/provisioning/dashboards (files/: dashboards_path's, in dashboards_folder; on-demand/: the built-in one)."
  value       = local.dashboard_paths
}
