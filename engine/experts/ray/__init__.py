"""The ``ray`` expert backend: experts as Ray Serve deployments on a cluster.

Nothing here imports ray at module import time: the bot talks to the cluster through
a driver in a child process (``driver.py``, the only bot-side module that imports
ray), so a bot without Ray configured never pays for it, and a cluster that goes
away can never take the bot's process down with it (a Ray driver whose cluster is
gone for a minute is terminated by Ray itself).

    spec.py       what to deploy: one ExpertSpec per expert, and the cluster's settings
    wire.py       files as bytes: inputs packed with the call, outputs saved on return
    status.py     the cluster's status as the bot caches it, and availability from it
    bridge.py     the bot's end of the pipe to the driver process
    driver.py     the driver process: ray.init, Serve handles, deploy and status
    deploy.py     building and running the Serve applications (in the driver process)
    replica.py    the deployment class that runs a builtin tool or a local model
    backend.py    RayBackend, the ExpertBackend the scheduler calls
"""

from engine.experts.ray.backend import RayBackend
from engine.experts.ray.spec import AutoscalingSpec, ClusterSpec, ExpertSpec

__all__ = ["AutoscalingSpec", "ClusterSpec", "ExpertSpec", "RayBackend"]
