"""Weights & Biases experiment tracking: the API key's path to the pods (SaaS, dedicated cloud or self-managed),
and the self-managed server itself (`WandbServerPlatform`).

The chain, with the key never in plain text outside the two secret stores:
Pulumi secret config `mlopsgen:wandbApiKey` -> AWS Secrets Manager secret (stack KMS key) -> External
Secrets Operator -> Kubernetes secret `wandb` (key WANDB_API_KEY) in each namespace whose pods log runs, next
to a ConfigMap `wandb` with WANDB_BASE_URL, WANDB_ENTITY and WANDB_PROJECT. Set the key with
`pulumi config set --secret wandbApiKey <key>`.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.components.aws.eks import EksCluster
from infra.components.aws.kubeflow import ClusterAddons
from infra.components.aws.network import Network
from infra.components.aws.security import EncryptionKey
from infra.components.aws.storage import ArtifactStore
from infra.components.base import Capability, StackContext
from infra.components.kubernetes.workloads import Cluster, from_namespace, https_egress
from infra.policy.aws.identity import ROTATED_BY
from infra.profiles.model import WandbSaas, WandbServer

API_KEY_CONFIG = "wandbApiKey"
LICENSE_CONFIG = "wandbLicense"
OPERATOR_CHART_VERSION = "1.3.7"  # W&B's operator chart (charts.wandb.ai); bump deliberately
WANDB_NAMESPACE = "wandb"
WANDB_SERVICE_ACCOUNT = "wandb-app"
NAMESPACES = ("kubeflow", "mlops-jobs")  # pipeline runs log training; the jobs register and promote models


class WandbTracking(Capability):
    capability = "tracking"

    def __init__(self, name: str, ctx: StackContext, args: WandbSaas | WandbServer, *, key: EncryptionKey,
                 addons: ClusterAddons, namespaces: list[pulumi.Resource],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:aws:WandbTracking", name, opts)
        api_key = pulumi.Config().require_secret(API_KEY_CONFIG)
        self.secret = aws.secretsmanager.Secret(
            f"{name}-api-key", name=ctx.name("wandb-api-key", 512), kms_key_id=key.arn,
            description="Weights & Biases API key (from the Pulumi secret config wandbApiKey)",
            recovery_window_in_days=30 if ctx.protect_data else 0,
            # W&B issues the key, so Secrets Manager cannot rotate it: rotate it in W&B, then set the config again.
            tags={ROTATED_BY: "issuer"}, opts=self.child(),
        )
        version = aws.secretsmanager.SecretVersion(
            f"{name}-api-key-value", secret_id=self.secret.id, secret_string=api_key, opts=self.child())
        self.url = args.base_url
        for namespace in NAMESPACES:
            addons.sync_secret(f"{name}-{namespace}-secret", namespace, "wandb", self.secret.arn,
                               {"WANDB_API_KEY": None}, [version, *namespaces])
            k8s.core.v1.ConfigMap(
                f"{name}-{namespace}-settings",
                metadata={"name": "wandb", "namespace": namespace},
                data={"WANDB_BASE_URL": args.base_url, "WANDB_ENTITY": args.entity,
                      "WANDB_PROJECT": args.project or ctx.prefix},
                opts=addons.kube.opts(depends_on=namespaces, parent=self),
            )
        self.register_outputs({"secretArn": self.secret.arn, "url": self.url})


class WandbServerPlatform(Capability):
    """Self-managed W&B server (`tracking.kind: wandb-server`): W&B's Kubernetes operator at a pinned chart
    version, a `WeightsAndBiases` instance, and the stores it needs, each secure by default:
    - Aurora MySQL 8.0 (W&B's supported database): KMS at rest, private, TLS required and binlog in ROW format
      (cluster parameter group), IAM authentication, audit/error/slow-query logs exported, RDS-managed password
      synced into the `wandb` namespace by ESO, Performance Insights encrypted with the stack's key;
    - ElastiCache Redis 7.1: at-rest encryption with the stack's key, in-transit encryption required, Multi-AZ
      failover when it has a replica;
    - the artifacts bucket under `wandb/` (KMS), reached by the server's pods through Pod Identity;
    - the license: the Pulumi secret config `wandbLicense` -> Secrets Manager -> ESO -> secret `wandb-license`.
    W&B publishes the server only under a license; without `wandbLicense` the program stops at `pulumi up`.
    """

    capability = "tracking"

    def __init__(self, name: str, ctx: StackContext, args: WandbServer, *, key: EncryptionKey, network: Network,
                 eks: EksCluster, addons: ClusterAddons, store: ArtifactStore,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:aws:WandbServer", name, opts)
        kube = Cluster(eks.provider, self)
        vpc = ctx.spec.body.networking.cidr
        self.namespace = kube.namespace(
            WANDB_NAMESPACE,
            ingress_from=[from_namespace(n, 8080) for n in ("kubeflow", "mlops-jobs")],
            egress_to=[https_egress(), {"to": [{"ipBlock": {"cidr": vpc}}],  # Aurora and Redis in the VPC
                                        "ports": [{"protocol": "TCP", "port": p} for p in (3306, 6379)]}],
        )
        from_cluster = eks.cluster.vpc_config.cluster_security_group_id
        self.database = self._database(name, ctx, args, key, network, from_cluster)
        self.cache = self._cache(name, ctx, args, key, network, from_cluster)
        role = eks.workload_role(f"{name}-app-pod", WANDB_NAMESPACE, WANDB_SERVICE_ACCOUNT)
        store.artifacts.grant_read_write(role, "wandb/")
        key.grant_use(role)
        license_secret = aws.secretsmanager.Secret(
            f"{name}-license", name=ctx.name("wandb-license", 512), kms_key_id=key.arn,
            description="W&B server license (from the Pulumi secret config wandbLicense)",
            recovery_window_in_days=30 if ctx.protect_data else 0, tags={ROTATED_BY: "issuer"}, opts=self.child(),
        )
        license_value = aws.secretsmanager.SecretVersion(
            f"{name}-license-value", secret_id=license_secret.id,
            secret_string=pulumi.Config().require_secret(LICENSE_CONFIG), opts=self.child())
        synced = [
            addons.sync_secret(f"{name}-license-secret", WANDB_NAMESPACE, "wandb-license", license_secret.arn,
                               {"license": None}, [license_value, self.namespace]),
            addons.sync_secret(f"{name}-mysql-secret", WANDB_NAMESPACE, "wandb-mysql",
                               self.database.master_user_secrets[0].secret_arn,
                               {"username": "username", "password": "password"}, [self.namespace]),
        ]
        operator = k8s.helm.v3.Release(
            f"{name}-operator", name="operator", chart="operator", version=OPERATOR_CHART_VERSION,
            repository_opts={"repo": "https://charts.wandb.ai"}, namespace=WANDB_NAMESPACE, atomic=True,
            opts=kube.opts(depends_on=[self.namespace]),
        )
        self.url = args.base_url
        # The instance: the operator renders W&B's charts from these values (global.* as W&B documents them).
        k8s.apiextensions.CustomResource(
            f"{name}-instance", api_version="apps.wandb.com/v1", kind="WeightsAndBiases",
            metadata={"name": "wandb", "namespace": WANDB_NAMESPACE},
            spec={"values": {
                "global": {
                    "host": self.url,
                    "licenseSecret": {"name": "wandb-license", "key": "license"},
                    "bucket": {"provider": "s3", "name": store.artifacts.id, "path": "wandb", "region": ctx.region,
                               "kmsKey": key.arn},
                    "mysql": {"host": self.database.endpoint, "port": 3306, "database": "wandb_local",
                              "user": "wandb", "passwordSecret": {"name": "wandb-mysql", "passwordKey": "password"},
                              "tls": True},
                    "redis": {"host": self.cache.primary_endpoint_address, "port": 6379, "params": {"tls": "true"}},
                },
                "app": {"serviceAccount": {"create": True, "name": WANDB_SERVICE_ACCOUNT}},
            }},
            opts=kube.opts(depends_on=[operator, *synced]),
        )
        self.register_outputs({"url": self.url, "database": self.database.endpoint})

    def _database(self, name: str, ctx: StackContext, args: WandbServer, key: EncryptionKey, network: Network,
                  from_cluster: pulumi.Input[str]) -> aws.rds.Cluster:
        db = args.database
        sg = network.security_group(f"{name}-db-sg", "W&B Aurora MySQL", self, aws_apis=False)
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-db-from-cluster", security_group_id=sg.id, referenced_security_group_id=from_cluster,
            ip_protocol="tcp", from_port=3306, to_port=3306, description="MySQL from the EKS cluster's pods",
            opts=self.child())
        subnets = aws.rds.SubnetGroup(f"{name}-db-subnets", name=ctx.name("wandb-db"),
                                      subnet_ids=network.subnet_ids, opts=self.child())
        parameters = aws.rds.ClusterParameterGroup(
            f"{name}-db-parameters", name=ctx.name("wandb-db"), family="aurora-mysql8.0",
            description="W&B Aurora MySQL: TLS only, binlog in ROW format",
            parameters=[{"name": "require_secure_transport", "value": "ON"},
                        {"name": "binlog_format", "value": "ROW", "apply_method": "pending-reboot"}],
            opts=self.child())
        cluster = aws.rds.Cluster(
            f"{name}-db", cluster_identifier=ctx.name("wandb-db"), engine="aurora-mysql",
            engine_version=db.engine_version, database_name="wandb_local", master_username="wandb",
            manage_master_user_password=True, master_user_secret_kms_key_id=key.arn,
            storage_encrypted=True, kms_key_id=key.arn, db_subnet_group_name=subnets.name,
            db_cluster_parameter_group_name=parameters.name, vpc_security_group_ids=[sg.id],
            deletion_protection=db.deletion_protection, backup_retention_period=db.backup_retention_days,
            skip_final_snapshot=not ctx.protect_data,
            final_snapshot_identifier=ctx.name("wandb-db-final") if ctx.protect_data else None,
            copy_tags_to_snapshot=True, iam_database_authentication_enabled=True,
            enabled_cloudwatch_logs_exports=["audit", "error", "slowquery"],
            opts=ctx.data_options(self))
        for i in range(db.instances):
            aws.rds.ClusterInstance(
                f"{name}-db-{i}", identifier=ctx.name(f"wandb-db-{i}"), cluster_identifier=cluster.id,
                engine=aws.rds.EngineType.AURORA_MYSQL, engine_version=db.engine_version,
                instance_class=db.instance_class,
                db_subnet_group_name=subnets.name, publicly_accessible=False, auto_minor_version_upgrade=True,
                performance_insights_enabled=True, performance_insights_kms_key_id=key.arn,
                opts=self.child())
        return cluster

    def _cache(self, name: str, ctx: StackContext, args: WandbServer, key: EncryptionKey, network: Network,
               from_cluster: pulumi.Input[str]) -> aws.elasticache.ReplicationGroup:
        cache = args.cache
        sg = network.security_group(f"{name}-redis-sg", "W&B Redis", self, aws_apis=False)
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-redis-from-cluster", security_group_id=sg.id, referenced_security_group_id=from_cluster,
            ip_protocol="tcp", from_port=6379, to_port=6379, description="Redis from the EKS cluster's pods",
            opts=self.child())
        subnets = aws.elasticache.SubnetGroup(f"{name}-redis-subnets", name=ctx.name("wandb-redis"),
                                              subnet_ids=network.subnet_ids, opts=self.child())
        return aws.elasticache.ReplicationGroup(
            f"{name}-redis", replication_group_id=ctx.name("wandb-redis", 40), description="W&B server cache",
            engine="redis", engine_version="7.1", node_type=cache.node_type, port=6379,
            num_cache_clusters=1 + cache.replicas, automatic_failover_enabled=cache.replicas > 0,
            multi_az_enabled=cache.replicas > 0, subnet_group_name=subnets.name, security_group_ids=[sg.id],
            at_rest_encryption_enabled=True, kms_key_id=key.arn, transit_encryption_enabled=True,
            transit_encryption_mode="required", snapshot_retention_limit=7, auto_minor_version_upgrade=True,
            opts=self.child())
