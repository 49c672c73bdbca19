"""CloudWatch, SNS, SQS and EventBridge Scheduler controls."""

from __future__ import annotations

from pulumi_policy import ResourceValidationArgs

from infra.policy.helpers import as_list, statements
from infra.policy.registry import OWN, Report, resource_control

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
QUEUE = "aws:sqs/queue:Queue"
SCHEDULE = "aws:scheduler/schedule:Schedule"


@resource_control("aws-logs-cmk", "Log groups are encrypted with the stack's KMS key", LOG_GROUP,
                  service="CloudWatch", source=OWN + ": CloudWatch Logs user guide, 'Encrypt log data using AWS KMS'")
def logs_cmk(args: ResourceValidationArgs, report: Report) -> None:
    if not args.props.get("kmsKeyId"):
        report("the log group is not encrypted with the stack's key")


@resource_control("aws-logs-retention", "Log groups have a retention period", LOG_GROUP, service="CloudWatch",
                  source=OWN + ": CloudWatch Logs user guide, 'Change log data retention' (default: never expire)")
def logs_retention(args: ResourceValidationArgs, report: Report) -> None:
    if not args.props.get("retentionInDays"):
        report("logs are kept forever (no retention)")


@resource_control("aws-cloudwatch-alarm-actions", "Alarms notify someone", ALARM, service="CloudWatch",
                  refs=("FSBP CloudWatch.15",))
def alarm_actions(args: ResourceValidationArgs, report: Report) -> None:
    if not as_list(args.props.get("alarmActions")) or args.props.get("actionsEnabled") is False:
        report("the alarm has no action")


@resource_control("aws-sns-encrypted", "SNS topics are encrypted with a KMS key", TOPIC, service="SNS",
                  refs=("FSBP SNS.1",))
def sns_encrypted(args: ResourceValidationArgs, report: Report) -> None:
    if not args.props.get("kmsMasterKeyId"):
        report("the topic is not encrypted at rest")


@resource_control("aws-sns-tls-only", "SNS topic policies deny publishing without TLS", TOPIC_POLICY,
                  service="SNS", source=OWN + ": Amazon SNS developer guide, 'Enforce encryption of data in transit'")
def sns_tls_only(args: ResourceValidationArgs, report: Report) -> None:
    for s in statements(args.props.get("policy")):
        condition = (s.get("Condition") or {}).get("Bool") or {}
        if s.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport")).lower() == "false":
            return
    report("the topic policy does not deny requests made without TLS")


@resource_control("aws-sqs-encrypted", "SQS queues are encrypted at rest", QUEUE, service="SQS",
                  refs=("FSBP SQS.1",))
def sqs_encrypted(args: ResourceValidationArgs, report: Report) -> None:
    if not args.props.get("kmsMasterKeyId") and args.props.get("sqsManagedSseEnabled") is not True:
        report("the queue is not encrypted at rest")


@resource_control("aws-scheduler-cmk", "Schedules are encrypted with the stack's KMS key", SCHEDULE,
                  service="EventBridge Scheduler", source=OWN + ": EventBridge Scheduler user guide, 'Data at rest "
                  "encryption' (customer managed key instead of an AWS owned key)")
def scheduler_cmk(args: ResourceValidationArgs, report: Report) -> None:
    if not args.props.get("kmsKeyArn"):
        report("the schedule is encrypted with an AWS owned key")


@resource_control("aws-scheduler-dead-letters", "Schedules retry and keep what they could not deliver", SCHEDULE,
                  service="EventBridge Scheduler", source=OWN + ": EventBridge Scheduler user guide, 'Configuring "
                  "a dead-letter queue'")
def scheduler_dead_letters(args: ResourceValidationArgs, report: Report) -> None:
    target = args.props.get("target") or {}
    if not (target.get("deadLetterConfig") or {}).get("arn"):
        report("a failed invocation is dropped (no dead-letter queue)")
