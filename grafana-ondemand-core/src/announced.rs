//! What was told, remembered on the service: the [`ANNOUNCED_TAG`] tag names the notices sent
//! for the last few tasks, so that EventBridge's duplicate deliveries and out-of-order events
//! are not told twice, and holds the claims by which one instance of several tells a notice.

use crate::notice::{Notice, NoticeKind};

/// The service tag that remembers the notices sent: `<task id>:<kind>` for the last few tasks.
pub const ANNOUNCED_TAG: &str = "grafana-ondemand:announced";

/// Tasks remembered in [`ANNOUNCED_TAG`] (a tag value holds 256 characters).
const ANNOUNCED_KEPT: usize = 4;

/// Whether the notice was already sent or claimed, by the [`ANNOUNCED_TAG`] value.
pub fn already_announced(tag: Option<&str>, notice: &Notice) -> bool {
    announced(tag)
        .iter()
        .any(|a| a.subject == notice.subject && a.kind.rank() >= notice.kind.rank())
}

/// The [`ANNOUNCED_TAG`] value that claims `notice` for the process `claim` names: it first
/// (`<subject>:<kind>:<claim>`), then the last few other subjects (their claims kept as they
/// are, so that rewriting the tag for one event does not erase another's).
pub fn announced_tag(tag: Option<&str>, notice: &Notice, claim: &str) -> String {
    let mut entries = vec![format!(
        "{}:{}:{claim}",
        notice.subject,
        notice.kind.as_str()
    )];
    entries.extend(
        announced(tag)
            .into_iter()
            .filter(|a| a.subject != notice.subject)
            .take(ANNOUNCED_KEPT - 1)
            .map(|a| a.entry),
    );
    entries.join(" ")
}

/// The [`ANNOUNCED_TAG`] value `now` with the claim on `notice` released: its subject's entry
/// as it was `before` the claim (or none), the other subjects' as they are now.
pub fn released(now: Option<&str>, before: Option<&str>, notice: &Notice) -> String {
    announced(before)
        .into_iter()
        .filter(|a| a.subject == notice.subject)
        .chain(
            announced(now)
                .into_iter()
                .filter(|a| a.subject != notice.subject),
        )
        .take(ANNOUNCED_KEPT)
        .map(|a| a.entry)
        .collect::<Vec<_>>()
        .join(" ")
}

/// What an [`ANNOUNCED_TAG`] value, as read back, says of a claim on `notice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimSeen {
    /// `claim` holds it: the last claim written on this notice is this process's.
    Mine,
    /// Another process's claim holds it (or a later notice of the same subject): that one
    /// tells it.
    Theirs,
    /// No claim on it shows: not visible yet (tags are eventually consistent), or erased by
    /// another process that rewrote the tag for another subject at the same moment.
    Absent,
}

/// Reads the claim on `notice` in an [`ANNOUNCED_TAG`] value: the entry of its subject,
/// wherever it stands, decides (not the first entry: another subject may have been written
/// since).
pub fn claim_on(tag: Option<&str>, notice: &Notice, claim: &str) -> ClaimSeen {
    match announced(tag).iter().find(|a| a.subject == notice.subject) {
        Some(a) if a.kind == notice.kind && a.claim.as_deref() == Some(claim) => ClaimSeen::Mine,
        Some(a) if a.kind.rank() >= notice.kind.rank() => ClaimSeen::Theirs,
        _ => ClaimSeen::Absent,
    }
}

struct Announced {
    subject: String,
    kind: NoticeKind,
    claim: Option<String>,
    entry: String,
}

fn announced(tag: Option<&str>) -> Vec<Announced> {
    tag.unwrap_or_default()
        .split_whitespace()
        .filter_map(|entry| {
            let mut parts = entry.split(':');
            let subject = parts.next()?.to_owned();
            let kind = NoticeKind::parse(parts.next()?)?;
            Some(Announced {
                subject,
                kind,
                claim: parts.next().map(str::to_owned),
                entry: entry.to_owned(),
            })
        })
        .collect()
}
