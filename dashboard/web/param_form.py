"""The new-request form's fields, built from a job type's JSON Schema, and back.

`fields(job, values)` describes one control (or a group, for a fixed-length array)
per schema property, with its bounds, default, title and description; the template
renders them. `params_from_form(job, form)` turns the posted controls into a params
object for the job type's own validator (jobs.ParamsValidator): a number box's
text becomes a JSON number when it is one and stays text when it is not, so the
validator words the refusal; an empty control is left out (its default applies).
`error_field(message)` names the field a Refused message is about, so the
page can show it next to that control. There is no second validator here.
"""
import math
import re
from dataclasses import dataclass, field

PREFIX = "p."          # form names: "p.min_seconds", "p.shape.0"
_WHERE = re.compile(r"^params\.([A-Za-z0-9_]+)(?:\.(\d+))?:")


@dataclass
class Field:
    """One schema property as the form shows it."""
    name: str
    kind: str                      # "number" | "integer" | "boolean" | "enum" | "array" | "string"
    label: str
    description: str = ""
    default: object = None
    minimum: float = None
    maximum: float = None
    above: bool = False            # the minimum itself is not allowed (exclusiveMinimum)
    step: str = "any"
    options: list = field(default_factory=list)
    items: list = field(default_factory=list)   # for arrays: one Field per element
    value: object = ""             # what the control shows (entered, else the default)
    error: str = ""

    @property
    def id(self):
        return "p-" + self.name.replace(".", "-")

    @property
    def form_name(self):
        return PREFIX + self.name


def _label(name, spec):
    return spec.get("title") or name.replace("_", " ").capitalize()


def _bounds(spec):
    """(min, max) an <input type=number> can carry (an exclusive bound is shown as is)."""
    low = spec.get("minimum", spec.get("exclusiveMinimum"))
    high = spec.get("maximum", spec.get("exclusiveMaximum"))
    return low, high


def _fixed_length(spec):
    """The element count of a fixed-length array property (shown as one control each), or 0."""
    if spec.get("type") == "array" and spec.get("minItems") == spec.get("maxItems"):
        return spec.get("minItems") or 0
    return 0


def _scalar(name, spec, label, entered):
    """A Field for a number, integer, boolean, enum or string property."""
    if "enum" in spec:
        kind = "enum"
    else:
        kind = spec.get("type") if spec.get("type") in ("number", "integer", "boolean") else "string"
    low, high = _bounds(spec)
    default = spec.get("default")
    shown = entered if entered is not None else ("" if default is None else default)
    return Field(name=name, kind=kind, label=label, description=spec.get("description", ""),
                 default=default, minimum=low, maximum=high,
                 above="minimum" not in spec and "exclusiveMinimum" in spec,
                 step="1" if kind == "integer" else "any",
                 options=[str(o) for o in spec.get("enum", [])], value=shown)


def fields(job, form=None):
    """The job type's Fields, showing `form`'s entered values (a MultiDict) when given."""
    form = form or {}
    posted = any(key.startswith(PREFIX) for key in form)
    out = []
    for name, spec in job.schema.get("properties", {}).items():
        label = _label(name, spec)
        if _fixed_length(spec):
            default = spec.get("default") or []
            items = []
            for i in range(_fixed_length(spec)):
                key = f"{PREFIX}{name}.{i}"
                entered = form.get(key) if key in form else None
                item = _scalar(f"{name}.{i}", spec.get("items", {}), f"{name}[{i}]", entered)
                if entered is None and i < len(default):
                    item.value = default[i]
                items.append(item)
            out.append(Field(name=name, kind="array", label=label,
                             description=spec.get("description", ""), items=items))
            continue
        key = PREFIX + name
        if spec.get("type") == "boolean":
            entered = (key in form) if posted else None
        else:
            entered = form.get(key) if key in form else None
        out.append(_scalar(name, spec, label, entered))
    return out


def _number(text):
    """The JSON number `text` writes (an int when written as one), else the text itself."""
    text = text.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def _value(spec, text):
    if spec.get("type") in ("number", "integer"):
        return _number(text)
    return text


def params_from_form(job, form):
    """The params the form's controls give (empty controls left out, booleans as ticked)."""
    params = {}
    for name, spec in job.schema.get("properties", {}).items():
        if spec.get("type") == "boolean":
            params[name] = PREFIX + name in form
        elif _fixed_length(spec):
            texts = [form.get(f"{PREFIX}{name}.{i}", "").strip()
                     for i in range(_fixed_length(spec))]
            if any(texts):
                params[name] = [_value(spec.get("items", {}), t) if t else None for t in texts]
        else:
            text = form.get(PREFIX + name, "").strip()
            if text:
                params[name] = _value(spec, text)
    return params


def error_field(message):
    """(field name, element index or None) a Refused message is about, or (None, None)."""
    found = _WHERE.match(message or "")
    if not found:
        return None, None
    return found.group(1), int(found.group(2)) if found.group(2) is not None else None


def with_error(shown, message):
    """Attach `message` to the Field (or array element) it names; True when one took it."""
    name, index = error_field(message)
    for f in shown:
        if f.name == name:
            f.error = message
            if index is not None and index < len(f.items):
                f.items[index].error = message
            return True
    return False
