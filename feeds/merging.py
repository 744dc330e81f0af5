"""Merging two records of the same child, and undoing it.

The duplicate is kept, marked ``merged`` with ``merged_into`` pointing at the
survivor; its involvements, names (its current name becomes an "other" name) and
address history move to the survivor, and an identifier the survivor lacks moves
with them. ``ChildMerge.moved`` lists exactly what moved, so ``undo_merge`` puts
each row back. Involvement grants follow their involvements both ways.

Child and Involvement changes are QuerySet updates (``Child.save()`` would rebuild
the duplicate's current name), so their change history is written explicitly.
"""

import copy

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit import services as audit
from audit.context import RequestContext
from children.models import Address, Child, ChildName, Involvement
from feeds import access, history
from feeds.models import ChildMerge
from practitioners.services import involvement_access_pairs, sync_organisation_access

IDENTIFIERS = ("nhs_number", "upn")


def _lock(*children) -> dict[int, Child]:
    ids = sorted(c.pk for c in children)  # always the same order: two merges cannot deadlock
    return {c.pk: c for c in Child.objects.select_for_update().filter(pk__in=ids).order_by("pk")}


def check_mergeable(merged: Child, into: Child):
    if merged.pk == into.pk:
        raise ValidationError("Choose two different records.")
    if merged.status != Child.Status.ACTIVE or into.status != Child.Status.ACTIVE:
        raise ValidationError("Both records must be active (not already merged).")
    for name in IDENTIFIERS:
        a, b = getattr(merged, name), getattr(into, name)
        if a and b and a != b:
            label = "NHS numbers" if name == "nhs_number" else "UPNs"
            raise ValidationError(f"The records have different {label}: they are different children.")


def _move_involvements(involvements, *, to: Child, context: RequestContext, note: dict):
    """Point involvements at another child; the organisations' access moves with them (ended on
    the old record unless another open involvement keeps it, given on the new one)."""
    entries = []
    moved_from = involvement_access_pairs(involvements)
    Involvement.objects.filter(pk__in=[i.pk for i in involvements]).update(child=to)
    for involvement in involvements:
        old = copy.copy(involvement)
        involvement.child = to
        entries.append(history.entry(old=old, new=involvement, context=context, additional_data=note))
    history.write(entries)
    sync_organisation_access(opened=involvement_access_pairs(involvements), closed=moved_from, context=context)


def _update_child(child: Child, *, context: RequestContext, note: dict, **changes) -> Child:
    old = copy.copy(child)
    Child.objects.filter(pk=child.pk).update(**changes)
    for name, value in changes.items():
        setattr(child, name, value)
    history.write([history.entry(old=old, new=child, context=context, additional_data=note)])
    return child


@transaction.atomic
def merge_children(*, user, merged_child: Child, into: Child, reason: str, context: RequestContext) -> ChildMerge:
    """Fold ``merged_child`` into ``into``. Both must be in the admin's authorities. Audits ``child.merge``."""
    locked = _lock(merged_child, into)
    merged, into = locked[merged_child.pk], locked[into.pk]
    access.require_admin_of(user, merged.local_authority_id)
    access.require_admin_of(user, into.local_authority_id)
    check_mergeable(merged, into)
    if not reason.strip():
        raise ValidationError("Give the reason for merging.")
    merge = ChildMerge.objects.create(merged_child=merged, into=into, reason=reason, merged_by=user)
    note = {"source": "child.merge", "merge_id": merge.pk}

    involvements = list(Involvement.objects.filter(child=merged).select_related("organisation", "child"))
    names = list(ChildName.objects.filter(child=merged).values_list("pk", "kind"))
    addresses = list(Address.objects.filter(child=merged).values_list("pk", flat=True))
    identifiers = {n: getattr(merged, n) for n in IDENTIFIERS if getattr(merged, n) and not getattr(into, n)}

    _move_involvements(involvements, to=into, context=context, note=note)
    ChildName.objects.filter(child=merged, kind=ChildName.Kind.CURRENT).update(child=into, kind=ChildName.Kind.OTHER)
    ChildName.objects.filter(child=merged).update(child=into)
    Address.objects.filter(pk__in=addresses).update(child=into)
    _update_child(merged, context=context, note=note, status=Child.Status.MERGED, merged_into=into,
                  **dict.fromkeys(identifiers, None))
    _update_child(into, context=context, note=note, last_activity_at=timezone.now(), **identifiers)

    merge.moved = {"involvements": [i.pk for i in involvements], "names": [list(n) for n in names],
                   "addresses": addresses, "identifiers": identifiers}
    merge.save(update_fields=["moved"])
    audit.record_event(action="child.merge", context=context, child=into, reason=reason,
                       details={"merge_id": merge.pk, "merged_child": merged.reference,
                                "involvements": len(involvements)})
    return merge


@transaction.atomic
def undo_merge(*, user, merge: ChildMerge, context: RequestContext) -> ChildMerge:
    """Put back exactly what the merge moved. Audits ``child.unmerge``."""
    merge = ChildMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        raise ValidationError("This merge has already been undone.")
    locked = _lock(merge.merged_child, merge.into)
    merged, into = locked[merge.merged_child_id], locked[merge.into_id]
    access.require_admin_of(user, merged.local_authority_id)
    access.require_admin_of(user, into.local_authority_id)
    if merged.status != Child.Status.MERGED or merged.merged_into_id != into.pk:
        raise ValidationError("The records have changed since the merge; it cannot be undone automatically.")
    moved = merge.moved
    note = {"source": "child.unmerge", "merge_id": merge.pk}

    identifiers = {n: v for n, v in moved.get("identifiers", {}).items() if getattr(into, n) == v}
    _update_child(into, context=context, note=note, **dict.fromkeys(identifiers, None))
    _update_child(merged, context=context, note=note, status=Child.Status.ACTIVE, merged_into=None, **identifiers)

    involvements = list(Involvement.objects.filter(pk__in=moved.get("involvements", []), child=into)
                        .select_related("organisation", "child"))
    _move_involvements(involvements, to=merged, context=context, note=note)
    moved_names = {pk: kind for pk, kind in moved.get("names", [])}
    # A current name rebuilt on the duplicate since (by a save) would clash with the one coming back.
    ChildName.objects.filter(child=merged, kind=ChildName.Kind.CURRENT).exclude(pk__in=moved_names).delete()
    for pk, kind in moved_names.items():
        ChildName.objects.filter(pk=pk, child=into).update(child=merged, kind=kind)
    Address.objects.filter(pk__in=moved.get("addresses", []), child=into).update(child=merged)

    merge.undone_at, merge.undone_by = timezone.now(), user
    merge.save(update_fields=["undone_at", "undone_by"])
    audit.record_event(action="child.unmerge", context=context, child=merged,
                       details={"merge_id": merge.pk, "into": into.reference, "involvements": len(involvements)})
    return merge
