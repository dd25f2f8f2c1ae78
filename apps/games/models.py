"""The game catalog, provably fair sessions and rounds, and the provider wallets' transaction log.

Money never lives here: stakes and payouts are ledger postings (apps.ledger), and each row keeps the
id of the posting it caused. Amounts are integer minor units of the row's currency.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from apps.core.money import Money

HOUSE = "house"


class GameKind(models.TextChoices):
    DICE = "dice", "Dice"
    SLOTS = "slots", "Slots"
    ROULETTE = "roulette", "Roulette"
    CRASH = "crash", "Crash"
    TABLE = "table", "Table game"
    LIVE = "live", "Live casino"


class Volatility(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class ProviderProtocol(models.TextChoices):
    GENERIC = "generic", "Generic signed (HMAC-SHA256, API.md)"
    CALETA = "caleta", "Caleta / Hub88 family (RSA-SHA256)"


class Provider(models.Model):
    """A game provider or aggregator that calls our wallet.

    The HMAC secret (generic protocol) is stored encrypted with a key derived from the server's
    settings (apps.games.crypto), so a leaked database dump alone does not let anyone sign as the
    provider; the RSA public key (Caleta family) is public by nature. Neither is ever shown in the
    admin or the API, and the secret column is left out of the history table.
    """

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    protocol = models.CharField(max_length=16, choices=ProviderProtocol.choices)
    enabled = models.BooleanField(default=True)
    currencies = models.JSONField(default=list, blank=True, help_text='ISO 4217 codes the provider plays in, e.g. ["EUR"].')
    launch_url = models.URLField(blank=True, help_text="The provider's game launcher; our token is appended.")
    secret_encrypted = models.TextField(blank=True, editable=False)
    public_key_pem = models.TextField(blank=True, editable=False)
    key_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["secret_encrypted"])

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    @property
    def has_key(self) -> bool:
        return bool(self.secret_encrypted or self.public_key_pem)


class Game(models.Model):
    """A catalog entry. In-house games have no provider (the API shows `provider: "house"`)."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=GameKind.choices)
    provider = models.ForeignKey(Provider, null=True, blank=True, on_delete=models.PROTECT, related_name="games")
    provider_game_code = models.CharField(max_length=100, blank=True)
    enabled = models.BooleanField(default=True)
    rtp = models.DecimalField(
        max_digits=5, decimal_places=2, validators=[MinValueValidator(Decimal("1.00")), MaxValueValidator(Decimal("99.99"))],
        help_text="Target return to player, percent. A change applies to sessions opened after it.",
    )
    volatility = models.CharField(max_length=8, choices=Volatility.choices, default=Volatility.MEDIUM)
    # {"EUR": {"min": 10, "max": 10000}}: minor units per currency; a currency not listed cannot be played.
    stake_limits = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_game_code"],
                condition=models.Q(provider__isnull=False),
                name="games_game_provider_code_unique",
            ),
        ]
        permissions = [("change_game_rtp", "Can change a game's RTP and stake limits")]

    def __str__(self) -> str:
        return self.slug

    @property
    def provider_code(self) -> str:
        return self.provider.code if self.provider_id else HOUSE

    def stake_range(self, currency: str) -> tuple[Money, Money] | None:
        limits = (self.stake_limits or {}).get(currency)
        if not limits:
            return None
        return Money.from_minor(int(limits["min"]), currency), Money.from_minor(int(limits["max"]), currency)


class SessionStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class GameSession(models.Model):
    """A provably fair session: the server seed is committed (by its SHA-256) before the first bet and
    revealed only when the session closes, so the player can verify every round afterwards.

    The session's RTP is fixed when it opens: an operator's later change never alters the odds of a
    session already in play. `nonce` is the next round's nonce; it moves by a queryset update under the
    session's row lock, so it does not write a history row per round.
    """

    player = models.ForeignKey("players.Player", on_delete=models.PROTECT, related_name="game_sessions")
    game = models.ForeignKey(Game, on_delete=models.PROTECT, related_name="sessions")
    status = FSMField(default=SessionStatus.OPEN, choices=SessionStatus.choices, protected=True)
    server_seed = models.CharField(max_length=64, editable=False)
    server_seed_hash = models.CharField(max_length=64)
    client_seed = models.CharField(max_length=64)
    nonce = models.PositiveIntegerField(default=0)
    rtp = models.DecimalField(max_digits=5, decimal_places=2)
    close_reason = models.CharField(max_length=100, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    # The seed stays out of history: the admin's history page must not reveal it while the session is open.
    history = HistoricalRecords(excluded_fields=["server_seed", "nonce"])

    class Meta:
        indexes = [models.Index(fields=["player", "status"], name="games_session_player_status")]

    def __str__(self) -> str:
        return f"Session #{self.pk} {self.game_id} {self.status}"

    @transition(field=status, source=SessionStatus.OPEN, target=SessionStatus.CLOSED)
    def close(self) -> None: ...


class Round(models.Model):
    """One in-house round: its stake and payout postings, the outcome, and what is needed to verify it."""

    # session and game: no index of their own, the unique constraints (session, ...) and the (game, created_at)
    # index lead with them; every round writes each index (migration games 0006).
    session = models.ForeignKey(GameSession, on_delete=models.PROTECT, related_name="rounds", db_index=False)
    player = models.ForeignKey("players.Player", on_delete=models.PROTECT, related_name="+")
    game = models.ForeignKey(Game, on_delete=models.PROTECT, related_name="+", db_index=False)
    nonce = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=64)
    currency = models.CharField(max_length=3)
    stake_minor = models.BigIntegerField()
    payout_minor = models.BigIntegerField()
    balance_after_minor = models.BigIntegerField(help_text="The player's cash after the round (what the round answer shows).")
    rtp = models.DecimalField(max_digits=5, decimal_places=2, help_text="The RTP this round was played at.")
    choices = models.JSONField(default=dict)
    outcome = models.JSONField(default=dict)
    # Var(payout) of this round in minor units² (stake² × the choice's variance per unit stake): a statistic
    # for the RTP monitor's confidence band, never money.
    variance = models.FloatField(default=0.0)
    bet_transaction = models.ForeignKey("ledger.LedgerTransaction", on_delete=models.PROTECT, related_name="+")
    win_transaction = models.ForeignKey("ledger.LedgerTransaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "nonce"], name="games_round_session_nonce_unique"),
            models.UniqueConstraint(fields=["session", "idempotency_key"], name="games_round_session_key_unique"),
            models.CheckConstraint(condition=models.Q(stake_minor__gt=0), name="games_round_stake_positive"),
            models.CheckConstraint(condition=models.Q(payout_minor__gte=0), name="games_round_payout_not_negative"),
        ]
        indexes = [models.Index(fields=["game", "created_at"], name="games_round_game_created")]

    def __str__(self) -> str:
        return f"Round #{self.pk} nonce {self.nonce}"

    @property
    def stake(self) -> Money:
        return Money.from_minor(self.stake_minor, self.currency)

    @property
    def payout(self) -> Money:
        return Money.from_minor(self.payout_minor, self.currency)

    @property
    def balance_after(self) -> Money:
        return Money.from_minor(self.balance_after_minor, self.currency)


class LaunchToken(models.Model):
    """What a provider sends back on every wallet call. A newer launch for the same player and game
    replaces it for bets (`replaced_at`); wins and rollbacks still settle on it."""

    token = models.CharField(max_length=64, unique=True)
    player = models.ForeignKey("players.Player", on_delete=models.PROTECT, related_name="+")
    game = models.ForeignKey(Game, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    replaced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["player", "game"], name="games_token_player_game")]

    def __str__(self) -> str:
        return f"Launch token #{self.pk}"


class ProviderTransactionKind(models.TextChoices):
    BET = "bet", "Bet"
    WIN = "win", "Win"
    ROLLBACK = "rollback", "Rollback"


class ProviderTransaction(models.Model):
    """Every wallet call that may move money, keyed by the provider's transaction id (unique per provider).

    A rollback of a transaction we never saw is kept too (`ledger_transaction` empty), so a bet arriving
    later with that id is refused: the provider has already told the player the bet did not happen.
    """

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="transactions")
    transaction_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=ProviderTransactionKind.choices)
    player = models.ForeignKey("players.Player", on_delete=models.PROTECT, related_name="+")
    game = models.ForeignKey(Game, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    round_id = models.CharField(max_length=100, blank=True)
    reference_transaction_id = models.CharField(max_length=100, blank=True)
    currency = models.CharField(max_length=3)
    amount_minor = models.BigIntegerField(default=0)
    rolled_back = models.BooleanField(default=False, help_text="Bets only: a rollback returned the stake.")
    ledger_transaction = models.ForeignKey("ledger.LedgerTransaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "transaction_id"], name="games_provider_transaction_unique"),
            models.CheckConstraint(condition=models.Q(amount_minor__gte=0), name="games_provider_amount_not_negative"),
        ]
        indexes = [
            models.Index(fields=["provider", "player", "round_id"], name="games_ptx_round"),
            models.Index(fields=["provider", "reference_transaction_id"], name="games_ptx_reference"),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id}:{self.transaction_id} {self.kind}"


class GameDayStats(models.Model):
    """One game's play on one UTC day in one currency, refreshed by the RTP monitor task."""

    game = models.ForeignKey(Game, on_delete=models.PROTECT, related_name="day_stats")
    day = models.DateField()
    currency = models.CharField(max_length=3)
    rounds = models.PositiveIntegerField(default=0)
    turnover_minor = models.BigIntegerField(default=0)
    payouts_minor = models.BigIntegerField(default=0)
    rtp_target = models.DecimalField(max_digits=5, decimal_places=2)
    variance = models.FloatField(default=0.0, help_text="Var(total payout) in minor units², for the confidence band.")
    z_score = models.FloatField(null=True, blank=True)
    flagged = models.BooleanField(default=False)
    refreshed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["game", "day", "currency"], name="games_daystats_unique")]
        ordering = ["-day", "game_id"]
        verbose_name_plural = "game day stats"

    def __str__(self) -> str:
        return f"{self.game_id} {self.day} {self.currency}"

    @property
    def ggr_minor(self) -> int:
        return self.turnover_minor - self.payouts_minor

    @property
    def rtp_actual(self) -> Decimal | None:
        if not self.turnover_minor:
            return None
        return (Decimal(self.payouts_minor) * 100 / Decimal(self.turnover_minor)).quantize(Decimal("0.01"))
