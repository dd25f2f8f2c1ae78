from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """Everyone who logs in: players through the API, staff through the admin. The email is the login."""

    username = None
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []
    objects = UserManager()

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="players_user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email


class PlayerStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    SELF_EXCLUDED = "self_excluded", "Self-excluded"
    CLOSED = "closed", "Closed"


class StatusReason(models.TextChoices):
    # The regulator's structured reasons for a suspension or closure (REPORTS.md, RUD status; DGOJ v3.3).
    PLAYER_REQUEST = "player_request", "The player's request"
    INACTIVITY = "inactivity", "Inactivity"
    SAFER_GAMBLING = "safer_gambling", "Safer gambling"
    FRAUD_PAYMENT = "fraud_payment", "Fraud or payment problem"
    TERMS_BREACH = "terms_breach", "Breach of the terms"
    OTHER = "other", "Other"


class Sex(models.TextChoices):
    MALE = "M", "Male"
    FEMALE = "F", "Female"
    OTHER = "X", "Other / not stated"


class DocumentType(models.TextChoices):
    # The regulator's codes (REPORTS.md, RUD residence block).
    NATIONAL_ID = "ID", "National identity card"
    PASSPORT = "PA", "Passport"
    DRIVING_LICENCE = "DL", "Driving licence"
    SOCIAL_SECURITY = "SS", "Social security"
    OTHER = "OT", "Other"


class Device(models.TextChoices):
    MOBILE = "MO", "Mobile"
    PC = "PC", "PC"
    TABLET = "TB", "Tablet"
    PHONE = "TF", "Phone"
    OTHER = "OT", "Other"


class Player(FSMModelMixin, models.Model):
    """The player's identity and status. Money lives in the ledger; limits in apps.limits; KYC in apps.kyc.

    Identity and contact fields are optional at registration and completed at KYC, because
    the regulator's player registry (REPORTS.md, RUD) asks for all of them.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField("players.User", on_delete=models.PROTECT, related_name="player")
    date_of_birth = models.DateField()
    country = models.CharField(max_length=2, help_text="Country of residence, ISO 3166-1 alpha-2.")
    currency = models.CharField(max_length=3, help_text="Wallet currency, ISO 4217; fixed at registration.")
    # The licence whose rules apply (apps.markets, read through markets.selectors.policy_for): decided from
    # the country at registration, changed only by an operator with a reason (player_change_market).
    # A code, not a foreign key: players sits beside markets in the layers and never imports it.
    market = models.CharField(max_length=16, db_index=True, blank=True)
    second_surname = models.CharField(max_length=150, blank=True)
    nationality = models.CharField(max_length=2, blank=True)
    sex = models.CharField(max_length=1, choices=Sex.choices, blank=True)
    address_street = models.CharField(max_length=255, blank=True)
    address_city = models.CharField(max_length=120, blank=True)
    address_postcode = models.CharField(max_length=20, blank=True)
    address_country = models.CharField(max_length=2, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    phone_verified = models.BooleanField(default=False)
    email_verified = models.BooleanField(default=False)
    id_document_type = models.CharField(max_length=2, choices=DocumentType.choices, blank=True)
    id_document_number = models.CharField(max_length=64, blank=True)
    signup_ip = models.GenericIPAddressField(null=True, blank=True)
    signup_device = models.CharField(max_length=2, choices=Device.choices, blank=True)
    device_id = models.CharField(max_length=128, blank=True)
    is_test_player = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True, help_text="First positive identity verification.")

    status = FSMField(default=PlayerStatus.ACTIVE, choices=PlayerStatus.choices, protected=True)
    status_reason = models.CharField(max_length=255, blank=True)
    status_reason_code = models.CharField(
        max_length=16, choices=StatusReason.choices, blank=True, help_text="Why suspended or closed, in the regulator's terms."
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Legally barred (the DGOJ RUD's status PR): a national self-exclusion register (RGIAJ, GAMSTOP) names this
    # person. The status is self_excluded (no play, no deposit, API.md's statuses); this says why, and which register.
    legally_barred_at = models.DateTimeField(null=True, blank=True)
    legally_barred_register = models.CharField(max_length=16, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        indexes = [models.Index(fields=["status"]), models.Index(fields=["country"])]
        permissions = [
            ("change_player_status", "Can suspend, reinstate or close players"),
            ("change_player_market", "Can move a player to another market (licence)"),
        ]

    def __str__(self) -> str:
        return f"{self.user.email} ({self.public_id})"

    # Transitions: called only by apps.players.services, which records who and why.
    @transition(field=status, source=PlayerStatus.ACTIVE, target=PlayerStatus.SUSPENDED)
    def suspend(self) -> None: ...

    @transition(field=status, source=PlayerStatus.SUSPENDED, target=PlayerStatus.ACTIVE)
    def reinstate(self) -> None: ...

    @transition(field=status, source=[PlayerStatus.ACTIVE, PlayerStatus.SUSPENDED], target=PlayerStatus.SELF_EXCLUDED)
    def self_exclude(self) -> None: ...

    @transition(field=status, source=PlayerStatus.SELF_EXCLUDED, target=PlayerStatus.ACTIVE)
    def reactivate(self) -> None: ...

    # The return from a self-exclusion that began while the player was suspended restores the suspension.
    @transition(field=status, source=PlayerStatus.SELF_EXCLUDED, target=PlayerStatus.SUSPENDED)
    def return_suspended(self) -> None: ...

    @transition(
        field=status,
        source=[PlayerStatus.ACTIVE, PlayerStatus.SUSPENDED, PlayerStatus.SELF_EXCLUDED],
        target=PlayerStatus.CLOSED,
    )
    def close(self) -> None: ...


class IdentityKind(models.TextChoices):
    NAME_AND_BIRTH = "name_dob", "Normalised names and date of birth"
    DOCUMENT = "document", "Identity document number"


class ExcludedIdentity(models.Model):
    """A self-excluded person, by identity rather than by account (UKGC LCCP SR 3.5.3, RD 1614/2011 art. 26).

    Written when a player self-excludes, lifted only when their exclusion ends and they return; never
    by closing the account, so the same person cannot come back under a new email. Only fingerprints
    (SHA-256 of normalised values) are kept here: the identity itself stays on the player row.
    """

    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="excluded_identities")
    kind = models.CharField(max_length=10, choices=IdentityKind.choices)
    fingerprint = models.CharField(max_length=64, db_index=True)
    active = models.BooleanField(default=True)
    reason = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["player", "kind", "fingerprint"], name="players_excluded_identity_once")]
        verbose_name_plural = "excluded identities"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of player {self.player_id} ({'active' if self.active else 'lifted'})"


class Tag(models.Model):
    """A label staff put on players to treat them alike: VIP, problem gambling, bonus abuse, ...

    Tags are data (operators add new ones), so the list filter and the 360 follow without a deploy.
    """

    name = models.CharField(max_length=40, unique=True)
    description = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class PlayerTag(models.Model):
    """One tag on one player, with who put it there and why; removing it leaves the history row."""

    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="player_tags")
    tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="player_tags")
    reason = models.CharField(max_length=255)
    added_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["player", "tag"], name="players_player_tag_once")]

    def __str__(self) -> str:
        return f"{self.tag} on player {self.player_id}"


class PlayerNote(models.Model):
    """An internal note on a player (never shown to them): what support was told, what an operator decided.

    Notes are only added, never edited or deleted, so the account's story cannot be rewritten afterwards.
    """

    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"Note on player {self.player_id} by {self.author_id}"
