"""For merging branches written before tests/support: rewrite their old test imports.

    .venv/bin/python -m tests.support.rewrite_old_imports tests/test_x.py ...

`from conftest import ...`, `from authkit import ...`, `from control_helpers import ...`
and chaos's `from .conftest import ...` become `from tests.support.<module> import ...`
(renames: conftest's Playwright `sign_in` -> `browser_sign_in`, control_helpers' `audit`
-> `audit_rows`; the fixtures `signed_in` and `solo` need no import any more), and
`from <module> import` of a helper module in tests/ becomes `from tests.<module> import`
(tests/ is a package now, no longer on sys.path). Names it does not know are left as
they are and listed. Delete this file once every branch is merged.
"""
import os
import re
import sys

WHERE = {
    "env": "BIN ROOT RUN_DIR RUN_NAME UNIT_DIR",
    "procs": "wait_for free_port Proc worker_proc dispatcher_proc ExitWatch pool_pid is_dead"
             " process_state parent_pid task_log_line wait_online wait_offline active_task"
             " serving",
    "stack": "Stack",
    "db": "fetch wait_status sql attempts audit_rows counts TABLES empty_tables kill_unfinished",
    "apps": "extra_app celery_default_kept app_without_services",
    "http": "csrf_token htmx_token sign_in submit TokenClient Browserless",
    "html": "Page parse parse_table Node TreeBuilder",
    "browser": "CHROMIUM CHROMIUM_ARGS browser_sign_in",
    "mail": "SmtpSink",
    "chaos": "Killer submit_flow statuses settle report REPORTS TERMINAL SEED",
}
MODULE = {name: module for module, names in WHERE.items() for name in names.split()}
FIXTURES = {"signed_in", "solo"}
RENAMES = {("conftest", "sign_in"): "browser_sign_in", ("control_helpers", "audit"): "audit_rows"}
OLD = re.compile(r"^(?P<ind>[ \t]*)from (?P<mod>\.?conftest|authkit|control_helpers|\w+)"
                 r" import (?P<names>\([^)]*\)|[^\n]*)\n", re.M)
TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCAL = {name[:-3] for name in os.listdir(TESTS)
         if name.endswith(".py") and not name.startswith(("test_", "conftest", "__init__"))}


def _names(text):
    """The imported names of an import statement's tail (comments and parentheses dropped)."""
    text = re.sub(r"#[^\n]*", "", text).strip("() \n")
    return [n.strip() for n in text.replace("\n", " ").split(",") if n.strip()]


def _statement(ind, module, names, width=99):
    """`from MODULE import NAMES` at indentation IND, wrapped in parentheses past `width`."""
    line = f"{ind}from {module} import {', '.join(names)}"
    if len(line) <= width:
        return line + "\n"
    head = f"{ind}from {module} import ("
    lines, current = [], head
    for i, name in enumerate(names):
        piece = name + (", " if i < len(names) - 1 else ")")
        if len(current) + len(piece.rstrip()) > width:
            lines.append(current.rstrip())
            current = " " * len(head)
        current += piece
    return "\n".join(lines + [current]) + "\n"


def rewrite(source):
    """(new source, {old name: new name} renamed in the code, names left unknown)."""
    renamed, unknown, out, pos = {}, [], [], 0
    matches = [m for m in OLD.finditer(source)
               if m.group("mod").lstrip(".") in LOCAL | {"conftest", "authkit", "control_helpers"}]
    runs = []
    for match in matches:  # consecutive old imports at one indentation become one block
        if runs and runs[-1][-1].end() == match.start() \
                and runs[-1][-1].group("ind") == match.group("ind"):
            runs[-1].append(match)
        else:
            runs.append([match])
    for run in runs:
        ind, by_module, lines = run[0].group("ind"), {}, []
        for match in run:
            mod = match.group("mod").lstrip(".")
            if mod in LOCAL:
                lines.append(f"{ind}from tests.{mod} import {match.group('names')}\n")
                continue
            kept = []
            for name in _names(match.group("names")):
                if name in FIXTURES:
                    continue
                new = RENAMES.get((mod, name), name)
                if new != name:
                    renamed[name] = new
                if new in MODULE:
                    by_module.setdefault(MODULE[new], set()).add(new)
                else:
                    kept.append(name)
                    unknown.append(name)
            if kept:
                kept_names = ", ".join(kept)
                lines.append(f"{ind}from {match.group('mod')} import {kept_names}  # unknown\n")
        lines[:0] = [_statement(ind, f"tests.support.{module}", sorted(names, key=str.casefold))
                     for module, names in sorted(by_module.items())]
        out += [source[pos:run[0].start()], "".join(lines)]
        pos = run[-1].end()
    new = "".join(out) + source[pos:]
    if renamed.get("sign_in") and re.search(r"from authkit import[^\n]*\bsign_in\b", source):
        unknown.append("sign_in (both the browser's and the test client's: rename by hand)")
    for old, name in renamed.items():
        new = re.sub(rf"(?<![\w.]){old}\(", f"{name}(", new)
    return new, renamed, unknown


def main(paths):
    for path in paths:
        with open(path) as fh:
            source = fh.read()
        new, renamed, unknown = rewrite(source)
        if new != source:
            with open(path, "w") as fh:
                fh.write(new)
            print(f"{path}: rewritten" + (f"; renamed {renamed}" if renamed else ""))
        if unknown:
            print(f"{path}: left as they were (not in tests/support): {', '.join(unknown)}")


if __name__ == "__main__":
    main(sys.argv[1:])
