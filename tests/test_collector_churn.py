"""Collection under churn: 100 containers, some removed and some created while collecting.

Ten are removed right after the container list (so at least ten inspects are guaranteed to find
nothing), and a background thread keeps removing and creating containers while the inspects and
process lists run. Collection must finish, record every object it could not read, and validate.

The churn runs on a dockerd of its own (tests/support/lifecycle.py), not on the shared one: force-
removing 20 running containers 8 at a time once deadlocked Debian's dockerd 20.10.24 in libnetwork,
and a wedged shared engine stops every other test. A private engine that wedges fails this test
alone, and its stop (SIGTERM, then SIGKILL, then its leftovers by its own directory) ends it.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import pytest
from collector_support import PrivateDockerd, build_busybox
from conftest import LABEL_KEY

from collector import CollectOptions, collect, validate

COUNT = 100


def _start(api: Any, image: str, name: str, labels: dict[str, str], on_create: Any = None) -> str:
    # No network: the test is about the engine's objects, not about docker0 being there.
    cid = api.create_container(image, command=["sleep", "3600"], name=name, labels=labels,
                               host_config=api.create_host_config(network_mode="none"))["Id"]
    if on_create is not None:
        on_create(cid)
    api.start(cid)
    return cid


def _remove(api: Any, cid: str) -> None:
    try:
        api.remove_container(cid, force=True)
    except Exception:  # already gone is fine
        pass


@pytest.fixture
def churn_engine() -> Iterator[tuple[PrivateDockerd, Any, str]]:
    """A private dockerd (network namespace, data and socket of its own) with the busybox image."""
    with PrivateDockerd({"bridge": "none"}, own_netns=True) as daemon:
        client = daemon.client()
        try:
            yield daemon, client, build_busybox(client)
        finally:
            client.close()


def test_collection_under_churn_finishes_records_what_it_missed_and_validates(churn_engine, session_label):
    daemon, client, busybox_image = churn_engine
    api = client.api
    label = f"{session_label}-churn"
    labels = {LABEL_KEY: label}
    created: list[str] = []
    lock = threading.Lock()

    def start(name: str) -> str:
        def remember(cid: str) -> None:
            with lock:
                created.append(cid)

        return _start(api, busybox_image, f"hc-{label}-{name}", labels, remember)

    pool = ThreadPoolExecutor(max_workers=8)
    churn_done = threading.Event()
    churn_done.set()
    try:
        initial = list(pool.map(start, [f"c{i:03d}" for i in range(COUNT)]))
        removed_early = initial[:10]
        churn_remove = initial[10:30]
        churn_done.clear()

        def churn() -> None:
            try:
                list(pool.map(lambda cid: _remove(api, cid), churn_remove))
                list(pool.map(start, [f"late{i:02d}" for i in range(10)]))
            finally:
                churn_done.set()

        def after_list(kind: str, ids: list[str]) -> None:
            if kind != "containers":
                return
            assert set(initial) <= set(ids), "the list saw every container"
            for cid in removed_early:
                _remove(api, cid)
            threading.Thread(target=churn, daemon=True).start()

        snapshot = collect(CollectOptions(docker_host=daemon.url, label_filter=[f"{LABEL_KEY}={label}"],
                                          after_list=after_list))
        churn_done.wait(timeout=300)
        validate(snapshot)

        ids = [c["inspect"]["Id"] for c in snapshot["containers"]]
        assert len(ids) == len(set(ids)), "no container twice"
        assert set(ids) <= set(initial), "only containers that were listed (late ones came after the list)"
        assert not set(ids) & set(removed_early)
        missing = [e for e in snapshot["meta"]["errors"] if e["source"] == "/containers/-"]
        assert len(missing) >= len(removed_early)
        for cid in removed_early:
            assert any(cid[:12] in e["reason"] for e in missing), cid
        # Whatever was not read is accounted for: inspected + recorded as missing = listed.
        assert len(ids) + len(missing) == COUNT
        for index, item in enumerate(snapshot["containers"]):
            if item["processes"] is None and item["inspect"]["State"]["Running"]:
                assert any(e["source"] == f"/containers/{index}/processes" for e in snapshot["meta"]["errors"])
    finally:
        churn_done.wait(timeout=300)  # the churn thread may still be creating containers
        with lock:
            everything = list(created)
        list(pool.map(lambda cid: _remove(api, cid), everything))
        pool.shutdown(wait=True)
