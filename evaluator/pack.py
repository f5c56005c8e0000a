"""Loading a policy pack: YAML files validated by a schema, jq checked for safety and syntax.

Everything is loaded and checked before anything is evaluated; the first bad file stops the run
with its path, the line, and jq's own message (exit code 2 at the CLI). A pack checked before
comes from the pack cache (evaluator/packcache.py), under a key made of the content of everything
that decided the check: the policy files' bytes, the loader's code, the policy schema, the
prelude and the jq build.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from hullcheck_common import userfile
from hullcheck_common.errors import HullcheckError
from hullcheck_common.vocabulary import SUBJECTS

from . import packcache
from .policy import JQ_FIELDS, Policy
from .program import (
    PRELUDE,
    fragment_check_program,
    pack_check_program,
    prelude_line_count,
)

if TYPE_CHECKING:
    import jsonschema

# jq, jsonschema and PyYAML are imported when a pack is really parsed: a pack read from the cache
# (evaluator/packcache.py) needs none of them, which is most of what `policies list` costs.

MAX_POLICY_BYTES = 4 * userfile.MiB  # the YAML reader's limit: the largest built-in policy is ~10 KB
_HOLDS = re.compile(r'\bholds\(\s*"([^"\\]*)"\s*\)')


class PolicyError(HullcheckError):
    """A policy file that cannot be used: where it is, and why."""

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


@cache
def _schema_validator() -> jsonschema.protocols.Validator:
    import jsonschema

    from hullcheck_common.resources import policy_schema_path

    return jsonschema.Draft202012Validator(json.loads(policy_schema_path().read_text()),
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@dataclass(frozen=True)
class _Field:
    """Where a top-level field's value sits in the YAML text, to map jq positions back to file lines."""

    line: int            # 1-based line where the value starts (the `|`/`>` indicator for block scalars)
    start: int           # character offsets of the value's source text in the file
    end: int

    def source_line(self, text: str, value: str, offset: int) -> int:
        """The file line of character `offset` of the parsed `value`.

        Works for every scalar style: literal `|` keeps lines, but folded `>`, plain and quoted
        scalars join lines, so the value is aligned with its source text character by character
        (non-blank characters appear in both in the same order; escapes in quoted scalars are
        skipped over).
        """
        offset = max(0, min(offset, len(value) - 1))
        while offset > 0 and value[offset].isspace():
            offset -= 1
        j = self.start
        for i, ch in enumerate(value):
            if ch.isspace():
                continue
            while j < self.end and text[j] != ch:
                j += 1
            if j >= self.end:
                break
            if i >= offset:
                return text.count("\n", 0, j) + 1
            j += 1
        return self.line


def _fields(data: Any, text: str) -> dict[str, _Field]:
    """Where each top-level field's value is in the file (from the spans the YAML reader recorded)."""
    out = {}
    for key, span in getattr(data, "spans", {}).items():
        start = span.start
        if span.style in ("|", ">"):  # the content starts on the line after the indicator (which may carry a comment)
            newline = text.find("\n", start)
            start = newline + 1 if newline != -1 else start
        out[str(key)] = _Field(span.line, start, span.end)
    return out


def _read_yaml(path: Path | str, text: str) -> Any:
    """The policy file's one YAML document, with the spans of its fields; anchors and aliases are
    refused (a policy file is plain YAML). PolicyError naming the file and line otherwise."""
    from hullcheck_common import yamlread

    try:
        return yamlread.load(text, str(path), anchors=False, spans=True)
    except yamlread.YamlError as exc:
        raise PolicyError(path, exc.detail, exc.pos.line if exc.pos else None) from None


def load_policy(path: Path) -> Policy:
    """One policy file, fully checked (schema, safety, and jq syntax of each fragment)."""
    policy = _parse_policy(path)
    _locate_jq_error(policy)
    return policy


def _read_policy_text(path: Path) -> tuple[bytes, str]:
    raw = userfile.read_bytes(path, what="a policy file", max_bytes=MAX_POLICY_BYTES,
                              error=lambda name, problem: PolicyError(name, problem))
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError(path, "not UTF-8 text") from None


def _parse_policy(path: Path, raw: bytes | None = None) -> Policy:
    """A policy file checked for everything but jq syntax (the pack's fragments compile together)."""
    import jsonschema

    from hullcheck_common.yamlread import plain

    from .jqsafety import JqSafetyError, check

    if raw is None:
        raw, text = _read_policy_text(path)
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyError(path, "not UTF-8 text") from None
    document = _read_yaml(path, text)
    if not isinstance(document, dict):
        raise PolicyError(path, "a policy file must be a YAML mapping")
    lines = _fields(document, text)
    data = plain(document)  # dicts and lists without their positions: what the Policy and the worker hold
    error = jsonschema.exceptions.best_match(_schema_validator().iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        top = str(error.absolute_path[0]) if error.absolute_path else None
        if top is None and error.validator == "additionalProperties":  # an unknown field: point at it
            top = next((k for k in lines if k not in error.schema.get("properties", {})), None)
        raise PolicyError(path, f"{where or 'policy'}: {error.message}", lines[top].line if top in lines else None)
    for name in JQ_FIELDS:
        fragment = data.get(name)
        if fragment is None:
            continue
        field_at = lines.get(name)
        if not isinstance(fragment, str):
            raise PolicyError(path, f"{name}: must be a jq program (a string)", field_at.line if field_at else None)
        try:
            check(fragment)
        except JqSafetyError as exc:
            line = field_at.source_line(text, fragment, exc.offset) if field_at and exc.offset is not None else None
            raise PolicyError(path, f"{name}: {exc}", line or (field_at.line if field_at else None)) from None
        for match in _HOLDS.finditer(fragment):  # a misspelt subject would read as "not held" on every plan
            if match.group(1) not in SUBJECTS:
                line = field_at.source_line(text, fragment, match.start(1)) if field_at else None
                raise PolicyError(path, f"{name}: holds(\"{match.group(1)}\"): no such subject "
                                        f"(one of {', '.join(SUBJECTS)})", line)
    return Policy.from_data(data, str(path), hashlib.sha256(raw).hexdigest(), {k: v.line for k, v in lines.items()})


def _check_jq(policies: list[Policy]) -> None:
    """Compile every fragment of the pack in ONE program (each in the scope it runs in).

    The safety check has made each fragment a closed expression (balanced brackets outside
    strings and comments), so inside `(...), (...)` no fragment can close another's bracket:
    the combined program compiles exactly when every fragment compiles alone. Only when it does
    not is the policy at fault found, by halves (about one more compile of the pack, not one per
    fragment: seconds for a pack of a hundred policies), and its fragments compiled one by one to
    name the file, the line and jq's message.
    """
    import jq

    def compiles(group: list[Policy]) -> bool:
        fragments = [value for policy in group for _name, value in policy.fragments()]
        try:
            jq.compile(pack_check_program(fragments))
            return True
        except ValueError:
            return False

    if not any(policy.fragments() for policy in policies) or compiles(policies):
        return
    low, high = 0, len(policies)  # policies[low:high] does not compile; all before `low` do
    while high - low > 1:
        middle = (low + high) // 2
        if compiles(policies[low:middle]):
            low = middle
        else:
            high = middle
    _locate_jq_error(policies[low])
    for policy in policies:  # not reached while the halves are sound; the slow way still names it
        _locate_jq_error(policy)
    raise PolicyError(policies[0].path, "jq: the pack's fragments do not compile together")  # not reached


def _locate_jq_error(policy: Policy) -> None:
    """Compile the policy's fragments one by one; raise the first error with its file line."""
    import jq

    text: str | None = None
    for name, fragment in policy.fragments():
        try:
            jq.compile(fragment_check_program(fragment))
        except ValueError as exc:
            if text is None:
                text = _read_policy_text(Path(policy.path))[1]
            where = _fields(_read_yaml(policy.path, text), text).get(name)
            raise PolicyError(policy.path, f"{name}: jq: {_jq_message(exc, fragment)}",
                              _jq_line(exc, text, fragment, where)) from None


def _jq_message(exc: ValueError, fragment: str = "") -> str:
    """jq's own message without its position (the file line is reported instead)."""
    text = str(exc).replace("jq: error: ", "").strip()
    first = text.splitlines()[0] if text else "compile error"
    message = re.sub(r" at <top-level>, line \d+(, column \d+)?:?$", "", first)
    match = re.search(r"line (\d+)", first)
    if match and int(match.group(1)) - prelude_line_count() - 1 > len(fragment.split("\n")):
        message += " (at the end of the fragment: it is incomplete)"  # the ')' is hullcheck's wrapper
    return message


def _jq_line(exc: ValueError, text: str, fragment: str, where: _Field | None) -> int | None:
    """The line in the policy file where jq's error is: jq's line and column mapped through the YAML."""
    if where is None:
        return None
    match = re.search(r"line (\d+)(?:, column (\d+))?", str(exc))
    if not match:
        return where.line
    fragment_line = int(match.group(1)) - prelude_line_count() - 1  # 1-based line inside the fragment
    lines = fragment.split("\n")
    if fragment_line < 1:
        return where.line
    if fragment_line > len(lines):  # the error is in hullcheck's closing wrapper: the fragment's end
        return where.source_line(text, fragment, len(fragment))
    column = int(match.group(2) or 1)  # jq counts bytes from 1
    line_text = lines[fragment_line - 1]
    chars = len(line_text.encode("utf-8")[:max(column - 1, 0)].decode("utf-8", "ignore"))
    offset = sum(len(line) + 1 for line in lines[:fragment_line - 1]) + min(chars, max(len(line_text) - 1, 0))
    return where.source_line(text, fragment, offset)


def policy_files(directory: Path) -> list[Path]:
    """Every *.yaml below the directory but hidden ones; a FIFO or a device among them is kept, to
    be refused by name when it is read (a policy never goes missing without a word)."""
    return sorted(p for p in directory.rglob("*.yaml") if not p.is_dir() and not p.name.startswith("."))


def load_pack(directories: Iterable[Path], cache: bool = True) -> list[Policy]:
    """Every policy under the directories, checked, sorted by id; a duplicate id is an error.

    A pack loaded before with files of exactly the same content (and the same prelude and loader)
    comes from the user's private cache (evaluator/packcache.py); so do the files of another pack
    parsed before (only new or changed files are parsed, but the whole pack's jq is always
    compiled together). `cache=False` always parses and checks.
    """
    files: list[tuple[Path, bytes]] = []
    for directory in directories:
        directory = Path(directory)
        if not directory.is_dir():
            raise PolicyError(directory, "not a directory of policies")
        for path in policy_files(directory):
            files.append((path, _read_policy_text(path)[0]))
    digests = [hashlib.sha256(raw).hexdigest() for _path, raw in files]
    loader = _loader_digest() if cache and packcache.cache_dir() is not None else None
    pack_key = file_keys = None
    if loader is not None:
        pack_key = hashlib.sha256(loader + "\0".join(digests).encode()).hexdigest()
        cached = _from_cache(packcache.read(pack_key), files, digests)
        if cached is not None:
            return cached
        file_keys = [hashlib.sha256(loader + digest.encode()).hexdigest() for digest in digests]
    known = packcache.read_files(file_keys) if file_keys else {}
    parsed: dict[str, dict[str, Any]] = {}
    policies: dict[str, Policy] = {}
    loaded: list[Policy] = []
    index_of: dict[str, int] = {}
    try:
        for index, (path, raw) in enumerate(files):
            file_key = file_keys[index] if file_keys else None
            policy = _policy_from_cache(known.get(file_key), path, digests[index]) if file_key else None
            if policy is None:
                policy = _parse_policy(path, raw)
                item = _cache_item(policy) if file_key else None
                if file_key and item is not None:
                    parsed[file_key] = item
            if policy.id in policies:
                _check_jq([*loaded, policy])
                raise PolicyError(path, f"duplicate policy id '{policy.id}' (also in {policies[policy.id].path})",
                                  policy.lines.get("id"))
            policies[policy.id] = policy
            index_of[policy.id] = index
            loaded.append(policy)
    except PolicyError:
        _check_jq(loaded)  # a jq error in an earlier file is reported first, as the files are read
        raise
    finally:
        if parsed:  # also when a later file is refused: the ones before it need not be parsed again
            packcache.write_files(parsed)
    _check_jq(loaded)
    pack = sorted(policies.values(), key=lambda p: _id_key(p.id))
    if pack_key is not None:
        items = [_cache_item(policy) for policy in pack]
        if all(item is not None for item in items):
            packcache.write(pack_key, [{**item, "file": index_of[policy.id]} for policy, item in zip(pack, items) if item])
    return pack


# ---- the pack cache's keys and values --------------------------------------------------------------

def _jq_build() -> str:
    """The jq binding's shared object, by path, size and modification time: a rebuilt binding
    (scripts/fast-jq) gets a new key. Found without importing it (or importlib.metadata:
    ~15 ms of every command)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("jq")
        origin = spec.origin if spec is not None else None
        if origin is None:
            return "unknown"
        st = os.stat(origin)
        return f"{origin}\0{st.st_size}\0{st.st_mtime_ns}"
    except (ImportError, ValueError, OSError):  # an unknown build only makes the key more specific
        return "unknown"


def _loader_digest() -> bytes | None:
    """What decides how a policy file parses besides its bytes, by content: the jq build, the code
    of the evaluator and of hullcheck_common (every module of both, found by listing them, so a
    module renamed or added changes the key instead of turning the cache off), the policy schema
    and the prelude. None when that code cannot be read."""
    from hullcheck_common import vocabulary
    from hullcheck_common.resources import policy_schema_path

    h = hashlib.sha256(f"hullcheck policy loader\0jq {_jq_build()}\0".encode())
    try:
        for package in (Path(__file__).resolve().parent, Path(vocabulary.__file__).resolve().parent):
            for module in sorted(package.glob("*.py")):
                h.update(hashlib.sha256(module.read_bytes()).digest())
        h.update(hashlib.sha256(policy_schema_path().read_bytes()).digest())
    except OSError:
        return None
    h.update(hashlib.sha256(PRELUDE.encode()).digest())
    return h.digest()


def _cache_item(policy: Policy) -> dict[str, Any] | None:
    """The policy as the cache keeps it (its file's data and field lines), or None when the cache
    could not give back exactly this policy (YAML gave something JSON cannot hold: a date in a
    test case, integer keys, ...). Where it was loaded from is the caller's to say again."""
    try:
        data = json.loads(json.dumps(policy.to_data()))
    except (TypeError, ValueError):
        return None
    if Policy.from_data(data, policy.path, policy.sha256, policy.lines) != policy:
        return None
    return {"data": data, "lines": policy.lines}


def _policy_from_cache(item: Any, path: Path, sha256: str) -> Policy | None:
    """The policy of a cache item (_cache_item) for the file at `path` with these bytes, or None."""
    try:
        return Policy.from_data(item["data"], str(path), sha256, item["lines"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _from_cache(items: Any, files: list[tuple[Path, bytes]], digests: list[str]) -> list[Policy] | None:
    """The cached pack (a list of _cache_item, each with the index of its file), or None."""
    if not isinstance(items, list):
        return None
    pack = []
    for item in items:
        index = item.get("file") if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < len(files):
            return None
        path, sha256 = files[index][0], digests[index]
        policy = _policy_from_cache(item, path, sha256)
        if policy is None:
            return None
        pack.append(policy)
    return pack


def _id_key(policy_id: str) -> tuple:
    """Natural order: cis-docker-5.2 before cis-docker-5.10."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"[.-]", policy_id))


def pack_digest(policies: Iterable[Policy]) -> str:
    """sha256 over every policy's id and file digest, and the prelude: what decided the results."""
    h = hashlib.sha256()
    h.update(hashlib.sha256(PRELUDE.encode()).digest())
    for policy in sorted(policies, key=lambda p: p.id):
        h.update(f"{policy.id}\0{policy.sha256}\n".encode())
    return h.hexdigest()
