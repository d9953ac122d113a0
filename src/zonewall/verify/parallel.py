"""One gateway's translation validation on several CPUs (issue #18 item 3).

`validate` hands its independent jobs to a runner (`compare.Jobs`): the gateway's own plane
and, per ingress interface, the rows of every source entering there (on a gateway that gives
each served class its own interface, one source class per job).  `forked(workers)` is a
runner that spreads them over `workers` processes: the calling process and `workers - 1`
children forked from it once the config is parsed and the comparison set up, so the children
inherit all of it (nothing is pickled on the way in; only each job's differences come back).

The jobs are handed out in their order by one shared counter: each process takes the next
job when it is done with its last, so a busy or slow CPU costs no more than one job.  Which
process ran a job changes nothing: a job's differences depend only on the job (an ingress's
rows share their memo, and all of them are one job), and the results are put back in the
jobs' order, so the output is the same as serial, difference for difference, whatever the
scheduling.  A child that fails sends its traceback, which is raised here; a child that dies
without its results is an error too: the proof never passes on a partial answer.

Memory: the children share the parent's pages until they write to them (the collector is
told to leave the parent's objects alone while they run, `gc.freeze`); what they allocate
for their own jobs (the evaluator's memos) is their own.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
import signal
import traceback
from typing import Any

from .compare import Job, Jobs, one_by_one
from .differences import Difference

__all__ = ["forked", "run_forked"]


def forked(workers: int) -> Jobs:
    """A `compare.Jobs` runner using up to `workers` processes (this one included)."""

    def run(jobs: list[Job]) -> list[list[Difference]]:
        return run_forked(jobs, workers)

    return run


def run_forked(jobs: list[Job], workers: int) -> list[list[Difference]]:
    """Each job's result, in the jobs' order, computed by up to `workers` processes."""
    workers = min(workers, len(jobs))
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return one_by_one(jobs)
    counter = multiprocessing.get_context("fork").Value("q", 0)

    def claim() -> int:
        with counter.get_lock():
            i: int = counter.value
            counter.value = i + 1
        return i

    def work() -> list[tuple[int, list[Difference]]]:
        done = []
        while (i := claim()) < len(jobs):
            done.append((i, jobs[i]()))
        return done

    children: list[tuple[int, int]] = []  # (pid, read end of its pipe)
    gc.freeze()  # the children's collections must not write to every inherited object
    try:
        for _ in range(workers - 1):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: work, send the results, leave without cleaning up
                os.close(read)
                _child(work, write)
            os.close(write)
            children.append((pid, read))
        results = dict(work())
        while children:
            pid, read = children.pop()
            results.update(_collect(pid, read))
    finally:
        for pid, read in children:  # this process failed: stop the others
            with contextlib.suppress(OSError):
                os.close(read)
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        gc.unfreeze()
    missing = [i for i in range(len(jobs)) if i not in results]
    if missing:
        raise RuntimeError(f"proof jobs {missing[:5]} were not run by any worker")
    return [results[i] for i in range(len(jobs))]


def _child(work: Any, fd: int) -> None:
    code = 0
    try:
        try:
            payload = pickle.dumps(("ok", work()), pickle.HIGHEST_PROTOCOL)
        except BaseException:  # noqa: BLE001 - everything goes to the parent
            payload = pickle.dumps(("error", traceback.format_exc()))
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
    except BaseException:  # noqa: BLE001 - the parent sees the exit status
        code = 1
    finally:
        os._exit(code)


def _collect(pid: int, fd: int) -> list[tuple[int, list[Difference]]]:
    with os.fdopen(fd, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not data or os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(
            f"a proof worker (pid {pid}) ended without its results "
            f"(exit status {os.waitstatus_to_exitcode(status)})"
        )
    kind, value = pickle.loads(data)  # noqa: S301 - our own child, through our own pipe
    if kind != "ok":
        raise RuntimeError(f"a proof worker failed:\n{value}")
    result: list[tuple[int, list[Difference]]] = value
    return result
