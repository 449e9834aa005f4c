"""WeCom's error answers as exceptions, with a bilingual hint for configuration errors."""

from __future__ import annotations

__all__ = [
    "RATE_LIMIT_CODES",
    "TOKEN_INVALID_CODES",
    "RepeatedCursor",
    "TokenCircuitOpen",
    "WeComError",
    "WeComUnavailable",
]

#: 45009: the API's frequency limit; 45033: too many concurrent calls. WeCom sends no
#: Retry-After; its limits are per minute and per hour.
RATE_LIMIT_CODES = frozenset({45009, 45033})
TOKEN_INVALID_CODES = frozenset({40001, 40014, 41001, 42001})

# Configuration errors get a bilingual hint naming the setting or console page to fix.
_HINTS: dict[int, str] = {
    40013: (
        "CorpID 无效：检查 POINTS_WECOM_CORP_ID（管理后台 → 我的企业 → 企业信息 → 企业ID）。"
        " / Invalid CorpID: check POINTS_WECOM_CORP_ID"
        " (admin console → My Company → Company Info → Company ID)."
    ),
    40001: (
        "Secret 无效：检查 POINTS_WECOM_SECRET（管理后台 → 应用管理 → 自建应用 → Secret，"
        "需与 CorpID 属于同一企业）。 / Invalid secret: check POINTS_WECOM_SECRET"
        " (admin console → Apps → your self-built app → Secret; same company as the CorpID)."
    ),
    40091: (
        "Secret 格式无效：检查 POINTS_WECOM_SECRET 是否完整复制（无空格）。"
        " / Malformed secret: check POINTS_WECOM_SECRET was copied whole, without spaces."
    ),
    60020: (
        "服务器 IP 不在应用的企业可信 IP 中：管理后台 → 应用管理 → 自建应用 → 企业可信IP，"
        "添加错误信息中 from ip 后的地址。 / This server's IP is not trusted: admin console →"
        " Apps → your app → Trusted IPs; add the address shown after 'from ip'."
    ),
    40056: (
        "AgentID 无效：检查 POINTS_WECOM_AGENT_ID（应用管理 → 自建应用 → AgentId）。"
        " / Invalid AgentID: check POINTS_WECOM_AGENT_ID (Apps → your app → AgentId)."
    ),
    48002: (
        "应用无此接口权限：审批/打卡/客户联系接口需在管理后台将本应用加入对应应用的"
        "「可调用接口的应用」。 / API not allowed for this app: in the admin console add the app"
        " to 'apps that may call the API' of Approvals / Check-in / Customer Contact."
    ),
    60011: (
        "无权限访问该成员或部门：检查应用的可见范围（应用管理 → 自建应用 → 可见范围）。"
        " / No access to that member or department: widen the app's visible range."
    ),
}
_CONFIG_CODES = frozenset({40013, 40001, 40091, 60020, 40056, 48002, 60011})


class WeComError(Exception):
    """WeCom answered with a non-zero ``errcode`` (or could not be reached).

    ``hint`` explains configuration errors in Chinese and English, naming the setting
    or console page to fix.
    """

    def __init__(self, errcode: int, errmsg: str, *, path: str = "") -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        self.path = path
        text = f"WeCom API error {errcode}"
        if path:
            text += f" on {path}"
        text += f": {errmsg}"
        if self.hint:
            text += f" — {self.hint}"
        super().__init__(text)

    @property
    def hint(self) -> str:
        """How to fix it, for configuration errors; empty otherwise."""
        return _HINTS.get(self.errcode, "")

    @property
    def is_config_error(self) -> bool:
        """True when an administrator must change a setting (not worth retrying)."""
        return self.errcode in _CONFIG_CODES

    @property
    def is_rate_limited(self) -> bool:
        """True when WeCom still refused for rate limits after the retries."""
        return self.errcode in RATE_LIMIT_CODES or self.errcode == 429

    @property
    def is_about_the_record(self) -> bool:
        """True when WeCom refused one record (an approval that no longer exists, a
        parameter it rejects), not the call: that record is quarantined, the run
        goes on. WeCom's OA errors are 30xxxx; 40058 is an invalid parameter.
        """
        if isinstance(self, WeComUnavailable | RepeatedCursor | TokenCircuitOpen):
            return False
        return self.errcode == 40058 or 300000 <= self.errcode < 400000

    @property
    def stops_the_run(self) -> bool:
        """True for everything else (configuration, rate limits, tokens, outages and
        codes we do not know): the run stops and resumes later where it stopped, so
        no record is given up on because of the connection.
        """
        return not self.is_about_the_record


class WeComUnavailable(WeComError):
    """Network failure, HTTP error status or an unreadable answer after the retries."""


class RepeatedCursor(WeComError):
    """WeCom handed back a paging cursor it had already given: following it would loop."""

    def __init__(self, path: str) -> None:
        super().__init__(-1, "WeCom returned the same cursor twice; paging stopped", path=path)


class TokenCircuitOpen(WeComError):
    """WeCom keeps rejecting fresh tokens: no more ``gettoken`` calls for a while."""
