"""The HTTPS API locally: `chalice local`'s server, answering what API Gateway answers itself the
way the deployed API does (its gateway responses, chalicelib/core/http.py GATEWAY_RESPONSES),
so that every error has the one shape here too and nothing a caller sent is echoed:

- no Authorization header → 401; a token the authorizer refuses → 403; an unknown route → 404
  (chalice local answers 403 and, with a token, repeats the header in its message);
- a method the HTTP server does not know (TRACE, CONNECT, ...) → 405; headers too large → 431;
  a body larger than Lambda takes (6 MB) → 413, unread;
- an authorizer that fails → 500; a HEAD answer carries no body.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalice.local import (
    ChaliceRequestHandler,
    ForbiddenError,
    InvalidAuthorizerError,
    LocalDevServer,
    LocalGatewayException,
    NotAuthorizedError,
)

from chalicelib.core.http import gateway_response

# API Gateway takes 10 MB, but Lambda's synchronous invocation takes 6 MB, request and all: a
# larger body would never reach the function. Deployed, API Gateway then answers itself (an
# integration failure, a 5xx in the API's error shape); here, more usefully, a 413.
MAX_BODY_BYTES = 6 * 1024 * 1024


def _gateway(kind: str) -> tuple[int, bytes]:
    response = gateway_response(kind)
    return response.status, response.body().encode()


class GatewayRequestHandler(ChaliceRequestHandler):
    # The access log (one stderr line per request); the demo turns it off while its own
    # warehouse calls the API, so that its story reads in one piece.
    access_log = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        if GatewayRequestHandler.access_log:
            super().log_message(format, *args)

    def _send_error_response(self, error: LocalGatewayException) -> None:
        if isinstance(error, NotAuthorizedError):
            kind = "UNAUTHORIZED"
        elif isinstance(error, InvalidAuthorizerError):
            kind = "AUTHORIZER_CONFIGURATION_ERROR"
        elif isinstance(error, ForbiddenError) and (b"Missing Authentication Token" in (error.body or b"")
                                                    or b"Authorization header requires" in (error.body or b"")):
            kind = "MISSING_AUTHENTICATION_TOKEN"  # no such route
        else:
            kind = "ACCESS_DENIED"
        status, body = _gateway(kind)
        headers = {k: v for k, v in (error.headers or {}).items() if k.lower() == "x-amzn-requestid"}
        self._send_http_response(status, {**headers, "Content-Type": "application/json"}, body)

    def _generic_handle(self) -> None:
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            status, body = _gateway("REQUEST_TOO_LARGE" if length > 0 else "DEFAULT_4XX")
            self.close_connection = True
            self._send_http_response(status, {"Content-Type": "application/json"}, body)
            return
        try:
            super()._generic_handle()
        except Exception:  # an authorizer or an event that failed: API Gateway's 500, in our shape
            status, body = _gateway("AUTHORIZER_FAILURE")
            self._send_http_response(status, {"Content-Type": "application/json"}, body)

    # chalice binds its do_* methods to its own _generic_handle: bound again to the one above.
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def _send_http_response_with_body(self, code: int, headers: Any, body: Any) -> None:
        if self.command == "HEAD":
            headers = dict(headers)
            headers.pop("Content-Length", None)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self._send_headers(headers)
            return
        super()._send_http_response_with_body(code, headers, body)

    def _not_allowed(self) -> None:
        """A method the API takes on no route (TRACE, CONNECT, ...): 405 naming the methods of
        this path, or 404 for a path the API does not have, as for any other method."""
        from chalice.local import RouteMatcher

        self.close_connection = True
        routes = self.local_gateway._app_object.routes  # noqa: SLF001 - chalice local keeps them there
        try:
            path = RouteMatcher(list(routes)).match_route(self.path).route
        except ValueError:
            status, body = _gateway("MISSING_AUTHENTICATION_TOKEN")
            self._send_http_response(status, {"Content-Type": "application/json"}, body)
            return
        allowed = [method for method, entry in routes[path].items() if not entry.view_name.endswith("#405")]
        body = json.dumps({"error": "MethodNotAllowed",
                           "message": f"{path} takes {', '.join(allowed)}"}).encode()
        self._send_http_response(405, {"Content-Type": "application/json", "Allow": ", ".join(allowed)}, body)

    do_TRACE = do_CONNECT = _not_allowed

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (header lines too long, a bad request line, an unknown
        method) as JSON, without repeating what was sent."""
        if code == 501:
            self._not_allowed()
            return
        reasons = {400: ("BadRequest", "the request could not be read"),
                   414: ("UriTooLong", "the request line is too long"),
                   431: ("RequestHeaderFieldsTooLarge", "the request's headers are too large")}
        error, text = reasons.get(code, ("BadRequest", "the request could not be read"))
        payload = json.dumps({"error": error, "message": text}).encode()
        try:
            self.close_connection = True
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(payload)
        except OSError:
            pass


def local_server(project_dir: Path, host: str, port: int, stage: str = "local") -> LocalDevServer:
    """`chalice local`'s server for the project, with the gateway's answers above."""
    from chalice.cli.factory import CLIFactory
    from chalice.deploy.validate import validate_routes

    factory = CLIFactory(str(project_dir))
    config = factory.create_config_obj(chalice_stage_name=stage)
    validate_routes(config.chalice_app.routes)
    return LocalDevServer(config.chalice_app, config, host, port, handler_cls=GatewayRequestHandler)
