//! A simulated Route 53 hosted zone: the record sets of its names, changed in batches that
//! Route 53's rules accept or refuse whole, each change PENDING for a while before it is
//! INSYNC, and the answers its name servers give (the records as of the last change INSYNC).

use grafana_ondemand_core::{NameRecord, RecordChange, RecordType, fqdn};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

type Records = BTreeMap<(String, RecordType), NameRecord>;

/// One accepted change batch.
#[derive(Debug, Clone)]
struct Change {
    id: String,
    /// When every name server answers with it.
    in_sync_at: Instant,
    /// The zone's record sets once it is applied.
    after: Records,
}

/// One hosted zone: its domain and its A/AAAA record sets, by name (with the trailing dot,
/// as Route 53 returns names) and type.
#[derive(Debug, Clone)]
pub(crate) struct SimZone {
    pub domain: String,
    records: Records,
    /// The changes not yet known INSYNC by the served view, oldest first, and the last one
    /// that is (what the name servers answer).
    changes: Vec<Change>,
    served: Records,
    /// Ids of changes that were INSYNC and dropped from `changes`.
    synced: Vec<String>,
}

impl SimZone {
    pub fn new(domain: &str) -> Self {
        SimZone {
            domain: fqdn(domain),
            records: Records::new(),
            changes: Vec::new(),
            served: Records::new(),
            synced: Vec::new(),
        }
    }

    /// Every record set, in the zone's order (by name, then type).
    #[cfg(feature = "wire")]
    pub fn all(&self) -> impl Iterator<Item = (&String, &NameRecord)> {
        self.records.iter().map(|((n, _), r)| (n, r))
    }

    /// The A and AAAA record sets of `name`, as ListResourceRecordSets returns them (a
    /// PENDING change included).
    pub fn address_records(&self, name: &str) -> Vec<NameRecord> {
        Self::of(&self.records, name)
    }

    /// What Route 53's name servers answer for `name` at `now`: the record sets as of the
    /// last change INSYNC (a PENDING change may not be answered by all of them yet).
    pub fn served(&mut self, name: &str, now: Instant) -> Vec<NameRecord> {
        self.settle(now);
        Self::of(&self.served, name)
    }

    /// Whether change `id` is INSYNC at `now`; `None` for a change this zone never made.
    pub fn in_sync(&mut self, id: &str, now: Instant) -> Option<bool> {
        self.settle(now);
        if self.synced.iter().any(|s| s == id) {
            return Some(true);
        }
        self.changes
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.in_sync_at <= now)
    }

    fn of(records: &Records, name: &str) -> Vec<NameRecord> {
        let name = fqdn(name);
        records
            .iter()
            .filter(|((n, _), _)| *n == name)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Moves the served view past every change INSYNC at `now`.
    fn settle(&mut self, now: Instant) {
        while let Some(first) = self.changes.first() {
            if first.in_sync_at > now {
                break;
            }
            let done = self.changes.remove(0);
            self.served = done.after;
            self.synced.push(done.id);
        }
    }

    /// Applies a change batch as Route 53 does: every change is checked against the zone
    /// first, and one refused change refuses the batch (`InvalidChangeBatch`, with Route 53's
    /// sentence). `alias_target_known` says whether an alias target exists (Route 53 checks
    /// it). The accepted change is `id`, PENDING until `now + sync`.
    pub fn change(
        &mut self,
        name: &str,
        batch: &[RecordChange],
        alias_target_known: impl Fn(&grafana_ondemand_core::AliasTarget) -> bool,
        id: String,
        now: Instant,
        sync: Duration,
    ) -> Result<String, String> {
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
        // Per record set: one change, or a DELETE then a CREATE (how a set is replaced).
        let mut touched: Vec<((String, RecordType), &'static str)> = Vec::new();
        for change in batch {
            let r = change.record();
            let key = (name.clone(), r.kind());
            let before: Vec<&str> = touched
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|(_, a)| *a)
                .collect();
            if !(before.is_empty() || (before == ["DELETE"] && change.action() == "CREATE")) {
                return Err(format!(
                    "The request contains an invalid set of changes for a resource record set '{} {name}'",
                    r.kind().as_str()
                ));
            }
            touched.push((key.clone(), change.action()));
            if let NameRecord::Alias { target, .. } = r
                && !matches!(change, RecordChange::Delete(_))
                && !alias_target_known(target)
            {
                return Err(format!(
                    "Tried to create an alias that targets {}, type {} in zone {}, but that target was not found",
                    target.dns_name,
                    r.kind().as_str(),
                    target.hosted_zone_id
                ));
            }
            let kind = r.kind().as_str();
            match change {
                RecordChange::Upsert(r) => {
                    // Stricter than Route 53 (its documentation is silent, and the Terraform
                    // provider upserts across the two), as the controller is: a record set
                    // changes between an alias and a plain one by DELETE and CREATE, which
                    // Route 53 documents.
                    if let Some(current) = next.get(&key)
                        && current.is_alias() != r.is_alias()
                    {
                        return Err(format!(
                            "RRSet of type {kind} with DNS name {name} cannot be changed between an alias and a plain record by UPSERT: DELETE it and CREATE the new one in the same batch"
                        ));
                    }
                    next.insert(key, r.clone());
                }
                RecordChange::Create(r) => {
                    if next.contains_key(&key) {
                        return Err(format!(
                            "Tried to create resource record set [name='{name}', type='{kind}'] but it already exists"
                        ));
                    }
                    next.insert(key, r.clone());
                }
                RecordChange::Delete(r) => match next.get(&key) {
                    None => {
                        return Err(format!(
                            "Tried to delete resource record set [name='{name}', type='{kind}'] but it was not found"
                        ));
                    }
                    Some(current) if current != r => {
                        return Err(format!(
                            "Tried to delete resource record set [name='{name}', type='{kind}'] but the values provided do not match the current values"
                        ));
                    }
                    Some(_) => {
                        next.remove(&key);
                    }
                },
            }
        }
        self.records = next.clone();
        self.changes.push(Change {
            id: id.clone(),
            in_sync_at: now + sync,
            after: next,
        });
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grafana_ondemand_core::AliasTarget;

    fn rec(ip: &str, ttl: u32) -> NameRecord {
        NameRecord::address(ip.parse().unwrap(), ttl)
    }

    fn alias() -> NameRecord {
        NameRecord::Alias {
            kind: RecordType::A,
            target: AliasTarget::new("d-wake.execute-api.eu-west-3.amazonaws.com", "ZAPI"),
        }
    }

    fn change(zone: &mut SimZone, name: &str, batch: &[RecordChange]) -> Result<String, String> {
        let now = Instant::now();
        zone.change(
            name,
            batch,
            |t| t.hosted_zone_id == "ZAPI",
            format!("C{}", batch.len()),
            now,
            Duration::ZERO,
        )
    }

    #[test]
    fn a_batch_is_applied_whole_or_refused_whole_as_route_53_does() {
        let mut zone = SimZone::new("example.com");
        change(
            &mut zone,
            "g.example.com",
            &[RecordChange::Upsert(rec("127.0.0.10", 30))],
        )
        .unwrap();
        // A delete must match the value and the TTL; the upsert before it is not applied.
        let refused = change(
            &mut zone,
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
            change(
                &mut zone,
                "g.example.org",
                &[RecordChange::Upsert(rec("127.0.0.10", 30))]
            )
            .unwrap_err()
            .contains("not permitted in zone example.com.")
        );
        assert!(
            change(
                &mut zone,
                "g.example.com",
                &[RecordChange::Delete(rec("2001:db8::1", 30))]
            )
            .unwrap_err()
            .contains("but it was not found")
        );
        assert!(
            change(
                &mut zone,
                "g.example.com",
                &[RecordChange::Create(rec("127.0.0.11", 30))]
            )
            .unwrap_err()
            .contains("but it already exists")
        );
    }

    #[test]
    fn an_alias_replaces_a_plain_record_only_by_delete_and_create() {
        let mut zone = SimZone::new("example.com");
        let plain = rec("127.0.0.10", 30);
        change(
            &mut zone,
            "g.example.com",
            &[RecordChange::Upsert(plain.clone())],
        )
        .unwrap();
        let upsert = change(&mut zone, "g.example.com", &[RecordChange::Upsert(alias())]);
        assert!(upsert.unwrap_err().contains("DELETE it and CREATE"));
        change(
            &mut zone,
            "g.example.com",
            &[
                RecordChange::Delete(plain.clone()),
                RecordChange::Create(alias()),
            ],
        )
        .unwrap();
        assert_eq!(zone.address_records("g.example.com"), vec![alias()]);
        // An alias to a target that does not exist is refused.
        let unknown = NameRecord::Alias {
            kind: RecordType::A,
            target: AliasTarget::new("d-gone.execute-api.eu-west-3.amazonaws.com", "ZOTHER"),
        };
        let refused = change(&mut zone, "g.example.com", &[RecordChange::Upsert(unknown)]);
        assert!(
            refused
                .unwrap_err()
                .contains("but that target was not found")
        );
        // Deleting an alias needs its exact target too; then a plain record again.
        change(
            &mut zone,
            "g.example.com",
            &[RecordChange::Delete(alias()), RecordChange::Create(plain)],
        )
        .unwrap();
        // Two upserts of one set in a batch are refused.
        let twice = change(
            &mut zone,
            "g.example.com",
            &[
                RecordChange::Upsert(rec("127.0.0.11", 30)),
                RecordChange::Upsert(rec("127.0.0.12", 30)),
            ],
        );
        assert!(twice.unwrap_err().contains("invalid set of changes"));
    }

    #[test]
    fn a_change_is_pending_then_in_sync_and_only_then_answered() {
        let mut zone = SimZone::new("example.com");
        let t0 = Instant::now();
        let sync = Duration::from_secs(30);
        let first = zone
            .change(
                "g.example.com",
                &[RecordChange::Upsert(rec("127.0.0.10", 30))],
                |_| true,
                "C1".into(),
                t0,
                sync,
            )
            .unwrap();
        assert_eq!(zone.in_sync(&first, t0), Some(false));
        assert!(zone.served("g.example.com", t0).is_empty());
        assert_eq!(
            zone.address_records("g.example.com"),
            vec![rec("127.0.0.10", 30)],
            "listed at once"
        );
        let t1 = t0 + Duration::from_secs(10);
        zone.change(
            "g.example.com",
            &[RecordChange::Upsert(rec("127.0.0.11", 30))],
            |_| true,
            "C2".into(),
            t1,
            sync,
        )
        .unwrap();
        let t2 = t0 + sync;
        assert_eq!(zone.in_sync("C1", t2), Some(true));
        assert_eq!(zone.in_sync("C2", t2), Some(false));
        assert_eq!(
            zone.served("g.example.com", t2),
            vec![rec("127.0.0.10", 30)]
        );
        let t3 = t1 + sync;
        assert_eq!(
            zone.served("g.example.com", t3),
            vec![rec("127.0.0.11", 30)]
        );
        assert_eq!(
            zone.in_sync("C1", t3),
            Some(true),
            "remembered once settled"
        );
        assert_eq!(zone.in_sync("C9", t3), None);
    }
}
