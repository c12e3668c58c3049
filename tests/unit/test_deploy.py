"""deploy/: the Compose file and the Kubernetes manifest parse, and run the worker command this code has, with
the environment a worker needs (Docker itself is not available to the tests)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ex_app.lib.cli import build_parser
from ex_app.lib.replica import APP_ENVIRONMENT
from ex_app.lib.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
WORKER_COMMAND = ["video-converter-fm", "worker"]
NEEDED = {*APP_ENVIRONMENT, "VCFM_DATABASE_URL"}


def test_the_worker_command_exists():
    assert build_parser().parse_args(WORKER_COMMAND[1:]).command == "worker"


def test_the_compose_file_runs_worker_replicas_beside_postgresql():
    text = (DEPLOY / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert {"postgres", "worker"} <= set(services)
    worker = services["worker"]
    assert worker["command"] == WORKER_COMMAND
    assert set(worker["environment"]) >= NEEDED
    assert worker["environment"]["VCFM_DATABASE_URL"].startswith("postgresql://")
    assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "replicas" in worker["deploy"]
    assert _seconds(worker["stop_grace_period"]) >= 30  # time to hand the running jobs back
    # The ExApp run from this file (Nextcloud 29/30) shares the same identity and database.
    assert set(services["exapp"]["environment"]) >= NEEDED
    # Every variable the file needs without a default is explained in .env.example.
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    example = {line.split("=", 1)[0] for line in (DEPLOY / ".env.example").read_text().splitlines() if "=" in line}
    assert required and required <= example, required - example
    # Every VCFM_ variable set is one the app knows.
    known = {f"VCFM_{name.upper()}" for name in Settings.model_fields}
    for service in ("worker", "exapp"):
        ours = {name for name in services[service]["environment"] if name.startswith("VCFM_")}
        assert ours <= known, ours - known


def test_the_kubernetes_manifest_is_a_worker_deployment_with_its_environment_from_a_secret():
    secret, deployment = yaml.safe_load_all((DEPLOY / "kubernetes-workers.yaml").read_text())
    assert (secret["kind"], deployment["kind"]) == ("Secret", "Deployment")
    assert set(secret["stringData"]) >= NEEDED
    pod = deployment["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 30
    (container,) = pod["containers"]
    assert container["args"] == WORKER_COMMAND
    assert container["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
    assert (
        deployment["spec"]["selector"]["matchLabels"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, duration
    return int(match.group(1))
