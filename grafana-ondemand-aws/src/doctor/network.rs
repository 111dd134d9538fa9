//! Where the task runs: its subnets' routes, the VPC's DNS, its security group, Grafana's file
//! system's mount targets.

use super::{Check, Doctor, Verdict, check, unreadable};
use crate::errors::map;
use aws_sdk_ec2::types::{Filter, Subnet};
use aws_sdk_ecs::types as ecs;

/// CloudFront's origin-facing servers, as a managed prefix list.
const CLOUDFRONT_PREFIX_LIST: &str = "com.amazonaws.global.cloudfront.origin-facing";

/// The service's subnets as EC2 describes them (one call, for the routes and the mount targets).
pub(super) type Subnets = Result<Vec<Subnet>, grafana_ondemand_core::Error>;

impl Doctor {
    /// The service's subnets, read once for the checks that need them.
    pub(super) async fn subnets(&self, vpc: &ecs::AwsVpcConfiguration) -> Subnets {
        self.count();
        self.ec2
            .describe_subnets()
            .set_subnet_ids(Some(vpc.subnets().to_vec()))
            .send()
            .await
            .map(|out| out.subnets().to_vec())
            .map_err(|e| map(e, "ec2:DescribeSubnets", &self.names()))
    }

    /// Each subnet's way out for the image pull, the logs and the secrets, against
    /// `assignPublicIp`: a public IP needs an internet gateway; no public IP, a NAT, or the
    /// VPC endpoints that serve them (ECR API, ECR Docker, S3, CloudWatch Logs, and SSM when
    /// the task reads its secrets there), the interface ones with private DNS on.
    pub(super) async fn routes(
        &self,
        vpc: &ecs::AwsVpcConfiguration,
        described: &Subnets,
        reads_ssm: bool,
        checks: &mut Vec<Check>,
    ) {
        let name = "the subnets reach ECR and CloudWatch Logs";
        let public = vpc.assign_public_ip() == Some(&ecs::AssignPublicIp::Enabled);
        let subnets = vpc.subnets();
        let vpc_id = match described {
            Ok(found) => found.first().and_then(|s| s.vpc_id()).map(str::to_owned),
            Err(e) => {
                checks.push(unreadable(name, e, "ec2:DescribeSubnets"));
                return;
            }
        };
        let Some(vpc_id) = vpc_id else {
            checks.push(check(
                name,
                Verdict::Fail,
                format!("subnets {} not found", subnets.join(", ")),
                Some("set subnet_ids to subnets of the VPC, and `terraform apply`"),
            ));
            return;
        };
        self.count();
        let tables = match self
            .ec2
            .describe_route_tables()
            .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
            .send()
            .await
        {
            Ok(out) => out.route_tables().to_vec(),
            Err(e) => {
                let e = map(e, "ec2:DescribeRouteTables", &self.names());
                checks.push(unreadable(name, &e, "ec2:DescribeRouteTables"));
                return;
            }
        };
        let mut missing = Vec::new();
        for subnet in subnets {
            // Its own table, or else the VPC's main one (the implicit association).
            let table = tables
                .iter()
                .find(|t| {
                    t.associations()
                        .iter()
                        .any(|a| a.subnet_id() == Some(subnet.as_str()))
                })
                .or_else(|| {
                    tables
                        .iter()
                        .find(|t| t.associations().iter().any(|a| a.main() == Some(true)))
                });
            let default_route = table.and_then(|t| {
                t.routes()
                    .iter()
                    .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            });
            let ok = default_route.is_some_and(|r| {
                if public {
                    r.gateway_id().is_some_and(|g| g.starts_with("igw-"))
                } else {
                    r.nat_gateway_id().is_some() || r.transit_gateway_id().is_some()
                }
            });
            if !ok {
                missing.push(subnet.clone());
            }
        }
        match (missing.is_empty(), public) {
            (true, true) => checks.push(check(name, Verdict::Pass, format!("public IP, and 0.0.0.0/0 to an internet gateway from {}", subnets.join(", ")), None)),
            (true, false) => checks.push(check(name, Verdict::Pass, format!("no public IP, and 0.0.0.0/0 to a NAT from {}", subnets.join(", ")), None)),
            (false, true) => checks.push(check(
                name,
                Verdict::Fail,
                format!("the task gets a public IP, but {} route 0.0.0.0/0 to no internet gateway: the image cannot be pulled, and the task never starts", missing.join(", ")),
                Some("put the service in public subnets (subnet_ids), or set assign_public_ip = false in subnets with a NAT gateway"),
            )),
            (false, false) => {
                let lacking = self.endpoints_lacking(&vpc_id, reads_ssm).await;
                match lacking {
                    Ok(lacking) if lacking.is_empty() => checks.push(check(
                        name,
                        Verdict::Pass,
                        format!("no public IP and no NAT from {}, but the VPC endpoints for ECR, S3, CloudWatch Logs{}", missing.join(", "), if reads_ssm { " and SSM" } else { "" }),
                        None,
                    )),
                    Ok(lacking) => checks.push(check(
                        name,
                        Verdict::Fail,
                        format!("the task gets no public IP, {} route 0.0.0.0/0 to no NAT, and the VPC has no {}: the image cannot be pulled (nor the logs written, nor the secrets read), and the task never starts", missing.join(", "), lacking.join(", ")),
                        Some("set assign_public_ip = true in public subnets, or add a NAT gateway, or add those VPC endpoints (interface endpoints with private DNS on; S3 a gateway endpoint on the subnets' route tables)"),
                    )),
                    Err(e) => checks.push(unreadable(name, &e, "ec2:DescribeVpcEndpoints")),
                }
            }
        }
        self.dns_names(&vpc_id, checks).await;
    }

    /// The VPC endpoints a task without a way out needs that `vpc_id` lacks (none: it has them).
    async fn endpoints_lacking(
        &self,
        vpc_id: &str,
        reads_ssm: bool,
    ) -> Result<Vec<String>, grafana_ondemand_core::Error> {
        self.count();
        let found = self
            .ec2
            .describe_vpc_endpoints()
            .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
            .send()
            .await
            .map_err(|e| map(e, "ec2:DescribeVpcEndpoints", &self.names()))?;
        let region = self.sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let mut wanted = vec!["ecr.api", "ecr.dkr", "s3", "logs"];
        if reads_ssm {
            wanted.push("ssm");
        }
        Ok(wanted
            .into_iter()
            .filter(|service| {
                let full = format!("com.amazonaws.{region}.{service}");
                !found.vpc_endpoints().iter().any(|e| {
                    let usable = e.vpc_endpoint_type()
                        == Some(&aws_sdk_ec2::types::VpcEndpointType::Gateway)
                        || e.private_dns_enabled() == Some(true);
                    e.service_name() == Some(full.as_str()) && usable
                })
            })
            .map(|s| format!("{s} endpoint"))
            .collect())
    }

    /// The front door reaches a task by its public DNS name: the VPC must give them.
    async fn dns_names(&self, vpc_id: &str, checks: &mut Vec<Check>) {
        use aws_sdk_ec2::types::VpcAttributeName;
        let name = "the VPC gives tasks DNS names";
        let mut off = Vec::new();
        for (attribute, label) in [
            (VpcAttributeName::EnableDnsHostnames, "enableDnsHostnames"),
            (VpcAttributeName::EnableDnsSupport, "enableDnsSupport"),
        ] {
            self.count();
            let out = self
                .ec2
                .describe_vpc_attribute()
                .vpc_id(vpc_id)
                .attribute(attribute)
                .send()
                .await;
            let on = match out {
                Ok(o) => o
                    .enable_dns_hostnames()
                    .or(o.enable_dns_support())
                    .and_then(|v| v.value())
                    .unwrap_or(false),
                Err(_) => false,
            };
            if !on {
                off.push(label);
            }
        }
        if off.is_empty() {
            checks.push(check(
                name,
                Verdict::Pass,
                format!("{vpc_id}: DNS hostnames and support on"),
                None,
            ));
        } else {
            checks.push(check(
                name,
                Verdict::Fail,
                format!("{vpc_id}: {} off: the front door reaches the task by its public DNS name, which it then has none of", off.join(", ")),
                Some("enable_dns_hostnames = true and enable_dns_support = true on the VPC (aws_vpc), then `terraform apply`"),
            ));
        }
    }

    /// The task's security group admits CloudFront's origin-facing servers on its port.
    pub(super) async fn door_ingress(
        &self,
        vpc: &ecs::AwsVpcConfiguration,
        port: Option<i32>,
        checks: &mut Vec<Check>,
    ) {
        let name = "the front door can reach Grafana";
        self.count();
        let list = self
            .ec2
            .describe_managed_prefix_lists()
            .filters(
                Filter::builder()
                    .name("prefix-list-name")
                    .values(CLOUDFRONT_PREFIX_LIST)
                    .build(),
            )
            .send()
            .await
            .ok()
            .and_then(|o| {
                o.prefix_lists()
                    .first()
                    .and_then(|p| p.prefix_list_id())
                    .map(str::to_owned)
            });
        self.count();
        let groups = self
            .ec2
            .describe_security_groups()
            .set_group_ids(Some(vpc.security_groups().to_vec()))
            .send()
            .await
            .map_err(|e| map(e, "ec2:DescribeSecurityGroups", &self.names()));
        let groups = match groups {
            Ok(out) => out.security_groups().to_vec(),
            Err(e) => {
                checks.push(unreadable(name, &e, "ec2:DescribeSecurityGroups"));
                return;
            }
        };
        let admitted: Vec<i32> = groups
            .iter()
            .flat_map(|g| g.ip_permissions())
            .filter(|p| {
                p.prefix_list_ids()
                    .iter()
                    .any(|l| l.prefix_list_id().is_some() && l.prefix_list_id() == list.as_deref())
            })
            .filter_map(|p| p.from_port())
            .collect();
        let ok = match port {
            Some(port) => admitted.contains(&port),
            None => !admitted.is_empty(),
        };
        if ok {
            checks.push(check(
                name,
                Verdict::Pass,
                format!("{CLOUDFRONT_PREFIX_LIST} admitted on {admitted:?}"),
                None,
            ));
        } else {
            checks.push(check(
                name,
                Verdict::Fail,
                format!("no rule of {} admits {CLOUDFRONT_PREFIX_LIST}{}: the door's requests to Grafana time out", vpc.security_groups().join(", "), port.map(|p| format!(" on port {p}")).unwrap_or_default()),
                Some("the module adds that rule (grafana_from_the_door): `terraform apply` puts it back"),
            ));
        }
        self.caller(&groups, port, checks).await;
    }

    /// With `allowed_cidrs` (rules of address ranges on Grafana's port), whether the caller's
    /// own public address is in one of them: who set them means to reach Grafana directly.
    async fn caller(
        &self,
        groups: &[aws_sdk_ec2::types::SecurityGroup],
        port: Option<i32>,
        checks: &mut Vec<Check>,
    ) {
        let name = "your own address may reach Grafana directly";
        let ranges: Vec<String> = groups
            .iter()
            .flat_map(|g| g.ip_permissions())
            .filter(|p| {
                p.ip_protocol() == Some("-1")
                    || port.is_none_or(|port| {
                        p.from_port().unwrap_or(0) <= port && p.to_port().unwrap_or(0) >= port
                    })
            })
            .flat_map(|p| {
                p.ip_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ip())
                    .chain(p.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6()))
            })
            .map(str::to_owned)
            .collect();
        if ranges.is_empty() {
            return; // Only the door reaches Grafana: nobody's own address is meant to.
        }
        let address = match self.caller_address().await {
            Ok(a) => a,
            Err(why) => {
                checks.push(check(
                    name,
                    Verdict::Warn,
                    format!("allowed_cidrs is set ({}), but your public address could not be learnt from {}: {why}", ranges.join(", "), self.checkip),
                    None,
                ));
                return;
            }
        };
        if ranges.iter().any(|r| cidr_contains(r, address)) {
            checks.push(check(
                name,
                Verdict::Pass,
                format!("{address} is in allowed_cidrs ({})", ranges.join(", ")),
                None,
            ));
        } else {
            let (list, bits) = if address.is_ipv4() {
                ("allowed_cidrs", 32)
            } else {
                ("allowed_ipv6_cidrs", 128)
            };
            checks.push(check(
                name,
                Verdict::Warn,
                format!(
                    "your public address {address} is in none of {}: from here, only the front door reaches Grafana",
                    ranges.join(", ")
                ),
                Some(&format!(
                    "add \"{address}/{bits}\" to {list} and `terraform apply` (or reach Grafana through the front door only, and leave it)"
                )),
            ));
        }
    }

    /// The caller's public address, as AWS's checkip service sees it (one line, the address).
    async fn caller_address(&self) -> Result<std::net::IpAddr, String> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        let body = client
            .get(&self.checkip)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        let line = body.trim();
        line.parse().map_err(|_| {
            format!(
                "it answered {:?}, not an address",
                line.chars().take(60).collect::<String>()
            )
        })
    }

    /// A mount target of the file system in every zone the task may run in, each admitting
    /// the task's security group on NFS (2049): else the task fails to mount and never runs.
    pub(super) async fn mount_targets(
        &self,
        vpc: &ecs::AwsVpcConfiguration,
        described: &Subnets,
        fs: &str,
        checks: &mut Vec<Check>,
    ) {
        let name = "Grafana's file system is mountable from every subnet";
        let zones: Vec<(String, String)> = match described {
            Ok(found) => found
                .iter()
                .filter_map(|s| {
                    Some((s.subnet_id()?.to_owned(), s.availability_zone()?.to_owned()))
                })
                .collect(),
            Err(e) => {
                checks.push(unreadable(name, e, "ec2:DescribeSubnets"));
                return;
            }
        };
        self.count();
        let targets = match self
            .efs
            .describe_mount_targets()
            .file_system_id(fs)
            .send()
            .await
        {
            Ok(out) => out.mount_targets().to_vec(),
            Err(e) => {
                let e = map(e, "elasticfilesystem:DescribeMountTargets", &self.names());
                checks.push(unreadable(
                    name,
                    &e,
                    "elasticfilesystem:DescribeMountTargets",
                ));
                return;
            }
        };
        let mut problems = Vec::new();
        let mut target_groups = Vec::new();
        for (subnet, zone) in &zones {
            match targets
                .iter()
                .find(|t| t.availability_zone_name() == Some(zone.as_str()))
            {
                None => problems.push(format!("no mount target in {zone} (subnet {subnet})")),
                Some(t) => {
                    let id = t.mount_target_id().to_owned();
                    if target_groups.iter().any(|(m, _)| m == &id) {
                        continue;
                    }
                    self.count();
                    let groups = self
                        .efs
                        .describe_mount_target_security_groups()
                        .mount_target_id(&id)
                        .send()
                        .await
                        .map(|o| o.security_groups().to_vec())
                        .unwrap_or_default();
                    target_groups.push((id, groups));
                }
            }
        }
        let mut all: Vec<String> = target_groups.iter().flat_map(|(_, g)| g.clone()).collect();
        all.sort();
        all.dedup();
        if !all.is_empty() {
            self.count();
            let rules = match self
                .ec2
                .describe_security_groups()
                .set_group_ids(Some(all))
                .send()
                .await
            {
                Ok(o) => o.security_groups().to_vec(),
                Err(e) => {
                    let e = map(e, "ec2:DescribeSecurityGroups", &self.names());
                    checks.push(unreadable(name, &e, "ec2:DescribeSecurityGroups"));
                    return;
                }
            };
            for (target, groups) in &target_groups {
                let admits = rules
                    .iter()
                    .filter(|g| {
                        g.group_id()
                            .is_some_and(|id| groups.iter().any(|x| x == id))
                    })
                    .flat_map(|g| g.ip_permissions())
                    .any(|p| {
                        let nfs = p.ip_protocol() == Some("-1")
                            || (p.from_port().unwrap_or(0) <= 2049
                                && p.to_port().unwrap_or(0) >= 2049);
                        nfs && p.user_id_group_pairs().iter().any(|pair| {
                            pair.group_id()
                                .is_some_and(|g| vpc.security_groups().iter().any(|t| t == g))
                        })
                    });
                if !admits {
                    problems.push(format!("mount target {target} does not admit the task's security group on NFS (2049)"));
                }
            }
        }
        if problems.is_empty() {
            checks.push(check(
                name,
                Verdict::Pass,
                format!("{fs}: a mount target in each zone, admitting the task"),
                None,
            ));
        } else {
            checks.push(check(
                name,
                Verdict::Fail,
                format!("{fs}: {}: the task cannot mount Grafana's data, and never runs", problems.join("; ")),
                Some("the module makes one mount target per subnet (subnet_ids) with an NFS rule from the task: `terraform apply` puts them back"),
            ));
        }
    }
}

/// Whether the CIDR block `cidr` (`203.0.113.0/24`, `2001:db8::/32`) holds `address`; a
/// malformed block holds nothing.
fn cidr_contains(cidr: &str, address: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    let Some((base, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(base), Ok(bits)) = (base.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (base, address) {
        (IpAddr::V4(b), IpAddr::V4(a)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(b) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(b), IpAddr::V6(a)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(b) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::cidr_contains;

    #[test]
    fn cidr_blocks_hold_their_addresses_only() {
        let at = |s: &str| s.parse().unwrap();
        assert!(cidr_contains("203.0.113.0/24", at("203.0.113.250")));
        assert!(!cidr_contains("203.0.113.0/24", at("203.0.114.1")));
        assert!(cidr_contains("198.51.100.7/32", at("198.51.100.7")));
        assert!(!cidr_contains("198.51.100.7/32", at("198.51.100.8")));
        assert!(cidr_contains("0.0.0.0/0", at("192.0.2.1")));
        assert!(cidr_contains("2001:db8::/32", at("2001:db8:1::5")));
        assert!(!cidr_contains("2001:db8::/32", at("203.0.113.1")));
        assert!(!cidr_contains("203.0.113.0/33", at("203.0.113.1")));
        assert!(!cidr_contains("nonsense", at("203.0.113.1")));
    }
}
