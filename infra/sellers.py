"""A deployed stage's SP-API credentials and sellers: `make add-seller STAGE=x`.

    python -m infra.sellers set-app --stage NAME [--application-id amzn1.sellerapps.app.…]
    python -m infra.sellers add     --stage NAME [--seller-id ID] [--marketplaces ID,ID] [--connect]
    python -m infra.sellers list    --stage NAME
    python -m infra.sellers remove  --stage NAME --seller-id ID [--keep-subscriptions]
    python -m infra.sellers profile --stage NAME --seller-id ID [--file profile.json]

(each also takes --region and --endpoint-url, as infra.deploy does).

The credentials live in the stage's Secrets Manager secret (`sellerops/<stage>/spapi`, the stack
output SpApiSecretName): `{"lwa_app_id", "lwa_client_secret", "sellers": {"<sellerId>":
{"refresh_token"}}}`. Every change is a read-modify-write of that secret that keeps what it does
not touch. The sellers and their marketplaces are also registered in the state table, which the
backstop poller reads.

Secrets are never passed on the command line (they would land in the shell history and the process
list) and never printed. They are asked for without echo (getpass); when stdin is not a terminal,
one line per secret is read from it, for scripts: `set-app` reads the client id, then the client
secret; `add` reads the refresh token. A missing --seller-id or --marketplaces is asked for when
interactive.

A seller added to a running deployment needs nothing else from it: the intake routes every
notification by its SellerId, and the task handler reads each seller's refresh token from the
secret (cached for 5 minutes per Lambda container). Amazon only starts sending the seller's
notifications once it is subscribed: `add --connect`, or `make connect STAGE=x` afterwards.
"""
from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from datetime import datetime
from typing import TextIO

from infra.stage import (  # noqa: F401 - the stage's helpers, as this command's users know them
    CommandError,
    Stage,
    app_credentials_set,
    load_stage,
    read_secret,
    registered_sellers,
    registry,
    run_command,
    stack_name,
    unregister_seller,
    write_secret,
)

SELLER_ID_PATTERN = re.compile(r"[A-Z0-9]{6,32}")
LWA_CLIENT_ID_PREFIX = "amzn1.application-oa2-client."
REFRESH_TOKEN_PREFIX = "Atzr|"


# ============================================================================ asking


def _interactive(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def ask_secret(prompt: str, what: str) -> str:
    """A secret: from getpass on a terminal (never echoed), else one line of stdin."""
    if _interactive(sys.stdin):
        value = getpass.getpass(prompt)
    else:
        line = sys.stdin.readline()
        if not line:
            raise CommandError(f"expected the {what} on stdin (one line), found nothing")
        value = line
    value = value.strip()
    if not value:
        raise CommandError(f"no {what} given")
    return value


def ask_value(prompt: str, option: str) -> str:
    """A plain value the user left out: asked for when interactive, else an error."""
    if not _interactive(sys.stdin):
        raise CommandError(f"{option} is required when stdin is not a terminal")
    value = input(prompt).strip()
    if not value:
        raise CommandError(f"no {option} given")
    return value


# ============================================================================ checks (pure)


def known_marketplaces() -> dict[str, str]:
    """Marketplace id -> country code, as python-amazon-sp-api knows them."""
    from sp_api.base import Marketplaces

    return {m.marketplace_id: m.name for m in Marketplaces}


def parse_marketplaces(text: str) -> list[str]:
    ids = [part.strip() for part in re.split(r"[,\s]+", text) if part.strip()]
    if not ids:
        raise CommandError("no marketplace id given (e.g. A1PA6795UKMFR9 for Germany)")
    return sorted(set(ids))


def _application_id(text: str) -> str:
    from chalicelib.core.fields import TOKEN_LIKE

    if not TOKEN_LIKE.fullmatch(text) or not text.startswith("amzn1."):
        raise argparse.ArgumentTypeError("an application id looks like amzn1.sellerapps.app.<uuid>")
    return text


def check_seller_id(seller_id: str) -> str:
    seller_id = seller_id.strip()
    if not SELLER_ID_PATTERN.fullmatch(seller_id):
        raise CommandError(
            f"{seller_id!r} does not look like an Amazon seller id (the merchant token in Seller "
            "Central → Settings → Account Info → Your Merchant Token: capital letters and digits)"
        )
    return seller_id


def marketplace_warnings(marketplace_ids: list[str]) -> list[str]:
    known = known_marketplaces()
    unknown = [m for m in marketplace_ids if m not in known]
    if unknown:
        return [
            f"warning: unknown marketplace id(s) {', '.join(unknown)}; known ids are listed in "
            "python-amazon-sp-api's Marketplaces (e.g. A1PA6795UKMFR9 DE, A13V1IB3VIYZZH FR)"
        ]
    return []


# ============================================================================ commands


def cmd_set_app(stage: Stage, args: argparse.Namespace) -> int:
    secret = read_secret(stage)
    client_id = ask_secret("LWA client id (Seller Central → Develop apps → View): ", "LWA client id")
    client_secret = ask_secret("LWA client secret: ", "LWA client secret")
    if not client_id.startswith(LWA_CLIENT_ID_PREFIX):
        print(
            f"warning: the client id does not start with {LWA_CLIENT_ID_PREFIX}; check that it "
            "is the LWA client identifier of the app",
            file=sys.stderr,
        )
    changed_app = bool(secret["lwa_app_id"]) and secret["lwa_app_id"] != client_id
    secret["lwa_app_id"], secret["lwa_client_secret"] = client_id, client_secret
    write_secret(stage, secret)
    print(f"Stored the LWA client id and client secret in secret {stage.secret_id}.")
    if changed_app and secret["sellers"]:
        print(
            "The client id changed: refresh tokens belong to the app that obtained them, so the "
            f"{len(secret['sellers'])} stored seller(s) must authorise this app again "
            f"(python -m infra.sellers add --stage {stage.name} --seller-id ...)."
        )
    if args.application_id:
        with registry(stage) as state:
            state.set_application_id(args.application_id)
        print(f"The intake now admits only notifications of application {args.application_id}.")
    else:
        with registry(stage) as state:
            current = state.application_id()
        print(f"The intake admits only application {current}." if current else
              "warning: no --application-id: the intake admits every SP-API application's notifications; "
              "pass the app's id (Seller Central → Develop apps: App ID, amzn1.sellerapps.app.…)", file=sys.stderr)
    if not secret["sellers"]:
        print(f"Next: add a seller: make add-seller STAGE={stage.name}")
    return 0


def cmd_add(stage: Stage, args: argparse.Namespace) -> int:
    seller_id = check_seller_id(args.seller_id or ask_value("Seller id (merchant token): ", "--seller-id"))
    marketplaces = parse_marketplaces(
        args.marketplaces
        or ask_value(
            "Marketplace ids, comma separated (e.g. A1PA6795UKMFR9,A13V1IB3VIYZZH): ", "--marketplaces"
        )
    )
    for warning in marketplace_warnings(marketplaces):
        print(warning, file=sys.stderr)
    token = ask_secret(f"Refresh token of seller {seller_id} (not echoed): ", "refresh token")
    if not token.startswith(REFRESH_TOKEN_PREFIX):
        print(
            f"warning: the refresh token does not start with {REFRESH_TOKEN_PREFIX}; LWA refresh "
            "tokens usually do",
            file=sys.stderr,
        )

    secret = read_secret(stage)
    existed = seller_id in secret["sellers"]
    entry = dict(secret["sellers"].get(seller_id) or {})
    entry["refresh_token"] = token
    secret["sellers"][seller_id] = entry
    write_secret(stage, secret)
    with registry(stage) as state:
        state.put_seller(seller_id, marketplaces)

    verb = "Updated" if existed else "Added"
    print(f"{verb} seller {seller_id} ({', '.join(marketplaces)}) in stage {stage.name}.")
    if not app_credentials_set(secret):
        print(
            "The app's LWA client id and secret are not stored yet: "
            f"python -m infra.sellers set-app --stage {stage.name}"
        )
        return 0
    if args.connect:
        from infra import connect

        return connect.main(_stage_argv(["connect"], stage, args) + ["--seller", seller_id])
    print(
        f"Next: subscribe it to Amazon's notifications: make connect STAGE={stage.name} "
        f"(or python -m infra.connect connect --stage {stage.name} --seller {seller_id})"
    )
    return 0


def cmd_list(stage: Stage, args: argparse.Namespace) -> int:
    secret = read_secret(stage)
    registered = registered_sellers(stage)
    names = known_marketplaces()
    app = "set" if app_credentials_set(secret) else "missing (python -m infra.sellers set-app)"
    print(f"Stage {stage.name}: LWA app credentials {app}")
    seller_ids = sorted(set(secret["sellers"]) | set(registered))
    if not seller_ids:
        print(f"No sellers. Add one: make add-seller STAGE={stage.name}")
        return 0
    print(f"{'seller':<20} {'refresh token':<14} marketplaces")
    for seller_id in seller_ids:
        has_token = bool((secret["sellers"].get(seller_id) or {}).get("refresh_token"))
        marketplaces = ", ".join(
            f"{m} ({names[m]})" if m in names else m for m in registered.get(seller_id, [])
        ) or "-"
        print(f"{seller_id:<20} {'stored' if has_token else 'MISSING':<14} {marketplaces}")
    return 0


def cmd_remove(stage: Stage, args: argparse.Namespace) -> int:
    seller_id = check_seller_id(args.seller_id)
    secret = read_secret(stage)
    in_secret = seller_id in secret["sellers"]
    if not in_secret and seller_id not in registered_sellers(stage):
        raise CommandError(f"seller {seller_id} is not in stage {stage.name}")
    if in_secret and not args.keep_subscriptions:
        # Unsubscribing needs the seller's refresh token: before it is deleted.
        from infra import connect

        status = connect.main(_stage_argv(["disconnect"], stage, args) + ["--seller", seller_id])
        if status != 0:
            raise CommandError(
                f"seller {seller_id} was not removed: its subscriptions could not be deleted "
                "(see above). Fix that, or pass --keep-subscriptions to remove it anyway"
            )
    secret = read_secret(stage)
    secret["sellers"].pop(seller_id, None)
    write_secret(stage, secret)
    unregister_seller(stage, seller_id)
    print(f"Removed seller {seller_id} from stage {stage.name} (secret and registry).")
    return 0


def _stage_argv(command: list[str], stage: Stage, args: argparse.Namespace) -> list[str]:
    argv = command + ["--stage", stage.name, "--region", stage.region]
    if stage.endpoint_url:
        argv += ["--endpoint-url", stage.endpoint_url]
    return argv


def index_ship_by(seller_id: str) -> int:
    """Put into the orders table's by_ship_by index the seller's merchant orders waiting to ship
    that were stored before it existed. Run with the administrator's credentials (no function's
    role writes these attributes outside a change); a change applied meanwhile wins, each write
    being conditioned on the change key read."""
    from chalicelib.core.dynamo import unless_refused
    from chalicelib.core.times import iso
    from chalicelib.flows.orders.rules import AWAITING_SHIPMENT, OrderStatus, awaits_merchant_shipping
    from chalicelib.flows.orders.store import _order_models

    Row = _order_models().order
    indexed = 0
    waiting = [status.value for status in AWAITING_SHIPMENT]
    keys = Row.by_seller_listed.query(seller_id, filter_condition=Row.status.is_in(*waiting))
    listed = [key.order_id for key in keys]
    for row in Row.batch_get(listed) if listed else ():  # in requests of 100 keys
        latest = (row.windows or {}).get("ship_by_latest")
        if not latest or not awaits_merchant_shipping(OrderStatus(row.status), row.fulfillment_channel) \
                or (row.ship_by_seller and row.ship_by_key):
            continue
        with unless_refused() as written:
            Row(row.order_id).update(
                actions=[Row.ship_by_seller.set(seller_id),
                         Row.ship_by_key.set(f"{iso(datetime.fromisoformat(latest))}#{row.order_id}")],
                condition=Row.change_key == row.change_key)
        indexed += written.ok
    return indexed


def cmd_index_ship_by(stage: Stage, args: argparse.Namespace) -> int:
    """Orders stored before the ship-by index: indexed once, so the alerts and /shipments/due see them."""
    with registry(stage) as state:
        counts = {s["seller_id"]: index_ship_by(s["seller_id"]) for s in state.sellers()}
    for seller_id, count in sorted(counts.items()):
        print(f"{seller_id}: {count} merchant order(s) waiting to ship indexed by their latest ship date")
    return 0


def cmd_profile(stage: Stage, args: argparse.Namespace) -> int:
    """Set a seller's invoicing profile from a JSON file (as PUT /sellers/{id}/profile takes it),
    or print the one stored. Setting it queues the invoices of the orders that waited for it."""
    import json

    from chalicelib.core.queues import SqsTaskQueue
    from chalicelib.flows.invoices import rules, service
    from chalicelib.flows.invoices.store import DynamoInvoices

    seller_id = check_seller_id(args.seller_id)
    with registry(stage) as state:
        if seller_id not in {s["seller_id"] for s in state.sellers()}:
            raise CommandError(f"seller {seller_id} is not registered in stage {stage.name}: add it first")
        store = DynamoInvoices()
        if args.file is None:
            found = store.profile(seller_id)
            if found is None:
                print(f"{seller_id} has no profile yet: its orders wait to be invoiced")
                return 1
            shown = rules.profile_json(found)
            if shown.get("logoPng"):
                shown["logoPng"] = f"(a PNG of {len(found.logo_png or b'')} bytes)"
            print(json.dumps(shown, ensure_ascii=False, indent=2))
            return 0
        try:
            with open(args.file, encoding="utf-8") as source:
                data = json.load(source)
        except (OSError, ValueError) as exc:
            raise CommandError(f"{args.file}: {exc}") from None
        from chalicelib import registry as flows

        tasks = SqsTaskQueue(flows.queue_of)
        try:
            service.save_profile(store, tasks, seller_id, data, datetime.now().astimezone())
        except rules.ProfileError as refused:
            raise CommandError(f"{args.file}: {refused.reason}") from None
        waiting = len(tasks._pending)  # noqa: SLF001 - the command reports what it queued
        tasks.flush()
    print(f"{seller_id}: profile stored; {waiting} order(s) that waited for it are being invoiced")
    return 0


COMMANDS = {"set-app": cmd_set_app, "add": cmd_add, "list": cmd_list, "remove": cmd_remove,
            "index-ship-by": cmd_index_ship_by, "profile": cmd_profile}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra.sellers",
        description="Store the SP-API app credentials and the sellers of a deployed stage.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--stage", required=True, help="the deployed stage")
        sub.add_argument("--region", default=None, help="AWS region (default: AWS_REGION / your AWS config)")
        sub.add_argument(
            "--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"),
            help="AWS endpoint (default: AWS_ENDPOINT_URL), e.g. a moto server",
        )
        return sub

    set_app = command("set-app", "store the LWA client id and client secret (asked for, never echoed), and "
                                 "the app's id, the only one whose notifications the intake admits")
    set_app.add_argument("--application-id", type=_application_id,
                         help="the SP-API application's id (amzn1.sellerapps.app.…), as Amazon puts it in "
                              "every notification")
    add = command("add", "add or update a seller: its refresh token (asked for) and marketplaces")
    add.add_argument("--seller-id", help="the seller's merchant token (asked for when left out)")
    add.add_argument("--marketplaces", help="comma-separated marketplace ids (asked for when left out)")
    add.add_argument("--connect", action="store_true", help="then subscribe the seller (infra.connect)")
    command("list", "list the sellers and their marketplaces (no secrets)")
    command("index-ship-by", "once, after upgrading: index the merchant orders waiting to ship stored before "
                             "the ship-by alerts existed")
    profile = command("profile", "set a seller's invoicing profile from a JSON file (legal identity, VAT "
                                 "numbers, series...), or print it")
    profile.add_argument("--seller-id", required=True)
    profile.add_argument("--file", help="the profile, as PUT /sellers/{sellerId}/profile takes it (left out: "
                                        "print the stored one)")
    remove = command("remove", "unsubscribe a seller, then delete its refresh token and registration")
    remove.add_argument("--seller-id", required=True)
    remove.add_argument(
        "--keep-subscriptions", action="store_true",
        help="do not delete the seller's subscriptions at Amazon first",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        stage = load_stage(args.stage, args.region, args.endpoint_url)
        return COMMANDS[args.command](stage, args)

    return run_command(body, "nothing more was changed")


if __name__ == "__main__":
    sys.exit(main())
