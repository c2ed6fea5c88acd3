"""Serve applications from ExpertSpecs, their status, and what a failed call means.

Runs inside the driver process (it imports ray). Each expert is its own application
``<prefix><name>`` whose only deployment is an ``ExpertReplica``; Serve's HTTP proxy
is left off (the bot reaches deployments through handles only, and nothing listens
on a port for them). With ``ship_code`` the engine package travels with the
deployments (the driver's job runtime_env, ``py_modules``), so the cluster runs the same
engine code as the bot whatever is installed on its nodes (its Python packages,
torch, transformers, Tesseract..., must be there).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from engine.experts.ray.spec import ExpertSpec
from engine.experts.ray.status import short_error

_SETTLED = {"RUNNING", "DEPLOY_FAILED", "UNHEALTHY"}
_REDEPLOY = {"", "DEPLOY_FAILED", "UNHEALTHY"}  # absent, or failed: what a first use deploys
ENGINE_DIR = Path(__file__).resolve().parents[2]


def job_runtime_env(ship_code: bool) -> dict[str, Any] | None:
    """The driver's job runtime_env: ``ray.init`` uploads engine/ once (Serve accepts
    only uploaded URIs in a deployment's own runtime_env) and every deployment this
    driver makes inherits it."""
    if not ship_code:
        return None
    return {"py_modules": [str(ENGINE_DIR)], "excludes": ["__pycache__", "*.pyc"]}


def application(spec: ExpertSpec) -> Any:
    from ray import serve

    from engine.experts.ray.replica import ExpertReplica

    options = spec.deployment_options()
    deployment = serve.deployment(**options)(ExpertReplica)
    return deployment.bind(spec.to_dict())


def deploy(
    experts: list[dict[str, Any]], prefix: str, timeout: float, *, missing_only: bool = False
) -> dict[str, Any]:
    """Deploy the experts and wait until each has settled (running, or failed with a
    reason) or ``timeout`` passes.

    In full (``hugginggpt-bot ray deploy``) every expert is deployed (Serve updates a
    running one in place, restarting its replicas) and this prefix's applications that
    are no longer configured are removed. With ``missing_only`` (a bot deploying on
    first use) only experts not running yet are deployed and nothing is removed: a
    second bot process, a Discord shard say, must not restart or delete what the
    first one uses."""
    from ray import serve

    specs = [ExpertSpec.from_dict(raw) for raw in experts]
    serve.start(proxy_location="Disabled")
    present = serve.status().applications
    wanted = {spec.app_name(prefix) for spec in specs}
    if missing_only:
        specs = [
            s for s in specs if _value(getattr(present.get(s.app_name(prefix)), "status", "")) in _REDEPLOY
        ]
    targets = [
        serve.RunTarget(target=application(spec), name=spec.app_name(prefix), route_prefix=None)
        for spec in specs
    ]
    if targets:
        serve.run_many(targets, wait_for_applications_running=False)
    removed = [] if missing_only else [n for n in present if n.startswith(prefix) and n not in wanted]
    for name in removed:
        serve.delete(name, _blocking=False)
    deadline = time.monotonic() + timeout
    while True:
        report = status_report(prefix)
        states = {name: report["apps"].get(name, {}).get("status") for name in wanted}
        if all(state in _SETTLED for state in states.values()) or time.monotonic() > deadline:
            report["deployed"] = [spec.app_name(prefix) for spec in specs]
            report["removed"] = removed
            return report
        time.sleep(0.5)


def delete(app: str) -> bool:
    from ray import serve

    if app not in serve.status().applications:
        return False
    serve.delete(app)
    return True


def status_report(prefix: str, placement: bool = False) -> dict[str, Any]:
    """This prefix's applications as plain dicts; with ``placement`` also the cluster's
    nodes and which node each replica runs on."""
    import ray
    from ray import serve

    apps: dict[str, Any] = {}
    for name, app in serve.status().applications.items():
        if not name.startswith(prefix):
            continue
        apps[name] = {
            "status": _value(app.status),
            "message": app.message or "",
            "deployments": {
                dep_name: {
                    "status": _value(dep.status),
                    "message": dep.message or "",
                    "replicas": {_value(state): int(n) for state, n in dep.replica_states.items()},
                }
                for dep_name, dep in app.deployments.items()
            },
        }
    report: dict[str, Any] = {"apps": apps}
    if placement:
        report["nodes"] = [
            {
                "node_id": node["NodeID"],
                "address": node["NodeManagerAddress"],
                "resources": {k: v for k, v in node["Resources"].items() if not k.startswith("node:")},
            }
            for node in ray.nodes()
            if node.get("Alive")
        ]
        report["replicas"] = _replica_nodes(set(apps))
    return report


def _replica_nodes(apps: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Replica actors by application, with their node's address and pid. Read from the
    GCS actor table (the public state API needs the dashboard, which a lean cluster
    runs without); empty when this Ray version lays the table out differently."""
    try:
        from ray._private import state

        actors = state.actors()
    except Exception:  # noqa: BLE001 - placement is a nicety of `ray status`, never a failure
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    for info in actors.values():
        name = str(info.get("Name") or "")
        if info.get("State") != "ALIVE" or not name.startswith("SERVE_REPLICA::"):
            continue
        app, _, rest = name.removeprefix("SERVE_REPLICA::").partition("#")
        if app in apps:
            address = info.get("Address") or {}
            found.setdefault(app, []).append(
                {"replica": rest.rpartition("#")[2], "node": address.get("IPAddress"), "pid": info.get("Pid")}
            )
    return found


def call_failure(app: str, exc: BaseException) -> tuple[str, bool]:
    """A failed handle call in words, and whether it means the expert is unavailable
    there (gone, dead, overloaded) rather than that it failed on this input."""
    from ray import exceptions as ray_errors
    from ray.serve import exceptions as serve_errors

    if isinstance(exc, serve_errors.BackPressureError):
        return f"{app} is at its request limit on the Ray cluster (max_ongoing_requests)", True
    if isinstance(exc, (serve_errors.DeploymentUnavailableError, ray_errors.RayActorError)):
        return f"{app} is unavailable on the Ray cluster: {short_error(exc)}", True
    if isinstance(exc, serve_errors.RayServeException):  # no such application, mostly
        return f"{app} on the Ray cluster: {short_error(exc)}", True
    if isinstance(exc, ray_errors.RayTaskError):
        return f"{app} crashed on the Ray cluster: {short_error(exc)}", False
    return f"{app} on the Ray cluster: {short_error(exc)}", False


def _value(enum_or_str: Any) -> str:
    return str(getattr(enum_or_str, "value", enum_or_str))
