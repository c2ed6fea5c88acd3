"""Settings of the HTTP adapter (the ``http:`` section of the YAML config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class HttpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(
        "127.0.0.1", description="address to listen on; 0.0.0.0 exposes the server to the network"
    )
    port: int = Field(8080, ge=1, le=65535)
    api_keys_env: str = Field(
        "HUGGINGGPT_API_KEY",
        description="environment variable holding the accepted API keys, comma-separated",
    )
    allow_origins: list[str] = Field(
        default_factory=list,
        description="origins allowed to call the API from a browser (CORS); empty = CORS off",
    )
    allow_users: list[str] = Field(
        default_factory=list,
        description="values of the request's `user` field allowed; empty = all (the key is required anyway)",
    )
    rate_limit_per_minute: float = Field(20.0, ge=0, description="turns a minute per key; 0 = no limit")
    rate_limit_burst: int = Field(5, ge=1, description="turns a key may send at once")
    max_body_mb: float = Field(
        40.0,
        gt=0,
        description="largest request body (JSON with data URLs, or an upload), checked before reading",
    )
    public_url: str | None = Field(
        None,
        description="base URL of the server for the links in replies (behind a proxy); default: the request's host",
    )
    shutdown_grace: float = Field(
        30.0,
        ge=0,
        description="seconds running turns may take to finish after SIGTERM before they are cancelled",
    )
    stream_keepalive: float = Field(
        15.0,
        gt=0,
        description="seconds of silence after which a stream sends an SSE comment (proxies drop idle streams)",
    )

    @field_validator("allow_origins")
    @classmethod
    def _origins_are_origins(cls, origins: list[str]) -> list[str]:
        cleaned = [o.rstrip("/") for o in origins]
        for origin in cleaned:
            if origin != "*" and (not origin.startswith(("http://", "https://")) or origin.count("/") != 2):
                raise ValueError(
                    f"{origin!r} is not an origin: write scheme://host[:port] with no path "
                    "(for example https://chat.example.org), or *"
                )
        return cleaned

    @field_validator("public_url")
    @classmethod
    def _public_url_is_a_base(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(
                f"{url!r} must start with http:// or https:// (for example https://bot.example.org)"
            )
        return url.rstrip("/") if url else url
