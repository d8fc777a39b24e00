"""`python -m localdev.fake_stripe --port P [--host 127.0.0.1] [--verbose]`"""

import argparse
import asyncio
import logging
import sys

from localdev.fake_stripe.server import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m localdev.fake_stripe", description="The local Stripe: localstripe plus what it lacks."
    )
    parser.add_argument("--port", type=int, default=8420, help="0 picks a free port, shown on the ready line")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--verbose", action="store_true", help="log requests and webhook deliveries to stderr")
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    asyncio.run(serve(args.host, args.port, access_log=args.verbose))


if __name__ == "__main__":
    main()
