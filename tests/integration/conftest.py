"""One moto server per test process, provisioned from infra/template.yaml like the local stack."""
import os

import pytest

from infra.local.stack import provision, start_moto, write_api_token_hash, write_page_token_key, write_secret

API_TOKEN = "integration-test-token"


@pytest.fixture(scope="session")
def aws_stack():
    stack = provision(start_moto(0), stage="handlers")
    write_secret(stack, "amzn1.application-oa2-client.test", "test-secret", {})
    write_api_token_hash(stack, API_TOKEN)
    write_page_token_key(stack)
    saved = dict(os.environ)
    os.environ.update(stack.env())
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    from chalicelib.core import auth, pages, wiring

    wiring.reset()
    auth.forget()
    pages.forget()
    from infra.local.guard import install

    install("handlers", stack.region)  # each function's calls within its own IAM policy
    yield stack
    os.environ.clear()
    os.environ.update(saved)
    wiring.reset()


@pytest.fixture
def amazon_for(aws_stack, monkeypatch):
    """The Amazon simulator with these sellers (id → refresh token), its endpoints in the
    functions' environment and the sellers' tokens in the stage's secret, as the local stack
    wires it."""
    import sp_api.auth.access_token_client as token_cache

    from chalicelib.core import wiring
    from infra.local.amazon import Simulator

    started = []

    def start(sellers: dict[str, str]) -> "Simulator":
        sim = Simulator({"orders": [], "sellers": [{"sellerId": s, "refreshToken": t} for s, t in sellers.items()]})
        url = sim.start()
        started.append(sim)
        write_secret(aws_stack, "amzn1.application-oa2-client.test", "test-secret",
                     {s: {"refresh_token": t} for s, t in sellers.items()})
        monkeypatch.setenv("SPAPI_ENDPOINT", url)
        monkeypatch.setenv("LWA_ENDPOINT", url)
        token_cache.cache.clear()  # python-amazon-sp-api caches access tokens for the whole process
        wiring.reset()
        return sim

    yield start
    for sim in started:
        sim.stop()
    wiring.reset()


@pytest.fixture(autouse=True)
def within_each_function_s_policy():
    """No AWS call of a test may go beyond the running function's own IAM policy."""
    from infra.local.guard import DENIED

    before = len(DENIED)
    yield
    assert DENIED.calls[before:] == [], "calls infra/policy.py does not grant to the function that made them"
