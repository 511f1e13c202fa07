"""Route templates as the client sees them, for every way FastAPI and Starlette compose routes,
through the real configure() path (otel_capture) and the real routers of the installed release."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter, Depends, FastAPI, Header
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Host, Mount, Route


def call(app, *requests, root_path: str = ""):
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, root_path=root_path)

    async def run():
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return [await client.request(method, url) for method, url in requests]

    return asyncio.run(run())


def spans(capture):
    return [(s.name, s.attributes.get("http.route"), s.attributes["http.response.status_code"])
            for s in capture.spans if s.kind is SpanKind.SERVER]


def series_routes(capture):
    return sorted((attrs.get("http.route", ""), attrs["http.request.method"], attrs["http.response.status_code"],
                   value["count"]) for attrs, value in capture.metric_points("http.server.request.duration"))


async def verify_token(x_token: str = Header("ok")):
    return x_token


def nested_app() -> FastAPI:
    """FastAPI's "Bigger Applications" shape: routers with their own prefixes, included with
    more prefixes and router-level dependencies."""
    app = FastAPI()

    @app.get("/")
    async def root():
        return {}

    admin = APIRouter()

    @admin.post("/")
    async def admin_root():
        return {}

    nodes = APIRouter(prefix="/nodes", dependencies=[Depends(verify_token)])

    @nodes.get("/{node_id}")
    async def node(node_id: str):
        return {"id": node_id}

    files = APIRouter()

    @files.get("/files/{file_path:path}")
    async def file(file_path: str):
        return {}

    nodes.include_router(files, prefix="/{node_id}")
    v1 = APIRouter(prefix="/v1")
    v1.include_router(nodes)
    app.include_router(admin, prefix="/admin")
    app.include_router(v1)
    return app


def test_prefixes_at_every_depth_are_part_of_the_template(otel_capture):
    app = nested_app()
    responses = call(app, ("POST", "/admin/"), ("GET", "/v1/nodes/n1"), ("GET", "/"),
                     ("GET", "/v1/nodes/n1/files/a/b.txt"))
    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    assert spans(otel_capture) == [
        ("POST /admin/", "/admin/", 200),
        ("GET /v1/nodes/{node_id}", "/v1/nodes/{node_id}", 200),
        ("GET /", "/", 200),
        ("GET /v1/nodes/{node_id}/files/{file_path}", "/v1/nodes/{node_id}/files/{file_path}", 200),
    ]
    # The included "/" never merges with the app's own "/".
    assert series_routes(otel_capture) == [("/", "GET", 200, 1), ("/admin/", "POST", 200, 1),
                                           ("/v1/nodes/{node_id}", "GET", 200, 1),
                                           ("/v1/nodes/{node_id}/files/{file_path}", "GET", 200, 1)]


def test_a_router_included_twice_keeps_both_templates(otel_capture):
    app = FastAPI()
    items = APIRouter()

    @items.get("/items/{item_id}")
    async def item(item_id: int):
        return {}

    app.include_router(items, prefix="/v1")
    app.include_router(items, prefix="/v2")
    call(app, ("GET", "/v2/items/1"), ("GET", "/v1/items/2"))
    assert [route for _, route, _ in spans(otel_capture)] == ["/v2/items/{item_id}", "/v1/items/{item_id}"]


def test_mounted_fastapi_and_starlette_apps_compose_their_mount_templates(otel_capture):
    app = nested_app()
    sub = FastAPI()
    things = APIRouter(prefix="/things")

    @things.get("/{thing_id}")
    async def thing(thing_id: str):
        return {}

    sub.include_router(things, prefix="/inner")

    async def tenant_file(request):
        return PlainTextResponse("x")

    app.mount("/sub", sub)
    app.router.routes.append(Mount("/tenants/{tenant}", routes=[Route("/files/{name:path}", tenant_file)]))
    call(app, ("GET", "/sub/inner/things/t1"), ("GET", "/tenants/acme/files/x/y.txt"))
    assert [route for _, route, _ in spans(otel_capture)] == [
        "/sub/inner/things/{thing_id}", "/tenants/{tenant}/files/{name}"]


def test_plain_starlette_app_with_host_routing(otel_capture):
    async def hello(request):
        return PlainTextResponse("hi")

    api = Starlette(routes=[Route("/users/{user_id:int}", hello)])
    app = Starlette(routes=[Host("api.example.com", app=api), Mount("/www", routes=[Route("/", hello)])])
    transport = httpx.ASGITransport(app=app)

    async def run():
        async with httpx.AsyncClient(transport=transport, base_url="http://api.example.com") as client:
            await client.get("/users/3")
        async with httpx.AsyncClient(transport=transport, base_url="http://www.example.com") as client:
            await client.get("/www/")

    asyncio.run(run())
    assert [route for _, route, _ in spans(otel_capture)] == ["/users/{user_id}", "/www/"]


def test_root_path_behind_a_proxy_is_part_of_the_template(otel_capture):
    app = nested_app()
    (response,) = call(app, ("GET", "/api/v1/nodes/n1"), root_path="/api")
    assert response.status_code == 200
    assert spans(otel_capture) == [("GET /api/v1/nodes/{node_id}", "/api/v1/nodes/{node_id}", 200)]


def test_404_and_405_carry_no_route_and_share_no_series_with_a_real_route(otel_capture):
    app = nested_app()
    sub = FastAPI()
    app.mount("/sub", sub)
    responses = call(app, ("GET", "/v1/nodes/n1"), ("GET", "/nope"), ("GET", "/admin/"),
                     ("DELETE", "/v1/nodes/n1"), ("GET", "/sub/missing"))
    assert [r.status_code for r in responses] == [200, 404, 405, 405, 404]
    assert spans(otel_capture)[1:] == [("GET", None, 404), ("GET", None, 405), ("DELETE", None, 405),
                                       ("GET", None, 404)]
    assert series_routes(otel_capture) == [("", "DELETE", 405, 1), ("", "GET", 404, 2), ("", "GET", 405, 1),
                                           ("/v1/nodes/{node_id}", "GET", 200, 1)]


def test_routes_added_after_the_first_request_are_found(otel_capture):
    app = nested_app()
    call(app, ("GET", "/"))
    late = APIRouter(prefix="/late")

    @late.get("/{x}")
    async def later(x: str):
        return {}

    app.include_router(late, prefix="/v9")
    call(app, ("GET", "/v9/late/1"))
    assert spans(otel_capture)[-1] == ("GET /v9/late/{x}", "/v9/late/{x}", 200)
