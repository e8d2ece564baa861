"""`flask workers ...`: the rolling restart behind `make restart-workers`."""
import click

from . import worker_control


@click.group()
def workers():
    """Operate the Celery workers."""


@workers.command("rolling-restart")
@click.option("--timeout", type=float, default=None,
              help="Seconds to wait for each worker to come back (default: its stop timeout + 60).")
def rolling_restart(timeout):
    """Restart every worker gracefully, one at a time, each once the previous is back online."""
    try:
        done = worker_control.rolling_restart(timeout, echo=click.echo)
    except worker_control.Refused as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"restarted {len(done)} worker{'s' if len(done) != 1 else ''}")
