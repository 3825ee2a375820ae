"""The seed's own stack, as the benchmark's peer: FastAPI on uvicorn, one worker.

The same two endpoints as keeper-server, the way the seed's backend (seed 004) shaped them:

- ``POST /api/v1/session`` (JSON body) -> 201 ``{session_id, state, created_at, expires_at,
  ttl_seconds}``
- ``POST /api/v1/session/{session_id}/heartbeat`` -> 200 ``{session_id, state, expires_at,
  ttl_seconds, server_time}``, the expiry moved to now + 20 minutes (a sliding TTL); 404 for an
  unknown or expired session

Sessions live in an in-memory dict. In front of every route sits the seed's Content-Type
middleware: an ``@app.middleware("http")`` function that answers 415
``ERR_INVALID_CONTENT_TYPE`` to any POST, PUT or PATCH whose Content-Type does not start with
``application/json``.

Run it as the benchmark does::

    bench/.venv/bin/python bench/peers/fastapi_server.py --port 8091

which is ``uvicorn.run(app, workers=1, loop="uvloop", http="httptools", access_log=False)``.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import datetime, timezone

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

TTL_SECONDS = 20 * 60

app = FastAPI(title="seed-004 session peer")

# session id -> expiry, epoch seconds
sessions: dict[str, float] = {}


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")


@app.middleware("http")
async def require_json_content_type(request: Request, call_next):
    """The seed's rule: a POST, PUT or PATCH must declare a JSON body, or it is refused."""
    if request.method in ("POST", "PUT", "PATCH"):
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/json"):
            return JSONResponse(
                status_code=415,
                content={
                    "error": {
                        "code": "ERR_INVALID_CONTENT_TYPE",
                        "message": "Content-Type must be application/json for API endpoints",
                    }
                },
            )
    return await call_next(request)


def not_found() -> JSONResponse:
    return JSONResponse(
        status_code=404,
        content={"error": {"code": "ERR_SESSION_NOT_FOUND", "message": "no such session"}},
    )


@app.post("/api/v1/session", status_code=201)
async def create_session(body: dict) -> dict:
    now = time.time()
    session_id = str(uuid.uuid4())
    sessions[session_id] = now + TTL_SECONDS
    return {
        "session_id": session_id,
        "state": "active",
        "created_at": iso(now),
        "expires_at": iso(now + TTL_SECONDS),
        "ttl_seconds": float(TTL_SECONDS),
    }


@app.post("/api/v1/session/{session_id}/heartbeat")
async def heartbeat(session_id: str, body: dict):
    now = time.time()
    expires_at = sessions.get(session_id)
    if expires_at is None or expires_at <= now:
        sessions.pop(session_id, None)
        return not_found()
    expires_at = now + TTL_SECONDS
    sessions[session_id] = expires_at
    return {
        "session_id": session_id,
        "state": "active",
        "expires_at": iso(expires_at),
        "ttl_seconds": float(TTL_SECONDS),
        "server_time": iso(now),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        workers=1,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
