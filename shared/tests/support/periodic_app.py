"""A replica of a locked periodic job, run as its own process for the crash test.

`python periodic_app.py --db URL --name JOB --replica NAME`: every pass inserts `(replica)` into
`ticks` (created if missing) and prints "tick".
"""

from __future__ import annotations

import argparse
import asyncio

import sqlalchemy as sa

from igny8.db import create_engine
from igny8.periodic import periodic_job


async def main(db: str, name: str, replica: str) -> None:
    engine = create_engine(db, 2)
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS ticks (replica text NOT NULL)"))

    async def tick() -> None:
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO ticks VALUES (:r)"), {"r": replica})
        print("tick", flush=True)

    await periodic_job(name, 0.05, tick, lock_engine=engine)(asyncio.Event())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--replica", required=True)
    args = parser.parse_args()
    asyncio.run(main(args.db, args.name, args.replica))
