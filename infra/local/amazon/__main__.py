"""python -m infra.local.amazon --world WORLD.json [--port 4599] [--views-port 4600] [--rate-scale N]"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from infra.local.amazon import ENDPOINT_HOSTS, Simulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.local.amazon",
                                     description="Serve Amazon's side of LWA, the Orders and the Notifications API "
                                                 "locally.")
    parser.add_argument("--world", type=Path, help="world JSON file: orders and sellers")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4599, help="the SP-API endpoint; 0 picks a free port")
    parser.add_argument("--views-port", type=int, default=4600, help="GET /_simulator/...; 0 picks a free port")
    parser.add_argument("--rate-scale", type=float, default=1.0, help="multiplies every refill rate")
    parser.add_argument("--search-lag", type=float, default=120.0, metavar="SECONDS",
                        help="how far behind now searchOrders may look (Amazon: 120)")
    parser.add_argument("--region", choices=sorted(ENDPOINT_HOSTS), default="eu",
                        help="the SP-API endpoint played (SQS destinations must be in its part of the world)")
    parser.add_argument("--refuse-sqs-policy", action="store_true",
                        help="answer createDestination for SQS as Amazon does when the queue policy refuses it")
    args = parser.parse_args(argv)
    world = json.loads(args.world.read_text(encoding="utf-8")) if args.world else {}
    simulator = Simulator(world, rate_scale=args.rate_scale, search_lag_seconds=args.search_lag,
                          region=args.region, sqs_policy_ok=not args.refuse_sqs_policy)
    url = simulator.start(args.host, args.port, args.views_port)
    print(f"Amazon simulator at {url}, its views at {simulator.views_url}/_simulator/ (Ctrl-C stops it)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


if __name__ == "__main__":
    main()
