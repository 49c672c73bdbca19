"""Experiment tracking: self-hosted MLflow on ECS Fargate, or SageMaker managed MLflow."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.components.aws.network import Network
from infra.components.aws.security import EncryptionKey
from infra.components.aws.storage import ArtifactStore
from infra.components.base import Capability, StackContext, new_role
from infra.profiles.model import MlflowOnEcs, SageMakerManagedMlflow

MLFLOW_PORT = 5000
# The MLflow basic-auth app reads its admin credentials from an ini file; the container writes it from
# secrets injected by ECS, so no secret is ever in the task definition.
MLFLOW_COMMAND = (
    "printf '[mlflow]\\ndefault_permission = READ\\ndatabase_uri = sqlite:///basic_auth.db\\n"
    "admin_username = admin\\nadmin_password = %s\\nauthorization_function = "
    "mlflow.server.auth:authenticate_request_basic_auth\\n' \"$MLFLOW_ADMIN_PASSWORD\" > /tmp/auth.ini && "
    "MLFLOW_AUTH_CONFIG_PATH=/tmp/auth.ini exec mlflow server --host 0.0.0.0 --port 5000 --app-name basic-auth "
    "--backend-store-uri \"postgresql://$DB_USER:$DB_PASSWORD@$DB_HOST:5432/mlflow\" "
    "--artifacts-destination \"s3://$ARTIFACT_BUCKET/mlflow\" --serve-artifacts"
)


class MlflowTracking(Capability):
    """MLflow behind an internal ALB with basic auth; PostgreSQL on encrypted private RDS; artifacts in S3."""

    capability = "tracking"

    def __init__(
        self, name: str, ctx: StackContext, args: MlflowOnEcs, *, key: EncryptionKey, store: ArtifactStore,
        network: Network, image: pulumi.Input[str], log_retention_days: int,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlopsgen:aws:MlflowTracking", name, opts)
        db = args.database
        alb_sg = network.security_group(f"{name}-alb-sg", "MLflow load balancer")
        task_sg = network.security_group(f"{name}-task-sg", "MLflow tasks")
        db_sg = network.security_group(f"{name}-db-sg", "MLflow PostgreSQL")
        listener_port = 443 if args.certificate_arn else 80
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-alb-from-vpc", security_group_id=alb_sg.id, cidr_ipv4=network.cidr, ip_protocol="tcp",
            from_port=listener_port, to_port=listener_port, opts=self.child(),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-task-from-alb", security_group_id=task_sg.id, referenced_security_group_id=alb_sg.id,
            ip_protocol="tcp", from_port=MLFLOW_PORT, to_port=MLFLOW_PORT, opts=self.child(),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-db-from-task", security_group_id=db_sg.id, referenced_security_group_id=task_sg.id,
            ip_protocol="tcp", from_port=5432, to_port=5432, opts=self.child(),
        )

        subnet_group = aws.rds.SubnetGroup(
            f"{name}-db-subnets", name=ctx.name("mlflow-db"), subnet_ids=network.subnet_ids, opts=self.child()
        )
        self.database = aws.rds.Instance(
            f"{name}-db",
            identifier=ctx.name("mlflow-db"),
            engine="postgres",
            engine_version=db.engine_version,
            instance_class=db.instance_class,
            allocated_storage=db.allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=key.arn,
            db_name="mlflow",
            username="mlflow",
            manage_master_user_password=True,  # RDS keeps the password in Secrets Manager
            master_user_secret_kms_key_id=key.arn,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[db_sg.id],
            publicly_accessible=False,
            multi_az=db.multi_az,
            deletion_protection=db.deletion_protection,
            backup_retention_period=db.backup_retention_days,
            skip_final_snapshot=not ctx.protect_data,
            final_snapshot_identifier=ctx.name("mlflow-db-final") if ctx.protect_data else None,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            iam_database_authentication_enabled=True,
            opts=ctx.data_options(self),
        )
        password = aws.secretsmanager.get_random_password_output(password_length=32, exclude_punctuation=True)
        self.admin_secret = aws.secretsmanager.Secret(
            f"{name}-admin-password", name=ctx.name("mlflow-admin-password"), kms_key_id=key.arn,
            recovery_window_in_days=7 if ctx.protect_data else 0, opts=self.child(),
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-admin-password-value", secret_id=self.admin_secret.id,
            secret_string=pulumi.Output.secret(password.random_password),
            opts=self.child(ignore_changes=["secretString"]),
        )

        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/mlopsgen/{ctx.prefix}/mlflow", retention_in_days=log_retention_days,
            kms_key_id=key.arn, opts=self.child(),
        )
        execution = new_role(ctx, f"{name}-execution-role", "mlflow-execution", self, "ecs-tasks.amazonaws.com")
        key.grant_use(execution)
        execution.allow("start-task", [
            {
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Resource": pulumi.Output.concat("arn:aws:ecr:", ctx.region, ":", ctx.account_id, ":repository/",
                                                 ctx.prefix, "/mlflow"),
            },
            {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": pulumi.Output.concat(logs.arn, ":*")},
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
             "Resource": [self.admin_secret.arn, self.database.master_user_secrets[0].secret_arn]},
        ])
        task = new_role(ctx, f"{name}-task-role", "mlflow-task", self, "ecs-tasks.amazonaws.com")
        store.artifacts.grant_read_write(task, "mlflow/")
        key.grant_use(task)

        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster", name=ctx.name("mlflow"),
            settings=[{"name": "containerInsights", "value": "enabled"}], opts=self.child(),
        )
        container = pulumi.Output.json_dumps([{
            "name": "mlflow",
            "image": image,
            "essential": True,
            "entryPoint": ["sh", "-c"],
            "command": [MLFLOW_COMMAND],
            "portMappings": [{"containerPort": MLFLOW_PORT, "protocol": "tcp"}],
            "environment": [
                {"name": "DB_HOST", "value": self.database.address},
                {"name": "DB_USER", "value": "mlflow"},
                {"name": "ARTIFACT_BUCKET", "value": store.artifacts.id},
            ],
            "secrets": [
                {"name": "DB_PASSWORD",
                 "valueFrom": pulumi.Output.concat(self.database.master_user_secrets[0].secret_arn, ":password::")},
                {"name": "MLFLOW_ADMIN_PASSWORD", "valueFrom": self.admin_secret.arn},
            ],
            "readonlyRootFilesystem": False,
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": logs.name, "awslogs-region": ctx.region, "awslogs-stream-prefix": "mlflow",
            }},
        }])
        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task", family=ctx.name("mlflow"), requires_compatibilities=["FARGATE"], network_mode="awsvpc",
            cpu=str(args.cpu), memory=str(args.memory_mib), execution_role_arn=execution.arn, task_role_arn=task.arn,
            container_definitions=container, runtime_platform={"operating_system_family": "LINUX",
                                                               "cpu_architecture": "X86_64"},
            opts=self.child(),
        )
        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-alb", name=ctx.name("mlflow", 32), internal=True, load_balancer_type="application",
            security_groups=[alb_sg.id], subnets=network.subnet_ids, drop_invalid_header_fields=True,
            opts=self.child(),
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-targets", name=ctx.name("mlflow-tg", 32), port=MLFLOW_PORT, protocol="HTTP",
            target_type="ip", vpc_id=network.vpc.id,
            health_check={"path": "/health", "matcher": "200", "interval": 30}, opts=self.child(),
        )
        listener_args: dict = {"port": listener_port, "protocol": "HTTPS" if args.certificate_arn else "HTTP"}
        if args.certificate_arn:
            listener_args |= {
                "certificate_arn": args.certificate_arn, "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06"
            }
        listener = aws.lb.Listener(
            f"{name}-listener", load_balancer_arn=self.load_balancer.arn,
            default_actions=[{"type": "forward", "target_group_arn": target_group.arn}], opts=self.child(),
            **listener_args,
        )
        self.service = aws.ecs.Service(
            f"{name}-service", name=ctx.name("mlflow"), cluster=self.cluster.arn,
            task_definition=task_definition.arn, desired_count=args.desired_count, launch_type="FARGATE",
            network_configuration={"subnets": network.subnet_ids, "security_groups": [task_sg.id],
                                   "assign_public_ip": False},
            load_balancers=[{"target_group_arn": target_group.arn, "container_name": "mlflow",
                             "container_port": MLFLOW_PORT}],
            deployment_circuit_breaker={"enable": True, "rollback": True},
            opts=self.child(depends_on=[listener]),
        )
        scheme = "https" if args.certificate_arn else "http"
        self.url = pulumi.Output.concat(scheme, "://", self.load_balancer.dns_name)
        self.register_outputs({"trackingUrl": self.url, "adminSecretArn": self.admin_secret.arn})


class ManagedMlflow(Capability):
    """SageMaker managed MLflow: AWS runs the server; it stores artifacts in the stack's bucket."""

    capability = "tracking"

    def __init__(
        self, name: str, ctx: StackContext, args: SageMakerManagedMlflow, *, key: EncryptionKey,
        store: ArtifactStore, opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlopsgen:aws:ManagedMlflow", name, opts)
        role = new_role(ctx, f"{name}-role", "mlflow", self, "sagemaker.amazonaws.com")
        store.artifacts.grant_read_write(role, "mlflow/")
        key.grant_use(role)
        self.server = aws.sagemaker.MlflowTrackingServer(
            f"{name}-server",
            tracking_server_name=ctx.name("mlflow"),
            artifact_store_uri=pulumi.Output.concat("s3://", store.artifacts.id, "/mlflow"),
            role_arn=role.arn,
            mlflow_version=args.mlflow_version,
            tracking_server_size=args.size,
            weekly_maintenance_window_start=args.weekly_maintenance_window,
            automatic_model_registration=True,
            opts=self.child(),
        )
        self.url = self.server.tracking_server_url
        self.register_outputs({"trackingUrl": self.url})
