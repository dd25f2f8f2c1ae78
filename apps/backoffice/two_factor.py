"""The admin pages to set up a TOTP device and to enter its code (django-otp does the token checks)."""

from __future__ import annotations

from base64 import b32encode

import qrcode
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice
from qrcode.image.svg import SvgPathImage

from apps.core.admin import shell_styled

DEVICE_NAME = "Authenticator app"


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Six-digit code", max_length=8, widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"})
    )


def _next(request) -> str:
    target = request.GET.get("next") or request.POST.get("next") or reverse("admin:index")
    return target if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()) else reverse("admin:index")


def _page(request, template: str, title: str, **context) -> TemplateResponse:
    return TemplateResponse(request, template, {**admin.site.each_context(request), "title": title, "next": _next(request), **context})


def _qr_svg(data: str) -> str:
    """The otpauth link as an inline SVG QR code (one path with a viewBox, so it scales): no image URL to leak.

    Not django_otp.qr: its SVG uses namespaced `svg:rect` elements, which an HTML page does not draw inline.
    """
    svg = qrcode.make(data, image_factory=SvgPathImage).to_string(encoding="unicode")
    svg = svg.replace('width="', 'data-width="', 1).replace('height="', 'data-height="', 1)
    return mark_safe(svg)  # noqa: S308 -- markup the qrcode library generated from our own otpauth link


@staff_member_required
def setup(request):
    """Add an authenticator app: scan the otpauth link (or type the key), then prove it with one code."""
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name=DEVICE_NAME, confirmed=False)
    form = shell_styled(TokenForm(request.POST or None))
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"].strip()):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            messages.success(request, "Two-factor authentication is set up; you will be asked for a code at each sign-in.")
            return redirect(_next(request))
        form.add_error("token", "That code is not right (or has expired); try the current one.")
    return _page(request, "admin/two_factor/setup.html", "Set up two-factor authentication", form=form,
                 secret=b32encode(device.bin_key).decode(), config_url=device.config_url, qr_svg=_qr_svg(device.config_url),
                 has_confirmed=TOTPDevice.objects.filter(user=request.user, confirmed=True).exists())


@staff_member_required
def verify(request):
    """Enter the current code of a confirmed device; the session is then verified (django-otp)."""
    form = shell_styled(TokenForm(request.POST or None))
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"].strip())
        if device is not None:
            otp_login(request, device)
            return redirect(_next(request))
        form.add_error("token", "That code is not right (or has expired); try the current one.")
    return _page(request, "admin/two_factor/verify.html", "Enter your two-factor code", form=form)
