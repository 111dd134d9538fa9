resource "aws_security_group" "grafana" {
  name_prefix = "${var.name}-task-"
  description = "Grafana task: its port from allowed_cidrs only"
  vpc_id      = var.vpc_id
  tags        = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "grafana_ipv4" {
  for_each          = toset(var.allowed_cidrs)
  security_group_id = aws_security_group.grafana.id
  description       = "Grafana from ${each.value}"
  cidr_ipv4         = each.value
  from_port         = local.port
  to_port           = local.port
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "grafana_ipv6" {
  for_each          = toset(var.allowed_ipv6_cidrs)
  security_group_id = aws_security_group.grafana.id
  description       = "Grafana from ${each.value}"
  cidr_ipv6         = each.value
  from_port         = local.port
  to_port           = local.port
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "grafana_https" {
  security_group_id = aws_security_group.grafana.id
  description       = "HTTPS out: image pull, CloudWatch, Secrets Manager, Grafana plugins"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

# The ACME client checks that its challenge record is visible on the zone's name servers
# before asking for the certificate: DNS out, only with a name.
resource "aws_vpc_security_group_egress_rule" "grafana_dns" {
  for_each          = local.named ? toset(["udp", "tcp"]) : toset([])
  security_group_id = aws_security_group.grafana.id
  description       = "DNS out (${each.value}): the ACME challenge's propagation check"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 53
  to_port           = 53
  ip_protocol       = each.value
}

resource "aws_vpc_security_group_egress_rule" "grafana_efs" {
  count                        = var.persistent_storage ? 1 : 0
  security_group_id            = aws_security_group.grafana.id
  description                  = "NFS to Grafana's EFS"
  referenced_security_group_id = aws_security_group.efs[0].id
  from_port                    = 2049
  to_port                      = 2049
  ip_protocol                  = "tcp"
}

resource "aws_security_group" "efs" {
  count       = var.persistent_storage ? 1 : 0
  name_prefix = "${var.name}-efs-"
  description = "Grafana's EFS: NFS from the Grafana task only"
  vpc_id      = var.vpc_id
  tags        = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_task" {
  count                        = var.persistent_storage ? 1 : 0
  security_group_id            = aws_security_group.efs[0].id
  description                  = "NFS from the Grafana task"
  referenced_security_group_id = aws_security_group.grafana.id
  from_port                    = 2049
  to_port                      = 2049
  ip_protocol                  = "tcp"
}
