"""What Grafana would find under its provisioning folder at the next start of SERVICE: the
task definition the service runs (moto's, here), Grafana's container command as the module wrote it, run
with the container's environment in a POSIX shell, with /tmp/provisioning moved to DIR and the
final `exec /run.sh` (Grafana itself) left out.

    provisioned_dashboards.py ENDPOINT REGION CLUSTER SERVICE DIR [--expect FILE ...] [--time]

Prints one line per written dashboard file (path, bytes) and, with --time, how long the
command takes with the dashboards and without them (each the median of 20 runs). Exits 1 if
the written set is not exactly the --expect'ed one (paths under dashboards/, relative), or a
file is not JSON.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import boto3

GRAFANA = "exec /run.sh"


def container(endpoint, region, cluster, service):
    ecs = boto3.client("ecs", endpoint_url=endpoint, region_name=region,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    arn = ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
    td = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    grafana = {c["name"]: c for c in td["containerDefinitions"]}["grafana"]
    size = len(json.dumps(td["containerDefinitions"], separators=(",", ":")))
    carried = sum(len(e["name"]) + len(e["value"]) for e in grafana["environment"]
                  if e["name"].startswith("GF_DASHBOARD"))
    return grafana, td["revision"], size, carried


def image_shell(bin_dir):
    """The PATH of a shell like the image's: BusyBox's applets alone in BIN_DIR, as in Grafana's
    Alpine image (their `base64 -d` and `gunzip` are what the start command runs there); where
    there is no BusyBox (macOS), the system's own."""
    busybox = shutil.which("busybox")
    if busybox is None:
        print("  (no busybox here: the command runs in the system's sh, not the image's shell)")
        return os.environ["PATH"]
    for applet in ["sh", "base64", "gunzip", "mkdir", "printf"]:
        os.symlink(busybox, os.path.join(bin_dir, applet))
    print("  (run in BusyBox's sh, base64 and gunzip, as in the image)")
    return bin_dir


def run(parts, env, root):
    script = " && ".join(parts).replace("/tmp/provisioning", root)
    subprocess.run([shutil.which("sh", path=env["PATH"]), "-c", script], env=env, check=True)


def median_ms(parts, env):
    took = []
    for _ in range(20):
        root = tempfile.mkdtemp()
        began = time.perf_counter()
        run(parts, env, root)
        took.append((time.perf_counter() - began) * 1000)
        shutil.rmtree(root)
    return statistics.median(took)


def main():
    args = sys.argv[1:]
    endpoint, region, cluster, service, out = args[:5]
    expect = [a for a in args[5:] if not a.startswith("--")]
    grafana, revision, size, carried = container(endpoint, region, cluster, service)
    assert grafana["entryPoint"] == ["/bin/sh", "-c"], grafana["entryPoint"]
    command = grafana["command"][0]
    assert command.endswith(" && " + GRAFANA), command[-80:]
    parts = command[: -len(" && " + GRAFANA)].split(" && ")
    bin_dir = tempfile.mkdtemp()
    env = {"PATH": image_shell(bin_dir)}
    env.update({e["name"]: e["value"] for e in grafana["environment"]})
    run(parts, env, out)

    dashboards = os.path.join(out, "dashboards")
    written = sorted(
        os.path.relpath(os.path.join(d, f), dashboards)
        for d, _, files in os.walk(dashboards) for f in files if f.endswith(".json"))
    for path in written:
        body = open(os.path.join(dashboards, path), "rb").read()
        json.loads(body)
        print(f"  {path}: {len(body)} bytes")
    providers = open(os.path.join(dashboards, "providers.yaml")).read()
    for path in {p.split("/")[0] for p in written}:
        assert f"/tmp/provisioning/dashboards/{path}" in providers, (path, providers)
    print(f"  task definition revision {revision}: {size / 1024:.1f} KiB of ECS's 64 KiB, "
          f"{carried / 1024:.1f} KiB of it the dashboards")
    if "--time" in args:
        with_ms = median_ms(parts, env)
        # The same command as it was before dashboards: the data source's file alone.
        without = [p for p in parts if "GF_DASHBOARD" not in p and "provisioning/dashboards/" not in p]
        without_ms = median_ms(without, env)
        print(f"  writing them at start: {with_ms:.1f} ms, without dashboards {without_ms:.1f} ms "
              f"(+{with_ms - without_ms:.1f} ms, median of 20, {len(written)} files)")
    shutil.rmtree(bin_dir)
    if expect and written != sorted(expect):
        print(f"provisioned {written}, expected {sorted(expect)}", file=sys.stderr)
        sys.exit(1)


main()
