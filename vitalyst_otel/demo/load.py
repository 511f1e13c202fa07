"""A mixed load against the demo service: node CRUD, enrichments (some failing), validation,
password logins (some wrong), unauthorised calls, not-found reads and the odd crash, so one run
shows every signal. Every operation runs once first, in a fixed order, so that even a short run
shows them all; then they are drawn at random by weight.

    python -m vitalyst_otel.demo.load URL [--seconds 10] [--rate 40]

drives a demo that is already running (its DEMO_API_KEY, DEMO_USER and DEMO_PASSWORD must be
the same in both environments) and prints the count per (operation, status) as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx

from vitalyst_otel.demo.app import DEMO_API_KEY, DEMO_PASSWORD, DEMO_USER, NODE_TYPES

Operation = Callable[[httpx.AsyncClient], Awaitable[tuple[str, int]]]


class Load:
    """The operations and what they need to share (the ids of the nodes created so far)."""

    def __init__(self) -> None:
        self.node_ids: list[str] = []
        self.headers = {"X-API-Key": DEMO_API_KEY}
        # (weight, operation); the weights add up to 100.
        self.operations: list[tuple[int, Operation]] = [
            (25, self.create), (18, self.read), (2, self.login), (10, self.list_nodes), (15, self.enrich),
            (12, self.validate), (5, self.read_missing), (3, self.wrong_key), (2, self.no_key),
            (3, self.delete), (1, self.list_with_token), (1, self.invalid_input), (3, self.crash),
        ]

    def pick(self) -> Operation:
        if not self.node_ids:
            return self.create
        return random.choices([op for _, op in self.operations], weights=[w for w, _ in self.operations])[0]

    async def create(self, client: httpx.AsyncClient) -> tuple[str, int]:
        response = await client.post("/nodes", headers=self.headers, json={
            "type": random.choice(NODE_TYPES), "label": f"node {random.randint(1, 10**6)}"})
        if response.status_code == 201:
            self.node_ids.append(response.json()["id"])
        return "create", response.status_code

    async def read(self, client: httpx.AsyncClient) -> tuple[str, int]:
        return "read", (await client.get(f"/nodes/{random.choice(self.node_ids)}")).status_code

    async def login(self, client: httpx.AsyncClient) -> tuple[str, int]:
        wrong = random.random() < 0.3
        response = await client.post("/session", json={
            "user": DEMO_USER, "password": "wrong-password" if wrong else DEMO_PASSWORD})
        return ("login-wrong" if wrong else "login"), response.status_code

    async def list_nodes(self, client: httpx.AsyncClient) -> tuple[str, int]:
        return "list", (await client.get("/nodes", params={"type": random.choice(NODE_TYPES)})).status_code

    async def enrich(self, client: httpx.AsyncClient) -> tuple[str, int]:
        return "enrich", (await client.post(f"/nodes/{random.choice(self.node_ids)}/enrich")).status_code

    async def validate(self, client: httpx.AsyncClient) -> tuple[str, int]:
        sample = random.sample(self.node_ids, min(3, len(self.node_ids)))
        return "validate", (await client.post("/validation", json=sample)).status_code

    async def read_missing(self, client: httpx.AsyncClient) -> tuple[str, int]:
        return "read-missing", (await client.get("/nodes/does-not-exist")).status_code

    async def wrong_key(self, client: httpx.AsyncClient) -> tuple[str, int]:
        response = await client.post("/nodes", headers={"X-API-Key": "wrong-key"}, json={"type": "concept", "label": "x"})
        return "wrong-key", response.status_code

    async def no_key(self, client: httpx.AsyncClient) -> tuple[str, int]:
        return "no-key", (await client.post("/nodes", json={"type": "concept", "label": "x"})).status_code

    async def delete(self, client: httpx.AsyncClient) -> tuple[str, int]:
        if len(self.node_ids) <= 1:  # keep one to read and enrich
            return await self.create(client)
        node_id = self.node_ids.pop(random.randrange(len(self.node_ids)))
        return "delete", (await client.delete(f"/nodes/{node_id}", headers=self.headers)).status_code

    async def list_with_token(self, client: httpx.AsyncClient) -> tuple[str, int]:
        return "list-with-token", (await client.get("/nodes", params={"token": "demo-secret-token"})).status_code

    async def invalid_input(self, client: httpx.AsyncClient) -> tuple[str, int]:
        response = await client.post("/nodes", headers=self.headers, json={"type": "planet", "label": ""})
        return "invalid-input", response.status_code

    async def crash(self, client: httpx.AsyncClient) -> tuple[str, int]:
        return "crash", (await client.get("/demo/crash")).status_code


async def drive(base_url: str, seconds: float, concurrency: int = 4, rate: float = 40.0) -> Counter:
    """Run every operation once, then send about ``rate`` requests per second until ``seconds``
    have passed; return a count per (operation, status)."""
    results: Counter = Counter()
    load = Load()
    deadline = time.monotonic() + seconds
    interval = concurrency / rate

    async def run(client: httpx.AsyncClient, operation: Operation) -> None:
        try:
            results[await operation(client)] += 1
        except httpx.HTTPError as exc:
            results["transport-error", type(exc).__name__] += 1

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            started = time.monotonic()
            await run(client, load.pick())
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    logging.getLogger("httpx").setLevel(logging.WARNING)  # the driver's own requests are not the demo
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
        await client.get("/health/ready")
        await run(client, load.create)  # the others need a node
        for _, operation in load.operations:
            await run(client, operation)
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vitalyst_otel.demo.load", description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the running demo, e.g. http://127.0.0.1:8000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    results = asyncio.run(drive(args.url, args.seconds, concurrency=args.concurrency, rate=args.rate))
    json.dump([[operation, status, count] for (operation, status), count in sorted(results.items(), key=str)],
              sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
