from django.apps import AppConfig


class PractitionersConfig(AppConfig):
    name = "practitioners"
    verbose_name = "Practitioners and access"

    def ready(self):
        from practitioners import signals  # noqa: F401  (connects the sign-in receivers)
