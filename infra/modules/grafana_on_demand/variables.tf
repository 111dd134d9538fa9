variable "name" {
  description = "Name prefix of every resource (letters, digits and dashes)."
  type        = string
  default     = "grafana-ondemand"
  validation {
    # IAM takes 38 characters in a role's name_prefix; the longest the module builds is
    # "<name>-bkrestore-" (11 more).
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,26}$", var.name))
    error_message = "name must start with a letter and hold 2 to 27 letters, digits or dashes: IAM takes at most 38 characters in a role's name prefix, and the longest the module builds is \"<name>-bkrestore-\"."
  }
}

variable "vpc_id" {
  description = "The VPC the task runs in."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the task (public subnets when assign_public_ip is true) and of the EFS mount targets, one per availability zone."
  type        = list(string)
  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids needs at least one subnet."
  }
}

variable "allowed_cidrs" {
  description = "IPv4 ranges allowed to reach Grafana's port directly, beside the front door (your office, your VPN). Default none: only the door reaches Grafana."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for c in var.allowed_cidrs : can(cidrhost(c, 0))])
    error_message = "allowed_cidrs must be CIDR blocks such as 203.0.113.0/24."
  }
  # CloudFront's origin-facing prefix list weighs 55 of a security group's 60 inbound IPv4
  # rules (the default quota): five more at most.
  validation {
    condition     = length(var.allowed_cidrs) <= 5
    error_message = "allowed_cidrs takes at most 5 ranges: the front door's rule (CloudFront's origin-facing prefix list) weighs 55 of a security group's 60 inbound rules. Merge ranges into wider ones, or raise the quota \"Inbound or outbound rules per security group\" in Service Quotas first."
  }
}

variable "allowed_ipv6_cidrs" {
  description = "IPv6 ranges allowed to reach Grafana (only useful in dual-stack subnets)."
  type        = list(string)
  default     = []
}

variable "assign_public_ip" {
  description = "Give the task a public IP (public subnets, no load balancer). False for private subnets reached over a VPN; set the Lambda's SERVICE_ADDRESS to private then."
  type        = bool
  default     = true
}

variable "grafana_image" {
  description = "The Grafana container image."
  type        = string
  default     = "grafana/grafana-oss:11.3.0"
}

variable "grafana_port" {
  description = "The port Grafana listens on."
  type        = number
  default     = 3000
}

variable "grafana_root_url" {
  description = "Grafana's public root URL; null: the front door's (https://<public_name>/, or the distribution's https://dxxxx.cloudfront.net/), so its login and links stay on the door."
  type        = string
  default     = null
}

variable "cpu" {
  description = "Fargate CPU units for the task (256 = 0.25 vCPU)."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Fargate memory for the task, in MiB."
  type        = number
  default     = 512
}

variable "architecture" {
  description = "CPU architecture of the task and of the Lambda: X86_64 or ARM64 (about 20% cheaper; the Lambda zip must be built for it)."
  type        = string
  default     = "X86_64"
  validation {
    condition     = contains(["X86_64", "ARM64"], var.architecture)
    error_message = "architecture must be X86_64 or ARM64."
  }
}

variable "use_fargate_spot" {
  description = "Run the task on Fargate Spot (about 70% cheaper; AWS may reclaim it with two minutes' notice)."
  type        = bool
  default     = false
}

variable "persistent_storage" {
  description = "Keep Grafana's data (/var/lib/grafana) on an encrypted EFS file system, so dashboards and users survive every stop."
  type        = bool
  default     = true
}

variable "efs_backup" {
  description = "Back Grafana's EFS up daily with AWS Backup (about $0.05 per GB-month of backups)."
  type        = bool
  default     = true
}

variable "lambda_zip_path" {
  description = "Path to the controller Lambda's bootstrap.zip (cargo lambda build --release --x86-64 --example lambda --no-default-features --features aws,lambda --output-format zip)."
  type        = string
}

variable "api_auth" {
  description = "How callers of the API prove who they are: \"token\" (a bearer token kept in Secrets Manager) or \"iam\" (SigV4-signed requests)."
  type        = string
  default     = "token"
  validation {
    condition     = contains(["token", "iam"], var.api_auth)
    error_message = "api_auth must be token or iam."
  }
}

variable "protect_status" {
  description = "Require the token for status too (by default anyone with the URL may read the status)."
  type        = bool
  default     = false
}

variable "allowed_origins" {
  description = "Browser origins allowed by CORS to call the API (your frontend); the control page served by the API itself needs none."
  type        = list(string)
  default     = []
}

variable "api_throttle_rate" {
  description = "Steady requests per second the API accepts."
  type        = number
  default     = 5
}

variable "api_throttle_burst" {
  description = "Burst of requests the API accepts."
  type        = number
  default     = 10
}

variable "log_retention_days" {
  description = "How long logs of Grafana, the Lambda and the API are kept."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "A customer-managed KMS key for logs, secrets and EFS; null uses AWS-managed keys. Its key policy must let CloudWatch Logs use it (see the module README); the module grants the roles kms:Decrypt through Secrets Manager."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "lambda_tracing" {
  description = "Trace the controller Lambda with AWS X-Ray (Active tracing; grants it xray:PutTraceSegments and xray:PutTelemetryRecords). About $5 per million traces past the free tier."
  type        = bool
  default     = false
}

variable "lambda_reserved_concurrency" {
  description = "Concurrent executions reserved for the controller Lambda, as a ceiling on what the API can make it do; null reserves none (new accounts, limited to 10 in all, reject any reservation)."
  type        = number
  default     = null
}

variable "container_insights" {
  description = "Turn on ECS Container Insights for the cluster: per-task metrics in CloudWatch, billed as custom metrics and logs (about $0.50 to $1 a month for one task running a few hours a day)."
  type        = bool
  default     = false
}

variable "grafana_log_groups" {
  description = "CloudWatch log groups Grafana may query (names; `*` wildcards allowed, such as /aws/lambda/*). Empty: Grafana reads metrics only, no log contents."
  type        = list(string)
  default     = []
}

variable "access_token_version" {
  description = "Bump to generate a new API token (token auth): the old one stops working at the next Lambda cold start."
  type        = number
  default     = 1
}

variable "auto_stop" {
  description = "Stop Grafana by itself when nobody uses it. False leaves it running until someone stops it (the schedule still ticks: it carries out a start that waits for the previous task, and corrects the door's entry)."
  type        = bool
  default     = true
}

variable "reap_schedule" {
  description = "How often the reaper looks (an EventBridge Scheduler expression). Every minute: 43,200 invocations a month, inside Lambda's and Scheduler's free tiers."
  type        = string
  default     = "rate(1 minute)"
  validation {
    # Scheduler's syntax: the singular unit with 1, the plural with any other value.
    condition     = can(regex("^rate\\((1 (minute|hour)|([2-9]|[1-9][0-9]+) (minutes|hours))\\)$", var.reap_schedule))
    error_message = "reap_schedule must be a rate expression such as \"rate(1 minute)\" or \"rate(5 minutes)\"."
  }
}

variable "startup_grace" {
  description = "How long a freshly started Grafana may go unused before it stops (30m, 1h, or off)."
  type        = string
  default     = "15m"
  validation {
    condition     = can(regex("^(off|([0-9]+[dhms])+)$", var.startup_grace))
    error_message = "startup_grace must be a duration such as 15m, 1h30m, or off."
  }
}

variable "idle_timeout" {
  description = "How long after its last use Grafana stops (30m, 2h, or off)."
  type        = string
  default     = "30m"
  validation {
    condition     = can(regex("^(off|([0-9]+[dhms])+)$", var.idle_timeout))
    error_message = "idle_timeout must be a duration such as 30m, 2h, or off."
  }
}

variable "max_session" {
  description = "The longest a session lasts, used or not, leases included (12h, or off): what stops a tab left auto-refreshing."
  type        = string
  default     = "12h"
  validation {
    condition     = can(regex("^(off|([0-9]+[dhms])+)$", var.max_session))
    error_message = "max_session must be a duration such as 12h, 8h, or off."
  }
}

# ---------------------------------------------------------------------------------------
# Dashboards as code (docs/dashboards.md)

variable "dashboards_path" {
  description = "A folder of dashboard JSON files (its *.json; not its subfolders), provisioned at every start into dashboards_folder: a changed file is updated and a removed file's dashboard deleted at the next start; the UI cannot save over them. null: none."
  type        = string
  default     = null
}

variable "dashboards_folder" {
  description = "The Grafana folder dashboards_path's dashboards go in."
  type        = string
  default     = "Repository"
  validation {
    condition     = length(trimspace(var.dashboards_folder)) > 0 && var.dashboards_folder != "On demand"
    error_message = "dashboards_folder must be a folder name, other than \"On demand\" (the built-in dashboard's)."
  }
}

variable "on_demand_dashboard" {
  description = "Provision the built-in \"On demand\" dashboard (its starts, failures, start phases, sessions and their cost, from the controller's CloudWatch metrics) in a folder of that name."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------
# A stable HTTPS name, and word when Grafana starts, stops or fails

variable "public_name" {
  description = "A name for Grafana (grafana.example.com) in hosted_zone_id: an alias of the front door's distribution (A/AAAA, set once), with an ACM certificate in us-east-1; CloudFront talks HTTPS to the task, which serves the name's Let's Encrypt certificate kept on EFS. null: the door is the distribution's own https://dxxxx.cloudfront.net, and its hop to the task is plain HTTP."
  type        = string
  default     = null

  validation {
    condition     = var.public_name == null || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,}$", var.public_name))
    error_message = "public_name must be a lowercase DNS name such as grafana.example.com (no scheme, port, path or trailing dot)."
  }
  # It is the certificate's name (ACM's domain name, Let's Encrypt's common name) and the door
  # pins the task's certificate to it: 64 characters at most.
  validation {
    condition     = var.public_name == null || length(coalesce(var.public_name, "x")) <= 64
    error_message = "public_name must have at most 64 characters: it is its certificates' name (ACM and Let's Encrypt take 64), and the front door pins the task's certificate to it."
  }
}

variable "hosted_zone_id" {
  description = "The Route 53 public hosted zone (Z...) that holds public_name; $0.50 a month per zone."
  type        = string
  default     = null
  validation {
    condition     = var.hosted_zone_id == null || can(regex("^[A-Z0-9]{1,32}$", var.hosted_zone_id))
    error_message = "hosted_zone_id must be a Route 53 hosted zone ID such as Z0123456789ABCDEFGHIJ (without /hostedzone/): `aws route53 list-hosted-zones-by-name --dns-name <your domain>` lists yours."
  }
}

variable "acme_email" {
  description = "The contact address registered with the certificate authority: required with public_name (lego will not register an account without one); Let's Encrypt no longer sends expiry mail to it."
  type        = string
  default     = null
  validation {
    condition     = var.acme_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.acme_email))
    error_message = "acme_email must be an email address such as ops@example.com."
  }
}

variable "create_ecs_service_linked_role" {
  description = "Create ECS's service-linked role (AWSServiceRoleForECS). A brand-new account that never used ECS has none, and the service cannot be created without it; an account that has one refuses a second: leave false there."
  type        = bool
  default     = false
}

variable "acme_server" {
  description = "The ACME directory the certificate comes from. Let's Encrypt's staging directory (https://acme-staging-v02.api.letsencrypt.org/directory) for trials: its certificates are not trusted, and its rate limits are far higher."
  type        = string
  default     = "https://acme-v02.api.letsencrypt.org/directory"
}

variable "acme_image" {
  description = "The ACME client image run before Grafana to obtain or renew the certificate (lego, with its Route 53 DNS-01 provider)."
  type        = string
  default     = "goacme/lego:v4.26.0"
}

variable "notification_topic" {
  description = "Create an SNS topic that is told when Grafana starts, runs (with its URL), stops (and why) or fails (with ECS's reason); subscribe to it (notification_emails, or Chatbot, SQS, ...)."
  type        = bool
  default     = false
}

variable "notification_emails" {
  description = "Email addresses subscribed to the notification topic (each confirms by email first)."
  type        = list(string)
  default     = []
}

variable "notification_webhook" {
  description = "Post the same notices to a webhook (Slack incoming webhook, Mattermost, Google Chat: JSON {\"text\": ...}); its URL goes in notification_webhook_url."
  type        = bool
  default     = false
}

variable "notification_webhook_url" {
  description = "The webhook's https URL: a secret, so it is written to an SSM SecureString parameter write-only and never kept in the state (Terraform 1.11 ephemeral variable). Bump notification_webhook_version to change it."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true
}

variable "notification_webhook_version" {
  description = "Bump to write a new notification_webhook_url."
  type        = number
  default     = 1
}

variable "front_door_functions" {
  description = "Deploy the front door's function and its KeyValueStore (the routing to the task, the 503 while asleep). false only where they cannot be created (moto, which has no CloudFront Functions): the door then always leads to the controller."
  type        = bool
  default     = true
}

variable "price_class" {
  description = "The distribution's price class: PriceClass_100 (North America, Europe: the cheapest), PriceClass_200 or PriceClass_All."
  type        = string
  default     = "PriceClass_100"
  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "origin_read_timeout" {
  description = "How long CloudFront waits for Grafana's (and the controller's) answer, in seconds: long queries need more than the default 30. Above 60 needs a CloudFront quota increase on the account."
  type        = number
  default     = 60
  validation {
    condition     = var.origin_read_timeout >= 1 && var.origin_read_timeout <= 120 && floor(var.origin_read_timeout) == var.origin_read_timeout
    error_message = "origin_read_timeout must be whole seconds from 1 to 120 (above 60 after a quota increase)."
  }
}

variable "health_check_start_period" {
  description = "Seconds after Grafana's container starts during which failed health checks do not count: long enough for a database migration on EFS (minutes after an upgrade), or ECS would kill Grafana in the middle of it again and again. ECS allows 300 at most."
  type        = number
  default     = 300
  validation {
    condition     = var.health_check_start_period >= 0 && var.health_check_start_period <= 300
    error_message = "health_check_start_period must be seconds from 0 to 300 (ECS's limit)."
  }
}
