//! The front door as the Terraform module configures it: the HTTP API's routes, their
//! authorization, the Lambda permission, the distribution's origins, their custom headers and
//! the default behaviour's methods. Read from `infra/test/front-door.json`, which the moto
//! apply writes from `terraform show -json` of the module it applied (and a plan with
//! `api_auth = "iam"`), and which CI regenerates and compares: the simulated edge and API
//! Gateway are configured by the module itself, never by a copy written by hand.

use super::HttpApiConfig;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The fixture the moto apply writes from the module (both `api_auth` variants).
pub const MODULE_FRONT_DOOR: &str = include_str!("../../../infra/test/front-door.json");

/// The distribution's default behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ModuleBehavior {
    /// The origin it sends requests to.
    pub target_origin_id: String,
    /// The methods it takes; CloudFront answers 403 to the others.
    pub allowed_methods: Vec<String>,
}

/// One of the distribution's origins.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ModuleOrigin {
    /// Its id.
    pub origin_id: String,
    /// Its domain (`${api_domain}` for the API's own).
    pub domain_name: String,
    /// Its path, prefixed to every request's (empty: none).
    pub origin_path: String,
    /// Its custom headers, names in lower case (`${door_secret}` for the door's secret).
    pub custom_headers: BTreeMap<String, String>,
}

/// The distribution.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ModuleDistribution {
    /// Its origins.
    pub origins: Vec<ModuleOrigin>,
    /// Its default cache behaviour.
    pub default_behavior: ModuleBehavior,
}

/// The front door of one `api_auth` variant of the module.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FrontDoorConfig {
    /// The HTTP API in front of the controller.
    pub api: HttpApiConfig,
    /// The CloudFront distribution.
    pub distribution: ModuleDistribution,
}

impl FrontDoorConfig {
    /// The module's front door for `api_auth` (`token` or `iam`), with its placeholders
    /// filled: `${execution_arn}`, `${api_domain}` and `${door_secret}`.
    pub fn from_module(
        api_auth: &str,
        execution_arn: &str,
        api_domain: &str,
        door_secret: &str,
    ) -> Result<FrontDoorConfig, String> {
        Self::parse(
            MODULE_FRONT_DOOR,
            api_auth,
            execution_arn,
            api_domain,
            door_secret,
        )
    }

    /// As [`FrontDoorConfig::from_module`], from `fixture`'s text.
    pub fn parse(
        fixture: &str,
        api_auth: &str,
        execution_arn: &str,
        api_domain: &str,
        door_secret: &str,
    ) -> Result<FrontDoorConfig, String> {
        let filled = fixture
            .replace("${execution_arn}", execution_arn)
            .replace("${api_domain}", api_domain)
            .replace("${door_secret}", door_secret);
        let mut variants: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(&filled).map_err(|e| format!("the front door's fixture: {e}"))?;
        let variant = variants.remove(api_auth).ok_or(format!(
            "the front door's fixture has no `{api_auth}` variant (api_auth is token or iam)"
        ))?;
        serde_json::from_value(variant).map_err(|e| format!("the front door's fixture: {e}"))
    }

    /// The origin the default behaviour sends to: the controller's.
    pub fn controller_origin(&self) -> Result<&ModuleOrigin, String> {
        let id = &self.distribution.default_behavior.target_origin_id;
        self.distribution
            .origins
            .iter()
            .find(|o| &o.origin_id == id)
            .ok_or(format!(
                "the default behaviour's origin `{id}` is not an origin"
            ))
    }
}
