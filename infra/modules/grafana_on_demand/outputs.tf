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

output "access_token_secret_arn" {
  description = "The Secrets Manager secret holding the API's bearer token (token auth), read it with: aws secretsmanager get-secret-value --secret-id <arn>."
  value       = local.token_auth ? aws_secretsmanager_secret.access_token[0].arn : null
}

output "admin_password_secret_arn" {
  description = "The Secrets Manager secret holding Grafana's admin password."
  value       = aws_secretsmanager_secret.admin_password.arn
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
