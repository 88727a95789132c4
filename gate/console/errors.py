"""HTTP errors as exception types: handlers raise these, one place maps them to statuses.

Handlers never match on message text; a domain error that means "not found" is its own
type (``VisitorNotFound``), so the mapping cannot drift when a message is reworded.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gate.console.auth import AuthError
from gate.visitors import VisitorError, VisitorNotFound
from rfid.cards import CardNumberError


class ConsoleError(Exception):
    """A refusal the guard can act on; ``status`` is the HTTP status it maps to, ``code`` the
    key the page translates (``error.<code>`` in ``static/i18n.json``)."""

    status = 400
    code = "refused"

    def __init__(self, message: str, headers: dict[str, str] | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.headers = headers
        if code is not None:
            self.code = code


class NotFound(ConsoleError):
    status = 404
    code = "not_found"


class Conflict(ConsoleError):
    """The request is valid but the state forbids it now (no pass yet, fire still active)."""

    status = 409
    code = "conflict"


class Invalid(ConsoleError):
    status = 422
    code = "invalid"


class Unsupported(ConsoleError):
    status = 415
    code = "unsupported"


class WorkerUnavailable(ConsoleError):
    """A photo worker crashed, hung or stayed busy on this request (gate/photo_workers.py):
    not the photo's verdict, and never the gate's; the same request may be sent again."""

    status = 503
    code = "photo_worker"


# Every code the API can answer with; tests/test_console_i18n.py checks each has words in
# both languages. Codes set at a raise site (``Invalid(..., code="...")``) are listed here.
ERROR_CODES = frozenset({
    "refused", "not_found", "conflict", "invalid", "unsupported", "invalid_field",
    "not_logged_in", "session_expired", "csrf", "admins_only", "hosts_only", "wrong_login",
    "throttled", "locked_out", "auth",
    "visitor_not_found", "visitor_state", "visitor_id_number", "visitor_name",
    "visitor_purpose", "visitor_host", "visitor_note", "visitor_card", "card_taken",
    "card_number", "photo", "no_such_lane", "lane_refused", "not_your_visitor",
    "phone_note", "plate", "duplicate", "fire_still_active", "no_fire_release", "no_pass",
    "map_image", "map_place", "user", "id_number", "note_required", "consent_required",
    "photo_worker", "fire_input_fault", "visitor_document_expired", "chip_read_gone"})

_AUTH_CODES = {"not logged in": "not_logged_in", "session expired": "session_expired",
               "missing or wrong CSRF token": "csrf", "admins only": "admins_only",
               "hosts answer their own visitors only": "hosts_only",
               "wrong username or password": "wrong_login"}


def auth_code(exc: AuthError) -> str:
    if exc.status == 429:
        return "throttled" if "computer" in str(exc) else "locked_out"
    return _AUTH_CODES.get(str(exc), "auth")


def visitor_code(exc: VisitorError) -> str:
    """The desk's refusals name their field first (``id_number: ...``)."""
    if isinstance(exc, VisitorNotFound):
        return "visitor_not_found"
    text = str(exc)
    if text.startswith("visitor is "):
        return "visitor_state"
    if "belongs to someone else" in text:
        return "card_taken"
    if text.startswith("a card is bound"):
        return "visitor_card"
    field = text.split(":", 1)[0]
    code = f"visitor_{field}"
    return code if code in ERROR_CODES else "invalid"


def _json(message: object, status: int, headers: dict[str, str] | None = None,
          code: str = "refused") -> JSONResponse:
    return JSONResponse({"detail": str(message), "code": code}, status_code=status,
                        headers=headers)


def install(app: FastAPI) -> None:
    """Register the mapping; the most specific class wins (Starlette walks the MRO)."""

    async def console_error(_r: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ConsoleError)
        return _json(exc, exc.status, exc.headers, exc.code)

    async def auth_error(_r: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AuthError)
        return _json(exc, exc.status, exc.headers, auth_code(exc))

    async def not_found(_r: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, VisitorError)
        return _json(exc, 404, code=visitor_code(exc))

    async def invalid(_r: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, VisitorError)
        return _json(exc, 422, code=visitor_code(exc))

    async def card(_r: Request, exc: Exception) -> JSONResponse:
        return _json(exc, 422, code="card_number")

    async def validation(_r: Request, exc: Exception) -> JSONResponse:
        """A body that fails its schema: the fields are named, so the page can say which
        (in its own language) instead of pydantic's English."""
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        fields = sorted({str(e["loc"][-1]) for e in errors if e.get("loc")})
        return JSONResponse({"detail": jsonable_encoder(errors), "code": "invalid_field",
                             "fields": fields}, status_code=422)

    app.add_exception_handler(ConsoleError, console_error)
    app.add_exception_handler(AuthError, auth_error)
    app.add_exception_handler(VisitorNotFound, not_found)
    app.add_exception_handler(VisitorError, invalid)
    app.add_exception_handler(CardNumberError, card)
    app.add_exception_handler(RequestValidationError, validation)
