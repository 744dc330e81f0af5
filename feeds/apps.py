from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "feeds"
    verbose_name = "Source-system feeds"

    def ready(self):
        from feeds import lookups  # noqa: F401  registers field__any_of
