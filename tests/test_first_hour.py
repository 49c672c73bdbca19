"""A new user's first hour (issue 6): every bad input is a `file:line: field: message` with exit code 2 and no
traceback; names stay unique; preview reads like `pulumi preview`; the CLI has the usual conveniences."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import infra.cli.compare
import infra.cli.profiles
import infra.offline.simulation.engine
from infra.cli.main import app
from infra.offline.preview import preview
from infra.profiles import loader
from infra.profiles.loader import PROFILES_DIR, load_stack, resolve

ROOT = Path(__file__).resolve().parents[1]
BUILTIN = PROFILES_DIR / "mlflow-sagemaker.yaml"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def errors(output: str) -> list[str]:
    return [line.removeprefix("error ") for line in output.splitlines() if line.startswith("error ")]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The built-in profile copied and renamed, as a new user starts."""
    text = BUILTIN.read_text().replace("name: mlflow-sagemaker", "name: team-a")
    return write(tmp_path / "team-a.yaml", text)


# ---------------------------------------------------------------- 2: no traceback anywhere
def test_profiles_lists_the_valid_and_reports_an_invalid_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(BUILTIN, tmp_path / "mlflow-sagemaker.yaml")
    broken = write(tmp_path / "broken.yaml", "name: broken\nmodels:\n  churn:\n    card: {owner: growth}\n"
                                             "    serving:\n      min_capacity: x\n")
    monkeypatch.setattr(loader, "PROFILES_DIR", tmp_path)
    monkeypatch.setattr(infra.cli.profiles, "PROFILES_DIR", tmp_path)
    code, out = run("profiles")
    assert code == 2
    assert "mlflow-sagemaker" in out
    assert errors(out) == [f"{broken}:6: models.churn.serving.min_capacity: expected a whole number, got 'x'"]


def test_an_impossible_network_fails_validation_not_preview(copy: Path) -> None:
    write(copy, copy.read_text().replace("cidr: 10.42.0.0/16", "cidr: 10.420.0.0/16"))
    line = line_of(copy, "cidr:")
    for command in (("validate", str(copy)), ("preview", "--profile", str(copy), "--env", "dev")):
        code, out = run(*command)
        assert code == 2
        assert errors(out)[0].startswith(f"{copy}:{line}: networking.cidr: '10.420.0.0/16' is not an IPv4 network")


@pytest.mark.parametrize("cidr", ["10.42.0.1/16", "10.42.0.0/12", "8.8.0.0/16", "10.42.0.0"])
def test_networks_aws_or_the_program_would_reject(copy: Path, cidr: str) -> None:
    write(copy, copy.read_text().replace("cidr: 10.42.0.0/16", f"cidr: {cidr}"))
    code, out = run("validate", str(copy))
    assert code == 2 and "networking.cidr" in out


def test_output_paths_are_checked_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = write(tmp_path / "a-file", "")
    code, out = run("schema", "-o", str(blocker / "schema.json"))
    assert code == 2 and errors(out) == [f"{blocker / 'schema.json'}: --output: {blocker} is a file, not a directory"]

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the simulation ran before the chart path was checked")

    monkeypatch.setattr(infra.offline.simulation.engine, "simulate", must_not_run)
    code, out = run("simulate", "--stack", "dev", "--chart", str(blocker / "chart.png"))
    assert code == 2 and "--chart" in out
    assert list(tmp_path.iterdir()) == [blocker]  # nothing written


def test_every_command_that_writes_checks_its_output_path_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = write(tmp_path / "a-file", "")
    code, out = run("scenario", "schema", "-o", str(blocker / "scenario.json"))
    assert code == 2 and errors(out) == [f"{blocker / 'scenario.json'}: --output: {blocker} is a file, not a directory"]
    code, out = run("scenario", "schema", "-o", str(tmp_path / "new" / "dir" / "scenario.json"))
    assert code == 0 and json.loads((tmp_path / "new" / "dir" / "scenario.json").read_text())["title"]

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the comparison ran before its output paths were checked")

    monkeypatch.setattr(infra.cli.compare, "synthesize", must_not_run)
    code, out = run("compare", "--scenario", "startup", "-o", str(blocker))
    assert code == 2 and errors(out) == [f"{blocker / 'startup.md'}: --output: {blocker} is a file, not a directory"]
    reports = tmp_path / "reports"
    reports.mkdir()
    write(reports / "startup-charts", "")  # a file where the chart folder goes
    code, out = run("compare", "--scenario", "startup", "-o", str(reports))
    assert code == 2 and "startup-charts is a file, not a directory" in out
    assert sorted(p.name for p in reports.iterdir()) == ["startup-charts"]  # nothing half-written


def test_a_drift_setting_for_a_column_the_dataset_does_not_have_is_an_error(copy: Path) -> None:
    text = copy.read_text()
    write(copy, text.replace("          income: {method: psi", "          incme: {method: psi"))
    line = text.splitlines().index("          income: {method: psi, threshold: 0.2}") + 1
    code, out = run("validate", str(copy))
    assert code == 2
    (error,) = errors(out)
    assert error.startswith(f"{copy}:{line}: models.credit-scoring.monitoring.drift.features.incme: no column "
                            "'incme' in the dataset schema ")
    assert error.endswith("schemas/credit-scoring.yaml; did you mean 'income'?")


# ---------------------------------------------------------------- 3: errors that point at the right place
def test_patterns_in_messages_are_printed_literally(copy: Path) -> None:
    write(copy, copy.read_text().replace("source_prefix: landing/recommender/", "source_prefix: 'bad [a-z]{2}/'"))
    code, out = run("validate", str(copy))
    assert code == 2
    assert "'bad [a-z]{2}/' does not match the pattern ^[a-zA-Z0-9!_.*'()/-]*/$" in out


def test_a_bad_region_in_a_stack_file_is_blamed_on_the_stack_file(tmp_path: Path) -> None:
    stack = write(tmp_path / "Pulumi.dev.yaml",
                  "config:\n  mlopsgen:profile: mlflow-sagemaker\n  aws:region: moon-base-1\n")
    code, out = run("validate", str(stack))
    assert code == 2
    assert errors(out) == [f"{stack}:3: aws:region: 'moon-base-1' is not an AWS region with SageMaker; for "
                           "example us-east-1 or eu-central-1"]


def test_an_unknown_environment_names_its_line(tmp_path: Path) -> None:
    stack = write(tmp_path / "Pulumi.qa.yaml",
                  "config:\n  mlopsgen:profile: mlflow-sagemaker\n  mlopsgen:environment: qa\n")
    code, out = run("validate", str(stack))
    assert code == 2
    assert errors(out) == [f"{stack}:3: mlopsgen:environment: unknown environment 'qa'; expected one of dev, "
                           "staging, prod"]


def test_an_environment_taken_from_the_stack_name_says_so(tmp_path: Path) -> None:
    stack = write(tmp_path / "Pulumi.s4.yaml", "config:\n  mlopsgen:profile: mlflow-sagemaker\n")
    code, out = run("validate", str(stack))
    assert code == 2
    assert "mlopsgen:environment: not set, so the stack's name 's4' would be the environment" in out


def test_overlay_errors_carry_the_environment_path(copy: Path) -> None:
    write(copy, copy.read_text().replace("      log_retention_days: 30", "      log_retention_days: 31"))
    code, out = run("validate", str(copy))
    assert code == 2
    (problem,) = errors(out)
    assert problem.startswith(f"{copy}:{line_of(copy, 'log_retention_days: 31')}: "
                              "environments.staging.monitoring.log_retention_days: 31 is not allowed")


def test_validator_messages_in_plain_words_with_hints(tmp_path: Path) -> None:
    profile = write(tmp_path / "p.yaml", "\n".join([
        "name: team-b",                       # 1
        "tracking:",                          # 2
        "  kind: mlflow-ecs",                 # 3
        "  mlflow_version: 2.20",             # 4
        "  cpu: 1024",                        # 5
        "  desried_count: 2",                 # 6
        "networking:",                        # 7
        "  nat_gateways: 1",                  # 8
        "monitoring:",                        # 9
        "  kind: lambda-drfit",               # 10
        "automation:",                        # 11
        "  timezone: Europe/Berlln",          # 12
    ]) + "\n")
    code, out = run("validate", str(profile))
    assert code == 2
    assert errors(out) == [
        f"{profile}:4: tracking.mlflow_version: expected text, got a number (2.20); quote it: \"2.20\"",
        f"{profile}:6: tracking.desried_count: unknown field; did you mean 'desired_count'?",
        f"{profile}:7: networking: 'kind' is required here: one of vpc, gcp-vpc",
        f"{profile}:10: monitoring.kind: unknown kind 'lambda-drfit'; expected one of lambda-drift, "
        "cloud-monitoring; "
        "did you mean 'lambda-drift'?",
        f"{profile}:12: automation.timezone: 'Europe/Berlln' is not an IANA time zone; did you mean 'Europe/Berlin'?",
    ]


def test_errors_of_several_files_are_sorted_by_file_and_line(tmp_path: Path) -> None:
    b = write(tmp_path / "b.yaml", "name: team-b\nregion: nowhere\nsecurity:\n  kms_deletion_window_days: 3\n")
    a = write(tmp_path / "a.yaml", "name: team-a\nnetworking:\n  kind: vpc\n  availability_zones: 9\n")
    code, out = run("validate", str(b), str(a))
    assert code == 2
    assert [e.split(": ")[0] for e in errors(out)] == [f"{a}:4", f"{b}:2", f"{b}:4"]


# ---------------------------------------------------------------- 4: accepted silently before
def test_a_copied_profile_must_be_renamed(tmp_path: Path) -> None:
    copied = Path(shutil.copy(BUILTIN, tmp_path / "mine.yaml"))
    code, out = run("validate", str(copied))
    assert code == 2
    assert errors(out)[0].startswith(f"{copied}:{line_of(copied, 'name:')}: name: 'mlflow-sagemaker' is the "
                                     "built-in profile's name")


def test_environments_cannot_share_buckets(copy: Path) -> None:
    write(copy, copy.read_text().replace("  kind: s3\n", "  kind: s3\n  bucket_prefix: team-a-ml\n", 1))
    code, out = run("validate", str(copy))
    assert code == 2
    assert "environments: artifact_store.bucket_prefix 'team-a-ml' is used by dev and staging and prod" in out


# ---------------------------------------------------------------- 5: names that must be shortened stay unique
def test_shortened_names_stay_unique_across_environments(tmp_path: Path) -> None:
    name = "recommendation-platform-team-a12"  # 32 characters, the longest the schema allows
    profile = write(tmp_path / f"{name}.yaml", BUILTIN.read_text().replace("name: mlflow-sagemaker", f"name: {name}"))
    limits = {"aws:lb/loadBalancer:LoadBalancer": 32, "aws:lb/targetGroup:TargetGroup": 32}
    seen: dict[str, set[str]] = {typ: set() for typ in limits}
    for env in ("dev", "staging", "prod"):
        graph = preview(resolve(str(profile), env))
        for typ, limit in limits.items():
            (record,) = graph.of_type(typ)
            physical = record.inputs["name"]
            assert len(physical) <= limit and not physical.endswith("-")
            seen[typ].add(physical)
    assert all(len(names) == 3 for names in seen.values()), seen


# ---------------------------------------------------------------- 6: preview like pulumi preview
def test_preview_prints_every_resource_under_its_component_then_the_outputs() -> None:
    code, out = run("preview", "--stack", "dev")
    assert code == 0
    graph = preview(load_stack("dev"))
    lines = out.splitlines()
    tree = [line for line in lines if line.startswith(" +   ")]
    assert len(tree) == len(graph.resources) + 1  # and the stack
    depth = {}
    for line in tree[1:]:
        match = re.match(r" \+   ([│ ]*)[├└]─ (\S+)  (\S+)", line)
        assert match, line
        depth[match.group(3)] = len(match.group(1)) // 3
    for record in graph.resources:
        expected = 0 if record.parent is None else depth[record.parent] + 1
        assert depth[record.name] == expected, record.name
    protected = [line for line in tree if "[protected, retained on delete]" in line]
    assert len(protected) == sum(1 for r in graph.resources if r.protect and r.retain_on_delete)
    outputs = lines.index("Outputs:")
    assert outputs > lines.index(tree[-1])
    for key in ("trackingUrl", "dataBucket", "artifactBucket", "alertTopicArn", "models"):
        assert any(line.strip().startswith(key) for line in lines[outputs:]), key
    assert "Loosened defaults" in out


def test_preview_json_has_outputs_and_loosened_defaults() -> None:
    code, out = run("preview", "--stack", "dev", "--json")
    doc = json.loads(out)
    assert doc["outputs"]["models"]["recommender"]["endpoint"] == "mlflow-sagemaker-dev-recommender"
    assert doc["outputs"]["models"]["credit-scoring"]["servingMode"] == "serverless"
    assert doc["loosenedDefaults"] and all(isinstance(x, str) for x in doc["loosenedDefaults"])


def test_sandbox_up_prints_outputs_grouped_reasons_and_the_users_options() -> None:
    code, out = run("sandbox", "up", "--profile", "mlflow-sagemaker", "--env", "dev")
    assert code == 0, out
    assert "Outputs:" in out and "models" in out
    assert "mlopsgen simulate --profile mlflow-sagemaker --env dev" in out
    assert "--stack dev" not in out
    recorded = out[out.index("Recorded, not emulated"):out.index("Outputs:")].splitlines()
    assert all(len(line.rstrip()) <= 80 for line in recorded)
    rows = [line for line in recorded if line.startswith("    ")]
    assert len(rows) < 18 == int(recorded[0].split("(")[1].split(")")[0])  # grouped by reason, not one row each
    assert "aws:lambda:Function  credit-scoring-deployer, credit-scoring-drift-monitor," in out


# ---------------------------------------------------------------- 8: CLI conveniences
def test_version_short_help_and_completion() -> None:
    code, out = run("--version")
    assert code == 0 and re.fullmatch(r"mlopsgen \d+\.\d+\.\d+\n", out)
    code, out = run("-h")
    assert code == 0 and "--install-completion" in out and "Usage: mlopsgen" in out
    code, out = run("preview", "-h")
    assert code == 0


@pytest.mark.parametrize("command", [[], ["validate"], ["schema"], ["preview"], ["sandbox", "up"], ["simulate"],
                                     ["drift"]])
def test_help_shows_no_python_types(command: list[str]) -> None:
    code, out = run(*command, "--help")
    assert code == 0
    assert not re.search(r"<(bool|int|path|list|str)", out, re.IGNORECASE), out
    assert "dev, staging or prod" not in out


def test_a_profile_needs_an_environment() -> None:
    code, out = run("preview", "--profile", "mlflow-sagemaker")
    assert code == 2 and errors(out) == ["<command line>: --env: --profile needs --env (dev, staging, prod)"]


def test_a_negative_drift_day_is_refused() -> None:
    code, out = run("simulate", "--stack", "dev", "--drift-day", "-5")
    assert code == 2 and "--drift-day" in out


def test_readme_says_how_to_run_and_how_to_deploy() -> None:
    readme = (ROOT / "README.md").read_text()
    assert ".venv/bin/mlopsgen" in readme or "source .venv/bin/activate" in readme
    assert "pulumi login" in readme and "pulumi stack init" in readme
    assert "relative to the stack file" in readme  # where mlopsgen:profile files are looked up


# ---------------------------------------------------------------- 9: real deploy traps
def test_runtime_image_builds_from_the_installed_package_relative_to_the_project_and_not_on_preview() -> None:
    (image,) = preview(load_stack("dev")).of_type("docker-build:index:Image")
    # Here the installed package is the source tree's (editable install); a wheel install builds from site-packages.
    assert image.inputs["context"]["location"] == "infra/runtime"
    assert image.inputs["dockerfile"]["location"] == "infra/runtime/Dockerfile"
    assert image.inputs["buildOnPreview"] is False
    assert (ROOT / image.inputs["dockerfile"]["location"]).is_file()


def test_readme_tells_the_truth_about_nat(graphs: dict) -> None:
    readme = (ROOT / "README.md").read_text()
    assert "NAT only where asked" not in readme
    nat = {env: len(g.of_type("aws:ec2/natGateway:NatGateway")) for env, g in graphs.items()}
    assert nat == {"dev": 0, "staging": 1, "prod": 3}
    assert "one NAT gateway by default" in readme


# Root may write anywhere by permission bits, yet nothing can be created under /proc: the check must try.
UNCREATABLE = Path("/proc/mlopsgen-nowhere")


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("args", [
    ("schema", "-o", str(UNCREATABLE / "profile.schema.json")),
    ("new", str(UNCREATABLE), "--profile", "mlflow-sagemaker"),
    ("compare", "--scenario", "startup", "-o", str(UNCREATABLE)),
    ("simulate", "--stack", "dev", "--days", "1", "--chart", str(UNCREATABLE / "chart.png")),
], ids=["schema", "new", "compare", "simulate"])
def test_an_output_that_cannot_be_created_is_a_clear_error_before_any_work(args: tuple[str, ...]) -> None:
    code, out = run(*args)
    assert code == 2, out
    (message,) = errors(out)
    assert message.startswith(str(UNCREATABLE)) and "cannot create" in message
