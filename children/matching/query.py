"""What a searcher (or a feed row) knows about a child: the engine's input."""

from dataclasses import dataclass, field
from datetime import date

from children import identifiers, names


@dataclass(frozen=True)
class Query:
    """Every field is optional; ``Query.of(...)`` normalises raw input.

    ``postcode`` may be full ("W6 9LA"), a sector ("W6 9") or a district ("W6").
    ``dob_from``/``dob_to`` give an optional date-of-birth range instead of (or
    around) an exact date.
    """

    given_name: str = ""
    family_name: str = ""
    date_of_birth: date | None = None
    dob_from: date | None = None
    dob_to: date | None = None
    postcode: str = ""
    postcode_kind: str = ""  # "full", "sector", "district" or ""
    nhs_number: str = ""
    upn: str = ""
    sex: str = ""
    given_tokens: tuple[str, ...] = field(default=(), compare=False)
    family_tokens: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def of(cls, *, given_name="", family_name="", date_of_birth=None, dob_from=None, dob_to=None,
           postcode="", nhs_number="", upn="", sex="") -> "Query":
        postcode_kind, postcode = identifiers.parse_search_postcode(postcode or "")
        return cls(
            given_name=" ".join(names.parts(given_name or "")),
            family_name=" ".join(names.parts(family_name or "")),
            date_of_birth=date_of_birth,
            dob_from=dob_from,
            dob_to=dob_to,
            postcode=postcode,
            postcode_kind=postcode_kind,
            nhs_number=identifiers.clean_nhs_number(nhs_number or ""),
            upn=(upn or "").strip().upper(),
            sex=(sex or "").strip().upper()[:1],
            given_tokens=tuple(names.parts(given_name or "")),
            family_tokens=tuple(names.family_tokens(family_name or "")),
        )

    @property
    def has_name(self) -> bool:
        return bool(self.given_tokens or self.family_tokens)

    @property
    def has_dob(self) -> bool:
        return self.date_of_birth is not None or bool(self.dob_from and self.dob_to)

    @property
    def has_identifier(self) -> bool:
        return bool(self.nhs_number or self.upn)

    @property
    def district(self) -> str:
        return identifiers.postcode_district(self.postcode) if self.postcode else ""

    @property
    def family_whole(self) -> str:
        """The family name as one token ('smith jones' -> 'smithjones')."""
        return self.family_name.replace(" ", "")

    def canonical(self) -> str:
        """A stable text of the normalised query: what the audit log fingerprints."""
        parts = [
            self.given_name, self.family_name, _iso(self.date_of_birth), _iso(self.dob_from), _iso(self.dob_to),
            self.postcode, self.nhs_number, self.upn, self.sex,
        ]
        return "|".join(parts)


def _iso(value: date | None) -> str:
    return value.isoformat() if value else ""
