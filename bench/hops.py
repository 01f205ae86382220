"""Where an order's time goes, event by event, from the services' own databases (bench/hops.sh).

Usage: python3 bench/hops.py VAR_DIR

Every outbox row (event_outbox) says when the event was committed (created_at_ms) and when the relay
marked it published (sent_at_ms); every inbox row (event_inbox) when a consumer's handler committed its
effect (handled_at_ms). Joined by event id across the services' SQLite files: per event type, the relay's
delay (commit -> marked sent) and per (type, consumer) the delivery's (marked sent -> handled; it can be
below 0: the relay marks a batch sent after the broker acknowledged it, and a consumer may be quicker),
with the orders' own commit-to-confirmed time (order.created's commit to order.confirmed's).
Prints markdown tables; times in ms, each service's clock (one machine).
"""
import collections
import json
import sqlite3
import sys

SERVICES = ["order", "inventory", "payment", "shipping", "notification"]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main(var_dir):
    outbox = {}  # event id -> (type, subject, committed, sent, service)
    inboxes = {}
    for service in SERVICES:
        db = sqlite3.connect(f"file:{var_dir}/{service}/{service}.db?mode=ro", uri=True)
        for event_id, kind, envelope, created, sent in db.execute(
            "SELECT event_id, type, envelope, created_at_ms, sent_at_ms FROM event_outbox"
        ):
            outbox[event_id] = (kind, json.loads(envelope).get("subject", ""), created, sent, service)
        inboxes[service] = list(db.execute("SELECT event_id, handled_at_ms FROM event_inbox"))
        db.close()
    relay = collections.defaultdict(list)
    delivery = collections.defaultdict(list)
    created, confirmed = {}, {}
    for kind, subject, at, sent, service in outbox.values():
        if sent is not None:
            relay[f"{kind} ({service})"].append(sent - at)
        if kind == "order.created":
            created[subject] = at
        elif kind == "order.confirmed":
            confirmed.setdefault(subject, at)
    for service, rows in inboxes.items():
        for event_id, handled in rows:
            event = outbox.get(event_id)
            if event is not None and event[3] is not None:
                delivery[f"{event[0]} -> {service}"].append(handled - event[3])
    whole = [confirmed[o] - created[o] for o in confirmed if o in created]
    if not whole:
        sys.exit("no confirmed order found in " + var_dir)
    print(f"Orders confirmed: {len(whole)}; order.created committed -> order.confirmed committed: "
          f"p50 {pct(whole, .5)}, p90 {pct(whole, .9)}, p99 {pct(whole, .99)} ms")
    for title, table in (("relay: committed -> marked sent", relay),
                         ("delivery: marked sent -> handled (the consumer's commit)", delivery)):
        print()
        print(f"| {title} | events | p50 | p90 | p99 |")
        print("|---|---:|---:|---:|---:|")
        rows = [(k, v) for k, v in table.items() if len(v) >= len(whole) // 2]
        for key, values in sorted(rows, key=lambda kv: -pct(kv[1], .99)):
            print(f"| {key} | {len(values)} | {pct(values, .5)} | {pct(values, .9)} | {pct(values, .99)} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
