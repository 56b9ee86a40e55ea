"""The gateway as an ASGI factory, for any ASGI server:

    uvicorn --factory gateway.asgi:app_from_env
    granian --interface asgi --factory gateway.asgi:app_from_env

Settings come from the environment (`HEADWATER_*`), read once, here.
"""

from starlette.applications import Starlette

from gateway.app import create_app
from gateway.settings import GatewaySettings
from headwater.logs import configure_logging
from headwater.projects import ProjectSource
from headwater.settings import HeadwaterSettings, KafkaSettings

__all__ = ["app_from_env"]


def app_from_env() -> Starlette:
    settings = HeadwaterSettings()
    configure_logging(settings.log_level)
    return create_app(GatewaySettings(), KafkaSettings(), ProjectSource.from_settings(settings))
