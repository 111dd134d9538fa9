//! A stable name for the service: the Route 53 record that follows the serving task.
//!
//! Every start gives the task a new address, so the controller points one name at it: an A
//! record (and AAAA when the task has IPv6) with a short TTL while a task runs, and the A
//! record *parked* on an address nobody is ever given while nothing runs. Parking rather than
//! deleting matters: a deleted name is cached as nonexistent by resolvers for the zone's
//! negative TTL (15 minutes with Route 53's default SOA), so a user who tried the name while
//! it was stopped would not reach it for that long after the start.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};

/// Where a stopped service's name points: 192.0.2.1, in TEST-NET-1 (RFC 5737), reserved for
/// documentation and never given to anyone, so the name never leads to someone else's host.
pub const PARKED: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// The TTL of the record unless configured: short, so that a start is seen within seconds.
pub const DEFAULT_TTL: u32 = 30;

/// The Route 53 hosted zone a service's public name lives in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostedZone {
    /// The hosted zone id (`Z…`).
    pub zone_id: String,
    /// The record's TTL in seconds.
    pub ttl: u32,
}

impl HostedZone {
    /// The zone in `DNS_ZONE_ID` with the TTL in `DNS_TTL` (default 30 s), or `None` when no
    /// zone is configured.
    pub fn from_env() -> Result<Option<Self>> {
        use crate::env::setting as var;
        let Some(zone_id) = var("DNS_ZONE_ID") else {
            return Ok(None);
        };
        let zone_id = zone_id.trim_start_matches("/hostedzone/").to_owned();
        if zone_id.is_empty() || !zone_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::invalid_config(
                "DNS_ZONE_ID",
                format!("`{zone_id}` is not a Route 53 hosted zone id (such as Z0123456789ABC)"),
            ));
        }
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
        Ok(Some(HostedZone { zone_id, ttl }))
    }
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

/// One address record set of the name, with its one value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AddressRecord {
    /// The address.
    pub value: IpAddr,
    /// Its TTL in seconds.
    pub ttl: u32,
}

impl AddressRecord {
    /// A or AAAA, by the address.
    pub fn kind(&self) -> RecordType {
        RecordType::of(self.value)
    }
}

/// One change of a Route 53 change batch on the name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordChange {
    /// Create or replace the record set of this type.
    Upsert(AddressRecord),
    /// Delete this record set: Route 53 deletes only an exact match (type, TTL and value).
    Delete(AddressRecord),
}

/// Where the name should point: the serving task's addresses, or nowhere (parked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordTarget {
    /// The IPv4 address users reach.
    pub v4: Option<IpAddr>,
    /// The IPv6 address, when the task has one.
    pub v6: Option<IpAddr>,
}

impl RecordTarget {
    /// Nothing serves: the A record parked, no AAAA.
    pub const PARKED: RecordTarget = RecordTarget {
        v4: Some(IpAddr::V4(PARKED)),
        v6: None,
    };

    /// The record sets the name should have, A first.
    pub fn records(&self, ttl: u32) -> Vec<AddressRecord> {
        [self.v4, self.v6]
            .into_iter()
            .flatten()
            .map(|value| AddressRecord { value, ttl })
            .collect()
    }
}

/// The changes that turn the record sets `current` into those `wanted`, in one batch
/// (Route 53 applies a batch whole or not at all); empty when nothing differs.
pub fn changes(current: &[AddressRecord], wanted: &[AddressRecord]) -> Vec<RecordChange> {
    let mut batch: Vec<RecordChange> = wanted
        .iter()
        .filter(|w| !current.contains(w))
        .cloned()
        .map(RecordChange::Upsert)
        .collect();
    for old in current {
        if !wanted.iter().any(|w| w.kind() == old.kind()) {
            batch.push(RecordChange::Delete(old.clone()));
        }
    }
    batch
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

    fn rec(ip: &str) -> AddressRecord {
        AddressRecord {
            value: ip.parse().unwrap(),
            ttl: 30,
        }
    }

    #[test]
    fn a_running_task_replaces_the_parked_address_and_a_stop_parks_it_again() {
        let parked = RecordTarget::PARKED.records(30);
        let running = RecordTarget {
            v4: Some("203.0.113.7".parse().unwrap()),
            v6: Some("2001:db8::7".parse().unwrap()),
        }
        .records(30);
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
                RecordChange::Upsert(rec("192.0.2.1")),
                RecordChange::Delete(rec("2001:db8::7"))
            ]
        );
        assert!(changes(&running, &running).is_empty());
        assert_eq!(
            changes(&[], &parked),
            vec![RecordChange::Upsert(rec("192.0.2.1"))]
        );
    }

    #[test]
    fn a_changed_ttl_is_a_change() {
        let old = AddressRecord {
            value: "203.0.113.7".parse().unwrap(),
            ttl: 300,
        };
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
