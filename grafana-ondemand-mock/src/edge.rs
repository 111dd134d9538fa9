//! The front door's viewer-request function, run as CloudFront runs it, in QuickJS: the same
//! file the module deploys (`infra/modules/grafana_on_demand/door.js`), never a copy of its
//! rules. QuickJS is kinder than CloudFront's runtime (cloudfront-js-2.0), so [`check`] first
//! refuses what CloudFront would: a file over 10 KB, another import than `cloudfront`, an
//! optional catch binding, syntax newer than the runtime.
//!
//! The harness does what other emulators do: it drops the `import` line and gives the code a
//! `cf` of its own, whose `kvs().get` reads one entry (missing, a value, or failing) and whose
//! `updateRequestOrigin` records what it was given. What it was given is then checked against
//! AWS's documented schema ([`check_origin`]), and a function that throws or passes what AWS
//! refuses is answered as CloudFront answers it ([`Routed::Refused`]): never a kinder fallback.

use std::collections::BTreeMap;

mod apigw;
mod front_door;
mod location;
mod module;
mod origin;
pub use apigw::{
    Authorization, HttpApi, HttpApiConfig, LambdaFunction, MAX_INTEGRATION_TIMEOUT, Route,
    source_arn_allows,
};
pub use front_door::{
    DoorWorld, SIMULATED_API_DOMAIN, SIMULATED_EXECUTION_ARN, SimulatedFrontDoor,
};
pub use location::{DOOR_SECRET_HEADER, EdgeLocation, Origins};
pub use module::{
    FrontDoorConfig, MODULE_FRONT_DOOR, ModuleBehavior, ModuleDistribution, ModuleOrigin,
};
pub use origin::{ChosenOrigin, check_origin};

/// The function's source, as the module deploys it.
pub const DOOR_JS: &str = include_str!("../../infra/modules/grafana_on_demand/door.js");

/// CloudFront's limit on a function's code.
pub const MAX_CODE_BYTES: usize = 10 * 1024;

/// CloudFront's error when a function throws.
pub const EXECUTION_ERROR: &str = "FunctionExecutionError";
/// CloudFront's error when a function gives a helper what AWS refuses.
pub const VALIDATION_ERROR: &str = "FunctionValidationError";

/// The one import CloudFront Functions allow.
const IMPORT: &str = "import cf from 'cloudfront';";

/// What CloudFront would refuse or run differently, in `source`; empty when it is fit.
pub fn check(source: &str) -> Vec<String> {
    let mut refused = Vec::new();
    if source.len() > MAX_CODE_BYTES {
        refused.push(format!(
            "{} bytes: CloudFront takes {MAX_CODE_BYTES} at most",
            source.len()
        ));
    }
    let imports: Vec<&str> = source
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("import ") || l.starts_with("import{"))
        .collect();
    if imports != [IMPORT] {
        refused.push(format!("imports {imports:?}: exactly `{IMPORT}` expected"));
    }
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.contains("catch{") {
        refused.push(
            "an optional catch binding (`catch {`): cloudfront-js-2.0 wants `catch (e) {`".into(),
        );
    }
    for (syntax, what) in [
        ("?.", "optional chaining"),
        ("??", "nullish coalescing"),
        ("export ", "an export"),
        ("require(", "require"),
    ] {
        if code.contains(syntax) {
            refused.push(format!("{what} (`{syntax}`) is not in cloudfront-js-2.0"));
        }
    }
    if !compact.contains("asyncfunctionhandler(event)")
        && !compact.contains("functionhandler(event)")
    {
        refused.push("no `function handler(event)`".into());
    }
    refused
}

/// The KeyValueStore entry the function reads, as the edge would find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// No such key (`kvs.get` throws).
    Missing,
    /// The key's value.
    Value(String),
    /// The read itself fails.
    Failing,
}

/// A viewer request, as CloudFront gives it to the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewerRequest {
    /// `GET`, `HEAD`, `POST`…
    pub method: String,
    /// The path.
    pub uri: String,
    /// Headers, names in lower case.
    pub headers: BTreeMap<String, String>,
}

impl ViewerRequest {
    /// A request for `uri` with `method` and these headers.
    pub fn new(method: &str, uri: &str, headers: &[(&str, &str)]) -> ViewerRequest {
        ViewerRequest {
            method: method.into(),
            uri: uri.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
                .collect(),
        }
    }

    fn event(&self) -> serde_json::Value {
        let headers: serde_json::Map<String, serde_json::Value> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!({ "value": v })))
            .collect();
        serde_json::json!({
            "version": "1.0",
            "context": { "eventType": "viewer-request" },
            "viewer": { "ip": "127.0.0.1" },
            "request": {
                "method": self.method,
                "uri": self.uri,
                "querystring": {},
                "headers": headers,
                "cookies": {},
            },
        })
    }
}

/// Where the function sent a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Routed {
    /// On to the behaviour's own origin: the controller's API.
    Controller,
    /// On to another origin: what `cf.updateRequestOrigin` was given (checked: AWS takes it).
    Origin(serde_json::Value),
    /// What CloudFront answers itself, with a 502, when the function throws
    /// (`FunctionExecutionError`) or gives a helper what AWS refuses
    /// (`FunctionValidationError`).
    Refused {
        /// CloudFront's error: `FunctionExecutionError` or `FunctionValidationError`.
        error: &'static str,
        /// Why, for the test or the log (CloudFront shows the viewer none of it).
        why: String,
    },
    /// Answered at the edge: nothing behind it runs.
    Answered {
        /// The status code.
        status: u16,
        /// Headers, names in lower case.
        headers: BTreeMap<String, String>,
        /// The body.
        body: String,
    },
}

/// The function loaded in an engine of its own.
pub struct Door {
    runtime: rquickjs::Runtime,
    context: rquickjs::Context,
}

impl std::fmt::Debug for Door {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Door").finish_non_exhaustive()
    }
}

/// The `cf` module as the harness gives it, before the function's code.
const HARNESS: &str = r#"
var __entry = { missing: true }, __origin = null, __out = null;
var cf = {
  kvs: function () {
    return {
      get: async function (key) {
        if (__entry.fail) { throw new Error('the KeyValueStore read failed'); }
        if (__entry.missing || key !== 'door') { throw new Error('key not found: ' + key); }
        return __entry.value;
      },
    };
  },
  updateRequestOrigin: function (origin) { __origin = origin; },
};
"#;

const RUN: &str = r#"
globalThis.__route = function (event, entry) {
  __entry = entry; __origin = null; __out = null;
  handler(event).then(
    function (returned) { __out = JSON.stringify({ returned: returned, origin: __origin }); },
    function (e) { __out = JSON.stringify({ error: String(e) }); });
};
"#;

impl Door {
    /// Loads `source` after [`check`]: refused with what CloudFront would refuse.
    pub fn load(source: &str) -> Result<Door, String> {
        let refused = check(source);
        if !refused.is_empty() {
            return Err(refused.join("; "));
        }
        let body: String = source
            .lines()
            .filter(|l| l.trim() != IMPORT)
            .collect::<Vec<_>>()
            .join("\n");
        let runtime = rquickjs::Runtime::new().map_err(|e| e.to_string())?;
        let context = rquickjs::Context::full(&runtime).map_err(|e| e.to_string())?;
        context.with(|ctx| {
            ctx.eval::<(), _>(format!("{HARNESS}\n{body}\n{RUN}"))
                .map_err(|e| explain(&ctx, e))
        })?;
        Ok(Door { runtime, context })
    }

    /// Runs the function on `request` with `entry` in the store.
    pub fn route(&self, request: &ViewerRequest, entry: &Entry) -> Result<Routed, String> {
        let entry = match entry {
            Entry::Missing => serde_json::json!({ "missing": true }),
            Entry::Failing => serde_json::json!({ "fail": true }),
            Entry::Value(v) => serde_json::json!({ "value": v }),
        };
        let call = format!("__route({}, {});", request.event(), entry);
        self.context.with(|ctx| {
            ctx.eval::<(), _>(call.as_str())
                .map_err(|e| explain(&ctx, e))
        })?;
        while self.runtime.is_job_pending() {
            self.runtime
                .execute_pending_job()
                .map_err(|e| format!("a pending job failed: {e:?}"))?;
        }
        let out: Option<String> = self.context.with(|ctx| {
            ctx.eval::<Option<String>, _>("__out")
                .map_err(|e| explain(&ctx, e))
        })?;
        let out: serde_json::Value =
            serde_json::from_str(&out.ok_or("the handler's promise never settled")?)
                .map_err(|e| e.to_string())?;
        if let Some(error) = out.get("error") {
            return Ok(Routed::Refused {
                error: EXECUTION_ERROR,
                why: format!("the function threw: {error}"),
            });
        }
        let returned = &out["returned"];
        if let Some(status) = returned.get("statusCode").and_then(|s| s.as_u64()) {
            let headers = returned["headers"]
                .as_object()
                .map(|h| {
                    h.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v["value"].as_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            return Ok(Routed::Answered {
                status: u16::try_from(status).map_err(|e| e.to_string())?,
                headers,
                body: returned["body"].as_str().unwrap_or_default().to_owned(),
            });
        }
        match &out["origin"] {
            serde_json::Value::Null => Ok(Routed::Controller),
            origin => match check_origin(origin) {
                Ok(_) => Ok(Routed::Origin(origin.clone())),
                Err(why) => Ok(Routed::Refused {
                    error: VALIDATION_ERROR,
                    why: format!("updateRequestOrigin({origin}): {why}"),
                }),
            },
        }
    }
}

fn explain(ctx: &rquickjs::Ctx<'_>, e: rquickjs::Error) -> String {
    match e {
        rquickjs::Error::Exception => {
            let thrown = ctx.catch();
            match thrown.as_exception() {
                Some(ex) => format!(
                    "{} {}",
                    ex.message().unwrap_or_default(),
                    ex.stack().unwrap_or_default()
                ),
                None => format!("{thrown:?}"),
            }
        }
        other => other.to_string(),
    }
}
