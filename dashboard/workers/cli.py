"""`flask workers ...`: the rolling restart behind `make restart-workers`."""
import click

from dashboard.errors import Refused
from dashboard.workers import control


@click.group()
def workers():
    """Operate the Celery workers."""


@workers.command("rolling-restart")
@click.option("--timeout", type=float, default=None,
              help="Seconds to wait for each worker to come back (default: its stop timeout + 60).")
def rolling_restart(timeout):
    """Restart every worker gracefully, one at a time, each once the previous is back online."""
    try:
        done = control.rolling_restart(timeout, echo=click.echo)
    except Refused as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"restarted {len(done)} worker{'s' if len(done) != 1 else ''}")
