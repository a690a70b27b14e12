import asyncio

import dns.flags
import dns.message
import dns.rcode

from ketch.guest.engine.networks.dns import DnsServer

NAMES = {"web": ["172.18.0.2"], "www": ["172.18.0.2", "172.18.0.3"]}


def ask(name: str, rdtype: str = "A") -> dns.message.Message:
    server = DnsServer(
        lambda _client, n: NAMES.get(n),
        lambda _client: [],
        lambda _client, ip: "web.appnet" if ip == "172.18.0.2" else None,
    )
    query = dns.message.make_query(name, rdtype)
    wire = asyncio.run(server.answer(query.to_wire(), "172.18.0.9"))
    assert wire is not None
    return dns.message.from_wire(wire)


def test_known_names_answer_authoritatively() -> None:
    reply = ask("WWW.")
    assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
    assert sorted(r.address for r in reply.answer[0]) == ["172.18.0.2", "172.18.0.3"]


def test_known_names_have_no_ipv6_records() -> None:
    reply = ask("web", "AAAA")
    assert reply.rcode() == dns.rcode.NOERROR and reply.answer == []


def test_unknown_names_without_reachable_upstreams_are_servfail() -> None:
    assert ask("example.org").rcode() == dns.rcode.SERVFAIL


def test_garbage_is_ignored() -> None:
    server = DnsServer(lambda _c, _n: None, lambda _client: [])
    assert asyncio.run(server.answer(b"\x00\x01junk", "172.18.0.9")) is None


def test_reverse_lookups_name_containers() -> None:
    reply = ask("2.0.18.172.in-addr.arpa", "PTR")
    assert reply.answer[0][0].target.to_text() == "web.appnet."
