#!/usr/bin/env python3
"""The front door's nginx: deploy/nginx.conf filled in, then nginx in the foreground.

    python3 deploy/nginx.py [--var DIR] [--listen HOST:PORT] [--socket PATH]

Run by supervisord as the `nginx` program (deploy/supervisord.conf, deploy/conf.d/).
It writes DIR/run/nginx.conf (DIR: var/ of the checkout) listening on WEB_HOST:WEB_PORT
(default 127.0.0.1:8000) and proxying to gunicorn's unix socket (DIR/run/web.sock), then
replaces itself with `nginx -g 'daemon off;'` on it, so supervisord signals nginx itself
(HUP reloads it without dropping a connection). Standard library only, like services.py.
"""
import argparse
import getpass
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(ROOT, "deploy", "nginx.conf")
NGINX = "/usr/sbin/nginx"
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def binary():
    """Debian's nginx (deploy/services.py start installs it), else one on the PATH."""
    return NGINX if os.path.exists(NGINX) else shutil.which("nginx")


def render(var, listen, socket_path, user=None):
    """The configuration text: the template with its @NAMES@ filled in."""
    with open(TEMPLATE) as fh:
        text = fh.read()
    # nginx's master drops to `user` for its workers only when it runs as root.
    values = {"@USER@": f"user {user};" if user else "", "@VAR@": var,
              "@LISTEN@": listen, "@SOCKET@": socket_path}
    for name, value in values.items():
        text = text.replace(name, value)
    return text


def write(var, listen, socket_path):
    """DIR/run/nginx.conf and nginx's temp folders; the configuration's path."""
    for sub in TEMP_DIRS:
        os.makedirs(os.path.join(var, "nginx", sub), mode=0o700, exist_ok=True)
    os.makedirs(os.path.join(var, "run"), exist_ok=True)
    # Root runs the workers as root too: they reach gunicorn's socket, which only its owner can.
    user = getpass.getuser() if os.geteuid() == 0 else None
    path = os.path.join(var, "run", "nginx.conf")
    with open(path, "w") as fh:
        fh.write(render(var, listen, socket_path, user))
    return path


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var", default=os.path.join(ROOT, "var"))
    parser.add_argument("--listen", default=f"{os.environ.get('WEB_HOST') or '127.0.0.1'}:"
                                            f"{os.environ.get('WEB_PORT') or 8000}")
    parser.add_argument("--socket", help="gunicorn's unix socket (default VAR/run/web.sock)")
    args = parser.parse_args(argv)
    var = os.path.abspath(args.var)
    nginx = binary()
    if not nginx:
        print("nginx is not installed: run `python3 deploy/services.py start` (as root it"
              " installs Debian's nginx) or `apt-get install nginx`", file=sys.stderr)
        return 2
    conf = write(var, args.listen, args.socket or os.path.join(var, "run", "web.sock"))
    os.execv(nginx, [nginx, "-e", "stderr", "-p", os.path.join(var, "nginx"), "-c", conf,
                     "-g", "daemon off;"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
