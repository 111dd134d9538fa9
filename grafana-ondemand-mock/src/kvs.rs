//! A simulated CloudFront KeyValueStore: its keys, its ETag (one per store, changed by every
//! write), writes refused when their `If-Match` is stale, and what an edge location reads: a
//! write reaches an edge only a propagation delay after it was made (AWS does not document
//! how long; each simulated edge has its own).

use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// One store.
#[derive(Debug, Clone, Default)]
pub(crate) struct SimStore {
    /// Bumped by every write: the ETag is made of it.
    version: u64,
    /// The keys as the API reads them.
    keys: BTreeMap<String, String>,
    /// Every write, oldest first: when, the key, and its value (`None`: deleted).
    writes: Vec<(Instant, String, Option<String>)>,
}

impl SimStore {
    /// The store's ETag, as DescribeKeyValueStore gives it.
    pub fn etag(&self) -> String {
        format!("ETVPDKIKX0DER{:06}", self.version)
    }

    /// A key's value, as GetKey reads it.
    pub fn get(&self, key: &str) -> Option<String> {
        self.keys.get(key).cloned()
    }

    /// PutKey: refused (the current ETag given back) unless `if_match` is the store's ETag.
    pub fn put(
        &mut self,
        key: &str,
        value: &str,
        if_match: &str,
        at: Instant,
    ) -> Result<String, String> {
        if if_match != self.etag() {
            return Err(self.etag());
        }
        self.write(key, Some(value.to_owned()), at);
        Ok(self.etag())
    }

    /// A write by someone else (by hand, or another client): always applied.
    pub fn write(&mut self, key: &str, value: Option<String>, at: Instant) {
        self.version += 1;
        match &value {
            Some(v) => self.keys.insert(key.to_owned(), v.clone()),
            None => self.keys.remove(key),
        };
        self.writes.push((at, key.to_owned(), value));
    }

    /// What an edge location `delay` behind the store reads for `key` at `now`.
    pub fn at_edge(&self, key: &str, now: Instant, delay: Duration) -> Option<String> {
        self.writes
            .iter()
            .rev()
            .find(|(at, k, _)| k == key && *at + delay <= now)
            .and_then(|(_, _, v)| v.clone())
    }

    /// When the last write of `key` was made.
    pub fn written_at(&self, key: &str) -> Option<Instant> {
        self.writes
            .iter()
            .rev()
            .find(|(_, k, _)| k == key)
            .map(|(at, _, _)| *at)
    }
}
