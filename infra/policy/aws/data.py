"""RDS controls."""

from __future__ import annotations

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from infra.policy.helpers import as_list, of_type, sources
from infra.policy.registry import OWN, Report, StackReport, resource_control, stack_control

INSTANCE = "aws:rds/instance:Instance"
PARAMETERS = "aws:rds/parameterGroup:ParameterGroup"
KFP_DATABASE = "cluster.kubeflow_pipelines.database."
MIN_BACKUP_DAYS = 7  # FSBP RDS.11's default backupRetentionMinimum


@resource_control("aws-rds-encrypted", "Databases are encrypted at rest with the stack's KMS key", INSTANCE,
                  service="RDS", refs=("FSBP RDS.3",))
def encrypted(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("storageEncrypted") is not True or not args.props.get("kmsKeyId"):
        report("storage is not encrypted with the stack's KMS key")


@resource_control("aws-rds-private", "Databases are not publicly accessible", INSTANCE, service="RDS",
                  refs=("FSBP RDS.2",))
def private(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("publiclyAccessible"):
        report("the database is publicly accessible")


@resource_control("aws-rds-deletion-protection", "Databases have deletion protection", INSTANCE, service="RDS",
                  refs=("FSBP RDS.8",), loosened_by=("tracking.database.deletion_protection",
                  KFP_DATABASE + "deletion_protection"))
def deletion_protection(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("deletionProtection") is not True:
        report("deletion protection is off")


@resource_control("aws-rds-backups", f"Databases keep automated backups for at least {MIN_BACKUP_DAYS} days",
                  INSTANCE, service="RDS", refs=("FSBP RDS.11",),
                  loosened_by=("tracking.database.backup_retention_days",
                  KFP_DATABASE + "backup_retention_days"))
def backups(args: ResourceValidationArgs, report: Report) -> None:
    days = args.props.get("backupRetentionPeriod") or 0
    if days < MIN_BACKUP_DAYS:
        report(f"backups are kept {days} day(s)")


@resource_control("aws-rds-enhanced-monitoring", "Databases have enhanced monitoring", INSTANCE, service="RDS",
                  refs=("FSBP RDS.6",), loosened_by=("tracking.database.enhanced_monitoring",
                  KFP_DATABASE + "enhanced_monitoring"))
def enhanced_monitoring(args: ResourceValidationArgs, report: Report) -> None:
    if not args.props.get("monitoringInterval") or not args.props.get("monitoringRoleArn"):
        report("enhanced monitoring is off")


@resource_control("aws-rds-log-exports", "Databases publish their logs to CloudWatch Logs", INSTANCE, service="RDS",
                  refs=("FSBP RDS.9",), loosened_by=("tracking.database.log_exports",
                  KFP_DATABASE + "log_exports"))
def log_exports(args: ResourceValidationArgs, report: Report) -> None:
    exported = set(as_list(args.props.get("enabledCloudwatchLogsExports")))
    if args.props.get("engine") == "postgres" and "postgresql" not in exported:
        report("the PostgreSQL log is not exported")
    if args.props.get("engine") == "mysql" and "error" not in exported:
        report("the MySQL error log is not exported")


@resource_control("aws-rds-performance-insights", "Databases have Performance Insights, encrypted with the stack's "
                  "key", INSTANCE, service="RDS", source=OWN + ": Amazon RDS user guide, 'Monitoring DB load with "
                  "Performance Insights'", loosened_by=("tracking.database.performance_insights",
                  KFP_DATABASE + "performance_insights"))
def performance_insights(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("performanceInsightsEnabled") is not True:
        report("Performance Insights is off")
    elif not args.props.get("performanceInsightsKmsKeyId"):
        report("Performance Insights data is not encrypted with the stack's key")


@resource_control("aws-rds-minor-upgrades", "Databases take automatic minor version upgrades", INSTANCE,
                  service="RDS", refs=("FSBP RDS.13",))
def minor_upgrades(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("autoMinorVersionUpgrade") is False:
        report("automatic minor version upgrades are off")


@resource_control("aws-rds-copy-tags", "Databases copy their tags to snapshots", INSTANCE, service="RDS",
                  refs=("FSBP RDS.17",))
def copy_tags(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("copyTagsToSnapshot") is not True:
        report("snapshots do not carry the database's tags")


@resource_control("aws-rds-iam-auth", "Databases accept IAM authentication", INSTANCE, service="RDS",
                  refs=("FSBP RDS.10",))
def iam_auth(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("iamDatabaseAuthenticationEnabled") is not True:
        report("IAM database authentication is off")


# The parameter that makes each engine refuse unencrypted connections.
TLS_PARAMETER = {"postgres": "rds.force_ssl", "mysql": "require_secure_transport"}


@stack_control("aws-rds-force-tls", "Databases refuse connections without TLS (PostgreSQL rds.force_ssl, MySQL "
               "require_secure_transport)", service="RDS", source=OWN + ": Amazon RDS user guide, 'Requiring an "
               "SSL/TLS connection to a PostgreSQL DB instance' and '... to a MySQL DB instance'")
def force_tls(args: StackValidationArgs, report: StackReport) -> None:
    for db in of_type(args, INSTANCE):
        parameter = TLS_PARAMETER.get(str(db.props.get("engine")))
        if parameter is None:
            continue
        groups = [g for g in sources(db, "parameterGroupName") if g.resource_type == PARAMETERS]
        forced = any(str(p.get("name")) == parameter and str(p.get("value")) == "1"
                     for g in groups for p in as_list(g.props.get("parameters")))
        if not forced:
            report(f"database {db.name} accepts unencrypted connections", db.urn)
