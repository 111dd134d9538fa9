# Sourced by infra/test/moto-apply and infra/rehearse: moto's server on a free loopback port,
# the example pointed at it, a stand-in for the Lambda's zip, and the check that a destroy
# left nothing. Needs .ci/lib.sh sourced first (the venv's Python, free_port).

# Starts moto's server (with the custom domain's target that moto leaves out; ACM issues at
# once) on a free port of loopback: sets moto_port, moto_pid and moto_url.
moto_start() {
  local log="$1"
  moto_port="$(free_port)"
  moto_url="http://127.0.0.1:$moto_port"
  MOTO_ACM_VALIDATION_WAIT=0 MOTO_RUST_CALL_DELAY_MS=30 "$py" "$repo/infra/test/moto_server.py" -H 127.0.0.1 -p "$moto_port" >"$log" 2>&1 &
  moto_pid=$!
  for _ in $(seq 1 100); do
    curl -sf "$moto_url/moto-api/" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "moto's server did not start on $moto_url:" >&2
  cat "$log" >&2
  return 1
}

moto_stop() {
  if [ -n "${moto_pid:-}" ]; then
    kill "$moto_pid" 2>/dev/null || true
    wait "$moto_pid" 2>/dev/null || true
  fi
}

# Writes the provider override that points the example in $1 at moto (never used for real).
moto_override() {
  sed "s/MOTO_PORT/$moto_port/g" "$repo/infra/test/moto_override.tf.template" >"$1/moto_override.tf"
}

# moto does not run the function: a tiny zip stands in for bootstrap.zip, at $1.
stand_in_zip() {
  mkdir -p "$(dirname "$1")"
  "$py" - "$1" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("bootstrap", "#!/bin/sh\necho stand-in\n")
PY
}

# Fails, naming them, when moto still holds anything the example made (after a destroy).
moto_nothing_left() {
  "$py" - "$moto_port" <<'PY'
import sys, boto3
kw = dict(endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="eu-west-3",
          aws_access_key_id="testing", aws_secret_access_key="testing")
left = []
ecs = boto3.client("ecs", **kw)
arns = ecs.list_clusters()["clusterArns"]
# A deleted cluster stays describable as INACTIVE, as in ECS.
left += [c["clusterArn"] for c in (ecs.describe_clusters(clusters=arns)["clusters"] if arns else []) if c["status"] != "INACTIVE"]
left += [f["FunctionName"] for f in boto3.client("lambda", **kw).list_functions()["Functions"]]
left += [a["Name"] for a in boto3.client("apigatewayv2", **kw).get_apis()["Items"]]
left += [f["FileSystemId"] for f in boto3.client("efs", **kw).describe_file_systems()["FileSystems"]]
left += [g["logGroupName"] for g in boto3.client("logs", **kw).describe_log_groups()["logGroups"]]
left += [r["RoleName"] for r in boto3.client("iam", **kw).list_roles()["Roles"] if r["RoleName"].startswith("grafana-ondemand")]
left += [v["VpcId"] for v in boto3.client("ec2", **kw).describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
left += [s["Name"] for s in boto3.client("scheduler", **kw).list_schedules()["Schedules"]]
left += [p["Name"] for p in boto3.client("ssm", **kw).describe_parameters()["Parameters"]]
left += [r["Name"] for r in boto3.client("events", **kw).list_rules()["Rules"]]
left += [t["TopicArn"] for t in boto3.client("sns", **kw).list_topics()["Topics"]]
left += [c["CertificateArn"] for c in boto3.client("acm", **kw).list_certificates()["CertificateSummaryList"]]
left += [d["DomainName"] for d in boto3.client("apigatewayv2", **kw).get_domain_names()["Items"]]
left += [c["CertificateArn"] for c in boto3.client("acm", **{**kw, "region_name": "us-east-1"}).list_certificates()["CertificateSummaryList"]]
left += [d["Id"] for d in boto3.client("cloudfront", **kw).list_distributions()["DistributionList"].get("Items", [])]
r53 = boto3.client("route53", **kw)
for zone in r53.list_hosted_zones()["HostedZones"]:
    left += [f"{s['Name']} {s['Type']}" for s in r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
             if s["Type"] not in ("NS", "SOA", "CAA")]
if left:
    sys.exit(f"destroy left: {left}")
print("destroy: nothing left")
PY
}
