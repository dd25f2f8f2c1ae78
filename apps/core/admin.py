"""Admin base pieces shared by every app."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin


class AuditedHistoryAdmin(SimpleHistoryAdmin):
    """History is for reading. simple-history's "revert to this version" saves the old row on POST
    even when the admin is read-only, which would bypass the services: it could lift a
    self-exclusion, loosen a limit or undo a KYC decision. Every change goes through a service.
    """

    def revert_disabled(self, request, obj=None) -> bool:
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            raise PermissionDenied("Reverting from history is not allowed; use the actions, which call the services.")
        return super().history_form_view(request, object_id, version_id, extra_context)
