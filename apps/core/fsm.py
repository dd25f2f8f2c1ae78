"""Taking one django-fsm step from a service: the one place "not from this state" becomes the API's 409."""

from __future__ import annotations

from typing import Any

from django_fsm import TransitionNotAllowed

from .errors import InvalidState


def fsm_step(obj: Any, method_name: str, *, verb: str | None = None, state_field: str = "status") -> None:
    """Call the transition `method_name` on `obj`; a transition the current state does not allow is InvalidState.

    The caller locked the row and saves it (with its history reason) afterwards: a transition only
    changes the object in memory, so the step and its record commit together or not at all.
    """
    try:
        getattr(obj, method_name)()
    except TransitionNotAllowed:
        state = getattr(obj, state_field)
        noun = obj._meta.verbose_name
        raise InvalidState(
            f"Cannot {verb or method_name.replace('_', ' ')} a {noun} that is {state}.", details={"status": state}
        ) from None
