"""Building one jq program that evaluates a whole policy pack over one parsed snapshot.

One combined program is 6-7x faster than a program per policy (the snapshot is parsed once and
the prelude compiled once). Each policy stays isolated inside it: its body runs under
`try ... catch`, every resource under its own `try`, and the program emits one output per policy,
in order, so the worker can stream results and time each policy on its own.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from hullcheck_common.vocabulary import SUBJECT_PREFIXES

if TYPE_CHECKING:
    from .policy import Policy

# The jq standard library, in file-name order: prelude/00-core.jq, 10-host.jq, 20-runtime.jq, ...
PRELUDE = "\n".join(p.read_text(encoding="utf-8") for p in sorted((Path(__file__).parent / "prelude").glob("*.jq")))

# Bindings every fragment can use: $snap (the whole snapshot), $errs (the collector's errors) and
# $advisories (what the advisory data says about the snapshot's engine components, computed in
# Python: evaluator/advisories/match.py; null when no selected policy reads it). The program's
# input is {"a": advisories, "s": snapshot}; each binding stays on the first line, so jq's line
# numbers in messages keep mapping to the policy file.
_HEAD = ". as $snap | ($snap.meta.errors // []) as $errs |\n" + PRELUDE
_INPUT = ".a as $advisories | .s | "
_NO_INPUT = "null as $advisories | "

# The engine's view of $errs, made once: [source, source + "/", reason] (what _hc_blocked compares),
# and the subjects the snapshot holds (meta.source.subjects), null when it holds every subject.
_ERRS = ('([$errs[] | [.source, (.source | tostring) + "/", .reason]]) as $_hc_errs |\n'
         '($snap.meta.source.subjects // null | if type == "array" then . else null end) as $_hc_held |\n')

# At most this many resources per policy; more is reported as an error, not silently cut.
MAX_RESOURCES = 200_000


def _subject_of_jq() -> str:
    """POINTER_SUBJECTS as one jq expression over `$segs` (a pointer's segments): nested string
    comparisons down the prefixes' trie, which jq runs several times faster than matching each
    prefix in turn (it runs for every evidence pointer of every resource of a plan)."""
    trie: dict[str, Any] = {"subject": None, "children": {}}
    for prefix, subject in SUBJECT_PREFIXES:
        node = trie
        for token in prefix:
            node = node["children"].setdefault(token, {"subject": None, "children": {}})
        node["subject"] = subject

    def expression(node: dict[str, Any], depth: int, inherited: str | None) -> str:
        here = json.dumps(node["subject"] or inherited)
        children = node["children"]
        if not children:
            return here
        otherwise = expression(children["*"], depth + 1, node["subject"] or inherited) if "*" in children else here
        named = [(token, child) for token, child in children.items() if token != "*"]
        chain = otherwise
        if named:
            chain = "if " + " elif ".join(
                f"$segs[{depth}] == {json.dumps(token)} then {expression(child, depth + 1, node['subject'] or inherited)}"
                for token, child in named) + f" else {otherwise} end"
        return f"(if ($segs | length) <= {depth} then {here} else {chain} end)"

    return expression(trie, 0, None)


# The engine's own helpers: presence of evidence, collector errors, one resource's verdict.
_ENGINE = r'''
# Scope (evaluator/scope.py): a pointer is out of scope when the snapshot does not hold its subject;
# _hc_subject_of is generated from hullcheck_common.vocabulary.POINTER_SUBJECTS (_subject_of_jq).
def _hc_subject_of($segs): __SUBJECT_OF__;
def _hc_lacks($subj): $subj != null and (any($_hc_held[]; . == $subj) | not);
def _hc_out($segs): $_hc_held != null and _hc_lacks(_hc_subject_of($segs));
def _hc_present($segs):
  if ($segs | length) == 0 then true
  else $segs[0] as $s
    | if type == "object" then (has($s) and (.[$s] | _hc_present($segs[1:])))
      elif type == "array" then (($s | tonumber? // -1) as $i | $i >= 0 and $i < length and (.[$i] | _hc_present($segs[1:])))
      else false end
  end;
def _hc_get($segs): reduce $segs[] as $s (.; if type == "array" then .[$s | tonumber] else .[$s] end);
# The same two with the path typed ahead (numeric segments as numbers): jq's getpath answers
# most evidence in one builtin call; only a null, or a path whose types do not fit (an object
# key "0", a non-numeric array index), takes the segment-by-segment way, which decides.
def _hc_has($segs; $typed): (try (getpath($typed) != null) catch false) or _hc_present($segs);
def _hc_val($segs; $typed): (try getpath($typed) catch null) // _hc_get($segs);
def _hc_blocked($ptr):
  first($_hc_errs[] | . as [$src, $under, $reason] | select($src == $ptr or ($ptr | startswith($under)))
        | "collector could not read \($src): \($reason)") // null;
def _hc_requires($q):
  first($q[] | . as [$ptr, $segs, $typed] | select(_hc_out($segs) | not)
    | (_hc_blocked($ptr) // (if ($snap | try _hc_val($segs; $typed) catch null) != null then null
                             else "required data absent from the snapshot: \($ptr)" end))
    | select(. != null)) // null;
def _hc_ev($r): . as [$abs, $p, $segs, $typed]
  | {pointer: (if $abs then $p else $r.path + $p end), base: (if $abs then $snap else $r.data end), segs: $segs,
     typed: $typed};
def _hc_key($r):
  (try (
    if ($r.key | type) == "string" then $r.key
    elif $r.type == "container" then
      ($r.data.inspect.Config.Labels // {}) as $l
      | if ($l["com.docker.compose.project"] | type) == "string" and ($l["com.docker.compose.service"] | type) == "string"
        then "container:compose/\($l["com.docker.compose.project"])/\($l["com.docker.compose.service"])"
             + (if ($l["com.docker.compose.container-number"] | type) == "string" then "/\($l["com.docker.compose.container-number"])" else "" end)
        else "container:\($r.name)" end
    elif $r.type == "image" then
      ((($r.data.inspect.RepoTags // [])[0] // (($r.data.inspect.RepoDigests // [])[0] // "" | split("@")[0])) // "") as $ref
      | if $ref == "" then "image:\($r.name)"
        else ($ref | split("/")) as $parts
          | "image:" + (($parts[:-1] + [$parts[-1] | split(":")[0]]) | join("/")) end
    else "\($r.type):\($r.name)" end
  ) catch null) // "\($r.type):\($r.name)";
# Source locations of a failing resource planned from Compose files or a Dockerfile
# (data.planned.positions: pointer -> {file, line, column}). For each evidence pointer: the recorded
# entries below it that fail the assertion on their own (the docker.sock volume entry, the 0.0.0.0
# port entry, the lone `apt-get update` step), else the pointer's own line, else the resource's
# line (the service, the FROM of the stage that becomes the image). Policies stay data.
def _hc_path($segs): . as $root
  | reduce $segs[] as $s ({v: $root, p: []};
      if (.v | type) == "array" then ($s | tonumber) as $i | {v: .v[$i], p: (.p + [$i])} else {v: .v[$s], p: (.p + [$s])} end)
  | .p;
def _hc_only($segs):
  if ($segs | length) == 0 then .
  elif type == "array" then ($segs[0] | tonumber) as $i | [.[$i] | _hc_only($segs[1:])]
  elif type == "object" then {($segs[0]): (.[$segs[0]] | _hc_only($segs[1:]))}
  else . end;
def _hc_segs: if . == "" then [] else .[1:] | split("/") | map(if contains("~") then gsub("~1"; "/") | gsub("~0"; "~") else . end) end;
def _hc_locations($r; assertion; $evs):
  ($r.data.planned.positions // null) as $pos
  | if $pos == null then null
    else [$evs[] | select(.pointer | startswith($r.path + "/")) | (.pointer | ltrimstr($r.path)) as $p
          | ($p | _hc_segs) as $psegs
          | [$pos | keys[] | select(startswith($p + "/"))] as $below
          # Entries decide only when the value emptied of them passes: when it fails too, what is
          # missing decides (no HEALTHCHECK), and the pointer's own line or the resource's is shown.
          | ((try ([$r.data | setpath(_hc_path($psegs); ($r.data | _hc_get($psegs)
                      | if type == "array" then [] elif type == "object" then {} else . end)) | assertion] == [false])
              catch true)) as $empty_fails
          | [$below[] | select($empty_fails | not) | . as $q | (($q | ltrimstr($p)) | _hc_segs) as $rel
             | select((try ([$r.data | setpath(_hc_path($psegs); ($r.data | _hc_get($psegs) | _hc_only($rel))) | assertion] == [false])
                       catch false))] as $alone
          | [$alone[] | . as $q | select(any($alone[]; . != $q and startswith($q + "/")) | not)] as $leaves
          | if ($leaves | length) > 0 then $leaves[] elif $pos[$p] != null then $p else empty end
          | {pointer: ., at: $pos[.]}]
      | if length == 0 and $pos[""] != null then [{pointer: "", at: $pos[""]}] else . end
      | [.[] | .at + {pointer}] | unique_by([.file, .line, .column])
      | if length == 0 then null else . end
    end;
def _hc_here($r): ($r.data.planned.positions[""] // null) as $at | if $at == null then {} else {loc: [$at + {pointer: ""}]} end;
def _hc_image($r):
  if $r.type == "container" then (try ($r.data.inspect.Config.Image | strings) catch null) else null end;
def _hc_item(assertion; manualq; msg; $ev; $hasman):
  . as $r
  | ({type: $r.type, name: $r.name, id: $r.id, key: _hc_key($r)}
     + (_hc_image($r) as $img | if $img != null then {image: $img} else {} end)) as $ref
  | try (
      [$ev[] | _hc_ev($r)] as $evs
      # Evidence in a subject the snapshot does not hold is not read, as if the policy did not name it.
      # (Split without decoding ~0/~1: no prefix holds a "/" or "~", so encoded segments compare alike.)
      | (if $_hc_held == null then $evs else [$evs[] | select(.pointer | split("/")[1:] | _hc_out(.) | not)] end) as $evs
      # A collector error at or above the resource itself, or at or above any evidence, blocks it.
      | (if $_hc_errs == [] then null
         else _hc_blocked($r.path // "") // first($evs[] | _hc_blocked(.pointer) | select(. != null)) // null end) as $blk
      | if $blk != null then {r: $ref, s: "error", reason: $blk} + _hc_here($r)
        else ([$evs[] | select(.segs as $s | .typed as $t | .base | _hc_has($s; $t) | not) | .pointer]) as $absent
        | if ($absent | length) > 0 then {r: $ref, s: "error", reason: "evidence absent from the snapshot: \($absent | join(", "))"}
          else (if $hasman then [$r.data | manualq] else [false] end) as $man
          | (if $man == [false] then [$r.data | assertion] else [] end) as $ok
          | if $man == [true] then
              {r: $ref, s: "manual", m: ((try first($r.data | msg) catch null) // null),
               ev: [$evs[] | {pointer, value: (.segs as $s | .typed as $t | .base | _hc_val($s; $t))}]}
            elif $man != [false] then {r: $ref, s: "error", reason: "manual must give exactly one boolean, gave \($man | tojson | .[0:200])"}
            elif $ok == [true] then {r: $ref, s: "pass"}
            elif $ok == [false] then
              {r: $ref, s: "fail", m: ((try first($r.data | msg) catch null) // null),
               ev: [$evs[] | {pointer, value: (.segs as $s | .typed as $t | .base | _hc_val($s; $t))}]}
              + ((try _hc_locations($r; assertion; $evs) catch null) as $loc | if $loc == null then {} else {loc: $loc} end)
            else {r: $ref, s: "error", reason: "assert must give exactly one boolean, gave \($ok | tojson | .[0:200])"} end
          end
        end
    ) catch ({r: $ref, s: "error", reason: (if type == "string" then . else tojson end)} + (try _hc_here($r) catch {}));
# One policy's verdict: whether the snapshot holds what it judges ($scope: its subject and needs),
# the data it requires, then whether it applies, then `verdict`; any jq error in it is the
# policy's error, never the run's.
def _hc_policy($scope; $q; applies; verdict):
  if $_hc_held != null and any($scope[]; _hc_lacks(.)) then {s: "not_judged"} else
  try (
    _hc_requires($q) as $blocked
    | if $blocked != null then {s: "error", reason: $blocked}
      else [applies] as $applies
      | if $applies == [false] then {s: "not_applicable"}
        elif $applies != [true] then {s: "error", reason: "applies must give exactly one boolean, gave \($applies | tojson | .[0:200])"}
        else verdict
        end
      end
  ) catch {s: "error", reason: (if type == "string" then . else tojson end)} end;
def _hc_items(resources; assertion; manualq; msg; $ev; $hasman):
  {s: "evaluated", items: [limit(__MAX__; resources) | _hc_item(assertion; manualq; msg; $ev; $hasman)]};
'''.replace("__MAX__", str(MAX_RESOURCES + 1)).replace(  # one more than allowed: results.py reports the excess
    "__SUBJECT_OF__", _subject_of_jq())


def _pointer_segments(pointer: str) -> list[str]:
    if pointer == "":
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _typed(segments: list[str]) -> list[str | int]:
    """A pointer's segments for jq's getpath: numeric ones as numbers (array indices, which is
    what they are unless the data says otherwise; the engine's _hc_has/_hc_val then decide)."""
    return [int(s) if s.isdigit() else s for s in segments]


def _evidence_literal(evidence: Iterable[str]) -> str:
    items = []
    for item in evidence:
        absolute = item.startswith("snapshot:")
        pointer = item[len("snapshot:"):] if absolute else item
        segments = _pointer_segments(pointer)
        items.append([absolute, pointer, segments, _typed(segments)])
    return json.dumps(items)


def _requires_literal(requires: Iterable[str]) -> str:
    items = []
    for pointer in requires:
        segments = _pointer_segments(pointer)
        items.append([pointer, segments, _typed(segments)])
    return json.dumps(items)


def policy_body(policy: Policy) -> str:
    """The jq for one policy, producing its raw verdict object: requires and applies first, then the verdict.

    A manual policy with `applies` is only checked for applicability: {s: "manual"} when it
    applies (a person judges it), not_applicable or error otherwise. The scaffolding is the
    engine's `_hc_policy` and `_hc_items`, so each policy adds only its own jq to the program
    (jq's compile time grows with the program's text: 104 copies of it cost half the compile).
    """
    applies = f"({policy.applies}\n)" if policy.applies else "true"
    if policy.automated:
        manual = f"({policy.manual}\n          )" if policy.manual else "false"
        verdict = f"""_hc_items(({policy.resources}
        ); ({policy.assert_}
          ); {manual}; ({policy.message}
          ); {_evidence_literal(policy.evidence)}; {'true' if policy.manual else 'false'})"""
    elif policy.resources:  # a manual policy showing the person its facts: every resource is manual
        verdict = f"""_hc_items(({policy.resources}
        ); true; true; ({policy.message or '"a person must judge this resource"'}
          ); {_evidence_literal(policy.evidence)}; true)"""
    else:
        verdict = '{s: "manual"}'
    return f"""_hc_policy({json.dumps(list(policy.scope))}; {_requires_literal(policy.requires)}; ({applies}); {verdict})"""


def combined_program(policies: list[Policy]) -> str:
    """One program emitting one raw verdict per automated policy, in the order given."""
    bodies = [policy_body(policy) for policy in policies]
    if not bodies:
        return _INPUT + _HEAD + _ERRS + _ENGINE + "empty"
    return _INPUT + _HEAD + _ERRS + _ENGINE + ",\n".join(bodies)


def case_program(policies: list[Policy]) -> str:
    """One program for policy test cases: its input is {"p": policy index, "a": advisories, "s": snapshot}, its
    output the raw verdict of that one policy over that snapshot. One compilation serves every
    case of a test run (a program per policy cost 10 ms each to compile, more than a case runs)."""
    if not policies:
        return "empty"
    branches = "\n".join(
        f'{"if" if i == 0 else "elif"} $__hc_case == {i} then '
        f'{policy_body(policy)}'
        for i, policy in enumerate(policies))
    return ".p as $__hc_case | " + _INPUT + _HEAD + _ERRS + _ENGINE + branches + '\nelse {s: "error", reason: "no such policy"} end'


def fragment_check_program(fragment: str, wrapped_input: bool = False) -> str:
    """A program that compiles one fragment in the same scope it will run in (for syntax errors).
    `wrapped_input`: it runs over {"a": $advisories, "s": snapshot}, as the evaluator's programs do."""
    return (_INPUT if wrapped_input else _NO_INPUT) + _HEAD + "\n(\n" + fragment + "\n)"


def pack_check_program(fragments: list[str]) -> str:
    """One program compiling many fragments, each in the scope `fragment_check_program` gives it.

    Only sound for fragments the safety check accepted (closed expressions): see pack._check_jq.
    """
    return _NO_INPUT + _HEAD + "\n" + ",\n".join("(\n" + fragment + "\n)" for fragment in fragments)


@cache
def prelude_line_count() -> int:
    return _HEAD.count("\n") + 1


def uses_advisories(policies: Iterable[Policy]) -> bool:
    """Whether any of the policies reads $advisories (then the evaluator computes it per snapshot)."""
    return any("$advisories" in value for policy in policies for _name, value in policy.fragments())
