"""Redaction of secrets before anything is written.

Environment variable values of containers and images are replaced by a marker that keeps the
name (policies judge names, not values), and command-line arguments that look like credentials
keep their flag but lose their value. Redaction happens in the collector, so no later stage
(snapshot file, results, any report) can leak what it never received.
"""

from __future__ import annotations

import re
from typing import Any

MARKER = "<redacted>"

# Flags whose value is a credential: --password=x, --token x, --api-key=x, --db-pass x, --auth x.
# Judged by the words of the flag name, so --authorization-plugin or --tlskey (a path dockerd's
# policies need) keep their value; `-p x` is too ambiguous to touch.
_FLAG = re.compile(r"^(--?[A-Za-z][A-Za-z0-9_.-]*)(=(.*))?$", re.DOTALL)
_SECRET_SUBSTRINGS = ("password", "passwd", "secret", "token", "credential", "passphrase")
_SECRET_WORDS = {"pass", "pwd", "auth", "apikey", "pat", "psk"}
_SECRET_PAIRS = {("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"), ("auth", "key"),
                 ("client", "secret"), ("signing", "key"), ("encryption", "key"), ("master", "key")}


def _is_secret_name(name: str) -> bool:
    words = [w for w in re.split(r"[-_.]+", name.lower().lstrip("-")) if w]
    if any(sub in w for w in words for sub in _SECRET_SUBSTRINGS):
        return True
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any((a, b) in _SECRET_PAIRS for a, b in zip(words, words[1:]))


# KEY=VALUE arguments whose key looks secret (`env DB_PASSWORD=x cmd`, `--label a.api_token=x`).
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$", re.DOTALL)


class _SecretAssignment:
    """Matches KEY=VALUE where KEY has a secret-looking word (same rule as flag names)."""

    @staticmethod
    def match(text: str) -> re.Match[str] | None:
        m = _ASSIGNMENT.match(text)
        return m if m and _is_secret_name(m.group(1)) else None


_SECRET_ASSIGNMENT = _SecretAssignment()
# Credentials embedded in URLs: scheme://user:password@host
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@", re.IGNORECASE)


def redact_env(env: list[str] | None) -> list[str] | None:
    """['A=1', 'B'] -> ['A=<redacted>', 'B']: names stay, values go."""
    if env is None:
        return None
    out = []
    for item in env:
        name, sep, _ = str(item).partition("=")
        out.append(f"{name}={MARKER}" if sep else name)
    return out


def redact_argv(argv: list[str] | None) -> list[str] | None:
    """Hide the values of secret-looking flags and assignments; keep everything else verbatim."""
    if argv is None:
        return None
    out: list[str] = []
    hide_next = False
    for arg in argv:
        arg = str(arg)
        if hide_next:
            out.append(MARKER)
            hide_next = False
            continue
        redacted, hide_next, done = _redact_word(arg)
        if done:
            out.append(redacted)
            continue
        if any(ch.isspace() for ch in arg):
            # One argument holding a whole command line: `sh -c "mysql --password=x"`.
            out.append(redact_text(arg))
            continue
        out.append(redacted)
    return out


def redact_container(inspect: dict[str, Any]) -> dict[str, Any]:
    """Redact one container inspect in place (and return it)."""
    config = inspect.get("Config") or {}
    if "Env" in config:
        config["Env"] = redact_env(config.get("Env"))
    _redact_config_commands(config)
    if isinstance(inspect.get("Args"), list):
        inspect["Args"] = redact_argv(inspect["Args"])
    if isinstance(inspect.get("Path"), str):
        inspect["Path"] = (redact_argv([inspect["Path"]]) or [inspect["Path"]])[0]
    return inspect


def redact_image(inspect: dict[str, Any]) -> dict[str, Any]:
    for section in ("Config", "ContainerConfig"):
        config = inspect.get(section) or {}
        if "Env" in config:
            config["Env"] = redact_env(config.get("Env"))
        _redact_config_commands(config)
    return inspect


def redact_labels(labels: Any) -> Any:
    """Labels are metadata policies match on, so they stay, except values under secret-looking
    keys: {"db.password": "x"} and the engine's ["hc.api_token=x"] lose the value."""
    if isinstance(labels, dict):
        return {k: (MARKER if _is_secret_name(str(k)) else v) for k, v in labels.items()}
    if isinstance(labels, list):
        return redact_argv([str(x) for x in labels])
    return labels


def redact_info(info: dict[str, Any] | None) -> dict[str, Any] | None:
    """GET /info carries the daemon's --label values."""
    if info and "Labels" in info:
        info["Labels"] = redact_labels(info["Labels"])
    return info


def _redact_config_commands(config: dict[str, Any]) -> None:
    """Cmd, Entrypoint, the healthcheck command and secret-named labels."""
    if "Labels" in config:
        config["Labels"] = redact_labels(config["Labels"])
    for key in ("Cmd", "Entrypoint"):
        if isinstance(config.get(key), list):
            config[key] = redact_argv([redact_env_instruction(str(a)) for a in config[key]])
        elif isinstance(config.get(key), str):
            config[key] = redact_text(config[key])
    health = config.get("Healthcheck")
    if isinstance(health, dict) and isinstance(health.get("Test"), list):
        health["Test"] = redact_argv(health["Test"])


# A Dockerfile ENV instruction as the builder records it: `ENV A=1 B=2`, `#(nop)  ENV A=1`, `ENV A 1`.
_ENV_INSTRUCTION = re.compile(r"(?:^|(?<=\s))ENV\s+(.*)$", re.DOTALL)
_ENV_PAIR = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)=(\"(?:[^\"\\\\]|\\\\.)*\"|'[^']*'|\S*)")


def redact_env_instruction(text: str) -> str:
    """Every value set by an ENV instruction is an environment value: hide it, whatever its name."""
    match = _ENV_INSTRUCTION.search(text)
    if not match:
        return text
    rest = match.group(1)
    if "=" in rest:
        hidden = _ENV_PAIR.sub(lambda m: f"{m.group(1)}={MARKER}", rest)
    else:  # legacy form `ENV NAME value`
        name = rest.split(None, 1)[0] if rest.split() else ""
        hidden = f"{name} {MARKER}" if name else rest
    return text[:match.start(1)] + hidden


def redact_history(history: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Build steps can carry `ENV SECRET=x` or `--build-arg TOKEN=x`: hide those values."""
    if history is None:
        return None
    for layer in history:
        created_by = layer.get("CreatedBy")
        if isinstance(created_by, str):
            layer["CreatedBy"] = redact_created_by(redact_env_instruction(created_by))
    return history


_ENV_STEP = re.compile(r"^(?:/bin/sh -c #\(nop\)\s+)?ENV\s", re.IGNORECASE)
_BUILD_ARGS = re.compile(r"^\|(\d+)\s+")
_ASSIGNMENT_ANY = re.compile(r"(?<![^\s])([A-Za-z_][A-Za-z0-9_]*)=(?:\"(?:[^\"\\]|\\.)*\"|'[^']*'|\S*)")


def redact_created_by(text: str) -> str:
    """A history step: an `ENV` step is an image environment variable, so every value in it goes
    (the image's Config.Env is redacted the same way); `|N A=x B=y` build-argument prefixes lose
    their values; any other step is redacted like a command line."""
    if _ENV_STEP.match(text):
        return _ASSIGNMENT_ANY.sub(lambda m: f"{m.group(1)}={MARKER}", text)
    prefix = _BUILD_ARGS.match(text)
    if prefix:
        count = int(prefix.group(1))
        rest = text[prefix.end():]
        redacted_args = []
        for _ in range(count):
            match = _ASSIGNMENT_ANY.match(rest)
            if not match:
                break
            redacted_args.append(f"{match.group(1)}={MARKER}")
            rest = rest[match.end():].lstrip(" ")
        return f"|{count} " + " ".join(redacted_args) + (" " if redacted_args else "") + redact_text(rest)
    return redact_text(text)


def redact_processes(top: dict[str, Any] | None) -> dict[str, Any] | None:
    """`docker top` rows end with the command line: redact the secret parts of it."""
    if not top:
        return top
    titles = top.get("Titles") or []
    try:
        cmd_index = titles.index("CMD") if "CMD" in titles else titles.index("COMMAND")
    except ValueError:
        return top
    for row in top.get("Processes") or []:
        if len(row) > cmd_index and isinstance(row[cmd_index], str):
            row[cmd_index] = redact_text(row[cmd_index])
    return top


def redact_text(text: str) -> str:
    """Redact a shell-ish command string word by word, keeping its whitespace. Quoted values
    (`--password "a b"`) lose their first word; the quote-aware parse is not worth a leak risk
    only for values with spaces, so any word after a secret flag is hidden up to the next flag."""
    parts = re.split(r"(\s+)", text)
    words = parts[0::2]
    redacted = _redact_words(words)
    parts[0::2] = redacted
    return "".join(parts)


def _redact_words(words: list[str]) -> list[str]:
    out: list[str] = []
    hide_next = False
    for word in words:
        if word == "":
            out.append(word)
            continue
        if hide_next:
            if word.startswith("-"):
                hide_next = False
            else:
                out.append(MARKER)
                hide_next = False
                continue
        redacted, hide_next, _ = _redact_word(word)
        out.append(redacted)
    return out


def _redact_word(word: str) -> tuple[str, bool, bool]:
    """One argument: (its redacted form, whether the next argument is a secret value, whether it
    was a secret flag or assignment). Plain words only lose URL credentials."""
    flag = _FLAG.match(word)
    if flag and _is_secret_name(flag.group(1)):
        if flag.group(2) is not None:
            return f"{flag.group(1)}={MARKER}", False, True
        return word, True, True
    assignment = _SECRET_ASSIGNMENT.match(word)
    if assignment:
        return f"{assignment.group(1)}={MARKER}", False, True
    return _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MARKER}@", word), False, False


def _redact_value(key: str, value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(key, v) for v in value]
    if isinstance(value, str):
        if _is_secret_name(key):
            return MARKER
        return _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MARKER}@", value)
    return value


def redact_daemon_config(config_file: dict[str, Any]) -> dict[str, Any]:
    """daemon.json rarely holds secrets, but proxy URLs can carry a password: hide URL passwords
    and the values of secret-named keys in both the raw text and the parsed object."""
    if isinstance(config_file.get("parsed"), dict):
        config_file["parsed"] = _redact_value("", config_file["parsed"])
    raw = config_file.get("raw")
    if isinstance(raw, str):
        raw = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MARKER}@", raw)
        raw = re.sub(r'("([^"\\]*)"\s*:\s*)"((?:[^"\\]|\\.)*)"',
                     lambda m: f'{m.group(1)}"{MARKER}"' if _is_secret_name(m.group(2)) else m.group(0), raw)
        config_file["raw"] = raw
    return config_file


def redact_service(service: dict[str, Any]) -> dict[str, Any]:
    """A swarm service's container spec carries the same env, command and args as a container."""
    for spec in (service.get("Spec") or {}, service.get("PreviousSpec") or {}):
        if "Labels" in spec:
            spec["Labels"] = redact_labels(spec["Labels"])
        container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
        if "Env" in container:
            container["Env"] = redact_env(container.get("Env"))
        for key in ("Command", "Args"):
            if isinstance(container.get(key), list):
                container[key] = redact_argv(container[key])
        if "Labels" in container:
            container["Labels"] = redact_labels(container["Labels"])
        health = container.get("Healthcheck")
        if isinstance(health, dict) and isinstance(health.get("Test"), list):
            health["Test"] = redact_argv(health["Test"])
    return service
