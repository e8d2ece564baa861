"""A TCP relay from an address worker hosts reach (a veth's) to a service on loopback.

The suite's PostgreSQL and RabbitMQ listen on 127.0.0.1 only (PG_LISTEN and
AMQP_LISTEN would restart them under everyone else's tests), so a worker host's
connections arrive here over its veth and are passed on byte for byte. A cut
cable stops both directions as it would in front of the server itself: the
server sees no more heartbeats from that client and closes its connection.
"""
import socket
import threading


class Relay:
    """Listens on (host, port) and connects each client to 127.0.0.1:`target`."""

    def __init__(self, host, port, target):
        self.listener = socket.create_server((host, port))
        self.target = target
        self.pairs = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True, name=f"relay-{port}").start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            self.pairs.append((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        """Copy until either side ends, then end both."""
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.closed = True
        self.listener.close()
        for pair in self.pairs:
            for s in pair:
                try:
                    s.close()
                except OSError:
                    pass
