"""Staff roles: groups exist after migrate and hold exactly the permissions the apps declare."""

from __future__ import annotations

import logging

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission

from apps.core import role_sync as roles
from apps.players import roles as players_roles

pytestmark = pytest.mark.django_db


def perms_of(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_the_three_groups_exist_after_migrate():
    assert set(Group.objects.filter(name__in=roles.ROLES).values_list("name", flat=True)) == set(roles.ROLES)


def test_players_permissions_follow_least_privilege():
    operator, compliance, support = perms_of("operator"), perms_of("compliance"), perms_of("support")
    assert {"players.view_player", "players.change_player", "players.change_player_status"} <= operator
    assert {"players.view_player", "players.change_player_status"} <= compliance
    assert "players.change_player" not in compliance
    assert "players.view_player" in support
    assert not {"players.change_player", "players.change_player_status"} & support
    # Nobody but a superuser manages logins.
    assert not any(p.startswith("players.") and p.endswith("_user") for p in operator | compliance | support)


def test_every_declared_permission_exists_or_is_reported():
    missing = roles.sync_role_permissions()
    declared = roles.declared_role_permissions()
    for role in roles.ROLES:
        assert perms_of(role) == declared.get(role, set()) - set(missing.get(role, []))


def test_staff_in_a_group_get_its_permissions(staff_user):
    support, operator = staff_user("support"), staff_user("operator")
    assert support.is_staff and support.has_perm("players.view_player")
    assert not support.has_perm("players.change_player_status")
    assert operator.has_perm("players.change_player_status")


def test_sync_removes_permissions_granted_by_hand_and_is_idempotent():
    support = Group.objects.get(name="support")
    support.permissions.add(Permission.objects.get(content_type__app_label="players", codename="change_player_status"))
    roles.sync_role_permissions()
    assert "players.change_player_status" not in perms_of("support")
    before = {role: perms_of(role) for role in roles.ROLES}
    roles.sync_role_permissions()
    assert {role: perms_of(role) for role in roles.ROLES} == before


def test_sync_recreates_missing_groups():
    Group.objects.filter(name="compliance").delete()
    roles.sync_role_permissions()
    assert "players.change_player_status" in perms_of("compliance")


def test_unknown_permissions_are_skipped_and_logged(monkeypatch, caplog):
    monkeypatch.setitem(players_roles.ROLE_PERMISSIONS, "support", [*players_roles.ROLE_PERMISSIONS["support"], "players.fly_to_the_moon"])
    monkeypatch.setitem(players_roles.ROLE_PERMISSIONS, "auditor", ["players.view_player"])
    with caplog.at_level(logging.INFO, logger="apps.core.role_sync"):
        missing = roles.sync_role_permissions()
    assert missing["support"] == ["players.fly_to_the_moon"]
    assert "players.view_player" in perms_of("support")
    assert "fly_to_the_moon" in caplog.text
    assert "auditor" in caplog.text
    assert not Group.objects.filter(name="auditor").exists()


def test_other_apps_roles_modules_are_collected(monkeypatch, tmp_path):
    package = tmp_path / "fakeapp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "roles.py").write_text('ROLE_PERMISSIONS = {"support": ["auth.view_group"]}\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    from django.conf import settings

    monkeypatch.setattr(settings, "LOCAL_APPS", [*settings.LOCAL_APPS, "fakeapp"])
    roles.sync_role_permissions()
    assert "auth.view_group" in perms_of("support")


def test_post_migrate_sync_runs_once_after_the_last_app(monkeypatch):
    calls = []
    monkeypatch.setattr(roles, "sync_role_permissions", lambda **kw: calls.append(kw))
    configs = [c for c in apps.get_app_configs() if c.models_module is not None]
    for config in configs:
        roles.sync_roles_after_migrate(sender=config, using="default")
    assert calls == [{"using": "default"}]
