"""The Django admin (issue 16 item 4): superusers with a verified second factor only, audited,
no secrets on its pages, and child records (and the grants that open them) read-only."""

from datetime import date

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from audit.models import AccessEvent
from children.models import Address, Child, Involvement
from feeds.models import OrganisationToken
from practitioners.models import AccessGrant
from tests import factories
from tests.conftest import verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def root():
    return factories.UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(root):
    """A superuser who signed in with password and TOTP code."""
    return verified_login(Client(), root)


@pytest.fixture
def password_only(root):
    """The issue's reproduction: a superuser from ``createsuperuser``, signed in with a password only."""
    client = Client()
    client.force_login(root)
    return client


@pytest.fixture
def child():
    return factories.ChildFactory(given_names="Amelia", family_name="Trelawny", date_of_birth=date(2017, 11, 2),
                                  postcode="TR1 2HE", address_line="1 Refuge Lane", shielded=True)


def admin_pages(child):
    return [reverse("admin:index"), reverse("admin:children_child_changelist"),
            reverse("admin:children_child_change", args=[child.pk])]


# Who gets in --------------------------------------------------------------------------------

def test_a_visitor_is_sent_to_the_sites_own_sign_in(child):
    response = Client().get(reverse("admin:children_child_change", args=[child.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    login = Client().get(response["Location"])
    assert login.status_code == 302 and login["Location"].startswith(reverse("two_factor:login"))


def test_a_password_only_superuser_is_refused_every_page(password_only, child):
    for url in admin_pages(child):
        response = password_only.get(url, follow=True)
        assert response.status_code == 403, url
        assert b"Trelawny" not in response.content and b"Refuge" not in response.content


def test_the_admin_login_form_cannot_be_used_to_sign_in_with_a_password(root, child):
    root.set_password("correct horse battery staple")
    root.save()
    client = Client()
    response = client.post(reverse("admin:login"), {"username": "root", "password": "correct horse battery staple"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("two_factor:login"))
    assert client.get(reverse("admin:children_child_change", args=[child.pk])).status_code == 302
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("kind", ["staff", "la_admin_staff"])
def test_a_verified_user_who_is_not_a_superuser_is_refused(kind, child):
    user = factories.UserFactory(is_staff=True, is_superuser=False)
    if kind == "la_admin_staff":
        factories.LAAdminFactory(user=user, local_authority=child.local_authority)
    client = verified_login(Client(), user)
    for url in admin_pages(child):
        assert client.get(url, follow=True).status_code == 403, url


def test_a_verified_superuser_gets_in(admin_client, child):
    for url in admin_pages(child):
        assert admin_client.get(url).status_code == 200, url


def test_a_refused_request_is_audited_as_denied_and_an_allowed_one_as_allowed(password_only, admin_client, child):
    url = reverse("admin:children_child_change", args=[child.pk])
    password_only.get(url)
    admin_client.get(url)
    events = list(AccessEvent.objects.filter(action="admin.view").order_by("id"))
    assert [(e.outcome, e.child_ref, e.actor_username) for e in events] == [
        ("denied", child.reference, "root"), ("allowed", child.reference, "root")]


# No secrets ---------------------------------------------------------------------------------

def test_a_users_page_shows_no_password_hash_and_there_is_no_set_password_form(admin_client, root):
    practitioner = factories.PractitionerFactory()
    user = practitioner.user
    page = admin_client.get(reverse("admin:auth_user_change", args=[user.pk])).content.decode()
    algorithm, _, rest = user.password.partition("$")
    assert user.password not in page and rest[:8] not in page and "hash" not in page.lower()
    for path in ("password/", "password/change/"):
        response = admin_client.get(f"/django-admin/auth/user/{user.pk}/{path}", follow=True)
        assert 'name="password1"' not in response.content.decode()
    response = admin_client.post(reverse("admin:auth_user_change", args=[user.pk]),
                                 {"username": user.username, "is_superuser": "on", "is_staff": "on"})
    assert response.status_code == 403
    user.refresh_from_db()
    assert not user.is_superuser


def test_totp_secrets_and_backup_codes_are_not_shown(admin_client):
    user = factories.UserFactory()
    totp = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    static = StaticDevice.objects.create(user=user, name="backup", confirmed=True)
    StaticToken.objects.create(device=static, token="abcd1234")
    pages = [admin_client.get(reverse("admin:otp_totp_totpdevice_changelist")).content.decode(),
             admin_client.get(reverse("admin:otp_totp_totpdevice_change", args=[totp.pk])).content.decode(),
             admin_client.get(reverse("admin:otp_static_staticdevice_change", args=[static.pk])).content.decode()]
    import base64

    secret_b32 = base64.b32encode(totp.bin_key).decode()
    for page in pages:
        assert totp.key not in page and secret_b32 not in page and "otpauth://" not in page
        assert "abcd1234" not in page
    assert admin_client.post(reverse("admin:otp_totp_totpdevice_add"), {"user": user.pk, "name": "mine"}
                             ).status_code == 403


def test_api_token_keys_are_not_reachable(admin_client):
    token = Token.objects.create(user=factories.UserFactory())
    with pytest.raises(NoReverseMatch):
        reverse("admin:authtoken_tokenproxy_changelist")
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert token.key not in index and "authtoken" not in index


def test_organisation_token_keys_and_hashes_are_not_shown(admin_client):
    key = OrganisationToken.new_key()
    token = OrganisationToken.objects.create(name="MIS feed", organisation=factories.OrganisationFactory(),
                                             prefix=key[:10], key_hash=OrganisationToken.hash_key(key))
    for url in (reverse("admin:feeds_organisationtoken_changelist"),
                reverse("admin:feeds_organisationtoken_change", args=[token.pk])):
        page = admin_client.get(url).content.decode()
        assert key not in page and OrganisationToken.objects.get().key_hash not in page


# Child records are read-only ----------------------------------------------------------------

def test_a_child_cannot_be_edited_by_an_admin_post(admin_client, child):
    """The issue's reproduction: move a shielded child's refuge address, unshield, rename."""
    url = reverse("admin:children_child_change", args=[child.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="address_line"' not in page and "<form" in page  # shown, not editable
    response = admin_client.post(url, {"shielded": "", "address_line": "Somewhere else", "postcode": "W6 9LA",
                                       "given_names": "Changed", "family_name": "Changed",
                                       "names-TOTAL_FORMS": "0", "names-INITIAL_FORMS": "0"})
    assert response.status_code == 403
    child.refresh_from_db()
    assert child.shielded and child.address_line == "1 Refuge Lane" and child.family_name == "Trelawny"


def test_children_names_addresses_involvements_and_grants_cannot_be_added_or_deleted(admin_client, child):
    involvement = factories.InvolvementFactory(child=child)
    address = Address.objects.filter(child=child).first() or factories.AddressFactory(child=child)
    for model in ("child", "involvement", "address"):
        assert admin_client.post(reverse(f"admin:children_{model}_add"), {}).status_code == 403
    for name, obj in [("children_child", child), ("children_involvement", involvement),
                      ("children_address", address)]:
        assert admin_client.post(reverse(f"admin:{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
        assert admin_client.post(reverse(f"admin:{name}_change", args=[obj.pk]), {}).status_code == 403
    practitioner = factories.PractitionerFactory()
    response = admin_client.post(reverse("admin:practitioners_accessgrant_add"), {
        "practitioner": practitioner.pk, "child": child.pk, "source": "access_request", "reason": "x"})
    assert response.status_code == 403
    assert not AccessGrant.objects.filter(practitioner=practitioner).exists()
    assert Child.objects.filter(pk=child.pk).exists() and Involvement.objects.filter(pk=involvement.pk).exists()

