"""aiogram's i18n over the one catalogue (``carsbot.core.i18n``): the user's Telegram language when a
catalogue exists for it, else Russian."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from carsbot.core.i18n import DEFAULT_LOCALE, DOMAIN, N_, compiled_locales_dir

if TYPE_CHECKING:
    from aiogram.utils.i18n import I18n

__all__ = ["N_", "build_i18n", "locale_middleware"]


def build_i18n() -> I18n:
    from aiogram.utils.i18n import I18n

    return I18n(path=compiled_locales_dir(), default_locale=DEFAULT_LOCALE, domain=DOMAIN)


def locale_middleware(i18n: I18n) -> Any:
    """An aiogram i18n middleware choosing the locale from the update's user."""
    from aiogram.types import TelegramObject
    from aiogram.utils.i18n import I18nMiddleware

    class UserLanguageMiddleware(I18nMiddleware):
        async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
            user = data.get("event_from_user")
            language = (getattr(user, "language_code", None) or "").split("-")[0].lower()
            return language if language in self.i18n.available_locales else self.i18n.default_locale

    return UserLanguageMiddleware(i18n)
