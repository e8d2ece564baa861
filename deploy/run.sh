#!/usr/bin/env bash
# `make run`: the stack under supervisord in the foreground, stopped whole by Ctrl-C.
#
# supervisord runs in a session of its own, its output to its log file only, never
# to this terminal or pipe: `make run | tee run.log` cannot kill it with a closed pipe.
# This script shows the log (tail -F) and, on INT, TERM, HUP, PIPE or its own exit,
# asks supervisord to shut down and waits until it has stopped every program.
# Needs SUPERVISOR_USER and SUPERVISOR_PASSWORD (the Makefile sets them).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
conf=deploy/supervisord.conf
bin=.venv/bin
mkdir -p var/log var/run
touch var/log/supervisord.log

tail -n 0 -F var/log/supervisord.log 2>/dev/null &
tail_pid=$!
# --silent: its log lines go to the log file only; what it prints before that (a bad
# configuration) is appended there too, so the tail above shows it.
setsid "$bin/supervisord" -n --silent -c "$conf" </dev/null >>var/log/supervisord.log 2>&1 &
pid=$!

stop() {
    trap '' INT TERM HUP PIPE
    trap - EXIT
    if kill -0 "$pid" 2>/dev/null; then
        echo "Stopping the stack ..." >&2 2>/dev/null || true
        "$bin/supervisorctl" -c "$conf" shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    kill "$tail_pid" 2>/dev/null
    exit "${1:-0}"
}
trap 'stop 130' INT
trap 'stop 143' TERM
trap 'stop 129' HUP
trap 'stop 141' PIPE
trap 'stop $?' EXIT

wait "$pid"
status=$?
# supervisord ended by itself (e.g. a bad configuration): say where its reasons are.
echo "supervisord exited ($status); see var/log/supervisord.log" >&2 2>/dev/null || true
stop "$status"
