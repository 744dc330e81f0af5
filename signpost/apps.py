from django.contrib.admin.apps import AdminConfig


class SignpostAdminConfig(AdminConfig):
    """django.contrib.admin with our admin site (second factor, superusers only) as ``admin.site``."""

    default_site = "signpost.admin_site.SignpostAdminSite"
