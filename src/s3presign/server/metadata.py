"""Every SQL statement of the storage layer, over a thin dialect layer.

The same schema and queries run on SQLite (stdlib ``sqlite3``, WAL: the
embedded default) and PostgreSQL (psycopg 3: several stateless instances over
one database). A dialect only supplies placeholders, column types, how a write
transaction starts and how rows are locked; the SQL itself is portable (upserts
are ``INSERT ... ON CONFLICT ... DO UPDATE``, which both accept).

Keys are rows, never paths. Keys compare as bytes (S3 lists in UTF-8 binary
order): SQLite's default BINARY collation does that, PostgreSQL needs
``COLLATE "C"`` on the key columns. Listing is always an index range scan
(keyset paging), so a page costs the same whatever the bucket's size.

``versions.latest`` is 1 for a key's current version, 2 when its current
version is a delete marker, 0 for older versions: ListObjects reads only the
(bucket, latest=1, key) range of one index.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

SCHEMA_VERSION = "2"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS s3p_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, created DOUBLE PRECISION NOT NULL,"
    " region TEXT NOT NULL, versioning TEXT NOT NULL, config TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS versions (id {serial}, bucket TEXT NOT NULL, okey TEXT {binary} NOT NULL,"
    " version_id TEXT NOT NULL, latest SMALLINT NOT NULL, record TEXT NOT NULL, mac TEXT NOT NULL,"
    " blobs TEXT NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS versions_by_id ON versions (bucket, okey, version_id)",
    "CREATE INDEX IF NOT EXISTS versions_by_age ON versions (bucket, okey, id)",
    "CREATE INDEX IF NOT EXISTS versions_current ON versions (bucket, latest, okey)",
    "CREATE TABLE IF NOT EXISTS uploads (upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL,"
    " okey TEXT {binary} NOT NULL, initiated DOUBLE PRECISION NOT NULL, state SMALLINT NOT NULL,"
    " record TEXT NOT NULL, mac TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, state, okey, initiated, upload_id)",
    "CREATE TABLE IF NOT EXISTS parts (upload_id TEXT NOT NULL, number INTEGER NOT NULL,"
    " record TEXT NOT NULL, mac TEXT NOT NULL, blobs TEXT NOT NULL, PRIMARY KEY (upload_id, number))",
)

Row = Sequence[Any]

# Forks of this process so far: a connection opened before a fork is not the child's.
_forks = [0]
os.register_at_fork(after_in_child=lambda: _forks.__setitem__(0, _forks[0] + 1))


class MetadataUnavailable(OSError):
    """The metadata database cannot be reached now (restart, network): the server
    answers S3's 503 and the next call opens a new connection."""


class Dialect:
    """What differs between databases; the statements are shared."""

    serial = "INTEGER PRIMARY KEY"
    binary = ""
    begin = "BEGIN IMMEDIATE"  # SQLite: take the write lock now, not at the first write
    for_update = ""
    inline_reads = True  # reads are local and short: fine on the event loop
    transient: tuple[type[BaseException], ...] = ()  # errors that mean "the database is away"
    schema_lock = ""  # taken before creating the schema, so instances starting at once do not race

    def sql(self, statement: str) -> str:
        return statement

    def connect(self) -> Any:
        raise NotImplementedError

    def watcher(self) -> Any:
        """A connection that only reads, for :meth:`Metadata.data_version`; None when
        the database has no cheap way to say it changed (nothing read may then be kept)."""
        return None


class SQLite(Dialect):
    def __init__(self, path: Path | str, *, memory: bool = False) -> None:
        self.path = str(path)
        self.memory = memory
        self._keep: sqlite3.Connection | None = None
        if memory:  # a shared in-memory database lives while one connection is open
            self._keep = self.connect()

    def connect(self) -> sqlite3.Connection:
        if self.memory:
            conn = sqlite3.connect(f"file:{self.path}?mode=memory&cache=shared", uri=True,
                                   isolation_level=None, check_same_thread=False, timeout=30)
        else:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a 200 means the version survives a power cut, not only a kill -9
            conn.execute("PRAGMA synchronous=FULL")
        return conn

    def watcher(self) -> sqlite3.Connection | None:
        # A shared in-memory cache has one pager for all its connections: data_version
        # would not see their commits there.
        if self.memory:
            return None
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA query_only=1")  # it never writes: every commit is another connection's
        return conn


class PostgreSQL(Dialect):
    serial = "BIGSERIAL PRIMARY KEY"
    binary = 'COLLATE "C"'
    begin = "BEGIN"
    for_update = " FOR UPDATE"
    # CREATE TABLE IF NOT EXISTS is not safe against a concurrent one on PostgreSQL
    schema_lock = "SELECT pg_advisory_xact_lock(7358112533)"
    inline_reads = False  # a network round trip: off the event loop

    def __init__(self, conninfo: str) -> None:
        import psycopg

        self.conninfo = conninfo
        self.transient = (psycopg.OperationalError, psycopg.InterfaceError)

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def connect(self) -> Any:
        import psycopg

        # a database that is away must fail a request in seconds (503), not hang it
        extra = {} if "connect_timeout" in self.conninfo else {"connect_timeout": 5}
        try:
            return psycopg.connect(self.conninfo, autocommit=True, **extra)
        except self.transient as exc:
            raise MetadataUnavailable(f"metadata database unreachable: {exc}".strip()) from None


class Metadata:
    """Thread-safe access to the metadata database: one connection per thread."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._local = threading.local()
        self._write_lock = threading.Lock()  # one writer per process; the database orders processes
        self._cache: dict[str, str] = {}
        with self.tx() as t:
            if dialect.schema_lock:
                self._exec(t, dialect.schema_lock)
            for statement in _SCHEMA:
                self._exec(t, statement.format(serial=dialect.serial, binary=dialect.binary))
            self._exec(t, "INSERT INTO s3p_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                       ("schema", SCHEMA_VERSION))

    # --- plumbing ----------------------------------------------------------------------
    def _conn(self) -> Any:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or local.forks != _forks[0]:  # never a connection across fork()
            conn = local.conn = self.dialect.connect()
            local.forks = _forks[0]
        return conn

    def _exec(self, conn: Any, statement: str, params: Sequence[Any] = ()) -> Any:
        sql = self._cache.get(statement)
        if sql is None:
            sql = self._cache[statement] = self.dialect.sql(statement)
        return conn.execute(sql, params)

    def _lost(self, exc: BaseException) -> MetadataUnavailable:
        """Forget this thread's connection (the next call reconnects) and say why."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        return MetadataUnavailable(f"metadata database connection lost: {exc}".strip())

    def _read(self, statement: str, params: Sequence[Any], one: bool) -> Any:
        # A read is idempotent: after a lost connection it is tried once more on a new one.
        for attempt in (0, 1):
            try:
                cur = self._exec(self._conn(), statement, params)
                return cur.fetchone() if one else cur.fetchall()
            except self.dialect.transient as exc:
                lost = self._lost(exc)
                if attempt:
                    raise lost from None

    def _all(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        if not self.dialect.transient:
            return self._exec(self._conn(), statement, params).fetchall()
        return self._read(statement, params, False)

    def _one(self, statement: str, params: Sequence[Any] = ()) -> Row | None:
        if not self.dialect.transient:
            return self._exec(self._conn(), statement, params).fetchone()
        return self._read(statement, params, True)

    @contextlib.contextmanager
    def tx(self) -> Iterator[Any]:
        """One write transaction: everything in it becomes visible at once, or nothing.
        A lost connection raises MetadataUnavailable (the transaction did not commit,
        or its COMMIT's answer was lost: the caller's blobs stay, and GC removes them
        only if no record references them)."""
        transient = self.dialect.transient
        with self._write_lock:
            try:
                conn = self._conn()
                conn.execute(self.dialect.begin)
            except transient as exc:
                raise self._lost(exc) from None
            try:
                yield conn
            except transient as exc:
                raise self._lost(exc) from None
            except BaseException:
                try:
                    conn.execute("ROLLBACK")
                except transient as exc:
                    self._lost(exc)
                raise
            try:
                conn.execute("COMMIT")
            except transient as exc:
                raise self._lost(exc) from None

    def lease(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew the lease ``name`` for ``ttl`` seconds; False while another
        holder's lease runs. The row lock orders instances that ask at once."""
        import time

        now = time.time()
        with self.tx() as t:
            self._exec(t, "INSERT INTO s3p_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                       (name, "- 0"))
            row = self._exec(t, "SELECT value FROM s3p_meta WHERE name = ?" + self.dialect.for_update,
                             (name,)).fetchone()
            current, _, until = row[0].partition(" ")
            if current != holder and float(until or 0) > now:
                return False
            self.set(t, name, f"{holder} {now + ttl}")
            return True

    def value(self, t: Any, name: str, lock: bool = False, default: str | None = None) -> str | None:
        """A row of s3p_meta inside a transaction (locked until it ends, if asked);
        with ``default``, the row is created with that value when absent."""
        if default is not None:
            self._exec(t, "INSERT INTO s3p_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                       (name, default))
        statement = "SELECT value FROM s3p_meta WHERE name = ?" + (self.dialect.for_update if lock else "")
        row = self._exec(t, statement, (name,)).fetchone()
        return row[0] if row else None

    def data_version(self) -> Any:
        """A value equal to an earlier one of the same thread only if no connection of
        any process has committed in between (None: the database cannot tell cheaply).
        Taken BEFORE the reads it vouches for, a cache of them keyed by it is never stale.
        SQLite's data_version ignores its own connection's commits: this one never writes."""
        local = self._local
        watcher = getattr(local, "watcher", None)
        if watcher is None or local.watcher_forks != _forks[0]:  # never a connection across fork()
            watcher = local.watcher = self.dialect.watcher()
            local.watcher_forks = _forks[0]
            if watcher is None:
                self.data_version = lambda: None  # type: ignore[method-assign]
                return None
        return watcher, watcher.execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        watcher = getattr(self._local, "watcher", None)
        if watcher is not None:
            watcher.close()
            self._local.watcher = None

    def get(self, name: str) -> str | None:
        row = self._one("SELECT value FROM s3p_meta WHERE name = ?", (name,))
        return row[0] if row else None

    def set(self, t: Any, name: str, value: str) -> None:
        self._exec(t, "INSERT INTO s3p_meta (name, value) VALUES (?, ?)"
                      " ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value))

    # --- buckets -----------------------------------------------------------------------
    _BUCKET = "SELECT name, created, region, versioning, config FROM buckets"

    def buckets(self) -> list[Row]:
        return self._all(self._BUCKET + " ORDER BY name")

    def bucket(self, name: str, t: Any = None) -> Row | None:
        if t is None:
            return self._one(self._BUCKET + " WHERE name = ?", (name,))
        return self._exec(t, self._BUCKET + " WHERE name = ?" + self.dialect.for_update, (name,)).fetchone()

    def insert_bucket(self, t: Any, name: str, created: float, region: str, config: str = "{}") -> bool:
        cur = self._exec(t, "INSERT INTO buckets (name, created, region, versioning, config) VALUES (?, ?, ?, '', ?)"
                            " ON CONFLICT (name) DO NOTHING", (name, created, region, config))
        return cur.rowcount == 1

    def update_bucket(self, t: Any, name: str, versioning: str, config: str) -> None:
        self._exec(t, "UPDATE buckets SET versioning = ?, config = ? WHERE name = ?", (versioning, config, name))

    def bucket_has_versions(self, t: Any, name: str) -> bool:
        return self._exec(t, "SELECT 1 FROM versions WHERE bucket = ? LIMIT 1", (name,)).fetchone() is not None

    def delete_bucket(self, t: Any, name: str) -> list[str]:
        """Drop the bucket and its uploads; the blob names of the uploads' parts."""
        blobs = [r[0] for r in self._exec(
            t, "SELECT p.blobs FROM parts p JOIN uploads u ON u.upload_id = p.upload_id WHERE u.bucket = ?",
            (name,)).fetchall()]
        self._exec(t, "DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = ?)", (name,))
        self._exec(t, "DELETE FROM uploads WHERE bucket = ?", (name,))
        self._exec(t, "DELETE FROM buckets WHERE name = ?", (name,))
        return blobs

    # --- versions ----------------------------------------------------------------------
    _VERSION = "SELECT id, okey, version_id, latest, record, mac, blobs FROM versions"

    # ... and, for a read, the bucket's versioning state (S3 names the null version in
    # the answer once a bucket has had versioning): one statement, one round trip
    _READ_VERSION = ("SELECT id, okey, version_id, latest, record, mac, blobs,"
                     " (SELECT versioning FROM buckets WHERE name = ?) FROM versions")

    def current(self, bucket: str, key: str, t: Any = None) -> Row | None:
        """The key's current version row (outside a transaction, plus the bucket's
        versioning state as an 8th column)."""
        # IN, not "> 0": an equality on latest lets the index seek (bucket, latest, okey)
        where = " WHERE bucket = ? AND okey = ? AND latest IN (1, 2) LIMIT 1"
        if t is None:
            return self._one(self._READ_VERSION + where, (bucket, bucket, key))
        return self._exec(t, self._VERSION + where, (bucket, key)).fetchone()

    def bucket_and_current(self, bucket: str, key: str) -> Row | None:
        """The bucket's row and the key's current version (NULLs if none, or if it is a
        delete marker), in one read: a GET's bucket settings and object come from the
        same snapshot. One index seek (latest = 1): IN (1, 2) would build a temporary
        table per statement."""
        return self._one(
            "SELECT b.name, b.created, b.region, b.versioning, b.config,"
            " v.id, v.okey, v.version_id, v.latest, v.record, v.mac, v.blobs FROM buckets b"
            " LEFT JOIN versions v ON v.bucket = b.name AND v.okey = ? AND v.latest = 1"
            " WHERE b.name = ? LIMIT 1", (key, bucket))

    def version(self, bucket: str, key: str, version_id: str, t: Any = None) -> Row | None:
        """One version's row (outside a transaction, plus the bucket's versioning state)."""
        if t is None:
            return self._one(self._READ_VERSION + " WHERE bucket = ? AND okey = ? AND version_id = ?",
                             (bucket, bucket, key, version_id))
        return self._exec(t, self._VERSION + " WHERE bucket = ? AND okey = ? AND version_id = ?",
                          (bucket, key, version_id)).fetchone()

    def insert_version(self, t: Any, bucket: str, key: str, version_id: str, marker: bool,
                       record: str, mac: str, blobs: str) -> None:
        """The new current version of the key (the previous one becomes older)."""
        self._exec(t, "UPDATE versions SET latest = 0 WHERE bucket = ? AND okey = ? AND latest IN (1, 2)", (bucket, key))
        self._exec(t, "INSERT INTO versions (bucket, okey, version_id, latest, record, mac, blobs)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?)", (bucket, key, version_id, 2 if marker else 1, record, mac, blobs))

    def update_record(self, t: Any, row_id: int, record: str, mac: str) -> None:
        """Replace one version's sealed record (its blobs and place among versions unchanged)."""
        self._exec(t, "UPDATE versions SET record = ?, mac = ? WHERE id = ?", (record, mac, row_id))

    def delete_version(self, t: Any, row_id: int) -> None:
        self._exec(t, "DELETE FROM versions WHERE id = ?", (row_id,))

    def promote_newest(self, t: Any, bucket: str, key: str) -> None:
        """After the current version was removed: the newest remaining one is current."""
        row = self._exec(t, "SELECT id, record FROM versions WHERE bucket = ? AND okey = ? ORDER BY id DESC LIMIT 1",
                         (bucket, key)).fetchone()
        if row is not None:
            marker = '"delete_marker":true' in row[1]
            self._exec(t, "UPDATE versions SET latest = ? WHERE id = ?", (2 if marker else 1, row[0]))

    # what a listing reads of a row: no blob list (the record's MAC covers its own)
    _LISTED = "SELECT id, okey, version_id, latest, record, mac FROM versions"

    def list_current(self, bucket: str, after: str, upper: str | None, limit: int,
                     inclusive: bool = False) -> list[Row]:
        """Current (not deleted) versions with after < key < upper, in key order:
        one range of the (bucket, latest, okey) index."""
        op = ">=" if inclusive else ">"
        if upper is None:
            return self._all(self._LISTED + f" WHERE bucket = ? AND latest = 1 AND okey {op} ? ORDER BY okey LIMIT ?",
                             (bucket, after, limit))
        return self._all(self._LISTED + f" WHERE bucket = ? AND latest = 1 AND okey {op} ? AND okey < ?"
                                        " ORDER BY okey LIMIT ?", (bucket, after, upper, limit))

    def list_versions(self, bucket: str, key: str, below_id: int | None, upper: str | None, limit: int,
                      inclusive: bool = False) -> list[Row]:
        """Every version from (key, below_id) on: key ascending, newest first within a key."""
        bound = " AND okey < ?" if upper is not None else ""
        extra: tuple = (upper,) if upper is not None else ()
        if below_id is None:
            op = ">=" if inclusive else ">"
            return self._all(self._LISTED + f" WHERE bucket = ? AND okey {op} ?{bound} ORDER BY okey, id DESC LIMIT ?",
                             (bucket, key, *extra, limit))
        return self._all(
            self._LISTED + f" WHERE bucket = ? AND ((okey = ? AND id < ?) OR okey > ?){bound}"
                           " ORDER BY okey, id DESC LIMIT ?", (bucket, key, below_id, key, *extra, limit))

    def all_version_blobs(self) -> Iterator[str]:
        cur = self._exec(self._conn(), "SELECT blobs FROM versions")
        while rows := cur.fetchmany(10000):
            for (blobs,) in rows:
                yield from blobs.split()

    def all_part_blobs(self) -> Iterator[str]:
        cur = self._exec(self._conn(), "SELECT blobs FROM parts")
        while rows := cur.fetchmany(10000):
            for (blobs,) in rows:
                yield from blobs.split()

    # --- multipart uploads -------------------------------------------------------------
    _UPLOAD = "SELECT upload_id, okey, initiated, state, record, mac FROM uploads"

    def insert_upload(self, t: Any, upload_id: str, bucket: str, key: str, initiated: float,
                      record: str, mac: str) -> None:
        self._exec(t, "INSERT INTO uploads (upload_id, bucket, okey, initiated, state, record, mac)"
                      " VALUES (?, ?, ?, ?, 0, ?, ?)", (upload_id, bucket, key, initiated, record, mac))

    def upload(self, bucket: str, upload_id: str, t: Any = None) -> Row | None:
        sql = self._UPLOAD + " WHERE upload_id = ? AND bucket = ?"
        if t is None:
            return self._one(sql, (upload_id, bucket))
        return self._exec(t, sql + self.dialect.for_update, (upload_id, bucket)).fetchone()

    def finish_upload(self, t: Any, upload_id: str, record: str, mac: str) -> None:
        self._exec(t, "UPDATE uploads SET state = 1, record = ?, mac = ? WHERE upload_id = ?", (record, mac, upload_id))

    def delete_parts(self, t: Any, upload_id: str) -> None:
        self._exec(t, "DELETE FROM parts WHERE upload_id = ?", (upload_id,))

    def delete_upload(self, t: Any, upload_id: str) -> None:
        self._exec(t, "DELETE FROM parts WHERE upload_id = ?", (upload_id,))
        self._exec(t, "DELETE FROM uploads WHERE upload_id = ?", (upload_id,))

    def forget_finished_uploads(self, t: Any, before: float) -> None:
        self._exec(t, "DELETE FROM uploads WHERE state = 1 AND initiated < ?", (before,))

    def list_uploads(self, bucket: str, after_key: str, upper: str | None, limit: int) -> list[Row]:
        """Uploads in progress with key >= after_key (and < upper), by key then initiation."""
        bound = " AND okey < ?" if upper is not None else ""
        extra: tuple = (upper,) if upper is not None else ()
        return self._all(self._UPLOAD + f" WHERE bucket = ? AND state = 0 AND okey >= ?{bound}"
                                        " ORDER BY okey, initiated, upload_id LIMIT ?", (bucket, after_key, *extra, limit))

    def part(self, t: Any, upload_id: str, number: int) -> Row | None:
        return self._exec(t, "SELECT number, record, mac, blobs FROM parts WHERE upload_id = ? AND number = ?",
                          (upload_id, number)).fetchone()

    def upsert_part(self, t: Any, upload_id: str, number: int, record: str, mac: str, blobs: str) -> None:
        self._exec(t, "INSERT INTO parts (upload_id, number, record, mac, blobs) VALUES (?, ?, ?, ?, ?)"
                      " ON CONFLICT (upload_id, number) DO UPDATE SET record = excluded.record,"
                      " mac = excluded.mac, blobs = excluded.blobs", (upload_id, number, record, mac, blobs))

    def parts(self, upload_id: str, after: int = 0, limit: int = 10001, t: Any = None) -> list[Row]:
        sql = "SELECT number, record, mac, blobs FROM parts WHERE upload_id = ? AND number > ? ORDER BY number LIMIT ?"
        if t is None:
            return self._all(sql, (upload_id, after, limit))
        return self._exec(t, sql, (upload_id, after, limit)).fetchall()

    # --- bulk load (migration, benchmarks) --------------------------------------------------
    def load_versions(self, t: Any, rows: Sequence[tuple]) -> None:
        """(bucket, key, version_id, latest, record, mac, blobs) rows, inserted as given."""
        sql = self.dialect.sql("INSERT INTO versions (bucket, okey, version_id, latest, record, mac, blobs)"
                               " VALUES (?, ?, ?, ?, ?, ?, ?)")
        if hasattr(t, "executemany"):
            t.executemany(sql, rows)
        else:
            with t.cursor() as cur:
                cur.executemany(sql, rows)
