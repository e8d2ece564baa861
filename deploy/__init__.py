"""Deployment: the service manager (services.py, stdlib only) and supervisord.conf."""
