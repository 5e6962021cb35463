"""The self-signed CA and server certificate: a real TLS handshake verifies them."""

import socket
import ssl
import threading

import pytest

from s3presign.server.tls import make_self_signed


def handshake(cert, key, ca, host, family=socket.AF_INET, address="127.0.0.1"):
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    listener = socket.socket(family)
    listener.bind((address, 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"ok")
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_ctx = ssl.create_default_context(cafile=str(ca))
    try:
        with socket.create_connection(listener.getsockname()[:2], timeout=5) as raw:
            with client_ctx.wrap_socket(raw, server_hostname=host) as tls:
                return tls.recv(2)
    finally:
        thread.join(5)
        listener.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_clients_trusting_the_ca_accept_the_server(tmp_path, host):
    cert, key, ca = make_self_signed(tmp_path)
    assert handshake(cert, key, ca, host) == b"ok"


def test_ipv6_loopback(tmp_path):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    cert, key, ca = make_self_signed(tmp_path)
    try:
        assert handshake(cert, key, ca, "::1", socket.AF_INET6, "::1") == b"ok"
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback: {exc}")


def test_other_names_are_refused(tmp_path):
    cert, key, ca = make_self_signed(tmp_path)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(cert, key, ca, "example.com")


def test_keys_are_private_and_files_reused(tmp_path):
    cert, key, ca = make_self_signed(tmp_path)
    assert key.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "ca.key").stat().st_mode & 0o777 == 0o600
    before = cert.read_bytes(), ca.read_bytes()
    assert make_self_signed(tmp_path) == (cert, key, ca)
    assert (cert.read_bytes(), ca.read_bytes()) == before
    make_self_signed(tmp_path, extra_hosts=["s3.local"])  # new names: new server cert, same CA
    assert cert.read_bytes() != before[0] and ca.read_bytes() == before[1]
    assert handshake(cert, key, ca, "s3.local") == b"ok"
