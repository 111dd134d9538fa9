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
  value       = local.named ? "HTTPS on https://${var.public_name} with a Let's Encrypt certificate (renewed at a start within 30 days of expiry), from allowed_cidrs only." : "UNENCRYPTED: plain HTTP on the task's public address, limited to allowed_cidrs; the admin password and session cookies cross the network in clear. Set public_name and hosted_zone_id for HTTPS on a stable name, or reach Grafana over a VPN (assign_public_ip = false)."
}

output "grafana_url" {
  description = "Grafana's stable URL (null without public_name: each start gives a new address, which the API's status tells)."
  value       = local.named ? "https://${var.public_name}" : null
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
