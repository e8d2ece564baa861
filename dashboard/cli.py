"""Command-line: users and tokens, the initial admin, the dispatcher."""
import os
import secrets
from datetime import datetime, timezone

import click
from flask import current_app
from sqlalchemy import select

from dashboard import audit
from dashboard.dispatcher import Listener
from dashboard.extensions import db
from dashboard.models import ROLES, ApiToken, User
from dashboard.web.auth import (
    USERNAME_RE,
    check_password,
    hash_password,
    issue_token,
    password_problem,
)
from dashboard.workers.cli import workers


def init_app(app):
    """Register `flask users ...` and `flask dispatcher`."""
    app.cli.add_command(users)
    app.cli.add_command(dispatcher)
    app.cli.add_command(workers)


@click.group()
def users():
    """Manage dashboard users and API tokens."""


def _find(name):
    """The user called NAME, or a click error."""
    user = db.session.execute(select(User).where(User.username == name)).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"no user {name!r}")
    return user


@users.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--email", default=None)
def create_user(name, role, password, email):
    """Create a user (or update the role and password of an existing one)."""
    if not USERNAME_RE.match(name):
        raise click.ClickException("NAME: 1 to 80 letters, digits or . _ @ -, starting with a"
                                   " letter or digit")
    problem = password_problem(password)
    if problem:
        raise click.ClickException(problem)
    user = db.session.execute(select(User).where(User.username == name)).scalar_one_or_none()
    action = "user_create" if user is None else "user_password"
    if user is None:
        user = User(username=name)
        db.session.add(user)
    user.role, user.password_hash, user.active = role, hash_password(password), True
    if email:
        user.email = email
    audit.record(action, "ok", username="cli", detail={"user": name, "role": role})
    db.session.commit()
    click.echo(f"user {name} ({role}) ready")


@users.command("token")
@click.argument("name")
@click.option("--label", default="cli", help="A name to recognise the token by.")
def create_token(name, label):
    """Print a new API token for NAME (shown once; only its hash is stored)."""
    user = _find(name)
    token = issue_token(user, label)
    audit.record("token_create", "ok", username="cli", detail={"user": name, "name": label})
    db.session.commit()
    click.echo(token)


@users.command("revoke")
@click.argument("name")
@click.option("--all", "everything", is_flag=True, help="Revoke every token of NAME.")
@click.option("--id", "token_id", type=int, help="The token's number (see the users page).")
def revoke_token(name, everything, token_id):
    """Revoke NAME's API token --id N, or --all of them; calls with them then answer 401."""
    user = _find(name)
    if not everything and token_id is None:
        raise click.ClickException("give --id N or --all")
    tokens = [t for t in db.session.execute(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))).scalars()
        if everything or t.id == token_id]
    for token in tokens:
        token.revoked_at = datetime.now(timezone.utc)
        audit.record("token_revoke", "ok", username="cli",
                     detail={"user": name, "token": token.id})
    db.session.commit()
    click.echo(f"revoked {len(tokens)} token(s) of {name}")


@users.command("disable")
@click.argument("name")
def disable_user(name):
    """Disable NAME: no sign-in, sessions end, tokens stop working."""
    user = _find(name)
    user.active = False
    audit.record("user_disable", "ok", username="cli", detail={"user": name})
    db.session.commit()
    click.echo(f"user {name} disabled")


@users.command("ensure-admin")
@click.option("--username", default="admin", show_default=True)
@click.option("--password-file", default="var/secrets/admin_password", show_default=True)
def ensure_admin(username, password_file):
    """Create the initial admin if missing; print the URL and credentials."""
    password = current_app.config["ADMIN_PASSWORD"]
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if not password and os.path.exists(password_file):
        with open(password_file) as fh:
            password = fh.read().strip()
    generated = not password
    if generated:
        password = secrets.token_urlsafe(12)
        os.makedirs(os.path.dirname(password_file) or ".", exist_ok=True)
        with open(os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
            fh.write(password + "\n")
    if user is None:
        db.session.add(User(username=username, role="admin",
                            password_hash=hash_password(password)))
    elif current_app.config["ADMIN_PASSWORD"] or generated:
        user.password_hash, user.role, user.active = hash_password(password), "admin", True
    elif not check_password(user, password):
        password = f"(changed since it was first set; not in {password_file})"
    db.session.commit()
    url = f"http://{current_app.config['WEB_HOST']}:{current_app.config['WEB_PORT']}/"
    click.echo(f"Dashboard: {url}\nSign in as: {username}\nPassword:   {password}")


@click.command("dispatcher")
def dispatcher():
    """Run the PostgreSQL listener: LISTEN/NOTIFY + sweep, claim, publish."""
    Listener(current_app._get_current_object()).run()
