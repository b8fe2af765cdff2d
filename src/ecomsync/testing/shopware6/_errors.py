"""
Shopware's error body (platform-apis.md §1.12) and the exception that
carries it out of the emulator's handlers.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


def error(
    status: int,
    code: str,
    detail: str | None,
    *,
    pointer: str | None = None,
    parameters: dict[str, Any] | None = None,
    title: str | None = None,
    template: bool | str = False,
) -> dict[str, Any]:
    """
    One entry of ``{"errors": [...]}``; *status* is rendered as a string,
    like Shopware does.
    """
    e: dict[str, Any] = {
        "status": str(status),
        "code": code,
        "title": title if title is not None else HTTPStatus(status).phrase,
        "detail": detail,
        "meta": {"parameters": parameters or {}},
    }
    if template:
        # Write-constraint violations carry the message template and no
        # title (WriteConstraintViolationException::getErrors).
        del e["title"]
        e["template"] = detail if template is True else template
    if pointer is not None:
        e["source"] = {"pointer": pointer}
    return e


class ApiError(Exception):
    """
    An error response: HTTP *status* and its ``errors`` list.
    """

    def __init__(
        self,
        status: int,
        errors: list[dict[str, Any]],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, errors)
        self.status = status
        self.errors = errors
        self.headers = headers or {}

    @classmethod
    def one(
        cls,
        status: int,
        code: str,
        detail: str | None,
        **kw: Any,
    ) -> ApiError:
        return cls(status, [error(status, code, detail, **kw)])


def database_error(code: int, message: str) -> ApiError:
    """
    A statement MySQL refused, as Shopware answers it when no
    ExceptionHandler maps it: ErrorResponseFactory::convertExceptionToError
    renders the DBAL exception as a 500 with the driver's error number as
    the code, its message as the detail, no ``meta`` and no
    ``source.pointer``.
    """
    return ApiError(
        500,
        [
            {
                "code": str(code),
                "status": "500",
                "title": "Internal Server Error",
                "detail": "An exception occurred while executing a query: "
                f"SQLSTATE[23000]: Integrity constraint violation: {code} "
                + message,
            }
        ],
    )
