"""What runs on the EKS cluster for the whole stack: cluster add-ons, and Kubeflow Pipelines on S3 + RDS.

Upstream software is referenced by pinned version and installed by the real engine (Helm charts through
`helm.v3.Release`, KFP's kustomize manifests through `kustomize.v2.Directory`); offline those are recorded,
not rendered. The project's own configuration around them (values, the KFP overlay, patches, ConfigMaps,
ExternalSecrets) is declared here and checked offline against the schemas.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.components.aws.eks import EksCluster
from infra.components.aws.network import Network
from infra.components.aws.security import EncryptionKey
from infra.components.aws.storage import ArtifactStore
from infra.components.aws.tracking import RDS_MONITORING_POLICY
from infra.components.base import Capability, Grantable, StackContext, new_role
from infra.components.kubernetes.workloads import Cluster
from infra.profiles.model import KubeflowPipelinesInstall

# Pinned releases (bump deliberately; the offline checks compare the KFP overlay against KFP_VERSION).
CERT_MANAGER_VERSION = "v1.18.2"
EXTERNAL_SECRETS_VERSION = "0.19.2"
KSERVE_VERSION = "v0.20.0"
KFP_VERSION = "2.17.0"
KFP_NAMESPACE = "kubeflow"
KFP_OVERLAY_DIR = Path(__file__).resolve().parents[1] / "kubernetes" / "kubeflow"  # shipped with the package
KFP_CLUSTER_SCOPED = (
    f"https://github.com/kubeflow/pipelines/manifests/kustomize/cluster-scoped-resources?ref={KFP_VERSION}"
)
SECRET_STORE = "aws-secrets-manager"


def overlay_directory() -> str:
    """The project's KFP overlay relative to the working directory (where Pulumi runs the program): in the
    source tree `infra/components/kubernetes/kubeflow`, in a project that installed mlopsgen its package copy.
    Relative, so no machine's absolute path ends up in the stack's state."""
    return os.path.relpath(KFP_OVERLAY_DIR, Path.cwd())


class ClusterAddons(Capability):
    """cert-manager, External Secrets Operator (with a ClusterSecretStore on Secrets Manager) and KServe in
    Standard (raw deployment) mode: no Knative or Istio, see README "Serving on KServe"."""

    capability = "cluster"

    def __init__(self, name: str, ctx: StackContext, eks: EksCluster, key: EncryptionKey,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:aws:ClusterAddons", name, opts)
        kube = Cluster(eks.provider, self)
        self.kube = kube
        cert_manager = k8s.helm.v3.Release(
            f"{name}-cert-manager", name="cert-manager", chart="cert-manager", version=CERT_MANAGER_VERSION,
            repository_opts={"repo": "https://charts.jetstack.io"}, namespace="cert-manager",
            create_namespace=True, atomic=True,
            values={"crds": {"enabled": True}, "global": {"leaderElection": {"namespace": "cert-manager"}}},
            opts=kube.opts(),
        )
        self.eso_role = eks.workload_role(f"{name}-external-secrets", "external-secrets", "external-secrets")
        key.grant_use(self.eso_role)
        self.external_secrets = k8s.helm.v3.Release(
            f"{name}-external-secrets", name="external-secrets", chart="external-secrets",
            version=EXTERNAL_SECRETS_VERSION, repository_opts={"repo": "https://charts.external-secrets.io"},
            namespace="external-secrets", create_namespace=True, atomic=True,
            values={"installCRDs": True, "serviceAccount": {"name": "external-secrets"},
                    "securityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True,
                                        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}},
            opts=kube.opts(),
        )
        self.secret_store = k8s.apiextensions.CustomResource(
            f"{name}-secret-store", api_version="external-secrets.io/v1", kind="ClusterSecretStore",
            metadata={"name": SECRET_STORE},
            spec={
                # No auth block: the controller's own credentials (Pod Identity, role above).
                "provider": {"aws": {"service": "SecretsManager", "region": ctx.region}},
                # The namespaces that receive synced secrets (`wandb`: the self-managed W&B server, if any).
                "conditions": [{"namespaces": ["kubeflow", "mlops-serving", "mlops-jobs", "wandb"]}],
            },
            opts=kube.opts(depends_on=[self.external_secrets]),
        )
        kserve_crd = k8s.helm.v3.Release(
            f"{name}-kserve-crd", name="kserve-crd", chart="oci://ghcr.io/kserve/charts/kserve-crd",
            version=KSERVE_VERSION, namespace="kserve", create_namespace=True, atomic=True,
            opts=kube.opts(depends_on=[cert_manager]),
        )
        self.kserve = k8s.helm.v3.Release(
            f"{name}-kserve", name="kserve", chart="oci://ghcr.io/kserve/charts/kserve", version=KSERVE_VERSION,
            namespace="kserve", create_namespace=True, atomic=True,
            values={"kserve": {"controller": {"deploymentMode": "Standard"}}},
            opts=kube.opts(depends_on=[kserve_crd]),
        )
        self._readable: list[pulumi.Input[str]] = []
        self.register_outputs({})

    def sync_secret(self, logical: str, namespace: str, target: str, secret_arn: pulumi.Input[str],
                    keys: dict[str, str | None], depends_on: list[pulumi.Resource]) -> Any:
        """A Kubernetes secret `target` in `namespace` kept in sync with a Secrets Manager secret.

        `keys` maps each key of the Kubernetes secret to a JSON property of the secret's value (None: the
        whole value). The ESO controller is allowed to read exactly the secrets synced this way.
        """
        self.eso_role.allow(f"read-{logical}", [{
            "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": secret_arn,
        }])
        data = [{"secretKey": k, "remoteRef": {"key": secret_arn, **({"property": p} if p else {})}}
                for k, p in keys.items()]
        return k8s.apiextensions.CustomResource(
            logical, api_version="external-secrets.io/v1", kind="ExternalSecret",
            metadata={"name": target, "namespace": namespace},
            spec={"refreshInterval": "1h", "secretStoreRef": {"kind": "ClusterSecretStore", "name": SECRET_STORE},
                  "target": {"name": target, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
                  "data": data},
            opts=self.kube.opts(depends_on=[self.secret_store, *depends_on]),
        )


class KubeflowPipelines(Capability):
    """Standalone Kubeflow Pipelines at KFP_VERSION with its metadata in RDS MySQL and artifacts in S3."""

    capability = "training"

    def __init__(
        self, name: str, ctx: StackContext, args: KubeflowPipelinesInstall, *, eks: EksCluster,
        addons: ClusterAddons, key: EncryptionKey, store: ArtifactStore, network: Network,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlopsgen:aws:KubeflowPipelines", name, opts)
        kube = Cluster(eks.provider, self)
        db = args.database
        db_sg = network.security_group(f"{name}-db-sg", "Kubeflow Pipelines MySQL")
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-db-from-cluster", security_group_id=db_sg.id,
            referenced_security_group_id=eks.cluster.vpc_config.cluster_security_group_id,
            ip_protocol="tcp", from_port=3306, to_port=3306, description="MySQL from the EKS cluster's pods",
            opts=self.child(),
        )
        subnets = aws.rds.SubnetGroup(f"{name}-db-subnets", name=ctx.name("kfp-db"),
                                      subnet_ids=network.subnet_ids, opts=self.child())
        major = ".".join(db.engine_version.split(".")[:2])
        parameters = aws.rds.ParameterGroup(
            f"{name}-db-parameters", name=ctx.name("kfp-db"), family=f"mysql{major}",
            description="Kubeflow Pipelines MySQL: TLS only, slow-query log",
            parameters=[
                {"name": "require_secure_transport", "value": "1"},
                {"name": "slow_query_log", "value": "1"},
                {"name": "long_query_time", "value": str(db.slow_query_seconds)},
                {"name": "log_output", "value": "FILE"},  # FILE: the log exports read the files
            ],
            opts=self.child(),
        )
        monitoring: dict[str, Any] = {}
        if db.enhanced_monitoring:
            role = new_role(ctx, f"{name}-db-monitoring-role", "kfp-db-monitoring", self,
                            "monitoring.rds.amazonaws.com")
            aws.iam.RolePolicyAttachment(f"{name}-db-monitoring", role=role.role.name,
                                         policy_arn=RDS_MONITORING_POLICY, opts=self.child())
            monitoring = {"monitoring_interval": 60, "monitoring_role_arn": role.arn}
        insights: dict[str, Any] = {"performance_insights_enabled": db.performance_insights}
        if db.performance_insights:
            insights |= {"performance_insights_kms_key_id": key.arn, "performance_insights_retention_period": 7}
        self.database = aws.rds.Instance(
            f"{name}-db", identifier=ctx.name("kfp-db"), engine="mysql", engine_version=db.engine_version,
            instance_class=db.instance_class, allocated_storage=db.allocated_storage_gb, storage_type="gp3",
            storage_encrypted=True, kms_key_id=key.arn, username="kfp",
            manage_master_user_password=True, master_user_secret_kms_key_id=key.arn,
            db_subnet_group_name=subnets.name, vpc_security_group_ids=[db_sg.id], publicly_accessible=False,
            multi_az=db.multi_az, deletion_protection=db.deletion_protection,
            backup_retention_period=db.backup_retention_days, skip_final_snapshot=not ctx.protect_data,
            final_snapshot_identifier=ctx.name("kfp-db-final") if ctx.protect_data else None,
            copy_tags_to_snapshot=True, auto_minor_version_upgrade=True, parameter_group_name=parameters.name,
            iam_database_authentication_enabled=True,
            enabled_cloudwatch_logs_exports=["error", "slowquery"] if db.log_exports else [],
            **monitoring, **insights,
            opts=ctx.data_options(self),
        )
        bucket = store.artifacts
        # Upstream, by pinned version: CRDs and cluster roles first, then the platform through the overlay.
        cluster_scoped = k8s.kustomize.v2.Directory(
            f"{name}-cluster-scoped", directory=KFP_CLUSTER_SCOPED, opts=kube.opts())
        self.platform = k8s.kustomize.v2.Directory(
            f"{name}-platform", directory=overlay_directory(), opts=kube.opts(depends_on=[cluster_scoped]))
        after = kube.opts(depends_on=[self.platform])
        # Pipeline roots and the API server's object store: the artifacts bucket, under `pipelines/`.
        k8s.core.v1.ConfigMapPatch(
            f"{name}-install-config",
            metadata={"name": "pipeline-install-config", "namespace": KFP_NAMESPACE,
                      "annotations": {"pulumi.com/patchForce": "true"}},
            data={"mysqlHost": self.database.address, "mysqlPort": "3306", "dbType": "mysql",
                  "bucketName": bucket.id,
                  "defaultPipelineRoot": pulumi.Output.concat("s3://", bucket.id, "/pipelines")},
            opts=after,
        )
        addons.sync_secret(f"{name}-mysql-secret", KFP_NAMESPACE, "mysql-secret",
                           self.database.master_user_secrets[0].secret_arn,
                           {"username": "username", "password": "password"}, [self.platform])
        k8s.apps.v1.DeploymentPatch(
            f"{name}-api-server-s3",
            metadata={"name": "ml-pipeline", "namespace": KFP_NAMESPACE,
                      "annotations": {"pulumi.com/patchForce": "true"}},
            spec={"template": {"spec": {"containers": [{"name": "ml-pipeline-api-server", "env": [
                {"name": "OBJECTSTORECONFIG_HOST", "value": pulumi.Output.concat("s3.", ctx.region,
                                                                                  ".amazonaws.com")},
                {"name": "OBJECTSTORECONFIG_PORT", "value": "443"},
                # The database refuses plain connections (require_secure_transport). The RDS CA is not in the
                # image's trust store, so the driver encrypts without verifying the server (README: limits).
                {"name": "DBCONFIG_MYSQLCONFIG_EXTRAPARAMS", "value": '{"tls":"skip-verify"}'},
                {"name": "OBJECTSTORECONFIG_SECURE", "value": "true"},
                {"name": "OBJECTSTORECONFIG_REGION", "value": ctx.region},
                {"name": "OBJECTSTORECONFIG_BUCKETNAME", "value": bucket.id},
                # Empty keys: the AWS default credential chain, i.e. the pod's Pod Identity role.
                {"name": "OBJECTSTORECONFIG_ACCESSKEY", "value": ""},
                {"name": "OBJECTSTORECONFIG_SECRETACCESSKEY", "value": ""},
            ]}]}}},
            opts=after,
        )
        k8s.core.v1.ConfigMapPatch(
            f"{name}-launcher",
            metadata={"name": "kfp-launcher", "namespace": KFP_NAMESPACE,
                      "annotations": {"pulumi.com/patchForce": "true"}},
            data={"defaultPipelineRoot": pulumi.Output.concat("s3://", bucket.id, "/pipelines"),
                  "providers": pulumi.Output.json_dumps({"s3": {"default": {
                      "endpoint": pulumi.Output.concat("s3.", ctx.region, ".amazonaws.com"),
                      "region": ctx.region, "disableSSL": False, "credentials": {"fromEnv": True}}}})},
            opts=after,
        )
        k8s.core.v1.ConfigMapPatch(
            f"{name}-argo-artifacts",
            metadata={"name": "workflow-controller-configmap", "namespace": KFP_NAMESPACE,
                      "annotations": {"pulumi.com/patchForce": "true"}},
            data={"artifactRepository": pulumi.Output.json_dumps({
                "archiveLogs": True,
                "s3": {"bucket": bucket.id, "keyPrefix": "pipelines/artifacts", "region": ctx.region,
                       "endpoint": pulumi.Output.concat("s3.", ctx.region, ".amazonaws.com"),
                       "insecure": False, "useSDKCreds": True},
            })},
            opts=after,
        )
        # Least privilege per workload: the API server and the pipeline runs (Argo's executor, the launcher)
        # read and write only under `pipelines/` in the artifacts bucket.
        self.roles: dict[str, Grantable] = {}
        for account in ("ml-pipeline", "pipeline-runner"):
            role = eks.workload_role(f"{name}-{account}", KFP_NAMESPACE, account)
            bucket.grant_read_write(role, "pipelines/")
            key.grant_use(role)
            self.roles[account] = role
        self.api_url = f"http://ml-pipeline.{KFP_NAMESPACE}.svc.cluster.local:8888"
        self.pipeline_name = "retraining"
        self.register_outputs({"kfpVersion": KFP_VERSION, "database": self.database.address})
