"""Typed settings for the admissions service.

Values come from, in increasing precedence: the defaults below, a secrets file under ``var_dir``
(generated on first use so the demo needs nothing installed), and ``PAIWEI_*`` environment
variables. Nothing is read at import time: call :func:`Settings.from_env` (the CLI does) or build a
``Settings`` directly (tests do).

Environment variables:
- ``PAIWEI_DATABASE_URL`` — SQLAlchemy async URL
  (default ``sqlite+aiosqlite:///<var_dir>/paiwei.sqlite3``)
- ``PAIWEI_VAR_DIR`` — directory for the default database and generated secrets (default ``./var``)
- ``PAIWEI_DATA_KEYS`` — ``kid:hexkey,kid:hexkey`` AES-256 keys (32 bytes each) for personal data
- ``PAIWEI_ACTIVE_DATA_KEY`` — the key id used to encrypt new records (default: the last listed)
- ``PAIWEI_BLIND_INDEX_KEY`` — hex HMAC key for the ID-number blind index
- ``PAIWEI_JWT_SECRET`` — secret for access tokens
- ``PAIWEI_LOG_ORIGIN`` — the transparency log's origin line (e.g. ``paiwei.example/log``)
- ``PAIWEI_LOG_SIGNING_KEY`` — the log's signed-note private key (``PRIVATE+KEY+...``)
- ``PAIWEI_DB_POOL_SIZE`` (10), ``PAIWEI_ARGON2_TIME_COST`` (3),
  ``PAIWEI_ARGON2_MEMORY_KIB`` (65536), ``PAIWEI_DEBUG`` (``1`` logs tracebacks of internal errors)
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _parse_keys(value: str, var: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        kid, sep, hexkey = part.partition(":")
        if not sep or not kid:
            raise SettingsError(f"{var}: expected kid:hexkey pairs separated by commas")
        try:
            key = bytes.fromhex(hexkey)
        except ValueError:
            raise SettingsError(f"{var}: key {kid!r} is not hex") from None
        if len(key) != 32:
            raise SettingsError(f"{var}: key {kid!r} must be 32 bytes (AES-256)")
        keys[kid] = key
    if not keys:
        raise SettingsError(f"{var}: no keys given")
    return keys


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_keys: dict[str, bytes]
    active_data_key: str
    blind_index_key: bytes
    jwt_secret: str
    log_origin: str
    log_signing_key: str
    token_minutes: int = 8 * 60
    # Login throttling (persisted in the database): this many failures within the window lock
    # the username until the window ends.
    login_max_failures: int = 5
    login_window_seconds: int = 15 * 60
    # argon2id parameters (RFC 9106 §4 second recommended option by default); tests lower them.
    argon2_time_cost: int = 3
    argon2_memory_cost: int = 64 * 1024
    argon2_parallelism: int = 1
    db_pool_size: int = 10
    debug: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.active_data_key not in self.data_keys:
            raise SettingsError("PAIWEI_ACTIVE_DATA_KEY: not one of PAIWEI_DATA_KEYS")
        if len(self.blind_index_key) < 32:
            raise SettingsError("PAIWEI_BLIND_INDEX_KEY: must be at least 32 bytes")

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Build settings: defaults < generated ``<var_dir>/secrets.json`` < ``PAIWEI_*``."""
        env = dict(os.environ if env is None else env)
        var_dir = Path(env.get("PAIWEI_VAR_DIR", "var"))
        need_file = not all(
            k in env
            for k in (
                "PAIWEI_DATA_KEYS",
                "PAIWEI_BLIND_INDEX_KEY",
                "PAIWEI_JWT_SECRET",
                "PAIWEI_LOG_SIGNING_KEY",
            )
        )
        stored: dict[str, str] = load_or_create_secrets(var_dir) if need_file else {}
        origin = env.get("PAIWEI_LOG_ORIGIN", stored.get("log_origin", "paiwei.local/log"))
        data_keys = _parse_keys(
            env.get("PAIWEI_DATA_KEYS", stored.get("data_keys", "")), "PAIWEI_DATA_KEYS"
        )
        try:
            blind = bytes.fromhex(
                env.get("PAIWEI_BLIND_INDEX_KEY", stored.get("blind_index_key", ""))
            )
        except ValueError:
            raise SettingsError("PAIWEI_BLIND_INDEX_KEY: not hex") from None
        return cls(
            database_url=env.get(
                "PAIWEI_DATABASE_URL", f"sqlite+aiosqlite:///{var_dir / 'paiwei.sqlite3'}"
            ),
            data_keys=data_keys,
            active_data_key=env.get("PAIWEI_ACTIVE_DATA_KEY", list(data_keys)[-1]),
            blind_index_key=blind,
            jwt_secret=env.get("PAIWEI_JWT_SECRET", stored.get("jwt_secret", "")),
            log_origin=origin,
            log_signing_key=env.get("PAIWEI_LOG_SIGNING_KEY", stored.get("log_signing_key", "")),
            debug=env.get("PAIWEI_DEBUG", "") == "1",
            db_pool_size=_int(env, "PAIWEI_DB_POOL_SIZE", 10),
            argon2_time_cost=_int(env, "PAIWEI_ARGON2_TIME_COST", 3),
            argon2_memory_cost=_int(env, "PAIWEI_ARGON2_MEMORY_KIB", 64 * 1024),
        )

    @classmethod
    def for_tests(cls, database_url: str, **changes: object) -> Settings:
        """Fresh random keys and cheap argon2 parameters; used by tests and the demo."""
        from audit.note import generate_key

        skey, _ = generate_key("paiwei.test/log")
        base = cls(
            database_url=database_url,
            data_keys={"k1": secrets.token_bytes(32)},
            active_data_key="k1",
            blind_index_key=secrets.token_bytes(32),
            jwt_secret=secrets.token_hex(32),
            log_origin="paiwei.test/log",
            log_signing_key=skey,
            argon2_time_cost=1,
            argon2_memory_cost=1024,
        )
        return base.with_(**changes) if changes else base


def _int(env: dict[str, str], var: str, default: int) -> int:
    try:
        value = int(env.get(var, str(default)))
    except ValueError:
        raise SettingsError(f"{var}: not an integer") from None
    if value < 1:
        raise SettingsError(f"{var}: must be >= 1")
    return value


def load_or_create_secrets(var_dir: Path) -> dict[str, str]:
    """Read ``var_dir/secrets.json``, creating it (mode 0600) with fresh keys if absent."""
    path = var_dir / "secrets.json"
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text("utf-8"))
        return data
    from audit.note import generate_key

    origin = "paiwei.local/log"
    skey, vkey = generate_key(origin)
    data = {
        "data_keys": "k1:" + secrets.token_hex(32),
        "blind_index_key": secrets.token_hex(32),
        "jwt_secret": secrets.token_hex(32),
        "log_origin": origin,
        "log_signing_key": skey,
        "log_verifier_key": vkey,
    }
    var_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
    return data
