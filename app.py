"""sellerops: every entry point, each a few lines. Read this file as the table of contents.

Queues:    intake (SP-API notifications) → orders;  tasks (calls to Amazon) → details, polling
Schedules: the backstop poll of searchOrders
HTTPS:     /orders, /orders/{orderId}, /failures, /health, /openapi.json
"""
from chalice import AuthResponse, Chalice, Rate, Response

from chalicelib import auth, config, handlers, wiring
from chalicelib.observability import observe

app = Chalice(app_name="sellerops", configure_logs=False)
app.register_middleware(observe, "all")


# --- queues -------------------------------------------------------------------------------

@app.on_sqs_message(queue=config.queue_name("intake"), batch_size=10)
def intake(event):
    """SP-API notifications (and EventBridge listings events) → orders; returns partial failures."""
    return handlers.intake_batch(event.to_dict())


@app.on_sqs_message(queue=config.queue_name("tasks"), batch_size=10)
def tasks(event):
    """Work that calls Amazon, rate limited: getOrder details, searchOrders pages."""
    return handlers.task_batch(event.to_dict())


# --- schedules ----------------------------------------------------------------------------

@app.schedule(Rate(15, unit=Rate.MINUTES))
def poll_orders(event):
    """Backstop: catch orders whose notification was lost."""
    return handlers.poll_orders_schedule()


# --- HTTPS API ----------------------------------------------------------------------------

@app.authorizer()
def bearer_token(auth_request):
    if auth.is_valid(auth_request.token):
        return AuthResponse(routes=["*"], principal_id="api-client")
    return AuthResponse(routes=[], principal_id="anonymous")


def _query():
    return app.current_request.query_params or {}


@app.route("/orders/{order_id}", methods=["GET"], authorizer=bearer_token)
def get_order(order_id):
    from chalicelib import api

    return api.get_order(order_id)


@app.route("/orders", methods=["GET"], authorizer=bearer_token)
def list_orders():
    from chalicelib import api

    return api.list_orders(_query())


@app.route("/failures", methods=["GET"], authorizer=bearer_token)
def list_failures():
    from chalicelib import api

    return api.list_failures(_query())


@app.route("/health", methods=["GET"])
def health():
    from chalicelib import api

    return api.health()


@app.route("/openapi.json", methods=["GET"], authorizer=bearer_token)
def openapi():
    from chalicelib.openapi import SPEC

    return Response(body=SPEC, status_code=200, headers={"Content-Type": "application/json"})


# --- deploying without the HTTPS API --------------------------------------------------------
# `python -m infra.deploy deploy --no-api` sets SELLEROPS_DEPLOY_API=false: Chalice then deploys
# the queue and schedule handlers only. Read at import, like the queue names; Lambda never sets
# it, so deployed functions keep their routes.
if not config.deploy_api():
    app.routes.clear()
