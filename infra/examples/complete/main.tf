# A complete deployment: a VPC of its own with two public subnets, and the module.
#
# The README's "Deploy to AWS" says how to apply it; `bash infra/rehearse` rehearses that on a
# local emulator.

terraform {
  required_version = ">= 1.11"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.90, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region
}

# The front door's certificate must live in us-east-1 (CloudFront's rule).
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
}

variable "region" {
  description = "The AWS region to deploy in."
  type        = string
  default     = "eu-west-3"
}

variable "name" {
  description = "The deployment's name (its cluster, service, function and volume are named after it). Renamed later, the volume and its dashboards stay."
  type        = string
  default     = "grafana-ondemand"
}

variable "kms_key_arn" {
  description = "A customer-managed KMS key for the volume, the parameters, the logs and the topic (null: AWS-managed keys). Set it at the first apply: a volume is never re-encrypted in place."
  type        = string
  default     = null
}

variable "dashboards_path" {
  description = "A folder of dashboard JSON files Grafana provisions at every start (null: this example's dashboards/)."
  type        = string
  default     = null
}

variable "allowed_cidrs" {
  description = "IPv4 ranges allowed to reach Grafana's port directly, beside the front door (your office or home IP as x.x.x.x/32); none by default."
  type        = list(string)
  default     = []
}

variable "public_name" {
  description = "A name for Grafana (grafana.example.com), in hosted_zone_id; null for the distribution's own https://dxxxx.cloudfront.net."
  type        = string
  default     = null
}

variable "hosted_zone_id" {
  description = "The Route 53 hosted zone holding public_name."
  type        = string
  default     = null
}

variable "acme_email" {
  description = "Your address, registered with Let's Encrypt for the certificate of public_name (required with it)."
  type        = string
  default     = null
}

variable "notification_emails" {
  description = "Addresses told when Grafana starts, runs, stops or fails (an SNS topic is created when any is given)."
  type        = list(string)
  default     = []
}

variable "notification_webhook_url" {
  description = "A Slack (or compatible) incoming webhook told the same; kept out of the state."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true
}

variable "notification_webhook" {
  description = "Whether notification_webhook_url is given (Terraform cannot count on an ephemeral value)."
  type        = bool
  default     = false
}

variable "create_ecs_service_linked_role" {
  description = "true on an account that never used ECS (it has no AWSServiceRoleForECS yet); false where it has one."
  type        = bool
  default     = false
}

variable "api_auth" {
  description = "How the API's own routes take callers: token (the bearer token) or iam (SigV4-signed requests); the front door's paths take a browser either way."
  type        = string
  default     = "token"
}

variable "lambda_zip_path" {
  description = "The controller's bootstrap.zip."
  type        = string
  default     = "../../../target/lambda/lambda/bootstrap.zip"
}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:The example takes the first two zones of the region for its two subnets; a new zone does not move them.
  state = "available"
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:Flow logs cost more than the Grafana they would watch; enable them in a shared VPC.
  cidr_block           = "10.42.0.0/16"
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = "grafana-ondemand" }
}

# No rule at all: nothing uses the default security group.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = { Name = "grafana-ondemand" }
}

resource "aws_subnet" "public" {
  count             = 2
  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet(aws_vpc.this.cidr_block, 8, count.index)
  availability_zone = data.aws_availability_zones.available.names[count.index]
  # ECS assigns the task's public IP itself; nothing else gets one.
  map_public_ip_on_launch = false
  tags                    = { Name = "grafana-ondemand-public-${count.index}" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }
  tags = { Name = "grafana-ondemand-public" }
}

resource "aws_route_table_association" "public" {
  count          = 2
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

module "grafana" {
  #checkov:skip=CKV_TF_1:The module is a local path in this same repository, versioned with it.
  #checkov:skip=CKV_TF_2:The module is a local path in this same repository, versioned with it.
  source          = "../../modules/grafana_on_demand"
  providers       = { aws = aws, aws.us_east_1 = aws.us_east_1 }
  name            = var.name
  kms_key_arn     = var.kms_key_arn
  vpc_id          = aws_vpc.this.id
  subnet_ids      = aws_subnet.public[*].id
  allowed_cidrs   = var.allowed_cidrs
  lambda_zip_path = var.lambda_zip_path

  public_name              = var.public_name
  hosted_zone_id           = var.hosted_zone_id
  acme_email               = var.acme_email
  notification_topic       = length(var.notification_emails) > 0
  notification_emails      = var.notification_emails
  notification_webhook     = var.notification_webhook
  notification_webhook_url = var.notification_webhook_url

  create_ecs_service_linked_role = var.create_ecs_service_linked_role
  api_auth                       = var.api_auth

  # This folder's dashboards (two to start from), provisioned at every start.
  dashboards_path = coalesce(var.dashboards_path, "${path.module}/dashboards")
}

output "grafana_url" {
  description = "Grafana's address for ever: the front door (the name, or the distribution's own domain)."
  value       = module.grafana.grafana_url
}

output "dashboards" {
  description = "The dashboards Grafana provisions at every start."
  value       = module.grafana.dashboards
}

output "front_door_distribution_id" {
  description = "The front door's CloudFront distribution (infra/real-account-check reads it)."
  value       = module.grafana.front_door_distribution_id
}

output "front_door_store_arn" {
  description = "The front door's KeyValueStore (null without its function, as on moto)."
  value       = module.grafana.front_door_store_arn
}

output "api_url" {
  description = "Open this in a browser: the control page."
  value       = module.grafana.api_url
}

output "cluster_name" {
  description = "CLUSTER_NAME for the CLI."
  value       = module.grafana.cluster_name
}

output "service_name" {
  description = "SERVICE_NAME for the CLI."
  value       = module.grafana.service_name
}

output "token_command" {
  description = "Prints the API token the control page asks for (or, with api_auth = iam, how to sign)."
  value       = module.grafana.token_command
}

output "admin_password_command" {
  description = "Prints Grafana's admin password (user admin)."
  value       = module.grafana.admin_password_command
}

output "traffic_encryption" {
  description = "What protects traffic to Grafana, and what to do about it."
  value       = module.grafana.traffic_encryption
}

output "restore_flags" {
  description = "The CLI's restore flags: `cargo run --features admin --example cli -- restore $(terraform output -raw restore_flags)` lists Grafana's backups; add `--from <ARN>` to put one back."
  value       = module.grafana.restore_flags
}
