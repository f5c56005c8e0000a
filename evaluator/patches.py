"""A policy test case's patches, applied to a base snapshot without changing it.

A case's patch is an RFC 7386 JSON Merge Patch and/or an RFC 6902 JSON Patch. Both are applied
copy-on-write: only the containers on a patched path are copied, the rest is shared with the
base, so one parsed base serves every case. The worker applies them (evaluator/worker.py) and so
do the tests; the case runner (evaluator/testing.py) only names them.
"""

from __future__ import annotations

import copy
from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _spine(document: Any, pointer: Any) -> Any:
    """`document` with fresh copies of the containers on the way to `pointer`'s parent, so that
    changing what the pointer names cannot change the (shared) base snapshot."""
    root = copy.copy(document) if isinstance(document, (dict, list)) else document
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        return root
    node = root
    for token in (t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")[:-1]):
        if isinstance(node, dict) and token in node:
            key: Any = token
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            key = int(token)
        else:
            break
        child = node[key]
        if not isinstance(child, (dict, list)):
            break
        node[key] = copy.copy(child)
        node = node[key]
    return root


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 (by jsonpatch) without copying the whole document: each operation first copies
    the containers on its paths, then runs in place on those copies."""
    import jsonpatch

    try:
        if not isinstance(operations, list):
            return jsonpatch.apply_patch(document, operations)  # jsonpatch words the refusal
        for operation in copy.deepcopy(operations):  # the case's own values are never shared with a result
            if isinstance(operation, dict):
                document = _spine(document, operation.get("path"))
                document = _spine(document, operation.get("from"))
            document = jsonpatch.apply_patch(document, [operation], in_place=True)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise ValueError(f"JSON Patch does not apply: {exc}") from None
    return document


def apply_patches(base: dict[str, Any], case: dict[str, Any]) -> Any:
    """The base with the case's merge patch and then its JSON Patch applied; the base is not changed."""
    snapshot: Any = base
    if "merge_patch" in case:
        snapshot = merge_patch(snapshot, case["merge_patch"])  # copies what it changes, shares the rest
    if "json_patch" in case:
        snapshot = json_patch(snapshot, case["json_patch"])
    return snapshot
