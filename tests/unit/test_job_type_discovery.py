"""Job types from modules (JOB_TYPE_MODULES) and installed packages' entry points.

Each problem stops start-up with one line naming where the job type came from: a
module or entry point that fails to import, an object that is not a JobType, an
invalid params schema, a name used twice. The packages here are written to a
temporary folder put on sys.path, with a `.dist-info` folder for their entry points,
which is what `pip install` leaves behind.
"""
import sys
import textwrap

import pytest

from dashboard import BUILTIN_JOB_TYPE_MODULES, jobs
from dashboard.config import ConfigError
from dashboard.jobs import JobTypeError

GROUP = "test_dashboard.job_types"      # not the real group: installed packages stay out

DECLARE = """
from dashboard.jobs import JobType

def run(ctx):
    return {{"ok": True}}

def job(name, schema=None):
    return JobType(name=name, title=name.title(), run=run,
                   schema=schema or {{"type": "object", "additionalProperties": False,
                                      "properties": {{}}}})

{body}
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    """write(module, body, entry_points=None): a module (and its entry points) importable now."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written = []

    def write(module, body, entry_points=None):
        (tmp_path / f"{module}.py").write_text(DECLARE.format(body=textwrap.dedent(body)))
        written.append(module)
        if entry_points is not None:
            info = tmp_path / f"{module}-1.0.dist-info"
            info.mkdir()
            (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\n"
                                           "Version: 1.0\n")
            lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
            (info / "entry_points.txt").write_text(f"[{GROUP}]\n{lines}")
        return module

    yield write
    for module in written:
        sys.modules.pop(module, None)


def names(found):
    return [job.name for job in found]


def test_builtin_modules_declare_simulate_and_load_array():
    assert names(jobs.discover(BUILTIN_JOB_TYPE_MODULES, group=None)) == [
        "simulate", "simulate_flaky", "load_array"]


def test_a_module_named_by_job_type_modules(site):
    site("team_one", 'JOB_TYPES = [job("resize"), job("crop")]')
    site("team_two", 'JOB_TYPES = (job("transcode"),)')
    found = jobs.discover(BUILTIN_JOB_TYPE_MODULES, " team_one, ,team_two ", group=None)
    assert names(found) == ["simulate", "simulate_flaky", "load_array", "resize", "crop",
                            "transcode"]
    assert found[3].run(None) == {"ok": True}


def test_entry_points_a_job_type_a_list_or_a_callable(site):
    site("team_pkg", """
        RESIZE = job("resize")
        JOB_TYPES = [job("crop"), job("rotate")]

        def more():
            return [job("blur")]

        def one():
            return job("sharpen")
        """, entry_points={"resize": "team_pkg:RESIZE", "several": "team_pkg:JOB_TYPES",
                           "more": "team_pkg:more", "one": "team_pkg:one"})
    assert sorted(names(jobs.discover(group=GROUP))) == [
        "blur", "crop", "resize", "rotate", "sharpen"]


def test_registered_set_is_exactly_what_was_found(site):
    site("team_three", 'JOB_TYPES = [job("resize")]')
    try:
        jobs.register_all(jobs.discover(BUILTIN_JOB_TYPE_MODULES, ["team_three"], group=None))
        assert jobs.get("resize").title == "Resize"
        jobs.register_all(jobs.discover(BUILTIN_JOB_TYPE_MODULES, group=None))
        assert "resize" not in jobs.REGISTRY
    finally:
        jobs.register_all(jobs.discover(BUILTIN_JOB_TYPE_MODULES, group=None))


def refusal(*args, **kwargs):
    """The one-line message discover stops with."""
    with pytest.raises(JobTypeError) as caught:
        jobs.discover(*args, **kwargs)
    message = str(caught.value)
    assert isinstance(caught.value, ConfigError)
    assert "\n" not in message and message.startswith("job types: "), message
    return message


def test_a_name_used_twice_names_both_sources(site):
    site("team_dup", 'JOB_TYPES = [job("simulate")]')
    assert refusal(BUILTIN_JOB_TYPE_MODULES, "team_dup", group=None) == (
        "job types: module 'team_dup' declares job type 'simulate', already declared by"
        " module 'dashboard.jobs.simulate'")


def test_a_name_used_twice_across_entry_points(site):
    site("team_twice", 'A = job("resize")\nB = job("resize")',
         entry_points={"a": "team_twice:A", "b": "team_twice:B"})
    assert refusal(group=GROUP) == (
        "job types: entry point 'b = team_twice:B' declares job type 'resize', already"
        " declared by entry point 'a = team_twice:A'")


def test_an_invalid_params_schema(site):
    site("team_schema", 'JOB_TYPES = [job("resize", {"type": "object", "properties":'
                        ' {"width": {"type": "integr"}}})]')
    message = refusal("team_schema", group=None)
    assert message.startswith("job types: module 'team_schema': job type 'resize': invalid"
                              " params schema at properties/width/type: 'integr' is not"), message


def test_a_schema_that_is_not_an_object(site):
    site("team_list", 'JOB_TYPES = [job("resize", {"type": "array"})]')
    assert "params schema must be a JSON Schema object" in refusal("team_list", group=None)


def test_a_module_that_fails_to_import(site):
    site("team_broken", "import team_missing_dependency")
    assert refusal("team_broken", group=None) == (
        "job types: module 'team_broken' failed to import: ModuleNotFoundError: No module"
        " named 'team_missing_dependency'")
    assert refusal("team_absent", group=None) == (
        "job types: module 'team_absent' failed to import: ModuleNotFoundError: No module"
        " named 'team_absent'")


def test_an_entry_point_that_fails_to_import(site):
    site("acme_fake", 'JOB_TYPES = []', entry_points={"thumbs": "acme_fake.x:JOB_TYPES"})
    assert refusal(group=GROUP) == (
        "job types: entry point 'thumbs = acme_fake.x:JOB_TYPES' failed to import:"
        " ModuleNotFoundError: No module named 'acme_fake.x'; 'acme_fake' is not a package")


def test_an_entry_point_whose_callable_raises(site):
    site("team_raises", "def build():\n    raise RuntimeError('no GPU here')",
         entry_points={"gpu": "team_raises:build"})
    assert refusal(group=GROUP) == (
        "job types: entry point 'gpu = team_raises:build' raised RuntimeError: no GPU here")


def test_an_object_that_is_not_a_job_type(site):
    site("team_dicts", 'JOB_TYPES = [job("resize"), {"name": "crop"}]')
    assert refusal("team_dicts", group=None) == (
        "job types: module 'team_dicts' gave dict {'name': 'crop'}, not a JobType"
        " (from dashboard.jobs import JobType)")
    site("team_none", "JOB_TYPES = None")
    assert "gave NoneType None, not a JobType" in refusal("team_none", group=None)
    site("team_nothing", "X = 1")
    assert refusal("team_nothing", group=None) == (
        "job types: module 'team_nothing' has no JOB_TYPES (a list of JobType)")


def test_a_bad_file_rule(site):
    site("team_file", 'import dataclasses\n'
                      'JOB_TYPES = [dataclasses.replace(job("resize"), file="maybe")]')
    assert refusal("team_file", group=None) == (
        "job types: module 'team_file': job type 'resize': file must be one of none,"
        " optional, required (not 'maybe')")
