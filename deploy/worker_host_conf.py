"""The supervisord configuration `make worker-host` writes: workers only, paths in this checkout.

The worker programs keep deploy/supervisord.conf's stop and restart rules
(warm shutdown on TERM, exit 0 stays down, the dashboard's restart exits 75 and
is started again) and add a limit: a worker that exits within STARTSECS of its
start STARTRETRIES times in a row is left FATAL, not restarted in a loop.
"""
import os

STARTSECS, STARTRETRIES = 10, 3


def _worker(n, root, log_dir, queues, concurrency):
    """One [program:workerN] section."""
    return f"""
[program:worker{n}]
command={root}/.venv/bin/celery -A worker worker -n worker{n}@%%h -Q {queues} -E --pool prefork --concurrency {concurrency} --loglevel INFO
directory={root}
priority=300
startsecs={STARTSECS}
startretries={STARTRETRIES}
stopsignal=TERM
stopwaitsecs=75
stopasgroup=false
killasgroup=true
autorestart=unexpected
exitcodes=0
redirect_stderr=true
stdout_logfile={log_dir}/worker{n}.log
stdout_logfile_maxbytes=50MB
stdout_logfile_backups=3
"""


def supervisord_conf(root, run_dir, log_dir, workers, listen, password):
    """The whole file: supervisord, its unix socket, optionally HTTP on `listen`, the workers."""
    queues = os.environ.get("WORKER_QUEUES", "requests").strip() or "requests"
    concurrency = os.environ.get("WORKER_CONCURRENCY", "2").strip() or "2"
    parts = [f"""; Written by deploy/worker_host.py on every start (make worker-host).
[supervisord]
directory={root}
pidfile={run_dir}/supervisord.pid
logfile={log_dir}/supervisord.log
childlogdir={log_dir}
environment=PYTHONUNBUFFERED="1"

[unix_http_server]
file={run_dir}/supervisor.sock
chmod=0700
username=dashboard
password={password}

[supervisorctl]
serverurl=unix://{run_dir}/supervisor.sock
username=dashboard
password={password}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
"""]
    if listen:
        parts.append(f"""
; The dashboard's processes page (SUPERVISORS) reaches this host here.
[inet_http_server]
port={listen}
username=dashboard
password={password}
""")
    parts += [_worker(n, root, log_dir, queues, concurrency) for n in range(1, workers + 1)]
    return "".join(parts)
