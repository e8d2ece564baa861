"""PG_LISTEN / AMQP_LISTEN and SUPERVISORS as settings: what they accept, refuse and write."""
import pytest

from dashboard import config
from deploy import listen


def test_listen_addresses_are_ipv4_without_loopback_and_named_when_wrong():
    assert listen.addresses("PG_LISTEN", " 10.0.0.5, 127.0.0.1,10.0.0.5,10.1.0.5") == [
        "10.0.0.5", "10.1.0.5"]
    assert listen.addresses("PG_LISTEN", "") == []
    with pytest.raises(listen.BadListen, match="AMQP_LISTEN: 'db.example' is not an IPv4"):
        listen.addresses("AMQP_LISTEN", "db.example")


def test_an_address_this_machine_lacks_is_refused_by_name():
    with pytest.raises(listen.BadListen, match="PG_LISTEN: 192.0.2.77 is not an address"):
        listen.networks("PG_LISTEN", ["192.0.2.77"])
    assert listen.networks("PG_LISTEN", ["0.0.0.0"]) == ["0.0.0.0/0"]


def test_the_pg_hba_block_is_replaced_and_removed_whole():
    base = "local all postgres peer\nhost all all 127.0.0.1/32 scram-sha-256\n"
    once = listen.with_hba_block(base, ["10.0.0.0/24"])
    twice = listen.with_hba_block(once, ["10.0.0.0/24", "10.1.0.0/24"])
    assert twice.count(listen.HBA_BEGIN) == 1
    assert "host all dashboard 10.1.0.0/24 scram-sha-256" in twice
    assert listen.with_hba_block(twice, []) == base


def test_listeners_keep_loopback_and_add_one_per_address():
    assert listen.rabbit_listeners(["10.0.0.5"], 55672) == {
        "listeners.tcp.default": "127.0.0.1:55672", "listeners.tcp.2": "10.0.0.5:55672"}
    assert listen.postgres_listen_addresses(["10.0.0.5"]) == "'127.0.0.1,10.0.0.5'"
    assert listen.postgres_listen_addresses(["0.0.0.0"]) == "'*'"


def test_supervisors_pairs_keep_credentials_out_of_the_url():
    parsed = config._supervisors("here=local, a=http://dashboard:p%40ss@10.0.0.21:9001/RPC2")
    assert parsed == [("here", "local", None, None),
                      ("a", "http://10.0.0.21:9001/RPC2", "dashboard", "p@ss")]
    assert config._supervisors("") == []


@pytest.mark.parametrize("value, named", [
    ("justaname", "'justaname' is not name=url"),
    ("a=ftp://x:y@h:1/RPC2", "a='h:1/RPC2' is not http://"),
    ("a=local,a=local", "the name 'a' appears twice"),
    ("a=http://u:secret@h:port/RPC2", "a='h:port/RPC2'"),
])
def test_a_bad_supervisors_entry_is_named_without_its_password(value, named):
    with pytest.raises(config.ConfigError) as refused:
        config._supervisors(value)
    assert named in str(refused.value) and "secret" not in str(refused.value)
