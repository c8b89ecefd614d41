"""Child process for the crash test: publish one publication and SIGKILL this process the moment
the remote create returned — before the remote id reaches the database."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from publishing_support import FakeClock, FakeCredentials, FakeImages

from igny8.db import create_engine, session_factory
from igny8.net import GuardedHttp, UrlGuard
from publishing.adapters.destinations import PlatformDestinations
from publishing.adapters.sqlalchemy_unit_of_work import PublishingUnitOfWork
from publishing.app.publish import Publisher, PublishPolicy
from publishing.ports import Hooks


class DieAfterCreate:
    def __init__(self, inner):
        self.inner = inner

    def for_platform(self, platform):
        inner = self.inner.for_platform(platform)

        class Wrapped:
            async def publish(self, target, post, known, hooks):
                async def created(remote):
                    print(f"created {remote.remote_id}", flush=True)
                    os.kill(os.getpid(), signal.SIGKILL)

                return await inner.publish(target, post, known, Hooks(hooks.before_create, created))

        return Wrapped()


async def main() -> None:
    args = json.loads(sys.argv[1])
    engine = create_engine(args["database_url"], 2)
    sessions = session_factory(engine)
    publisher = Publisher(
        uow_factory=lambda: PublishingUnitOfWork(sessions),
        destinations=DieAfterCreate(
            PlatformDestinations(GuardedHttp(UrlGuard(["127.0.0.0/8"])), Path(args["static_root"]))
        ),
        credentials=FakeCredentials({uuid.UUID(args["integration_id"]): args["credentials"]}),
        images=FakeImages(),
        clock=FakeClock(),
        policy=PublishPolicy(),
    )
    print("publishing", flush=True)
    await publisher.publish(uuid.UUID(args["publication_id"]))
    print("not killed?", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
