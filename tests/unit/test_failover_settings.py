"""Failover settings (dashboard.config): a several-host DATABASE_URL as libpq takes it,
READ_DATABASE_URL, a broker URL list and QUEUE_TYPE; bad values refused naming the variable."""
import pytest
from psycopg2.extensions import parse_dsn

from dashboard import celery_settings, config
from dashboard.dispatcher import libpq_dsn

SEVERAL = "postgresql://dashboard:pw@db1:5432,db2:5433/dashboard?target_session_attrs=read-write"


@pytest.fixture(autouse=True)
def _plain(monkeypatch):
    for name in ("DATABASE_URL", "READ_DATABASE_URL", "CELERY_BROKER_URL", "QUEUE_TYPE"):
        monkeypatch.delenv(name, raising=False)


def test_several_hosts_reach_libpq(monkeypatch):
    """Both hosts, both ports and target_session_attrs reach libpq (the dispatcher's LISTEN
    connection) as SQLAlchemy's psycopg2 dialect passes them (the pools)."""
    monkeypatch.setenv("DATABASE_URL", SEVERAL)
    url = config.load()["SQLALCHEMY_DATABASE_URI"]
    assert url.startswith("postgresql+psycopg2://dashboard:pw@/dashboard?")
    dsn = parse_dsn(libpq_dsn(url))
    assert (dsn["host"], dsn["port"]) == ("db1,db2", "5432,5433")
    assert dsn["target_session_attrs"] == "read-write" and dsn["dbname"] == "dashboard"


def test_one_host_unchanged(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db1:5432/x")
    assert config.load()["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg2://u:p@db1:5432/x"
    assert parse_dsn(libpq_dsn("postgresql+psycopg2://u:p@db1:5432/x"))["host"] == "db1"


@pytest.mark.parametrize("name, value", [
    ("DATABASE_URL", "postgresql://u:p@db1:x,db2:5432/d"),
    ("DATABASE_URL", "postgresql://u:p@,db2:5432/d"),
    ("READ_DATABASE_URL", "mysql://u:p@h/d"),
    ("CELERY_BROKER_URL", "amqp://u:p@mq1/v;redis://mq2"),
    ("QUEUE_TYPE", "stream"),
])
def test_bad_values_name_their_variable(monkeypatch, name, value):
    """One ConfigError naming the variable, never the password."""
    monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigError, match=name) as refused:
        config.load()
    assert ":p@" not in str(refused.value)


def test_quorum_queue_type_reaches_celery(monkeypatch):
    """QUEUE_TYPE=quorum: the default queue and the job types' queues are quorum queues."""
    monkeypatch.setenv("QUEUE_TYPE", "Quorum")
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://u:p@mq1/v;amqp://u:p@mq2/v")
    monkeypatch.setenv("READ_DATABASE_URL", "postgresql://u:p@db2:5432/x")
    loaded = config.load()
    assert loaded["READ_DATABASE_URL"] == "postgresql+psycopg2://u:p@db2:5432/x"
    settings = celery_settings(loaded)
    assert settings["task_default_queue_type"] == settings["task_create_missing_queue_type"] \
        == "quorum"
    assert settings["broker_url"] == "amqp://u:p@mq1/v;amqp://u:p@mq2/v"


def test_classic_by_default():
    loaded = config.load()
    assert loaded["QUEUE_TYPE"] == "classic" and loaded["READ_DATABASE_URL"] == ""
