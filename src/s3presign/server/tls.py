"""A local CA and a server certificate for `s3presign serve --tls-self-signed`.

SSE-C is refused over plain HTTP, as on S3, so local tests need TLS. Clients
trust the CA file (``ca.pem``), not the server certificate, so the server
certificate can be renewed without touching them. Existing files are reused
while they are valid and name the same hosts.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path
from typing import Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
_CA_DAYS = 3650
_SERVER_DAYS = 397  # the longest lifetime browsers accept for a server certificate
_RENEW_BEFORE = dt.timedelta(days=7)


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _write(path: Path, data: bytes, private: bool) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _certificate(subject: str, issuer: x509.Name | None, public_key: ec.EllipticCurvePublicKey,
                 signing_key: ec.EllipticCurvePrivateKey, days: int) -> x509.CertificateBuilder:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _usable(cert_path: Path, hosts: Sequence[str]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    fresh = cert.not_valid_after_utc - _RENEW_BEFORE > dt.datetime.now(dt.timezone.utc)
    return fresh and set(names) == {_san(h) for h in hosts}


def make_self_signed(directory: Path, extra_hosts: Sequence[str] = ()) -> tuple[Path, Path, Path]:
    """(server cert, server key, CA cert) in ``directory``, made or reused.

    The certificate names 127.0.0.1, localhost and ::1, plus ``extra_hosts``
    (e.g. the --domain of virtual-hosted style and its wildcard).
    """
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    ca_path, ca_key_path = directory / "ca.pem", directory / "ca.key"
    hosts = list(dict.fromkeys([*DEFAULT_HOSTS, *extra_hosts]))
    if key_path.exists() and ca_path.exists() and _usable(cert_path, hosts):
        return cert_path, key_path, ca_path

    if ca_key_path.exists() and _usable_ca(ca_path):
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(ca_path.read_bytes())
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = (
            _certificate("s3presign local CA", None, ca_key.public_key(), ca_key, _CA_DAYS)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        _write(ca_key_path, _key_pem(ca_key), private=True)
        _write(ca_path, ca_cert.public_bytes(serialization.Encoding.PEM), private=False)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _certificate(hosts[0], ca_cert.subject, key.public_key(), ca_key, _SERVER_DAYS)
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), private=False)
    return cert_path, key_path, ca_path


def _usable_ca(ca_path: Path) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(ca_path.read_bytes())
    except (OSError, ValueError):
        return False
    return cert.not_valid_after_utc - dt.timedelta(days=_SERVER_DAYS) > dt.datetime.now(dt.timezone.utc)


def check_files(cert_path: Path, key_path: Path) -> None:
    """Load a --tls-cert/--tls-key pair as the server will; ValueError naming the
    file and what is wrong with it (before the server says it is listening)."""
    import ssl

    for option, path in (("--tls-cert", cert_path), ("--tls-key", key_path)):
        try:
            Path(path).read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read {option} {path}: {exc.strerror or exc}") from None
    try:
        x509.load_pem_x509_certificates(Path(cert_path).read_bytes())
    except ValueError:
        raise ValueError(f"--tls-cert {cert_path} is not a PEM certificate (-----BEGIN CERTIFICATE-----)") from None
    try:
        serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    except TypeError:
        raise ValueError(f"--tls-key {key_path} is encrypted; give an unencrypted PEM private key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError(f"--tls-key {key_path} is not a PEM private key (-----BEGIN PRIVATE KEY-----)") from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert_path), str(key_path))
    except ssl.SSLError as exc:
        raise ValueError(
            f"--tls-key {key_path} does not match the certificate in --tls-cert {cert_path} ({exc.reason or exc})"
        ) from None
