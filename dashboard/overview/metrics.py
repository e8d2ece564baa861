"""Prometheus metrics, read from PostgreSQL (the system of record) at scrape time."""
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import text

from dashboard.extensions import db
from dashboard.overview import sla
from dashboard.overview.fleet_metrics import FleetCollector
from dashboard.requests import listing
from dashboard.workers import inspection


class DashboardCollector:
    """Counts by status, queue depth, and run durations of recent attempts."""

    def collect(self):
        by_status = GaugeMetricFamily("dashboard_requests", "Requests by status",
                                      labels=["status"])
        for status, n in listing.counts().items():
            by_status.add_metric([status], n)
        yield by_status
        depths = inspection.queue_depths()
        queue = GaugeMetricFamily("dashboard_queue_depth",
                                  "Messages ready in the broker queues, every job type's")
        queue.add_metric([], float("nan") if depths is None else
                         sum(c["messages"] for c in depths.values()))
        yield queue
        per_queue = GaugeMetricFamily("dashboard_queue_messages",
                                      "Messages ready in each job type's broker queue",
                                      labels=["queue"])
        consumers = GaugeMetricFamily("dashboard_queue_consumers",
                                      "Consumers (workers) of each job type's broker queue",
                                      labels=["queue"])
        for name, counts in (depths or {}).items():
            per_queue.add_metric([name], counts["messages"])
            consumers.add_metric([name], counts["consumers"])
        yield per_queue
        yield consumers
        rows = db.session.execute(text(
            "SELECT job_type, status, count(*) AS n,"
            " avg(extract(epoch FROM finished_at - started_at)) AS avg_s,"
            " max(extract(epoch FROM finished_at - started_at)) AS max_s"
            " FROM requests WHERE finished_at > now() - interval '10 minutes'"
            " AND started_at IS NOT NULL GROUP BY job_type, status")).mappings().all()
        avg = GaugeMetricFamily("dashboard_run_seconds_avg",
                                "Mean run time of attempts finished in the last 10 minutes",
                                labels=["job_type", "status"])
        peak = GaugeMetricFamily("dashboard_run_seconds_max",
                                 "Longest run time of attempts finished in the last 10 minutes",
                                 labels=["job_type", "status"])
        done = GaugeMetricFamily("dashboard_finished_recent",
                                 "Attempts finished in the last 10 minutes",
                                 labels=["job_type", "status"])
        for r in rows:
            labels = [r["job_type"], r["status"]]
            avg.add_metric(labels, float(r["avg_s"] or 0))
            peak.add_metric(labels, float(r["max_s"] or 0))
            done.add_metric(labels, r["n"])
        yield from (avg, peak, done)
        over = GaugeMetricFamily("dashboard_sla_breaches",
                                 "Requests over their job type's wait or run limit now",
                                 labels=["job_type", "limit"])
        for job_type, kind, n in sla.breaches():
            over.add_metric([job_type, kind], n)
        yield over


def render():
    """The metrics page body."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DashboardCollector())
    registry.register(FleetCollector())
    return generate_latest(registry)
