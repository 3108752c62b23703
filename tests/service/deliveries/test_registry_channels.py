"""Which addresses of a contact point are channels, for whom, and which events reach each."""

from __future__ import annotations

from contact_points.registry import ContactPoint, Person
from service.deliveries.registry_channels import addresses, wants

BRIDGETOWN = ContactPoint(
    id="ao-bridgetown",
    kind="area_office",
    name="ITU Area Office for the Caribbean",
    people=(
        Person("Marie Joseph", languages=("fr", "en"), email="marie@bgi.example"),
        Person("Ana Ruiz", languages=("es",), email="Office@bgi.example"),
        Person("No Mail", languages=("ru",)),
    ),
    deputies=("Marie Joseph", "No Mail"),
    head="Ana Ruiz",
    emails=("office@bgi.example", "duty@bgi.example", "office@bgi.example"),
)


def test_each_address_once_with_its_roles_and_its_persons_language() -> None:
    found = {a.target: (a.roles, a.language) for a in addresses(BRIDGETOWN)}
    # The head's address is also the office's (case aside): one channel, both roles, her language.
    assert found == {
        "office@bgi.example": (("contact", "head"), "es"),
        "duty@bgi.example": (("contact",), None),
        "marie@bgi.example": (("deputies",), "fr"),
    }


def test_what_reaches_each_role() -> None:
    step = {"from": "ao-bridgetown", "to": "ao-bridgetown#deputies"}
    assert wants(("deputies",), "ao-bridgetown", "alert.escalated", step, True)
    assert not wants(("head",), "ao-bridgetown", "alert.escalated", step, True)
    assert wants(("contact",), "ao-bridgetown", "alert.escalated", step, True)  # it left the office
    onward = {"from": "national-hti", "to": "ro-brasilia"}
    assert not wants(("contact",), "ao-bridgetown", "alert.escalated", onward, True)
    assert wants(("contact",), "ro-brasilia", "request.escalated", onward, False)
    assert wants(("contact",), "ao-bridgetown", "alert.received", {}, True)
    assert not wants(("contact",), "ao-bridgetown", "alert.received", {}, False)
    assert not wants(("deputies", "head"), "ao-bridgetown", "alert.received", {}, True)
    added = {"contact_points": ["AO-Bridgetown"]}
    assert wants(("contact",), "ao-bridgetown", "alert.routing.added", added, True)
    assert not wants(("contact",), "ao-bridgetown", "alert.routing.added", {"contact_points": ["bdt"]}, True)
