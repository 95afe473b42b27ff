"""The FastAPI application; serve it with an ASGI server, e.g. ``uvicorn app.main:app``."""

from fastapi import FastAPI

from app.api.routes import items, users, utils

app = FastAPI(title="Items example")
app.include_router(users.router)
app.include_router(items.router)
app.include_router(utils.router)
