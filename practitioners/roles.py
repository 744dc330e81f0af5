"""The three roles (Django groups). Names are stable: data migrations and tests use them."""

PRACTITIONER = "Practitioner"
LA_ADMIN = "LA admin"
AUDITOR = "Auditor"
ALL = (PRACTITIONER, LA_ADMIN, AUDITOR)


def has_role(user, role: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return user.groups.filter(name=role).exists()
