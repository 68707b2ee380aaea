"""The one typed settings object. `os.environ` is read here and nowhere else.

Values come from `IM2_*` environment variables, then an optional TOML file named by
`IM2_CONFIG_FILE` (keys without the prefix, e.g. `database_url = "..."`), then defaults.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_SECRET_KEY = "im2-development-secret-change-me"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


_LAKE_URL = re.compile(
    r"^s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?P<prefix>(/[^/]+)*)/?$"
)


def parse_lake_url(url: str) -> tuple[str, str]:
    """IM2_LAKE_URL `s3://bucket/a/b` -> ("bucket", "a/b"); refuses anything else, saying why."""
    match = _LAKE_URL.match(url.strip())
    if match is None:
        raise ValueError(
            f"IM2_LAKE_URL must look like s3://bucket or s3://bucket/prefix, not {url!r}"
        )
    return match.group("bucket"), match.group("prefix").strip("/")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IM2_", extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite:///./im2.db"
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    # Personal fields at rest (docs/security.md, "Encryption at rest"): Fernet keys, comma-
    # separated, newest first (the first encrypts, every one decrypts). Unset, one key is
    # derived from the secret key (fine for the demo; production should set its own).
    encryption_keys: SecretStr | None = None
    # Earlier values of IM2_SECRET_KEY, newest first: what they derived (the lookup hashes, and
    # the encryption key when IM2_ENCRYPTION_KEYS is unset) still works until `im2 keys rotate`
    # has moved every row to the current secret.
    previous_secret_keys: SecretStr | None = None
    # The public address links are built on (share links, QR codes, posters, messages), e.g.
    # https://im2.example.com. Unset, links follow the server's own address: a request's own
    # scheme and host for links built while answering it (`im2.web.links`), and `host`/`port`
    # (`im2 serve/demo --host/--port`) for links built outside a request (jobs, commands).
    base_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    default_locale: str = "zh_CN"
    # The CLI's help is English, so its messages are too unless asked (IM2_CLI_LOCALE=zh_CN).
    cli_locale: str = "en"
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    # Failed console sign-ins allowed per client address, and per e-mail from one address, in
    # a sliding window (`limits` syntax). Throttling by address rather than locking accounts:
    # a stranger elsewhere cannot lock the real user out of their own network (security.md).
    login_failures_per_ip: str = "20/15 minutes"
    login_failures_per_account_ip: str = "5/15 minutes"
    scheduler_interval_seconds: float = Field(default=10.0, gt=0)
    run_scheduler: bool = True
    # Participant actions (votes, entries …): rate limits per device and per IP (`limits`
    # syntax), and the risk score at which an action is held for review instead of counted.
    participant_rate_per_device: str = "30/minute"
    participant_rate_per_ip: str = "600/minute"
    risk_hold_threshold: float = Field(default=0.8, gt=0, le=1)
    risk_identities_per_ip_hour: int = Field(default=50, ge=1)
    # Where participants' one-time verification codes go: "console" (the server log, for
    # development), "smtp" (e-mail through the SMTP server below). Phone codes go by SMS
    # through the workspace's own Alibaba Cloud or Tencent Cloud account when it has set one
    # in the console (docs/messaging.md); without one they go where this setting says.
    code_sender: Literal["console", "smtp"] = "console"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = "im2@localhost"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # SMS (docs/messaging.md): texts per network (`limits` syntax; the cap per number is each
    # workspace's own), and the providers' API addresses, changed only to test against a
    # local server (unset: the providers' public endpoints).
    sms_per_ip: str = "20/hour"
    # A server that queued a code sends it right after the commit, in a thread of its own,
    # instead of at the next scheduler tick (up to IM2_SCHEDULER_INTERVAL_SECONDS later). The
    # job still sends whatever this misses (a crash, a retry).
    sms_send_at_once: bool = True
    sms_aliyun_url: str | None = None
    sms_tencent_url: str | None = None
    # Webhook receivers on loopback/private/link-local addresses: None = allowed except in
    # production (a receiver inside your own network needs this set to true there).
    webhook_allow_private_networks: bool | None = None
    # Trust X-Forwarded-For for the client address, and X-Forwarded-Proto/-Host for the
    # address links are built on (only behind your own reverse proxy).
    trust_forwarded_for: bool = False
    # Cookies with the Secure flag: None = on in production, off otherwise (plain-HTTP loopback
    # in development); on whatever this says, a request that came over HTTPS gets Secure.
    secure_cookies: bool | None = None
    # /api/docs and /openapi.json for anyone, or only for signed-in console users: None =
    # public except in production.
    public_api_docs: bool | None = None
    # Request bodies (docs/security.md): the most a request may send, by route class. Upload
    # routes allow their own documented file limit (see im2/web/app.py). A client that stops
    # sending in the middle of a body is answered 408 and dropped after the timeout.
    max_json_body_bytes: int = Field(default=2**20, ge=1024)
    max_bulk_json_body_bytes: int = Field(default=16 * 2**20, ge=1024)
    max_form_body_bytes: int = Field(default=2**20, ge=1024)
    body_read_timeout_seconds: float = Field(default=20.0, gt=0)
    # The event lake (docs/lake.md): any local folder; one lake per database.
    lake_path: Path = Path("./lake")
    # Or S3-compatible object storage (docs/deploy.md, "The lake on object storage"):
    # s3://bucket/prefix holds the lake's files instead of the folder, in the same layout.
    # The endpoint for a store other than AWS (MinIO, Ceph, a cloud's S3 API), e.g.
    # http://127.0.0.1:9000; region and keys unset fall back to the AWS defaults (AWS_*
    # environment variables, instance profile).
    lake_url: str | None = None
    lake_s3_endpoint: str | None = None
    lake_s3_region: str | None = None
    lake_s3_access_key: SecretStr | None = None
    lake_s3_secret_key: SecretStr | None = None
    lake_batch_size: int = Field(default=100_000, ge=1, le=5_000_000)
    # Delete events from the database this many days after they reached the lake; None keeps
    # them forever (the default: the database stays the source of truth).
    lake_retention_days: int | None = Field(default=None, ge=1)
    # Participants' uploads (UGC photos), re-encoded and stripped of metadata; any local folder.
    media_path: Path = Path("./media")
    # Several server processes (docs/deploy.md): Redis carries the live hub between them and
    # holds the rate limits they share, e.g. redis://127.0.0.1:6379/0. Unset (the embedded
    # default), both stay in the process.
    redis_url: str | None = None
    # WeChat's official-account API and its OAuth page (docs/wechat.md); tests point them at
    # a local server. Nothing is called unless a workspace has configured its account.
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_open_base: str = "https://open.weixin.qq.com"
    # A server told to stop (SIGTERM) first answers /readyz with 503 for this long, so that
    # the load balancer moves traffic away, then closes live streams (clients reconnect
    # elsewhere) and stops taking connections. None = 10 s in production, 0 otherwise.
    drain_seconds: float | None = Field(default=None, ge=0, le=600)
    # Then requests in flight get this long to finish before they are cut.
    shutdown_timeout_seconds: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if (
            self.env is Environment.PRODUCTION
            and self.secret_key.get_secret_value() == DEFAULT_SECRET_KEY
        ):
            raise ValueError(
                "IM2_SECRET_KEY is the development default; set a long random secret "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`) "
                "before running with IM2_ENV=production"
            )
        if self.env is Environment.PRODUCTION and len(self.secret_key.get_secret_value()) < 32:
            raise ValueError("IM2_SECRET_KEY must be at least 32 characters in production")
        return self

    @model_validator(mode="after")
    def _check_lake_url(self) -> Settings:
        if self.lake_url:
            parse_lake_url(self.lake_url)  # names IM2_LAKE_URL and the expected form
        if (self.lake_s3_access_key is None) != (self.lake_s3_secret_key is None):
            raise ValueError("IM2_LAKE_S3_ACCESS_KEY and IM2_LAKE_S3_SECRET_KEY go together")
        return self

    @model_validator(mode="after")
    def _check_encryption_keys(self) -> Settings:
        # The format only (44 characters of URL-safe base64 for 32 bytes), without importing
        # cryptography here: settings load on every command (im2/crypto.py parses them).
        keys = self.encryption_keys.get_secret_value() if self.encryption_keys else ""
        for key in (k.strip() for k in keys.split(",")):
            if not key:
                continue
            try:
                raw = base64.urlsafe_b64decode(key.encode())
            except (ValueError, binascii.Error):
                raw = b""
            if len(key) != 44 or len(raw) != 32:
                raise ValueError(
                    "IM2_ENCRYPTION_KEYS: each key must be 32 bytes in URL-safe base64 "
                    "(44 characters), comma-separated, newest first; make one with "
                    "`im2 keys new`"
                )
        return self

    @model_validator(mode="after")
    def _follow_the_server(self) -> Settings:
        # Written into __dict__ so that the field stays out of model_fields_set: that is how
        # `base_url_follows_server` tells a configured address from the derived one.
        if not self.base_url:
            self.__dict__["base_url"] = self.server_url
            self.__pydantic_fields_set__.discard("base_url")
        else:
            self.__dict__["base_url"] = self.base_url.rstrip("/")
        return self

    @property
    def server_url(self) -> str:
        """The server's own address from `host` and `port` (IPv6 hosts in brackets; a server
        listening on every interface is reached through loopback on this machine)."""
        everywhere = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}  # noqa: S104
        host = everywhere.get(self.host, self.host)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def base_url_follows_server(self) -> bool:
        """True unless IM2_BASE_URL (or the config file) names the public address."""
        return "base_url" not in self.model_fields_set

    def serving_at(self, *, host: str, port: int) -> Settings:
        """These settings for a server listening on `host`:`port`; `base_url` follows it
        unless it was configured."""
        moved = self.model_copy(update={"host": host, "port": port})
        if self.base_url_follows_server:
            moved.__dict__["base_url"] = moved.server_url
            moved.__pydantic_fields_set__.discard("base_url")
        return moved

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("IM2_CONFIG_FILE")
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise ValueError(f"IM2_CONFIG_FILE points to {path}, which is not a file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def webhooks_reach_private_networks(self) -> bool:
        """Whether webhook URLs may point at loopback, private or link-local addresses: not
        in production unless IM2_WEBHOOK_ALLOW_PRIVATE_NETWORKS says so (a workspace's owner
        must not be able to make the server call into its own network)."""
        if self.webhook_allow_private_networks is not None:
            return self.webhook_allow_private_networks
        return self.env is not Environment.PRODUCTION

    @property
    def cookies_secure(self) -> bool:
        """Whether every cookie is marked Secure (a request over HTTPS gets it regardless)."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.env is Environment.PRODUCTION

    @property
    def api_docs_public(self) -> bool:
        if self.public_api_docs is not None:
            return self.public_api_docs
        return self.env is not Environment.PRODUCTION

    @property
    def drain_wait(self) -> float:
        if self.drain_seconds is not None:
            return self.drain_seconds
        return 10.0 if self.env is Environment.PRODUCTION else 0.0

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
