"""The Python reference for bench/http.sh: the user and inventory read endpoints as the design the
services were specified from would write them - FastAPI on uvicorn, async handlers, one SQLite
connection per worker process, one real SQLite read per request, the same JSON shape as the C++
services (api/user.yaml, api/inventory.yaml) and their error shape for an unknown id.

Run (what bench/http.sh does, with Debian's interpreter and packages):
    MERCATO_FASTAPI_DB=/tmp/x.db /usr/bin/python3 -m uvicorn app:app --app-dir bench/fastapi \
        --host 127.0.0.1 --port 8000 --workers 1 --no-access-log --loop asyncio --http h11
Seed the database first (creates the tables, inserts or replaces one record given as JSON):
    /usr/bin/python3 bench/fastapi/app.py seed /tmp/x.db users '{"id": "...", "email": ...}'
    /usr/bin/python3 bench/fastapi/app.py seed /tmp/x.db inventory '{"product_id": "mug", ...}'
"""

import json
import os
import sqlite3
import sys

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS products (
  product_id TEXT PRIMARY KEY, name TEXT NOT NULL, price_cents INTEGER NOT NULL,
  available INTEGER NOT NULL, reserved INTEGER NOT NULL, sold INTEGER NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
"""
USER_FIELDS = ("id", "email", "name", "created_at", "updated_at")
PRODUCT_FIELDS = ("product_id", "name", "price_cents", "available", "reserved", "sold",
                  "created_at", "updated_at")


def seed(path, kind, record_json):
    record = json.loads(record_json)
    table, fields = {"users": ("users", USER_FIELDS),
                     "inventory": ("products", PRODUCT_FIELDS)}[kind]
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.execute(f"INSERT OR REPLACE INTO {table} ({', '.join(fields)}) "
                   f"VALUES ({', '.join('?' for _ in fields)})",
                   [record[f] for f in fields])


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "seed":
        sys.exit("usage: app.py seed DB users|inventory JSON")
    seed(*sys.argv[2:])
    sys.exit(0)

from fastapi import FastAPI  # noqa: E402  (seeding needs only the standard library)
from fastapi.responses import JSONResponse  # noqa: E402

app = FastAPI()
# One connection per worker process, opened when the worker imports the app; the async handlers run
# on the thread that imported it (the event loop's), so the connection stays on one thread.
db = sqlite3.connect(os.environ.get("MERCATO_FASTAPI_DB", "bench.db"))
db.executescript(SCHEMA)


def not_found(what):
    return JSONResponse(status_code=404, content={"error": {
        "code": "not_found", "message": f"{what} not found", "request_id": ""}})


@app.get("/users/{user_id}")
async def get_user(user_id: str):
    row = db.execute("SELECT id, email, name, created_at, updated_at FROM users WHERE id = ?",
                     (user_id,)).fetchone()
    if row is None:
        return not_found("user")
    return dict(zip(USER_FIELDS, row))


@app.get("/inventory/{product_id}")
async def get_product(product_id: str):
    row = db.execute("SELECT product_id, name, price_cents, available, reserved, sold, created_at, "
                     "updated_at FROM products WHERE product_id = ?", (product_id,)).fetchone()
    if row is None:
        return not_found("product")
    return dict(zip(PRODUCT_FIELDS, row))


@app.get("/health/ready")
async def ready():
    db.execute("SELECT 1").fetchone()
    return {"status": "ready", "checks": {"database": "ok"}}
