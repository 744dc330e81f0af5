from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self):
        from audit import change_history, guards, services

        connection_created.connect(guards.register_sqlite_function, dispatch_uid="audit_sqlite_flush_gate")
        post_migrate.connect(guards.ensure_sqlite_triggers, sender=self, dispatch_uid="audit_sqlite_triggers")
        post_migrate.connect(services.ensure_chain_heads, sender=self, dispatch_uid="audit_chain_heads")
        change_history.register_models()
