"""The gateway's settings: TLS needs a certificate and its key together, and the address the
gateway is reached at from this machine."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import GatewaySettings

CERT, KEY = Path("gateway.crt"), Path("gateway.key")


@pytest.mark.parametrize(("cert", "key"), [(CERT, None), (None, KEY)])
def test_tls_needs_both_the_certificate_and_its_key(cert: Path | None, key: Path | None) -> None:
    with pytest.raises(ValidationError, match="set both tls_cert_file and tls_key_file"):
        GatewaySettings(tls_cert_file=cert, tls_key_file=key)


def test_one_tls_file_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_GATEWAY_TLS_CERT_FILE", str(CERT))
    monkeypatch.delenv("HEADWATER_GATEWAY_TLS_KEY_FILE", raising=False)
    with pytest.raises(ValidationError, match="set both"):
        GatewaySettings()


@pytest.mark.parametrize(
    ("host", "port", "tls", "url"),
    [
        ("127.0.0.1", 8080, False, "http://127.0.0.1:8080"),
        ("0.0.0.0", 9000, False, "http://127.0.0.1:9000"),  # listening everywhere: ask locally
        ("::", 9000, False, "http://127.0.0.1:9000"),
        ("gateway.internal", 8080, False, "http://gateway.internal:8080"),
        ("0.0.0.0", 8443, True, "https://127.0.0.1:8443"),
        ("gateway.internal", 443, True, "https://gateway.internal:443"),
    ],
)
def test_local_url_is_where_this_machine_reaches_the_gateway(
    host: str, port: int, tls: bool, url: str
) -> None:
    files = {"tls_cert_file": CERT, "tls_key_file": KEY} if tls else {}
    assert GatewaySettings(host=host, port=port, **files).local_url == url  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "unworkable",
    [
        {"workers": 0},
        {"max_json_depth": 1},
        {"max_body_bytes": 1023},
        {"produce_timeout_ms": 99},
        {"rate_limit_per_s": -1},
        {"projects_reload_s": 0},
    ],
)
def test_unworkable_values_are_refused(unworkable: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        GatewaySettings(**unworkable)  # type: ignore[arg-type]
