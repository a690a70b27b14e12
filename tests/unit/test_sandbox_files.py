from ketch.guest.engine.networks import sandbox_files


def test_hosts_lists_localhost_extra_links_and_own_address() -> None:
    text = sandbox_files.hosts_content("abc", "", ["172.18.0.2"], ["db:10.0.0.5"],
                                       [("172.17.0.3", "alias 123456789012 other")])
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost"
    assert "10.0.0.5\tdb" in lines
    assert "172.17.0.3\talias 123456789012 other" in lines
    assert lines[-1] == "172.18.0.2\tabc"


def test_resolv_conf_for_user_networks_points_at_the_embedded_server(tmp_path,
                                                                      monkeypatch) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp\noptions ndots:2\n")
    monkeypatch.setattr(sandbox_files, "HOST_RESOLV_CONF", str(host))
    text, upstream = sandbox_files.container_resolv_conf([], [], [], "172.18.0.1")
    assert text == "search corp\nnameserver 172.18.0.1\noptions ndots:2\n"
    assert upstream == ["10.0.0.2"]
    text, _ = sandbox_files.container_resolv_conf([], [], [], None)
    assert "nameserver 10.0.0.2" in text and "127.0.0.53" not in text
    text, _ = sandbox_files.container_resolv_conf(["1.1.1.1"], ["x"], [], None)
    assert text == "search x\nnameserver 1.1.1.1\noptions ndots:2\n"
