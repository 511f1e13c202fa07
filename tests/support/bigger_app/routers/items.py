import asyncio

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import StreamingResponse

from ..dependencies import get_token_header

router = APIRouter(
    prefix="/items",
    tags=["items"],
    dependencies=[Depends(get_token_header)],
    responses={404: {"description": "Not found"}},
)

fake_items_db = {"plumbus": {"name": "Plumbus"}, "gun": {"name": "Portal Gun"}}


@router.get("/")
async def read_items():
    return fake_items_db


@router.get("/{item_id}")
async def read_item(item_id: str):
    if item_id not in fake_items_db:
        raise HTTPException(status_code=404, detail="Item not found")
    return {"name": fake_items_db[item_id]["name"], "item_id": item_id}


@router.put("/{item_id}")
async def update_item(item_id: str):
    return {"item_id": item_id, "name": "The great Plumbus"}


async def item_events(item_id: str):
    for n in range(3):
        yield f"event: update\ndata: {item_id} {n}\n\n"
        await asyncio.sleep(0.05)


@router.get("/{item_id}/events")
async def stream_item_events(item_id: str):
    return StreamingResponse(item_events(item_id), media_type="text/event-stream")
