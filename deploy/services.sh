#!/usr/bin/env bash
# A thin entry for the Python service manager (deploy/services.py): start|stop|status|test-env NAME.
exec python3 "$(dirname "${BASH_SOURCE[0]}")/services.py" "$@"
