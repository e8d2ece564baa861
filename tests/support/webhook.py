"""A real HTTP receiver for webhook tests: a ThreadingHTTPServer in a thread that keeps every
POST (headers and body) and answers as told: 204, an error status, or not at all for a while."""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    """POSTs to http://127.0.0.1:PORT/hook are kept in `received`; `hang_s` and `fail_next`
    make the next answers late or 500."""

    def __init__(self):
        self.received = []
        self.attempts = 0
        self.hang_s = 0.0
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.attempts += 1
                if receiver.hang_s:
                    time.sleep(receiver.hang_s)
                    return  # never answers in time: the sender has given up already
                if receiver.fail_next:
                    receiver.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.received.append({"headers": dict(self.headers), "body": body})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
