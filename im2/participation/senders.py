"""Delivering one-time codes: pluggable, so development needs no mail server and tests can
read the codes they send.

A phone code of a workspace that has an SMS account (console, 短信) is queued as a message
delivery in the transaction that stores the code, and sent by the messaging job with retries
(`im2.messaging`, docs/messaging.md). Every other code goes to the deployment's sender after
the commit: the server log in development (`ConsoleSender`), or e-mail by SMTP."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy.orm import Session

from im2.config import Settings
from im2.db import on_commit
from im2.errors import InvalidInput
from im2.i18n import _
from im2.messaging import service as messaging
from im2.messaging.caps import SmsCaps

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


def queue_code(
    session: Session,
    *,
    sender: CodeSender,
    caps: SmsCaps,
    workspace_id: int,
    participant_id: int,
    channel: str,
    destination: str,
    code: str,
    brand: str,
    ip: str | None,
    now: datetime,
) -> None:
    """Inside the transaction that stores the code: by SMS through the workspace's provider
    (queued here, sent by the job; refused by the caps with 429), or by `sender` once the
    transaction has committed (a failed write never sends a dead code)."""
    if channel == "phone" and messaging.sms_ready(session, workspace_id=workspace_id):
        messaging.do_queue_code(
            session,
            workspace_id=workspace_id,
            participant_id=participant_id,
            phone=destination,
            code=code,
            caps=caps,
            ip=ip,
            now=now,
        )
        return
    on_commit(
        session,
        lambda: sender.send(channel=channel, destination=destination, code=code, brand=brand),
    )
