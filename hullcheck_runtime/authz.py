"""Engine API requests as an authorization plugin receives them, and which ones the guard judges.

dockerd sends `POST /AuthZPlugin.AuthZReq` with {User, UserAuthNMethod, RequestMethod, RequestUri,
RequestBody (base64), RequestHeaders}: the user is the TLS client certificate's name (absent over
the Unix socket), empty fields are left out, and the body is there only when the daemon forwarded
it: a JSON body under 1 MiB (moby pkg/authorization/authz.go). The paths are matched after
percent-decoding, with empty and dot segments removed, so `/v1.41//containers/./create` is a create.

Judged (`JUDGED`): what makes or widens a container: create, update, exec, the legacy start with a
HostConfig body (API before 1.24), swarm service create and update. Every other request is allowed
without being looked at further.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

CREATE, UPDATE, EXEC, START, SERVICE_CREATE, SERVICE_UPDATE = (
    "container create", "container update", "exec create", "container start", "service create", "service update")
# The request kinds whose body says what a container may do, and how each is found in a path.
_ROUTES = (
    (re.compile(r"^/containers/create$"), CREATE),
    (re.compile(r"^/containers/(?P<id>[^/]+)/update$"), UPDATE),
    (re.compile(r"^/containers/(?P<id>[^/]+)/exec$"), EXEC),
    (re.compile(r"^/containers/(?P<id>[^/]+)/start$"), START),
    (re.compile(r"^/services/create$"), SERVICE_CREATE),
    (re.compile(r"^/services/(?P<id>[^/]+)/update$"), SERVICE_UPDATE),
)
JUDGED = (CREATE, UPDATE, EXEC, START, SERVICE_CREATE, SERVICE_UPDATE)
_VERSION = re.compile(r"^/v(?P<v>[0-9]+(?:\.[0-9]+)*)(?=/)")
# The API version from which a start request's body is refused by the daemon itself.
START_BODY_REMOVED = (1, 24)


@dataclass(frozen=True)
class ApiRequest:
    """One API request as the plugin saw it."""

    method: str
    uri: str
    user: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    path: str = ""                    # normalised, without the /vX.Y prefix
    api_version: tuple[int, ...] | None = None
    query: dict[str, list[str]] = field(default_factory=dict)
    kind: str | None = None           # one of JUDGED, or None
    target: str | None = None         # the container or service id/name in the path

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None

    def body_announced(self) -> bool:
        """The client sent a body, whether or not the daemon forwarded it: a Content-Length above
        zero, or a JSON body without a Content-Length (chunked)."""
        length = self.header("Content-Length")
        if length is not None:
            try:
                return int(length) > 0
            except ValueError:
                return True
        return (self.header("Content-Type") or "").split(";")[0].strip().lower() == "application/json"

    def json_body(self) -> Any:
        """The body as JSON; ValueError when it is not JSON."""
        if self.body is None:
            raise ValueError("no body")
        return json.loads(self.body.decode("utf-8"))

    def first(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


class BadPluginRequest(ValueError):
    """What dockerd sent cannot be read: refused (an error answer refuses too)."""


# dockerd retries a plugin call that failed (moby pkg/plugins/client.go callWithRetry) with the
# same body reader, already drained by the first attempt: a guard killed after reading a request
# gets the retry as an empty AuthZReq. Read as "no method, no path", that would be allowed as
# "not a judged request": fail open exactly when the guard restarts. Refused instead.
EMPTY_RETRY = ("an authorization request without a method or path reached the guard: dockerd re-sends a call "
               "whose body it already sent when the plugin restarted mid-call; refused, run the command again")


def normalise_path(raw: str) -> str:
    """The path the daemon's router matches: percent-decoded, no empty or dot segments."""
    path = unquote(urlsplit(raw).path or "/")
    path = re.sub(r"/{2,}", "/", path)
    normal = posixpath.normpath(path) if path else "/"
    return "/" if normal in (".", "//") else normal


def parse(payload: dict[str, Any]) -> ApiRequest:
    """An AuthZReq payload as an ApiRequest, classified."""
    if not isinstance(payload, dict):
        raise BadPluginRequest("the authorization request is not a JSON object")
    method = str(payload.get("RequestMethod") or "").upper()
    uri = str(payload.get("RequestUri") or payload.get("RequestURI") or "")
    if not method or not uri:
        raise BadPluginRequest(EMPTY_RETRY)
    body = payload.get("RequestBody")
    data: bytes | None = None
    if body not in (None, ""):
        try:
            data = base64.b64decode(str(body), validate=True)
        except (binascii.Error, ValueError):
            raise BadPluginRequest("RequestBody is not base64") from None
    headers = payload.get("RequestHeaders") or {}
    path = normalise_path(uri)
    version = None
    match = _VERSION.match(path)
    if match:
        version = tuple(int(p) for p in match.group("v").split("."))
        path = path[match.end():]
    kind = target = None
    if method == "POST":
        for pattern, name in _ROUTES:
            found = pattern.match(path)
            if found:
                kind, target = name, found.groupdict().get("id")
                break
    return ApiRequest(method=method, uri=uri, user=str(payload.get("User") or ""),
                      headers={str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {},
                      body=data, path=path, api_version=version, query=parse_qs(urlsplit(uri).query),
                      kind=kind, target=target)


def is_judged(request: ApiRequest) -> bool:
    """Whether the guard judges this request: the kinds above; a start only with a body (a
    legacy HostConfig) or the announcement of one, on an API version that still takes it."""
    if request.kind is None:
        return False
    if request.kind == START:
        if request.api_version is None or request.api_version >= START_BODY_REMOVED:
            # No version in the path is the daemon's newest: it refuses a body itself, and a
            # start without one changes no setting.
            return False
        return request.body is not None or request.body_announced()
    return True
