"""Run a console script under cProfile (CPU time, not wall time: on a shared machine a process
waiting for a core is not slow code); SIGUSR1 writes the stats to the path given.

`python bench/profiled.py <stats path> <module:function> [args…]` — the service's own SIGTERM
handling ends it without returning to a profiler's wrapper, hence the signal.
"""

from __future__ import annotations

import cProfile
import importlib
import signal
import sys
import time


def main() -> None:
    path, target, *argv = sys.argv[1:]
    module, function = target.split(":")
    entry = getattr(importlib.import_module(module), function)
    profile = cProfile.Profile(time.process_time)

    def dump(signum: int, frame: object) -> None:
        profile.dump_stats(path)

    signal.signal(signal.SIGUSR1, dump)
    sys.argv = [module, *argv]
    profile.enable()
    sys.exit(entry(argv))


if __name__ == "__main__":
    main()
