"""Settings, read from the environment in one place (12-factor).

Every default makes the embedded mode (`crm run --target all`: SQLite files, in-process bus) work
with nothing set. The distributed mode is chosen by setting CRM_DATABASE_URL and CRM_BUS=rabbitmq.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

SERVICE_NAMES = ("contacts", "sales", "support", "marketing", "integrations")
DEFAULT_GRPC_PORTS = {"contacts": 50051, "sales": 50052, "support": 50053, "marketing": 50054, "integrations": 50055}
DEFAULT_METRICS_PORTS = {
    "all": 9464,
    "gateway": 9464,
    "contacts": 9465,
    "sales": 9466,
    "support": 9467,
    "marketing": 9468,
    "integrations": 9469,
    "relay": 9470,
}
BUS_KINDS = ("inprocess", "rabbitmq")
RATE_CLASSES = ("read", "write", "search", "bulk")
DEFAULT_RATE_LIMITS = {"read": (1200, 60.0), "write": (300, 60.0), "search": (120, 60.0), "bulk": (20, 60.0)}
# Anonymous calls of a public route naming a resource (a web form's key): per resource and address.
DEFAULT_PUBLIC_RATE_LIMIT = (10, 60.0)


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _list(raw: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (raw or "").split(",") if item.strip())


def _oidc_algorithms(raw: str | None) -> tuple[str, ...]:
    algorithms = _list(raw) or ("RS256", "ES256", "EdDSA")
    for name in algorithms:
        # Symmetric algorithms would let anyone holding the (public) JWKS forge tokens; `none` needs no key.
        if name.lower() == "none" or name.upper().startswith("HS"):
            raise ConfigError(f"CRM_OIDC_ALGORITHMS: {name} is not allowed; use asymmetric algorithms")
    return algorithms


def _rate_limits(raw: str | None) -> dict[str, tuple[int, float]]:
    """`read=1200/60,write=300/60`: requests per period (seconds) for each route class."""
    limits = dict(DEFAULT_RATE_LIMITS)
    for item in _list(raw):
        name, _, value = item.partition("=")
        count, _, period = value.partition("/")
        name = name.strip()
        try:
            parsed = (int(count), float(period or 60))
        except ValueError:
            raise ConfigError(f"CRM_RATE_LIMITS: {item!r} is not class=requests/seconds") from None
        if name not in RATE_CLASSES or parsed[0] < 1 or parsed[1] <= 0:
            raise ConfigError(
                f"CRM_RATE_LIMITS: {item!r} needs a class of {', '.join(RATE_CLASSES)} and positive numbers"
            )
        limits[name] = parsed
    return limits


def _non_negative(env: Mapping[str, str], name: str) -> int:
    value = _int(env, name, 0)
    if value < 0:
        raise ConfigError(f"{name} must be 0 or more, got {value}")
    return value


def _public_rate_limit(raw: str | None) -> tuple[int, float]:
    """`10/60`: requests per period (seconds) per public route resource and client address."""
    if not raw:
        return DEFAULT_PUBLIC_RATE_LIMIT
    count, _, period = raw.partition("/")
    try:
        parsed = (int(count), float(period or 60))
    except ValueError:
        raise ConfigError(f"CRM_PUBLIC_RATE_LIMIT: {raw!r} is not requests/seconds") from None
    if parsed[0] < 1 or parsed[1] <= 0:
        raise ConfigError(f"CRM_PUBLIC_RATE_LIMIT: {raw!r} needs positive numbers")
    return parsed


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    # A URL template: `{service}` is replaced by the service name (contacts, gateway, ...).
    database_url: str = ""
    database_overrides: Mapping[str, str] = field(default_factory=dict)
    bus: str = "inprocess"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    # Prefix of every exchange and queue name, so several suites (or test runs) share one broker.
    amqp_prefix: str = "crm"
    redis_url: str = ""
    internal_token_secret: str = ""
    internal_token_ttl_seconds: int = 60
    # Signs customer survey links (support). Empty: the key each deployment's migration generated.
    survey_secret: str = ""
    gateway_addr: str = "127.0.0.1:8080"
    # Signs marketing's tracking links (opens, clicks, unsubscribes). Empty: the key the marketing
    # migration generated (docs/adr/0053).
    tracking_secret: str = ""
    # The gateway as recipients' mail clients reach it (tracking links); http://<gateway_addr> when empty.
    public_url: str = ""
    gateway_workers: int = 1
    gateway_threads: int = 16
    grpc_bind_host: str = "127.0.0.1"
    # Overrides the port a service binds (replicas on one host share one CRM_<SERVICE>_ADDR list).
    grpc_port: int | None = None
    service_addrs: Mapping[str, str] = field(default_factory=dict)
    grpc_deadline_seconds: float = 5.0
    metrics_port: int | None = None
    max_body_bytes: int = 1024 * 1024
    relay_poll_seconds: float = 0.2
    relay_batch_size: int = 200
    retry_delays_ms: tuple[int, ...] = (1000, 5000, 30000)
    consumer_prefetch: int = 128
    # Deliveries handled in one database transaction at most (docs/adr/0031).
    consumer_batch_size: int = 64
    stats_interval_seconds: float = 5.0
    outbox_retention_hours: float = 72.0
    inbox_retention_hours: float = 24.0 * 14
    retention_interval_seconds: float = 600.0
    # A privacy request a service has not answered after this long is published to it again (ADR 48).
    privacy_reask_seconds: float = 3600.0
    log_level: str = "INFO"
    log_format: str = "json"
    # Gateway, partner grade (docs/adr/0009..0015).
    redis_prefix: str = "crm"
    cors_origins: tuple[str, ...] = ()
    oauth_issuer: str = ""
    access_token_ttl_seconds: int = 3600
    signing_key_passphrase: str = ""
    # How long a gateway trusts its copy of the signing key set (rotations show within this).
    signing_key_refresh_seconds: float = 30.0
    # How long a gateway process trusts a credential it verified; revocations are broadcast and
    # apply at once (docs/adr/0030). 0 turns the cache off.
    credential_cache_seconds: float = 30.0
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    oidc_algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    oidc_tenant_claim: str = "tid"
    oidc_roles_claim: str = "roles"
    # class -> (requests, period seconds), per credential; the tenant's budget is tenant_rate_factor times it.
    rate_limits: Mapping[str, tuple[int, float]] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    tenant_rate_factor: int = 5
    # Anonymous calls per public resource (the path's values) and client address (docs/adr/0043).
    public_rate_limit: tuple[int, float] = DEFAULT_PUBLIC_RATE_LIMIT
    # Reverse proxies (ingress, load balancer) in front of the gateway whose X-Forwarded-For /
    # X-Forwarded-Proto it believes; 0 (the default) believes none, so a caller cannot pick its address.
    trusted_proxy_hops: int = 0
    idempotency_ttl_seconds: int = 24 * 3600
    get_retries: int = 2
    # Keys that encrypt secrets kept at rest (webhook signing secrets, connection passwords): Fernet
    # keys, comma-separated, newest first; the first seals, every one (and the key the migration
    # generated) opens, so rotation is: put a new key first, `crm admin rotate-secrets`, drop the old.
    secret_keys: tuple[str, ...] = ()
    # Partner webhooks (docs/adr/0040). Allowing loopback is for tests with a local receiver only.
    webhooks_allow_loopback: bool = False
    webhooks_timeout_seconds: float = 10.0
    webhooks_retry_base_seconds: float = 5.0
    webhooks_max_attempts: int = 12
    webhooks_disable_after_failures: int = 20
    webhooks_disable_after_hours: float = 24.0
    webhooks_poll_seconds: float = 1.0
    # Automation rules (docs/adr/0061): how often the worker looks for due executions, and how many
    # rules may run one after another, each caused by the one before.
    automation_poll_seconds: float = 1.0
    automation_max_depth: int = 5
    # How long finished executions are kept (their log, and the (rule, event) key that makes a
    # redelivered event run nothing): never shorter than the inbox's memory (docs/adr/0085).
    automation_retention_days: float = 30.0
    # How often the IMAP capture worker polls each mailbox connection.
    imap_poll_seconds: float = 60.0
    # How often ERP and accounting connections are synced incrementally in the background (0: never;
    # :sync still works).
    connector_poll_seconds: float = 300.0
    # How often marketing's sequence scheduler looks for due steps (docs/adr/0056).
    sequences_poll_seconds: float = 5.0
    # How long an email step claimed by a scheduler stays away from the others (a crash mid-send
    # retries it after this long).
    sequences_claim_seconds: float = 120.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("CRM_DATA_DIR") or "var")
        bus = env.get("CRM_BUS") or "inprocess"
        if bus not in BUS_KINDS:
            raise ConfigError(f"CRM_BUS must be one of {', '.join(BUS_KINDS)}, got {bus!r}")
        addrs = {
            name: env.get(f"CRM_{name.upper()}_ADDR") or f"127.0.0.1:{port}"
            for name, port in DEFAULT_GRPC_PORTS.items()
        }
        overrides = {
            name: env[f"CRM_{name.upper()}_DATABASE_URL"]
            for name in (*SERVICE_NAMES, "gateway")
            if env.get(f"CRM_{name.upper()}_DATABASE_URL")
        }
        raw_delays = env.get("CRM_RETRY_DELAYS_MS") or "1000,5000,30000"
        try:
            delays = tuple(int(x) for x in raw_delays.split(",") if x.strip())
        except ValueError:
            raise ConfigError(f"CRM_RETRY_DELAYS_MS must be comma-separated milliseconds, got {raw_delays!r}") from None
        if not delays or min(delays) <= 0:
            raise ConfigError("CRM_RETRY_DELAYS_MS needs at least one positive delay")
        metrics_raw = env.get("CRM_METRICS_PORT")
        log_format = env.get("CRM_LOG_FORMAT") or "json"
        if log_format not in ("json", "text"):
            raise ConfigError(f"CRM_LOG_FORMAT must be json or text, got {log_format!r}")
        return cls(
            data_dir=data_dir,
            database_url=env.get("CRM_DATABASE_URL") or "",
            database_overrides=overrides,
            bus=bus,
            amqp_url=env.get("CRM_AMQP_URL") or cls.amqp_url,
            amqp_prefix=env.get("CRM_AMQP_PREFIX") or "crm",
            redis_url=env.get("CRM_REDIS_URL") or "",
            internal_token_secret=env.get("CRM_INTERNAL_TOKEN_SECRET") or "",
            internal_token_ttl_seconds=_int(env, "CRM_INTERNAL_TOKEN_TTL_SECONDS", 60),
            survey_secret=env.get("CRM_SURVEY_SECRET") or "",
            gateway_addr=env.get("CRM_GATEWAY_ADDR") or "127.0.0.1:8080",
            tracking_secret=env.get("CRM_TRACKING_SECRET") or "",
            public_url=(env.get("CRM_PUBLIC_URL") or "").rstrip("/"),
            gateway_workers=_int(env, "CRM_GATEWAY_WORKERS", 1),
            gateway_threads=_int(env, "CRM_GATEWAY_THREADS", 16),
            grpc_bind_host=env.get("CRM_GRPC_BIND_HOST") or "127.0.0.1",
            grpc_port=None if not env.get("CRM_GRPC_PORT") else _int(env, "CRM_GRPC_PORT", 0),
            service_addrs=addrs,
            grpc_deadline_seconds=_float(env, "CRM_GRPC_DEADLINE_SECONDS", 5.0),
            metrics_port=None if metrics_raw in (None, "") else _int(env, "CRM_METRICS_PORT", 0),
            max_body_bytes=_int(env, "CRM_MAX_BODY_BYTES", 1024 * 1024),
            relay_poll_seconds=_float(env, "CRM_RELAY_POLL_SECONDS", 0.2),
            relay_batch_size=_int(env, "CRM_RELAY_BATCH_SIZE", 200),
            consumer_batch_size=_int(env, "CRM_CONSUMER_BATCH_SIZE", 64),
            retry_delays_ms=delays,
            consumer_prefetch=_int(env, "CRM_CONSUMER_PREFETCH", 128),
            stats_interval_seconds=_float(env, "CRM_STATS_INTERVAL_SECONDS", 5.0),
            outbox_retention_hours=_float(env, "CRM_OUTBOX_RETENTION_HOURS", 72.0),
            inbox_retention_hours=_float(env, "CRM_INBOX_RETENTION_HOURS", 24.0 * 14),
            retention_interval_seconds=_float(env, "CRM_RETENTION_INTERVAL_SECONDS", 600.0),
            privacy_reask_seconds=_float(env, "CRM_PRIVACY_REASK_SECONDS", 3600.0),
            log_level=(env.get("CRM_LOG_LEVEL") or "INFO").upper(),
            log_format=log_format,
            redis_prefix=env.get("CRM_REDIS_PREFIX") or "crm",
            cors_origins=_list(env.get("CRM_CORS_ORIGINS")),
            oauth_issuer=env.get("CRM_OAUTH_ISSUER") or "",
            access_token_ttl_seconds=_int(env, "CRM_ACCESS_TOKEN_TTL_SECONDS", 3600),
            signing_key_passphrase=env.get("CRM_SIGNING_KEY_PASSPHRASE") or "",
            signing_key_refresh_seconds=_float(env, "CRM_SIGNING_KEY_REFRESH_SECONDS", 30.0),
            credential_cache_seconds=_float(env, "CRM_CREDENTIAL_CACHE_SECONDS", 30.0),
            oidc_issuer=env.get("CRM_OIDC_ISSUER") or "",
            oidc_audience=env.get("CRM_OIDC_AUDIENCE") or "",
            oidc_jwks_url=env.get("CRM_OIDC_JWKS_URL") or "",
            oidc_algorithms=_oidc_algorithms(env.get("CRM_OIDC_ALGORITHMS")),
            oidc_tenant_claim=env.get("CRM_OIDC_TENANT_CLAIM") or "tid",
            oidc_roles_claim=env.get("CRM_OIDC_ROLES_CLAIM") or "roles",
            rate_limits=_rate_limits(env.get("CRM_RATE_LIMITS")),
            tenant_rate_factor=_int(env, "CRM_TENANT_RATE_FACTOR", 5),
            public_rate_limit=_public_rate_limit(env.get("CRM_PUBLIC_RATE_LIMIT")),
            trusted_proxy_hops=_non_negative(env, "CRM_TRUSTED_PROXY_HOPS"),
            idempotency_ttl_seconds=_int(env, "CRM_IDEMPOTENCY_TTL_SECONDS", 24 * 3600),
            get_retries=_int(env, "CRM_GET_RETRIES", 2),
            secret_keys=_list(env.get("CRM_SECRET_KEYS")),
            webhooks_allow_loopback=_bool(env, "CRM_WEBHOOKS_ALLOW_LOOPBACK"),
            webhooks_timeout_seconds=_float(env, "CRM_WEBHOOKS_TIMEOUT_SECONDS", 10.0),
            webhooks_retry_base_seconds=_float(env, "CRM_WEBHOOKS_RETRY_BASE_SECONDS", 5.0),
            webhooks_max_attempts=_int(env, "CRM_WEBHOOKS_MAX_ATTEMPTS", 12),
            webhooks_disable_after_failures=_int(env, "CRM_WEBHOOKS_DISABLE_AFTER_FAILURES", 20),
            webhooks_disable_after_hours=_float(env, "CRM_WEBHOOKS_DISABLE_AFTER_HOURS", 24.0),
            webhooks_poll_seconds=_float(env, "CRM_WEBHOOKS_POLL_SECONDS", 1.0),
            automation_poll_seconds=_float(env, "CRM_AUTOMATION_POLL_SECONDS", 1.0),
            automation_max_depth=_int(env, "CRM_AUTOMATION_MAX_DEPTH", 5),
            automation_retention_days=_float(env, "CRM_AUTOMATION_RETENTION_DAYS", 30.0),
            imap_poll_seconds=_float(env, "CRM_IMAP_POLL_SECONDS", 60.0),
            connector_poll_seconds=_float(env, "CRM_CONNECTOR_POLL_SECONDS", 300.0),
            sequences_poll_seconds=_float(env, "CRM_SEQUENCES_POLL_SECONDS", 5.0),
            sequences_claim_seconds=_float(env, "CRM_SEQUENCES_CLAIM_SECONDS", 120.0),
        ).validated()

    def validated(self) -> Settings:
        if self.oidc_issuer and not (self.oidc_audience and self.oidc_jwks_url):
            raise ConfigError("CRM_OIDC_ISSUER needs CRM_OIDC_AUDIENCE and CRM_OIDC_JWKS_URL as well")
        if self.survey_secret and len(self.survey_secret) < 32:
            raise ConfigError("CRM_SURVEY_SECRET must be at least 32 characters")
        if self.tracking_secret and len(self.tracking_secret) < 32:
            raise ConfigError("CRM_TRACKING_SECRET must be at least 32 characters")
        if self.tenant_rate_factor < 1:
            raise ConfigError("CRM_TENANT_RATE_FACTOR must be at least 1")
        if self.webhooks_max_attempts < 1 or self.webhooks_timeout_seconds <= 0:
            raise ConfigError("CRM_WEBHOOKS_MAX_ATTEMPTS and CRM_WEBHOOKS_TIMEOUT_SECONDS must be positive")
        if self.automation_retention_days * 24 < self.inbox_retention_hours:
            raise ConfigError(
                "CRM_AUTOMATION_RETENTION_DAYS must cover CRM_INBOX_RETENTION_HOURS: an execution forgotten"
                " before its event would let a replayed event run the rule again"
            )
        return self

    def database_url_for(self, service: str) -> str:
        if service in self.database_overrides:
            return self.database_overrides[service]
        if self.database_url:
            return self.database_url.replace("{service}", service)
        return f"sqlite:///{self.data_dir / f'{service}.db'}"

    @property
    def public_base_url(self) -> str:
        return self.public_url or f"http://{self.gateway_addr}"

    def grpc_addr(self, service: str) -> str:
        return self.service_addrs.get(service) or f"127.0.0.1:{DEFAULT_GRPC_PORTS[service]}"

    def grpc_bind(self, service: str) -> str:
        """Where a service listens: CRM_GRPC_PORT, else the port of the address clients dial."""
        port = self.grpc_port if self.grpc_port is not None else self.grpc_addr(service).rsplit(":", 1)[1]
        return f"{self.grpc_bind_host}:{port}"

    def metrics_port_for(self, target: str) -> int:
        """0 disables the endpoint; each target has its own default so local processes don't collide."""
        if self.metrics_port is not None:
            return self.metrics_port
        return DEFAULT_METRICS_PORTS.get(target, 0)
