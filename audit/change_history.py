"""Field-level change history (django-auditlog) of the records access decisions rest on.

Registered here rather than in each app's models so the audit app owns the list.
auditlog sees ``save()`` and ``delete()`` only, not ``bulk_create`` or
``QuerySet.update``: bulk paths write their history explicitly (SPEC 4).
The history is shown on each object's Django admin page
(``templates/admin/change_form.html``).
"""

from auditlog.registry import auditlog
from django.apps import apps

# (model, fields left out of the history: derived keys that only repeat another field)
TRACKED = [
    ("children.Child", ["postcode_district", "postcode_sector"]),
    ("children.Involvement", []),
    ("children.Address", []),
    ("practitioners.Practitioner", []),
    ("practitioners.PractitionerStatusChange", []),
    ("practitioners.AccessGrant", []),
    ("practitioners.AccessRequest", []),
]


def register_models() -> None:
    for label, exclude in TRACKED:
        model = apps.get_model(label)
        if not auditlog.contains(model):
            auditlog.register(model, exclude_fields=exclude)
