"""Before a worker host starts: do PostgreSQL and RabbitMQ answer and take our password?

Each check raises Unreachable with one line naming the server and the reason,
so `make worker-host` never starts workers that would only fail and restart.
"""
import secrets

TIMEOUT_S = 5


class BadSetting(Exception):
    """A setting this host cannot use; the message names it."""


class Unreachable(Exception):
    """PostgreSQL or RabbitMQ does not answer, or refuses us; the message says which and why."""


def database(url):
    """Connect once with DATABASE_URL (timeout TIMEOUT_S) and run SELECT 1."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError
    where = make_url(url)
    engine = create_engine(url, connect_args={"connect_timeout": TIMEOUT_S})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as error:
        lines = [line.strip() for line in str(error.orig).splitlines() if line.strip()]
        reason = next((line for line in lines if "FATAL" in line), lines[0] if lines else "")
        raise Unreachable(f"PostgreSQL at {where.host}:{where.port}/{where.database}"
                          f" (DATABASE_URL): {reason}") from None
    finally:
        engine.dispose()


def broker(url):
    """Open one AMQP connection with CELERY_BROKER_URL (timeout TIMEOUT_S)."""
    from kombu import Connection
    connection = Connection(url, connect_timeout=TIMEOUT_S)
    where = f"{connection.hostname}:{connection.port}/{connection.virtual_host}"
    try:
        connection.connect()
    except Exception as error:  # amqp's refusals, socket errors, timeouts: all one line
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "ACCESS_REFUSED" in reason or "AccessRefused" in type(error).__name__:
            reason = f"user or password refused ({reason})"
        raise Unreachable(f"RabbitMQ at {where} (CELERY_BROKER_URL): {reason}") from None
    finally:
        connection.release()


def random_password():
    """A password for this run's supervisord socket, when none is given."""
    return secrets.token_hex(16)
