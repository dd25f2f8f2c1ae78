"""Responsible gaming. protection_check is the one gate every deposit and stake passes through.

One module per seam, all importable from here (`apps.limits.services.<name>`): `lock` (the per-player
row lock), `protection` (the check), `play` (the stake and game-start gate: protection plus the market's
play rules and reality checks), `market_gate`, `limits`, `exclusions` (time-outs, self-exclusion, the
return), `reality_checks`.

Decisions (see also the regulations cited where they apply):

- One lock per player. Every service here first locks the player's PlayerProtection row
  (created race-free on first use). protection_check runs inside the money service's transaction,
  so the lock is held until the deposit or stake commits: two concurrent requests cannot both see
  the same remaining allowance, and an exclusion cannot start half-way through a stake.
- The check is cheap for the common player. The lock and the status read after it travel in one
  round trip (two statements, see _lock_and_status_query), and `PlayerProtection.has_limits`, set
  under the same lock when the first limit row is created, lets a player who never set a limit skip
  the limits query. Every limit row must therefore be created through _save_limit.
- Rolling windows. A day is the last 24 hours, a week the last 7 × 24 hours, a month the last
  30 × 24 hours, counted back from the moment of the check. There is no midnight or month-start reset
  at which a player could spend two periods' worth back to back; the regulator's calendar periods
  (REPORTS.md: weekly Mon–Sun) are a reporting label, the cap is never looser than a calendar one.
- Usage is read from the ledger (apps.ledger.selectors.player_cash_flows): deposits = sum of deposit
  entries; wager = stakes minus rolled-back stakes; loss = −(stakes + wins + rollbacks), never below 0.
  A stake raises the loss by at most the stake, so a stake is refused if loss + stake > limit.
- The lowest applicable limit wins: every limit of the action's kinds is checked and the refusal
  names the one with the least room left (day 50 + week 30 → the week's 30 binds).
- Limit changes (UKGC RTS 12): a new limit, a decrease, or re-setting the current amount applies at
  once and cancels any pending raise or removal (the player chose the stricter state); a raise or a
  removal waits LIMIT_COOLING_OFF (24 h) as `pending_*`. Asking for the same pending raise again does
  not restart the clock; a different amount does. A due change counts from its due moment in
  protection_check (which only reads); it is stored by the next limit service under the lock and by
  the periodic task `activate_pending_limits`.
- Time-out (24 … 1008 hours) and self-exclusion (6, 12 or 60 months, or permanent) can only be
  extended, never shortened or lifted: no service, API or admin path ends one early. Withdrawals never
  call protection_check, so pending withdrawals stay payable.
- Returning from self-exclusion takes positive action after the period ended (UKGC LCCP SR 3.5.3):
  `self_exclusion_reactivate` records the request, and the player's status returns to active only
  after a one-day cooling-off (SELF_EXCLUSION_RETURN_COOLING_OFF, default LIMIT_COOLING_OFF), done by
  the periodic task (reactivation_complete_due, every 15 minutes). protection_check only reads: it
  lets the player play from the end of the cooling-off and leaves the status write to the task. The
  return restores the status from before the exclusion: a suspended player comes back suspended.
  A legally barred player (a national register names them) does not return: the request is refused, the
  check does not honour a return asked for before the bar, and the task drops such a request (UKGC LCCP
  SR 3.5.4, RD 1614/2011 art. 26; the rule is players.selectors.player_assert_not_legally_barred).
  One rule decides every return (exclusions.self_exclusion_assert_returnable): only from the player's own
  exclusion, ended and not yet returned from, and never while the same person (the players app's identity
  fingerprints) is barred or self-excluded on another account (UKGC LCCP SR 3.5.4: multi-account
  self-exclusion; RD 1614/2011 art. 26).
- While a time-out or self-exclusion lasts, limits may only be made stricter: raises and removals
  are refused (403 self_excluded), so none is waiting to go live on the player's return.
- `protection_session_start(player=...)` runs at login (apps.limits listens to the players app's
  login signal) so reality checks count from the start of the session.
"""

from __future__ import annotations

from .exclusions import (
    SELF_EXCLUSION_MONTHS,
    TIMEOUT_HOURS,
    exclusion_end_due,
    reactivation_complete_due,
    self_exclusion_reactivate,
    self_exclusion_start,
    timeout_start,
)
from .interactions import harm_markers_detect, harm_markers_find, interaction_close, interaction_contact, interaction_open
from .limits import limit_activate_due, limit_confirm, limit_remove, limit_set, limit_tighten_by_operator, limits_at_registration
from .market_gate import due_diligence_volume, market_money_check
from .play import play_check, stake_check
from .protection import ACTION_LIMIT_KINDS, PERIOD_ADJECTIVE, protection_check
from .reality_checks import REALITY_CHECK_MINUTES, protection_session_start, reality_check_acknowledge, reality_check_set

__all__ = [
    "ACTION_LIMIT_KINDS",
    "PERIOD_ADJECTIVE",
    "REALITY_CHECK_MINUTES",
    "SELF_EXCLUSION_MONTHS",
    "TIMEOUT_HOURS",
    "due_diligence_volume",
    "exclusion_end_due",
    "harm_markers_detect",
    "harm_markers_find",
    "interaction_close",
    "interaction_contact",
    "interaction_open",
    "limit_activate_due",
    "limit_confirm",
    "limit_remove",
    "limit_set",
    "limit_tighten_by_operator",
    "limits_at_registration",
    "market_money_check",
    "play_check",
    "protection_check",
    "protection_session_start",
    "reactivation_complete_due",
    "reality_check_acknowledge",
    "reality_check_set",
    "self_exclusion_reactivate",
    "self_exclusion_start",
    "stake_check",
    "timeout_start",
]
