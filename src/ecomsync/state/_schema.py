"""
The schema of the built-in stores and its migrations: append-only lists
of steps, one per backend, and the version check both share.
"""

from __future__ import annotations


__all__ = [
    "POSTGRES_MIGRATIONS",
    "SQLITE_MIGRATIONS",
    "NewerSchemaError",
    "pending_steps",
]

#: SQLite's schema, step by step; never edit a released step, append one.
#: Each step is a list of statements, applied in one transaction together
#: with its version number (``meta.schema``).  Step 1 is written with
#: ``IF NOT EXISTS`` so that files from before versioning are adopted.
SQLITE_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS links (
            platform TEXT, data_type TEXT, number TEXT, platform_id TEXT,
            checksum TEXT, PRIMARY KEY (platform, data_type, number))""",
        """CREATE TABLE IF NOT EXISTS media (
            platform TEXT, sha256 TEXT, media_id TEXT,
            PRIMARY KEY (platform, sha256))""",
        """CREATE TABLE IF NOT EXISTS pending (
            sha256 TEXT PRIMARY KEY, size INTEGER, registered_at TEXT,
            meta TEXT)""",
        """CREATE TABLE IF NOT EXISTS runs (
            id TEXT PRIMARY KEY, started_at TEXT, status TEXT, body TEXT,
            cancel INTEGER DEFAULT 0)""",
        "CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at)",
        """CREATE TABLE IF NOT EXISTS watermarks (
            platform TEXT, data_type TEXT, moment TEXT,
            PRIMARY KEY (platform, data_type))""",
        """CREATE TABLE IF NOT EXISTS failures (
            platform TEXT, data_type TEXT, number TEXT, message TEXT,
            field TEXT, run_id TEXT,
            PRIMARY KEY (platform, data_type, number))""",
        """CREATE TABLE IF NOT EXISTS schedules (
            id TEXT PRIMARY KEY, spec TEXT, interval REAL, next_due TEXT,
            holder TEXT, claimed_until TEXT, due_utc TEXT)""",
    ),
    # 2: the PostgreSQL store's column names, so both share every
    # statement: a moment column sorts in UTC, its "_text" twin keeps the
    # value as given.
    (
        "ALTER TABLE schedules RENAME COLUMN interval TO interval_s",
        "ALTER TABLE schedules RENAME COLUMN next_due TO next_due_text",
        "ALTER TABLE schedules RENAME COLUMN due_utc TO next_due",
        "ALTER TABLE pending ADD COLUMN registered_text TEXT",
        "UPDATE pending SET registered_text = registered_at",
    ),
    # 3: run owners beat (UTC ISO text); live runs are found by status.
    (
        "ALTER TABLE runs ADD COLUMN heartbeat TEXT",
        "CREATE INDEX runs_status ON runs (status)",
    ),
    # 4: journal entries keyed by scope (a run's staging directory) and
    # content, so two runs staging one content keep an entry each; the
    # entries kept get the directory their meta names.
    (
        """CREATE TABLE pending_scoped (
            scope TEXT NOT NULL DEFAULT '', sha256 TEXT NOT NULL,
            size INTEGER, registered_at TEXT, registered_text TEXT,
            meta TEXT, PRIMARY KEY (scope, sha256))""",
        """INSERT INTO pending_scoped (scope, sha256, size, registered_at,
            registered_text, meta)
            SELECT coalesce(json_extract(meta, '$.directory'), ''), sha256,
            size, registered_at, registered_text, meta FROM pending""",
        "DROP TABLE pending",
        "ALTER TABLE pending_scoped RENAME TO pending",
    ),
    # 5: cron schedules: their rule and zone as JSON (NULL: an interval).
    ("ALTER TABLE schedules ADD COLUMN rule TEXT",),
    # 6: watermarks compared as instants (UTC text), so one never moves
    # backwards; a row without one is overwritten by the next write.
    ("ALTER TABLE watermarks ADD COLUMN moment_at TEXT",),
    # 7: an article link's variant numbers when it landed (a JSON list;
    # NULL: not known, as for every link written before).
    ("ALTER TABLE links ADD COLUMN variants TEXT",),
    # 8: leases by name (`RunLeases`): the run holding one, its process
    # (JSON) and its last heartbeat (UTC ISO text).
    (
        """CREATE TABLE leases (
            name TEXT PRIMARY KEY, run_id TEXT NOT NULL,
            token TEXT NOT NULL, owner TEXT, heartbeat TEXT NOT NULL)""",
    ),
    # 9: who asked a run to stop (`CancelReasons`); NULL: nobody said.
    ("ALTER TABLE runs ADD COLUMN cancel_reason TEXT",),
    # 10: the stock layout each platform's stock was last written under
    # in full (`StockLayouts`).
    (
        """CREATE TABLE stock_layouts (
            platform TEXT PRIMARY KEY, layout TEXT NOT NULL)""",
    ),
    # 11: numbers new to a platform claimed by its identity of them
    # (`IdentityClaims`): the spelling holding it, the record carrying
    # that spelling, the run that claimed it.
    (
        """CREATE TABLE number_claims (
            platform TEXT NOT NULL, data_type TEXT NOT NULL,
            identity TEXT NOT NULL, number TEXT NOT NULL,
            holder TEXT NOT NULL, run_id TEXT NOT NULL,
            PRIMARY KEY (platform, data_type, identity))""",
    ),
)

#: PostgreSQL's schema, step by step (``{s}``: the quoted schema name).
POSTGRES_MIGRATIONS: tuple[str, ...] = (
    # 1: what SqliteStore keeps.
    """
    CREATE TABLE {s}.links (
        platform text NOT NULL, data_type text NOT NULL,
        number text NOT NULL, platform_id text, checksum text NOT NULL,
        PRIMARY KEY (platform, data_type, number));
    CREATE TABLE {s}.media (
        platform text NOT NULL, sha256 text NOT NULL,
        media_id text NOT NULL, PRIMARY KEY (platform, sha256));
    CREATE TABLE {s}.pending (
        sha256 text PRIMARY KEY, size bigint NOT NULL,
        registered_at timestamptz NOT NULL, registered_text text NOT NULL,
        meta text NOT NULL);
    CREATE TABLE {s}.runs (
        id text PRIMARY KEY, started_at timestamptz NOT NULL,
        status text NOT NULL, body text NOT NULL,
        cancel boolean NOT NULL DEFAULT false);
    CREATE INDEX runs_started ON {s}.runs (started_at DESC);
    CREATE TABLE {s}.watermarks (
        platform text NOT NULL, data_type text NOT NULL,
        moment text NOT NULL, PRIMARY KEY (platform, data_type));
    CREATE TABLE {s}.failures (
        platform text NOT NULL, data_type text NOT NULL,
        number text NOT NULL, message text NOT NULL, field text,
        run_id text NOT NULL, PRIMARY KEY (platform, data_type, number));
    CREATE TABLE {s}.schedules (
        id text PRIMARY KEY, spec text NOT NULL,
        interval_s double precision NOT NULL,
        next_due timestamptz NOT NULL, next_due_text text NOT NULL,
        holder text, claimed_until timestamptz);
    """,
    # 2: partitioned runs and licence holders (many workers).
    """
    CREATE SEQUENCE {s}.fencing_tokens;
    CREATE TABLE {s}.partitions (
        run_id text NOT NULL, idx integer NOT NULL,
        phase integer NOT NULL, spec text NOT NULL,
        state text NOT NULL DEFAULT 'todo',
        worker text, token bigint, heartbeat timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        body text, error text,
        PRIMARY KEY (run_id, idx));
    CREATE INDEX partitions_todo ON {s}.partitions (run_id, phase, idx)
        WHERE state = 'todo';
    CREATE TABLE {s}.licence_holders (
        pool text NOT NULL, slot integer NOT NULL, holder text NOT NULL,
        backend_pid integer NOT NULL, since timestamptz NOT NULL,
        PRIMARY KEY (pool, slot));
    CREATE TABLE {s}.licence_pools (
        pool text PRIMARY KEY, size integer NOT NULL);
    """,
    # 3: run owners beat; live runs are found by status.
    """
    ALTER TABLE {s}.runs ADD COLUMN heartbeat timestamptz;
    CREATE INDEX runs_live ON {s}.runs (status)
        WHERE status IN ('queued', 'running');
    """,
    # 4: journal entries keyed by scope (a run's staging directory) and
    # content, so two processes staging one content keep an entry each.
    """
    ALTER TABLE {s}.pending ADD COLUMN scope text NOT NULL DEFAULT '';
    UPDATE {s}.pending SET scope = coalesce(meta::jsonb ->> 'directory', '');
    ALTER TABLE {s}.pending DROP CONSTRAINT pending_pkey;
    ALTER TABLE {s}.pending ADD PRIMARY KEY (scope, sha256);
    """,
    # 5: cron schedules: their rule and zone as JSON (NULL: an interval).
    """
    ALTER TABLE {s}.schedules ADD COLUMN rule text;
    """,
    # 6: watermarks compared as instants, so one never moves backwards.
    """
    ALTER TABLE {s}.watermarks ADD COLUMN moment_at timestamptz;
    UPDATE {s}.watermarks SET moment_at = moment::timestamptz;
    """,
    # 7: runs in the order they were recorded, for runs started at one
    # moment (SQLite has its rowid).
    """
    ALTER TABLE {s}.runs
        ADD COLUMN seq bigint GENERATED BY DEFAULT AS IDENTITY;
    """,
    # 8: an article link's variant numbers when it landed (a JSON list;
    # NULL: not known, as for every link written before).
    """
    ALTER TABLE {s}.links ADD COLUMN variants text;
    """,
    # 9: leases by name (`RunLeases`), as SQLite's step 8.
    """
    CREATE TABLE {s}.leases (
        name text PRIMARY KEY, run_id text NOT NULL, token text NOT NULL,
        owner text, heartbeat text NOT NULL);
    """,
    # 10: who asked a run to stop (`CancelReasons`), as SQLite's step 9.
    """
    ALTER TABLE {s}.runs ADD COLUMN cancel_reason text;
    """,
    # 11: the stock layout each platform's stock was last written under
    # in full (`StockLayouts`), as SQLite's step 10.
    """
    CREATE TABLE {s}.stock_layouts (
        platform text PRIMARY KEY, layout text NOT NULL);
    """,
    # 12: numbers claimed by the platform's identity of them
    # (`IdentityClaims`), as SQLite's step 11.
    """
    CREATE TABLE {s}.number_claims (
        platform text NOT NULL, data_type text NOT NULL,
        identity text NOT NULL, number text NOT NULL,
        holder text NOT NULL, run_id text NOT NULL,
        PRIMARY KEY (platform, data_type, identity));
    """,
)


class NewerSchemaError(Exception):
    """
    The database was written by a newer *ecomsync* (schema *version*).
    """

    def __init__(self, version: int, known: int) -> None:
        super().__init__(version, known)
        self.version = version
        self.known = known


def pending_steps(current: int, known: int) -> range:
    """
    The versions to apply to bring a schema at *current* to *known*.

    Raises:
        NewerSchemaError: *current* is newer than *known*.
    """
    if current > known:
        raise NewerSchemaError(current, known)
    return range(current + 1, known + 1)
