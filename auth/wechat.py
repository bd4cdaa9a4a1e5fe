"""Mini-program login: a provider turns a wx.login code into the user's openid."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class WeChatSession:
    openid: str
    unionid: str | None = None


class WeChatLoginError(Exception):
    pass


class WeChatProvider(Protocol):
    async def exchange_code(self, code: str) -> WeChatSession:
        """Exchange a login code (jscode2session) for the user's openid; raise WeChatLoginError."""


class SandboxWeChatProvider:
    """Development and test provider: every code maps to a stable openid.

    Codes starting with "invalid" are refused, as WeChat refuses a used or expired code.
    """

    async def exchange_code(self, code: str) -> WeChatSession:
        if not code or code.startswith("invalid"):
            raise WeChatLoginError("The login code is invalid or has expired.")
        digest = hashlib.sha256(code.encode()).hexdigest()
        return WeChatSession(openid=f"sandbox-{digest[:24]}")
