"""Whether a rule's condition holds now, with the numbers that say why (its `detail`).

Each check takes the rule and the tick's Facts and answers (holds, detail);
holds is None when the signal is unknown this tick (the rule keeps its state).
"""
from dashboard import jobs

FORGET_WORKER_S = 3600.0  # a worker silent this long is no longer counted by "any worker"


def duration_text(seconds):
    """Seconds in words for an email or a webhook (English, like their other words; cheap,
    since every rule's detail is worded at every tick): 4.2 s, 3 min 5 s, 2 h 10 min."""
    s = max(float(seconds), 0.0)
    if s < 60:
        return f"{s:.1f} s" if s < 10 else f"{int(s)} s"
    if s < 3600:
        return f"{int(s) // 60} min {int(s) % 60} s"
    return f"{int(s) // 3600} h {int(s) % 3600 // 60} min"


def _age(facts, moment):
    return (facts.now - moment).total_seconds()


def worker_offline(rule, facts):
    """A named worker (or any worker seen in the last hour) silent for more than for_s."""
    if facts.pinged_at is None or _age(facts, facts.pinged_at) > 30:
        return None, {"text": "workers not pinged yet"}
    limit, name, seen = rule["params"]["for_s"], rule["params"]["worker"], facts.sightings()
    if name is not None:
        silent = _age(facts, seen.get(name) or rule["created_at"])
        return silent > limit, {"worker": name, "offline_s": round(silent, 1),
                                "text": f"worker {name} has not answered for"
                                        f" {duration_text(silent)} (limit {duration_text(limit)})"}
    gone = sorted(n for n, at in seen.items() if limit < _age(facts, at) < FORGET_WORKER_S)
    return bool(gone), {"workers": gone,
                        "text": f"not answering for more than {duration_text(limit)}: "
                                + (", ".join(gone) or "none")}


def backlog(rule, facts):
    """More than `waiting` requests waiting (held for for_s by the evaluator)."""
    n, limit = facts.waiting(), rule["params"]["waiting"]
    return n > limit, {"waiting": n, "text": f"{n} requests waiting (limit {limit})"}


def failure_rate(rule, facts):
    """Over `percent` % of at least `min_finished` requests finished in the window failed."""
    p = rule["params"]
    seen = facts.outcomes(p["window_s"])
    finished = sum(seen.values())
    failed = seen.get("failure", 0) + seen.get("timeout", 0)
    rate = 100.0 * failed / finished if finished else 0.0
    return (finished >= p["min_finished"] and rate > p["percent"]), {
        "failed": failed, "finished": finished, "percent": round(rate, 1),
        "text": f"{failed} of {finished} finished in {duration_text(p['window_s'])} failed"
                f" ({rate:.1f} %, limit {p['percent']:g} %)"}


def sla_breach(rule, facts):
    """A request of the job type is over its wait (or run) limit now."""
    job_type, limit = rule["params"]["job_type"], rule["params"]["limit"]
    job = jobs.REGISTRY.get(job_type)
    allowed = None if job is None else (job.max_wait_s if limit == "wait" else job.max_run_s)
    if allowed is None:
        return None, {"text": f"{job_type} has no {limit} limit now"}
    oldest = facts.oldest(job_type, limit)
    age = _age(facts, oldest) if oldest else 0.0
    verb = "waiting" if limit == "wait" else "running"
    return age > allowed, {"job_type": job_type, "limit": limit, "oldest_s": round(age, 1),
                           "text": f"oldest {job_type} request {verb} {duration_text(age)}"
                                   f" (limit {duration_text(allowed)})"}


def dispatcher_down(rule, facts):
    """No dispatcher heartbeat for more than for_s (never one: counted from the rule's creation)."""
    age = facts.dispatcher_age_s()
    if age is None:
        age = _age(facts, rule["created_at"])
    limit = rule["params"]["for_s"]
    return age > limit, {"heartbeat_age_s": round(age, 1),
                         "text": f"last dispatcher heartbeat {duration_text(age)} ago"
                                 f" (limit {duration_text(limit)})"}


CHECKS = {"worker_offline": worker_offline, "backlog": backlog, "failure_rate": failure_rate,
          "sla_breach": sla_breach, "dispatcher_down": dispatcher_down}
HELD_FOR = ("backlog",)  # kinds whose condition must hold for params.for_s before firing
