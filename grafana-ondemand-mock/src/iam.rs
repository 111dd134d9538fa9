//! A small evaluator of IAM's policy language: what the tests replay every call against, and
//! what the wire stub's `iam:SimulatePrincipalPolicy` answers with. Explicit denies win; no
//! allow denies; a condition key the request lacks fails its condition, as in IAM.

use serde_json::Value;
use std::collections::BTreeMap;

/// A string or a list of strings, as the policy language allows.
fn one_or_many(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// IAM's wildcard match: `*` any run, `?` one character.
pub fn matches(pattern: &str, value: &str) -> bool {
    fn go(p: &[u8], v: &[u8]) -> bool {
        match (p.first(), v.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], v) || (!v.is_empty() && go(p, &v[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &v[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &v[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), value.as_bytes())
}

/// Whether a statement's conditions hold for the request's context (multi-valued keys as
/// lines). An operator this evaluator does not know fails its condition.
fn conditions_hold(conditions: &Value, context: &BTreeMap<String, String>) -> bool {
    let Some(conditions) = conditions.as_object() else {
        return true;
    };
    conditions.iter().all(|(operator, keys)| {
        keys.as_object().is_some_and(|keys| {
            keys.iter().all(|(key, wanted)| {
                let Some(actual) = context.get(key) else {
                    return false;
                };
                let wanted = one_or_many(wanted);
                match operator.as_str() {
                    "ArnEquals" | "StringEquals" => wanted.iter().any(|w| w == actual),
                    "ArnLike" | "StringLike" => wanted.iter().any(|w| matches(w, actual)),
                    "Bool" => wanted.iter().any(|w| w.eq_ignore_ascii_case(actual)),
                    // Every value the request carries is one of those listed.
                    "ForAllValues:StringEquals" => {
                        actual.lines().all(|v| wanted.iter().any(|w| w == v))
                    }
                    _ => false,
                }
            })
        })
    })
}

/// IAM's decision for one action on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An Allow statement applies and no Deny does.
    Allowed,
    /// No statement allows it.
    ImplicitDeny,
    /// A Deny statement applies.
    ExplicitDeny,
}

impl Decision {
    /// The word `SimulatePrincipalPolicy` answers with.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::ImplicitDeny => "implicitDeny",
            Decision::ExplicitDeny => "explicitDeny",
        }
    }
}

/// What `policy` decides for `action` on `resource` with `context`.
pub fn decide(
    policy: &Value,
    action: &str,
    resource: &str,
    context: &BTreeMap<String, String>,
) -> Decision {
    let statements = match &policy["Statement"] {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    let applies = |s: &Value| {
        one_or_many(&s["Action"])
            .iter()
            .any(|a| matches(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
            && one_or_many(&s["Resource"])
                .iter()
                .any(|r| matches(r, resource))
            && conditions_hold(&s["Condition"], context)
    };
    let effect = |e: &str| statements.iter().any(|s| s["Effect"] == e && applies(s));
    if effect("Deny") {
        Decision::ExplicitDeny
    } else if effect("Allow") {
        Decision::Allowed
    } else {
        Decision::ImplicitDeny
    }
}

/// Whether `policy` allows `action` on every one of `resources`.
pub fn allows(
    policy: &Value,
    action: &str,
    resources: &[String],
    context: &BTreeMap<String, String>,
) -> bool {
    resources
        .iter()
        .all(|r| decide(policy, action, r, context) == Decision::Allowed)
}
