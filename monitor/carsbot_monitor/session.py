"""The Telegram user session: stored in Secrets Manager, turned into a Telethon client, verified.

The secret is one JSON document ``{"api_id": 123, "api_hash": "...", "session": "<StringSession>"}``.
Its value is never logged, never printed and never put in an environment variable; ``repr`` of
:class:`SessionCredentials` hides it. ``carsbot session login`` writes a *new version* of the secret;
the running monitor notices the new ``AWSCURRENT`` version and switches to it (see ``app.py``).
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from carsbot.adapters import aws

if TYPE_CHECKING:
    from telethon import TelegramClient

AWSCURRENT = "AWSCURRENT"
AWSPREVIOUS = "AWSPREVIOUS"


class SessionSecretError(RuntimeError):
    """The session secret is missing, empty or malformed (the message never contains its value)."""


class SessionDead(RuntimeError):
    """Telegram rejected the session (revoked, unregistered, duplicated, not logged in).

    Retrying with the same session cannot help; the monitor waits for a new secret version.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SessionCredentials:
    api_id: int
    api_hash: str = field(repr=False)
    session: str = field(repr=False)
    version_id: str | None = None

    def __str__(self) -> str:
        return f"SessionCredentials(api_id={self.api_id}, version_id={self.version_id}, session=***)"

    @classmethod
    def from_secret(cls, raw: str | None, version_id: str | None = None) -> SessionCredentials:
        if not raw or not raw.strip():
            raise SessionSecretError("the session secret has no value (run `carsbot session login`)")
        try:
            data = json.loads(raw)
        except ValueError:
            raise SessionSecretError("the session secret is not JSON") from None
        if not isinstance(data, dict):
            raise SessionSecretError("the session secret is not a JSON object")
        missing = [name for name in ("api_id", "api_hash", "session") if not data.get(name)]
        if missing:
            raise SessionSecretError(f"the session secret lacks {', '.join(missing)}")
        try:
            api_id = int(data["api_id"])
        except (TypeError, ValueError):
            raise SessionSecretError("the session secret's api_id is not a number") from None
        return cls(
            api_id=api_id, api_hash=str(data["api_hash"]), session=str(data["session"]), version_id=version_id
        )

    def to_secret(self) -> str:
        return json.dumps({"api_id": self.api_id, "api_hash": self.api_hash, "session": self.session})

    def same_session(self, other: SessionCredentials | None) -> bool:
        """Whether ``other`` holds the same authorization (connecting both at once would duplicate it)."""
        return other is not None and other.session == self.session and other.api_id == self.api_id


class SessionStore:
    """Reads and writes the session secret (synchronous boto3; the monitor calls it in a thread)."""

    def __init__(self, secret_id: str, client: Any = None) -> None:
        if not secret_id:
            raise SessionSecretError("no session secret configured (CARSBOT_TELEGRAM_SESSION_SECRET)")
        self.secret_id = secret_id
        self._client = client

    @property
    def client(self) -> Any:
        return self._client if self._client is not None else aws.client("secretsmanager")

    def current_version(self) -> str | None:
        """The version id that carries ``AWSCURRENT`` (no secret material is transferred)."""
        return self.staged_versions()[0]

    def staged_versions(self) -> tuple[str | None, str | None]:
        """The version ids that carry ``AWSCURRENT`` and ``AWSPREVIOUS`` (one ``DescribeSecret``).

        Secrets Manager moves ``AWSPREVIOUS`` to the old current version whenever a new version becomes
        ``AWSCURRENT`` (``PutSecretValue``), so the previous session stays readable as a fallback.
        """
        try:
            described = self.client.describe_secret(SecretId=self.secret_id)
        except self.client.exceptions.ResourceNotFoundException:
            raise SessionSecretError(f"the session secret {self.secret_id!r} does not exist") from None
        current: str | None = None
        previous: str | None = None
        for version_id, stages in (described.get("VersionIdsToStages") or {}).items():
            if AWSCURRENT in stages:
                current = str(version_id)
            elif AWSPREVIOUS in stages:
                previous = str(version_id)
        return current, previous

    def load(self, version_id: str | None = None) -> SessionCredentials:
        """The credentials of ``version_id`` (default: the current version)."""
        kwargs: dict[str, Any] = {"SecretId": self.secret_id}
        if version_id:
            kwargs["VersionId"] = version_id
        else:
            # Explicit stage: some stand-ins (moto) otherwise return a stale version after rotation.
            kwargs["VersionStage"] = AWSCURRENT
        try:
            response = self.client.get_secret_value(**kwargs)
        except self.client.exceptions.ResourceNotFoundException:
            raise SessionSecretError(
                f"the session secret {self.secret_id!r} has no value (run `carsbot session login`)"
            ) from None
        return SessionCredentials.from_secret(response.get("SecretString"), response.get("VersionId"))

    def store(self, credentials: SessionCredentials) -> str:
        """Store ``credentials`` as a new ``AWSCURRENT`` version; returns the new version id."""
        value = credentials.to_secret()
        try:
            response = self.client.put_secret_value(SecretId=self.secret_id, SecretString=value)
        except self.client.exceptions.ResourceNotFoundException:
            if self.secret_id.startswith("arn:"):
                raise SessionSecretError(f"the session secret {self.secret_id!r} does not exist") from None
            response = self.client.create_secret(
                Name=self.secret_id,
                Description="carsbot monitor user session (written by carsbot session login)",
                SecretString=value,
            )
        return str(response["VersionId"])


ClientFactory = Callable[[SessionCredentials], "TelegramClient"]


def telethon_client(credentials: SessionCredentials) -> TelegramClient:
    """A Telethon client for ``credentials`` (not connected).

    FloodWaits are never slept inside Telethon (``flood_sleep_threshold=0``): the monitor handles them
    itself, bounded and reported. Catch-up is the monitor's job (checkpoints + backfill), so Telethon's
    own catch-up is off.
    """
    from telethon import TelegramClient
    from telethon.sessions import StringSession

    from carsbot_monitor import __version__

    return TelegramClient(
        StringSession(credentials.session),
        credentials.api_id,
        credentials.api_hash,
        flood_sleep_threshold=0,
        catch_up=False,
        receive_updates=True,
        sequential_updates=False,
        connection_retries=5,
        retry_delay=2,
        request_retries=3,
        auto_reconnect=True,
        device_model="carsbot-monitor",
        system_version=f"{platform.system()} {platform.machine()}".strip(),
        app_version=__version__,
    )


def is_session_dead(exc: BaseException) -> bool:
    """Telegram says this session can no longer be used (as opposed to a network or server problem)."""
    from telethon import errors
    from telethon.errors.common import AuthKeyNotFound

    return isinstance(
        exc, errors.AuthKeyDuplicatedError | errors.UnauthorizedError | AuthKeyNotFound | SessionDead
    )


def dead_reason(exc: BaseException) -> str:
    if isinstance(exc, SessionDead):
        return exc.reason
    message = getattr(exc, "message", None)
    return str(message or type(exc).__name__)


async def verify_authorized(client: TelegramClient) -> Any:
    """The logged-in user of a *connected* client; raises :class:`SessionDead` when not authorized."""
    from telethon import functions, types

    try:
        users = await client(functions.users.GetUsersRequest([types.InputUserSelf()]))
    except Exception as exc:
        if is_session_dead(exc):
            raise SessionDead(dead_reason(exc)) from exc
        raise
    if not users or isinstance(users[0], types.UserEmpty):
        raise SessionDead("session is not logged in")
    return users[0]


def describe_user(user: Any) -> dict[str, Any]:
    """Loggable identity of an account (id and username; never a phone number)."""
    return {"account_id": getattr(user, "id", None), "username": getattr(user, "username", None)}
