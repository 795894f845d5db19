"""sellerops: every entry point, each a few lines. Read this file as the table of contents.

Queues (chalicelib/resources.py):
  intake  SP-API notifications → the flows that consume them
  tasks   work that calls Amazon, at the pace of the shared rate limiter
  work    heavy work (PDFs, report files), with a longer timeout
Schedules and routes: each flow's, from chalicelib/registry.py → chalicelib/flows/<flow>/.
"""
from chalice import AuthResponse, AuthRoute, Chalice, Rate

from chalicelib import config, handlers, registry, resources
from chalicelib.core import auth
from chalicelib.core.function import running
from chalicelib.core.http import error_shape
from chalicelib.core.observability import observe

app = Chalice(app_name="sellerops", configure_logs=False)
app.register_middleware(observe, "all")


# --- queues -------------------------------------------------------------------------------

@app.on_sqs_message(queue=config.queue_name(resources.INTAKE), batch_size=resources.INTAKE.batch_size)
def intake(event):
    """SP-API notifications (and EventBridge listings events); returns partial failures."""
    return handlers.intake_batch(event.to_dict())


@app.on_sqs_message(queue=config.queue_name(resources.TASKS), batch_size=resources.TASKS.batch_size)
def tasks(event):
    """Tasks that call Amazon, rate limited (getOrder details, searchOrders pages, ...)."""
    return handlers.task_batch(resources.TASKS, event.to_dict())


@app.on_sqs_message(queue=config.queue_name(resources.WORK), batch_size=resources.WORK.batch_size)
def work(event):
    """Heavy tasks: rendering, report parsing."""
    return handlers.task_batch(resources.WORK, event.to_dict())


# --- schedules: one Lambda function each, named after the schedule -------------------------
# Chalice finds a function's handler as `app.<name>`, hence the module-level names.

for _schedule in registry.SCHEDULES:
    globals()[_schedule.name] = app.schedule(
        Rate(_schedule.every_minutes, unit=Rate.MINUTES), name=_schedule.name,
        description=_schedule.description)(handlers.scheduled(_schedule))


# --- HTTPS API ----------------------------------------------------------------------------
# Each route of the registry (GETs answer HEAD too); every other method of its path is a 405.
# Errors of every kind share one shape (chalicelib/core/http.py).

app.register_middleware(error_shape, "http")


@app.authorizer(ttl_seconds=auth.AUTHORIZER_TTL_SECONDS)
def bearer_token(auth_request):
    with running("bearer_token"):
        who = auth.principal_of(auth_request.token)
    if who is None:
        return AuthResponse(routes=[], principal_id="anonymous")
    routes = [AuthRoute(path, [method, "HEAD"] if method == "GET" else [method])
              for path, method in auth.allowed_routes(who, registry.ROUTES)]
    return AuthResponse(routes=routes, principal_id=who.name, context=who.context())


for _route in registry.ROUTES:
    app.route(_route.path, methods=[_route.method, "HEAD"] if _route.method == "GET" else [_route.method],
              name=_route.name, authorizer=bearer_token if _route.needs_token else None,
              content_types=handlers.content_types(_route))(handlers.view(_route, lambda: app.current_request))

for _path, _allowed in registry.methods_by_path().items():
    _others = [m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS") if m not in _allowed]
    app.route(_path, methods=_others, name=f"{_path}#405", content_types=["*/*"])(
        handlers.method_not_allowed(_path, _allowed))


# --- deploying without the HTTPS API --------------------------------------------------------
# `python -m infra.deploy deploy --no-api` sets SELLEROPS_DEPLOY_API=false: Chalice then deploys
# the queue and schedule handlers only. Read at import, like the queue names; Lambda never sets
# it, so deployed functions keep their routes.
if not config.deploy_api():
    app.routes.clear()
