"""RDS: the DB subnet group and the PostgreSQL instance (RDS-managed master password in Secrets Manager)."""

from __future__ import annotations

from typing import Any

from infra.offline.emulators.base import EmulatorContext, autoname, drop_none, emulates, require, tag_list


@emulates("name", "namePrefix", "description", "subnetIds")
def subnet_group(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    group = inputs.get("name") or autoname(inputs.get("namePrefix") or name, 255)
    ctx.client("rds").create_db_subnet_group(
        DBSubnetGroupName=group, DBSubnetGroupDescription=inputs.get("description") or "Managed by Pulumi",
        SubnetIds=inputs["subnetIds"], **drop_none(Tags=tag_list(inputs)))
    got = ctx.check("rds", "describe_db_subnet_groups", DBSubnetGroupName=group)["DBSubnetGroups"][0]
    require(sorted(s["SubnetIdentifier"] for s in got["Subnets"]) == sorted(inputs["subnetIds"]),
            f"subnet group {group} subnets read back differently")
    return group, {"name": group, "arn": got["DBSubnetGroupArn"], "vpcId": got.get("VpcId")}


@emulates("name", "namePrefix", "family", "description", "parameters", "skipDestroy")
def parameter_group(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    group = inputs.get("name") or autoname(inputs.get("namePrefix") or name, 255)
    rds = ctx.client("rds")
    created = rds.create_db_parameter_group(
        DBParameterGroupName=group, DBParameterGroupFamily=inputs["family"],
        Description=inputs.get("description") or "Managed by Pulumi", **drop_none(Tags=tag_list(inputs)),
    )["DBParameterGroup"]
    wanted = {p["name"]: str(p["value"]) for p in inputs.get("parameters") or []}
    if wanted:
        rds.modify_db_parameter_group(DBParameterGroupName=group, Parameters=[
            {"ParameterName": k, "ParameterValue": v, "ApplyMethod": "pending-reboot"} for k, v in wanted.items()])
    got = {p["ParameterName"]: p.get("ParameterValue") for p in ctx.check(
        "rds", "describe_db_parameters", DBParameterGroupName=group)["Parameters"]}
    require(all(got.get(k) == v for k, v in wanted.items()), f"parameter group {group} reads back as {got}")
    return group, {"name": group, "arn": created.get("DBParameterGroupArn")}


# Provider input -> CreateDBInstance parameter, for the settings that map one to one.
INSTANCE_PARAMETERS = {
    "engine": "Engine", "engineVersion": "EngineVersion", "instanceClass": "DBInstanceClass",
    "allocatedStorage": "AllocatedStorage", "maxAllocatedStorage": "MaxAllocatedStorage",
    "storageType": "StorageType", "iops": "Iops", "storageThroughput": "StorageThroughput",
    "storageEncrypted": "StorageEncrypted", "kmsKeyId": "KmsKeyId", "dbName": "DBName", "username": "MasterUsername",
    "password": "MasterUserPassword", "manageMasterUserPassword": "ManageMasterUserPassword",
    "masterUserSecretKmsKeyId": "MasterUserSecretKmsKeyId", "dbSubnetGroupName": "DBSubnetGroupName",
    "vpcSecurityGroupIds": "VpcSecurityGroupIds", "publiclyAccessible": "PubliclyAccessible", "multiAz": "MultiAZ",
    "deletionProtection": "DeletionProtection", "backupRetentionPeriod": "BackupRetentionPeriod",
    "backupWindow": "PreferredBackupWindow", "maintenanceWindow": "PreferredMaintenanceWindow",
    "copyTagsToSnapshot": "CopyTagsToSnapshot", "autoMinorVersionUpgrade": "AutoMinorVersionUpgrade",
    "iamDatabaseAuthenticationEnabled": "EnableIAMDatabaseAuthentication", "port": "Port",
    "parameterGroupName": "DBParameterGroupName", "optionGroupName": "OptionGroupName",
    "availabilityZone": "AvailabilityZone", "caCertIdentifier": "CACertificateIdentifier",
    "performanceInsightsEnabled": "EnablePerformanceInsights",
    "performanceInsightsKmsKeyId": "PerformanceInsightsKMSKeyId",
    "performanceInsightsRetentionPeriod": "PerformanceInsightsRetentionPeriod",
    "monitoringInterval": "MonitoringInterval", "monitoringRoleArn": "MonitoringRoleArn",
    "enabledCloudwatchLogsExports": "EnableCloudwatchLogsExports", "licenseModel": "LicenseModel",
}
# Inputs that only steer updates and deletion (final snapshot, backups kept, apply timing).
LIFECYCLE_ONLY = ("skipFinalSnapshot", "finalSnapshotIdentifier", "deleteAutomatedBackups", "applyImmediately",
                  "allowMajorVersionUpgrade")


@emulates("identifier", "identifierPrefix", *INSTANCE_PARAMETERS, *LIFECYCLE_ONLY)
def instance(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    identifier = inputs.get("identifier") or autoname(inputs.get("identifierPrefix") or name, 63)
    request = {boto: inputs[key] for key, boto in INSTANCE_PARAMETERS.items() if inputs.get(key) is not None}
    ctx.client("rds").create_db_instance(DBInstanceIdentifier=identifier, **request,
                                         **drop_none(Tags=tag_list(inputs)))
    got = ctx.check("rds", "describe_db_instances", DBInstanceIdentifier=identifier)["DBInstances"][0]
    for key in ("multiAz", "deletionProtection", "storageEncrypted", "publiclyAccessible"):
        if key in inputs:
            boto = INSTANCE_PARAMETERS[key]
            require(bool(got.get(boto)) == bool(inputs[key]), f"instance {identifier} {boto} reads back as "
                                                              f"{got.get(boto)}")
    secrets = []
    if got.get("MasterUserSecret"):
        secret = got["MasterUserSecret"]
        ctx.check("secretsmanager", "describe_secret", SecretId=secret["SecretArn"])
        secrets.append({"secretArn": secret["SecretArn"], "secretStatus": secret.get("SecretStatus"),
                        "kmsKeyId": secret.get("KmsKeyId")})
    require(bool(secrets) == bool(inputs.get("manageMasterUserPassword")),
            f"instance {identifier} master user secret: {got.get('MasterUserSecret')}")
    endpoint = got["Endpoint"]
    # pulumi-aws (since v6) uses the DBI resource id as the instance's id.
    return got.get("DbiResourceId") or identifier, {
        "identifier": identifier, "arn": got["DBInstanceArn"], "resourceId": got.get("DbiResourceId"),
        "address": endpoint["Address"], "port": endpoint["Port"],
        "endpoint": f"{endpoint['Address']}:{endpoint['Port']}",
        "hostedZoneId": endpoint.get("HostedZoneId"), "masterUserSecrets": secrets,
        "availabilityZone": got.get("AvailabilityZone"), "engineVersionActual": got.get("EngineVersion"),
        "status": got.get("DBInstanceStatus"),
    }
