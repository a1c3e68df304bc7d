"""The dashboard's web app (FastAPI): one page and a small JSON API over :class:`Studies`.

Read-only requests need nothing. The one mutating request, ``POST /api/studies/NAME/events``,
needs ``Authorization: Bearer TOKEN`` with the token printed at start-up: missing gives 401,
wrong gives 403 (compared with :func:`secrets.compare_digest`, so the time taken says nothing
about the token). An unknown study is 404; a refused event (unknown kind, wrong payload, a
forbid that names an unknown option or empties a decision) is 422 with the reason in
``detail``.

The page fills itself from the API with ``textContent`` and SVG nodes, never ``innerHTML``, so a
``<script>`` in a study name or a trial's error message shows as text.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from nasforge.errors import NasforgeError, StudyNotFoundError, UnknownEventError
from nasforge.imports import try_import
from nasforge.report.dashboard._page import PAGE
from nasforge.report.dashboard._studies import RECENT, Studies

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_app(studies: Studies, token: str) -> FastAPI:
    """The FastAPI app serving ``studies``; mutating requests need ``token``."""
    with try_import("dashboard", "The dashboard") as imports:
        import fastapi
        import uvicorn  # noqa: F401  (checked now: serving needs it)
    imports.check()
    from fastapi import Body, Header, HTTPException
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse

    app = fastapi.FastAPI(title="nasforge dashboard", docs_url=None, redoc_url=None,
                          openapi_url=None)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Any, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own 422 echoes the input, which cannot be encoded when the body held an
        # infinity (``1e999``) and became a 500; the field and the message are enough.
        problems = [{"loc": [str(part) for part in error.get("loc", ())],
                     "msg": str(error.get("msg", ""))} for error in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": problems})

    def known(name: str) -> str:
        if name not in studies.names():
            raise HTTPException(404, f"no study named {name!r} under {studies.path}")
        return name

    def authorise(authorization: str | None) -> None:
        scheme, _, given = (authorization or "").partition(" ")
        if not given.strip() and scheme.lower() in ("", "bearer"):
            raise HTTPException(401, "this request changes a study: send the token printed "
                                "when the dashboard started, as 'Authorization: Bearer TOKEN'",
                                headers={"WWW-Authenticate": "Bearer"})
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise HTTPException(403, "wrong token: use the one printed when the dashboard "
                                "started")

    @app.exception_handler(StudyNotFoundError)
    def _not_found(_: Any, exc: StudyNotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE, headers={"Content-Security-Policy": _CSP,
                                           "Cache-Control": "no-store"})

    @app.get("/api/studies")
    def list_studies() -> list[dict[str, Any]]:
        return [studies.summary(name) for name in studies.names()]

    @app.get("/api/studies/{name:path}/trials")
    def trials(name: str, limit: int | None = None) -> list[dict[str, Any]]:
        return studies.trials(known(name), limit=limit)

    @app.get("/api/studies/{name:path}/events")
    def events(name: str) -> list[dict[str, Any]]:
        return studies.events(known(name))

    @app.post("/api/studies/{name:path}/events", status_code=201)
    def add_event(
        name: str,
        event: dict[str, Any] = Body(...),
        authorization: str | None = Header(default=None),
    ) -> dict[str, Any]:
        authorise(authorization)
        known(name)
        payload = dict(event)
        kind = payload.pop("kind", None)
        if not isinstance(kind, str):
            raise HTTPException(422, 'give the event\'s "kind", e.g. {"kind": "stop"} or '
                                '{"kind": "forbid", "op": "avg_pool_3x3"}')
        try:
            event_id = studies.add_event(name, kind, payload)
        except (UnknownEventError, NasforgeError) as exc:
            raise HTTPException(422, str(exc)) from None
        return {"id": event_id, "kind": kind, **payload}

    # last: a study name may hold a "/" (sent as %2F), so this route matches what the others
    # leave
    @app.get("/api/studies/{name:path}")
    def one_study(name: str) -> dict[str, Any]:
        summary = studies.summary(known(name))
        summary["trajectory"] = studies.trajectory(name)
        summary["front"] = studies.front(name)
        summary["recent"] = studies.trials(name, limit=RECENT)
        summary["events"] = studies.events(name)
        return summary

    return app


_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'")
"""Only the page's own inline script and its own API: nothing from another origin."""
