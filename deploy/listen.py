"""PG_LISTEN / AMQP_LISTEN: the local PostgreSQL and RabbitMQ serve other hosts too.

Each setting is a comma-separated list of this machine's IPv4 addresses (or
0.0.0.0 for every one). The services keep listening on 127.0.0.1 for the local
stack; PostgreSQL also accepts password (scram-sha-256) logins from the
networks those addresses are on (pg_hba.conf), RabbitMQ opens one more
listener per address with the same port. Standard library only.
"""
import ipaddress
import os
import re
import subprocess

HBA_BEGIN = "# dashboard PG_LISTEN begin (deploy/listen.py rewrites this block)"
HBA_END = "# dashboard PG_LISTEN end"


class BadListen(ValueError):
    """A PG_LISTEN / AMQP_LISTEN value that is not a list of this machine's addresses."""


def addresses(name, value):
    """The addresses in setting `name` (without 127.0.0.1); BadListen naming the setting."""
    found = []
    for part in filter(None, (p.strip() for p in (value or "").split(","))):
        try:
            address = ipaddress.IPv4Address(part)
        except ValueError:
            raise BadListen(f"{name}: {part!r} is not an IPv4 address") from None
        if str(address) != "127.0.0.1" and str(address) not in found:
            found.append(str(address))
    return found


def setting(name, dotenv):
    """The setting from the environment, else from .env's values `dotenv`."""
    return os.environ.get(name) or dotenv.get(name) or ""


def local_networks():
    """{address: network} of this machine's IPv4 interfaces (from `ip -o -4 addr`)."""
    done = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True,
                          check=False, stdin=subprocess.DEVNULL)
    nets = {}
    for m in re.finditer(r"\binet (\d+\.\d+\.\d+\.\d+/\d+)", done.stdout):
        interface = ipaddress.IPv4Interface(m.group(1))
        nets[str(interface.ip)] = str(interface.network)
    return nets


def networks(name, listen):
    """The networks PostgreSQL admits logins from, one per address; BadListen when an
    address is not this machine's."""
    if "0.0.0.0" in listen:
        return ["0.0.0.0/0"]
    nets = local_networks()
    missing = [a for a in listen if a not in nets]
    if missing:
        raise BadListen(f"{name}: {', '.join(missing)} is not an address of this machine"
                        f" (ip -4 addr shows {', '.join(sorted(nets)) or 'none'})")
    return sorted({nets[a] for a in listen})


def with_hba_block(text, nets):
    """pg_hba.conf's text with our block for `nets` (password logins), or without it."""
    kept, inside = [], False
    for line in text.splitlines():
        if line.strip() == HBA_BEGIN:
            inside = True
        elif line.strip() == HBA_END:
            inside = False
        elif not inside:
            kept.append(line)
    if nets:
        kept += [HBA_BEGIN, *(f"host all dashboard {n} scram-sha-256" for n in nets), HBA_END]
    return "\n".join(kept) + "\n"


def postgres_listen_addresses(listen):
    """PostgreSQL's listen_addresses value: loopback plus `listen`."""
    return "'" + ",".join(["127.0.0.1", *listen]) + "'" if "0.0.0.0" not in listen else "'*'"


def rabbit_listeners(listen, port):
    """rabbitmq.conf's listener settings: loopback plus one per address."""
    if "0.0.0.0" in listen:
        return {"listeners.tcp.default": str(port)}
    found = {"listeners.tcp.default": f"127.0.0.1:{port}"}
    for n, address in enumerate(listen, start=2):
        found[f"listeners.tcp.{n}"] = f"{address}:{port}"
    return found
