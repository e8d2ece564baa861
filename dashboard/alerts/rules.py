"""What a rule is: its kinds, their parameters, and the check of a rule as sent (422 naming
the field). Values in, values out; nothing here touches the database."""
import math
import re
from urllib.parse import urlsplit

from flask_babel import gettext as _

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
        raise Refused(_("%(field)s: must be a number", field=field))
    if integer and value != int(value):
        raise Refused(_("%(field)s: must be a whole number", field=field))
    if value < 0 and low >= 0:
        raise Refused(_("%(field)s: must not be negative", field=field))
    if not low <= value <= high:
        raise Refused(_("%(field)s: must be from %(low)s to %(high)s", field=field,
                        low=f"{low:g}", high=f"{high:g}"))
    return int(value) if integer else float(value)


def check_params(kind, params):
    """The parameters of `kind`, checked and normalised."""
    if not isinstance(params, dict):
        raise Refused(_("params: must be a JSON object"))
    wanted = KINDS[kind]
    unknown = sorted(set(params) - set(wanted))
    if unknown:
        raise Refused(_("params.%(key)s: not a parameter of %(kind)s (it takes %(keys)s)",
                        key=str(unknown[0])[:40], kind=kind, keys=", ".join(wanted)))
    missing = [k for k in wanted if k not in params]
    if missing:
        raise Refused(_("params.%(key)s: required for %(kind)s", key=missing[0], kind=kind))
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
                raise Refused(_("%(field)s: a worker's name (up to 200 characters), or null"
                                " for any", field=field))
            out[key] = value
        elif key == "limit":
            if value not in ("wait", "run"):
                raise Refused(_("%(field)s: must be \"wait\" or \"run\"", field=field))
            out[key] = value
        elif key == "job_type":
            job = jobs.REGISTRY.get(value) if isinstance(value, str) else None
            if job is None:
                raise Refused(_("%(field)s: unknown job type %(name)r", field=field,
                                name=str(value)[:40]))
            out[key] = value
    if kind == "sla_breach":
        job = jobs.REGISTRY[out["job_type"]]
        if (job.max_wait_s if out["limit"] == "wait" else job.max_run_s) is None:
            raise Refused(_("params.limit: %(job_type)s declares no %(limit)s limit",
                            job_type=out["job_type"], limit=out["limit"]))
    return out


def check_webhook(url, secret):
    """(url, secret) normalised: an http(s) URL needs a secret; empty means none."""
    url = (url or "").strip() if isinstance(url, (str, type(None))) else url
    if not isinstance(url, str):
        raise Refused(_("webhook_url: must be a string or null"))
    if not isinstance(secret, (str, type(None))):
        raise Refused(_("webhook_secret: must be a string or null"))
    if not url:
        return None, secret or None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise Refused(_("webhook_url: must be an http:// or https:// URL"))
    if not secret:
        raise Refused(_("webhook_secret: required with a webhook_url (it signs the body)"))
    if len(secret) > 200:
        raise Refused(_("webhook_secret: at most 200 characters"))
    return url, secret


def check_emails(emails):
    """A list of email addresses (a comma-separated string is accepted too)."""
    if isinstance(emails, str):
        emails = [e.strip() for e in emails.replace(";", ",").split(",") if e.strip()]
    if emails is None:
        return []
    if not isinstance(emails, list) or len(emails) > MAX_EMAILS:
        raise Refused(_("emails: must be a list of at most %(n)s addresses", n=MAX_EMAILS))
    for address in emails:
        if not isinstance(address, str) or not EMAIL_RE.match(address):
            raise Refused(_("emails: %(address)r is not an email address",
                            address=str(address)[:60]))
    return list(dict.fromkeys(emails))


def validate(data, current=None):
    """The whole rule (`current` merged with `data`), checked; Refused names the first bad field."""
    if not isinstance(data, dict):
        raise Refused(_("body: must be a JSON object"))
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise Refused(_("%(field)s: unknown field (known: %(known)s)", field=str(unknown[0])[:40],
                        known=", ".join(FIELDS)))
    rule = {**(current or {}), **data}
    name = rule.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 80:
        raise Refused(_("name: required, up to 80 characters"))
    if rule.get("kind") not in KINDS:
        raise Refused(_("kind: must be one of %(kinds)s", kinds=", ".join(KINDS)))
    if current and data.get("kind", current["kind"]) != current["kind"] and "params" not in data:
        raise Refused(_("params: required when the kind changes"))
    enabled = rule.get("enabled", True)
    if not isinstance(enabled, bool):
        raise Refused(_("enabled: must be true or false"))
    url, secret = check_webhook(rule.get("webhook_url"), rule.get("webhook_secret"))
    return {"name": name.strip(), "kind": rule["kind"],
            "params": check_params(rule["kind"], rule.get("params")),
            "emails": check_emails(rule.get("emails")), "webhook_url": url,
            "webhook_secret": secret, "enabled": enabled}
