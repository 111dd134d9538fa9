"""The front door as the module deploys it, for the simulated edge and API Gateway.

Reads `terraform show -json` of the applied example (api_auth = token) and of a plan of the
same deployment with api_auth = iam, and prints infra/test/front-door.json: per variant, the
HTTP API's stage, routes and their authorization, the integration, the Lambda permissions'
source ARNs, and the distribution's origins, custom headers and default behaviour. The API's
execution ARN and domain and the door's secret become placeholders the tests fill.
Usage: python3 front_door_fixture.py STATE.json PLAN_IAM.json
"""
import json
import sys


def resources(module):
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from resources(child)


def front_door(root):
    by_type = {}
    for r in resources(root):
        by_type.setdefault(r["type"], []).append(r["values"])
    (api,) = by_type["aws_apigatewayv2_api"]
    (stage,) = by_type["aws_apigatewayv2_stage"]
    (integration,) = by_type["aws_apigatewayv2_integration"]
    (distribution,) = by_type["aws_cloudfront_distribution"]
    secret = by_type["terraform_data"]
    execution_arn, api_id = api["execution_arn"], api["id"]
    domain = api["api_endpoint"].removeprefix("https://")
    secrets = {d["output"] for d in secret if isinstance(d.get("output"), str) and len(d["output"]) >= 16}

    def hide(text):
        text = text.replace(execution_arn, "${execution_arn}").replace(domain, "${api_domain}")
        for s in secrets:
            text = text.replace(s, "${door_secret}")
        return text

    assert integration["integration_type"] == "AWS_PROXY", integration
    routes = sorted(
        ({"route_key": r["route_key"], "authorization_type": r["authorization_type"]}
         for r in by_type["aws_apigatewayv2_route"] if r["api_id"] == api_id),
        key=lambda r: r["route_key"])
    permissions = sorted(hide(p["source_arn"]) for p in by_type.get("aws_lambda_permission", [])
                         if p["principal"] == "apigateway.amazonaws.com")
    origins = sorted(
        ({"origin_id": o["origin_id"], "domain_name": hide(o["domain_name"]),
          "origin_path": o.get("origin_path") or "",
          "custom_headers": {h["name"].lower(): hide(h["value"]) for h in o.get("custom_header", [])}}
         for o in distribution["origin"]),
        key=lambda o: o["origin_id"])
    (behavior,) = distribution["default_cache_behavior"]
    return {
        "api": {
            "stage": stage["name"],
            "routes": routes,
            "payload_format_version": integration["payload_format_version"],
            "timeout_milliseconds": integration["timeout_milliseconds"],
            "permission_source_arns": permissions,
        },
        "distribution": {
            "origins": origins,
            "default_behavior": {
                "target_origin_id": behavior["target_origin_id"],
                "allowed_methods": sorted(behavior["allowed_methods"]),
            },
        },
    }


state = json.load(open(sys.argv[1]))
plan = json.load(open(sys.argv[2]))
fixture = {
    "iam": front_door(plan["planned_values"]["root_module"]),
    "token": front_door(state["values"]["root_module"]),
}
print(json.dumps(fixture, indent=2, sort_keys=True))
