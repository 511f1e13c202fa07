"""Two levels of prefixes: /v1 (on the including router) and /nodes (on this router)."""

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

router = APIRouter(prefix="/nodes", tags=["nodes"])


@router.get("/{node_id}")
async def read_node(node_id: str):
    return {"node_id": node_id}


@router.websocket("/{node_id}/watch")
async def watch_node(websocket: WebSocket, node_id: str):
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(f"{node_id}: {await websocket.receive_text()}")
    except WebSocketDisconnect:
        pass


v1 = APIRouter(prefix="/v1")
v1.include_router(router)
