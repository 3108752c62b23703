"""Signatures you can trust: `verified` only for a chain to an anchor configured for the alert's
sender, a sender that must sign has its unsigned or failed messages refused (POST and feed
polling), and `tampere trust` manages both (real SQLite and PostgreSQL, real signatures)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner

from service.trust.store import add_anchors, load_trust, remove_anchor, set_required
from tests.conftest import ServiceUnderTest, make_cap, migrated, run_tampere_async, running_service
from tests.service.sources.test_sources import POLL_ENV, FeedServer, atom, poll, register

SENDER = "alerts@meteo.go.ke"
# make_cap's messages are sent 2026-03-01: the certificates are valid around then.
NOT_BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2027, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _signer(
    name: str,
    issuer: Signer | None = None,
    *,
    ca: bool = False,
    not_before: datetime = NOT_BEFORE,
    not_after: datetime = NOT_AFTER,
) -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    return Signer(key, builder.sign(issuer.key if issuer else key, hashes.SHA256()))


@pytest.fixture(scope="module")
def ca() -> Signer:
    """The Kenya Meteorological Department's CA (the anchor the operator configures)."""
    return _signer("KMD Root CA", ca=True)


@pytest.fixture(scope="module")
def genuine(ca: Signer) -> Signer:
    return _signer("alerts.meteo.go.ke", ca)


@pytest.fixture(scope="module")
def forged() -> Signer:
    """Self-signed, named exactly like the genuine signer: anyone can make one."""
    return _signer("alerts.meteo.go.ke")


@pytest.fixture(scope="module")
def expired(ca: Signer) -> Signer:
    return _signer("alerts.meteo.go.ke", ca, not_after=datetime(2026, 2, 1, tzinfo=UTC))


def signed(identifier: str, signer: Signer, **fields: Any) -> bytes:
    """make_cap's message, enveloped-signed (XML-DSig, RSA-SHA256) with the signer's certificate."""
    root = etree.fromstring(make_cap(identifier, **fields))
    cert = signer.pem.decode()
    return etree.tostring(XMLSigner().sign(root, key=signer.key, cert=[cert]), xml_declaration=True)


async def trust(service: ServiceUnderTest, sender: str, *anchors: Signer, required: bool = False) -> None:
    def write(conn: Any) -> None:
        if anchors:
            add_anchors(conn, sender=sender, certificates=[a.cert for a in anchors], actor="test")
        if required:
            set_required(conn, sender=sender, required=True, actor="test")

    await service.runtime.db.write(write)


@pytest.fixture
async def kenya(service: ServiceUnderTest) -> str:
    return await service.token("administration", country="KEN", senders=[SENDER])


# --- POST /api/v1/alerts ------------------------------------------------------------------------


async def test_forged_self_signed_signature_is_untrusted(
    service: ServiceUnderTest, kenya: str, ca: Signer, genuine: Signer, forged: Signer
) -> None:
    assert forged.cert.subject == genuine.cert.subject
    await trust(service, SENDER, ca)
    fake = await service.post(signed("KE-FORGED-1", forged), kenya)
    assert fake.status_code == 201, fake.text
    assert fake.json()["signature"] == "untrusted-or-expired-cert"
    real = await service.post(signed("KE-GENUINE-1", genuine), kenya)
    assert real.status_code == 201, real.text
    assert real.json()["signature"] == "verified"


async def test_without_an_anchor_a_valid_signature_is_untrusted(
    service: ServiceUnderTest, kenya: str, genuine: Signer
) -> None:
    response = await service.post(signed("KE-NO-ANCHOR-1", genuine), kenya)
    assert response.status_code == 201, response.text
    assert response.json()["signature"] == "untrusted-or-expired-cert"


async def test_the_same_chain_for_another_sender_is_untrusted(
    service: ServiceUnderTest, kenya: str, ca: Signer, genuine: Signer
) -> None:
    # Uganda's anchor is the very CA that issued the certificate: it vouches for Uganda's
    # sender, not for Kenya's.
    await trust(service, "alerts@unma.go.ug", ca)
    response = await service.post(signed("KE-OTHER-ANCHOR-1", genuine), kenya)
    assert response.status_code == 201, response.text
    assert response.json()["signature"] == "untrusted-or-expired-cert"


async def test_expired_certificate_is_untrusted_and_refused_where_required(
    service: ServiceUnderTest, kenya: str, ca: Signer, expired: Signer
) -> None:
    await trust(service, SENDER, ca)
    response = await service.post(signed("KE-EXPIRED-1", expired), kenya)
    assert response.status_code == 201, response.text
    assert response.json()["signature"] == "untrusted-or-expired-cert"
    await trust(service, SENDER, required=True)
    refused = await service.post(signed("KE-EXPIRED-2", expired), kenya)
    assert refused.status_code == 422
    assert refused.json()["signature"] == "untrusted-or-expired-cert"


async def test_required_signature_refuses_unsigned_and_failed_messages(
    service: ServiceUnderTest, kenya: str, ca: Signer, genuine: Signer, forged: Signer
) -> None:
    await trust(service, SENDER, ca, required=True)
    unsigned = await service.post(make_cap("KE-UNSIGNED-1"), kenya)
    assert unsigned.status_code == 422, unsigned.text
    problem = unsigned.json()
    assert unsigned.headers["content-type"].startswith("application/problem+json")
    assert problem["signature"] == "unsigned"
    [error] = [e for e in problem["errors"] if e["rule"] == "alert.signature.required"]
    assert error["path"] == "/alert/Signature"
    assert "requires a verified signature" in error["message"] and "unsigned" in error["message"]

    tampered = signed("KE-TAMPERED-1", genuine).replace(b"Flash flood warning", b"All clear")
    bad = await service.post(tampered, kenya)
    assert bad.status_code == 422
    assert bad.json()["signature"] == "bad-digest"
    assert "alert.signature.required" in {e["rule"] for e in bad.json()["errors"]}

    fake = await service.post(signed("KE-FORGED-2", forged), kenya)
    assert fake.status_code == 422
    assert fake.json()["signature"] == "untrusted-or-expired-cert"

    good = await service.post(signed("KE-GENUINE-2", genuine), kenya)
    assert good.status_code == 201, good.text
    assert good.json()["signature"] == "verified"
    # Other senders are not held to Kenya's rule.
    operator = await service.token("operator")
    other = await service.post(make_cap("UG-UNSIGNED-1", sender="alerts@unma.go.ug"), operator)
    assert other.status_code == 201, other.text


async def test_a_removed_anchor_is_distrusted_from_the_next_message(
    service: ServiceUnderTest, kenya: str, ca: Signer, genuine: Signer
) -> None:
    await trust(service, SENDER, ca)
    assert (await service.post(signed("KE-BEFORE-1", genuine), kenya)).json()["signature"] == "verified"
    fingerprint = ca.cert.fingerprint(hashes.SHA256()).hex()
    await service.runtime.db.write(
        lambda conn: remove_anchor(conn, sender=SENDER, fingerprint=fingerprint, actor="test")
    )
    after = await service.post(signed("KE-AFTER-1", genuine), kenya)
    assert after.json()["signature"] == "untrusted-or-expired-cert"
    assert not (await service.runtime.db.read(load_trust)).anchors


# --- feed polling -----------------------------------------------------------------------------------


@pytest.fixture
async def polled(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[ServiceUnderTest, FeedServer]]:
    """The service with its poll loop off (the test polls), and a feed server on loopback."""
    for name, value in POLL_ENV.items():
        monkeypatch.setenv(name, value)
    server = FeedServer()
    try:
        async with running_service(database_url, tmp_path / "var") as running:
            yield running, server
    finally:
        server.close()


async def test_polled_unsigned_message_of_a_sender_that_must_sign_is_refused(
    polled: tuple[ServiceUnderTest, FeedServer], ca: Signer, genuine: Signer
) -> None:
    tampere, feeds = polled
    kenya = await tampere.token("administration", country="KEN", senders=[SENDER])
    await trust(tampere, SENDER, ca, required=True)
    body = atom(make_cap("KE-POLL-UNSIGNED"), signed("KE-POLL-SIGNED", genuine))
    source = await register(tampere, kenya, feeds.serve("/kmd.atom", body))
    outcome = await poll(tampere, source["id"])
    assert outcome.messages == {"created": 1, "rejected": 1}
    state = (
        await tampere.client.get(
            f"/api/v1/sources/{source['id']}", headers={"Authorization": f"Bearer {kenya}"}
        )
    ).json()
    assert "alert.signature.required" in str(state), state


# --- tampere trust ------------------------------------------------------------------------------


async def test_trust_commands_round_trip(
    database_url: str, tmp_path: Path, ca: Signer, genuine: Signer, forged: Signer
) -> None:
    data_dir = migrated(tmp_path / "var", database_url)
    env = {"database_url": database_url, "data_dir": data_dir}
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(
        genuine.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    refused = await run_tampere_async("trust", "add", "--sender", SENDER, str(key_file), **env)
    assert refused.returncode == 1
    assert "trust.anchor.not-a-certificate" in refused.stderr or "not PEM certificates" in refused.stderr
    assert "not a certificate" in refused.stderr

    bundle = tmp_path / "kmd.pem"
    bundle.write_bytes(ca.pem + forged.pem)  # two certificates in one file: two anchors
    added = await run_tampere_async("trust", "add", "--sender", SENDER, str(bundle), **env)
    assert added.returncode == 0, added.stderr
    assert len(added.stdout.splitlines()) == 2
    ca_print = ca.cert.fingerprint(hashes.SHA256()).hex()
    forged_print = forged.cert.fingerprint(hashes.SHA256()).hex()
    removed = await run_tampere_async("trust", "remove", "--sender", SENDER, forged_print, **env)
    assert removed.returncode == 0, removed.stderr
    again = await run_tampere_async("trust", "remove", "--sender", SENDER, forged_print, **env)
    assert again.returncode == 1 and "no trust anchor with fingerprint" in again.stderr
    required = await run_tampere_async("trust", "require", "--sender", SENDER, **env)
    assert required.returncode == 0, required.stderr

    listed = await run_tampere_async("trust", "list", "--sender", SENDER, **env)
    assert listed.returncode == 0, listed.stderr
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["sender"], row["fingerprint"], row["required"]) == (SENDER, ca_print, True)
    assert row["subject"] == "CN=KMD Root CA" and row["added_by"] == "cli"

    async with running_service(database_url, data_dir) as service:
        kenya = await service.token("administration", country="KEN", senders=[SENDER])
        assert (await service.post(make_cap("KE-CLI-UNSIGNED"), kenya)).status_code == 422
        good = await service.post(signed("KE-CLI-SIGNED", genuine), kenya)
        assert good.status_code == 201 and good.json()["signature"] == "verified"
        fake = await service.post(signed("KE-CLI-FORGED", forged), kenya)
        assert fake.status_code == 422 and fake.json()["signature"] == "untrusted-or-expired-cert"

    lifted = await run_tampere_async("trust", "require", "--sender", SENDER, "--no-require", **env)
    assert lifted.returncode == 0, lifted.stderr
    listed = await run_tampere_async("trust", "list", **env)
    assert [json.loads(line)["required"] for line in listed.stdout.splitlines()] == [False]


async def test_validate_takes_anchors_per_sender_or_for_all(
    tmp_path: Path, ca: Signer, genuine: Signer
) -> None:
    message = tmp_path / "signed.xml"
    message.write_bytes(signed("KE-VALIDATE-1", genuine))
    anchor = tmp_path / "ca.pem"
    anchor.write_bytes(ca.pem)

    async def signature(*options: str) -> str:
        done = await run_tampere_async("validate", "--json", *options, str(message))
        assert done.returncode == 0, done.stderr
        status: str = json.loads(done.stdout)["signature"]
        return status

    assert await signature() == "untrusted-or-expired-cert"
    assert await signature("--trust-anchor", str(anchor)) == "verified"
    assert await signature("--trust", f"{SENDER}={anchor}") == "verified"
    assert await signature("--trust", f"alerts@unma.go.ug={anchor}") == "untrusted-or-expired-cert"
    bad = await run_tampere_async("validate", "--trust-anchor", str(message), str(message))
    assert bad.returncode == 2 and "not a PEM certificate" in bad.stderr
