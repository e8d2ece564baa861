"""Command-line: users and tokens, the initial admin, the dispatcher."""
import os
import secrets

import click
from flask import current_app
from sqlalchemy import select

from .auth import hash_password, issue_token
from .extensions import db
from .models import ROLES, User


def init_app(app):
    """Register `flask users ...` and `flask dispatcher`."""
    app.cli.add_command(users)
    app.cli.add_command(dispatcher)


@click.group()
def users():
    """Manage dashboard users and API tokens."""


def _find(name):
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
    if not name.strip() or len(name) > 80:
        raise click.ClickException("NAME must be 1 to 80 characters")
    if len(password) < 8:
        raise click.ClickException("password must be at least 8 characters")
    user = db.session.execute(select(User).where(User.username == name)).scalar_one_or_none()
    if user is None:
        user = User(username=name)
        db.session.add(user)
    user.role, user.password_hash, user.active = role, hash_password(password), True
    if email:
        user.email = email
    db.session.commit()
    click.echo(f"user {name} ({role}) ready")


@users.command("token")
@click.argument("name")
@click.option("--label", default="cli", help="A name to recognise the token by.")
def create_token(name, label):
    """Print a new API token for NAME (shown once; only its hash is stored)."""
    user = _find(name)
    token = issue_token(user, label)
    db.session.commit()
    click.echo(token)


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
    db.session.commit()
    url = f"http://{current_app.config['WEB_HOST']}:{current_app.config['WEB_PORT']}/"
    click.echo(f"Dashboard: {url}\nSign in as: {username}\nPassword:   {password}")


@click.command("dispatcher")
def dispatcher():
    """Run the PostgreSQL listener: LISTEN/NOTIFY + sweep, claim, publish."""
    from .dispatcher import Listener
    Listener(current_app._get_current_object()).run()
