"""The table: one row per scenario, the per-order CPU behind it, and what machine it was measured on."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    """One row of the table, with everything measured behind it."""

    scenario: str
    setting: str
    throughput: float | None
    unit: str
    p50_ms: float | None
    p99_ms: float | None
    usage: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    ok: bool = True  # False: an order failed or got lost, a request errored, or the run timed out
    name: str = ""  # the run's name in the plan: "ingest-16", "pipeline-2w", …
    side: str = ""  # with --compare: "old" or "new"


def _cell(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _services(usage: dict[str, Any]) -> dict[str, tuple[float, float, int]]:
    """Per service: CPU seconds summed over its processes, the largest peak RSS, how many processes."""
    out: dict[str, tuple[float, float, int]] = {}
    for proc in usage.get("processes", []):
        cpu, rss, n = out.get(proc["service"], (0.0, 0.0, 0))
        out[proc["service"]] = (cpu + proc["cpu_s"], max(rss, proc["peak_rss_mb"]), n + 1)
    return out


# The processes whose CPU per order the table shows, and their columns; "total" is their sum.
COST_PROCESSES = ("api", "worker", "notifier", "postgres", "rabbitmq")
COST_HEADER = ("ms/order api", "wkr", "ntf", "pg", "mq", "total")
HEADER = (
    "scenario", "setting", "throughput", "p50 ms", "p99 ms", *COST_HEADER,
    "load cpu s", "other cpu s", "host busy", "rss MiB api/wkr/ntf",
)  # fmt: skip
LEGEND = (
    "ms/order: CPU milliseconds per order (utime+stime from /proc/<pid>/stat while the scenario ran, divided "
    "by the orders it carried: committed for ingest and sustained, accepted for e2e and pipeline, sockets "
    "for fanout) of the api, the worker(s), the notifier, Postgres (server + this scenario's backends) and "
    "RabbitMQ; total: those five together. load cpu s, other cpu s: CPU seconds of the load generator (wrk "
    "or bench.loadgen) and of everything else on the host (large: the run was disturbed); host busy: both "
    "cores together. rss: peak RSS (VmHWM) in MiB. (xN): N processes, CPU summed, RSS the largest. Each "
    "process's CPU seconds are in the notes."
)


def costs(r: Result) -> dict[str, float]:
    """CPU milliseconds per order of each process of ``r``, and their total."""
    found: dict[str, float] = r.detail.get("cpu_ms_per_order") or {}
    return found


def _cost_cells(r: Result) -> tuple[str, ...]:
    ms = costs(r)
    workers = _services(r.usage).get("worker", (0.0, 0.0, 0))[2]
    cells = []
    for name in (*COST_PROCESSES, "total"):
        value = ms.get(name)
        cell = "—" if value is None else f"{value:.2f}"
        if name == "worker" and workers > 1 and value is not None:
            cell += f" (x{workers})"
        cells.append(cell)
    return tuple(cells)


def _cpu_seconds_note(r: Result) -> str:
    svc = _services(r.usage)
    parts = [f"{name} {c:.1f}" + (f" (x{n})" if n > 1 else "") for name, (c, _, n) in svc.items()]
    parts += [f"{name} {c:.1f}" for name, c in r.usage.get("infra_cpu_s", {}).items()]
    if "load_cpu_s" in r.usage:
        parts.append(f"load {r.usage['load_cpu_s']:.1f}")
    if "other_cpu_s" in r.usage:
        parts.append(f"other {r.usage['other_cpu_s']:.1f}")
    return ("CPU s " + ", ".join(parts)) if parts else ""


def _label(r: Result) -> str:
    return f"{r.scenario} ({r.side})" if r.side else r.scenario


def table_rows(results: list[Result]) -> list[tuple[str, ...]]:
    """The table's rows as text cells."""
    rows: list[tuple[str, ...]] = []
    for r in results:
        svc = _services(r.usage)
        rss = "/".join(
            f"{svc[name][1]:.0f}" if name in svc else "—" for name in ("api", "worker", "notifier")
        )
        rows.append(
            (
                _label(r),
                r.setting,
                f"{_cell(r.throughput)} {r.unit}" if r.throughput is not None else "—",
                _cell(r.p50_ms),
                _cell(r.p99_ms),
                *_cost_cells(r),
                _cell(r.usage.get("load_cpu_s")),
                _cell(r.usage.get("other_cpu_s")),
                f"{r.usage['host_busy_pct']:.0f}%" if "host_busy_pct" in r.usage else "—",
                rss if svc else "—",
            )
        )
    return rows


def _markdown(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return lines


def render_table(results: list[Result]) -> str:
    """The results as a Markdown table (readable in a terminal and pasteable into the README)."""
    notes = []
    for r in results:
        text = "; ".join(t for t in (r.notes, _cpu_seconds_note(r)) if t)
        if text:
            notes.append(f"- {_label(r)} ({r.setting}): {text}")
    return "\n".join([*_markdown([HEADER, *table_rows(results)]), "", LEGEND, "", *notes])


def per_order(usage: dict[str, Any], orders: int) -> dict[str, float]:
    """CPU milliseconds per order of each service and of Postgres and RabbitMQ, and of all of them together
    (``total``, without the load generator and the rest of the host): robust to a busy host."""
    if orders <= 0:
        return {}
    cpu = {name: c for name, (c, _, _) in _services(usage).items()}
    cpu.update(usage.get("infra_cpu_s", {}))
    out = {name: round(1000 * c / orders, 2) for name, c in cpu.items()}
    out["total"] = round(1000 * sum(c for name, c in cpu.items() if name in COST_PROCESSES) / orders, 2)
    return out


# --- --compare -----------------------------------------------------------------------------------------


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 2) if present else None


def _ratio(new: float | None, old: float | None) -> float | None:
    return round(new / old, 2) if new is not None and old else None


def _side_summary(runs: list[Result]) -> dict[str, Any]:
    measured = [r for r in runs if r.throughput is not None]
    return {
        "runs": len(runs),
        "not_clean": sum(not r.ok for r in runs),
        "unit": runs[0].unit if runs else "",
        "throughput": _median([r.throughput for r in measured]),
        "p50_ms": _median([r.p50_ms for r in measured]),
        "p99_ms": _median([r.p99_ms for r in measured]),
        "cpu_ms_per_order": {
            name: _median([costs(r).get(name) for r in measured]) for name in (*COST_PROCESSES, "total")
        },
    }


def compare_summary(results: list[Result]) -> list[dict[str, Any]]:
    """Per run name, in the order first run: each side's medians over its runs, and new/old."""
    names = list(dict.fromkeys(r.name for r in results))
    out = []
    for name in names:
        old = _side_summary([r for r in results if r.name == name and r.side == "old"])
        new = _side_summary([r for r in results if r.name == name and r.side == "new"])
        ratio = {key: _ratio(new[key], old[key]) for key in ("throughput", "p50_ms", "p99_ms")} | {
            "cpu_ms_per_order_total": _ratio(
                new["cpu_ms_per_order"]["total"], old["cpu_ms_per_order"]["total"]
            )
        }
        out.append({"name": name, "old": old, "new": new, "ratio_new_old": ratio})
    return out


COMPARE_HEADER = ("scenario", "side", "runs", "throughput", "p50 ms", "p99 ms", *COST_HEADER)


def render_compare(summary: list[dict[str, Any]], title: str) -> str:
    """The comparison as a Markdown table under ``title``: old, new and new/old for every run name."""
    rows: list[tuple[str, ...]] = [COMPARE_HEADER]
    for entry in summary:
        for side in ("old", "new"):
            s = entry[side]
            runs = str(s["runs"]) + (f" ({s['not_clean']} not clean)" if s["not_clean"] else "")
            rows.append(
                (
                    entry["name"] if side == "old" else "",
                    side,
                    runs,
                    f"{_cell(s['throughput'])} {s['unit']}" if s["throughput"] is not None else "—",
                    _cell(s["p50_ms"]),
                    _cell(s["p99_ms"]),
                    *(_cell(s["cpu_ms_per_order"][n], 2) for n in (*COST_PROCESSES, "total")),
                )
            )
        ratio = entry["ratio_new_old"]
        rows.append(
            (
                "",
                "new/old",
                "",
                _cell(ratio["throughput"], 2),
                _cell(ratio["p50_ms"], 2),
                _cell(ratio["p99_ms"], 2),
                *([""] * len(COST_PROCESSES)),
                _cell(ratio["cpu_ms_per_order_total"], 2),
            )
        )
    legend = (
        "Each side's number is the median over its runs; ms/order as in the table above. new/old above 1 "
        "is better for throughput and worse for latency and CPU per order."
    )
    return "\n".join([title, "", *_markdown(rows), "", legend])


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu_model = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
         if ln.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": commit.stdout.strip() or None,
        "load_average_at_start": os.getloadavg(),
    }
