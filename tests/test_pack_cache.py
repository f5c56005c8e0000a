"""The pack cache: a checked pack is reused only when every byte it was made from is the same, and
only from a cache that belongs to the user and nobody else can write; otherwise the pack is
checked from scratch, silently. Also: the pack's fragments compile as one program, yet a bad
fragment is still named by file and line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from policy_packs import policy, write_pack, write_text_policy

from evaluator import packcache
from evaluator.jqsafety import JqSafetyError, check
from evaluator.pack import PolicyError, load_pack

NOBODY = 65534


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("HULLCHECK_CACHE_DIR", str(directory))
    return directory


def _pack(tmp_path: Path) -> Path:
    return write_pack(tmp_path / "pack", policy("tst-one", title="The real title"), policy("tst-two"))


def _entry(cache_dir: Path) -> Path:
    entries = list(cache_dir.glob("pack-*.json"))
    assert len(entries) == 1, entries
    return entries[0]


def _files_entry(cache_dir: Path) -> Path:
    entry = cache_dir / packcache.PARSED
    assert entry.is_file(), list(cache_dir.iterdir())
    return entry


def _tamper(entry: Path) -> None:
    """Change the cached title of tst-one (as another user able to write the cache could), in a
    pack entry or in the parsed-files entry."""
    document = json.loads(entry.read_text())
    items = document["value"] if "value" in document else list(document["files"].values())
    for item in items:
        if item["data"]["id"] == "tst-one":
            item["data"]["title"] = "Planted by someone else"
    mode = entry.stat().st_mode
    entry.write_text(json.dumps(document))
    entry.chmod(mode & 0o777)


def _only_files_entry(cache_dir: Path) -> Path:
    """Leave only the parsed-files entry, so that the next load must go through it."""
    for pack_entry in cache_dir.glob("pack-*.json"):
        pack_entry.unlink()
    return _files_entry(cache_dir)


def test_second_load_comes_from_the_cache_and_equals_a_fresh_check(tmp_path, cache_dir):
    pack_dir = _pack(tmp_path)
    first = load_pack([pack_dir])
    entry = _entry(cache_dir)
    assert cache_dir.stat().st_mode & 0o777 == 0o700 and entry.stat().st_mode & 0o777 == 0o600
    assert load_pack([pack_dir]) == first == load_pack([pack_dir], cache=False)
    assert [p.lines for p in load_pack([pack_dir])] == [p.lines for p in first]
    _tamper(entry)  # proves the next load reads the cache (what the refusal tests below rely on)
    assert load_pack([pack_dir])[0].title == "Planted by someone else"


def test_a_pack_that_differs_by_one_file_parses_only_that_file(tmp_path, cache_dir, monkeypatch):
    import evaluator.pack as policy_module

    pack_dir = _pack(tmp_path)
    first = load_pack([pack_dir])
    parsed: list[str] = []
    real_parse = policy_module._parse_policy

    def counting(path: Path, raw: bytes) -> object:
        parsed.append(Path(path).name)
        return real_parse(path, raw)

    monkeypatch.setattr(policy_module, "_parse_policy", counting)
    write_pack(pack_dir, policy("tst-three"))
    again = load_pack([pack_dir])
    assert parsed == ["tst-three.yaml"]
    assert [p for p in again if p.id != "tst-three"] == first
    assert again == load_pack([pack_dir], cache=False)
    _tamper(_only_files_entry(cache_dir))  # proves the parsed files come from that entry
    assert load_pack([pack_dir])[0].title == "Planted by someone else"


def test_the_key_is_the_content_not_the_names(tmp_path, cache_dir):
    """A pack moved to another directory is the same content: it comes from the cache, each policy
    with the path it has now (test-case bases and messages are found from it)."""
    first = load_pack([_pack(tmp_path)])
    _tamper(_entry(cache_dir))
    moved = (tmp_path / "pack").rename(tmp_path / "moved")
    again = load_pack([moved])
    assert again[0].title == "Planted by someone else"  # from the cache
    assert [p.path for p in again] == [str(moved / Path(p.path).name) for p in first]
    assert [p.sha256 for p in again] == [p.sha256 for p in first]


def test_a_cached_file_with_bad_jq_is_refused_every_time(tmp_path, cache_dir):
    """A file is kept parsed even when its jq does not compile: the pack's jq is compiled as a
    whole on every load that is not a cached pack, so the error comes back each time."""
    pack_dir = _pack(tmp_path)
    write_text_policy(pack_dir, "tst-two.yaml", (pack_dir / "tst-two.yaml").read_text().replace(
        "assert: 'true'", "assert: .inspect | = 1"))
    messages = []
    for _ in range(2):
        with pytest.raises(PolicyError) as info:
            load_pack([pack_dir])
        messages.append((info.value.path, info.value.line, info.value.message))
    assert _files_entry(cache_dir).is_file()
    assert messages[0] == messages[1] and "jq: syntax error" in messages[0][2]


def test_a_changed_policy_file_is_checked_again(tmp_path, cache_dir):
    pack_dir = _pack(tmp_path)
    load_pack([pack_dir])
    write_text_policy(pack_dir, "tst-two.yaml", (pack_dir / "tst-two.yaml").read_text().replace(
        "assert: 'true'", "assert: .inspect | = 1"))
    with pytest.raises(PolicyError) as info:
        load_pack([pack_dir])
    assert info.value.path == str(pack_dir / "tst-two.yaml") and "jq: syntax error" in info.value.message


def test_a_new_policy_file_is_part_of_the_key(tmp_path, cache_dir):
    pack_dir = _pack(tmp_path)
    load_pack([pack_dir])
    write_pack(pack_dir, policy("tst-three"))
    assert [p.id for p in load_pack([pack_dir])] == ["tst-one", "tst-three", "tst-two"]


@pytest.mark.parametrize("layer", ["pack", "files"])
@pytest.mark.parametrize("what", ["world-writable dir", "group-writable dir", "foreign-owned dir",
                                  "world-writable file", "group-writable file", "foreign-owned file",
                                  "symlinked file"])
def test_an_untrusted_cache_is_ignored(tmp_path, cache_dir, what, layer):
    pack_dir = _pack(tmp_path)
    load_pack([pack_dir])
    entry = _entry(cache_dir) if layer == "pack" else _only_files_entry(cache_dir)
    _tamper(entry)
    if what == "world-writable dir":
        cache_dir.chmod(0o777)
    elif what == "group-writable dir":
        cache_dir.chmod(0o770)
    elif what == "foreign-owned dir":
        os.chown(cache_dir, NOBODY, NOBODY)
    elif what == "world-writable file":
        entry.chmod(0o666)
    elif what == "group-writable file":
        entry.chmod(0o660)
    elif what == "foreign-owned file":
        os.chown(entry, NOBODY, NOBODY)
    elif what == "symlinked file":
        target = tmp_path / "elsewhere.json"
        entry.rename(target)
        entry.symlink_to(target)
    assert load_pack([pack_dir])[0].title == "The real title"


@pytest.mark.parametrize("what", ["corrupt", "not a directory", "cannot create"])
def test_an_unusable_cache_falls_back_silently(tmp_path, cache_dir, what, monkeypatch):
    pack_dir = _pack(tmp_path)
    if what == "corrupt":
        load_pack([pack_dir])
        _entry(cache_dir).write_text('{"format": 1, "key"')
    elif what == "not a directory":
        cache_dir.write_text("a file where the cache directory should be")
    else:
        (tmp_path / "a-file").write_text("")
        monkeypatch.setenv("HULLCHECK_CACHE_DIR", str(tmp_path / "a-file" / "cache"))  # even root cannot mkdir here
    assert load_pack([pack_dir])[0].title == "The real title"
    assert load_pack([pack_dir])[0].title == "The real title"


def test_empty_cache_dir_setting_turns_the_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv("HULLCHECK_CACHE_DIR", "")
    assert packcache.cache_dir() is None
    assert [p.id for p in load_pack([_pack(tmp_path)])] == ["tst-one", "tst-two"]


def test_the_first_bad_file_is_reported_although_fragments_compile_together(tmp_path, cache_dir):
    """A jq error in an earlier file wins over a schema error in a later one, as before."""
    pack_dir = write_pack(tmp_path / "pack", policy("tst-a", assert_=".x | = 1"), policy("tst-b"))
    write_text_policy(pack_dir, "tst-c.yaml", "id: tst-c\n")
    with pytest.raises(PolicyError) as info:
        load_pack([pack_dir])
    assert info.value.path == str(pack_dir / "tst-a.yaml") and info.value.message.startswith("assert: jq: syntax error")
    assert not list(cache_dir.glob("pack-*.json"))  # a refused pack is never cached


def test_fragments_cannot_balance_each_other(tmp_path, cache_dir):
    """Two halves that would compile together are each refused on their own."""
    pack_dir = write_pack(tmp_path / "pack", policy("tst-a", assert_="(true"), policy("tst-b", assert_="true)"))
    with pytest.raises(PolicyError) as info:
        load_pack([pack_dir])
    assert info.value.path == str(pack_dir / "tst-a.yaml") and "unbalanced '('" in info.value.message


def test_a_comment_continued_by_a_backslash_hides_the_next_line():
    """jq's lexer continues a comment over a line break after an odd number of backslashes."""
    with pytest.raises(JqSafetyError, match=r"unbalanced '\('"):
        check("(true # a comment \\\n)")
    check("(true # an escaped backslash \\\\\n)")
