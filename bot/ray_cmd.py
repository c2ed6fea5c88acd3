"""``hugginggpt-bot ray deploy|status``: the experts on a Ray cluster, and where they run.

``deploy`` puts every expert of ``experts.ray.deployments`` onto the running cluster
(updating those that run already, removing this prefix's applications the config no
longer lists) and waits until each runs or has failed with its reason; ``status``
reports the cluster's nodes and, per expert, its application's state, replicas,
resources and the nodes its replicas run on. Both exit 1 when an expert is not
running, so a deploy script can stop there.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.app import ray_cluster
from bot.config import Settings
from engine.errors import ConfigError
from engine.experts.ray.spec import ClusterSpec, ExpertSpec

GIB = 1024**3


async def ray_command(args: argparse.Namespace, settings: Settings) -> int:
    from engine.experts.ray import RayBackend
    from engine.experts.ray.bridge import DriverExited

    if not settings.experts.ray.enabled:
        raise ConfigError(
            "experts.ray.enabled is false in this config: enable it and list experts.ray.deployments"
        )
    cluster = ray_cluster(settings)
    backend = RayBackend(cluster)
    try:
        if args.ray_command == "deploy":
            deployed = await backend.deploy()
            report = {
                **await backend.report(),
                "deployed": deployed.get("deployed", []),
                "removed": deployed.get("removed", []),
            }
        else:
            report = await backend.report()
        driver = await backend.driver()
        report["ray"] = driver.hello.get("ray")
    except DriverExited as exc:
        print(f"error: the Ray cluster at {cluster.address} is not reachable: {exc}", file=sys.stderr)
        return 1
    finally:
        await backend.aclose()
    rows = expert_rows(cluster, report)
    if args.json:
        print(json.dumps({"address": cluster.address, **report, "experts": rows}, indent=2))
    else:
        print("\n".join(render(cluster, report, rows)))
    return 0 if all(row["status"] == "RUNNING" for row in rows) else 1


def expert_rows(cluster: ClusterSpec, report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per configured expert: its application's state and where it runs."""
    rows = []
    for spec in cluster.experts:
        app = spec.app_name(cluster.app_prefix)
        state = report.get("apps", {}).get(app, {})
        running = sum(dep["replicas"].get("RUNNING", 0) for dep in state.get("deployments", {}).values())
        replicas = report.get("replicas", {}).get(app, [])
        rows.append(
            {
                "expert": spec.expert,
                "task": spec.task,
                "app": app,
                "status": state.get("status", "NOT DEPLOYED"),
                "running": running,
                "wanted": _wanted(spec),
                "resources": _resources(spec),
                "where": sorted({f"{r['node']}" for r in replicas if r.get("node")}),
                "message": _message(state),
            }
        )
    return rows


def render(cluster: ClusterSpec, report: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    nodes = report.get("nodes", [])
    lines = [f"Ray cluster at {cluster.address} (Ray {report.get('ray')}): {len(nodes)} node(s)"]
    for node in nodes:
        res = node["resources"]
        lines.append(
            f"  {node['address']}: {res.get('CPU', 0):g} CPU, {res.get('GPU', 0):g} GPU, "
            f"{res.get('memory', 0) / GIB:.1f} GiB memory"
        )
    for name in report.get("deployed", []):
        lines.append(f"deployed {name}")
    for name in report.get("removed", []):
        lines.append(f"removed {name} (no longer in experts.ray.deployments)")
    lines.append("")
    header = ("expert", "task", "status", "replicas", "resources", "where")
    table = [header] + [
        (
            r["expert"],
            r["task"],
            r["status"],
            f"{r['running']}/{r['wanted']}",
            r["resources"],
            ", ".join(r["where"]) or "-",
        )
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in table]
    lines += [f"  {r['app']}: {r['message']}" for r in rows if r["message"]]
    return lines


def _wanted(spec: ExpertSpec) -> str:
    if spec.autoscaling is not None:
        return f"{spec.autoscaling.min_replicas}-{spec.autoscaling.max_replicas}"
    return str(spec.replicas)


def _resources(spec: ExpertSpec) -> str:
    parts = [f"{spec.num_cpus:g} CPU"]
    if spec.num_gpus:
        parts.append(f"{spec.num_gpus:g} GPU")
    if spec.memory_mb:
        parts.append(f"{spec.memory_mb} MB")
    return ", ".join(parts)


def _message(state: dict[str, Any]) -> str:
    from engine.experts.ray.status import AppHealth

    return AppHealth.from_status(state).message if state else ""
