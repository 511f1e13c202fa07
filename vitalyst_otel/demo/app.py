"""The demo knowledge-graph service: a small Vitalyst Knowledge Graph API that exercises every
signal through the public API of vitalyst_otel only.

- ``/nodes``: create and delete (need the ``X-API-Key`` header; audited), list and read graph
  nodes, kept in memory; the graph size by node type is a metric;
- ``/session``: a password login (user ``DEMO_USER``, password ``DEMO_PASSWORD``) that logs each
  attempt with the password in the log call's ``extra``, as careless code does: the redaction
  keeps it out of every output; every attempt is audited, a wrong password is a 401 (an
  ``auth_failure`` security event);
- ``/nodes/{node_id}/enrich``: a simulated AI enrichment, timed by ``meters.track_enrichment``,
  which reports the simulated model's token usage (GenAI conventions), with configurable latency and failure rate (``DEMO_ENRICH_LATENCY_MS``,
  ``DEMO_ENRICH_FAILURE_RATE``, or ``PUT /demo/knobs`` at run time); a failure is a handled
  error;
- ``/validation``: enqueue nodes for validation; a background consumer works the queue (pause it
  with ``PUT /demo/knobs {"consumer_paused": true}`` to see a stalled consumer);
- readiness checks for the graph store and the validation consumer;
- security events for a wrong API key and for rejected input; ``/demo/crash`` raises an
  unhandled error.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from vitalyst_otel import audit, health, meters, security

log = logging.getLogger("vitalyst.demo")

NODE_TYPES = ("concept", "entity", "document", "source", "claim")
DEMO_API_KEY = os.environ.get("DEMO_API_KEY", "demo-key-" + "0" * 8)
DEMO_USER = os.environ.get("DEMO_USER", "curator")
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "demo-password-" + "0" * 6)


class NodeIn(BaseModel):
    type: str = Field(pattern="^(concept|entity|document|source|claim)$")
    label: str = Field(min_length=1, max_length=200)
    properties: dict[str, str] = Field(default_factory=dict)


class Login(BaseModel):
    user: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


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

    def ping(self) -> bool:
        return isinstance(self.nodes, dict)


@dataclass
class DemoState:
    store: GraphStore = field(default_factory=GraphStore)
    queue: asyncio.Queue | None = None
    consumer: asyncio.Task | None = None
    enrich_latency_ms: float = float(os.environ.get("DEMO_ENRICH_LATENCY_MS", "40"))
    enrich_failure_rate: float = float(os.environ.get("DEMO_ENRICH_FAILURE_RATE", "0.1"))
    consumer_paused: bool = False
    last_progress: float = field(default_factory=time.monotonic)

    def queue_length(self) -> int:
        return self.queue.qsize() if self.queue is not None else 0

    def consumer_alive(self) -> bool:
        if self.consumer is None or self.consumer.done():
            raise RuntimeError("the validation consumer is not running")
        if self.queue_length() and time.monotonic() - self.last_progress > 10:
            raise RuntimeError(f"no item validated for {time.monotonic() - self.last_progress:.0f} s "
                               f"with {self.queue_length()} waiting")
        return True


class EnrichmentFailed(RuntimeError):
    """The (simulated) model call failed."""


def _require_key(api_key: str | None, action: str, resource: str) -> str:
    if not api_key:
        raise HTTPException(status_code=401, detail="missing API key")  # the middleware records auth_failure
    actor = "api-key:" + api_key[:4]
    if not secrets.compare_digest(api_key, DEMO_API_KEY):
        security.event("invalid_token", action=action)
        audit.record(actor, action, resource, "denied", reason="invalid API key")
        raise HTTPException(status_code=401, detail="invalid API key")
    audit.record(actor, "api_key.use", resource, "success", for_action=action)
    return actor


def create_app() -> FastAPI:
    state = DemoState()
    meters.observe_node_counts(state.store.counts)
    meters.observe_validation_queue(state.queue_length)
    health.register("graph-store", state.store.ping, timeout=0.5)
    health.register("validation-consumer", state.consumer_alive, timeout=0.5, critical=False)

    async def consume() -> None:
        assert state.queue is not None
        while True:
            node_id = await state.queue.get()
            try:
                while state.consumer_paused:
                    await asyncio.sleep(0.2)
                await asyncio.sleep(random.uniform(0.005, 0.03))
                valid = node_id in state.store.nodes
                meters.validation_processed("valid" if valid else "invalid")
                state.last_progress = time.monotonic()
            finally:
                state.queue.task_done()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.queue = asyncio.Queue(maxsize=10_000)
        state.consumer = asyncio.create_task(consume())
        log.info("demo knowledge graph ready", extra={"node.types": ",".join(NODE_TYPES)})
        try:
            yield
        finally:
            state.consumer.cancel()

    app = FastAPI(title="Vitalyst Knowledge Graph (demo)", lifespan=lifespan)
    app.state.demo = state

    @app.exception_handler(RequestValidationError)
    async def rejected(request: Request, exc: RequestValidationError):
        security.event("input_rejected", errors=len(exc.errors()))
        return await request_validation_exception_handler(request, exc)

    @app.post("/nodes", status_code=201)
    async def create_node(node: NodeIn, x_api_key: str | None = Header(default=None)):
        node_id = uuid.uuid4().hex[:12]
        actor = _require_key(x_api_key, "node.create", f"node/{node_id}")
        state.store.nodes[node_id] = {"id": node_id, **node.model_dump()}
        audit.record(actor, "node.create", f"node/{node_id}", "success", node_type=node.type)
        log.info("node created", extra={"node.id": node_id, "node.type": node.type})
        return state.store.nodes[node_id]

    @app.post("/session")
    async def login(body: Login):
        # Deliberately careless: the password goes into the log call; redaction masks it.
        log.info("login attempt", extra={"user": body.user, "password": body.password})
        valid = secrets.compare_digest(body.user.encode(), DEMO_USER.encode()) & secrets.compare_digest(
            body.password.encode(), DEMO_PASSWORD.encode())
        audit.record(f"user:{body.user}", "session.create", "session", "success" if valid else "denied",
                     method="password")
        if not valid:
            raise HTTPException(status_code=401, detail="wrong user or password")  # auth_failure
        return {"user": body.user, "session": secrets.token_hex(16)}

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
        actor = _require_key(x_api_key, "node.delete", f"node/{node_id}")
        if state.store.nodes.pop(node_id, None) is None:
            audit.record(actor, "node.delete", f"node/{node_id}", "failure", reason="no such node")
            raise HTTPException(status_code=404, detail="no such node")
        audit.record(actor, "node.delete", f"node/{node_id}", "success")
        log.info("node deleted", extra={"node.id": node_id})

    @app.post("/nodes/{node_id}/enrich")
    async def enrich(node_id: str):
        node = state.store.nodes.get(node_id)
        if node is None:
            raise HTTPException(status_code=404, detail="no such node")
        try:
            # A provider of its own: no GenAI instrumentor covers the simulated model, so its
            # calls are recorded by track_enrichment even under a launcher that loads one.
            with meters.track_enrichment(model="demo-summariser", provider="vitalyst.demo",
                                         node_type=node["type"]) as enrichment:
                await asyncio.sleep(state.enrich_latency_ms / 1000 * random.uniform(0.5, 1.5))
                if random.random() < state.enrich_failure_rate:
                    raise EnrichmentFailed("the summarisation model did not answer")
                enrichment.usage(input_tokens=len(str(node)) // 4 + random.randint(150, 400),
                                 output_tokens=random.randint(20, 120),
                                 response_model="demo-summariser-2026-01")
        except EnrichmentFailed:
            log.warning("enrichment failed", exc_info=True, extra={"node.id": node_id})  # a handled error
            raise HTTPException(status_code=502, detail="enrichment model unavailable") from None
        node.setdefault("properties", {})["summary"] = f"{node['label']} (enriched)"
        return node

    @app.post("/validation", status_code=202)
    async def enqueue_validation(node_ids: list[str]):
        assert state.queue is not None
        for node_id in node_ids:
            state.queue.put_nowait(node_id)
        meters.validation_enqueued(len(node_ids))
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
