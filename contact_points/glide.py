"""GLIDE numbers: the GLobal IDEntifier that names one disaster event in one country.

A GLIDE number reads `TC-2016-000014-FJI`: the hazard code (two letters, from the GLIDE list of
event types, `data/glide_hazards.tsv`), the year, a six-digit sequence number within the year
and the ISO 3166-1 alpha-3 code of the country concerned. Relief actors (OCHA ReliefWeb, IFRC,
EM-DAT) use it to tie their records to the same event, so a request that carries one can be
matched to everyone else's work on that disaster.

A number whose country differs from the request's is a *warning*, not a refusal: GLIDE gives
an event that strikes several countries one number per country (the same hazard, year and
sequence), and a neighbour's number is often the only one issued in the first hours; the
request must get through, and the office reading it is told of the mismatch.

Public API: `GlideNumber`, `parse_glide(text, path, findings)`, `glide_warnings(glide, country,
path)`, `HAZARDS` (code -> hazard name, from the packaged table).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from cap.errors import Finding

_FORMAT = re.compile(r"^([A-Z]{2})-(\d{4})-(\d{6})-([A-Z]{3})$")
# GLIDE numbers are issued for events from the 20th century on (retroactively for old ones).
FIRST_YEAR = 1900


def _hazards() -> dict[str, str]:
    text = (resources.files("contact_points") / "data" / "glide_hazards.tsv").read_text(encoding="utf-8")
    rows = csv.DictReader((line for line in text.splitlines() if not line.startswith("#")), delimiter="\t")
    return {row["code"]: row["hazard"] for row in rows}


HAZARDS: dict[str, str] = _hazards()


@dataclass(frozen=True, slots=True)
class GlideNumber:
    """A checked GLIDE number and its parts."""

    hazard: str
    year: int
    sequence: int
    country: str

    def __str__(self) -> str:
        return f"{self.hazard}-{self.year:04d}-{self.sequence:06d}-{self.country}"

    @property
    def hazard_name(self) -> str:
        """The hazard the code stands for (e.g. Tropical cyclone)."""
        return HAZARDS[self.hazard]


def parse_glide(value: Any, path: str, findings: list[Finding]) -> GlideNumber | None:
    """The GLIDE number of `value` (case and surrounding blanks forgiven), or None with a
    finding (`request.glide.format`, `request.glide.hazard`, `request.glide.year`)."""
    text = value.strip().upper() if isinstance(value, str) else None
    match = _FORMAT.match(text) if text else None
    if match is None:
        findings.append(
            Finding(
                "request.glide.format",
                f"a GLIDE number reads HZ-YYYY-NNNNNN-ISO (e.g. TC-2016-000014-FJI), got {value!r}",
                path,
            )
        )
        return None
    hazard, year, sequence, country = match.groups()
    if hazard not in HAZARDS:
        findings.append(
            Finding(
                "request.glide.hazard",
                f"{hazard} is not a GLIDE hazard code (one of {', '.join(sorted(HAZARDS))})",
                path,
            )
        )
        return None
    if int(year) < FIRST_YEAR:
        findings.append(Finding("request.glide.year", f"year {year} is before {FIRST_YEAR}", path))
        return None
    return GlideNumber(hazard, int(year), int(sequence), country)


def glide_warnings(glide: str | None, country: str, path: str = "/glide") -> list[Finding]:
    """Warnings on a stored GLIDE number for a request from `country`: a number of another
    country (`request.glide.country-mismatch`; see the module's note on why not an error)."""
    if not glide or glide[-3:] == country:
        return []
    return [
        Finding(
            "request.glide.country-mismatch",
            f"the GLIDE number {glide} names {glide[-3:]}, the request is from {country}: "
            f"GLIDE issues one number per country, ask for or look up {glide[:-3]}{country}",
            path,
        )
    ]
