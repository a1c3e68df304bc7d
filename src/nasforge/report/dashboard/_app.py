"""The dashboard's web app (FastAPI): one page and a small JSON API over :class:`Studies`.

Read-only requests need nothing. The one mutating request, ``POST /api/studies/NAME/events``,
needs ``Authorization: Bearer TOKEN`` with NAME's own token, :func:`study_token` of the master
secret printed at start-up and the study's name (an HMAC, so one study's token says nothing
about another's or about the master). Missing gives 401; the token of another study, the master
itself or anything else gives 403 (compared with :func:`secrets.compare_digest`, so the time
taken says nothing about the token). So a captured request, headers and all, cannot be replayed
to another study, and the master, which the page holds, never travels with a write. The page
asks ``GET /api/studies/NAME/token`` with ``Authorization: Bearer MASTER`` for a study's token
(answered ``no-store``). An unknown study is 404; a refused event (unknown kind, wrong payload,
a forbid that names an unknown option or empties a decision) is 422 with the reason in
``detail``.

The page fills itself from the API with ``textContent`` and SVG nodes, never ``innerHTML``, so a
``<script>`` in a study name or a trial's error message shows as text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Any

from nasforge.errors import NasforgeError, StudyNotFoundError, UnknownEventError
from nasforge.imports import try_import
from nasforge.report.dashboard._page import PAGE
from nasforge.report.dashboard._studies import RECENT, Studies

if TYPE_CHECKING:
    from fastapi import FastAPI


def study_token(master: str, name: str) -> str:
    """The steering token of study ``name`` under the dashboard secret ``master``:
    HMAC-SHA256 of the name, URL-safe base64 without padding (43 characters).

    Example:
        >>> study_token("s3cret", "demo") == study_token("s3cret", "demo") != study_token(
        ...     "s3cret", "demo2")
        True
    """
    digest = hmac.new(master.encode("utf-8", "surrogatepass"),
                      name.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _same(given: bytes, expected: str) -> bool:
    return secrets.compare_digest(given, expected.encode("utf-8", "surrogatepass"))


def create_app(studies: Studies, token: str) -> FastAPI:
    """The FastAPI app serving ``studies``; a mutating request on study NAME needs
    ``study_token(token, NAME)``, and the master ``token`` gets those tokens."""
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

    def bearer(authorization: str | None, needs: str) -> bytes:
        """The bearer token sent, or 401 when none was."""
        scheme, _, given = (authorization or "").partition(" ")
        if not given.strip() and scheme.lower() in ("", "bearer"):
            raise HTTPException(401, f"{needs}, as 'Authorization: Bearer TOKEN'",
                                headers={"WWW-Authenticate": "Bearer"})
        if scheme.lower() != "bearer":
            raise HTTPException(403, f"wrong token: {needs}, as 'Authorization: Bearer TOKEN'")
        return given.strip().encode("utf-8", "surrogateescape")

    def authorise(name: str, authorization: str | None) -> None:
        """Let a write on study ``name`` through only with that study's own token."""
        how = (f"send study {name!r}'s own token, from GET /api/studies/{name}/token with "
               "'Authorization: Bearer MASTER' (the token printed when the dashboard started)")
        given = bearer(authorization, f"this request changes a study: {how}")
        if _same(given, study_token(token, name)):
            return
        if _same(given, token):
            raise HTTPException(403, "the dashboard's master token does not steer a study: "
                                f"{how}")
        others = [other for other in studies.names() if other != name]
        if any([_same(given, study_token(token, other)) for other in others]):
            raise HTTPException(403, f"this token is for another study, not {name!r}: {how}")
        raise HTTPException(403, f"wrong token: {how}")

    def master(authorization: str | None) -> None:
        needs = "a study's token is given only for the token printed when the dashboard started"
        if not _same(bearer(authorization, needs), token):
            raise HTTPException(403, f"wrong token: {needs}")

    @app.exception_handler(StudyNotFoundError)
    def _not_found(_: Any, exc: StudyNotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE, headers={"Content-Security-Policy": _CSP,
                                           "Cache-Control": "no-store"})

    @app.get("/api/studies")
    def list_studies() -> list[dict[str, Any]]:
        return [studies.summary(name, import_user_code=False) for name in studies.names()]

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
        authorise(name, authorization)
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

    @app.get("/api/studies/{name:path}/token")
    def token_of(name: str, authorization: str | None = Header(default=None)) -> JSONResponse:
        master(authorization)
        return JSONResponse({"token": study_token(token, known(name))},
                            headers={"Cache-Control": "no-store"})

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
