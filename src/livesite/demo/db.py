"""The shop's shared state: ONE SQLite file (WAL) that every instance of every zone opens.

Calls are blocking; the shop runs them with `asyncio.to_thread`. Each call opens its own connection, which keeps
threads apart and costs microseconds.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel

_SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY, slug TEXT UNIQUE NOT NULL, name TEXT NOT NULL,
    description TEXT NOT NULL, price_cents INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL, salt TEXT NOT NULL, password_hash TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    token TEXT PRIMARY KEY, refresh_token TEXT UNIQUE NOT NULL, user_id INTEGER NOT NULL,
    expires_at REAL NOT NULL, refresh_expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS cart_items (
    user_id INTEGER NOT NULL, product_id INTEGER NOT NULL, quantity INTEGER NOT NULL,
    PRIMARY KEY (user_id, product_id));
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, items TEXT NOT NULL, total_cents INTEGER NOT NULL,
    payment_id TEXT NOT NULL, created_at REAL NOT NULL, instance TEXT NOT NULL, revision TEXT NOT NULL);
"""

_CATALOG = [
    ("trail-shoes", "Trail shoes", "Grippy shoes for muddy mornings.", 8900),
    ("rain-jacket", "Rain jacket", "Stays dry through a canary rollout.", 12900),
    ("water-bottle", "Water bottle", "Keeps coffee warm during an incident.", 1900),
    ("headlamp", "Headlamp", "For debugging at 3 a.m.", 3400),
    ("backpack", "Backpack", "Room for a pager and a laptop.", 7400),
    ("socks", "Wool socks", "Three pairs. Chaos-tested.", 1500),
]


class Product(BaseModel):
    id: int
    slug: str
    name: str
    description: str
    price_cents: int


class Session(BaseModel):
    token: str
    refresh_token: str
    user_id: int
    expires_at: float
    refresh_expires_at: float


class CartLine(BaseModel):
    product: Product
    quantity: int


class Order(BaseModel):
    id: int
    user_id: int
    total_cents: int
    payment_id: str
    instance: str
    revision: str


def _hash(password: str, salt: str) -> str:
    # a demo needs a real hash, not a strong one: few iterations keep logins cheap under load
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 1000).hex()


class ShopDb:
    """Typed queries over the shop's SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            yield conn
        finally:
            conn.close()

    def create(self) -> None:
        """Create the schema and the catalog (idempotent)."""
        with self._conn() as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(_SCHEMA)
            conn.executemany(
                "INSERT OR IGNORE INTO products (slug, name, description, price_cents) VALUES (?, ?, ?, ?)",
                _CATALOG,
            )

    def products(self) -> list[Product]:
        with self._conn() as conn:
            rows = conn.execute("SELECT id, slug, name, description, price_cents FROM products ORDER BY id")
            return [Product(id=r[0], slug=r[1], name=r[2], description=r[3], price_cents=r[4]) for r in rows]

    def product(self, product_id: int) -> Product | None:
        with self._conn() as conn:
            r = conn.execute(
                "SELECT id, slug, name, description, price_cents FROM products WHERE id = ?", (product_id,)
            ).fetchone()
        return (
            None if r is None else Product(id=r[0], slug=r[1], name=r[2], description=r[3], price_cents=r[4])
        )

    def set_price(self, product_id: int, price_cents: int) -> bool:
        with self._conn() as conn:
            cur = conn.execute("UPDATE products SET price_cents = ? WHERE id = ?", (price_cents, product_id))
            return cur.rowcount == 1

    def register(self, email: str, password: str, now: float) -> int | None:
        """Create a user; None when the email is taken."""
        salt = secrets.token_hex(8)
        with self._conn() as conn:
            try:
                cur = conn.execute(
                    "INSERT INTO users (email, salt, password_hash, created_at) VALUES (?, ?, ?, ?)",
                    (email, salt, _hash(password, salt), now),
                )
            except sqlite3.IntegrityError:
                return None
            return int(cur.lastrowid or 0)

    def check_password(self, email: str, password: str) -> int | None:
        """The user id when the password matches, else None."""
        with self._conn() as conn:
            r = conn.execute("SELECT id, salt, password_hash FROM users WHERE email = ?", (email,)).fetchone()
        if r is None or not secrets.compare_digest(_hash(password, r[1]), r[2]):
            return None
        return int(r[0])

    def email(self, user_id: int) -> str | None:
        with self._conn() as conn:
            r = conn.execute("SELECT email FROM users WHERE id = ?", (user_id,)).fetchone()
        return None if r is None else str(r[0])

    def open_session(
        self, user_id: int, now: float, ttl_seconds: float, refresh_ttl_seconds: float
    ) -> Session:
        session = Session(
            token=secrets.token_urlsafe(24),
            refresh_token=secrets.token_urlsafe(24),
            user_id=user_id,
            expires_at=now + ttl_seconds,
            refresh_expires_at=now + refresh_ttl_seconds,
        )
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                (
                    session.token,
                    session.refresh_token,
                    user_id,
                    session.expires_at,
                    session.refresh_expires_at,
                ),
            )
        return session

    def session(self, token: str) -> Session | None:
        with self._conn() as conn:
            r = conn.execute(
                "SELECT token, refresh_token, user_id, expires_at, refresh_expires_at FROM sessions "
                "WHERE token = ?",
                (token,),
            ).fetchone()
        return (
            None
            if r is None
            else Session(
                token=r[0], refresh_token=r[1], user_id=r[2], expires_at=r[3], refresh_expires_at=r[4]
            )
        )

    def refresh(
        self, refresh_token: str, now: float, ttl_seconds: float, refresh_ttl: float
    ) -> Session | None:
        """Swap a valid refresh token for a new session (the old one ends)."""
        with self._conn() as conn:
            r = conn.execute(
                "DELETE FROM sessions WHERE refresh_token = ? AND refresh_expires_at > ? RETURNING user_id",
                (refresh_token, now),
            ).fetchone()
        return None if r is None else self.open_session(int(r[0]), now, ttl_seconds, refresh_ttl)

    def close_session(self, token: str) -> bool:
        with self._conn() as conn:
            return conn.execute("DELETE FROM sessions WHERE token = ?", (token,)).rowcount == 1

    def add_to_cart(self, user_id: int, product_id: int, quantity: int) -> None:
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO cart_items VALUES (?, ?, ?) ON CONFLICT (user_id, product_id) "
                "DO UPDATE SET quantity = quantity + excluded.quantity",
                (user_id, product_id, quantity),
            )

    def cart(self, user_id: int) -> list[CartLine]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT p.id, p.slug, p.name, p.description, p.price_cents, c.quantity FROM cart_items c "
                "JOIN products p ON p.id = c.product_id WHERE c.user_id = ? ORDER BY p.id",
                (user_id,),
            ).fetchall()
        return [
            CartLine(
                product=Product(id=r[0], slug=r[1], name=r[2], description=r[3], price_cents=r[4]),
                quantity=r[5],
            )
            for r in rows
        ]

    def place_order(
        self, user_id: int, lines: list[CartLine], payment_id: str, now: float, instance: str, revision: str
    ) -> Order:
        """Record the order and empty the cart in one transaction."""
        total = sum(line.product.price_cents * line.quantity for line in lines)
        items = json.dumps([{"product_id": line.product.id, "quantity": line.quantity} for line in lines])
        with self._conn() as conn:
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.execute(
                "INSERT INTO orders (user_id, items, total_cents, payment_id, created_at, instance, revision) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (user_id, items, total, payment_id, now, instance, revision),
            )
            conn.execute("DELETE FROM cart_items WHERE user_id = ?", (user_id,))
            conn.execute("COMMIT")
        return Order(
            id=int(cur.lastrowid or 0),
            user_id=user_id,
            total_cents=total,
            payment_id=payment_id,
            instance=instance,
            revision=revision,
        )

    def orders(self, user_id: int) -> list[Order]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT id, user_id, total_cents, payment_id, instance, revision FROM orders WHERE user_id = ? "
                "ORDER BY id",
                (user_id,),
            ).fetchall()
        return [
            Order(id=r[0], user_id=r[1], total_cents=r[2], payment_id=r[3], instance=r[4], revision=r[5])
            for r in rows
        ]
