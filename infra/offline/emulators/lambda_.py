"""Lambda: layer versions, functions (zip code built in memory from the declared assets, or an ECR image)
and permissions.

moto creates functions without Docker (only invoking needs it) and checks that the role and every layer
version exist; it does not check a container image, so the emulator looks the image up in moto's ECR itself.
A layer whose archive was never built is recorded, not published: a stand-in zip would make a function look
deployable when its dependencies are missing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pulumi

from infra.offline.emulators.assets import archive_zip
from infra.offline.emulators.base import (
    EmulatorContext,
    MissingReference,
    NotEmulated,
    autoname,
    drop_none,
    emulates,
    require,
    tags_of,
)


def _code_sha256(zipped: bytes) -> str:
    return base64.b64encode(hashlib.sha256(zipped).digest()).decode()


@emulates("layerName", "code", "compatibleRuntimes", "compatibleArchitectures", "description", "licenseInfo",
          "skipDestroy")
def layer_version(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    code = inputs.get("code")
    if isinstance(code, pulumi.FileArchive) and not Path(str(code.path)).exists():
        # A build step makes layer archives; offline it has often not run.
        raise NotEmulated(f"layer archive {Path(str(code.path)).name} not built")
    if code is None:
        raise NotEmulated("layer declares its code through s3Bucket/s3Key, which the sandbox does not read")
    zipped = archive_zip(code)
    published = ctx.client("lambda").publish_layer_version(**drop_none(
        LayerName=inputs["layerName"], Content={"ZipFile": zipped}, Description=inputs.get("description"),
        CompatibleRuntimes=inputs.get("compatibleRuntimes"),
        CompatibleArchitectures=inputs.get("compatibleArchitectures"), LicenseInfo=inputs.get("licenseInfo")))
    got = ctx.check("lambda", "get_layer_version", LayerName=inputs["layerName"], VersionNumber=published["Version"])
    require(got["LayerVersionArn"] == published["LayerVersionArn"], f"layer {inputs['layerName']} reads back as "
                                                                    f"{got['LayerVersionArn']}")
    return got["LayerVersionArn"], {"arn": got["LayerVersionArn"], "layerArn": got["LayerArn"],
                                    "version": str(got["Version"]), "codeSize": len(zipped),
                                    "sourceCodeHash": _code_sha256(zipped), "createdDate": got.get("CreatedDate")}


ECR_IMAGE = re.compile(r"^(?P<registry>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
                       r"(?P<repository>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")


def _require_image(ctx: EmulatorContext, uri: str) -> None:
    """Lambda only runs images from ECR; the image must have been pushed there (moto does not check)."""
    match = ECR_IMAGE.match(uri)
    if not match:
        raise MissingReference(f"image {uri} is not an ECR image URI")
    image_id = ({"imageDigest": match["digest"]} if match["digest"] else {"imageTag": match["tag"] or "latest"})
    found = ctx.check("ecr", "batch_get_image", registryId=match["registry"], repositoryName=match["repository"],
                      imageIds=[image_id])
    if not found.get("images"):
        reasons = [f.get("failureReason", f.get("failureCode")) for f in found.get("failures", [])]
        raise MissingReference(f"image {uri} not found in ECR ({'; '.join(map(str, reasons)) or 'no image'})")


# imageConfig maps to ImageConfig; sourceCodeHash only tells the provider when to update the code.
@emulates("name", "role", "runtime", "handler", "code", "description", "timeout", "memorySize", "environment",
          "layers", "kmsKeyArn", "architectures", "packageType", "imageUri", "imageConfig", "publish", "vpcConfig",
          "tracingConfig", "ephemeralStorage", "deadLetterConfig", "reservedConcurrentExecutions",
          "sourceCodeHash", "skipDestroy")
def function(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    function_name = inputs.get("name") or autoname(name, 64)
    if inputs.get("imageUri"):
        try:
            _require_image(ctx, inputs["imageUri"])
        except ctx.client("ecr").exceptions.RepositoryNotFoundException as exc:
            raise MissingReference(f"image {inputs['imageUri']}: {exc.response['Error']['Message']}") from None
        code: dict[str, Any] = {"ImageUri": inputs["imageUri"]}
        zipped = b""
    elif inputs.get("code") is not None:
        zipped = archive_zip(inputs["code"])
        code = {"ZipFile": zipped}
    else:
        raise NotEmulated("function code comes from s3Bucket/s3Key, which the sandbox does not read")
    vpc = inputs.get("vpcConfig") or {}
    image_config = inputs.get("imageConfig") or {}
    request = drop_none(
        FunctionName=function_name, Role=inputs["role"], Runtime=inputs.get("runtime"),
        Handler=inputs.get("handler"), Code=code, Description=inputs.get("description"),
        Timeout=inputs.get("timeout"), MemorySize=inputs.get("memorySize"),
        Environment={"Variables": dict((inputs.get("environment") or {}).get("variables") or {})},
        Layers=inputs.get("layers"), KMSKeyArn=inputs.get("kmsKeyArn"), Architectures=inputs.get("architectures"),
        PackageType=inputs.get("packageType"), Publish=inputs.get("publish"),
        VpcConfig={"SubnetIds": vpc.get("subnetIds", []), "SecurityGroupIds": vpc.get("securityGroupIds", [])}
        if vpc else None,
        TracingConfig={"Mode": inputs["tracingConfig"]["mode"]} if inputs.get("tracingConfig") else None,
        EphemeralStorage={"Size": inputs["ephemeralStorage"]["size"]} if inputs.get("ephemeralStorage") else None,
        DeadLetterConfig={"TargetArn": inputs["deadLetterConfig"]["targetArn"]}
        if inputs.get("deadLetterConfig") else None,
        ImageConfig=drop_none(Command=image_config.get("commands"), EntryPoint=image_config.get("entryPoints"),
                              WorkingDirectory=image_config.get("workingDirectory")) or None,
        Tags=tags_of(inputs) or None,
    )
    client = ctx.client("lambda")
    client.create_function(**request)
    if inputs.get("reservedConcurrentExecutions") is not None and inputs["reservedConcurrentExecutions"] >= 0:
        client.put_function_concurrency(FunctionName=function_name,
                                        ReservedConcurrentExecutions=inputs["reservedConcurrentExecutions"])
    got = ctx.check("lambda", "get_function", FunctionName=function_name)["Configuration"]
    require(got["Role"] == inputs["role"] and got.get("Handler") == inputs.get("handler"),
            f"function {function_name} reads back with role {got['Role']} and handler {got.get('Handler')}")
    require(sorted(layer["Arn"] for layer in got.get("Layers", [])) == sorted(inputs.get("layers") or []),
            f"function {function_name} layers read back as {got.get('Layers')}")
    require(got.get("Environment", {}).get("Variables", {}) == request["Environment"]["Variables"],
            f"function {function_name} environment reads back differently")
    arn = got["FunctionArn"]
    return function_name, {
        "name": function_name, "arn": arn, "qualifiedArn": f"{arn}:{got.get('Version', '$LATEST')}",
        "invokeArn": f"arn:aws:apigateway:{ctx.region}:lambda:path/2015-03-31/functions/{arn}/invocations",
        "version": got.get("Version", "$LATEST"), "lastModified": got.get("LastModified"),
        "sourceCodeHash": _code_sha256(zipped) if zipped else None, "sourceCodeSize": len(zipped),
    }


@emulates("function", "action", "principal", "sourceArn", "sourceAccount", "statementId", "statementIdPrefix",
          "qualifier", "eventSourceToken", "principalOrgId", "functionUrlAuthType")
def permission(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    statement = inputs.get("statementId") or autoname(inputs.get("statementIdPrefix") or name, 100)
    function_name = inputs["function"]
    ctx.client("lambda").add_permission(**drop_none(
        FunctionName=function_name, StatementId=statement, Action=inputs["action"], Principal=inputs["principal"],
        SourceArn=inputs.get("sourceArn"), SourceAccount=inputs.get("sourceAccount"),
        Qualifier=inputs.get("qualifier"), EventSourceToken=inputs.get("eventSourceToken"),
        PrincipalOrgID=inputs.get("principalOrgId"), FunctionUrlAuthType=inputs.get("functionUrlAuthType")))
    policy = json.loads(ctx.check("lambda", "get_policy", **drop_none(
        FunctionName=function_name, Qualifier=inputs.get("qualifier")))["Policy"])
    require(any(s.get("Sid") == statement for s in policy.get("Statement", [])),
            f"statement {statement} is not in the policy of {function_name}")
    return statement, {"statementId": statement}
