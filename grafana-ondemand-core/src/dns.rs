//! A private name for the service: the Route 53 record that follows the serving task.
//!
//! A name people reach from the internet is the front door's ([`crate::FrontDoor`]): an alias
//! of a CloudFront distribution that never moves. Where the name must stay private (tasks
//! without a public IP, reached over a VPN or peering), this record follows the task instead:
//! an A record (and AAAA when the task has IPv6) with a short TTL once Grafana answers, and
//! while nothing serves, *parked* on an address nobody is ever given; there is no wake page
//! at such a name. Browsers notice the change only when their cached answer expires (Chromium
//! keeps one at least 60 s). Never deleted: a deleted name is cached as nonexistent by
//! resolvers for the zone's negative TTL (15 minutes with Route 53's default SOA).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};

/// Where a sleeping service's private name points: 192.0.2.1, in TEST-NET-1
/// (RFC 5737), reserved for documentation and never given to anyone, so the name never leads
/// to someone else's host.
pub const PARKED: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// The TTL of the record unless configured: short, so that a start is seen within seconds.
pub const DEFAULT_TTL: u32 = 30;

/// The Route 53 hosted zone a service's public name lives in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostedZone {
    /// The hosted zone id (`Z…`).
    pub zone_id: String,
    /// The TTL, in seconds, of the task's address records.
    pub ttl: u32,
}

impl HostedZone {
    /// The zone in `DNS_ZONE_ID` with the TTL in `DNS_TTL` (default 30 s), or `None` when no
    /// zone is configured. `DNS_ASLEEP_TARGET` (the wake page's alias, which the controller
    /// switched at run time) is refused: the wake page is the front door's now.
    pub fn from_env() -> Result<Option<Self>> {
        use crate::env::setting as var;
        let Some(zone_id) = var("DNS_ZONE_ID") else {
            return Ok(None);
        };
        let zone_id = zone_id_of("DNS_ZONE_ID", &zone_id)?;
        let ttl = match var("DNS_TTL") {
            None => DEFAULT_TTL,
            Some(v) => v
                .parse()
                .ok()
                .filter(|t| (1..=86_400).contains(t))
                .ok_or_else(|| {
                    Error::invalid_config(
                        "DNS_TTL",
                        format!("`{v}` is not seconds from 1 to 86400"),
                    )
                })?,
        };
        if let Some(setting) = ["DNS_ASLEEP_TARGET", "DNS_ASLEEP_TARGET_ZONE_ID"]
            .into_iter()
            .find(|v| var(v).is_some())
        {
            return Err(Error::invalid_config(
                setting,
                "is no longer read: the name no longer switches between the wake page and the task. Deploy the front door (DOOR_KVS_ARN, the module's CloudFront distribution) for a public name, or unset it to keep a private name's record that follows the task",
            ));
        }
        Ok(Some(HostedZone { zone_id, ttl }))
    }

    /// The record sets the name should have for `target`, A first.
    pub fn records(&self, target: &RecordTarget) -> Vec<NameRecord> {
        match target {
            RecordTarget::Asleep => vec![NameRecord::address(IpAddr::V4(PARKED), self.ttl)],
            RecordTarget::Task { v4, v6 } => [v4, v6]
                .into_iter()
                .flatten()
                .map(|ip| NameRecord::address(*ip, self.ttl))
                .collect(),
        }
    }
}

/// A Route 53 hosted zone id from configuration, without the `/hostedzone/` prefix.
fn zone_id_of(setting: &str, given: &str) -> Result<String> {
    let id = given.trim_start_matches("/hostedzone/").to_owned();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::invalid_config(
            setting,
            format!("`{id}` is not a Route 53 hosted zone id (such as Z0123456789ABC)"),
        ));
    }
    Ok(id)
}

/// The two record types a name may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RecordType {
    /// An IPv4 address.
    A,
    /// An IPv6 address.
    #[serde(rename = "AAAA")]
    Aaaa,
}

impl RecordType {
    /// Route 53's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
        }
    }

    /// The type that holds this address.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => RecordType::A,
            IpAddr::V6(_) => RecordType::Aaaa,
        }
    }
}

/// Where an alias record leads resolvers: another AWS resource's name (an API Gateway
/// custom domain's), which answers with its own addresses and its own TTL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AliasTarget {
    /// The target's DNS name as Route 53 stores it: lowercase, with the trailing dot.
    pub dns_name: String,
    /// The hosted zone the target belongs to (API Gateway's regional zone, for a custom
    /// domain).
    pub hosted_zone_id: String,
}

impl AliasTarget {
    /// An alias to `dns_name` in `hosted_zone_id`, the name stored as Route 53 compares it.
    pub fn new(dns_name: &str, hosted_zone_id: &str) -> Self {
        AliasTarget {
            dns_name: fqdn(dns_name),
            hosted_zone_id: hosted_zone_id.trim_start_matches("/hostedzone/").to_owned(),
        }
    }
}

/// One record set of the name (A or AAAA): one address with its TTL, or an alias.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NameRecord {
    /// A plain record set: this address, kept `ttl` seconds by resolvers.
    Address {
        /// The address.
        value: IpAddr,
        /// Its TTL in seconds.
        ttl: u32,
    },
    /// An alias record set of this type (no TTL of its own: resolvers keep the target's).
    Alias {
        /// A or AAAA.
        kind: RecordType,
        /// What it leads to.
        target: AliasTarget,
    },
}

impl NameRecord {
    /// A plain record set holding `value`.
    pub fn address(value: IpAddr, ttl: u32) -> Self {
        NameRecord::Address { value, ttl }
    }

    /// A or AAAA.
    pub fn kind(&self) -> RecordType {
        match self {
            NameRecord::Address { value, .. } => RecordType::of(*value),
            NameRecord::Alias { kind, .. } => *kind,
        }
    }

    /// Whether it is an alias.
    pub fn is_alias(&self) -> bool {
        matches!(self, NameRecord::Alias { .. })
    }

    /// The address of a plain record set.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            NameRecord::Address { value, .. } => Some(*value),
            NameRecord::Alias { .. } => None,
        }
    }
}

/// One change of a Route 53 change batch on the name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordChange {
    /// Create or replace the record set of this type.
    Upsert(NameRecord),
    /// Create the record set; refused if one of its type exists.
    Create(NameRecord),
    /// Delete this record set: Route 53 deletes only an exact match (type, TTL and value, or
    /// alias target).
    Delete(NameRecord),
}

impl RecordChange {
    /// The record set it is about.
    pub fn record(&self) -> &NameRecord {
        match self {
            RecordChange::Upsert(r) | RecordChange::Create(r) | RecordChange::Delete(r) => r,
        }
    }

    /// Route 53's action: `UPSERT`, `CREATE` or `DELETE`.
    pub fn action(&self) -> &'static str {
        match self {
            RecordChange::Upsert(_) => "UPSERT",
            RecordChange::Create(_) => "CREATE",
            RecordChange::Delete(_) => "DELETE",
        }
    }
}

/// Where the name should point: the serving task's addresses, or asleep (the wake page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordTarget {
    /// Nothing serves: the wake page's alias, or the parked address.
    Asleep,
    /// The task that serves, by its addresses.
    Task {
        /// The IPv4 address users reach.
        v4: Option<IpAddr>,
        /// The IPv6 address, when the task has one.
        v6: Option<IpAddr>,
    },
}

/// The changes that turn the record sets `current` into those `wanted`, in one batch
/// (Route 53 applies a batch whole or not at all), deletions first; empty when nothing
/// differs. A record set that changes between an alias and a plain one is deleted and created
/// in the batch, never upserted across the two kinds.
pub fn changes(current: &[NameRecord], wanted: &[NameRecord]) -> Vec<RecordChange> {
    let mut deletes = Vec::new();
    let mut writes = Vec::new();
    for w in wanted {
        match current.iter().find(|c| c.kind() == w.kind()) {
            Some(c) if c == w => {}
            Some(c) if c.is_alias() != w.is_alias() => {
                deletes.push(RecordChange::Delete(c.clone()));
                writes.push(RecordChange::Create(w.clone()));
            }
            _ => writes.push(RecordChange::Upsert(w.clone())),
        }
    }
    for old in current {
        if !wanted.iter().any(|w| w.kind() == old.kind()) {
            deletes.push(RecordChange::Delete(old.clone()));
        }
    }
    deletes.extend(writes);
    deletes
}

/// A name as Route 53 stores and compares it: lowercase, with the trailing dot.
pub fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.').to_ascii_lowercase())
}

/// Checks a public name: a lowercase DNS name of at least two labels (no trailing dot, no
/// scheme, no port), as it goes into a URL and a certificate.
pub fn check_name(name: &str) -> std::result::Result<String, String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if name.len() > 253 || name.split('.').count() < 2 || !name.split('.').all(label_ok) {
        return Err(format!(
            "`{name}` is not a DNS name such as grafana.example.com (no scheme, port or path)"
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ip: &str) -> NameRecord {
        NameRecord::address(ip.parse().unwrap(), 30)
    }

    fn zone() -> HostedZone {
        HostedZone {
            zone_id: "Z1".into(),
            ttl: 30,
        }
    }

    fn wake_page() -> AliasTarget {
        AliasTarget::new(
            "d-abc123.execute-api.eu-west-3.amazonaws.com",
            "ZLY8HYME6SFDD",
        )
    }

    fn task(v4: &str, v6: Option<&str>) -> RecordTarget {
        RecordTarget::Task {
            v4: Some(v4.parse().unwrap()),
            v6: v6.map(|v| v.parse().unwrap()),
        }
    }

    #[test]
    fn a_running_task_replaces_the_parked_address_and_a_stop_parks_it_again() {
        let z = zone();
        let parked = z.records(&RecordTarget::Asleep);
        let running = z.records(&task("203.0.113.7", Some("2001:db8::7")));
        assert_eq!(
            changes(&parked, &running),
            vec![
                RecordChange::Upsert(rec("203.0.113.7")),
                RecordChange::Upsert(rec("2001:db8::7"))
            ]
        );
        assert_eq!(
            changes(&running, &parked),
            vec![
                RecordChange::Delete(rec("2001:db8::7")),
                RecordChange::Upsert(rec("192.0.2.1")),
            ]
        );
        assert!(changes(&running, &running).is_empty());
        assert_eq!(
            changes(&[], &parked),
            vec![RecordChange::Upsert(rec("192.0.2.1"))]
        );
    }

    #[test]
    fn an_alias_found_at_the_name_is_deleted_and_the_address_created() {
        // An alias left at the name (the wake page's, from an older deployment) is replaced:
        // Route 53 cannot upsert across the two kinds.
        let alias = NameRecord::Alias {
            kind: RecordType::A,
            target: wake_page(),
        };
        let running = zone().records(&task("203.0.113.7", None));
        assert_eq!(
            changes(std::slice::from_ref(&alias), &running),
            vec![
                RecordChange::Delete(alias),
                RecordChange::Create(rec("203.0.113.7")),
            ]
        );
    }

    #[test]
    fn a_changed_ttl_is_a_change() {
        let old = NameRecord::address("203.0.113.7".parse().unwrap(), 300);
        assert_eq!(
            changes(&[old], &[rec("203.0.113.7")]),
            vec![RecordChange::Upsert(rec("203.0.113.7"))]
        );
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(
            check_name("Grafana.Example.com.").unwrap(),
            "grafana.example.com"
        );
        for bad in [
            "grafana",
            "https://g.example.com",
            "g.example.com:443",
            "-a.b",
            "a..b",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
