"""The job type registry: parameter schema, file rule, time limits, retry policy, runner.

A job type module declares its types (`JOB_TYPES`). The app factory loads them
(`discover`): the built-in modules and those named by `JOB_TYPE_MODULES`, then
the installed packages' entry points in the group `request_dashboard.job_types`.
Then it registers them (`register_all`), so the registry is filled explicitly,
never by an import, and web, dispatcher, workers and beat hold the same set. A
job type that cannot be loaded stops start-up with JobTypeError: one line naming
where it came from.
"""
import importlib
import json
import math
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import entry_points
from typing import Callable

from flask_babel import gettext as _
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError

from dashboard.config import ConfigError
from dashboard.errors import Refused
from dashboard.web.humanize import reader_locale

# The entry-point group an installed package declares its job types in.
ENTRY_POINT_GROUP = "request_dashboard.job_types"
FILE_RULES = ("none", "optional", "required")

REGISTRY = {}


def _is_integer(checker, instance):
    """A JSON integer as written: 2.0 is a float here (JSON Schema's default calls it an
    integer, and `range(2.0)` then fails in the job), and true/false are never numbers."""
    return isinstance(instance, int) and not isinstance(instance, bool)


# The validator every job type's params (and anything validated "as at submit") go through.
ParamsValidator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer))



@dataclass(frozen=True)
class JobType:
    name: str
    title: str
    schema: dict                     # JSON Schema of params (additionalProperties: false)
    run: Callable                    # run(ctx) -> result dict
    file: str = "none"               # "none" | "optional" | "required"
    soft_limit_s: int = 300
    hard_limit_s: int = 330
    max_attempts: int = 1            # >1 enables auto-retry of failures
    backoff_s: float = 10.0          # first auto-retry delay; doubles per attempt
    check: Callable = None           # check(params, upload_meta) -> None or raise Refused
    max_wait_s: float = None         # SLA: longest wait to start (None: no limit), see sla.py
    max_run_s: float = None          # SLA: longest run
    # expected_s(params) -> the longest a request should run, in seconds, or None when it
    # cannot be told: requests that can be told short may share a message (tasks.batches).
    expected_s: Callable = None
    # Params `check` fills in from the file (a volume's format): a re-run with a new file
    # finds them anew unless they were changed.
    from_file: tuple = ()
    description: str = ""            # a sentence or two for the new-request form and the API
    # Dispatch: the broker queue, and the declared limits (an admin may override them at
    # run time, dashboard.jobs.limits). priority -10..10, higher first; max_running caps
    # pending + running requests of the type; rate_per_min caps dispatches a minute.
    queue: str = "requests"
    priority: int = 0
    max_running: int = None          # None: no limit
    rate_per_min: int = None         # None: no limit

    @cached_property
    def validator(self):
        """The compiled validator of `schema` (built once)."""
        return ParamsValidator(self.schema)

    def validate(self, params, upload_meta):
        """Params with defaults filled in, or Refused naming the field."""
        if not isinstance(params, dict):
            raise Refused(_("params: must be a JSON object"))
        errors = sorted(self.validator.iter_errors(params), key=lambda e: list(e.path))
        if errors:
            raise Refused(_message(errors[0]))
        filled = dict(params)
        for key, spec in self.schema.get("properties", {}).items():
            if key not in filled and "default" in spec:
                filled[key] = spec["default"]
        if self.file == "required" and not upload_meta:
            raise Refused(_("file: job type %(name)r needs a non-empty file", name=self.name))
        if self.file == "none" and upload_meta:
            raise Refused(_("file: job type %(name)r takes no file", name=self.name))
        if self.check:
            self.check(filled, upload_meta)
        return filled

    def limits(self, params):
        """(soft, hard) seconds for this request: `timeout_seconds` may lower them, never raise."""
        soft, hard = self.soft_limit_s, self.hard_limit_s
        wanted = params.get("timeout_seconds")
        if wanted:
            hard = min(hard, float(wanted))
            soft = min(soft, float(wanted))
        if soft >= hard:
            soft = max(hard - 1, hard * 0.8)
        return soft, hard

    def expected(self, params):
        """The longest this request should run (seconds), or None when unknown."""
        return self.expected_s(params) if self.expected_s else None


def _message(error):
    """A jsonschema error as 'params.field: what is wrong'."""
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return (_("params.%(name)s: unknown parameter", name=extra[0]) if extra
                else _("params: unknown parameter"))
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return _("params.%(name)s: is required", name=missing)
    path = ".".join(str(p) for p in error.absolute_path)
    where = f"params.{path}" if path else "params"
    text = _schema_words(error)
    shown = repr(error.instance)
    if len(shown) > 40:  # a 400-digit number or a long string: say what is wrong, not all of it
        text = text.replace(shown, shown[:37] + "...", 1)
    if len(text) > 200:
        text = text[:200] + "…"
    return f"{where}: {text}"


def _schema_words(error):
    """jsonschema's reason, in the reader's language (its own English text for English)."""
    said = {
        "maximum": lambda v: _("%(value)s is greater than the maximum of %(limit)s", **v),
        "minimum": lambda v: _("%(value)s is less than the minimum of %(limit)s", **v),
        "exclusiveMaximum": lambda v: _("%(value)s is greater than or equal to the maximum of"
                                        " %(limit)s", **v),
        "exclusiveMinimum": lambda v: _("%(value)s is less than or equal to the minimum of"
                                        " %(limit)s", **v),
        "type": lambda v: _("%(value)s is not of type %(limit)s", **v),
        "enum": lambda v: _("%(value)s is not one of %(limit)s", **v),
    }.get(error.validator)
    if said is None or reader_locale().language == "en":
        return error.message
    limit = error.validator_value
    if error.validator == "type":
        limit = ", ".join(repr(t) for t in ([limit] if isinstance(limit, str) else limit))
    return said({"value": repr(error.instance), "limit": limit if isinstance(limit, str)
                 else repr(limit)})


def non_finite(value, path="params"):
    """The path of the first NaN/Infinity in `value` (JSON and PostgreSQL's jsonb have none),
    or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = non_finite(item, f"{path}.{key}")
        if found:
            return found
    return None


def result_json(result):
    """A job's result as JSON text to store, or ValueError naming a NaN or Infinity in it:
    the result is never written with one."""
    try:
        return json.dumps(result, allow_nan=False)
    except ValueError:
        where = non_finite(result, "result")
        if where is None:
            raise
        raise ValueError(f"{where}: NaN and Infinity are not numbers JSON allows") from None


def register(job):
    """Add a job type to the registry once its schema is a valid JSON Schema."""
    ParamsValidator.check_schema(job.schema)
    REGISTRY[job.name] = job
    return job


def register_all(job_types):
    """Make `job_types` the registry (the app factory passes what `discover` found)."""
    checked = [register(job) for job in job_types]
    for name in set(REGISTRY) - {job.name for job in checked}:
        del REGISTRY[name]


class JobTypeError(ConfigError):
    """A job type cannot be loaded: the message is one line naming where it came from."""

    def __init__(self, message):
        super().__init__(f"job types: {message}")


def discover(*module_lists, group=ENTRY_POINT_GROUP):
    """Every job type to register, checked: those of the modules named in `module_lists`
    (each a list of names of modules exposing JOB_TYPES, or a comma-separated string), then
    the entry points of `group` (None: none). JobTypeError for a module or entry point that
    fails to import, an object that is not a JobType, an invalid params schema or a name
    used twice."""
    names = []
    for modules in module_lists:
        names += modules.split(",") if isinstance(modules, str) else list(modules)
    sources = [(f"module {name!r}", _module_loader(name))
               for name in (m.strip() for m in names) if name]
    if group:
        found = sorted(entry_points(group=group), key=lambda e: (e.name, e.value))
        sources += [(f"entry point '{ep.name} = {ep.value}'", _entry_point_loader(ep))
                    for ep in found]
    declared = {}
    for source, load in sources:
        for job in _job_types(source, load()):
            _check(source, job)
            if job.name in declared:
                raise JobTypeError(f"{source} declares job type {job.name!r}, already declared"
                                   f" by {declared[job.name][0]}")
            declared[job.name] = (source, job)
    return [job for _, job in declared.values()]


def _failed(source, exc):
    """One line: the source, the exception's type and its first line."""
    text = str(exc).strip().splitlines()
    return JobTypeError(f"{source} failed to import: {type(exc).__name__}"
                        + (f": {text[0]}" if text else ""))


def _module_loader(name):
    """Import the module `name` and return its JOB_TYPES."""
    def load():
        source = f"module {name!r}"
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            raise _failed(source, exc) from None
        if not hasattr(module, "JOB_TYPES"):
            raise JobTypeError(f"{source} has no JOB_TYPES (a list of JobType)")
        return module.JOB_TYPES
    return load


def _entry_point_loader(ep):
    """Load an entry point: a JobType, a list of them, or a callable returning either."""
    def load():
        source = f"entry point '{ep.name} = {ep.value}'"
        try:
            value = ep.load()
        except Exception as exc:
            raise _failed(source, exc) from None
        if callable(value) and not isinstance(value, JobType):
            try:
                value = value()
            except Exception as exc:
                raise JobTypeError(f"{source} raised {type(exc).__name__}: "
                                   f"{(str(exc).strip().splitlines() or [''])[0]}") from None
        return value
    return load


def _job_types(source, value):
    """`value` as a list of JobType, or JobTypeError naming what it is instead."""
    items = [value] if isinstance(value, JobType) else value
    if isinstance(items, (str, bytes, dict)) or not hasattr(items, "__iter__"):
        items = [value]
    items = list(items)
    for item in items:
        if not isinstance(item, JobType):
            shown = repr(item)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise JobTypeError(f"{source} gave {type(item).__name__} {shown}, not a JobType"
                               " (from dashboard.jobs import JobType)")
    return items


def _check(source, job):
    """JobTypeError unless the declaration can run: a name, a runner, a file rule, a schema."""
    name = job.name
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise JobTypeError(f"{source} gave a job type whose name {name!r} is not a short"
                           " non-empty string")
    where = f"{source}: job type {name!r}"
    if not callable(job.run):
        raise JobTypeError(f"{where}: run is not a function")
    if job.file not in FILE_RULES:
        raise JobTypeError(f"{where}: file must be one of {', '.join(FILE_RULES)}"
                           f" (not {job.file!r})")
    if not isinstance(job.schema, dict) or job.schema.get("type") != "object":
        raise JobTypeError(f"{where}: the params schema must be a JSON Schema object"
                           ' ({"type": "object", ...})')
    try:
        ParamsValidator.check_schema(job.schema)
    except SchemaError as exc:
        path = "/".join(str(p) for p in exc.path)
        raise JobTypeError(f"{where}: invalid params schema"
                           f"{f' at {path}' if path else ''}: {exc.message}") from None
    _check_dispatch(where, job)


def _check_dispatch(where, job):
    """JobTypeError unless the queue and the declared limits are usable values."""
    def integer(value):
        return isinstance(value, int) and not isinstance(value, bool)
    if not isinstance(job.queue, str) or not job.queue.strip():
        raise JobTypeError(f"{where}: queue must be a non-empty string (not {job.queue!r})")
    if not integer(job.priority) or not -10 <= job.priority <= 10:
        raise JobTypeError(f"{where}: priority must be an integer from -10 to 10"
                           f" (not {job.priority!r})")
    for field in ("max_running", "rate_per_min"):
        value = getattr(job, field)
        if value is not None and (not integer(value) or not 1 <= value <= 2 ** 31 - 1):
            raise JobTypeError(f"{where}: {field} must be a positive integer or None"
                               f" (not {value!r})")


def get(name):
    """The job type called `name`, or Refused."""
    job = REGISTRY.get(name) if isinstance(name, str) else None
    if job is None:
        known = ", ".join(sorted(REGISTRY))
        raise Refused(_("job_type: unknown job type %(name)r (known: %(known)s)",
                         name=str(name)[:80], known=known))
    return job


def parse_params(raw):
    """Params from the form/API text: empty means {}; not JSON -> Refused."""
    if raw is None or str(raw).strip() == "":
        return {}
    try:
        return json.loads(raw, object_pairs_hook=_no_duplicate_keys)
    except Refused:
        raise
    except (ValueError, RecursionError) as exc:
        raise Refused(_("params: not valid JSON (%(name)s: %(exc)s)", name=exc.__class__.__name__,
                         exc=str(exc)[:120]))


def _no_duplicate_keys(pairs):
    """A JSON object whose keys are all different (json.loads keeps the last one silently)."""
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise Refused(_("params.%(key)s: given twice", key=key[:80]))
        seen[key] = value
    return seen


def max_hard_limit():
    """The largest hard limit of any job type (RabbitMQ's consumer_timeout must exceed it)."""
    return max(job.hard_limit_s for job in REGISTRY.values())

