"""Reading the Docker Engine: one list call per kind, one inspect per object, run concurrently.

Only GET endpoints are used: nothing here creates, starts, execs, kills or removes anything.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

import docker
from docker.errors import APIError, DockerException, NotFound
from requests.exceptions import RequestException

from hullcheck_common.errors import HullcheckError

from . import engine_fixups, redact
from .errors import ErrorLog, pointer
from .identity import PODMAN
from .proctop import ProcTop

# Enough parallel requests to hide the engine's per-call latency, few enough not to load it.
DEFAULT_CONCURRENCY = 8


class EngineUnreachable(HullcheckError):
    """No Docker Engine answered at the endpoint."""


DEFAULT_ENDPOINT = "unix:///var/run/docker.sock"


def endpoint_url(base_url: str | None) -> str:
    """The endpoint as the user named it (the SDK rewrites unix sockets to http+docker://localhost)."""
    import os

    return base_url or os.environ.get("DOCKER_HOST") or DEFAULT_ENDPOINT


_IDENTITY_HEADERS = ("api-version", "libpod-api-version", "server", "docker-experimental")


class _Client(docker.APIClient):
    """The SDK's client, except that a CA file given for the engine beats REQUESTS_CA_BUNDLE.

    requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's CA file, so a site
    proxy bundle in the environment would make every verified tcp:// engine fail; the Docker
    CLI trusts exactly the CA it is given.

    And an ssh:// engine reached through OpenSSH keeps ssh's stderr (collector/sshclient.py): a
    failure is one line that says what ssh said, not ssh's line on the terminal plus ours.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.openssh: Any = None  # the OpenSSH transport of an ssh:// engine, set by mount()
        try:
            super().__init__(*args, **kwargs)  # with version="auto" this is the first request
        except DockerException as exc:
            raise self.failure(exc) from None

    # What GET /version answered during the version negotiation, and the headers that name the
    # engine (Podman adds Libpod-Api-Version to every answer): read_version needs no request more.
    version_answer: dict[str, Any] | None = None
    version_headers: dict[str, str] | None = None

    def _retrieve_server_version(self) -> str:
        """The SDK's negotiation (GET /version, unversioned), keeping the whole answer."""
        try:
            response = self._get(self._url("/version", versioned_api=False))
            answer = self._result(response, json=True)
            api_version = answer["ApiVersion"]
        except KeyError as exc:
            raise DockerException('Invalid response from docker daemon: key "ApiVersion" is missing.') from exc
        except Exception as exc:
            raise DockerException(f"Error while fetching server API version: {exc}") from exc
        self.version_answer = answer
        self.version_headers = {k: v for k, v in response.headers.items() if k.lower() in _IDENTITY_HEADERS}
        return str(api_version)

    def mount(self, prefix: str, adapter: Any) -> None:
        if prefix == "http+docker://ssh" and getattr(adapter, "ssh_client", False) is None:  # shell-out ssh
            from .sshclient import OpenSSHAdapter

            adapter = self.openssh = self._custom_adapter = OpenSSHAdapter.like(adapter)
        super().mount(prefix, adapter)

    def failure(self, exc: BaseException) -> BaseException:
        """EngineUnreachable with ssh's own words when ssh said why; else `exc` itself."""
        said = self.openssh.said() if self.openssh is not None else ""
        if not said:
            return exc
        return EngineUnreachable(said if said.startswith("ssh:") else f"ssh: {said}")

    @property
    def trust_env(self) -> bool:
        """requests reads proxies, NO_PROXY and ~/.netrc from the environment for every request
        (~0.5 ms of CPU each, a third of an inspect). A unix socket or an ssh:// engine (both
        http+docker:// to the SDK) has no proxy to honour and must never be sent a .netrc login
        for "localhost"; only a tcp:// engine is reached the way the environment says."""
        return self._trust_env and not str(getattr(self, "base_url", "")).startswith("http+docker://")

    @trust_env.setter
    def trust_env(self, value: bool) -> None:
        self._trust_env = value

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if isinstance(self.verify, str) and verify in (None, True):
            settings["verify"] = self.verify
        return settings


def _ssh_via_cli() -> bool:
    """ssh:// engines: shell out to OpenSSH like the Docker CLI (ssh config, agent, ProxyJump) when it is installed."""
    import shutil

    return shutil.which("ssh") is not None


def connect(base_url: str | None, tls: Any = None, timeout: int = 30, concurrency: int = DEFAULT_CONCURRENCY) -> docker.APIClient:
    """Open a low-level client (raw Engine API JSON) and check the engine answers."""
    try:
        if base_url is None:
            kwargs = docker.utils.kwargs_from_env()
            if tls is not None:
                kwargs["tls"] = tls
            client = _Client(timeout=timeout, max_pool_size=concurrency + 2, version="auto",
                             use_ssh_client=_ssh_via_cli(), **kwargs)
        else:
            client = _Client(
                base_url=base_url, tls=tls or False, timeout=timeout, max_pool_size=concurrency + 2, version="auto",
                use_ssh_client=_ssh_via_cli(),
            )
        return client  # the version negotiation was its first request: the engine answered
    except (DockerException, RequestException, OSError) as exc:
        raise EngineUnreachable(_short_reason(exc)) from None


_KNOWN_CAUSES = (
    ("Connection refused", "connection refused"),
    ("No such file or directory", "no socket at that path"),
    ("Permission denied", "permission denied (are you in the docker group?)"),
    ("timed out", "timed out"),
    ("Network is unreachable", "network unreachable"),
    ("Name or service not known", "host name not known"),
    ("certificate verify failed", "TLS certificate verification failed"),
    ("Client sent an HTTP request to an HTTPS server", "the engine speaks TLS: add --tlsverify with --tlscacert, "
     "--tlscert and --tlskey (or set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH)"),
    ("alert certificate required", "the engine requires a client certificate: give --tlscert and --tlskey"),
    ("alert unknown ca", "the engine refused the TLS client certificate: not signed by a CA it trusts"),
    ("alert bad certificate", "the engine refused the TLS handshake: it wants a client certificate it trusts "
     "(--tlscert and --tlskey)"),
    # TLS 1.3 servers often just close the connection after rejecting a client certificate.
    ("EOF occurred in violation of protocol", "the engine closed the connection during the TLS handshake: most often "
     "it refused the client certificate (check --tlscert and --tlskey)"),
    ("UNEXPECTED_EOF_WHILE_READING", "the engine closed the connection during the TLS handshake: most often "
     "it refused the client certificate (check --tlscert and --tlskey)"),
    ("WRONG_VERSION_NUMBER", "TLS handshake failed: the engine does not speak TLS on that port (drop --tls/--tlsverify?)"),
    ("Install paramiko package", "ssh:// engines need paramiko: pip install 'hullcheck[ssh]'"),
)


def _short_reason(exc: BaseException) -> str:
    """One short line from the SDK's nested exception text."""
    text = str(exc).strip()
    for needle, reason in _KNOWN_CAUSES:
        if needle in text:
            return reason
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:300]


def _call(errors: ErrorLog, source: str, fn: Callable[[], Any]) -> Any:
    """Run one API call; on failure record it under `source` and return None."""
    try:
        return fn()
    except (APIError, DockerException, RequestException, OSError) as exc:
        errors.add(source, _short_reason(exc))
        return None


ListHook = Callable[[str, list[str]], None]
Meanwhile = Callable[[Any, Any], Any]


def read_version(client: docker.APIClient, errors: ErrorLog) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """GET /version and the headers of its answer: together they name the engine (identity.py).

    A client from connect() read both while negotiating the API version."""
    if isinstance(client, _Client) and client.version_answer is not None:
        return client.version_answer, dict(client.version_headers or {})
    version = _call(errors, "/engine/version", client.version)
    headers: dict[str, str] = {}
    try:
        response = client.get(f"{client.base_url}/_ping", timeout=client.timeout)
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() in _IDENTITY_HEADERS}
    except (DockerException, RequestException, OSError):
        pass  # the ping headers only confirm what /version says
    return version, headers


def collect_engine(client: docker.APIClient, errors: ErrorLog, *, redact_secrets: bool, label_filter: list[str],
                   concurrency: int = DEFAULT_CONCURRENCY, after_list: ListHook | None = None,
                   version: dict[str, Any] | None = None, kind: str | None = None,
                   meanwhile: Meanwhile | None = None, proc_top: ProcTop | None = None,
                   objects: bool = True) -> tuple[dict[str, Any], Any]:
    """Everything the Engine API tells: version, info, containers, images, networks, volumes, plugins, swarm.

    One list call per kind, then one inspect per object, all on one thread pool so container,
    image and network inspects overlap. `after_list(kind, ids)` runs between a list and its
    inspects (tests use it to remove a container at exactly that moment). `version` is GET
    /version when already read; `kind` (docker, podman) says which API differences to normalise.
    `proc_top` reads running containers' namespaces, and (proc_top.tables) their process tables
    instead of /top, from this host's /proc where that is provably this engine's container
    (proctop.py).

    `meanwhile(info, libpod_info)` runs on the calling thread once /info is read, while the
    engine still answers the inspects (and any /top: dockerd runs runc ps and ps for each, the
    longest wait of a collection); its result comes back beside the engine's sections.

    `objects=False` leaves containers and images out (null): the engine's own facts only."""
    out: dict[str, Any] = {}
    beside: Any = None
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="hullcheck-engine") as pool:
        version_f = pool.submit(lambda: version) if version is not None else \
            pool.submit(_call, errors, "/engine/version", client.version)
        info_f = pool.submit(_call, errors, "/engine/info", client.info)
        # Podman's own /info: its log driver, default capabilities and cgroup controllers,
        # which its Docker-compatible /info leaves out or reports as dockerd would.
        libpod_f = pool.submit(_call, errors, "/engine/libpod_info", lambda: _libpod(client, "/info")) \
            if kind == PODMAN else None
        filters = {"label": label_filter} if label_filter else None
        clist_f = pool.submit(_call, errors, "/containers", lambda: client.containers(all=True, filters=filters)) \
            if objects else pool.submit(lambda: None)
        # Top-level images, as `docker images` lists them (dangling ones included); the intermediate
        # layers of classic builds are not images anyone runs and are visible in each history.
        ilist_f = pool.submit(_call, errors, "/images", lambda: client.images(all=False)) \
            if objects else pool.submit(lambda: None)
        nlist_f = pool.submit(_call, errors, "/networks", client.networks)
        vlist_f = pool.submit(_call, errors, "/volumes", client.volumes)
        # Podman has no plugin API (404): not an error, there are no managed plugins to judge.
        plist_f = pool.submit(lambda: []) if kind == PODMAN else pool.submit(_call, errors, "/plugins", client.plugins)

        def fan_out(kind: str, listing: list[dict[str, Any]] | None, fetch: Callable[[str], Any]) -> list[Any] | None:
            if listing is None:
                return None
            ids = sorted({item["Id"] for item in listing})
            if after_list is not None:
                after_list(kind, ids)
            return [pool.submit(fetch, object_id) for object_id in ids]

        container_futures = fan_out("containers", clist_f.result(), lambda cid: _container(client, cid, errors, redact_secrets, kind, proc_top))
        image_futures = fan_out("images", ilist_f.result(), lambda iid: _image(client, iid, errors, redact_secrets, kind))
        network_futures = fan_out("networks", nlist_f.result(), lambda nid: _network(client, nid, errors))

        info = info_f.result()
        if redact_secrets:
            redact.redact_info(info)
        out["engine"] = {"version": version_f.result(), "info": info}
        if libpod_f is not None:
            out["engine"]["libpod_info"] = libpod_f.result()
        if meanwhile is not None:
            beside = meanwhile(info, out["engine"].get("libpod_info"))
        out["containers"] = _gather(container_futures)
        out["images"] = _gather(image_futures)
        out["networks"] = _gather(network_futures)
        volumes = vlist_f.result()
        out["volumes"] = None if volumes is None else sorted(volumes.get("Volumes") or [], key=lambda v: v.get("Name", ""))
        plugins = plist_f.result()
        out["plugins"] = None if plugins is None else sorted(plugins, key=lambda p: p.get("Name", ""))
        out["swarm"] = _swarm(client, info, errors, redact_secrets)
    # The snapshot's indices are fixed here; errors about part of an object use these indices.
    _index_errors(out["containers"], errors, "containers", "processes")
    _index_errors(out["images"], errors, "images", "history")
    return out, beside


def _gather(futures: list[Future[Any]] | None) -> list[Any] | None:
    """Results of the concurrent inspects, without the objects that vanished, in a stable order (name, id)."""
    if futures is None:
        return None
    kept = [r for r in (f.result() for f in futures) if r is not None]
    return sorted(kept, key=_sort_key)


def _sort_key(item: dict[str, Any]) -> tuple[str, str]:
    inspect = item.get("inspect", item)
    return (str(inspect.get("Name") or ""), str(inspect.get("Id") or ""))


def _inspect(fetch: Callable[[str], Any], oid: str, errors: ErrorLog, section: str, what: str) -> Any:
    """One inspect call; an object that vanished or failed is recorded under `/<section>/-`."""
    try:
        return fetch(oid)
    except NotFound:
        errors.add(f"/{section}/-", f"{what} was removed while collecting")
    except (APIError, DockerException, RequestException, OSError) as exc:
        errors.add(f"/{section}/-", f"{what} could not be inspected: {_short_reason(exc)}")
    return None


def _libpod(client: docker.APIClient, path: str) -> Any:
    """GET a libpod endpoint of a Podman service (any /vX prefix reaches it)."""
    return client._result(client._get(client._url(f"/libpod{path}")), True)


def _top(client: docker.APIClient, cid: str, kind: str | None) -> tuple[Any, dict[str, Any]]:
    """/top, and what it answered raw where Podman's answer had to be replaced: Podman 4's
    compat /top answers 200 with an empty body (rootless) or one string per row; its libpod /top
    has the columns."""
    if kind != PODMAN:
        return client.top(cid), {}
    response = client._get(client._url("/containers/{0}/top", cid))
    client._raise_for_status(response)
    if response.content.strip():
        top, raw = engine_fixups.processes(response.json())
        if top and top.get("Processes"):
            return top, raw
        body: Any = top if not raw else raw["/processes"]
    else:
        body = response.text
    top, raw = engine_fixups.processes(_libpod(client, f"/containers/{cid}/top"))
    # raw: the compat answer that was replaced (the libpod rows are normalised like compat ones)
    return top, {"/processes": body}


def _container(client: docker.APIClient, cid: str, errors: ErrorLog, redact_secrets: bool,
               kind: str | None = None, proc_top: ProcTop | None = None) -> dict[str, Any] | None:
    inspect = _inspect(client.inspect_container, cid, errors, "containers", f"container {cid[:12]}")
    if inspect is None:
        return None
    raw = engine_fixups.container(inspect)
    processes = None
    pending_error = None
    state = inspect.get("State") or {}
    running = bool(state.get("Running"))
    namespaces = None
    if running and proc_top is not None:
        full_id, init_pid = str(inspect.get("Id") or cid), state.get("Pid")
        namespaces = proc_top.namespaces(full_id, init_pid)
        if proc_top.tables:
            processes = proc_top.table(full_id, init_pid, namespaces.get("verified_by"))
    processes_from = "proc" if processes is not None else "engine"
    if running and processes is None:
        try:
            processes, raw_top = _top(client, cid, kind)
            raw.update(raw_top)
            if not isinstance((processes or {}).get("Processes"), list):
                # The engine answers {"Processes": null} for a container that stopped meanwhile.
                processes = None
                pending_error = f"process list of {inspect.get('Name', cid)!s}: the container stopped while collecting"
        except (APIError, DockerException, RequestException, OSError) as exc:
            pending_error = f"process list of {inspect.get('Name', cid)!s}: {_short_reason(exc)}"
    if redact_secrets:
        redact.redact_container(inspect)
        processes = redact.redact_processes(processes)
        if isinstance(raw.get("/processes"), dict):
            raw["/processes"] = redact.redact_processes(raw["/processes"])
    item: dict[str, Any] = {"inspect": inspect, "processes": processes}
    if processes is not None:
        item["processes_from"] = processes_from
    if namespaces is not None:
        item["namespaces"] = namespaces
    if raw:
        item["raw"] = raw
    if pending_error:
        item["_pending_error"] = pending_error
    return item


def _index_errors(items: list[dict[str, Any]] | None, errors: ErrorLog, section: str, field: str) -> None:
    """Errors about a part of an object (a container's processes, an image's history) point at
    that part, by the object's final index in the snapshot."""
    for index, item in enumerate(items or []):
        reason = item.pop("_pending_error", None)
        if reason:
            errors.add(pointer(section, index, field), reason)


def _image(client: docker.APIClient, iid: str, errors: ErrorLog, redact_secrets: bool,
           kind: str | None = None) -> dict[str, Any] | None:
    inspect = _inspect(client.inspect_image, iid, errors, "images", f"image {iid[:19]}")
    if inspect is None:
        return None
    history = None
    pending_error = None
    raw: dict[str, Any] = {}
    if kind == PODMAN:
        try:
            raw = engine_fixups.image_healthcheck(inspect, _libpod(client, f"/images/{iid}/json"))
        except (APIError, DockerException, RequestException, OSError) as exc:
            pending_error = f"libpod inspect of image {iid[:19]} (its health check): {_short_reason(exc)}"
    try:
        history = client.history(iid)
    except (APIError, DockerException, RequestException, OSError) as exc:
        pending_error = f"history of image {iid[:19]}: {_short_reason(exc)}"
    if redact_secrets:
        redact.redact_image(inspect)
        history = redact.redact_history(history)
    item: dict[str, Any] = {"inspect": inspect, "history": history}
    if raw:
        item["raw"] = raw
    if pending_error:
        item["_pending_error"] = pending_error
    return item


def _network(client: docker.APIClient, nid: str, errors: ErrorLog) -> dict[str, Any] | None:
    try:
        return client.inspect_network(nid)
    except NotFound:
        errors.add("/networks/-", f"network {nid[:12]} was removed while collecting")
        return None
    except (APIError, DockerException, RequestException, OSError) as exc:
        errors.add("/networks/-", f"network {nid[:12]} could not be inspected: {_short_reason(exc)}")
        return None


def _swarm(client: docker.APIClient, info: dict[str, Any] | None, errors: ErrorLog,
           redact_secrets: bool = True) -> dict[str, Any] | None:
    if info is None:
        errors.add("/swarm", "swarm state comes from /info, which could not be read")
        return None
    swarm_info = info.get("Swarm") or {}
    state = swarm_info.get("LocalNodeState") or "inactive"
    is_manager = bool(swarm_info.get("ControlAvailable"))
    out: dict[str, Any] = {"state": state, "is_manager": is_manager, "inspect": None, "unlock_key_set": None,
                           "nodes": None, "services": None, "secrets": None, "configs": None}
    if state != "active" or not is_manager:
        return out
    out["inspect"] = _call(errors, "/swarm/inspect", client.inspect_swarm)
    if out["inspect"] is not None:
        out["unlock_key_set"] = bool(((out["inspect"].get("Spec") or {}).get("EncryptionConfig") or {}).get("AutoLockManagers"))
    out["nodes"] = _call(errors, "/swarm/nodes", client.nodes)
    out["services"] = _call(errors, "/swarm/services", client.services)
    if redact_secrets and out["services"]:
        out["services"] = [redact.redact_service(svc) for svc in out["services"]]
    secrets = _call(errors, "/swarm/secrets", client.secrets)
    # The engine never returns secret data, but make sure nothing but metadata is kept.
    out["secrets"] = None if secrets is None else [{k: v for k, v in s.items() if k != "Data"} for s in secrets]
    if out["secrets"]:
        for s in out["secrets"]:
            s.get("Spec", {}).pop("Data", None)
    configs = _call(errors, "/swarm/configs", client.configs)
    # Config data is not secret to Docker, but it is content, not metadata: only metadata is kept.
    out["configs"] = None if configs is None else [
        {**c, "Spec": {k: v for k, v in (c.get("Spec") or {}).items() if k != "Data"}} for c in configs]
    return out
