//! A simulated Route 53 hosted zone: the record sets of its names, changed in batches that
//! Route 53's rules accept or refuse whole.

use grafana_ondemand_core::{AddressRecord, RecordChange, RecordType, fqdn};
use std::collections::BTreeMap;

/// One hosted zone: its domain and its A/AAAA record sets, by name (with the trailing dot,
/// as Route 53 returns names) and type.
#[derive(Debug, Clone)]
pub(crate) struct SimZone {
    pub domain: String,
    pub records: BTreeMap<(String, RecordType), AddressRecord>,
}

impl SimZone {
    pub fn new(domain: &str) -> Self {
        SimZone {
            domain: fqdn(domain),
            records: BTreeMap::new(),
        }
    }

    /// The A and AAAA record sets of `name`.
    pub fn address_records(&self, name: &str) -> Vec<AddressRecord> {
        let name = fqdn(name);
        self.records
            .iter()
            .filter(|((n, _), _)| *n == name)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Applies a change batch as Route 53 does: every change is checked against the zone
    /// first, and one refused change refuses the batch (`InvalidChangeBatch`, with Route
    /// 53's sentence).
    pub fn change(&mut self, name: &str, batch: &[RecordChange]) -> Result<(), String> {
        let name = fqdn(name);
        if !(name == self.domain || name.ends_with(&format!(".{}", self.domain))) {
            return Err(format!(
                "RRSet with DNS name {name} is not permitted in zone {}",
                self.domain
            ));
        }
        if batch.is_empty() {
            return Err("The change batch is empty.".into());
        }
        let mut next = self.records.clone();
        let mut touched = Vec::new();
        for change in batch {
            let (RecordChange::Upsert(r) | RecordChange::Delete(r)) = change;
            let key = (name.clone(), r.kind());
            if touched.contains(&key) {
                return Err(format!(
                    "The request contains an invalid set of changes for a resource record set '{} {name}'",
                    r.kind().as_str()
                ));
            }
            touched.push(key.clone());
            match change {
                RecordChange::Upsert(r) => {
                    next.insert(key, r.clone());
                }
                RecordChange::Delete(r) => match next.get(&key) {
                    None => {
                        return Err(format!(
                            "Tried to delete resource record set [name='{name}', type='{}'] but it was not found",
                            r.kind().as_str()
                        ));
                    }
                    Some(current) if current != r => {
                        return Err(format!(
                            "Tried to delete resource record set [name='{name}', type='{}'] but the values provided do not match the current values",
                            r.kind().as_str()
                        ));
                    }
                    Some(_) => {
                        next.remove(&key);
                    }
                },
            }
        }
        self.records = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ip: &str, ttl: u32) -> AddressRecord {
        AddressRecord {
            value: ip.parse().unwrap(),
            ttl,
        }
    }

    #[test]
    fn a_batch_is_applied_whole_or_refused_whole_as_route_53_does() {
        let mut zone = SimZone::new("example.com");
        zone.change(
            "g.example.com",
            &[RecordChange::Upsert(rec("127.0.0.10", 30))],
        )
        .unwrap();
        // A delete must match the value and the TTL; the upsert before it is not applied.
        let refused = zone
            .change(
                "g.example.com",
                &[
                    RecordChange::Upsert(rec("2001:db8::1", 30)),
                    RecordChange::Delete(rec("127.0.0.10", 60)),
                ],
            )
            .unwrap_err();
        assert!(
            refused.contains("do not match the current values"),
            "{refused}"
        );
        assert_eq!(
            zone.address_records("g.example.com."),
            vec![rec("127.0.0.10", 30)]
        );
        assert!(
            zone.change(
                "g.example.org",
                &[RecordChange::Upsert(rec("127.0.0.10", 30))]
            )
            .unwrap_err()
            .contains("not permitted in zone example.com.")
        );
        assert!(
            zone.change(
                "g.example.com",
                &[RecordChange::Delete(rec("2001:db8::1", 30))]
            )
            .unwrap_err()
            .contains("but it was not found")
        );
    }
}
