"""SageMaker: model package group, model card, pipeline, model, endpoint configuration, endpoint, managed MLflow.

moto checks that an endpoint configuration's models and an endpoint's configuration exist. It has no
managed-MLflow API: that call raises NotImplementedError and the server is recorded, not emulated. moto keeps
no deployment configuration of an endpoint: the emulator checks instead that every auto-rollback alarm it
names exists in the emulated CloudWatch (SageMaker rejects unknown alarms).
"""

from __future__ import annotations

from typing import Any

from infra.offline.emulators.base import EmulatorContext, NotEmulated, autoname, drop_none, emulates, require, tag_list


@emulates("modelPackageGroupName", "modelPackageGroupDescription")
def model_package_group(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    group = inputs["modelPackageGroupName"]
    ctx.client("sagemaker").create_model_package_group(**drop_none(
        ModelPackageGroupName=group, ModelPackageGroupDescription=inputs.get("modelPackageGroupDescription"),
        Tags=tag_list(inputs)))
    got = ctx.check("sagemaker", "describe_model_package_group", ModelPackageGroupName=group)
    return group, {"arn": got["ModelPackageGroupArn"]}


# parallelismConfiguration maps to the pipeline's max parallel steps.
@emulates("modelCardName", "modelCardStatus", "content", "securityConfig")
def model_card(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    card = inputs["modelCardName"]
    security = inputs.get("securityConfig")
    ctx.client("sagemaker").create_model_card(**drop_none(
        ModelCardName=card, ModelCardStatus=inputs["modelCardStatus"], Content=inputs["content"],
        SecurityConfig={"KmsKeyId": security["kmsKeyId"]} if security else None, Tags=tag_list(inputs)))
    got = ctx.check("sagemaker", "describe_model_card", ModelCardName=card)
    require(got["Content"] == inputs["content"] and got["ModelCardStatus"] == inputs["modelCardStatus"],
            f"model card {card} reads back differently")
    return card, {"arn": got["ModelCardArn"], "modelCardVersion": got["ModelCardVersion"]}


@emulates("pipelineName", "pipelineDisplayName", "pipelineDefinition", "pipelineDescription", "roleArn",
          "parallelismConfiguration")
def pipeline(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    pipeline_name = inputs["pipelineName"]
    parallelism = inputs.get("parallelismConfiguration")
    ctx.client("sagemaker").create_pipeline(**drop_none(
        PipelineName=pipeline_name, PipelineDisplayName=inputs.get("pipelineDisplayName"),
        PipelineDefinition=inputs.get("pipelineDefinition"), PipelineDescription=inputs.get("pipelineDescription"),
        RoleArn=inputs["roleArn"], Tags=tag_list(inputs),
        ParallelismConfiguration={"MaxParallelExecutionSteps": parallelism["maxParallelExecutionSteps"]}
        if parallelism else None))
    got = ctx.check("sagemaker", "describe_pipeline", PipelineName=pipeline_name)
    require(got["RoleArn"] == inputs["roleArn"], f"pipeline {pipeline_name} role reads back as {got['RoleArn']}")
    return pipeline_name, {"arn": got["PipelineArn"]}


def _container(container: dict[str, Any]) -> dict[str, Any]:
    return drop_none(Image=container.get("image"), ModelDataUrl=container.get("modelDataUrl"),
                     Environment=container.get("environment"), ContainerHostname=container.get("containerHostname"),
                     Mode=container.get("mode"), ModelPackageName=container.get("modelPackageName"))


@emulates("name", "executionRoleArn", "primaryContainer", "containers", "vpcConfig", "enableNetworkIsolation",
          "inferenceExecutionConfig")
def model(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    model_name = inputs.get("name") or autoname(name, 63)
    vpc = inputs.get("vpcConfig")
    execution = inputs.get("inferenceExecutionConfig")
    ctx.client("sagemaker").create_model(**drop_none(
        ModelName=model_name, ExecutionRoleArn=inputs["executionRoleArn"],
        PrimaryContainer=_container(inputs["primaryContainer"]) if inputs.get("primaryContainer") else None,
        Containers=[_container(c) for c in inputs.get("containers") or []] or None,
        VpcConfig={"SecurityGroupIds": vpc["securityGroupIds"], "Subnets": vpc["subnets"]} if vpc else None,
        EnableNetworkIsolation=inputs.get("enableNetworkIsolation"),
        InferenceExecutionConfig={"Mode": execution["mode"]} if execution else None, Tags=tag_list(inputs)))
    got = ctx.check("sagemaker", "describe_model", ModelName=model_name)
    require(got["ExecutionRoleArn"] == inputs["executionRoleArn"], f"model {model_name} role reads back differently")
    if inputs.get("primaryContainer"):
        require(got.get("PrimaryContainer", {}).get("ModelDataUrl") == inputs["primaryContainer"].get("modelDataUrl"),
                f"model {model_name} data URL reads back as {got.get('PrimaryContainer')}")
    return model_name, {"name": model_name, "arn": got["ModelArn"]}


def _variant(variant: dict[str, Any]) -> dict[str, Any]:
    out = drop_none(VariantName=variant.get("variantName"), ModelName=variant["modelName"],
                    InstanceType=variant.get("instanceType"), InitialInstanceCount=variant.get("initialInstanceCount"),
                    InitialVariantWeight=variant.get("initialVariantWeight"),
                    AcceleratorType=variant.get("acceleratorType"),
                    VolumeSizeInGB=variant.get("volumeSizeInGb"),
                    ContainerStartupHealthCheckTimeoutInSeconds=variant.get(
                        "containerStartupHealthCheckTimeoutInSeconds"),
                    ModelDataDownloadTimeoutInSeconds=variant.get("modelDataDownloadTimeoutInSeconds"))
    if variant.get("serverlessConfig"):
        serverless = variant["serverlessConfig"]
        out["ServerlessConfig"] = drop_none(MaxConcurrency=serverless["maxConcurrency"],
                                            MemorySizeInMB=serverless["memorySizeInMb"],
                                            ProvisionedConcurrency=serverless.get("provisionedConcurrency"))
    return out


def _data_capture(config: dict[str, Any]) -> dict[str, Any]:
    out = drop_none(EnableCapture=config.get("enableCapture"),
                    InitialSamplingPercentage=config["initialSamplingPercentage"],
                    DestinationS3Uri=config["destinationS3Uri"], KmsKeyId=config.get("kmsKeyId"),
                    CaptureOptions=[{"CaptureMode": o["captureMode"]} for o in config["captureOptions"]])
    headers = config.get("captureContentTypeHeader")
    if headers:
        out["CaptureContentTypeHeader"] = drop_none(CsvContentTypes=headers.get("csvContentTypes"),
                                                    JsonContentTypes=headers.get("jsonContentTypes"))
    return out


@emulates("name", "productionVariants", "kmsKeyArn", "dataCaptureConfig")
def endpoint_configuration(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    config_name = inputs.get("name") or autoname(name, 63)
    variants = [_variant(v) for v in inputs["productionVariants"]]
    ctx.client("sagemaker").create_endpoint_config(**drop_none(
        EndpointConfigName=config_name, ProductionVariants=variants, KmsKeyId=inputs.get("kmsKeyArn"),
        DataCaptureConfig=_data_capture(inputs["dataCaptureConfig"]) if inputs.get("dataCaptureConfig") else None,
        Tags=tag_list(inputs)))
    got = ctx.check("sagemaker", "describe_endpoint_config", EndpointConfigName=config_name)
    require([v["VariantName"] for v in got["ProductionVariants"]] == [v.get("VariantName") for v in variants],
            f"endpoint config {config_name} variants read back as "
            f"{[v['VariantName'] for v in got['ProductionVariants']]}")
    return config_name, {"name": config_name, "arn": got["EndpointConfigArn"]}


@emulates("name", "endpointConfigName", "deploymentConfig")
def endpoint(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    endpoint_name = inputs.get("name") or autoname(name, 63)
    deployment = inputs.get("deploymentConfig") or {}
    if deployment.get("rollingUpdatePolicy"):
        raise NotEmulated("rolling update deployment configuration is not mapped")
    alarms = [a["alarmName"] for a in (deployment.get("autoRollbackConfiguration") or {}).get("alarms") or []]
    if alarms:
        found = ctx.client("cloudwatch").describe_alarms(AlarmNames=alarms)["MetricAlarms"]
        missing = sorted(set(alarms) - {a["AlarmName"] for a in found})
        require(not missing, f"endpoint {endpoint_name} auto-rollback alarms do not exist: {missing}")
    ctx.client("sagemaker").create_endpoint(**drop_none(
        EndpointName=endpoint_name, EndpointConfigName=inputs["endpointConfigName"], Tags=tag_list(inputs)))
    got = ctx.check("sagemaker", "describe_endpoint", EndpointName=endpoint_name)
    require(got["EndpointConfigName"] == inputs["endpointConfigName"],
            f"endpoint {endpoint_name} reads back on {got['EndpointConfigName']}")
    return endpoint_name, {"name": endpoint_name, "arn": got["EndpointArn"]}


@emulates("trackingServerName", "artifactStoreUri", "roleArn", "mlflowVersion", "trackingServerSize",
          "weeklyMaintenanceWindowStart", "automaticModelRegistration")
def mlflow_tracking_server(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Calls the real API: moto 5.2.5 raises NotImplementedError for it, so the server is recorded."""
    server = inputs["trackingServerName"]
    ctx.client("sagemaker").create_mlflow_tracking_server(**drop_none(
        TrackingServerName=server, ArtifactStoreUri=inputs["artifactStoreUri"], RoleArn=inputs["roleArn"],
        MlflowVersion=inputs.get("mlflowVersion"), TrackingServerSize=inputs.get("trackingServerSize"),
        WeeklyMaintenanceWindowStart=inputs.get("weeklyMaintenanceWindowStart"),
        AutomaticModelRegistration=inputs.get("automaticModelRegistration"), Tags=tag_list(inputs)))
    got = ctx.check("sagemaker", "describe_mlflow_tracking_server", TrackingServerName=server)
    return server, {"arn": got["TrackingServerArn"], "trackingServerUrl": got["TrackingServerUrl"]}
