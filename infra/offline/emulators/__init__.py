"""Emulators: Pulumi type token -> the code that creates that resource in moto and reads it back.

One table, so what the sandbox can emulate is visible in one place; a type missing here is recorded, not
emulated ("no emulator"). Each service's mapping of Pulumi inputs to boto3 requests lives in its own module.
"""

from __future__ import annotations

from infra.offline.emulators import (
    appautoscaling,
    cloudwatch,
    docker_build,
    ec2,
    ecr,
    ecs,
    elbv2,
    events,
    iam,
    kms,
    lambda_,
    logs,
    rds,
    s3,
    sagemaker,
    scheduler,
    secretsmanager,
    sns,
    sqs,
)
from infra.offline.emulators.base import (
    Emulator,
    EmulatorContext,
    MissingReference,
    NotEmulated,
    VerificationError,
)

EMULATORS: dict[str, Emulator] = {
    # security
    "aws:kms/key:Key": kms.key,
    "aws:kms/alias:Alias": kms.alias,
    "aws:iam/role:Role": iam.role,
    "aws:iam/rolePolicy:RolePolicy": iam.role_policy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": iam.role_policy_attachment,
    "aws:iam/policy:Policy": iam.policy,
    "aws:secretsmanager/secret:Secret": secretsmanager.secret,
    "aws:secretsmanager/secretVersion:SecretVersion": secretsmanager.secret_version,
    # networking
    "aws:ec2/vpc:Vpc": ec2.vpc,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ec2.default_security_group,
    "aws:ec2/subnet:Subnet": ec2.subnet,
    "aws:ec2/routeTable:RouteTable": ec2.route_table,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ec2.route_table_association,
    "aws:ec2/route:Route": ec2.route,
    "aws:ec2/internetGateway:InternetGateway": ec2.internet_gateway,
    "aws:ec2/eip:Eip": ec2.eip,
    "aws:ec2/natGateway:NatGateway": ec2.nat_gateway,
    "aws:ec2/vpcEndpoint:VpcEndpoint": ec2.vpc_endpoint,
    "aws:ec2/securityGroup:SecurityGroup": ec2.security_group,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ec2.security_group_ingress_rule,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ec2.security_group_egress_rule,
    "aws:ec2/flowLog:FlowLog": ec2.flow_log,
    "aws:lb/loadBalancer:LoadBalancer": elbv2.load_balancer,
    "aws:lb/targetGroup:TargetGroup": elbv2.target_group,
    "aws:lb/listener:Listener": elbv2.listener,
    # storage
    "aws:s3/bucket:Bucket": s3.bucket,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": s3.ownership_controls,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": s3.public_access_block,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": s3.encryption,
    "aws:s3/bucketVersioning:BucketVersioning": s3.versioning,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": s3.lifecycle,
    "aws:s3/bucketPolicy:BucketPolicy": s3.bucket_policy,
    "aws:s3/bucketLogging:BucketLogging": s3.bucket_logging,
    "aws:s3/bucketObjectv2:BucketObjectv2": s3.bucket_object,
    "aws:rds/subnetGroup:SubnetGroup": rds.subnet_group,
    "aws:rds/parameterGroup:ParameterGroup": rds.parameter_group,
    "aws:rds/instance:Instance": rds.instance,
    # registry, training, serving, tracking
    "aws:ecr/repository:Repository": ecr.repository,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ecr.lifecycle_policy,
    "aws:ecr/repositoryPolicy:RepositoryPolicy": ecr.repository_policy,
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": sagemaker.model_package_group,
    "aws:sagemaker/modelCard:ModelCard": sagemaker.model_card,
    "aws:sagemaker/pipeline:Pipeline": sagemaker.pipeline,
    "aws:sagemaker/model:Model": sagemaker.model,
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": sagemaker.endpoint_configuration,
    "aws:sagemaker/endpoint:Endpoint": sagemaker.endpoint,
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": sagemaker.mlflow_tracking_server,
    "aws:appautoscaling/target:Target": appautoscaling.target,
    "aws:appautoscaling/policy:Policy": appautoscaling.policy,
    "aws:ecs/cluster:Cluster": ecs.cluster,
    "aws:ecs/taskDefinition:TaskDefinition": ecs.task_definition,
    "aws:ecs/service:Service": ecs.service,
    # monitoring and automation
    "aws:cloudwatch/logGroup:LogGroup": logs.log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": cloudwatch.metric_alarm,
    "aws:cloudwatch/dashboard:Dashboard": cloudwatch.dashboard,
    "aws:cloudwatch/eventRule:EventRule": events.event_rule,
    "aws:cloudwatch/eventTarget:EventTarget": events.event_target,
    "aws:sns/topic:Topic": sns.topic,
    "aws:sns/topicPolicy:TopicPolicy": sns.topic_policy,
    "aws:sns/topicSubscription:TopicSubscription": sns.topic_subscription,
    "aws:sqs/queue:Queue": sqs.queue,
    "aws:sqs/queuePolicy:QueuePolicy": sqs.queue_policy,
    "docker-build:index:Image": docker_build.image,
    "aws:lambda/layerVersion:LayerVersion": lambda_.layer_version,
    "aws:lambda/function:Function": lambda_.function,
    "aws:lambda/permission:Permission": lambda_.permission,
    "aws:scheduler/scheduleGroup:ScheduleGroup": scheduler.schedule_group,
    "aws:scheduler/schedule:Schedule": scheduler.schedule,
}

__all__ = ["EMULATORS", "Emulator", "EmulatorContext", "MissingReference", "NotEmulated", "VerificationError"]
