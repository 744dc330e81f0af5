from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from children.demo import DEMO_PASSWORD, build_demo_world


class Command(BaseCommand):
    help = "Create the demo world (local authorities, practitioners, ~200 children). Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026, help="Random seed: same seed, same world.")
        parser.add_argument("--children-per-authority", type=int, default=67)
        parser.add_argument("--allow-production", action="store_true",
                            help="Seed even though DATABASE_URL is set (never on a live service).")

    def handle(self, *args, seed, children_per_authority, allow_production, **options):
        if not settings.EMBEDDED and not allow_production:
            raise CommandError("Refusing to load demo data into a configured database; pass --allow-production "
                               "if this really is a throwaway one.")
        world = build_demo_world(seed=seed, children_per_authority=children_per_authority)
        self.stdout.write(f"Demo world ready: {world.children} children checked, {len(world.logins)} logins.")
        self.stdout.write(f"Every demo login uses the password: {DEMO_PASSWORD}")
        self.stdout.write("Second factor: `python manage.py demo_code USERNAME` prints the current code.")
        for login in world.logins:
            self.stdout.write(f"  {login.username:<22} {login.role:<13} {login.local_authority}")
