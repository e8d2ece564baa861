"""The running test stack: two prefork workers and a dispatcher, restartable by tests."""
import signal
from concurrent.futures import ThreadPoolExecutor

from .procs import dispatcher_proc, wait_for, wait_online, worker_proc


class Stack:
    """The workers and the dispatcher the `stack` fixture keeps running."""

    def __init__(self, celery_app):
        self.celery_app = celery_app
        self.workers = {}
        self.dispatcher = None

    def start_worker(self, name, concurrency=2, extra=()):
        proc = worker_proc(name, concurrency, extra).start()
        self.workers[name] = proc
        wait_online(self.celery_app, [f"{name}@test"], timeout=30)
        return proc

    def stop_worker(self, name, sig=signal.SIGTERM):
        proc = self.workers.pop(name, None)
        if proc:
            proc.stop(sig)

    def stop_workers(self):
        """Stop every worker, all at once (each warm shutdown waits on its own)."""
        with ThreadPoolExecutor() as pool:
            list(pool.map(self.stop_worker, list(self.workers)))

    def ensure_workers(self):
        """worker1 and worker2 running: the missing ones start together, then both must answer."""
        missing = [name for name in ("worker1", "worker2")
                   if name not in self.workers or not self.workers[name].alive()]
        for name in missing:
            self.workers.pop(name, None)
            self.workers[name] = worker_proc(name, 2, ()).start()
        if missing:
            wait_online(self.celery_app, [f"{name}@test" for name in missing], timeout=60)

    def start_dispatcher(self):
        if self.dispatcher is None or not self.dispatcher.alive():
            self.dispatcher = dispatcher_proc().start()
            wait_for(lambda: "dispatcher listening" in self.dispatcher.log(), 20,
                     what="dispatcher listening")
        return self.dispatcher

    def stop_dispatcher(self, sig=signal.SIGTERM):
        if self.dispatcher is not None:
            self.dispatcher.stop(sig)
            self.dispatcher = None

    def stop_all(self):
        self.stop_dispatcher()
        self.stop_workers()
