"""What the evaluator and its jq worker say to each other: the one list of message tags.

The parent (evaluator/worker_pool.py) sends a job, a dict whose `kind` is one of the JOB_*
tags; the worker (evaluator/worker.py) answers with tuples whose first item is one of the
reply tags below. Both sides import the tags from here, so a tag renamed on one side cannot
leave the other waiting for a message that never comes. The bytes on the wire are the same
strings as ever (evaluator/channel.py frames them).

An evaluation (JOB_EVALUATE):
    parent: {kind, program_id, program, name, path | data, summary, max_bytes, max_output, ...}
    worker: (SNAPSHOT, summary)  or  (INVALID, why)  or  (CRASH, why)
            (READY,)                        jq has parsed the snapshot (see READY_MARKER)
            (RESULT, index, raw verdict)    one per policy, in order
            (DONE, count)
A program compiled ahead (JOB_COMPILE): {kind, program_id, program}, no answer.
Policy test cases (JOB_CASES):
    parent: {kind, bases, program, cases, start, max_output, ...}
    worker: (BASES,)  then per case (CASE, index, raw verdict or None) or (CASE_PROBLEM, index, why),
            then (DONE, count); (CRASH, why) at any point.
"""

from __future__ import annotations

# -- jobs, parent to worker (job["kind"]) -----------------------------------------------------------
JOB_EVALUATE = "evaluate"
JOB_COMPILE = "compile"
JOB_CASES = "cases"

# -- replies, worker to parent (message[0]) -------------------------------------------------------
SNAPSHOT = "snapshot"          # the snapshot was read and validated: its summary follows
INVALID = "invalid"            # the snapshot cannot be evaluated: why (the worker stays usable)
READY = "ready"                # jq has parsed the snapshot: policy time starts now
RESULT = "result"              # one policy's raw verdict
DONE = "done"                  # the job is finished: the worker takes the next one
BASES = "bases"                # the test cases' base snapshots are parsed
CASE = "case"                  # one test case's raw verdict
CASE_PROBLEM = "case_problem"  # why one test case cannot run
CRASH = "crash"                # the job failed inside the worker: why, in one line

# The parent prefixes the combined program with this output: it arrives once jq has parsed the
# snapshot, so a snapshot jq cannot load is told apart from a policy that crashed, and the first
# policy's time limit does not include parsing.
READY_MARKER = "__hullcheck_ready__"

# What one policy may send back, unless the limits say otherwise (Limits.max_output_bytes).
DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024
