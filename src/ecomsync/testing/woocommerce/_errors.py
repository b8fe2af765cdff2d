"""
WordPress' error shape: ``{"code", "message", "data": {"status", ...}}``
(``WP_REST_Server::error_to_response``), raised inside handlers as
`WpError`.
"""

from __future__ import annotations

from typing import Any


class WpError(Exception):
    """
    A ``WP_Error`` on its way to the client.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        **data: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.data = data
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "data": {"status": self.status, **self.data},
        }


def invalid_param(name: str, reason: str, code: str) -> WpError:
    """
    ``WP_REST_Request::has_valid_params``: one invalid argument.
    """
    return WpError(
        400,
        "rest_invalid_param",
        f"Invalid parameter(s): {name}",
        params={name: reason},
        details={name: {"code": code, "message": reason, "data": None}},
    )


def no_route() -> WpError:
    return WpError(
        404,
        "rest_no_route",
        "No route was found matching the URL and request method.",
    )
