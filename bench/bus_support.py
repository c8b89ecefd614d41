"""CPU accounting from /proc and cProfile summaries for the bus benchmark."""

from __future__ import annotations

import contextlib
import cProfile
import json
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


class Hops:
    """Where a message's time went (`--hops`): write → writer's commit → the relay's read →
    the broker's acknowledgement → the consumer's handler, per message of the paced phase, from
    the monotonic clock every process shares. The messages at or above the p99 are summarised hop
    by hop, so the hop that holds the tail is named."""

    def __init__(self) -> None:
        self.committed: dict[int, int] = {}
        self.read: dict[int, int] = {}
        self.acked: dict[int, int] = {}
        self.recording = False

    def on_commit(self, sent: list[int]) -> None:
        if self.recording:
            now = time.perf_counter_ns()
            for s in sent:
                self.committed[s] = now

    def wrap_relay(self, relay: Any) -> None:
        """Record when the relay read each row and when the broker acknowledged its batch."""
        send = relay._send

        async def timed_send(producer: Any, rows: Any) -> Any:
            read_ns = time.perf_counter_ns()
            results = await send(producer, rows)
            if self.recording:
                sent = [json.loads(row.value)["data"]["sent_ns"] for row in rows]

                def acked(_: Any) -> None:
                    now = time.perf_counter_ns()
                    for s in sent:
                        self.read.setdefault(s, read_ns)
                        self.acked.setdefault(s, now)

                results.add_done_callback(acked)
            return results

        relay._send = timed_send

    def report(self, handled: list[tuple[int, int]]) -> dict[str, Any]:
        """`handled`: (sent_ns, handled_ns) from the consumer. Milliseconds per hop."""
        rows = []
        start = min((sent for sent, _ in handled), default=0)
        slow: dict[int, float] = {}  # 100 ms window of the write → the slowest message in it
        for sent, done in handled:
            if done - sent > 50e6:
                window = (sent - start) // 100_000_000
                slow[window] = max(slow.get(window, 0), round((done - sent) / 1e6))
            c, r, a = self.committed.get(sent), self.read.get(sent), self.acked.get(sent)
            if c is None or r is None or a is None:
                continue
            rows.append((done - sent, c - sent, r - c, a - r, done - a))
        if not rows:
            return {}
        names = (
            "total",
            "write_to_commit",
            "commit_to_relay_read",
            "read_to_ack",
            "ack_to_handled",
        )
        rows.sort()
        tail = rows[int(0.99 * len(rows)) :]

        def ms(values: list[float]) -> float:
            return round(sum(values) / len(values) / 1e6, 2)

        def pct(index: int, q: float) -> float:
            ordered = sorted(r[index] for r in rows)
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6, 2)

        return {
            "messages": len(rows),
            "p50_ms": {n: pct(i, 0.5) for i, n in enumerate(names)},
            "p99_ms": {n: pct(i, 0.99) for i, n in enumerate(names)},
            "tail_mean_ms": {n: ms([r[i] for r in tail]) for i, n in enumerate(names)},
            "windows_over_50ms": {f"{100 * w}ms": v for w, v in sorted(slow.items())},
        }
