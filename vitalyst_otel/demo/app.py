"""The demo knowledge-graph service: a small Vitalyst Knowledge Graph API that exercises every
signal through the public API of vitalyst_otel only.

- ``/nodes``: create (needs the ``X-API-Key`` header), list, read and delete graph nodes, kept in
  memory;
- ``/nodes/{node_id}/enrich``: a simulated AI enrichment with configurable latency and failure
  rate (``DEMO_ENRICH_LATENCY_MS``, ``DEMO_ENRICH_FAILURE_RATE``, or ``PUT /demo/knobs`` at run
  time);
- ``/validation``: enqueue nodes for validation; a background consumer works the queue (pause it
  with ``PUT /demo/knobs {"consumer_paused": true}`` to see a stalled consumer);
- ``/demo/crash``: an unhandled error, for error tracking.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, Field

log = logging.getLogger("vitalyst.demo")

NODE_TYPES = ("concept", "entity", "document", "source", "claim")
DEMO_API_KEY = os.environ.get("DEMO_API_KEY", "demo-key-" + "0" * 8)


class NodeIn(BaseModel):
    type: str = Field(pattern="^(concept|entity|document|source|claim)$")
    label: str = Field(min_length=1, max_length=200)
    properties: dict[str, str] = Field(default_factory=dict)


class Knobs(BaseModel):
    enrich_latency_ms: float | None = Field(default=None, ge=0, le=60_000)
    enrich_failure_rate: float | None = Field(default=None, ge=0, le=1)
    consumer_paused: bool | None = None


@dataclass
class GraphStore:
    nodes: dict[str, dict] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(NODE_TYPES, 0)
        for node in self.nodes.values():
            counts[node["type"]] += 1
        return counts


@dataclass
class DemoState:
    store: GraphStore = field(default_factory=GraphStore)
    queue: asyncio.Queue | None = None
    enrich_latency_ms: float = float(os.environ.get("DEMO_ENRICH_LATENCY_MS", "40"))
    enrich_failure_rate: float = float(os.environ.get("DEMO_ENRICH_FAILURE_RATE", "0.1"))
    consumer_paused: bool = False
    processed: int = 0


class EnrichmentFailed(RuntimeError):
    """The (simulated) model call failed."""


def _require_key(api_key: str | None) -> str:
    if not api_key or not secrets.compare_digest(api_key, DEMO_API_KEY):
        raise HTTPException(status_code=401, detail="missing or invalid API key")
    return "api-key:" + api_key[:4]


def create_app() -> FastAPI:
    state = DemoState()

    async def consume() -> None:
        assert state.queue is not None
        while True:
            node_id = await state.queue.get()
            try:
                while state.consumer_paused:
                    await asyncio.sleep(0.2)
                await asyncio.sleep(random.uniform(0.005, 0.03))
                valid = node_id in state.store.nodes
                state.processed += 1
                log.info("validated node", extra={"node.id": node_id, "valid": valid})
            finally:
                state.queue.task_done()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.queue = asyncio.Queue(maxsize=10_000)
        consumer = asyncio.create_task(consume())
        log.info("demo knowledge graph ready", extra={"node.types": ",".join(NODE_TYPES)})
        try:
            yield
        finally:
            consumer.cancel()

    app = FastAPI(title="Vitalyst Knowledge Graph (demo)", lifespan=lifespan)
    app.state.demo = state

    @app.post("/nodes", status_code=201)
    async def create_node(node: NodeIn, x_api_key: str | None = Header(default=None)):
        actor = _require_key(x_api_key)
        node_id = uuid.uuid4().hex[:12]
        state.store.nodes[node_id] = {"id": node_id, **node.model_dump()}
        log.info("node created", extra={"node.id": node_id, "node.type": node.type, "actor": actor})
        return state.store.nodes[node_id]

    @app.get("/nodes")
    async def list_nodes(type: str | None = None, limit: int = 50):
        nodes = [n for n in state.store.nodes.values() if type is None or n["type"] == type]
        return {"count": len(nodes), "nodes": nodes[:limit]}

    @app.get("/nodes/{node_id}")
    async def get_node(node_id: str):
        node = state.store.nodes.get(node_id)
        if node is None:
            raise HTTPException(status_code=404, detail="no such node")
        return node

    @app.delete("/nodes/{node_id}", status_code=204)
    async def delete_node(node_id: str, x_api_key: str | None = Header(default=None)):
        actor = _require_key(x_api_key)
        if state.store.nodes.pop(node_id, None) is None:
            raise HTTPException(status_code=404, detail="no such node")
        log.info("node deleted", extra={"node.id": node_id, "actor": actor})

    @app.post("/nodes/{node_id}/enrich")
    async def enrich(node_id: str):
        node = state.store.nodes.get(node_id)
        if node is None:
            raise HTTPException(status_code=404, detail="no such node")
        await asyncio.sleep(state.enrich_latency_ms / 1000 * random.uniform(0.5, 1.5))
        if random.random() < state.enrich_failure_rate:
            log.warning("enrichment failed", extra={"node.id": node_id})
            raise HTTPException(status_code=502, detail="enrichment model unavailable")
        node.setdefault("properties", {})["summary"] = f"{node['label']} (enriched)"
        return node

    @app.post("/validation", status_code=202)
    async def enqueue_validation(node_ids: list[str]):
        assert state.queue is not None
        for node_id in node_ids:
            state.queue.put_nowait(node_id)
        return {"queued": len(node_ids), "queue_length": state.queue.qsize()}

    @app.get("/demo/knobs")
    async def get_knobs():
        return {"enrich_latency_ms": state.enrich_latency_ms,
                "enrich_failure_rate": state.enrich_failure_rate,
                "consumer_paused": state.consumer_paused}

    @app.put("/demo/knobs")
    async def set_knobs(knobs: Knobs):
        for name, value in knobs.model_dump(exclude_none=True).items():
            setattr(state, name, value)
        log.warning("demo knobs changed", extra=knobs.model_dump(exclude_none=True))
        return await get_knobs()

    @app.get("/demo/crash")
    async def crash():
        raise EnrichmentFailed("simulated unhandled failure in the enrichment pipeline")

    return app


app = create_app()
