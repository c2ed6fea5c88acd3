"""The ``local`` expert backend (transformers and diffusers pipelines on this machine)."""

from engine.experts.local.backend import LocalBackend
from engine.experts.local.runners import LoadSpec, Runner, RunOptions

__all__ = ["LoadSpec", "LocalBackend", "RunOptions", "Runner"]
