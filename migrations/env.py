import logging
from logging.config import fileConfig

from flask import current_app

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
fileConfig(config.config_file_name)
logger = logging.getLogger('alembic.env')


def get_engine():
    return current_app.extensions['migrate'].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace(
            '%', '%%')
    except AttributeError:
        return str(get_engine().url).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


# One schema: every table is declared in dashboard/models.py, so `flask db check` on a
# migrated database reports nothing, and `flask db migrate` proposes only real changes.
# The migrations also make what a model cannot declare, with plain SQL (op.execute),
# which the autogenerate neither sees nor compares, so keep it in step by hand:
#   - the extension pg_trgm (the trigram indexes' operator class gin_trgm_ops);
#   - the trigger functions and their triggers on requests: requests_touch (version and
#     updated_at on every insert and update), requests_notify_unassigned
#     (requests_notify_insert, requests_notify_update), status_counts_insert,
#     status_counts_delete, status_counts_update, finish_stats_add (finish_stats_add,
#     finish_stats_insert); on users: users_end_sessions;
#   - the extended statistics requests_status_job_type_stats;
#   - upload_chunks.data's STORAGE EXTERNAL.
# Indexes are compared by name, columns (or expression) and uniqueness, not by their WHERE
# clause, access method (gin) or operator class: the models declare those too
# (requests_active_idx, requests_parent_id_idx, requests_error_trgm_idx,
# requests_duration_id_idx, uploads_filename_trgm_idx, audit_log_bulk_ids_idx), and
# tests/integration/pipeline/test_migrations.py checks that the models build the same
# tables, constraints and indexes as the migrations.
COMPARE = {
    "compare_type": True,             # column types (Flask-Migrate's default too)
    "compare_server_default": True,   # server defaults: now(), 'unassigned', true, ...
}


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True, **COMPARE
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    conf_args = current_app.extensions['migrate'].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives
    for name, value in COMPARE.items():
        conf_args.setdefault(name, value)

    connectable = get_engine()

    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            **conf_args
        )

        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
