"""One error format for every failure: ``{"error": {"code", "message", "field"?}}``.

Lodestar's own errors map to a status by class (most specific first); request validation
answers 422 and unknown routes 404 in the same shape. Messages follow the caller's
``Accept-Language`` (zh-CN by default, or en). Unexpected exceptions answer 500 with no detail;
the server log has the traceback — never the request body, which may hold customer data.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lodestar.errors import (
    CampaignError,
    ConfigError,
    DatasetError,
    IngestError,
    LodestarError,
    NotFound,
    SegmentError,
    StorageError,
    ValidationFailed,
    WorkspaceError,
)
from lodestar.i18n import resolve_locale, t

_log = logging.getLogger("lodestar.api")

#: Lodestar error classes to HTTP statuses, most specific first.
STATUS: tuple[tuple[type[LodestarError], int], ...] = (
    (NotFound, 404),
    (CampaignError, 409),  # not allowed in the campaign's state, or by maker-checker
    (ValidationFailed, 422),
    (ConfigError, 400),
    (IngestError, 400),
    (SegmentError, 400),
    (DatasetError, 404),
    (WorkspaceError, 503),
    (StorageError, 503),
    (LodestarError, 400),
)


class ApiError(Exception):
    """An error the API itself raises (authentication, permission): status, code, i18n key."""

    def __init__(self, status: int, code: str, key: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None, **params: Any) -> None:  # fmt: skip
        super().__init__(key)
        self.status, self.code, self.key, self.field = status, code, key, field
        self.headers, self.params = headers, params


def request_locale(request: Request) -> str:
    """zh-CN unless the caller asks for English (``Accept-Language: en...``) or the workspace
    speaks it."""
    asked = request.headers.get("accept-language", "").split(",")[0].strip() or None
    ws = getattr(request.app.state, "workspace", None)
    return resolve_locale(asked, ws.config.locale if ws is not None else None)


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        detail["field"] = field
    return {"error": detail}


def error_bytes(code: str, message: str, field: str | None = None) -> bytes:
    return json.dumps(error_body(code, message, field), ensure_ascii=False).encode("utf-8")


def status_of(exc: LodestarError) -> int:
    return next(status for cls, status in STATUS if isinstance(exc, cls))


def install(app: FastAPI) -> None:
    """Register the handlers that give every failure the one format."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        message = t(exc.key, request_locale(request), **exc.params)
        return JSONResponse(error_body(exc.code, message, exc.field), exc.status, exc.headers)

    @app.exception_handler(LodestarError)
    async def _lodestar(request: Request, exc: LodestarError) -> JSONResponse:
        loc = request_locale(request)
        message = exc.render(loc) if isinstance(exc, SegmentError) else exc.message
        return JSONResponse(error_body(exc.code, message), status_of(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = [str(p) for p in first.get("loc", ()) if p not in ("body", "path", "query")]
        field = ".".join(where) or None
        problem = str(first.get("msg", "invalid"))
        message = t("api.invalid", request_locale(request), field=field or "body",
                    problem=problem)  # fmt: skip
        return JSONResponse(error_body("invalid_request", message, field), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        loc = request_locale(request)
        if exc.status_code == 404:
            body = error_body("not_found", t("api.not_found", loc, path=request.url.path))
        elif exc.status_code == 405:
            body = error_body("method_not_allowed", t("api.method_not_allowed", loc,
                              method=request.method, path=request.url.path))  # fmt: skip
        else:
            body = error_body(f"http_{exc.status_code}", str(exc.detail))
        return JSONResponse(body, exc.status_code, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # the traceback, the method and the path; not the body, not the headers (the key)
        _log.error("unexpected error in %s %s", request.method, request.url.path,
                   exc_info=exc)  # fmt: skip
        return JSONResponse(error_body("internal_error", t("api.internal", request_locale(request))),
                            500)  # fmt: skip
