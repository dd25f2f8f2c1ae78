"""Staff two-factor authentication: required of operators, compliance and superusers in production, optional in the demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def test_production_settings_require_2fa_of_operators_and_compliance():
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production", "DJANGO_ALLOWED_HOSTS": "bo.example.com",
        "DJANGO_SECRET_KEY": "s3cr3t-" + "k9Qz2vLp7Xw4Rt8Yb1Nm6Hc3Jd5Fg0Ae" * 2, "PSP_WEBHOOK_SECRET": "x" * 20,
        "DATABASE_URL": "postgres://casino@db.internal:5432/casino", "REDIS_URL": "redis://cache.internal:6379/0",
        "CELERY_BROKER_URL": "redis://cache.internal:6379/1",
    }
    env.pop("STAFF_2FA_REQUIRED_ROLES", None)
    middleware = "apps.backoffice.middleware.StaffTwoFactorMiddleware"
    code = f"from django.conf import settings; print(sorted(settings.STAFF_2FA_REQUIRED_ROLES), {middleware!r} in settings.MIDDLEWARE)"
    out = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("['compliance', 'operator'] True")
    weakened = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT,
                              env={**env, "STAFF_2FA_REQUIRED_ROLES": "compliance"}, capture_output=True, text=True, timeout=60)
    assert weakened.returncode != 0 and "two-factor" in weakened.stderr


@pytest.fixture
def production_2fa(settings):
    settings.STAFF_2FA_REQUIRED_ROLES = ["operator", "compliance"]


def test_compliance_without_a_verified_device_cannot_reach_the_admin(client, staff_user, production_2fa):
    client.force_login(staff_user("compliance"))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("backoffice_2fa_setup"))
    assert client.get(reverse("admin:aml_amlalert_changelist")).status_code == 302


def test_setting_up_a_device_with_a_right_code_opens_the_admin(client, staff_user, production_2fa):
    officer = staff_user("compliance")
    client.force_login(officer)
    page = client.get(reverse("backoffice_2fa_setup"))
    assert page.status_code == 200 and b'id="totp-secret"' in page.content
    device = TOTPDevice.objects.get(user=officer, confirmed=False)
    assert client.post(reverse("backoffice_2fa_setup"), {"token": _code(device)}).status_code == 302
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_new_session_must_enter_the_code_again(client, staff_user, production_2fa):
    operator = staff_user("operator")
    device = TOTPDevice.objects.create(user=operator, name="phone", confirmed=True)
    client.force_login(operator)
    response = client.get(reverse("admin:index"))
    assert response["Location"].startswith(reverse("backoffice_2fa_verify"))
    client.post(reverse("backoffice_2fa_verify"), {"token": _code(device)})
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_superuser_is_held_to_the_second_factor_in_production_but_not_in_the_demo(client, staff_user, settings, production_2fa):
    root = staff_user(superuser=True)  # in no role group: every power comes from is_superuser
    client.force_login(root)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("backoffice_2fa_setup"))
    assert client.get(reverse("admin:ledger_account_changelist")).status_code == 302
    device = TOTPDevice.objects.create(user=root, name="phone", confirmed=True)
    assert client.get(reverse("admin:index"))["Location"].startswith(reverse("backoffice_2fa_verify"))
    client.post(reverse("backoffice_2fa_verify"), {"token": _code(device)})
    assert client.get(reverse("admin:index")).status_code == 200

    settings.STAFF_2FA_REQUIRED_ROLES = []  # the demo and test settings: optional for superusers as for the others
    client.force_login(staff_user(superuser=True))
    assert client.get(reverse("admin:index")).status_code == 200


def test_support_and_the_demo_need_no_second_factor(client, staff_user, settings, production_2fa):
    client.force_login(staff_user("support"))
    assert client.get(reverse("admin:index")).status_code == 200  # support is not a required role
    settings.STAFF_2FA_REQUIRED_ROLES = []  # the demo and test settings
    client.force_login(staff_user("compliance"))
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_wrong_code_confirms_nothing(client, staff_user, production_2fa):
    officer = staff_user("compliance")
    client.force_login(officer)
    client.get(reverse("backoffice_2fa_setup"))
    device = TOTPDevice.objects.get(user=officer, confirmed=False)
    wrong = client.post(reverse("backoffice_2fa_setup"), {"token": "000000" if _code(device) != "000000" else "111111"})
    assert wrong.status_code == 200 and not TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.get(reverse("admin:index")).status_code == 302
