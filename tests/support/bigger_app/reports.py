"""A sub-application mounted at /reports, with its own router."""

from fastapi import APIRouter, FastAPI

router = APIRouter(prefix="/monthly")


@router.get("/{month}")
async def monthly(month: int):
    return {"month": month}


reports = FastAPI()
reports.include_router(router)
