"""Experiment tracking: self-hosted MLflow on ECS Fargate, or SageMaker managed MLflow."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.aws.functions import PythonFunction
from infra.components.aws.network import Network
from infra.components.aws.registry import RuntimeImage
from infra.components.aws.security import EncryptionKey
from infra.components.aws.storage import ALB_LOG_PREFIX, ArtifactStore
from infra.components.base import Capability, StackContext, new_role
from infra.profiles.model import MlflowOnEcs, SageMakerManagedMlflow

MLFLOW_PORT = 5000
AUTH_DATABASE = "mlflow_auth"
# The MLflow basic-auth app reads its settings from an ini file the container writes (into the /tmp volume: the
# root filesystem is read-only) from secrets ECS injects, so no secret is ever in the task definition. Its user
# store is a PostgreSQL database shared by every task (created on first start), so a password the rotator
# changes through MLflow's API holds for all tasks and survives restarts. The admin password in the ini file
# only seeds the admin user the first time.
MLFLOW_COMMAND = (
    "python -c \"import os, psycopg2; c = psycopg2.connect(host=os.environ['DB_HOST'], user=os.environ['DB_USER'], "
    "password=os.environ['DB_PASSWORD'], dbname='mlflow', sslmode='require'); c.autocommit = True; "
    "k = c.cursor(); k.execute('SELECT 1 FROM pg_database WHERE datname = %s', ('" + AUTH_DATABASE + "',)); "
    "k.fetchone() or k.execute('CREATE DATABASE " + AUTH_DATABASE + "')\" && "
    "printf '[mlflow]\\ndefault_permission = READ\\ndatabase_uri = %s\\n"
    "admin_username = admin\\nadmin_password = %s\\nauthorization_function = "
    "mlflow.server.auth:authenticate_request_basic_auth\\n' "
    "\"postgresql://$DB_USER:$DB_PASSWORD@$DB_HOST:5432/" + AUTH_DATABASE + "?sslmode=require\" "
    "\"$MLFLOW_ADMIN_PASSWORD\" > /tmp/auth.ini && "
    "MLFLOW_AUTH_CONFIG_PATH=/tmp/auth.ini exec mlflow server --host 0.0.0.0 --port 5000 --app-name basic-auth "
    "--backend-store-uri \"postgresql://$DB_USER:$DB_PASSWORD@$DB_HOST:5432/mlflow?sslmode=require\" "
    "--artifacts-destination \"s3://$ARTIFACT_BUCKET/mlflow\" --serve-artifacts"
)
# TLS 1.3 and 1.2 only (Elastic Load Balancing user guide, "Security policies for your Application Load Balancer").
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# The AWS-managed policy RDS enhanced monitoring needs to publish OS metrics (RDS user guide).
RDS_MONITORING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"


class MlflowTracking(Capability):
    """MLflow behind an internal HTTPS load balancer with basic auth (admin password rotated); PostgreSQL on
    encrypted private RDS with logs, enhanced monitoring and Performance Insights; artifacts in S3."""

    capability = "tracking"

    def __init__(
        self, name: str, ctx: StackContext, args: MlflowOnEcs, *, key: EncryptionKey, store: ArtifactStore,
        network: Network, image: pulumi.Input[str], runtime_image: RuntimeImage, log_retention_days: int,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlopsgen:aws:MlflowTracking", name, opts)
        self.functions: list[PythonFunction] = []  # monitoring adds their alarms once the alert topic exists
        https = bool(args.certificate_arn)  # the profile refuses require_https without a certificate
        listener_port = 443 if https else 80
        alb_sg = network.security_group(f"{name}-alb-sg", "MLflow load balancer", aws_apis=False)
        task_sg = network.security_group(f"{name}-task-sg", "MLflow tasks", workload="tracking")
        db_sg = network.security_group(f"{name}-db-sg", "MLflow PostgreSQL", aws_apis=False)
        for port in sorted({listener_port, 80}):
            network.allow_ingress(alb_sg, f"{name}-alb-from-vpc-{port}", port,
                                  "HTTPS from the VPC to MLflow" if port == 443 else
                                  "HTTP from the VPC, redirected to HTTPS" if https else "HTTP from the VPC to MLflow",
                                  cidr=network.cidr)
        network.allow_egress(alb_sg, f"{name}-alb-to-task", MLFLOW_PORT, "Load balancer to the MLflow tasks",
                             to_group=task_sg.id)
        network.allow_ingress(task_sg, f"{name}-task-from-alb", MLFLOW_PORT, "MLflow from its load balancer",
                              from_group=alb_sg.id)
        network.allow_egress(task_sg, f"{name}-task-to-db", 5432, "MLflow tasks to PostgreSQL", to_group=db_sg.id)
        network.allow_ingress(db_sg, f"{name}-db-from-task", 5432, "PostgreSQL from the MLflow tasks",
                              from_group=task_sg.id)

        self.database = self._database(name, ctx, args, key, network, db_sg)
        password = aws.secretsmanager.get_random_password_output(password_length=32, exclude_punctuation=True)
        self.admin_secret = aws.secretsmanager.Secret(
            f"{name}-admin-password", name=ctx.name("mlflow-admin-password"), kms_key_id=key.arn,
            description="MLflow basic-auth admin password (rotated: the rotator changes it in MLflow's user store)",
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
            "readonlyRootFilesystem": True,
            "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}],
            "privileged": False,
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": logs.name, "awslogs-region": ctx.region, "awslogs-stream-prefix": "mlflow",
            }},
        }])
        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task", family=ctx.name("mlflow"), requires_compatibilities=["FARGATE"], network_mode="awsvpc",
            cpu=str(args.cpu), memory=str(args.memory_mib), execution_role_arn=execution.arn, task_role_arn=task.arn,
            container_definitions=container, runtime_platform={"operating_system_family": "LINUX",
                                                               "cpu_architecture": "X86_64"},
            volumes=[{"name": "tmp"}],  # Fargate task storage: the only writable path (/tmp)
            opts=self.child(),
        )
        access_logs: Any = (
            {"bucket": store.logs.id, "prefix": ALB_LOG_PREFIX, "enabled": True} if store.logs is not None else None
        )
        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-alb", name=ctx.name("mlflow", 32), internal=True, load_balancer_type="application",
            security_groups=[alb_sg.id], subnets=network.subnet_ids, drop_invalid_header_fields=True,
            access_logs=access_logs, opts=self.child(),
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-targets", name=ctx.name("mlflow-tg", 32), port=MLFLOW_PORT, protocol="HTTP",
            target_type="ip", vpc_id=network.vpc.id,
            health_check={"path": "/health", "matcher": "200", "interval": 30}, opts=self.child(),
        )
        forward: Any = [{"type": "forward", "target_group_arn": target_group.arn}]
        if https:
            listener = aws.lb.Listener(
                f"{name}-https-listener", load_balancer_arn=self.load_balancer.arn, port=443, protocol="HTTPS",
                certificate_arn=args.certificate_arn, ssl_policy=TLS_POLICY, default_actions=forward,
                opts=self.child(),
            )
            aws.lb.Listener(
                f"{name}-http-redirect", load_balancer_arn=self.load_balancer.arn, port=80, protocol="HTTP",
                default_actions=[{"type": "redirect", "redirect": {  # type: ignore[list-item]
                    "protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}],
                opts=self.child(),
            )
        else:  # dev only, reported as the loosened default tracking.require_https
            listener = aws.lb.Listener(
                f"{name}-listener", load_balancer_arn=self.load_balancer.arn, port=80, protocol="HTTP",
                default_actions=forward, opts=self.child(),
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
        host: pulumi.Input[str] = args.hostname or self.load_balancer.dns_name
        self.url = pulumi.Output.concat("https" if https else "http", "://", host)
        if args.rotate_admin_password:
            self._rotation(ctx, args, key=key, network=network, alb_sg=alb_sg, listener_port=listener_port,
                           image=runtime_image, log_retention_days=log_retention_days)
        self.register_outputs({"trackingUrl": self.url, "adminSecretArn": self.admin_secret.arn})

    def _database(self, name: str, ctx: StackContext, args: MlflowOnEcs, key: EncryptionKey, network: Network,
                  db_sg: aws.ec2.SecurityGroup) -> aws.rds.Instance:
        db = args.database
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-db-subnets", name=ctx.name("mlflow-db"), subnet_ids=network.subnet_ids, opts=self.child()
        )
        major = db.engine_version.split(".")[0]
        parameters = aws.rds.ParameterGroup(
            f"{name}-db-parameters", name=ctx.name("mlflow-db"), family=f"postgres{major}",
            description="MLflow PostgreSQL: TLS only, slow-query and connection logging",
            parameters=[
                {"name": "rds.force_ssl", "value": "1"},
                {"name": "log_min_duration_statement", "value": str(db.slow_query_ms)},
                {"name": "log_connections", "value": "1"},
                {"name": "log_disconnections", "value": "1"},
            ],
            opts=self.child(),
        )
        monitoring: dict[str, Any] = {}
        if db.enhanced_monitoring:
            role = new_role(ctx, f"{name}-db-monitoring-role", "mlflow-db-monitoring", self,
                            "monitoring.rds.amazonaws.com")
            aws.iam.RolePolicyAttachment(f"{name}-db-monitoring", role=role.role.name,
                                         policy_arn=RDS_MONITORING_POLICY, opts=self.child())
            monitoring = {"monitoring_interval": 60, "monitoring_role_arn": role.arn}
        insights: dict[str, Any] = {"performance_insights_enabled": db.performance_insights}
        if db.performance_insights:
            insights |= {"performance_insights_kms_key_id": key.arn, "performance_insights_retention_period": 7}
        return aws.rds.Instance(
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
            parameter_group_name=parameters.name,
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
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"] if db.log_exports else [],
            **monitoring,
            **insights,
            opts=ctx.data_options(self),
        )

    def _rotation(self, ctx: StackContext, args: MlflowOnEcs, *, key: EncryptionKey, network: Network,
                  alb_sg: aws.ec2.SecurityGroup, listener_port: int, image: RuntimeImage,
                  log_retention_days: int) -> None:
        """A rotator (Secrets Manager's four-step protocol) that changes the password in MLflow's user store
        through MLflow's own API, from inside the VPC, then makes it current."""
        rotator_sg = network.security_group("mlflow-rotator-sg", "MLflow admin password rotator")
        network.allow_egress(rotator_sg, "mlflow-rotator-to-alb", listener_port,
                             "Password rotator to the MLflow load balancer", to_group=alb_sg.id)
        rotator = PythonFunction(
            "mlflow-rotator", ctx, self, handler="infra.runtime.handlers.mlflow_rotation.handler",
            description="Rotates the MLflow admin password in Secrets Manager and in MLflow's user store",
            key=key, image=image, log_retention_days=log_retention_days, alarm_topic=None, timeout=60,
            memory_mb=256, network=network, security_group=rotator_sg,
            environment={"TRACKING_URL": self.url, "ADMIN_USERNAME": "admin"},
        )
        self.functions.append(rotator)
        rotator.role.allow("rotate", [
            {"Effect": "Allow",
             "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                        "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"],
             "Resource": self.admin_secret.arn},
            # GetRandomPassword reads no secret and has no resource-level permission in IAM.
            {"Effect": "Allow", "Action": "secretsmanager:GetRandomPassword", "Resource": "*"},
        ])
        permission = aws.lambda_.Permission(
            "mlflow-rotator-from-secretsmanager", action="lambda:InvokeFunction", function=rotator.name,
            principal="secretsmanager.amazonaws.com", source_arn=self.admin_secret.arn, opts=self.child(),
        )
        aws.secretsmanager.SecretRotation(
            "mlflow-admin-password-rotation", secret_id=self.admin_secret.id, rotation_lambda_arn=rotator.arn,
            rotation_rules={"automatically_after_days": args.admin_password_rotation_days},
            opts=self.child(depends_on=[permission, self.service]),
        )


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
