//! Route 53's REST-XML protocol over the simulated hosted zones: `GET` and `POST`
//! `/2013-04-01/hostedzone/{id}/rrset`, `GET /2013-04-01/change/{id}`, answers and errors in
//! the shapes Route 53 returns. Names come back with their trailing dot, record sets in
//! Route 53's order (by name with its labels reversed, then type), several names per page:
//! a client must pick its own. Alias record sets carry an `AliasTarget` and no TTL.

use crate::ecs::SimulatedEcs;
use crate::model::CallFault;
use grafana_ondemand_core::{AliasTarget, NameRecord, RecordChange, RecordType, fqdn};
use std::time::Duration;
use wiremock::{Request, Respond, ResponseTemplate};

const NS: &str = "https://route53.amazonaws.com/doc/2013-04-01/";

#[derive(Debug)]
pub(super) struct Route53Wire {
    pub ecs: SimulatedEcs,
    pub delay: Duration,
}

fn error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    let xml = format!(
        "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>8b1a2c3d-0e4f-4a5b-9c6d-7e8f9a0b1c2d</RequestId></ErrorResponse>",
        escape(message)
    );
    ResponseTemplate::new(status).set_body_raw(xml, "text/xml")
}

fn fault(f: CallFault) -> ResponseTemplate {
    match f {
        CallFault::Throttled => error(400, "Throttling", "Rate exceeded"),
        CallFault::AccessDenied => error(
            403,
            "AccessDenied",
            "User: arn:aws:sts::123456789012:assumed-role/controller/fn is not authorized to perform: route53:ChangeResourceRecordSets",
        ),
        CallFault::NoSuchHostedZone(m) => error(404, "NoSuchHostedZone", &m),
        CallFault::NoSuchChange(m) => error(404, "NoSuchChange", &m),
        CallFault::InvalidChangeBatch(m) => error(400, "InvalidChangeBatch", &m),
        CallFault::InvalidParameter(m)
        | CallFault::ResourceNotFound(m)
        | CallFault::Conflict(m) => error(400, "InvalidInput", &m),
        CallFault::ServiceNotFound => error(400, "InvalidInput", "not a Route 53 error"),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The text of every `<tag>…</tag>` in `xml`, in order.
fn all<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    out
}

fn first<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    all(xml, tag).into_iter().next()
}

/// Route 53's order: by name with its labels reversed, then by type.
fn order_key(name: &str, kind: RecordType) -> (Vec<String>, RecordType) {
    (
        name.trim_end_matches('.')
            .split('.')
            .rev()
            .map(str::to_owned)
            .collect(),
        kind,
    )
}

impl Route53Wire {
    fn list(&self, zone_id: &str, request: &Request) -> ResponseTemplate {
        let query: Vec<(String, String)> = request
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
        let kind = match get("type").as_deref() {
            None => None,
            Some("A") => Some(RecordType::A),
            Some("AAAA") => Some(RecordType::Aaaa),
            Some(other) => {
                return error(
                    400,
                    "InvalidInput",
                    &format!("The simulated zone has no {other} records"),
                );
            }
        };
        if kind.is_some() && get("name").is_none() {
            return error(400, "InvalidInput", "A type requires a name");
        }
        let max: usize = get("maxitems").and_then(|m| m.parse().ok()).unwrap_or(300);
        let listed = self.ecs.call("ListResourceRecordSets", false, |m| {
            let zone = m.zones.get(zone_id).ok_or_else(|| {
                CallFault::NoSuchHostedZone(format!("No hosted zone found with ID: {zone_id}"))
            })?;
            let mut all: Vec<(String, RecordType, NameRecord)> = zone
                .all()
                .map(|(n, r)| (n.clone(), r.kind(), r.clone()))
                .collect();
            all.sort_by_key(|(n, t, _)| order_key(n, *t));
            let from = get("name").map(|n| order_key(&fqdn(&n), kind.unwrap_or(RecordType::A)));
            Ok(all
                .into_iter()
                .filter(|(n, t, _)| from.as_ref().is_none_or(|f| order_key(n, *t) >= *f))
                .collect::<Vec<_>>())
        });
        let all = match listed.and_then(|r| r) {
            Ok(all) => all,
            Err(f) => return fault(f),
        };
        let page: String = all
            .iter()
            .take(max)
            .map(|(name, kind, r)| {
                let value = match r {
                    NameRecord::Address { value, ttl } => format!(
                        "<TTL>{ttl}</TTL><ResourceRecords><ResourceRecord><Value>{value}</Value></ResourceRecord></ResourceRecords>"
                    ),
                    NameRecord::Alias { target, .. } => format!(
                        "<AliasTarget><HostedZoneId>{}</HostedZoneId><DNSName>{}</DNSName><EvaluateTargetHealth>false</EvaluateTargetHealth></AliasTarget>",
                        target.hosted_zone_id, target.dns_name
                    ),
                };
                format!(
                    "<ResourceRecordSet><Name>{name}</Name><Type>{}</Type>{value}</ResourceRecordSet>",
                    kind.as_str()
                )
            })
            .collect();
        let next = all.get(max).map(|(name, kind, _)| {
            format!(
                "<NextRecordName>{name}</NextRecordName><NextRecordType>{}</NextRecordType>",
                kind.as_str()
            )
        });
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListResourceRecordSetsResponse xmlns=\"{NS}\"><ResourceRecordSets>{page}</ResourceRecordSets><IsTruncated>{}</IsTruncated>{}<MaxItems>{max}</MaxItems></ListResourceRecordSetsResponse>",
            next.is_some(),
            next.unwrap_or_default()
        );
        ResponseTemplate::new(200).set_body_raw(xml, "text/xml")
    }

    fn change(&self, zone_id: &str, body: &str) -> ResponseTemplate {
        let mut name = None;
        let mut batch = Vec::new();
        for change in all(body, "Change") {
            let (Some(action), Some(n), Some(kind)) = (
                first(change, "Action"),
                first(change, "Name"),
                first(change, "Type"),
            ) else {
                return error(
                    400,
                    "InvalidInput",
                    "A change needs an Action, a Name and a Type",
                );
            };
            let kind = match kind {
                "A" => RecordType::A,
                "AAAA" => RecordType::Aaaa,
                other => {
                    return error(
                        400,
                        "InvalidInput",
                        &format!("The simulated zone holds A and AAAA records, not {other}"),
                    );
                }
            };
            let record = match record_of(change, action, n, kind) {
                Ok(record) => record,
                Err((code, message)) => return error(400, code, &message),
            };
            if name.get_or_insert_with(|| fqdn(n)) != &fqdn(n) {
                return error(
                    400,
                    "InvalidInput",
                    "The simulated zone takes one name per batch",
                );
            }
            batch.push(match action {
                "UPSERT" => RecordChange::Upsert(record),
                "CREATE" => RecordChange::Create(record),
                "DELETE" => RecordChange::Delete(record),
                other => return error(400, "InvalidInput", &format!("Invalid action {other}")),
            });
        }
        let Some(name) = name else {
            return error(400, "InvalidInput", "The change batch is empty");
        };
        match self.ecs.op_change_address_records(zone_id, &name, &batch) {
            Ok(id) => self.change_info("ChangeResourceRecordSetsResponse", &id, false),
            Err(f) => fault(f),
        }
    }

    fn get_change(&self, id: &str) -> ResponseTemplate {
        match self.ecs.op_change_status(id) {
            Ok(in_sync) => self.change_info("GetChangeResponse", id, in_sync),
            Err(f) => fault(f),
        }
    }

    fn change_info(&self, response: &str, id: &str, in_sync: bool) -> ResponseTemplate {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{response} xmlns=\"{NS}\"><ChangeInfo><Id>/change/{id}</Id><Status>{}</Status><SubmittedAt>{}</SubmittedAt></ChangeInfo></{response}>",
            if in_sync { "INSYNC" } else { "PENDING" },
            self.ecs
                .now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
        ResponseTemplate::new(200).set_body_raw(xml, "text/xml")
    }
}

/// The record set of one `<Change>`: a TTL and one value, or an alias target, never both (as
/// Route 53 refuses); or the error code and message Route 53 answers (HTTP 400).
fn record_of(
    change: &str,
    action: &str,
    name: &str,
    kind: RecordType,
) -> Result<NameRecord, (&'static str, String)> {
    let alias = first(change, "AliasTarget");
    let ttl = first(change, "TTL");
    let values = all(change, "Value");
    let exactly_one = |found: &str| {
        (
            "InvalidInput",
            format!(
                "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found {found} in Change with [Action={action}, Name={name}, Type={}, SetIdentifier=null]",
                kind.as_str()
            ),
        )
    };
    match (alias, ttl) {
        (Some(_), Some(_)) => Err(exactly_one("more than one")),
        (None, None) => Err(exactly_one("none")),
        (Some(alias), None) => {
            let (Some(zone), Some(dns_name)) =
                (first(alias, "HostedZoneId"), first(alias, "DNSName"))
            else {
                return Err((
                    "InvalidInput",
                    "An AliasTarget needs a HostedZoneId and a DNSName".into(),
                ));
            };
            Ok(NameRecord::Alias {
                kind,
                target: AliasTarget::new(dns_name, zone),
            })
        }
        (None, Some(ttl)) => {
            let Ok(ttl) = ttl.parse::<u32>() else {
                return Err(("InvalidInput", "The TTL is not a number".into()));
            };
            let [value] = values.as_slice() else {
                return Err((
                    "InvalidChangeBatch",
                    "The simulated zone holds one value per record set".into(),
                ));
            };
            let Ok(value) = value.parse::<std::net::IpAddr>() else {
                return Err((
                    "InvalidChangeBatch",
                    format!("ARRDATAIllegalIPv4Address ({value} is not an address)"),
                ));
            };
            let record = NameRecord::address(value, ttl);
            if record.kind() != kind {
                return Err((
                    "InvalidChangeBatch",
                    format!("{value} is not valid for a {} record", kind.as_str()),
                ));
            }
            Ok(record)
        }
    }
}

impl Respond for Route53Wire {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path();
        if let Some(id) = path.strip_prefix("/2013-04-01/change/") {
            return self.get_change(id).set_delay(self.delay);
        }
        let zone_id = path
            .trim_start_matches("/2013-04-01/hostedzone/")
            .trim_end_matches('/')
            .trim_end_matches("/rrset");
        let response = match request.method.as_str() {
            "GET" => self.list(zone_id, request),
            "POST" => self.change(zone_id, &String::from_utf8_lossy(&request.body)),
            other => error(400, "InvalidInput", &format!("{other} is not simulated")),
        };
        response.set_delay(self.delay)
    }
}
