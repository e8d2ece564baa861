"""One schema: one migration head, `flask db check` clean, a round trip, models = migrations.

Each test runs on a scratch database of its own, <test database>_migrations, created
for this module and dropped after it (its schema emptied before each test), never on
the suite's schema. The migrations run through the real CLI (`flask --app wsgi db ...`,
as `make migrate` runs them); schemas are compared with pg_dump --schema-only.
"""
import difflib
import os
import re
import shutil
import subprocess

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from dashboard import models  # noqa: F401  (every table on db.metadata)
from dashboard.extensions import db
from deploy import services
from tests.support.env import BIN, ROOT

MIGRATIONS = os.path.join(ROOT, "migrations")
# The squashed chain's head: the baseline keeps its id, so a database already there runs
# nothing. It stays the one root of the history whatever comes after it.
BASELINE = "0011"
# versions/YYYY_MM_DD_HHMMSS_<revision>_<slug>.py (file_template in migrations/alembic.ini).
FILE_NAME = re.compile(r"^\d{4}_\d{2}_\d{2}_\d{6}_\w+\.py$")
INSUFFICIENT_PRIVILEGE = "42501"


def _script():
    config = Config(os.path.join(MIGRATIONS, "alembic.ini"))
    config.set_main_option("script_location", MIGRATIONS)
    return ScriptDirectory.from_config(config)


def _drop_database(admin, name):
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _create_database(admin, test_url, name):
    """CREATE DATABASE as the test role; without that right, as the local services'
    superuser (what `deploy/services.py test-env` does), when the test database is theirs."""
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        return
    except DBAPIError as exc:
        if getattr(exc.orig, "pgcode", None) != INSUFFICIENT_PRIVILEGE:
            raise
    # The local services' own database and role (ensure() sets the role's password: the same).
    local = (test_url.host, test_url.port) == ("127.0.0.1", services.PG_PORT) and \
        os.path.exists(os.path.join(services.SECRETS, "pg_password")) and \
        services.secret("pg_password") == test_url.password
    if not local:
        pytest.fail(f"a scratch database {name} is needed: the role of TEST_DATABASE_URL may"
                    " not CREATE DATABASE and the database is not the local services' one")
    services.local_postgres().ensure(services.secret("pg_password"), [name])


@pytest.fixture(scope="module")
def scratch_database():
    test_url = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"{test_url.database}_migrations"
    admin = create_engine(test_url, isolation_level="AUTOCOMMIT")
    _drop_database(admin, name)
    _create_database(admin, test_url, name)
    yield test_url.set(database=name).render_as_string(hide_password=False)
    _drop_database(admin, name)
    admin.dispose()


def _sql(url, statement):
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            result = conn.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


@pytest.fixture
def scratch(scratch_database):
    """The scratch database's URL, its schema empty (as bench.stack.reset_schema does)."""
    _sql(scratch_database, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    return scratch_database


def flask_db(url, *args):
    """`flask --app wsgi db ARGS` on the database at `url`; the CompletedProcess."""
    env = {**os.environ, "DATABASE_URL": url, "FLASK_SKIP_DOTENV": "1"}
    return subprocess.run([os.path.join(BIN, "flask"), "--app", "wsgi", "db", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=180)


def migrate(url, *args):
    done = flask_db(url, *args)
    assert done.returncode == 0, f"flask db {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout + done.stderr


def schema_dump(url):
    """pg_dump --schema-only (the server's own version of pg_dump when installed), without
    the lines that differ between two dumps of one schema (version, \\restrict key)."""
    major = int(_sql(url, "SHOW server_version_num")) // 10000
    pg_dump = f"/usr/lib/postgresql/{major}/bin/pg_dump"
    pg_dump = pg_dump if os.path.exists(pg_dump) else shutil.which("pg_dump")
    assert pg_dump, "pg_dump is not installed"
    u = make_url(url)
    done = subprocess.run(
        [pg_dump, "--schema-only", "-h", u.host, "-p", str(u.port), "-U", u.username, u.database],
        env={**os.environ, "PGPASSWORD": u.password or ""},
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return "\n".join(line for line in done.stdout.splitlines()
                     if not re.match(r"\\(un)?restrict |-- Dumped (from|by) ", line))


def _assert_same(expected, got, what):
    diff = "\n".join(difflib.unified_diff(expected.splitlines(), got.splitlines(),
                                          "expected", "got", lineterm="", n=1))
    assert not diff, f"{what}:\n{diff[:6000]}"


def test_one_head_and_the_baseline_is_the_root():
    """One head; the baseline (the squashed chain's head id) the one root; every file dated."""
    script = _script()
    assert len(script.get_heads()) == 1, script.get_heads()
    assert script.get_bases() == [BASELINE]
    assert script.get_revision(BASELINE).down_revision is None
    names = sorted(n for n in os.listdir(os.path.join(MIGRATIONS, "versions"))
                   if n.endswith(".py"))
    assert names and all(FILE_NAME.match(n) for n in names), names
    # The date prefix orders the files as the history does, oldest first.
    history = [r.path for r in reversed(list(script.walk_revisions()))]
    assert [os.path.basename(p) for p in history] == names


def test_flask_db_check_reports_nothing_on_a_migrated_database(scratch):
    migrate(scratch, "upgrade")
    assert _sql(scratch, "SELECT version_num FROM alembic_version") == _script().get_current_head()
    done = flask_db(scratch, "check")
    assert done.returncode == 0 and "No new upgrade operations detected" in done.stdout, \
        done.stdout + done.stderr
    # The check reads this database: a table the models declare, gone, is reported.
    _sql(scratch, "DROP TABLE worker_pauses")
    done = flask_db(scratch, "check")
    assert done.returncode != 0 and "worker_pauses" in done.stdout + done.stderr, \
        done.stdout + done.stderr


def test_upgrade_downgrade_upgrade_gives_the_same_schema(scratch):
    migrate(scratch, "upgrade")
    first = schema_dump(scratch)
    for made in ("CREATE EXTENSION IF NOT EXISTS pg_trgm", "CREATE TRIGGER requests_touch",
                 "CREATE TRIGGER finish_stats_add", "CREATE STATISTICS",
                 "CREATE INDEX requests_error_trgm_idx", "CREATE TABLE public.worker_pauses",
                 "SET STORAGE EXTERNAL"):
        assert made in first, made
    migrate(scratch, "downgrade", "base")
    emptied = schema_dump(scratch)
    left = re.findall(r"^CREATE (?:\w+ )*?(?:TABLE|INDEX|SEQUENCE|FUNCTION|TRIGGER|EXTENSION|"
                      r"STATISTICS|TYPE|VIEW) .*$", emptied, re.M)
    assert left == ["CREATE TABLE public.alembic_version ("], left
    migrate(scratch, "upgrade")
    _assert_same(first, schema_dump(scratch), "the schema after upgrade, downgrade, upgrade")


CATALOG = """
SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
       || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND c.relname <> 'alembic_version'
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  AND conrelid::regclass::text <> 'alembic_version'
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename <> 'alembic_version'
UNION ALL
SELECT 'sequence ' || sequencename || ' ' || data_type::text FROM pg_sequences
WHERE schemaname = 'public'
ORDER BY 1
"""


def _catalog(url):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return "\n".join(conn.execute(text(CATALOG)).scalars())
    finally:
        engine.dispose()


def test_the_models_build_the_tables_the_migrations_build(scratch):
    """Tables, columns, defaults, constraints and indexes (WHERE clauses and operator classes
    included, which `flask db check` does not compare) from the models equal the migrations'."""
    migrate(scratch, "upgrade")
    migrated = _catalog(scratch)
    assert "index CREATE INDEX requests_error_trgm_idx ON public.requests USING gin" \
        " (error gin_trgm_ops) WHERE (error IS NOT NULL)" in migrated.splitlines()
    _sql(scratch, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"
                  " CREATE EXTENSION pg_trgm")   # the trigram operator class, as upgrade makes
    engine = create_engine(scratch)
    try:
        db.metadata.create_all(engine)
    finally:
        engine.dispose()
    _assert_same(migrated, _catalog(scratch), "the models' schema (got) vs the migrations'")
