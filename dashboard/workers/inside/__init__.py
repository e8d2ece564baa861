"""What runs inside `celery worker` (worker.py imports these): graceful stop commands, the consumer, pause at start."""
