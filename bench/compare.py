"""`--compare <rev>`: the services of another revision, built in a git worktree with a virtualenv of its own.

The bench code that drives and measures both sides is the current tree's; only the services (and the
migrations and API-key command that make their database) come from the revision.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from bench.scenarios import say
from bench.stack import BIN, ROOT, Tree


def git(*args: str, cwd: Path = ROOT) -> str:
    """A git command's stdout, stripped; raises on failure."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def resolve(rev: str) -> str:
    """The full hash of the commit ``rev`` names; RuntimeError if none."""
    return git("rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}")


def describe(commit: str) -> str:
    """``<short hash> "<subject>"`` of a commit."""
    return git("log", "-1", '--format=%h "%s"', commit)


def current_tree() -> tuple[Tree, str]:
    """The current tree as the "new" side, and a description: its HEAD and whether the services' sources
    (anything outside bench/) differ from it."""
    head = git("rev-parse", "HEAD")
    changed = [ln for ln in git("status", "--porcelain", "--", ".", ":(exclude)bench").splitlines() if ln]
    text = f"working tree at {describe(head)}" + (
        f" + uncommitted changes in {len(changed)} file{'s' if len(changed) != 1 else ''} outside bench/"
        if changed
        else ""
    )
    return Tree("new", ROOT, BIN, head), text


def _uv() -> str:
    local = ROOT / ".tools" / "uv" / "bin" / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if found is None:
        raise RuntimeError("uv not found: run `make install` first (it installs .tools/uv)")
    return found


@contextlib.contextmanager
def worktree(rev: str, log_dir: Path) -> Iterator[tuple[Tree, str]]:
    """Check ``rev`` out into a temporary git worktree, give it a virtualenv made by uv from its lockfile,
    yield it as the "old" side (and a description); remove it all afterwards, whatever happened."""
    commit = resolve(rev)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", rev).strip("-") or "rev"
    path = Path(tempfile.gettempdir()) / f"orders-bench-compare-{safe}-{uuid.uuid4().hex[:6]}"
    named = describe(commit) if commit.startswith(rev) else f"{rev} = {describe(commit)}"
    say(f"compare: {named}: worktree {path}")
    git("worktree", "add", "--detach", str(path), commit)
    try:
        venv = path / ".venv"
        # The interpreter of the bench's own virtualenv, so both sides run on the same Python.
        python = str(Path(sys.executable).resolve())
        say(f"compare: uv sync --frozen --no-dev --python {python} (log {log_dir / 'compare-uv.log'})")
        with (log_dir / "compare-uv.log").open("wb") as log:
            subprocess.run(
                [_uv(), "sync", "--frozen", "--no-dev", "--python", python],
                cwd=path,
                env={
                    **os.environ,
                    "UV_PROJECT_ENVIRONMENT": str(venv),
                    "UV_PYTHON_DOWNLOADS": "never",
                    "VIRTUAL_ENV": str(venv),
                },
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=900,
            )
        yield Tree("old", path, venv / "bin", commit), named
    finally:
        _remove(path)


def _remove(path: Path) -> None:
    """Remove the worktree (its virtualenv is untracked, hence --force); if git cannot, delete and prune."""
    try:
        git("worktree", "remove", "--force", str(path))
    except (RuntimeError, OSError, subprocess.SubprocessError):
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(RuntimeError, OSError, subprocess.SubprocessError):
            git("worktree", "prune")
    if path.exists():
        sys.stderr.write(f"bench: could not remove the worktree {path}\n")
