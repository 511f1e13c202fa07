"""A mixed load against the demo service: node CRUD, enrichments (some failing), validation,
unauthorised calls, not-found reads and the odd crash, so one run shows every signal."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter

import httpx

from vitalyst_otel.demo.app import DEMO_API_KEY, NODE_TYPES


async def drive(base_url: str, seconds: float, concurrency: int = 4, rate: float = 40.0) -> Counter:
    """Send about ``rate`` requests per second for ``seconds``; return a count per
    (operation, status)."""
    results: Counter = Counter()
    node_ids: list[str] = []
    deadline = time.monotonic() + seconds
    interval = concurrency / rate
    headers = {"X-API-Key": DEMO_API_KEY}

    async def one(client: httpx.AsyncClient) -> None:
        roll = random.random()
        if roll < 0.25 or not node_ids:
            response = await client.post("/nodes", headers=headers, json={
                "type": random.choice(NODE_TYPES), "label": f"node {random.randint(1, 10**6)}"})
            if response.status_code == 201:
                node_ids.append(response.json()["id"])
            results["create", response.status_code] += 1
        elif roll < 0.45:
            response = await client.get(f"/nodes/{random.choice(node_ids)}")
            results["read", response.status_code] += 1
        elif roll < 0.55:
            response = await client.get("/nodes", params={"type": random.choice(NODE_TYPES)})
            results["list", response.status_code] += 1
        elif roll < 0.70:
            response = await client.post(f"/nodes/{random.choice(node_ids)}/enrich")
            results["enrich", response.status_code] += 1
        elif roll < 0.82:
            response = await client.post("/validation", json=random.sample(node_ids, min(3, len(node_ids))))
            results["validate", response.status_code] += 1
        elif roll < 0.87:
            response = await client.get("/nodes/does-not-exist")
            results["read-missing", response.status_code] += 1
        elif roll < 0.90:
            response = await client.post("/nodes", headers={"X-API-Key": "wrong-key"},
                                         json={"type": "concept", "label": "x"})
            results["wrong-key", response.status_code] += 1
        elif roll < 0.92:
            response = await client.post("/nodes", json={"type": "concept", "label": "x"})
            results["no-key", response.status_code] += 1
        elif roll < 0.95 and len(node_ids) > 5:
            node_id = node_ids.pop(random.randrange(len(node_ids)))
            response = await client.delete(f"/nodes/{node_id}", headers=headers)
            results["delete", response.status_code] += 1
        elif roll < 0.96:
            response = await client.get("/nodes", params={"token": "demo-secret-token"})
            results["list-with-token", response.status_code] += 1
        elif roll < 0.97:
            response = await client.post("/nodes", headers=headers, json={"type": "planet", "label": ""})
            results["invalid-input", response.status_code] += 1
        else:
            response = await client.get("/demo/crash")
            results["crash", response.status_code] += 1

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                await one(client)
            except httpx.HTTPError as exc:
                results["transport-error", type(exc).__name__] += 1
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)  # the driver's own requests are not the demo
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
        await client.get("/health/ready")
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return results
