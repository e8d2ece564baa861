"""deploy/conf.d/: one supervisor file per program, read by supervisor's own config parser."""
import getpass
import glob
import os
import shlex

from supervisor.options import ServerOptions

from tests.support.env import ROOT

CONF_D = os.path.join(ROOT, "deploy", "conf.d")
PROGRAMS = {"web", "nginx", "dispatcher", "worker1", "worker2", "beat", "flower"}
# A worker-only host's file: its own pair of workers, never installed next to the others.
WORKER_HOST = os.path.join(CONF_D, "worker-host.conf")


def dashboard_host_files():
    """The files of the dashboard's host: one program each."""
    return sorted(f for f in glob.glob(os.path.join(CONF_D, "*.conf")) if f != WORKER_HOST)


def local_copies(tmp_path, files):
    """The files as they are, except what supervisor checks on this machine while parsing:
    the `dashboard` account (the copy names the current user) and /var/log/dashboard (the
    copy logs under tmp_path/log). Everything else is parsed as installed."""
    out, logs = tmp_path / "conf.d", tmp_path / "log"
    out.mkdir(exist_ok=True)
    logs.mkdir(exist_ok=True)
    copies = []
    for path in files:
        with open(path) as fh:
            body = fh.read()
        assert "\nuser=dashboard\n" in body, path
        target = out / os.path.basename(path)
        body = body.replace("\nuser=dashboard\n", f"\nuser={getpass.getuser()}\n")
        target.write_text(body.replace("=/var/log/dashboard/", f"={logs}/"))
        copies.append(str(target))
    return copies


def load(tmp_path, files):
    """Supervisor's ServerOptions over a supervisord.conf that includes `files`."""
    files = local_copies(tmp_path, files)
    main = tmp_path / "supervisord.conf"
    main.write_text(
        "[supervisord]\n"
        f"logfile={tmp_path}/supervisord.log\npidfile={tmp_path}/supervisord.pid\n"
        "[include]\n"
        f"files = {' '.join(files)}\n")
    options = ServerOptions()
    options.configfile = str(main)
    options.process_config(do_usage=False)
    return options


def test_each_file_parses_alone_and_holds_one_program(tmp_path):
    files = dashboard_host_files()
    assert {os.path.basename(f)[:-5] for f in files} == PROGRAMS
    for path in files:
        [group] = load(tmp_path, [path]).process_group_configs
        assert group.name == os.path.basename(path)[:-5]
        [program] = group.process_configs
        assert program.directory == "/srv/dashboard"
        assert program.stdout_logfile == str(tmp_path / "log" / f"{group.name}.log")
        argv = shlex.split(program.command)
        if argv[:2] == ["/bin/sh", "-c"]:  # a directory made first, then the program exec'd
            argv = shlex.split(argv[2].rpartition("exec ")[2])
        assert os.path.isabs(argv[0]) and argv[0].startswith("/srv/dashboard/.venv/bin/")


def test_all_together_workers_and_beat_with_absolute_pidfiles(tmp_path):
    options = load(tmp_path, dashboard_host_files())
    programs = {g.name: g.process_configs[0] for g in options.process_group_configs}
    assert set(programs) == PROGRAMS
    for name in ("worker1", "worker2", "beat"):
        argv = shlex.split(programs[name].command)
        pidfile = argv[argv.index("--pidfile") + 1]
        assert os.path.isabs(pidfile) and pidfile.endswith(f"/{name}.pid")
    for name in ("worker1", "worker2"):
        argv = shlex.split(programs[name].command)
        assert argv[argv.index("-n") + 1] == f"{name}@%h"  # supervisor's %% left to celery
        assert argv[argv.index("-Q") + 1] == "requests"   # its queues, named
        assert programs[name].stopsignal == 15  # TERM: warm shutdown
    assert "--unix_socket=/srv/dashboard/var/run/flower/flower.sock" in programs["flower"].command


def test_a_worker_hosts_file_holds_two_workers_that_give_up_after_failed_starts(tmp_path):
    options = load(tmp_path, [WORKER_HOST])
    programs = {g.name: g.process_configs[0] for g in options.process_group_configs}
    assert set(programs) == {"worker1", "worker2"}
    for name, program in programs.items():
        argv = shlex.split(program.command)
        assert argv[argv.index("-n") + 1] == f"{name}@%h" and program.stopsignal == 15
        assert (program.startsecs, program.startretries, program.exitcodes) == (10, 3, [0])
