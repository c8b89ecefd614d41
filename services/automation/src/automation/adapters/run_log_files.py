"""AutomationLogger: a directory per run with a main log, a log per stage and JSONL trace events."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class FileRunLog:
    def __init__(self, root: Path, mirror: Path | None = None) -> None:
        self.root = root
        self.mirror = mirror

    def directory(self, run_id: Any) -> Path:
        return self.root / str(run_id)

    def write(
        self, run_id: uuid.UUID, stage: int | None, kind: str, message: str, **fields: object
    ) -> None:
        folder = self.directory(run_id)
        folder.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC).isoformat()
        line = (
            f"{now} {kind} {message} {json.dumps(fields, default=str) if fields else ''}".rstrip()
            + "\n"
        )
        targets = [folder / "main.log"] + ([folder / f"stage-{stage}.log"] if stage else [])
        for target in targets:
            with target.open("a", encoding="utf-8") as handle:
                handle.write(line)
        event = {
            "time": now,
            "run_id": str(run_id),
            "stage": stage,
            "event": kind,
            "message": message,
            "correlation_id": str(run_id),
            **fields,
        }
        with (folder / "trace.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(event, default=str) + "\n")
        if self.mirror is not None:
            mirrored = self.mirror / str(run_id)
            mirrored.mkdir(parents=True, exist_ok=True)
            for name in ("main.log", "trace.jsonl", *(f"stage-{stage}.log" for _ in [0] if stage)):
                if (folder / name).exists():
                    shutil.copyfile(folder / name, mirrored / name)

    async def flush(self, run_id: Any = None) -> None:
        """Every line is on disk as soon as it is written."""

    def trace(self, run_id: Any) -> Path:
        return self.directory(run_id) / "trace.jsonl"
