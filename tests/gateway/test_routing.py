"""The plain ASGI router in front of Starlette: it takes what the vendor routes accept, as
Starlette's router would, and hands everything else to the app behind it."""

from typing import Any

from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from gateway.app import create_app
from gateway.projects import ProjectSource
from gateway.routing import IngestRouter
from gateway.settings import GatewaySettings
from runtime.settings import KafkaSettings


class Answer:
    """An ASGI app answering its name and the path parameters it was given."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        params = ",".join(f"{k}={v}" for k, v in scope.get("path_params", {}).items())
        await PlainTextResponse(f"{self.name} {params}".strip())(scope, receive, send)


ROUTES = [
    Route("/e", Answer("e"), methods=["POST", "OPTIONS"]),
    Route("/projects/{projectId}/entries", Answer("put"), methods=["PUT"]),
    Route("/projects/{projectId}/entries", Answer("delete"), methods=["DELETE"]),
    Route("/e", Answer("shadowed"), methods=["POST"]),
]


def answers(*requests: tuple[str, str]) -> list[str]:
    http = TestClient(IngestRouter(ROUTES, Answer("starlette")))  # no lifespan: Answer has none
    return [http.request(method, path).text for method, path in requests]


def test_a_routes_path_and_method_go_to_its_app_the_first_route_winning() -> None:
    assert answers(("POST", "/e"), ("OPTIONS", "/e")) == ["e", "e"]


def test_path_parameters_are_matched_and_given_to_the_app() -> None:
    assert answers(("PUT", "/projects/p1/entries"), ("DELETE", "/projects/p2/entries")) == [
        "put projectId=p1",
        "delete projectId=p2",
    ]


def test_anything_else_goes_to_the_app_behind() -> None:
    unknown: list[tuple[str, str]] = [
        ("GET", "/e"),
        ("GET", "/projects/p1/entries"),
        ("POST", "/projects/p1/entries/x"),
        ("GET", "/healthz"),
    ]
    assert answers(*unknown) == ["starlette"] * 4


def test_a_wrong_method_on_a_vendor_path_is_still_405_and_other_paths_are_starlettes() -> None:
    app: Any = create_app(GatewaySettings(), KafkaSettings(), ProjectSource.of([]))
    http = TestClient(app)  # no lifespan: nothing here needs Kafka
    wrong = http.get("/e")
    assert (wrong.status_code, sorted(wrong.headers["allow"].split(", "))) == (
        405,
        ["OPTIONS", "POST"],
    )
    assert http.get("/nowhere").status_code == 404
    assert http.get("/healthz").text == "ok"
    assert http.post("/e", json={"projectToken": "x", "name": "signup"}).text == "Invalid!"
