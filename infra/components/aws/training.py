"""Retraining: a SageMaker pipeline that trains on curated data and registers the model version."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.aws.network import Network
from infra.components.aws.registry import ModelGroup, ModelRegistry
from infra.components.aws.security import EncryptionKey
from infra.components.aws.storage import ArtifactStore
from infra.components.base import Capability, Grantable, ModelScope, StackContext, new_role
from infra.profiles.model import SageMakerPipelineTraining


def pipeline_definition(
    args: SageMakerPipelineTraining, *, role_arn: Any, training_image: Any, serving_image: Any, runtime_image: Any,
    data_uri: Any, output_uri: Any, checkpoint_uri: Any, baselines_uri: Any, group_name: str, key_arn: Any,
    subnet_ids: list[Any], security_group_id: Any,
) -> pulumi.Output[str]:
    """SageMaker Pipelines JSON (schema 2020-12-01): Train and Baseline, then RegisterModel into the group."""
    network = {"Subnets": subnet_ids, "SecurityGroupIds": [security_group_id]}
    versioned = {"Std:Join": {"On": "/", "Values": [baselines_uri, {"Get": "Execution.PipelineExecutionId"}]}}
    local_out = "/opt/ml/processing/baseline"
    baseline = {
        "Name": "Baseline",
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {"ClusterConfig": {
                "InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30, "VolumeKmsKeyId": key_arn,
            }},
            "AppSpecification": {
                "ImageUri": runtime_image,
                "ContainerEntrypoint": [
                    "python3", "-m", "infra.runtime.jobs.baseline", "--input", "/opt/ml/processing/input",
                    "--output", f"{local_out}/versioned", "--output", f"{local_out}/current",
                    "--model-name", group_name,
                ],
            },
            "RoleArn": role_arn,
            "ProcessingInputs": [{"InputName": "training-data", "S3Input": {
                "S3Uri": {"Get": "Parameters.TrainingData"}, "LocalPath": "/opt/ml/processing/input",
                "S3DataType": "S3Prefix", "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated",
            }}],
            "ProcessingOutputConfig": {"KmsKeyId": key_arn, "Outputs": [
                {"OutputName": "versioned", "S3Output": {"S3Uri": versioned, "LocalPath": f"{local_out}/versioned",
                                                         "S3UploadMode": "EndOfJob"}},
                {"OutputName": "current", "S3Output": {
                    "S3Uri": pulumi.Output.concat(baselines_uri, "/current"), "LocalPath": f"{local_out}/current",
                    "S3UploadMode": "EndOfJob"}},
            ]},
            "NetworkConfig": {"VpcConfig": network, "EnableInterContainerTrafficEncryption": True},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
    }
    runtime = args.max_runtime_hours * 3600
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": runtime}
    if args.use_spot:
        stopping["MaxWaitTimeInSeconds"] = runtime * 2
    train: dict[str, Any] = {
        "Name": "Train",
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {"TrainingImage": training_image, "TrainingInputMode": "File"},
            "RoleArn": role_arn,
            "InputDataConfig": [{
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": {"Get": "Parameters.TrainingData"},
                    "S3DataDistributionType": "FullyReplicated",
                }},
            }],
            "OutputDataConfig": {"S3OutputPath": output_uri, "KmsKeyId": key_arn},
            "ResourceConfig": {
                "InstanceType": args.instance_type, "InstanceCount": args.instance_count,
                "VolumeSizeInGB": args.volume_size_gb, "VolumeKmsKeyId": key_arn,
            },
            "StoppingCondition": stopping,
            "EnableManagedSpotTraining": args.use_spot,
            "CheckpointConfig": {"S3Uri": checkpoint_uri},
            "VpcConfig": network,
            "EnableNetworkIsolation": False,
            "EnableInterContainerTrafficEncryption": True,
        },
    }
    register = {
        "Name": "RegisterModel",
        "Type": "RegisterModel",
        "Arguments": {
            "ModelPackageGroupName": group_name,
            "ModelApprovalStatus": {"Get": "Parameters.ModelApprovalStatus"},
            "InferenceSpecification": {
                "Containers": [{
                    "Image": serving_image,
                    "ModelDataUrl": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
                }],
                "SupportedContentTypes": ["application/json", "text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            "CustomerMetadataProperties": {"baseline": versioned},
        },
        "DependsOn": ["Train", "Baseline"],
    }
    approval = "Approved" if args.approval == "automatic" else "PendingManualApproval"
    return pulumi.Output.json_dumps({
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "TrainingData", "Type": "String", "DefaultValue": data_uri},
            {"Name": "ModelApprovalStatus", "Type": "String", "DefaultValue": approval},
        ],
        "Steps": [train, baseline, register],
    })


class TrainingPipeline(Capability):
    """A model's retraining pipeline and the role its jobs run as (least privilege: that model's data prefixes,
    its package group, the shared image repositories)."""

    capability = "training"

    def __init__(
        self, name: str, ctx: StackContext, model: ModelScope, args: SageMakerPipelineTraining, *,
        key: EncryptionKey, store: ArtifactStore, registry: ModelRegistry, group: ModelGroup, network: Network,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlopsgen:aws:TrainingPipeline", name, opts)
        self.role = new_role(ctx, f"{name}-execution-role", f"{model.name}-training", self,
                             "sagemaker.amazonaws.com")
        curated, models, checkpoints, baselines = (
            model.prefix(area) for area in ("curated", "models", "checkpoints", "baselines"))
        store.data.grant_read(self.role, curated)
        store.artifacts.grant_read_write(self.role, models, checkpoints, baselines)
        key.grant_use(self.role)
        registry.grant_pull(self.role)
        group.grant_register(self.role)
        self.role.allow("jobs", [
            {
                "Effect": "Allow",
                "Action": ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob",
                           "sagemaker:StopTrainingJob", "sagemaker:CreateProcessingJob",
                           "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob", "sagemaker:AddTags"],
                "Resource": [
                    pulumi.Output.concat("arn:aws:sagemaker:", ctx.region, ":", ctx.account_id, ":training-job/*"),
                    pulumi.Output.concat("arn:aws:sagemaker:", ctx.region, ":", ctx.account_id, ":processing-job/*"),
                ],
            },
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": self.role.arn,
             "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": pulumi.Output.concat(
                    "arn:aws:logs:", ctx.region, ":", ctx.account_id, ":log-group:/aws/sagemaker/*"
                ),
            },
            # training in the VPC: network interfaces in this VPC only, shared only with SageMaker
            *network.network_interface_statements("sagemaker.amazonaws.com"),
        ])
        self.security_group = network.security_group(f"{name}-sg", f"SageMaker training jobs of {model.name}", self,
                                                     workload="training")
        if args.instance_count > 1:  # distributed training: the instances of one job talk to each other
            for direction in ("ingress", "egress"):
                getattr(network, f"allow_{direction}")(
                    self.security_group, f"{name}-sg-{direction}-peers", None,
                    "Between the instances of one distributed training job (traffic is encrypted)", parent=self,
                    **{"from_group" if direction == "ingress" else "to_group": self.security_group.id},
                )
        artifacts = store.artifacts.bucket.bucket
        self.data_uri = pulumi.Output.concat("s3://", store.data.bucket.bucket, "/", curated)
        self.pipeline_name = model.physical("retraining")
        self.pipeline = aws.sagemaker.Pipeline(
            f"{name}-pipeline",
            pipeline_name=self.pipeline_name,
            pipeline_display_name=self.pipeline_name,
            pipeline_description=f"Scheduled (and drift-triggered) retraining of {model.name}; registers the "
                                 "model version",
            role_arn=self.role.arn,
            pipeline_definition=pipeline_definition(
                args,
                role_arn=self.role.arn,
                training_image=registry.image("training", args.image_tag),
                serving_image=registry.image("serving", args.image_tag),
                runtime_image=registry.runtime_image.uri,
                data_uri=self.data_uri,
                output_uri=pulumi.Output.concat("s3://", artifacts, "/", models),
                checkpoint_uri=pulumi.Output.concat("s3://", artifacts, "/", checkpoints),
                baselines_uri=pulumi.Output.concat("s3://", artifacts, "/", baselines.rstrip("/")),
                group_name=group.name,
                key_arn=key.arn,
                subnet_ids=network.subnet_ids,
                security_group_id=self.security_group.id,
            ),
            opts=self.child(),
        )
        self.pipeline_arn = self.pipeline.arn
        self.register_outputs({"pipelineName": self.pipeline_name, "roleArn": self.role.arn})

    def grant_start(self, role: Grantable, grant: str = "start-retraining") -> aws.iam.RolePolicy:
        return role.allow(grant, [{
            "Effect": "Allow",
            "Action": ["sagemaker:StartPipelineExecution", "sagemaker:DescribePipelineExecution",
                       "sagemaker:ListPipelineExecutions"],
            "Resource": [self.pipeline.arn, pulumi.Output.concat(self.pipeline.arn, "/*")],
        }])
