"""What a rule is: its kinds, their parameters, and the check of a rule as sent (422 naming
the field). Values in, values out; nothing here touches the database."""
import math
import re
from urllib.parse import urlsplit

from dashboard import jobs
from dashboard.errors import Refused

FIELDS = ("name", "kind", "params", "emails", "webhook_url", "webhook_secret", "enabled")
KINDS = {  # kind -> its parameters, each required
    "worker_offline": ("worker", "for_s"),
    "backlog": ("waiting", "for_s"),
    "failure_rate": ("percent", "min_finished", "window_s"),
    "sla_breach": ("job_type", "limit"),
    "dispatcher_down": ("for_s",),
}
MAX_S = 7 * 86400
MAX_WINDOW_S = 24 * 3600  # finish_stats keeps 25 hours
MAX_EMAILS = 20
EMAIL_RE = re.compile(r"^[^@\s,;<>\"]{1,64}@[A-Za-z0-9.-]{1,190}$")


def _number(field, value, low, high, integer=False):
    """A number in [low, high] (an integer when asked), or Refused naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Refused(f"{field}: must be a number")
    if integer and value != int(value):
        raise Refused(f"{field}: must be a whole number")
    if value < 0 and low >= 0:
        raise Refused(f"{field}: must not be negative")
    if not low <= value <= high:
        raise Refused(f"{field}: must be from {low:g} to {high:g}")
    return int(value) if integer else float(value)


def check_params(kind, params):
    """The parameters of `kind`, checked and normalised."""
    if not isinstance(params, dict):
        raise Refused("params: must be a JSON object")
    wanted = KINDS[kind]
    unknown = sorted(set(params) - set(wanted))
    if unknown:
        raise Refused(f"params.{str(unknown[0])[:40]}: not a parameter of {kind}"
                      f" (it takes {', '.join(wanted)})")
    missing = [k for k in wanted if k not in params]
    if missing:
        raise Refused(f"params.{missing[0]}: required for {kind}")
    out = {}
    for key in wanted:
        value, field = params[key], f"params.{key}"
        if key in ("for_s",):
            out[key] = _number(field, value, 0, MAX_S)
        elif key == "window_s":
            out[key] = _number(field, value, 60, MAX_WINDOW_S)
        elif key == "waiting":
            out[key] = _number(field, value, 0, 10 ** 9, integer=True)
        elif key == "min_finished":
            out[key] = _number(field, value, 1, 10 ** 9, integer=True)
        elif key == "percent":
            out[key] = _number(field, value, 0, 100)
        elif key == "worker":
            if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 200):
                raise Refused(f"{field}: a worker's name (up to 200 characters), or null for any")
            out[key] = value
        elif key == "limit":
            if value not in ("wait", "run"):
                raise Refused(f"{field}: must be \"wait\" or \"run\"")
            out[key] = value
        elif key == "job_type":
            job = jobs.REGISTRY.get(value) if isinstance(value, str) else None
            if job is None:
                raise Refused(f"{field}: unknown job type {str(value)[:40]!r}")
            out[key] = value
    if kind == "sla_breach":
        job = jobs.REGISTRY[out["job_type"]]
        if (job.max_wait_s if out["limit"] == "wait" else job.max_run_s) is None:
            raise Refused(f"params.limit: {out['job_type']} declares no {out['limit']} limit")
    return out


def check_webhook(url, secret):
    """(url, secret) normalised: an http(s) URL needs a secret; empty means none."""
    url = (url or "").strip() if isinstance(url, (str, type(None))) else url
    if not isinstance(url, str):
        raise Refused("webhook_url: must be a string or null")
    if not isinstance(secret, (str, type(None))):
        raise Refused("webhook_secret: must be a string or null")
    if not url:
        return None, secret or None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise Refused("webhook_url: must be an http:// or https:// URL")
    if not secret:
        raise Refused("webhook_secret: required with a webhook_url (it signs the body)")
    if len(secret) > 200:
        raise Refused("webhook_secret: at most 200 characters")
    return url, secret


def check_emails(emails):
    """A list of email addresses (a comma-separated string is accepted too)."""
    if isinstance(emails, str):
        emails = [e.strip() for e in emails.replace(";", ",").split(",") if e.strip()]
    if emails is None:
        return []
    if not isinstance(emails, list) or len(emails) > MAX_EMAILS:
        raise Refused(f"emails: must be a list of at most {MAX_EMAILS} addresses")
    for address in emails:
        if not isinstance(address, str) or not EMAIL_RE.match(address):
            raise Refused(f"emails: {str(address)[:60]!r} is not an email address")
    return list(dict.fromkeys(emails))


def validate(data, current=None):
    """The whole rule (`current` merged with `data`), checked; Refused names the first bad field."""
    if not isinstance(data, dict):
        raise Refused("body: must be a JSON object")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise Refused(f"{str(unknown[0])[:40]}: unknown field (known: {', '.join(FIELDS)})")
    rule = {**(current or {}), **data}
    name = rule.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 80:
        raise Refused("name: required, up to 80 characters")
    if rule.get("kind") not in KINDS:
        raise Refused(f"kind: must be one of {', '.join(KINDS)}")
    if current and data.get("kind", current["kind"]) != current["kind"] and "params" not in data:
        raise Refused("params: required when the kind changes")
    enabled = rule.get("enabled", True)
    if not isinstance(enabled, bool):
        raise Refused("enabled: must be true or false")
    url, secret = check_webhook(rule.get("webhook_url"), rule.get("webhook_secret"))
    return {"name": name.strip(), "kind": rule["kind"],
            "params": check_params(rule["kind"], rule.get("params")),
            "emails": check_emails(rule.get("emails")), "webhook_url": url,
            "webhook_secret": secret, "enabled": enabled}
