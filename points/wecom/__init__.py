"""WeCom (企业微信): the protocol layer and its wiring to the product.

Protocol (no database, no web imports):

- :mod:`points.wecom.crypto` — verify/decrypt callbacks (``CallbackCrypto``).
- :mod:`points.wecom.xmlmsg` — defusedxml parsing of message XML into dicts.
- :mod:`points.wecom.fields`, :mod:`points.wecom.approvals`, :mod:`points.wecom.mapping`
  — messages and pulled data → normalized ``EventIn``.
- :mod:`points.wecom.client` (with :mod:`~points.wecom.errors`,
  :mod:`~points.wecom.tokens`) — async API client with a shared token store.
- :mod:`points.wecom.pull` — pull connectors built on the client and the mapping.
- :mod:`points.wecom.samples` / :mod:`points.devtools.fake_wecom` — test and demo data.

Product side: :mod:`~points.wecom.config` (settings → client, crypto, pools),
:mod:`~points.wecom.policy` (HR's on-time rules), :mod:`~points.wecom.callback`
(storing callbacks), :mod:`~points.wecom.connectors` (connector progress and health),
:mod:`~points.wecom.login` (OAuth, connection test), :mod:`~points.wecom.jobs`,
:mod:`~points.wecom.messages`, :mod:`~points.wecom.contacts`.
"""

from points.wecom.client import (
    InMemoryTokenStore,
    OAuthUser,
    RedisTokenStore,
    TokenStore,
    WeComClient,
    WeComError,
    WeComUnavailable,
)
from points.wecom.crypto import CallbackCrypto, CallbackRejected, SealedCallback
from points.wecom.mapping import (
    DEFAULT_APPROVAL_POLICY,
    ApprovalPolicy,
    CallbackOutcome,
    ContactChange,
    DetailRequest,
    OnTimeRule,
    map_callback,
)

__all__ = [
    "DEFAULT_APPROVAL_POLICY",
    "ApprovalPolicy",
    "CallbackCrypto",
    "CallbackOutcome",
    "CallbackRejected",
    "ContactChange",
    "DetailRequest",
    "InMemoryTokenStore",
    "OAuthUser",
    "OnTimeRule",
    "RedisTokenStore",
    "SealedCallback",
    "TokenStore",
    "WeComClient",
    "WeComError",
    "WeComUnavailable",
    "map_callback",
]
