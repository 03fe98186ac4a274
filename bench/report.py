"""The table: one row per scenario, the per-order CPU behind it, and what machine it was measured on."""

from __future__ import annotations

import os
import platform
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


def _cell(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _services(usage: dict[str, Any]) -> dict[str, tuple[float, float, int]]:
    """Per service: CPU seconds summed over its processes, the largest peak RSS, how many processes."""
    out: dict[str, tuple[float, float, int]] = {}
    for proc in usage.get("processes", []):
        cpu, rss, n = out.get(proc["service"], (0.0, 0.0, 0))
        out[proc["service"]] = (cpu + proc["cpu_s"], max(rss, proc["peak_rss_mb"]), n + 1)
    return out


HEADER = (
    "scenario", "setting", "throughput", "p50 ms", "p99 ms",
    "cpu api", "cpu wkr", "cpu ntf", "cpu pg", "cpu mq", "cpu load", "cpu other", "host busy",
    "rss api", "rss wkr", "rss ntf",
)  # fmt: skip
LEGEND = (
    "cpu: CPU seconds while the scenario ran (utime+stime from /proc/<pid>/stat) of the api, the worker(s), "
    "the notifier, Postgres (server + this scenario's backends), RabbitMQ, the load generator (wrk or "
    "bench.loadgen), and everything else on the host; host busy: both cores together. rss: peak RSS "
    "(VmHWM) in MiB. (xN): N processes, CPU summed, RSS the largest."
)


def table_rows(results: list[Result]) -> list[tuple[str, ...]]:
    """The table's rows as text cells."""
    rows: list[tuple[str, ...]] = []
    for r in results:
        svc = _services(r.usage)

        def cpu(name: str, svc: dict[str, tuple[float, float, int]] = svc) -> str:
            c, _, n = svc.get(name, (0.0, 0.0, 0))
            return "—" if n == 0 else f"{c:.1f}" + (f" (x{n})" if n > 1 else "")

        def rss(name: str, svc: dict[str, tuple[float, float, int]] = svc) -> str:
            _, m, n = svc.get(name, (0.0, 0.0, 0))
            return "—" if n == 0 else f"{m:.0f}"

        infra = r.usage.get("infra_cpu_s", {})
        rows.append(
            (
                r.scenario,
                r.setting,
                f"{_cell(r.throughput)} {r.unit}" if r.throughput is not None else "—",
                _cell(r.p50_ms),
                _cell(r.p99_ms),
                cpu("api"),
                cpu("worker"),
                cpu("notifier"),
                _cell(infra.get("postgres")),
                _cell(infra.get("rabbitmq")),
                _cell(r.usage.get("load_cpu_s")),
                _cell(r.usage.get("other_cpu_s")),
                f"{r.usage['host_busy_pct']:.0f}%" if "host_busy_pct" in r.usage else "—",
                rss("api"),
                rss("worker"),
                rss("notifier"),
            )
        )
    return rows


def render_table(results: list[Result]) -> str:
    """The results as a Markdown table (readable in a terminal and pasteable into the README)."""
    rows = [HEADER, *table_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    notes = [f"- {r.scenario} ({r.setting}): {r.notes}" for r in results if r.notes]
    return "\n".join([*lines, "", LEGEND, "", *notes])


def per_order(usage: dict[str, Any], orders: int) -> dict[str, float]:
    """CPU milliseconds per order of each service and of Postgres and RabbitMQ: robust to a busy host."""
    if orders <= 0:
        return {}
    cpu = {name: c for name, (c, _, _) in _services(usage).items()}
    cpu.update(usage.get("infra_cpu_s", {}))
    return {name: round(1000 * c / orders, 2) for name, c in cpu.items()}


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
