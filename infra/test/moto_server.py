"""moto_server, with what moto 5.2 leaves out and AWS does: an API Gateway custom domain's
regional target name and hosted zone (an alias record is made to them) and its status; and
EFS's DeleteFileSystemPolicy (without it, `terraform destroy` waits for ever on the policy);
ECS's service-linked role, which ECS creates in an account at its first CreateCluster, under
the name IAM gives it (AWSServiceRoleForECS; moto spells it AWSServiceRoleForecs).
With MOTO_RUST_CALL_DELAY_MS, each call of an AWS SDK for Rust client or of our own EC2 client (the CLI; not Terraform's,
not boto3's) waits that long first: a stand-in for a round trip to a region. Run as `python3 moto_server.py -H 127.0.0.1 -p PORT`, like moto_server; test use only."""

import hashlib
import os
import sys
import time

from moto.apigatewayv2 import models
from moto.ecs.models import EC2ContainerServiceBackend
from moto.efs.responses import EFSResponse
from moto.iam import models as iam_models
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import main

# API Gateway's regional hosted zones (AWS General Reference, API Gateway endpoints).
REGIONAL_ZONES = {
    "us-east-1": "Z1UJRXOUMOOFQ8",
    "eu-west-1": "ZLY8HYME6SFDD",
    "eu-west-3": "Z3KY65QIEKYHQQ",
}

created = models.DomainName.__init__


def with_target(self, domain_name, domain_name_configurations, *args, backend, **kwargs):
    region = backend.region_name
    suffix = hashlib.sha256(domain_name.encode()).hexdigest()[:10]
    for configuration in domain_name_configurations:
        configuration.setdefault("apiGatewayDomainName", f"d-{suffix}.execute-api.{region}.amazonaws.com")
        configuration.setdefault("hostedZoneId", REGIONAL_ZONES.get(region, "Z0MOTOAPIGW"))
        configuration.setdefault("domainNameStatus", "AVAILABLE")
    created(self, domain_name, domain_name_configurations, *args, backend=backend, **kwargs)


models.DomainName.__init__ = with_target


def delete_file_system_policy(self):
    """EFS DeleteFileSystemPolicy: the policy goes; DescribeFileSystemPolicy then answers
    PolicyNotFound, as AWS does."""
    file_system_id = self._get_param("FileSystemId")
    self.efs_backend.file_systems_by_id[file_system_id].file_system_policy = None
    return "{}", {"Content-Type": "application/json"}


EFSResponse.delete_file_system_policy = delete_file_system_policy

iam_models.SERVICE_NAME_CONVERSION["ecs"] = "ECS"
made_cluster = EC2ContainerServiceBackend.create_cluster


def with_service_linked_role(self, *args, **kwargs):
    iam = iam_models.iam_backends[self.account_id][self.partition]
    if not any(r.name == "AWSServiceRoleForECS" for r in iam.get_roles()):
        iam.create_service_linked_role("ecs.amazonaws.com", "ECS's own role", "")
    return made_cluster(self, *args, **kwargs)


EC2ContainerServiceBackend.create_cluster = with_service_linked_role

RUST_DELAY = float(os.environ.get("MOTO_RUST_CALL_DELAY_MS", "0")) / 1000
answer = DomainDispatcherApplication.__call__


def delayed(self, environ, start_response):
    if RUST_DELAY and any(w in environ.get("HTTP_USER_AGENT", "") for w in ("aws-sdk-rust", "grafana-ondemand")):
        time.sleep(RUST_DELAY)
    return answer(self, environ, start_response)


DomainDispatcherApplication.__call__ = delayed

if __name__ == "__main__":
    sys.exit(main())
