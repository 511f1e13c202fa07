from fastapi import Depends, FastAPI

from .dependencies import get_token_header
from .internal import admin
from .reports import reports
from .routers import items, nodes, users

app = FastAPI()

app.include_router(users.router)
app.include_router(items.router)
app.include_router(nodes.v1)
app.include_router(
    admin.router,
    prefix="/admin",
    tags=["admin"],
    dependencies=[Depends(get_token_header)],
    responses={418: {"description": "I'm a teapot"}},
)
app.mount("/reports", reports)


@app.get("/")
async def root():
    return {"message": "Hello Bigger Applications!"}
