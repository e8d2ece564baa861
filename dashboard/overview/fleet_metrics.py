"""Prometheus metrics of the fleet: workers by state, the dispatcher's heartbeat, how long
the oldest request has waited and run-time percentiles per job type (from the aggregates)."""
from datetime import datetime, timedelta, timezone

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import text

from dashboard import dispatcher_heartbeat
from dashboard.extensions import db
from dashboard.overview import stats
from dashboard.workers import inspection

WORKER_STATES = ("online", "paused", "offline")
QUANTILES = (0.5, 0.95, 0.99)


def _workers():
    """Workers by state, and one up/down series per worker seen in the last hour."""
    seen = inspection.workers(ttl=5.0)
    by_state = GaugeMetricFamily("dashboard_workers", "Workers seen in the last hour by state",
                                 labels=["state"])
    for state in WORKER_STATES:
        by_state.add_metric([state], sum(1 for w in seen if w["state"] == state))
    up = GaugeMetricFamily("dashboard_worker_up",
                           "1 while a worker answers (online or paused), 0 once it stopped",
                           labels=["worker"])
    for w in seen:
        up.add_metric([w["name"]], 1 if w["online"] else 0)
    return by_state, up


def _heartbeat_age():
    """Seconds since the freshest dispatcher's heartbeat (+Inf when none ever beat)."""
    latest = dispatcher_heartbeat.latest()
    age = GaugeMetricFamily("dashboard_dispatcher_heartbeat_age_seconds",
                            "Seconds since the freshest dispatcher last said it was alive")
    age.add_metric([], float("inf") if latest is None else max(0.0, float(latest["age_s"])))
    return age


def _oldest_waiting():
    """Seconds the oldest unassigned or pending request has waited (0 when none waits)."""
    oldest = db.session.execute(text(stats.OLDEST_WAITING_SQL)).scalar()
    waited = GaugeMetricFamily("dashboard_oldest_waiting_seconds",
                               "Seconds the oldest waiting (unassigned or pending) request has waited")
    now = datetime.now(timezone.utc)
    waited.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
    return waited


def _run_quantiles():
    """p50/p95/p99 run time per job type over the last hour (finish_stats' buckets)."""
    histograms = {}
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    for job_type, bucket, n in db.session.execute(text(stats.DURATIONS_SQL), {"start": start}):
        histograms.setdefault(job_type, []).append((bucket, int(n)))
    family = GaugeMetricFamily("dashboard_run_seconds_quantile",
                               "Run time percentiles of attempts finished in the last hour",
                               labels=["job_type", "quantile"])
    for job_type, histogram in sorted(histograms.items()):
        for q in QUANTILES:
            value = stats.percentile(histogram, q)
            if value is not None:
                family.add_metric([job_type, f"{q:g}"], value)
    return family


class FleetCollector:
    """Workers, the dispatcher's heartbeat, the oldest wait and run-time percentiles."""

    def collect(self):
        """The fleet's families, read at scrape time."""
        yield from _workers()
        yield _heartbeat_age()
        yield _oldest_waiting()
        yield _run_quantiles()
