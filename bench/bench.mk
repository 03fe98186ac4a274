# `make bench`: the three services as real processes under load, one table (bench/README.md).
# Included by the top Makefile, which defines `install`.
PY ?= .venv/bin/python
BENCH_ARGS ?=

.PHONY: bench bench-profile bench-wrk

bench-wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" != 0 ]; then echo "bench: wrk is missing: apt-get install wrk (as root)" >&2; exit 1; fi; \
	  echo "bench: installing wrk (Debian's package)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }

bench: install bench-wrk ## Load-test the services as processes: ingest, sustained, e2e, pipeline, fan-out (< 11 min)
	ulimit -n 65536 2>/dev/null || ulimit -n "$$(ulimit -Hn)"; $(PY) -m bench.run $(BENCH_ARGS)

bench-profile: install bench-wrk ## py-spy flame graphs of the services during ingest and pipeline
	@$(PY) -c 'import shutil, sys; sys.exit(shutil.which("py-spy", path=sys.argv[1]) is None)' "$(dir $(PY))" \
	  || $(UV) pip install --quiet --python $(PY) py-spy
	ulimit -n 65536 2>/dev/null || ulimit -n "$$(ulimit -Hn)"; \
	  $(PY) -m bench.run --profile --only ingest,pipeline --pipeline-workers 1 $(BENCH_ARGS)
