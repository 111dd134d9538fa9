# ---------------------------------------------------------------------------------------
# The name while Grafana sleeps: an alias of the API's custom domain for the same name, so a
# bookmark or a shared dashboard link reaches the controller, which serves the wake page
# (nothing runs, nothing is billed but the request). Once Grafana answers, the controller
# makes the name an A record of the task; when it stops, the alias again.
#
# Two certificate authorities issue for the name: Amazon (ACM, the custom domain's
# certificate) and Let's Encrypt (lego, Grafana's own on the task). A CAA record set in the
# zone must allow both, or one of them refuses: checked at plan time.

locals {
  # The name and its parents within the zone: a CA reads the CAA set of the closest of them
  # that has one (RFC 8659).
  name_labels = split(".", coalesce(var.public_name, "none.invalid"))
  caa_names   = [for i in range(length(local.name_labels) - 1) : join(".", slice(local.name_labels, i, length(local.name_labels)))]
  caa_sets = local.named ? {
    for r in data.aws_route53_records.caa[0].resource_record_sets :
    lower(trimsuffix(r.name, ".")) => [for v in r.resource_records : v.value] if r.type == "CAA"
  } : {}
  caa_closest = try([for n in local.caa_names : local.caa_sets[n] if contains(keys(local.caa_sets), n)][0], [])
  # The `issue` properties of that set ("0 issue \"letsencrypt.org; validationmethods=dns-01\""):
  # the issuers allowed for a name that is not a wildcard.
  caa_issuers = [
    for v in local.caa_closest : lower(trimspace(regex("^[0-9]+\\s+issue\\s+\"([^\";]*)", v)[0]))
    if can(regex("^[0-9]+\\s+issue\\s+\"", v))
  ]
  # ACM accepts any of Amazon's four names.
  caa_allows_amazon = length(setintersection(local.caa_issuers, ["amazon.com", "amazontrust.com", "awstrust.com", "amazonaws.com"])) > 0
  caa_allows_both   = length(local.caa_issuers) == 0 || (local.caa_allows_amazon && contains(local.caa_issuers, "letsencrypt.org"))
  wake_target       = local.named ? aws_apigatewayv2_domain_name.name[0].domain_name_configuration[0] : null
}

data "aws_route53_records" "caa" {
  count      = local.named ? 1 : 0
  zone_id    = local.zone_id
  name_regex = "^(${join("|", [for n in local.caa_names : replace(n, ".", "\\.")])})\\.?$"
}

resource "aws_acm_certificate" "name" {
  count             = local.named ? 1 : 0
  domain_name       = var.public_name
  validation_method = "DNS"
  tags              = local.tags

  lifecycle {
    create_before_destroy = true
    precondition {
      condition     = local.caa_allows_both
      error_message = "The CAA records that govern ${coalesce(var.public_name, "the name")} in hosted zone ${local.zone_id} (${join(", ", local.caa_closest)}) do not allow both certificate authorities it needs: add 0 issue \"amazon.com\" (ACM, the wake page's custom domain) and 0 issue \"letsencrypt.org\" (lego, Grafana's own certificate) to them, or remove them."
    }
  }
}

# ACM's DNS validation, in the same zone: the certificate is issued within minutes, and renewed
# by ACM as long as the record stays.
resource "aws_route53_record" "certificate_validation" {
  for_each = local.named ? {
    for o in aws_acm_certificate.name[0].domain_validation_options : o.domain_name => o
  } : {}
  zone_id         = local.zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "name" {
  count                   = local.named ? 1 : 0
  certificate_arn         = aws_acm_certificate.name[0].arn
  validation_record_fqdns = [for r in aws_route53_record.certificate_validation : r.fqdn]
}

# The API at the name itself: API Gateway custom domains cost nothing.
resource "aws_apigatewayv2_domain_name" "name" {
  count       = local.named ? 1 : 0
  domain_name = var.public_name

  domain_name_configuration {
    certificate_arn = aws_acm_certificate_validation.name[0].certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }

  tags = local.tags
}

resource "aws_apigatewayv2_api_mapping" "name" {
  count       = local.named ? 1 : 0
  api_id      = aws_apigatewayv2_api.this.id
  domain_name = aws_apigatewayv2_domain_name.name[0].id
  stage       = aws_apigatewayv2_stage.default.id
}

# Every path at the name goes to the controller (a dashboard link is any path).
resource "aws_apigatewayv2_route" "name" {
  #checkov:skip=CKV_AWS_309:The wake page is served to anyone who opens the name (a person with a bookmark has no token yet); it starts nothing: waking takes the token in token mode, and with api_auth = "iam" the wake page cannot sign, so that mode keeps the name's routes unauthenticated too and its POSTs need SigV4.
  count              = local.named ? 1 : 0
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "$default"
  target             = "integrations/${aws_apigatewayv2_integration.controller.id}"
  authorization_type = "NONE"
}

resource "aws_lambda_permission" "name" {
  count         = local.named ? 1 : 0
  statement_id  = "AllowHttpApiInvokeAtTheName"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.controller.function_name
  principal     = "apigateway.amazonaws.com"
  # The $default route's invocations are named by the route key, not a method and a path.
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/*/$default"
}

# The name as it starts: asleep. From then on the controller owns it (the task's address
# while Grafana answers, this alias otherwise): Terraform creates it, takes over a record an
# older version parked, ignores what the controller does, and deletes whatever it is at
# destroy.
resource "aws_route53_record" "name" {
  count           = local.named ? 1 : 0
  zone_id         = local.zone_id
  name            = var.public_name
  type            = "A"
  allow_overwrite = true

  alias {
    name                   = local.wake_target.target_domain_name
    zone_id                = local.wake_target.hosted_zone_id
    evaluate_target_health = false
  }

  lifecycle {
    ignore_changes = all
  }

  depends_on = [aws_apigatewayv2_api_mapping.name]
}
