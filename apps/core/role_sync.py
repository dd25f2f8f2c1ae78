"""Staff roles: the `operator`, `compliance` and `support` groups and the permissions each app grants them.

Every local app may declare, in its own `roles.py`,
    ROLE_PERMISSIONS = {"operator": ["<app_label>.<codename>", ...], "compliance": [...], "support": [...]}
After every `migrate` (and every test-database flush) the groups are made to hold exactly the
union of those declarations: the code is the single source of truth, reviewed like code, and a
permission granted by hand in the admin is removed again at the next deploy. Being staff
(`is_staff`, needed to reach the admin at all) is set on the user, not the group.

The sync lives in core because it reads every app's roles.py: an app that owns data declares, core collects.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from importlib import import_module, util

from django.apps import apps as global_apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

logger = logging.getLogger(__name__)

ROLES = ("operator", "compliance", "support")


def declared_role_permissions() -> dict[str, set[str]]:
    """The union of every local app's ROLE_PERMISSIONS; an app without roles.py declares nothing."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for app in settings.LOCAL_APPS:
        module_name = f"{app}.roles"
        if util.find_spec(module_name) is None:
            continue
        declared = getattr(import_module(module_name), "ROLE_PERMISSIONS", {})
        for role, perms in declared.items():
            if role not in ROLES:
                logger.warning("roles: %s declares unknown role %r; ignored", module_name, role)
                continue
            wanted[role].update(perms)
    return wanted


def sync_role_permissions(*, using: str = DEFAULT_DB_ALIAS) -> dict[str, list[str]]:
    """Create the groups if needed and give each exactly its declared permissions.

    Permissions that do not exist (yet) are skipped and logged, so an app can declare a
    permission in the same change that adds its model. Returns the skipped ones per role.
    """
    from django.contrib.auth.models import Group, Permission

    wanted = declared_role_permissions()
    declared = {dotted.partition(".")[::2] for perms in wanted.values() for dotted in perms}
    # Every declared permission in one query (it was one per permission: ~150, a third of a second, and this runs after
    # every migrate, every test-database flush and in each test that makes staff users). Permission's own ordering, the
    # first of each (app_label, codename) kept: the one `.filter(...).first()` found.
    existing: dict[tuple[str, str], Permission] = {}
    if declared:
        candidates = Permission.objects.using(using).select_related("content_type").filter(
            content_type__app_label__in={app_label for app_label, _ in declared}, codename__in={codename for _, codename in declared}
        )
        for perm in candidates:
            existing.setdefault((perm.content_type.app_label, perm.codename), perm)
    missing: dict[str, list[str]] = {}
    for role in ROLES:
        group, _ = Group.objects.using(using).get_or_create(name=role)
        found = []
        for dotted in sorted(wanted.get(role, ())):
            app_label, _, codename = dotted.partition(".")
            perm = existing.get((app_label, codename))
            if perm is None:
                missing.setdefault(role, []).append(dotted)
            else:
                found.append(perm)
        group.permissions.set(found)
    for role, perms in missing.items():
        logger.info("roles: %s: permissions not found (yet), skipped: %s", role, ", ".join(perms))
    return missing


def _last_migrated_app():
    configs = [config for config in global_apps.get_app_configs() if config.models_module is not None]
    return configs[-1] if configs else None


def sync_roles_after_migrate(sender, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate runs once per app; sync once, after the last app, when every permission exists."""
    if sender is not _last_migrated_app():
        return
    sync_role_permissions(using=using)
