"""Markdown of a bench_objects result: throughput with ratios to the plain server, CPU cost, peak RSS, the goal."""

from __future__ import annotations

from typing import Any

from common import MIB, markdown_table, ratio

GOAL_GET_RATIO = 0.7  # issue 2, part 9: large GET >= 0.7x the plain file server
FLAT_FRACTION = 0.25  # "memory flat": no server process grows by a quarter of one object
CLIENT, PLAIN = "bench client", "plain server"
OPS = ("put_small", "get_small", "put_large", "get_large", "get_large_cold")


def _size(n: int) -> str:
    return f"{n / MIB:g} MiB" if n < 1 << 30 else f"{n / (1 << 30):g} GiB"


def _short(setup: str) -> str:
    """"ais-ray --no-fsync (AisClient)" -> "AisClient --no-fsync", "plain server" -> "plain"."""
    if not setup.startswith("ais-ray"):
        return setup.replace(PLAIN, "plain")
    flags, _, client = setup.removeprefix("ais-ray").partition("(")
    return f"{client.rstrip(')')} {flags.strip()}".strip()


def _op_heads(a: dict[str, Any]) -> dict[str, str]:
    s, lg = f"{a['small_count']} × {_size(a['small_size'])}", f"{a['large_count']} × {_size(a['large_size'])}"
    return {"put_small": f"PUT {s}", "get_small": f"GET {s}", "put_large": f"PUT {lg}", "get_large": f"GET {lg}",
            "get_large_cold": f"GET {lg}, cold"}


def _base(setup: str, op: str, results: dict[str, Any]) -> dict[str, Any] | None:
    """What a cell is compared with: the plain server of the same round (fsync or not), else the fsync one."""
    nofsync = results.get(f"{PLAIN} --no-fsync", {}).get(op) if "--no-fsync" in setup else None
    return nofsync or results.get(PLAIN, {}).get(op)


def throughput_table(out: dict[str, Any]) -> str:
    results, heads = out["results"], _op_heads(out["args"])
    rows = []
    for setup, ops in results.items():
        row = [setup]
        for op in OPS:
            r = ops.get(op)
            if not r:
                row.append("—")
                continue
            text = f"{r['mib_s']:,.0f} MiB/s"
            if op.endswith("small"):
                text = f"{r['obj_s']:,.0f} obj/s, {text}"
            if setup not in (PLAIN, f"{PLAIN} --no-fsync"):
                text += f" ({ratio(r['mib_s'], (_base(setup, op, results) or {}).get('mib_s'))})"
            row.append(text)
        rows.append(row)
    return markdown_table(["setup (× plain server)"] + [heads[op] for op in OPS], rows)


def _cpu_ms_per_mib(out: dict[str, Any], setup: str, op: str, labels: set[str] | None) -> float | None:
    uses, res = out["usage"].get(f"{setup}: {op}"), out["results"].get(setup, {}).get(op)
    if not uses or not res:
        return None
    cpu = sum(u["cpu_s"] for lb, u in uses.items() if (lb in labels if labels else lb != CLIENT))
    return 1000 * cpu / (res["total_bytes"] / MIB)


def cpu_table(out: dict[str, Any]) -> str:
    heads = _op_heads(out["args"])
    rows = []
    for setup in out["results"]:
        cells = [(_cpu_ms_per_mib(out, setup, op, None), _cpu_ms_per_mib(out, setup, op, {CLIENT})) for op in OPS]
        if any(c[0] is not None for c in cells):
            rows.append([setup] + [f"{s:.2f} ({c:.2f})" if s is not None and c is not None else "—" for s, c in cells])
    return markdown_table(["setup: servers (client)"] + [heads[op] for op in OPS], rows)


def cpu_by_process(out: dict[str, Any], setup: str) -> str:
    heads = _op_heads(out["args"])
    labels = [lb for lb in out["usage"].get(f"{setup}: put_small", {})]
    rows = [[lb] + [f"{v:.2f}" if (v := _cpu_ms_per_mib(out, setup, op, {lb})) is not None else "—" for op in OPS]
            for lb in labels]
    return markdown_table([f"{setup}: process"] + [heads[op] for op in OPS], rows)


def memory_table(out: dict[str, Any], no_fsync: bool = False) -> str:
    """One cluster's processes (the fsync round, or the --no-fsync one) and the plain server beside it."""
    phases = [p for p in out["usage"] if p.endswith((": put_large", ": get_large")) and "direct" not in p
              and ("--no-fsync" in p) == no_fsync]
    labels: list[str] = []
    for p in phases:
        labels += [lb for lb in out["usage"][p] if lb not in labels]
    labels.sort(key=lambda lb: (lb == CLIENT, lb != PLAIN, lb))
    rows = []
    for lb in labels:
        every = [uses[lb] for p, uses in out["usage"].items() if lb in uses and ("--no-fsync" in p) == no_fsync]
        start, top = min(u["rss_before"] for u in every), max(u["rss_peak"] for u in every)
        row = [lb, f"{start / MIB:,.0f}"]
        for p in phases:
            u = out["usage"][p].get(lb)
            row.append(f"{u['rss_peak'] / MIB:,.0f} (+{u['growth'] / MIB:,.0f})" if u else "—")
        rows.append(row + [f"{top / MIB:,.0f} (+{max(0, top - start) / MIB:,.0f})"])
    heads = [f"{_short(p.rsplit(': ', 1)[0])}: {p.rsplit(': ', 1)[1].replace('_large', '').upper()} large" for p in phases]
    return markdown_table(["process", "lowest"] + heads + ["highest, whole run"], rows)


def goal(out: dict[str, Any]) -> dict[str, Any]:
    res, a = out["results"], out["args"]
    plain = res.get(PLAIN, {})
    g: dict[str, Any] = {"ratios": {}}  # client -> {"warm": x, "cold": y}: large GET over the plain server's
    for setup, ops in res.items():
        if setup.startswith("ais-ray") and "--no-fsync" not in setup:
            for op, key in (("get_large", "warm"), ("get_large_cold", "cold")):
                if op in ops and op in plain:
                    g["ratios"].setdefault(_short(setup), {})[key] = round(ops[op]["mib_s"] / plain[op]["mib_s"], 3)
    worst = max(((u["growth"], lb, p) for p, uses in out["usage"].items() if p.startswith("ais-ray") and "_large" in p
                 for lb, u in uses.items() if lb not in (CLIENT, PLAIN)), default=(0, "", ""))
    g["max_growth_bytes"], g["max_growth_process"], g["max_growth_phase"] = worst
    g["memory_flat"] = worst[0] < FLAT_FRACTION * a["large_size"]
    g["get_ratio"] = g["ratios"].get("AisClient", {}).get("warm")
    g["get_met"] = (g["get_ratio"] or 0) >= GOAL_GET_RATIO
    return g


# issue 16's goals: (row, op, peer, at least); "(307)" is the redirecting plain server, the fair
# peer of any redirecting design (two requests per object). Each row is compared with a plain
# peer, with the client's own HTTP stack: aiohttp rows against the aiohttp-read plain server, SDK
# rows against the same server read through `requests` on the same threads ("(requests)")
DATA_PATH_GOALS = (
    ("ais-ray (AisClient)", "get_small", PLAIN, 0.75),
    ("ais-ray (SDK)", "get_small", f"{PLAIN} (requests)", 0.75),
    ("ais-ray (AisClient)", "get_small", f"{PLAIN} (307)", 0.95),
    ("ais-ray (SDK)", "get_small", f"{PLAIN} (307, requests)", 0.95),
    ("ais-ray (SDK, direct GET)", "get_small", f"{PLAIN} (requests)", 1.0),
    # the same requests without the SDK's own Python per GET: bare `requests` at the target URL it picks
    ("ais-ray (requests, direct GET)", "get_small", f"{PLAIN} (requests)", 1.0),
    ("ais-ray (AisClient, direct GET)", "get_small", PLAIN, 1.0),
    ("ais-ray (SDK)", "put_small", f"{PLAIN} (requests)", 0.7),
    ("ais-ray (AisClient)", "put_small", PLAIN, 1.0),
    ("ais-ray (AisClient)", "get_large", PLAIN, 0.9),
)


def _spread(rounds: list[float]) -> str:
    return f" [{min(rounds):.2f}–{max(rounds):.2f}]" if len(rounds) > 1 else ""


def data_path_goals(out: dict[str, Any]) -> list[dict[str, Any]]:
    res, heads = out["results"], _op_heads(out["args"])
    rows = []
    for setup, op, peer, want in DATA_PATH_GOALS:
        a, b = res.get(setup, {}).get(op), res.get(peer, {}).get(op)
        x = round(a["mib_s"] / b["mib_s"], 3) if a and b and b["mib_s"] else None
        # run i of every setup ran in the same rotation round: the ratio of each round, for its spread
        ra, rb = (a or {}).get("runs_mib_s") or [], (b or {}).get("runs_mib_s") or []
        per_round = [round(u / v, 3) for u, v in zip(ra, rb) if v] if len(ra) == len(rb) else []
        rows.append({"setup": setup, "op": heads[op], "peer": peer, "goal": want, "ratio": x, "rounds": per_round,
                     "met": x is not None and x >= want})
    return rows


def render(out: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    m, a, g = out["machine"], out["args"], goal(out)
    load = lambda xs: ", ".join(f"{x:.1f}" for x in xs)  # noqa: E731
    lines = [f"{m['date']}; {m['cpus']} cores, {m['mem_gib']} GiB RAM, kernel {m['kernel']}, Python {m['python']}, "
             f"{m['filesystem']}; load average {load(m['loadavg_at_start'])} at start, "
             f"{load(m.get('loadavg_at_end', ()))} at end; concurrency {a['concurrency']}; median of {a['repeat']} runs "
             f"({a['get_large_repeat']} for the warm large GET); fsync on unless a row says --no-fsync; "
             f"{m.get('seconds', '?')} s in all.",
             "", "Throughput (× the plain server):", "", throughput_table(out), ""]
    raw = out["results"].get("disk raw", {}).get("get_small_cold")
    if raw:
        lines += [f"Disk raw, O_DIRECT read of the small files ({a['concurrency']} threads): "
                  f"{raw['obj_s']:,.0f} obj/s, {raw['mib_s']:,.0f} MiB/s.", ""]
    lines += ["CPU milliseconds per MiB moved (= per object for 1 MiB objects), all server processes summed "
              "(the benchmark client in parentheses):", "", cpu_table(out), ""]
    if "ais-ray (AisClient)" in out["results"]:
        lines += ["Where ais-ray's CPU goes (AisClient), ms per MiB:", "", cpu_by_process(out, "ais-ray (AisClient)"), ""]
    lines += ["Peak RSS in MiB: lowest sample, peak during each large PUT/GET (+ growth within it), highest over "
              "the whole run (small objects included):", "", memory_table(out), ""]
    if any("--no-fsync" in p for p in out["usage"]):
        lines += ["The same for the --no-fsync round (a cluster of its own):", "", memory_table(out, no_fsync=True), ""]
    r = g["get_ratio"]
    warm = ", ".join(f"{k} {v['warm']:.2f}×" for k, v in g["ratios"].items() if k != "AisClient" and "warm" in v)
    cold = ", ".join(f"{k} {v['cold']:.2f}×" for k, v in g["ratios"].items() if "cold" in v)
    lines.append(f"Goal: large GET ≥ {GOAL_GET_RATIO}× plain file server — "
                 + (f"{'met' if g['get_met'] else 'NOT met'} ({r:.2f}× with AisClient; {warm}; cold: {cold})."
                    if r is not None else "not measured."))
    lines.append(f"Memory flat (no ais-ray process grows by ≥ {FLAT_FRACTION:g} × {_size(a['large_size'])} within a large "
                 f"PUT/GET): {'yes' if g['memory_flat'] else 'NO'} (largest growth {g['max_growth_bytes'] / MIB:,.0f} MiB: "
                 f"{g['max_growth_process'] or '-'} during {g['max_growth_phase'] or '-'}).")
    g["data_path"] = data_path_goals(out)
    lines += ["", "Issue 16's goals (median runs; in brackets the lowest–highest ratio of one rotation round):", "",
              markdown_table(["setup", "op", "× peer", "goal", "measured", "status"],
                             [[r["setup"], r["op"], _short(r["peer"]), f"≥ {r['goal']}",
                               "—" if r["ratio"] is None else f"{r['ratio']:.2f}×" + _spread(r["rounds"]),
                               "not measured" if r["ratio"] is None else ("met" if r["met"] else "NOT met")]
                              for r in g["data_path"]]), ""]
    lines += [f"Note: {n}" for n in dict.fromkeys(out.get("notes", ()))]
    return "\n".join(lines), g
