"""One moto server per test process, provisioned from infra/template.yaml like the local stack."""
import os

import pytest

from infra.local.stack import provision, start_moto, write_api_token_hash, write_secret

API_TOKEN = "integration-test-token"


@pytest.fixture(scope="session")
def aws_stack():
    stack = provision(start_moto(0), stage="handlers")
    write_secret(stack, "amzn1.application-oa2-client.test", "test-secret", {})
    write_api_token_hash(stack, API_TOKEN)
    saved = dict(os.environ)
    os.environ.update(stack.env())
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    from chalicelib.core import auth, wiring

    wiring.reset()
    auth.forget()
    yield stack
    os.environ.clear()
    os.environ.update(saved)
    wiring.reset()
