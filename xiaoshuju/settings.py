"""One settings object for the whole product.

Precedence (highest first): environment variables, the TOML file, defaults.
The TOML file is ``$XIAOSHUJU_CONFIG`` or, if unset, ``$XIAOSHUJU_HOME/xiaoshuju.toml`` (optional).
Every key is documented in docs/configuration.md. Secrets (HMAC key, SMTP password) never live in the repo:
the HMAC secret is generated on first use into ``$XIAOSHUJU_HOME/secret.key`` (mode 0600).
"""

from __future__ import annotations

import os
import secrets
import tempfile
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    """Configurable metric thresholds (DESIGN.md §4 defaults)."""

    # member lifetime
    btyd_time_unit_days: int = 7
    churn_horizon_days: int = 90
    churn_band_low: float = 0.33
    churn_band_high: float = 0.66
    clv_horizon_months: int = 12
    clv_monthly_discount: float = 0.01
    clv_min_buyers: int = 200
    clv_min_repeat_buyers: int = 20
    dormant_after_days: int = 90
    churned_after_days: int = 180
    l4_min_group_members: int = 20
    l4_min_referees_90d: int = 3
    # the attributed-GMV L4 rule, for a member owning no group, also needs this many yuan from this many buyers
    l4_min_attributed_gmv: float = 300.0
    l4_min_buyers_served: int = 3
    # group vitality
    group_new_days: int = 14
    zombie_silence_days: int = 21
    zombie_min_expected_activity: float = 2.0  # silence must hide ≥ this many member acts at the group's usual pace
    zombie_date_max_gap_days: float = 7.0  # zombie date = last member act + usual gap between acts, at most this
    declining_drop: float = 0.30
    target_speak_rate: float = 0.20
    target_msgs_per_member: float = 2.0
    target_conversion: float = 0.10
    target_net_growth: float = 0.02
    target_first_response_minutes: float = 30.0
    # 大C contribution
    first_touch_window_days: int = 0  # 0 = permanent
    kfactor_window_days: int = 28
    dac_silent_min_days: int = 7
    dac_silent_max_days: int = 28


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    user: str = ""
    password: str = ""
    use_tls: bool = False
    sender: str = "xiaoshuju@localhost"
    recipients: tuple[str, ...] = ()
    alert_recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    home: Path
    brand: str = "demo-brand"
    brand_display: str = "示例品牌"
    timezone: str = "Asia/Shanghai"
    language: str = "zh"
    dagit_url: str = "http://127.0.0.1:3000"
    serving_keep_versions: int = 5
    source_timezones: dict[str, str] = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)

    # ---- paths -------------------------------------------------------------------------------------------------
    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def archive(self) -> Path:
        return self.home / "archive"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def serving(self) -> Path:
        return self.home / "serving"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def ground_truth(self) -> Path:
        return self.home / "ground_truth"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster_home"

    def ensure_dirs(self) -> Settings:
        for p in (self.home, self.inbox, self.archive, self.serving, self.reports):
            p.mkdir(parents=True, exist_ok=True)
        return self

    def source_timezone(self, source_format: str) -> str:
        return self.source_timezones.get(source_format, self.timezone)

    @property
    def hmac_key(self) -> bytes:
        """Installation secret for keyed hashes of phones, wxids and names. Created on first use."""
        env = os.environ.get("XIAOSHUJU_HMAC_KEY")
        if env:
            return env.encode()
        path = self.home / "secret.key"
        if not path.exists():
            _create_secret(path)
        key = path.read_text().strip().encode()
        if not key:
            raise ValueError(f"{path} is empty: restore the installation secret (keyed hashes depend on it)")
        return key


def _create_secret(path: Path) -> None:
    """Write a new secret to ``path`` unless one is there, atomically: it is written in full to a file of its own
    and then linked into place, which fails if another thread or process got there first (its secret is kept).
    The load's reader threads ask for the secret at once on a first run; creating ``path`` itself and then writing
    it let a second thread read the empty file (an empty key) or fail on the existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)


def _coerce(value: str, target: Any) -> Any:
    if isinstance(target, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(target, int):
        return int(value)
    if isinstance(target, float):
        return float(value)
    if isinstance(target, tuple):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return value


def _apply(obj: Any, data: dict[str, Any], env_prefix: str) -> Any:
    changes: dict[str, Any] = {}
    for f in fields(obj):
        if f.name == "home":
            continue
        current = getattr(obj, f.name)
        if f.name in data and not isinstance(current, (Thresholds, SmtpSettings)):
            v = data[f.name]
            changes[f.name] = tuple(v) if isinstance(current, tuple) else v
        env_key = f"{env_prefix}{f.name.upper()}"
        if isinstance(current, (Thresholds, SmtpSettings)):
            changes[f.name] = _apply(current, data.get(f.name, {}), f"{env_prefix}{f.name.upper()}_")
        elif env_key in os.environ and not isinstance(current, dict):
            changes[f.name] = _coerce(os.environ[env_key], current)
    return replace(obj, **changes)


def load_settings(home: str | Path | None = None) -> Settings:
    """Build the settings from defaults, the TOML file and ``XIAOSHUJU_*`` environment variables.

    Examples: ``XIAOSHUJU_BRAND=acme``, ``XIAOSHUJU_THRESHOLDS_ZOMBIE_SILENCE_DAYS=28``,
    ``XIAOSHUJU_SMTP_HOST=mail.local``, ``XIAOSHUJU_SMTP_RECIPIENTS=a@x.cn,b@x.cn``.
    """
    home_path = Path(home or os.environ.get("XIAOSHUJU_HOME") or "data").resolve()
    settings = Settings(home=home_path)
    config_path = Path(os.environ.get("XIAOSHUJU_CONFIG") or home_path / "xiaoshuju.toml")
    data: dict[str, Any] = {}
    if config_path.exists():
        with config_path.open("rb") as fh:
            data = tomllib.load(fh)
    return _apply(settings, data, "XIAOSHUJU_")
