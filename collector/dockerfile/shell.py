"""BuildKit's shell lexer (moby/buildkit frontend/dockerfile/shell/lex.go), ported line by line.

It does what the Dockerfile frontend does to a word before using it: quote removal, escapes, and
`$VAR` / `${VAR}` / `${VAR:-default}` / `${VAR:+alt}` / `${VAR:?msg}` / `${VAR#pat}` /
`${VAR%pat}` / `${VAR/pat/repl}` expansion against the build's environment (ENV and ARG values).
Written here rather than taken from a library: no Python package ships this lexer for Python 3.9
(see docs/dockerfiles.md, "The reader"). Keep it in step with lex.go: the comments name the Go
functions each part mirrors.
"""

from __future__ import annotations

import re
from typing import Mapping

EOF = ""


class ShellError(ValueError):
    """A word BuildKit refuses to expand (unmatched quote, bad substitution)."""


class Env:
    """An ordered environment (BuildKit's EnvGetter): keys are case-sensitive on Linux."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self.values: dict[str, str] = dict(items or {})

    def get(self, key: str) -> tuple[str, bool]:
        if key in self.values:
            return self.values[key], True
        return "", False

    def set(self, key: str, value: str) -> None:
        self.values[key] = value

    def copy(self) -> Env:
        return Env(self.values)


_EMPTY = Env()


class _Words:
    """wordsStruct: splitting of the expanded text into words at unquoted whitespace."""

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace() and self.in_word:
            if self.buf:
                self.words.append("".join(self.buf))
                self.buf = []
                self.in_word = False
        elif not ch.isspace():
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.buf.append(ch)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        self.buf.append(text)
        self.in_word = True

    def get_words(self) -> list[str]:
        if self.buf:
            self.words.append("".join(self.buf))
            self.buf = []
            self.in_word = False
        return self.words


class Lex:
    """shell.Lex: `process_word` (one word, spaces kept) and `process_words` (split into words)."""

    def __init__(self, escape: str = "\\", *, raw_quotes: bool = False, raw_escapes: bool = False,
                 skip_process_quotes: bool = False, skip_unset_env: bool = False) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_process_quotes = skip_process_quotes
        self.skip_unset_env = skip_unset_env

    def process_word(self, word: str, env: Env | None = None) -> str:
        return _Scanner(self, word, env or _EMPTY).process()[0]

    def process_word_matches(self, word: str, env: Env | None = None) -> tuple[str, set[str], set[str]]:
        """(result, names found in env, names not found): ProcessWordWithMatches."""
        scanner = _Scanner(self, word, env or _EMPTY)
        result = scanner.process()[0]
        return result, scanner.matches, scanner.nonmatches

    def process_words(self, word: str, env: Env | None = None) -> list[str]:
        return _Scanner(self, word, env or _EMPTY).process()[1]


class _Scanner:
    """shellWord over one input string (Go's text/scanner reads it rune by rune)."""

    def __init__(self, lex: Lex, text: str, env: Env) -> None:
        self.lex = lex
        self.text = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lex.raw_escapes
        self.matches: set[str] = set()
        self.nonmatches: set[str] = set()

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else EOF

    def next(self) -> str:
        if self.pos >= len(self.text):
            return EOF
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def process(self) -> tuple[str, list[str]]:
        try:
            return self.stop_on(EOF, self.raw_escapes)
        except ShellError as exc:
            raise ShellError(f"failed to process {go_quote(self.text)}: {exc}") from None

    def stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        """processStopOn."""
        result: list[str] = []
        words = _Words()
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            while self.peek() != EOF:
                ch = self.peek()
                if stop != EOF and ch == stop:
                    self.next()
                    return "".join(result), words.get_words()
                special = None
                if ch == "$":
                    special = self.dollar
                elif ch == "<":
                    special = self.possible_heredoc
                elif not self.lex.skip_process_quotes and ch == "'":
                    special = self.single_quote
                elif not self.lex.skip_process_quotes and ch == '"':
                    special = self.double_quote
                if special is not None:
                    tmp = special()
                    result.append(tmp)
                    if ch == "$":
                        words.add_string(tmp)
                    else:
                        words.add_raw_string(tmp)
                    continue
                ch = self.next()
                if ch == self.lex.escape:
                    if self.raw_escapes:
                        words.add_raw_char(ch)
                        result.append(ch)
                    ch = self.next()
                    if ch == EOF:
                        break
                    words.add_raw_char(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
            if stop != EOF:
                raise ShellError(f"unexpected end of statement while looking for matching {stop}")
            return "".join(result), words.get_words()
        finally:
            self.raw_escapes = saved

    def single_quote(self) -> str:
        out: list[str] = []
        ch = self.next()
        if self.lex.raw_quotes:
            out.append(ch)
        while True:
            ch = self.next()
            if ch == EOF:
                raise ShellError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        out: list[str] = []
        ch = self.next()
        if self.lex.raw_quotes:
            out.append(ch)
        while True:
            nxt = self.peek()
            if nxt == EOF:
                raise ShellError("unexpected end of statement while looking for matching double-quote")
            if nxt == '"':
                ch = self.next()
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if nxt == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.lex.escape:
                if self.raw_escapes:
                    out.append(ch)
                after = self.peek()
                if after == EOF:
                    continue
                if after in ('"', "$", self.lex.escape):
                    ch = self.next()
            out.append(ch)

    def get_env(self, name: str) -> tuple[str, bool]:
        value, found = self.env.get(name)
        (self.matches if found else self.nonmatches).add(name)
        return value, found

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if name == "":
                return "$"
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "$" + name
            return value
        self.next()
        if self.peek() == EOF:
            raise ShellError("syntax error: missing '}'")
        if self.peek() in ("{", "}", ":"):
            raise ShellError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        chs = ch
        null_is_unset = False
        if ch == "}":
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "${" + name + "}"
            return value
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            chs += ch
        if null_is_unset or ch in ("+", "-", "?", "#", "%"):
            raw = ch in ("#", "%")
            if null_is_unset and raw:
                raise ShellError(f"unsupported modifier ({chs}) in substitution")
            try:
                word, _ = self.stop_on("}", raw)
            except ShellError:
                if self.peek() == EOF:
                    raise ShellError("syntax error: missing '}'") from None
                raise
            value, found = self.get_env(name)
            if self.lex.skip_unset_env and not found:
                return "${" + name + chs + word + "}"
            if ch == "-":
                return word if (not found or (null_is_unset and value == "")) else value
            if ch == "+":
                return "" if (not found or (null_is_unset and value == "")) else word
            if ch not in ("?", "%", "#"):
                raise ShellError(f"unsupported modifier ({chs}) in substitution")
            if ch == "?":
                if not found:
                    raise ShellError(f"{name}: {word or 'is not allowed to be unset'}")
                if null_is_unset and value == "":
                    raise ShellError(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            greedy = False
            if word and word[0] == ch:
                greedy = True
                word = word[1:]
            if ch == "%":
                return _trim_suffix(word, value, greedy)
            return _trim_prefix(word, value, greedy)
        if ch == "/":
            replace_all = self.peek() == "/"
            if replace_all:
                self.next()
            try:
                pattern, _ = self.stop_on("/", True)
            except ShellError:
                if self.peek() == EOF:
                    raise ShellError("syntax error: missing '/' in ${}") from None
                raise
            try:
                replacement, _ = self.stop_on("}", True)
            except ShellError:
                if self.peek() == EOF:
                    raise ShellError("syntax error: missing '}'") from None
                raise
            value, found = self.get_env(name)
            if self.lex.skip_unset_env and not found:
                return "${" + name + "/" + pattern + "/" + replacement + "}"
            regex = _shell_pattern(pattern, greedy=True, anchored=False)
            if replace_all:
                return regex.sub(lambda _m: replacement, value)
            match = regex.search(value)
            if match:
                value = value[:match.start()] + replacement + value[match.end():]
            return value
        raise ShellError(f"unsupported modifier ({chs}) in substitution")

    def name(self) -> str:
        """processName: letters, digits and _; a leading digit run, or one special parameter."""
        out: list[str] = []
        while self.peek() != EOF:
            ch = self.peek()
            if not out and ch.isdecimal():
                while self.peek() != EOF and self.peek().isdecimal():
                    out.append(self.next())
                return "".join(out)
            if not out and ch in "@*#?-$!0":
                return self.next()
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            out.append(self.next())
        return "".join(out)

    def possible_heredoc(self) -> str:
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        space = []
        while self.peek() in ("\t", "\r", " ") and self.peek() != EOF:
            space.append(self.next())
        return "<<" + "".join(space)


def _shell_pattern(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """convertShellPatternToRegex: ? one char, * shortest (or longest when greedy) run."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(star)
            continue
        if tok == "?":
            out.append(".")
            continue
        if tok == "\\":
            if i < len(pattern) and pattern[i] in "}/":
                continue
            nxt = pattern[i] if i < len(pattern) else ""
            i += 1
            if nxt not in ("*", "?", "\\"):
                raise ShellError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{nxt}'")
            out.append("\\" + nxt)
            continue
        out.append(re.escape(tok) if tok in "[]{}.+()|^$" else tok)
    return re.compile("".join(out))


def _trim_prefix(word: str, value: str, greedy: bool) -> str:
    match = _shell_pattern(word, greedy=greedy, anchored=True).search(value)
    return value[match.end():] if match else value


def _reverse_pattern(pattern: str) -> str:
    chars = list(pattern)
    out = [""] * len(chars)
    last = len(chars) - 1
    i = 0
    while i <= last:
        tok = chars[i]
        at = last - i
        if tok == "\\" and i != last:
            out[at - 1] = tok
            out[at] = chars[i + 1]
            i += 2
        else:
            out[at] = tok
            i += 1
    return "".join(out)


def _trim_suffix(pattern: str, word: str, greedy: bool) -> str:
    return _trim_prefix(_reverse_pattern(pattern), word[::-1], greedy)[::-1]


# Go's strconv.Quote escapes these by name; other control characters as \xHH.
_GO_ESCAPES = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
               "\t": "\\t", "\v": "\\v"}


def go_quote(text: str) -> str:
    """Go's %q of a string (strconv.Quote), for messages and history entries."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:  # a lone surrogate (from undecodable bytes): Go writes U+FFFD
            out.append("\\ufffd")
        elif not ch.isprintable() and code > 0x7F:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
