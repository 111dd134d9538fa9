# ---------------------------------------------------------------------------------------
# The name's certificates. Two certificate authorities issue for it: Amazon (ACM, the front
# door's certificate, in us-east-1 as CloudFront wants it) and Let's Encrypt (lego, Grafana's
# own on the task, which CloudFront checks when it talks HTTPS to the task). A CAA record set
# in the zone must allow both, or one of them refuses: checked at plan time.

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
}

data "aws_route53_records" "caa" {
  count      = local.named ? 1 : 0
  zone_id    = local.zone_id
  name_regex = "^(${join("|", [for n in local.caa_names : replace(n, ".", "\\.")])})\\.?$"
}

resource "aws_acm_certificate" "name" {
  provider          = aws.us_east_1
  count             = local.named ? 1 : 0
  domain_name       = var.public_name
  validation_method = "DNS"
  tags              = local.tags

  lifecycle {
    create_before_destroy = true
    precondition {
      condition     = local.caa_allows_both
      error_message = "The CAA records that govern ${coalesce(var.public_name, "the name")} in hosted zone ${local.zone_id} (${join(", ", local.caa_closest)}) do not allow both certificate authorities it needs: add 0 issue \"amazon.com\" (ACM, the front door's certificate) and 0 issue \"letsencrypt.org\" (lego, Grafana's own certificate) to them, or remove them."
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
  provider                = aws.us_east_1
  count                   = local.named ? 1 : 0
  certificate_arn         = aws_acm_certificate.name[0].arn
  validation_record_fqdns = [for r in aws_route53_record.certificate_validation : r.fqdn]
}
