"""HTTP errors as exception types: handlers raise these, one place maps them to statuses.

Handlers never match on message text; a domain error that means "not found" is its own
type (``VisitorNotFound``), so the mapping cannot drift when a message is reworded.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gate.console.auth import AuthError
from gate.visitors import VisitorError, VisitorNotFound
from rfid.cards import CardNumberError


class ConsoleError(Exception):
    """A refusal the guard can act on; ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.headers = headers


class NotFound(ConsoleError):
    status = 404


class Conflict(ConsoleError):
    """The request is valid but the state forbids it now (no pass yet, fire still active)."""

    status = 409


class Invalid(ConsoleError):
    status = 422


class Unsupported(ConsoleError):
    status = 415


def _json(message: object, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": str(message)}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the mapping; the most specific class wins (Starlette walks the MRO)."""

    async def console_error(_r: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ConsoleError)
        return _json(exc, exc.status, exc.headers)

    async def auth_error(_r: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AuthError)
        return _json(exc, exc.status, exc.headers)

    async def not_found(_r: Request, exc: Exception) -> JSONResponse:
        return _json(exc, 404)

    async def invalid(_r: Request, exc: Exception) -> JSONResponse:
        return _json(exc, 422)

    app.add_exception_handler(ConsoleError, console_error)
    app.add_exception_handler(AuthError, auth_error)
    app.add_exception_handler(VisitorNotFound, not_found)
    app.add_exception_handler(VisitorError, invalid)
    app.add_exception_handler(CardNumberError, invalid)
