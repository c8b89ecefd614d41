"""CPU accounting from /proc and cProfile summaries for the bus benchmark."""

from __future__ import annotations

import contextlib
import cProfile
import os
import pstats
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def cpu_seconds(pid: int, children: bool = False) -> float | None:
    """User + system CPU of a process; with `children`, also of its reaped children and of
    its live children (a PostgreSQL server: the postmaster and its backends)."""
    fields = _stat(pid)
    if fields is None:
        return None
    # utime, stime, cutime, cstime are fields 14-17 of /proc/<pid>/stat (11-14 here).
    total = int(fields[11]) + int(fields[12])
    if children:
        total += int(fields[13]) + int(fields[14])
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                child = _stat(int(entry.name))
                if child is not None and child[1] == str(pid):
                    total += int(child[11]) + int(child[12])
    return total / TICK


def runqueue_wait_seconds(pid: int) -> float | None:
    """Time the process's main thread spent runnable but waiting for a core (schedstat field 2):
    on a shared machine, the delay each wake-up of a process costs, which CPU time does not show."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


class CpuMeter:
    """CPU seconds per 1,000 messages of each watched process, per phase (and, for the Python
    processes, the seconds their event loop waited for a core)."""

    def __init__(self) -> None:
        self._procs: dict[str, tuple[int, bool]] = {"bench_main": (os.getpid(), False)}
        self._phases: dict[str, dict[str, float]] = {}
        self._waits: dict[str, dict[str, float]] = {}

    @classmethod
    def for_local_infra(cls, infra: Path) -> CpuMeter:
        meter = cls()
        with contextlib.suppress(OSError, ValueError):
            meter.watch("kafka_broker_jvm", int((infra / "kafka" / "kafka.pid").read_text()))
        with contextlib.suppress(OSError, ValueError, IndexError):
            postmaster = (infra / "pg" / "data" / "postmaster.pid").read_text().split()[0]
            meter.watch("postgresql", int(postmaster), children=True)
        return meter

    def watch(self, name: str, pid: int | None, children: bool = False) -> None:
        if pid is not None:
            self._procs[name] = (pid, children)

    def _sample(self) -> dict[str, float]:
        out = {}
        for name, (pid, children) in self._procs.items():
            seconds = cpu_seconds(pid, children)
            if seconds is not None:
                out[name] = seconds
        return out

    def _waited(self) -> dict[str, float]:
        out = {}
        for name, (pid, children) in self._procs.items():
            seconds = None if children else runqueue_wait_seconds(pid)
            if seconds is not None and name != "kafka_broker_jvm":
                out[name] = seconds
        return out

    @contextlib.contextmanager
    def phase(self, name: str, messages: int) -> Iterator[None]:
        before, waited = self._sample(), self._waited()
        yield
        after, waited_after = self._sample(), self._waited()
        if messages:
            self._phases[name] = {
                proc: round((after[proc] - before[proc]) * 1000 / messages, 3)
                for proc in after
                if proc in before
            }
            self._waits[name] = {
                proc: round((waited_after[proc] - waited[proc]) * 1000 / messages, 3)
                for proc in waited_after
                if proc in waited
            }

    def report(self) -> dict[str, dict[str, float]]:
        return self._phases

    def waits(self) -> dict[str, dict[str, float]]:
        """Seconds per 1,000 messages each Python process waited, runnable, for a core."""
        return self._waits


class Profiler:
    """cProfile around a block when a directory is given; `top()` summarises the hot spots."""

    def __init__(self, directory: str | None, name: str) -> None:
        self._path = Path(directory) / f"bus-{name}.prof" if directory else None
        # CPU time, not wall time: on a shared machine a process waiting for a core (or idle in
        # epoll) is not slow code.
        self._profile = cProfile.Profile(time.process_time) if directory else None

    def __enter__(self) -> Profiler:
        if self._profile is not None:
            self._profile.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._profile is not None and self._path is not None:
            self._profile.disable()
            self._profile.dump_stats(self._path)

    def top(self, n: int = 15) -> dict[str, Any]:
        if self._profile is None:
            return {}
        stats = pstats.Stats(self._profile)
        total = stats.total_tt  # type: ignore[attr-defined]

        def rows(key: int) -> list[str]:
            ranked = sorted(stats.stats.items(), key=lambda kv: kv[1][key], reverse=True)  # type: ignore[attr-defined]
            return [
                f"{100 * v[key] / total:5.1f}% {Path(f).name}:{line} {func}"
                for (f, line, func), v in ranked[:n]
            ]

        # Self time says where the CPU goes; cumulative time says which path leads there.
        return {"file": str(self._path), "self": rows(2), "cumulative": rows(3)}
