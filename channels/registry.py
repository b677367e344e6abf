"""Channel adapters by name, built from the config (or pointed at a sandbox)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from bot.config import Config, ConfigError, channel_token
from channels.base import Channel

SANDBOX_TOKEN = "sandbox-token"


def _telegram(cfg: Config, sandbox_url: str | None, media_dir: Path) -> Channel:
    conf = cfg.channels["telegram"]
    token = SANDBOX_TOKEN if sandbox_url else channel_token(cfg, "telegram")
    from channels.telegram import TelegramChannel

    base_url = sandbox_url or conf.base_url or "https://api.telegram.org"
    return TelegramChannel(token, base_url.rstrip("/"), bot_username=conf.bot_username, hashtags=conf.hashtags,
                           keywords=conf.keywords, media_dir=media_dir)


X_SECRETS = {"bearer_token": "token_env", "consumer_key": "consumer_key_env", "consumer_secret": "consumer_secret_env",
             "access_token": "access_token_env", "access_token_secret": "access_token_secret_env"}


def _x(cfg: Config, sandbox_url: str | None, media_dir: Path) -> Channel:
    conf = cfg.channels["x"]
    secrets = {key: SANDBOX_TOKEN if sandbox_url else channel_token(cfg, "x", env) for key, env in X_SECRETS.items()}
    from channels.x import XChannel

    base_url = sandbox_url or conf.base_url or "https://api.twitter.com"
    return XChannel(base_url=base_url.rstrip("/"), bot_username=conf.bot_username, hashtags=conf.hashtags,
                    keywords=conf.keywords, media_dir=media_dir, **secrets)


def _mastodon(cfg: Config, sandbox_url: str | None, media_dir: Path) -> Channel:
    conf = cfg.channels["mastodon"]
    token = SANDBOX_TOKEN if sandbox_url else channel_token(cfg, "mastodon")
    base_url = sandbox_url or conf.base_url
    if not base_url:
        raise ConfigError("channels.mastodon.base_url: is required (the instance, e.g. https://mastodon.social)")
    from channels.mastodon import MastodonChannel

    return MastodonChannel(access_token=token, base_url=base_url.rstrip("/"), bot_username=conf.bot_username,
                           hashtags=conf.hashtags, keywords=conf.keywords, visibility=conf.visibility,
                           streaming=conf.streaming, media_dir=media_dir)


FACTORIES: dict[str, Callable[[Config, str | None, Path], Channel]] = {"telegram": _telegram, "x": _x, "mastodon": _mastodon}


def build_channels(cfg: Config, sandbox_url: str | None = None) -> dict[str, Channel]:
    """An adapter for every enabled channel that has one. Raises ConfigError for a missing secret."""
    media_dir = cfg.base_dir / "media"
    return {name: FACTORIES[name](cfg, sandbox_url, media_dir) for name in cfg.enabled_channels() if name in FACTORIES}
