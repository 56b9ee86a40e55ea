"""The gateway as an ASGI factory, for any ASGI server:

    uvicorn --factory gateway.asgi:app_from_env
    granian --interface asgi --factory gateway.asgi:app_from_env

Settings come from the environment (`HEADWATER_*`), read once, here. Behind a load balancer, the
client's address comes from X-Forwarded-For when the connection is from a trusted proxy.
"""

from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gateway.app import create_app
from gateway.projects import ProjectSource
from gateway.settings import GatewaySettings
from runtime.logs import configure_logging
from runtime.settings import HeadwaterSettings, KafkaSettings

__all__ = ["app_from_env"]


def app_from_env() -> ASGIApp:
    settings, gateway = HeadwaterSettings(), GatewaySettings()
    configure_logging(settings.log_level)
    app = create_app(gateway, KafkaSettings(), ProjectSource.from_settings(settings))
    if not gateway.trusted_proxies:
        return app
    # uvicorn types ASGI more narrowly than starlette; both are ASGI 3.
    proxied = ProxyHeadersMiddleware(app, trusted_hosts=gateway.trusted_proxies)  # type: ignore[arg-type]
    return proxied  # type: ignore[return-value]
