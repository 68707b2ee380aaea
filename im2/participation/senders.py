"""Delivering one-time codes: pluggable, so development needs no mail server and tests can
read the codes they send."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

from im2.config import Settings
from im2.errors import InvalidInput
from im2.i18n import _

log = logging.getLogger("im2.participation")


class CodeSender(Protocol):
    def send(self, *, channel: str, destination: str, code: str, brand: str) -> None: ...


class ConsoleSender:
    """Development: the code goes to the server log, where the developer reads it."""

    def send(self, *, channel: str, destination: str, code: str, brand: str) -> None:
        log.warning("verification code for %s %s (%s): %s", channel, destination, brand, code)


@dataclass
class MemorySender:
    """Tests: keeps every code it was asked to send."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)

    def send(self, *, channel: str, destination: str, code: str, brand: str) -> None:
        self.sent.append((channel, destination, code))


@dataclass(frozen=True)
class SmtpSender:
    host: str
    port: int
    sender: str
    starttls: bool
    username: str | None
    password: str | None

    def send(self, *, channel: str, destination: str, code: str, brand: str) -> None:
        if channel != "email":
            raise InvalidInput(
                _("Codes by text message are not available here; use your e-mail address."),
                field="channel",
            )
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = destination
        message["Subject"] = _("Your verification code: {code}").format(code=code)
        message.set_content(
            _("{brand}: your verification code is {code}. It is valid for 10 minutes.").format(
                brand=brand, code=code
            )
        )
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username and self.password:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


def make_sender(settings: Settings) -> CodeSender:
    if settings.code_sender == "smtp":
        if not settings.smtp_host:
            raise ValueError("IM2_CODE_SENDER=smtp needs IM2_SMTP_HOST")
        return SmtpSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        )
    return ConsoleSender()
