"""RayBackend: experts that run as Ray Serve deployments, called through their handles.

Cards come from the configured experts (``backend: ray``). Availability is answered
from the last cluster status (status.py), which ``refresh`` renews at most once per
request when it is older than ``experts.ray.status_ttl``: a deployed, healthy expert
is ``ready`` (it goes first, as a loaded local model does); a cluster that is down,
an expert not deployed, still deploying or failed is a reason, and the selector
moves on to local models, builtin tools and hosted inference. A call that finds the
cluster gone fails at once with that reason (the driver process watches the
cluster), marks the status stale and the scheduler tries the next candidate.

The driver process starts on the first refresh; with ``deploy_on_start`` that first
refresh also deploys the configured experts that are missing and waits for them
(``deploy_timeout``). After the cluster went away, a later refresh (one status TTL on)
starts a fresh driver, which deploys what the restarted cluster lacks.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from engine.errors import ExpertError, ExpertUnavailable
from engine.experts.base import Availability, RunContext
from engine.experts.ray.bridge import DriverExited, DriverProcess
from engine.experts.ray.spec import ClusterSpec, ExpertSpec
from engine.experts.ray.status import ClusterState
from engine.experts.ray.wire import CallReply, pack_request, unpack_outputs
from engine.types import ModelCard, Resource, Task

log = logging.getLogger(__name__)

STATUS_TIMEOUT = 10.0  # one status read from a connected driver


class RayBackend:
    name = "ray"
    rank = 15  # a reachable expert not yet running (scaled to zero) still beats builtin tools
    ready_first = True  # a deployed, healthy expert has its model loaded already
    own_cards = True
    runs_cards_of: tuple[str, ...] = ()
    offline = False

    def __init__(self, cluster: ClusterSpec, driver_factory: Any = DriverProcess) -> None:
        self.cluster = cluster
        self._specs: dict[tuple[str, str], ExpertSpec] = {(s.expert, s.task): s for s in cluster.experts}
        self._cards = [spec.card() for spec in cluster.experts]
        self._factory = driver_factory
        self._driver: DriverProcess | None = None
        self._spawn_lock = threading.Lock()
        self._state: ClusterState | None = None
        self._deployed = not cluster.deploy_on_start
        self.last_deploy: dict[str, Any] | None = None

    # ------------------------------------------------------------------ catalogue side

    def cards(self) -> Sequence[ModelCard]:
        return self._cards

    def availability(self, card: ModelCard) -> Availability:
        spec = self._specs.get((card.id, card.task))
        if spec is None:
            return Availability(False, f"{card.id} is not among the Ray experts (experts.ray.deployments)")
        state = self.state
        if state is None:
            return Availability(False, "the Ray cluster's status has not been read yet")
        app = spec.app_name(self.cluster.app_prefix)
        failed = (self.last_deploy or {}).get("error")
        if failed and state.reachable and app not in state.apps:
            return Availability(False, f"{app} could not be deployed on the Ray cluster: {failed}")
        return state.availability(app, self.cluster.address)

    @property
    def state(self) -> ClusterState | None:
        """The last status read, unless the driver has ended since: then the cluster is
        down at once, with the driver's reason, whatever the TTL says."""
        driver = self._driver
        if driver is not None and not driver.alive and self._state is not None and self._state.reachable:
            self._state = ClusterState.down(driver.reason or "the Ray driver process ended")
        return self._state

    async def refresh(self) -> None:
        state = self.state
        if state is not None and state.age() < self.cluster.status_ttl:
            return
        try:
            driver = await self.driver()
            if not self._deployed:  # deploy_on_start: once, and again after a failed attempt
                await self._deploy_once(driver)
            raw = await driver.request("status", STATUS_TIMEOUT, prefix=self.cluster.app_prefix)
        except (DriverExited, TimeoutError, OSError) as exc:  # OSError: the driver could not start
            self._state = ClusterState.down(str(exc) or "no answer from the Ray driver in time")
            log.info("Ray experts unavailable: %s", self._state.reason)
            return
        except RuntimeError as exc:  # the driver is there, but Serve could not answer
            self._state = ClusterState.down(f"Serve's status could not be read: {exc}")
            return
        self._state = ClusterState.from_status(raw)

    async def _deploy_once(self, driver: DriverProcess) -> None:
        try:
            self.last_deploy = await self.deploy(driver, missing_only=True)
        except RuntimeError as exc:  # Serve refused the deployment: say so, try again later
            self.last_deploy = {"error": str(exc)}
            log.warning("deploying the Ray experts failed: %s", exc)
            return
        self._deployed = True

    async def driver(self) -> DriverProcess:
        """The connected driver process, started if there is none (or it ended)."""
        driver = self._driver
        if driver is None or not driver.alive:
            driver = await asyncio.to_thread(self._spawn)
        await driver.connected(self.cluster.connect_timeout)
        return driver

    def _spawn(self) -> DriverProcess:
        with self._spawn_lock:
            if self._driver is None or not self._driver.alive:
                if self._driver is not None:
                    self._driver.close(grace=1.0)
                self._driver = self._factory(self.cluster)
                self._driver.start()
                # a new driver may find a new cluster (restarted, its Serve state gone)
                self._deployed = not self.cluster.deploy_on_start
            return self._driver

    async def deploy(self, driver: DriverProcess | None = None, missing_only: bool = False) -> dict[str, Any]:
        """Deploy the configured experts onto the cluster and wait for them to settle;
        the report is the experts' status after it (see deploy.py for ``missing_only``)."""
        driver = driver or await self.driver()
        report = await driver.request(
            "deploy",
            self.cluster.deploy_timeout + STATUS_TIMEOUT,
            experts=[spec.to_dict() for spec in self.cluster.experts],
            prefix=self.cluster.app_prefix,
            timeout=self.cluster.deploy_timeout,
            missing_only=missing_only,
        )
        self._state = ClusterState.from_status(report)
        return report

    async def report(self) -> dict[str, Any]:
        """The cluster's nodes, this prefix's applications and where their replicas run."""
        driver = await self.driver()
        return await driver.request("status", STATUS_TIMEOUT, prefix=self.cluster.app_prefix, placement=True)

    # ------------------------------------------------------------------ running

    async def run(
        self, card: ModelCard, task: Task, inputs: Mapping[str, Resource], ctx: RunContext
    ) -> Sequence[Resource]:
        spec = self._specs.get((card.id, card.task))
        if spec is None:
            raise ExpertUnavailable(f"{card.id} is not among the Ray experts (experts.ray.deployments)")
        app = spec.app_name(self.cluster.app_prefix)
        driver = self._driver
        if driver is None or not driver.alive:
            raise ExpertUnavailable(self._gone(driver.reason if driver else "the Ray driver is not running"))
        limits = (self.cluster.max_input_bytes, self.cluster.max_output_bytes)
        if any(res.path is not None for res in inputs.values()):  # files to read: off the loop
            request = await asyncio.to_thread(pack_request, task, inputs, ctx, *limits)
        else:
            request = pack_request(task, inputs, ctx, *limits)
        try:
            reply: CallReply = await driver.request("call", app=app, request=request)
        except DriverExited as exc:
            raise ExpertUnavailable(self._gone(str(exc))) from exc
        except RuntimeError as exc:
            raise ExpertError(f"{app} on the Ray cluster: {exc}") from exc
        if reply.error is not None:
            if reply.unavailable:
                self._stale()
                raise ExpertUnavailable(reply.error)
            raise ExpertError(reply.error)
        if any(out.content is not None for out in reply.outputs):  # files to write: off the loop
            return await asyncio.to_thread(
                unpack_outputs, reply.outputs, ctx, task.id, self.cluster.max_output_bytes
            )
        return unpack_outputs(reply.outputs, ctx, task.id, self.cluster.max_output_bytes)

    def _gone(self, reason: str) -> str:
        self._state = ClusterState.down(reason)
        return f"the Ray cluster at {self.cluster.address} is not reachable: {reason}"

    def _stale(self) -> None:
        if self._state is not None:
            self._state = ClusterState(
                checked_at=float("-inf"),
                reachable=self._state.reachable,
                reason=self._state.reason,
                apps=self._state.apps,
            )

    async def aclose(self) -> None:
        driver, self._driver = self._driver, None
        if driver is not None:
            await asyncio.to_thread(driver.close)
