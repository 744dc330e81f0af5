from django.apps import AppConfig


class ChildrenConfig(AppConfig):
    name = "children"
    verbose_name = "Children and involvements"

    def ready(self):
        # Before any URLconf is read: children's and practitioners' record routes use <child_ref:...>.
        from django.urls import register_converter

        from children.converters import ChildReferenceConverter

        register_converter(ChildReferenceConverter, "child_ref")
