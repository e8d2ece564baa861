"""Flask extensions, created unbound and initialised in create_app."""
from flask import has_request_context, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

db = SQLAlchemy()
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])

# The bind key of an autocommit engine for reads that need no transaction.
READS = "reads"


def outside_transaction():
    """`bind_arguments` that run one read statement on the autocommit engine."""
    return {"bind": db.engines[READS]}


# The bind key of READ_DATABASE_URL's engine (a standby), which the requests list and the
# overview read from when it is set.
STANDBY_READS = "standby_reads"


def standby_reads():
    """`bind_arguments` that run one read on READ_DATABASE_URL while serving a GET; the
    primary otherwise (unset, a POST such as a bulk action choosing its requests, or no
    web request at all, e.g. alerts evaluated by beat)."""
    if STANDBY_READS not in db.engines or not has_request_context() \
            or request.method not in ("GET", "HEAD"):
        return {}
    return {"bind": db.engines[STANDBY_READS]}
