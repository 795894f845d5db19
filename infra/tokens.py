"""The API's named tokens: create one per system that calls the API, with only the scopes it needs.

    python -m infra.tokens create --stage NAME --name NAME --scopes SCOPE[,SCOPE] [--sellers ID,ID]
    python -m infra.tokens list   --stage NAME
    python -m infra.tokens revoke --stage NAME --id ID

(each also takes --region and --endpoint-url, as infra.deploy does; on the local stack, the
`aws` URL `replay --serve` prints is the endpoint.)

A token is `so_<id>_<secret>`. It is printed once, by `create`, and stored nowhere: the state
table keeps the SHA-256 of its secret, its name, scopes, sellers, creation and last-use times.
`list` shows those, never a secret. `revoke` refuses it from then on (API Gateway may honour a
token it has already checked for up to a minute: the authorizer's cache). Scopes
(chalicelib/core/tokens.py SCOPES):

    orders:read     failures:read     shipments:write   stock:write   invoices:read   books:read

or `*` for all. `--sellers` limits a token to those sellers: it sees no other seller's data. The
deployment's root token (`make deploy` prints it; SELLEROPS_API_TOKEN locally) has every scope
for every seller; hand named tokens out instead.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from chalicelib.core.times import iso, now
from chalicelib.core.tokens import SCOPES, InvalidScopes, TokenRecord, new_token, parse_scopes
from infra.stage import CommandError, Stage, load_stage, registry, run_command

_NAME_LIMIT = 64


def _sellers(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    from infra.sellers import check_seller_id

    sellers = tuple(sorted({check_seller_id(s.strip()) for s in text.split(",") if s.strip()}))
    if not sellers:
        raise CommandError("--sellers names no seller: leave it out for a token that sees every seller")
    return sellers


def cmd_create(stage: Stage, args: argparse.Namespace) -> int:
    name = args.name.strip()
    if not name or len(name) > _NAME_LIMIT or not name.isprintable():
        raise CommandError(f"--name must be 1 to {_NAME_LIMIT} printable characters")
    try:
        scopes = parse_scopes(args.scopes)
    except InvalidScopes as exc:
        raise CommandError(str(exc)) from None
    sellers = _sellers(args.sellers)
    if sellers is not None and ("failures:read" in scopes or "*" in scopes):
        raise CommandError("a token limited to some sellers cannot have failures:read (or *): failures are "
                           "every seller's; leave out --sellers, or the scope")
    token, token_id, secret_hash = new_token()
    record = TokenRecord(token_id, name, secret_hash, scopes, sellers, iso(now()))
    with registry(stage) as state:
        if not state.put_token(record):
            raise CommandError("a token with the same id exists (a one-in-10^18 chance): run the command again")
    limited = "every seller" if sellers is None else ", ".join(sellers)
    print(f"Created token {token_id} ({name}) on stage {stage.name}: scopes {' '.join(scopes)}; sellers: {limited}.")
    print("It is shown this once and stored nowhere (only its hash is kept); keep it safe:")
    print(f"  {token}")
    return 0


def _row(record: TokenRecord) -> list[str]:
    sellers = "all" if record.sellers is None else ",".join(record.sellers)
    state = f"revoked {record.revoked_at}" if record.revoked_at else "active"
    return [record.token_id, record.name, " ".join(record.scopes), sellers, record.created_at,
            record.last_used_at or "never", state]


def cmd_list(stage: Stage, args: argparse.Namespace) -> int:
    with registry(stage) as state:
        records = sorted(state.tokens(), key=lambda r: r.created_at)
    if not records:
        print(f"No named tokens on stage {stage.name}. Create one: python -m infra.tokens create --stage "
              f"{stage.name} --name NAME --scopes {next(iter(SCOPES))}")
        return 0
    rows = [["id", "name", "scopes", "sellers", "created", "last used", "state"]] + [_row(r) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_revoke(stage: Stage, args: argparse.Namespace) -> int:
    with registry(stage) as state:
        record = state.token(args.id)
        if record is None:
            raise CommandError(f"no token {args.id} on stage {stage.name} (python -m infra.tokens list)")
        if not state.revoke_token(args.id, now()):
            print(f"Token {args.id} ({record.name}) was already revoked.")
            return 0
    print(f"Revoked token {args.id} ({record.name}). API Gateway may still honour it for up to a minute.")
    return 0


COMMANDS: dict[str, Any] = {"create": cmd_create, "list": cmd_list, "revoke": cmd_revoke}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.tokens",
                                     description="Create, list and revoke the API's named tokens.")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--stage", required=True, help="the deployed stage (local: the embedded stack)")
        sub.add_argument("--region", default=None, help="AWS region (default: AWS_REGION / your AWS config)")
        sub.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"),
                         help="AWS endpoint (default: AWS_ENDPOINT_URL), e.g. the local stack's")
        return sub

    create = command("create", "create a token; it is printed once")
    create.add_argument("--name", required=True, help="who holds it, e.g. warehouse or accountant")
    create.add_argument("--scopes", required=True, help=f"comma-separated: {', '.join(SCOPES)}, or * for all")
    create.add_argument("--sellers", help="comma-separated seller ids it is limited to (default: every seller)")
    command("list", "list the tokens: names, scopes, sellers, last use (never a secret)")
    revoke = command("revoke", "refuse a token from now on")
    revoke.add_argument("--id", required=True, help="the token's id (python -m infra.tokens list)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        stage = load_stage(args.stage, args.region, args.endpoint_url)
        return int(COMMANDS[args.command](stage, args))

    return run_command(body, "nothing more was changed")


if __name__ == "__main__":
    sys.exit(main())
