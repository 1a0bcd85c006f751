"""A send worker in its own process, for the kill test: drains the outbox of the store at
argv[1] into the HTTP gateway at argv[2], paced so the test can kill it mid-batch."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from outbox_fixtures import DictDirectory, PlainComposer, people

from lodestar.campaigns.send_worker import SendWorker
from lodestar.channels.http_gateway import HttpGatewayChannel
from lodestar.decisioning.policy_rules import default_policy
from lodestar.storage.operational import OperationalStore


def main() -> None:
    url, gateway, secret, n, zone, name, rate = sys.argv[1:8]
    store = OperationalStore(url)
    channel = HttpGatewayChannel("sms", gateway, secret=secret)
    worker = SendWorker(store, {"sms": channel}, default_policy(),
                        DictDirectory(people(int(n), zone)), PlainComposer(), name=name,
                        batch=20, lease_seconds=2.0,
                        rate_per_second={"sms": float(rate)})  # fmt: skip
    worker.run(until_empty=True)
    channel.close()
    store.dispose()


if __name__ == "__main__":
    main()
