# ---------------------------------------------------------------------------------------
# The front door: a CloudFront distribution that is Grafana's address for ever (its own
# https://dxxxx.cloudfront.net, and the name's alias with public_name). Its viewer-request
# function (door.js, the only copy of the routing rules) reads one KeyValueStore entry the
# controller writes: while Grafana answers, every request goes to the task by its public DNS
# name; while it sleeps, a person's navigation goes to the controller (the wake page) and the
# rest gets a 503 from the edge itself. Nothing changes at run time but that entry. Idle, a
# distribution, a function and a store cost nothing.

locals {
  # moto has distributions but no functions or KeyValueStores: front_door_functions = false
  # leaves them out (the moto apply and the rehearsal), and the door then always leads to the
  # controller.
  door_functions = var.front_door_functions
  door_kvs_arn   = local.door_functions ? aws_cloudfront_key_value_store.door[0].arn : ""
  door_host      = local.named ? var.public_name : aws_cloudfront_distribution.door.domain_name
  door_url       = "https://${local.door_host}"
  root_url       = coalesce(var.grafana_root_url, "${local.door_url}/")
  # The API's own domain: the controller's origin.
  api_domain = "${aws_apigatewayv2_api.this.id}.execute-api.${local.region}.amazonaws.com"
  # Managed policies, written in (moto has no cache policies to look up): CachingDisabled,
  # and AllViewerExceptHostHeader, meant for API Gateway origins.
  caching_disabled              = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
  all_viewer_except_host_header = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
}

resource "aws_cloudfront_key_value_store" "door" {
  count   = local.door_functions ? 1 : 0
  name    = "${var.name}-door"
  comment = "Where ${var.name}'s Grafana is: written by its controller (no key managed here: a missing key is asleep)"
}

resource "aws_cloudfront_function" "door" {
  count                        = local.door_functions ? 1 : 0
  name                         = "${var.name}-door"
  runtime                      = "cloudfront-js-2.0"
  comment                      = "The front door's routing: the task while Grafana answers, the wake page while it sleeps"
  code                         = file("${path.module}/door.js")
  publish                      = true
  key_value_store_associations = [aws_cloudfront_key_value_store.door[0].arn]
}

# The secret header the distribution adds to what it sends the controller, by which the
# controller knows a request came through the door. Generated once (AWS makes it; no random
# provider), kept in the state: CloudFront's configuration holds it in clear anyway.
data "aws_secretsmanager_random_password" "door" {
  password_length     = 40
  exclude_punctuation = true
}

resource "terraform_data" "door_secret" {
  input = data.aws_secretsmanager_random_password.door.random_password
  lifecycle {
    ignore_changes = [input]
  }
}

resource "aws_ssm_parameter" "door_secret" {
  #checkov:skip=CKV_AWS_337:Encrypted with the AWS-managed aws/ssm key by default (free); kms_key_arn sets a customer-managed key ($1 a month, more than the whole stopped service).
  name             = "/${var.name}/door-secret"
  description      = "The front door's origin header value (${var.name}): the controller reads it at cold start"
  type             = "SecureString"
  tier             = "Standard"
  key_id           = var.kms_key_arn
  value_wo         = terraform_data.door_secret.output
  value_wo_version = 1
  tags             = local.tags
}

resource "aws_cloudfront_distribution" "door" {
  #checkov:skip=CKV_AWS_68:A WAF web ACL costs $5 a month and more, the whole stopped service many times over; Grafana keeps its own login, and only the door reaches it.
  #checkov:skip=CKV2_AWS_47:The same: no WAF (its Log4j rule set included) on an on-demand dashboard.
  #checkov:skip=CKV_AWS_86:Access logs land in an S3 bucket the user would pay for and manage; the controller and Grafana log their own requests.
  #checkov:skip=CKV_AWS_310:Origin groups cannot carry POST, PUT or DELETE, which Grafana needs: failover is the function's (the wake page while the task is not there).
  #checkov:skip=CKV_AWS_374:Dashboards are shared with whoever the team works with, wherever they are.
  #checkov:skip=CKV2_AWS_32:Grafana sets its own security headers; a response headers policy would override them.
  #checkov:skip=CKV2_AWS_42:Without public_name the distribution's own certificate is used (https://dxxxx.cloudfront.net); with it, the name's ACM certificate.
  #checkov:skip=CKV_AWS_174:Without public_name CloudFront's default certificate is used, whose minimum protocol CloudFront sets; with it, TLSv1.2_2021.
  #checkov:skip=CKV_AWS_305:Grafana serves its own root; there is no default object to name.
  enabled         = true
  is_ipv6_enabled = true
  comment         = "${var.name}: Grafana's front door"
  aliases         = local.named ? [var.public_name] : []
  price_class     = var.price_class
  http_version    = "http2and3"

  # The controller: the API's own domain, with the door's secret (which overwrites a viewer's
  # copy; the function gives the task's origin customHeaders = {}, so the task never gets it).
  # The door's paths reach the Lambda by the API's $default route (api.tf).
  origin {
    origin_id   = "controller"
    domain_name = local.api_domain
    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
      # What the task's origin inherits too (the function sets its domain, Host, port,
      # protocol, TLS name and custom headers, none): long enough for Grafana's long queries.
      origin_read_timeout = var.origin_read_timeout
    }
    custom_header {
      name  = "x-grafana-ondemand-door"
      value = terraform_data.door_secret.output
    }
  }

  default_cache_behavior {
    target_origin_id         = "controller"
    viewer_protocol_policy   = "redirect-to-https"
    allowed_methods          = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
    cached_methods           = ["GET", "HEAD"]
    cache_policy_id          = local.caching_disabled
    origin_request_policy_id = local.all_viewer_except_host_header
    compress                 = false

    dynamic "function_association" {
      for_each = local.door_functions ? [1] : []
      content {
        event_type   = "viewer-request"
        function_arn = aws_cloudfront_function.door[0].arn
      }
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = !local.named
    acm_certificate_arn            = local.named ? aws_acm_certificate_validation.name[0].certificate_arn : null
    ssl_support_method             = local.named ? "sni-only" : null
    minimum_protocol_version       = local.named ? "TLSv1.2_2021" : "TLSv1"
  }

  tags = local.tags

  lifecycle {
    # CloudFront reaches a task only by its public DNS name, which EC2 gives only in a VPC with
    # DNS hostnames and DNS support on.
    precondition {
      condition     = data.aws_vpc.this.enable_dns_hostnames && data.aws_vpc.this.enable_dns_support
      error_message = "The VPC ${var.vpc_id} needs DNS hostnames and DNS support enabled (enable_dns_hostnames = true, enable_dns_support = true on aws_vpc; in the console: VPC > Actions > Edit VPC settings): the front door reaches the task by its public DNS name, which EC2 gives only then."
    }
  }
}

data "aws_vpc" "this" {
  id = var.vpc_id
}

# The name: an alias of the distribution, set once, never changed at run time.
resource "aws_route53_record" "name" {
  for_each        = local.named ? toset(["A", "AAAA"]) : toset([])
  zone_id         = local.zone_id
  name            = var.public_name
  type            = each.value
  allow_overwrite = true

  alias {
    name                   = aws_cloudfront_distribution.door.domain_name
    zone_id                = aws_cloudfront_distribution.door.hosted_zone_id
    evaluate_target_health = false
  }
}

# Grafana admits the door only: CloudFront's origin-facing servers (a managed prefix list that
# weighs 55 rules against the group's quota; it admits every distribution, other accounts'
# too, so Grafana's own login stays).
data "aws_ec2_managed_prefix_list" "cloudfront" {
  name = "com.amazonaws.global.cloudfront.origin-facing"
}

resource "aws_vpc_security_group_ingress_rule" "grafana_from_the_door" {
  security_group_id = aws_security_group.grafana.id
  description       = "Grafana from CloudFront's origin-facing servers (the front door)"
  prefix_list_id    = data.aws_ec2_managed_prefix_list.cloudfront.id
  from_port         = local.port
  to_port           = local.port
  ip_protocol       = "tcp"
}
