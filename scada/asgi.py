"""ASGI entry point for daphne: HTTP through Django, WebSockets through Channels.

The composition root: the one place (with scada/urls.py) where scada imports apps. WebSockets are accounts'
authentication stack around live's routes.
"""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scada.settings")

from scada.asgi_handler import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.ws_auth import ws_auth_stack  # noqa: E402
from live.routing import websocket_urlpatterns  # noqa: E402
from scada.reason_phrases import add_reason_phrases  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Origin checked against ALLOWED_HOSTS, then the token (?token= JWT or API key), then the route.
        "websocket": ws_auth_stack(URLRouter(websocket_urlpatterns)),
    }
)

# Twisted, under daphne, knows no reason phrase for 429 (RFC 6585) and would send "429 Unknown Status" with every
# rate-limited answer; give it the standard one.
add_reason_phrases()

# What is loaded by now lives as long as the process: move it out of the cyclic GC's reach. Otherwise every full
# collection scans the whole of Django again and stalls the event loop (40-180 ms pauses measured under live push).
gc.freeze()
# A full collection also scans every open WebSocket's objects: 0.2-0.4 s pauses at 2,000 sockets. Pushing values
# makes no cyclic garbage (young collections free nothing); only connection setup does, so considering a full
# collection every 1,000 middle-generation passes instead of 10 is plenty (bench_push: p99 406 → 129 ms).
gc.set_threshold(700, 10, 1000)
