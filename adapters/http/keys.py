"""API keys, and the workspace each key gets: its conversations and files.

Keys come from an environment variable (comma-separated), never from the config
file. Each key is turned once, at start-up, into a workspace name: a salted, slow
hash (PBKDF2), so the database and the folder names hold no key and a weak key is not
found again from them cheaply. Conversations and files live under the workspace, so
one key never sees another's. A presented key is compared with every accepted key in
constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from engine.errors import ConfigError

_SALT = b"hugginggpt-bot/http/workspace"
_ROUNDS = 100_000
WORKSPACE_CHARS = 24


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: the workspace of the key presented (the key itself is not kept here)."""

    workspace: str


@lru_cache(maxsize=64)
def workspace_of(key: str) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", key.encode("utf-8"), _SALT, _ROUNDS)
    return digest.hex()[:WORKSPACE_CHARS]


class ApiKeys:
    def __init__(self, keys: Iterable[str]) -> None:
        cleaned = [k.strip() for k in keys if k.strip()]
        if not cleaned:
            raise ValueError("no API key given")
        self._keys = [(k.encode("utf-8"), Caller(workspace_of(k))) for k in dict.fromkeys(cleaned)]

    @classmethod
    def from_env(cls, env: Mapping[str, str], variable: str) -> ApiKeys:
        raw = env.get(variable, "")
        try:
            return cls(raw.split(","))
        except ValueError:
            raise ConfigError(
                f"http: set the API key(s) the server accepts in the environment variable {variable} "
                "(comma-separated; for example a long random string from `openssl rand -hex 24`)"
            ) from None

    def __len__(self) -> int:
        return len(self._keys)

    def identify(self, authorization: str | None) -> Caller | None:
        """The caller for an ``Authorization: Bearer KEY`` header, or None."""
        if not authorization:
            return None
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return None
        given = presented.strip().encode("utf-8")
        found = None
        for key, caller in self._keys:  # every key compared: the time does not tell which matched
            if hmac.compare_digest(key, given):
                found = caller
        return found
