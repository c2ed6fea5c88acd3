"""Errors the HTTP API answers with, in the shape each family of endpoints uses.

``ApiError`` carries a status and a message for the client. The OpenAI-compatible
endpoints (``/v1/...``, ``/files/...``) answer OpenAI's error object,
``{"error": {"message", "type", "param", "code"}}``, which the official clients turn
into their own exceptions (``openai.AuthenticationError`` for 401, and so on);
JARVIS's endpoints answer ``{"error": "message"}`` as JARVIS's server does.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    503: "server_error",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}


def is_jarvis_path(path: str) -> bool:
    return path in ("/hugginggpt", "/tasks", "/results")


def error_body(path: str, error: ApiError) -> dict[str, Any]:
    if is_jarvis_path(path):
        return {"error": error.message}
    return {
        "error": {
            "message": error.message,
            "type": _TYPES.get(error.status, "server_error"),
            "param": error.param,
            "code": error.code,
        }
    }


def error_response(path: str, error: ApiError) -> web.Response:
    return web.json_response(error_body(path, error), status=error.status, headers=error.headers)


def bad_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param)
