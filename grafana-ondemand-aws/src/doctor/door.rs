//! The front door: its entry against the service, its certificate (ACM's), and the CAA
//! records that decide whether the name's two certificates can be issued.

use super::{Check, Doctor, Verdict, check, unreadable};
use crate::errors::map;
use aws_sdk_ecs::types as ecs;
use grafana_ondemand_core::{DOOR_KEY, DoorEntry, DoorState, Platform};

impl Doctor {
    /// The door's entry routes where the service is: asleep when stopped.
    pub(super) async fn entry(&self, service: &ecs::Service, store: &str, checks: &mut Vec<Check>) {
        let name = "the front door's entry agrees with the service";
        self.count();
        self.count();
        let read = self.platform.door_entry(store, DOOR_KEY).await;
        let entry = match read {
            Ok(e) => e.value.as_deref().and_then(DoorEntry::parse),
            Err(e) => {
                checks.push(unreadable(
                    name,
                    &e,
                    "cloudfront-keyvaluestore:DescribeKeyValueStore and GetKey on the store",
                ));
                return;
            }
        };
        let wanted = service.desired_count() > 0;
        match entry {
            Some(e) if !wanted && e.state == DoorState::Asleep => checks.push(check(name, Verdict::Pass, format!("asleep (generation {})", e.generation), None)),
            Some(e) if wanted => checks.push(check(name, Verdict::Pass, format!("{:?} (generation {}) while Grafana is asked for", e.state, e.generation), None)),
            other => checks.push(check(
                name,
                Verdict::Fail,
                format!("the entry is {} while the service's desired count is {}", other.map(|e| format!("{:?}", e.state)).unwrap_or_else(|| "missing or unreadable".into()), service.desired_count()),
                Some("any status puts it right (`status`); if it stays wrong, the controller's role may not write the store (cloudfront-keyvaluestore:PutKey)"),
            )),
        }
    }

    /// The CAA record set that governs `name` (the closest of it and its parents in its
    /// hosted zone, as a certificate authority reads them, RFC 8659) allows both authorities
    /// the name needs: Amazon (ACM, the door's certificate) and Let's Encrypt (lego, Grafana's
    /// own). The module checks this at plan time; a record added since breaks the next renewal.
    pub(super) async fn caa(&self, name: &str, zone: &str, checks: &mut Vec<Check>) {
        let check_name = "the name's CAA records allow its certificates";
        let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
        let chain: Vec<String> = (0..labels.len().saturating_sub(1))
            .map(|i| labels[i..].join(".").to_lowercase())
            .collect();
        let mut sets: Vec<(String, Vec<String>)> = Vec::new();
        let mut next: Option<(String, Option<aws_sdk_route53::types::RrType>)> = None;
        // A zone lists in pages of 300: a few pages at most before the name's records.
        for _ in 0..5 {
            self.count();
            let mut ask = self
                .route53
                .list_resource_record_sets()
                .hosted_zone_id(zone);
            if let Some((n, t)) = &next {
                ask = ask.start_record_name(n).set_start_record_type(t.clone());
            }
            let out = match ask.send().await {
                Ok(o) => o,
                Err(e) => {
                    let e = map(e, "route53:ListResourceRecordSets", &self.names());
                    checks.push(unreadable(
                        check_name,
                        &e,
                        "route53:ListResourceRecordSets on the hosted zone",
                    ));
                    return;
                }
            };
            for r in out.resource_record_sets() {
                if r.r#type() == &aws_sdk_route53::types::RrType::Caa {
                    sets.push((
                        r.name().trim_end_matches('.').to_lowercase(),
                        r.resource_records()
                            .iter()
                            .map(|v| v.value().to_owned())
                            .collect(),
                    ));
                }
            }
            match (out.is_truncated(), out.next_record_name()) {
                (true, Some(n)) => next = Some((n.to_owned(), out.next_record_type().cloned())),
                _ => break,
            }
        }
        let closest = chain.iter().find_map(|n| sets.iter().find(|(s, _)| s == n));
        match closest {
            None => checks.push(check(
                check_name,
                Verdict::Pass,
                format!("no CAA records over {name} in {zone}: any authority may issue"),
                None,
            )),
            Some((at, values)) if caa_allows_both(values) => checks.push(check(
                check_name,
                Verdict::Pass,
                format!("{at}: {}", values.join(", ")),
                None,
            )),
            Some((at, values)) => checks.push(check(
                check_name,
                Verdict::Fail,
                format!(
                    "the CAA records of {at} ({}) do not allow both authorities {name} needs: its certificates cannot be renewed",
                    values.join(", ")
                ),
                Some(&format!(
                    "add 0 issue \"amazon.com\" (ACM, the front door's certificate) and 0 issue \"letsencrypt.org\" (Grafana's own) to the CAA records of {at} in hosted zone {zone}, or remove them"
                )),
            )),
        }
    }
    /// The door's certificate (ACM, in us-east-1 as CloudFront wants it) is issued for the
    /// name, and ACM can renew it: DNS-validated, it renews 60 days before it expires, as long
    /// as its validation record stays and the CAA records allow Amazon.
    pub(super) async fn certificate(&self, arn: &str, name: &str, checks: &mut Vec<Check>) {
        use aws_sdk_acm::types::{CertificateStatus, RenewalStatus};
        let check_name = "the front door's certificate is valid";
        self.count();
        let cert = match self
            .acm(arn)
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
        {
            Ok(o) => o.certificate().cloned(),
            Err(e) => {
                let missing = e
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception());
                if missing {
                    checks.push(check(
                        check_name,
                        Verdict::Fail,
                        format!("{arn} does not exist: the door serves no certificate for {name}"),
                        Some("`terraform apply` requests it again (the module's aws_acm_certificate.name)"),
                    ));
                } else {
                    let e = map(e, "acm:DescribeCertificate", &self.names());
                    checks.push(unreadable(
                        check_name,
                        &e,
                        "acm:DescribeCertificate on the certificate",
                    ));
                }
                return;
            }
        };
        let Some(cert) = cert else { return };
        let covers = cert.domain_name() == Some(name)
            || cert.subject_alternative_names().iter().any(|n| n == name);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        let days_left = cert.not_after().map(|t| (t.secs() - now) / 86_400);
        let renewal = cert.renewal_summary().filter(|r| {
            matches!(
                r.renewal_status(),
                RenewalStatus::Failed | RenewalStatus::PendingValidation
            )
        });
        let validation = "its DNS validation record (the CNAME the module writes in the hosted zone) must stay, and the CAA records allow Amazon: `terraform apply` puts the record back";
        let (verdict, detail, fix) = if cert.status() != Some(&CertificateStatus::Issued) {
            let reason = cert
                .failure_reason()
                .map(|r| format!(" ({})", r.as_str()))
                .unwrap_or_default();
            (
                Verdict::Fail,
                format!(
                    "{arn} is {}{reason}, not ISSUED: the door cannot serve {name}",
                    cert.status().map(|s| s.as_str()).unwrap_or("of no status")
                ),
                Some(validation),
            )
        } else if !covers {
            (
                Verdict::Fail,
                format!(
                    "{arn} is for {}, not {name}",
                    cert.domain_name().unwrap_or("another name")
                ),
                Some("`terraform apply` requests one for public_name"),
            )
        } else if let Some(r) = renewal {
            let reason = r
                .renewal_status_reason()
                .map(|r| format!(" ({})", r.as_str()))
                .unwrap_or_default();
            (
                Verdict::Fail,
                format!(
                    "ACM cannot renew it: its renewal is {}{reason}, {} days before it expires",
                    r.renewal_status().as_str(),
                    days_left.unwrap_or_default()
                ),
                Some(validation),
            )
        } else if let Some(days) = days_left.filter(|d| *d < 30) {
            (
                Verdict::Warn,
                format!(
                    "it expires in {days} days, and ACM renews 60 days ahead: its renewal has not happened"
                ),
                Some(validation),
            )
        } else {
            (
                Verdict::Pass,
                format!(
                    "ISSUED for {name}{}",
                    days_left
                        .map(|d| format!(", {d} days left"))
                        .unwrap_or_default()
                ),
                None,
            )
        };
        checks.push(check(check_name, verdict, detail, fix));
    }

    /// ACM in the certificate's region (us-east-1 for CloudFront's).
    fn acm(&self, arn: &str) -> aws_sdk_acm::Client {
        let region = arn.split(':').nth(3).unwrap_or("us-east-1").to_owned();
        aws_sdk_acm::Client::from_conf(
            aws_sdk_acm::config::Builder::from(&self.sdk)
                .region(aws_sdk_acm::config::Region::new(region))
                .build(),
        )
    }
}

/// Whether a CAA record set (Route 53's values, `0 issue "letsencrypt.org; …"`) lets both
/// Amazon and Let's Encrypt issue for a name that is not a wildcard; the module's rule.
fn caa_allows_both(values: &[String]) -> bool {
    let issuers: Vec<String> = values
        .iter()
        .filter_map(|v| {
            let mut parts = v.trim().splitn(3, char::is_whitespace);
            let (_flags, tag, value) = (parts.next()?, parts.next()?, parts.next()?);
            tag.eq_ignore_ascii_case("issue").then(|| {
                let value = value.trim().trim_matches('"');
                value
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_lowercase()
            })
        })
        .collect();
    let amazon = [
        "amazon.com",
        "amazontrust.com",
        "awstrust.com",
        "amazonaws.com",
    ];
    issuers.is_empty()
        || (issuers.iter().any(|i| amazon.contains(&i.as_str()))
            && issuers.iter().any(|i| i == "letsencrypt.org"))
}

#[cfg(test)]
mod tests {
    use super::caa_allows_both;

    fn set(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn a_caa_set_must_allow_amazon_and_lets_encrypt() {
        assert!(caa_allows_both(&set(&[])));
        assert!(caa_allows_both(&set(&[
            r#"0 iodef "mailto:ops@example.com""#
        ])));
        assert!(caa_allows_both(&set(&[
            r#"0 issue "amazon.com""#,
            r#"0 issue "letsencrypt.org; validationmethods=dns-01""#
        ])));
        assert!(caa_allows_both(&set(&[
            r#"0 issue "AmazonTrust.com""#,
            r#"128 issue "letsencrypt.org""#
        ])));
        assert!(!caa_allows_both(&set(&[r#"0 issue "letsencrypt.org""#])));
        assert!(!caa_allows_both(&set(&[r#"0 issue "amazon.com""#])));
        assert!(!caa_allows_both(&set(&[r#"0 issue ";""#])));
        assert!(!caa_allows_both(&set(&[
            r#"0 issuewild "letsencrypt.org""#,
            r#"0 issue "digicert.com""#
        ])));
    }
}
