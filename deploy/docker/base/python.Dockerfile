# The Python base of the air-gapped path (`make base-image`): Debian's python3 on a Debian root
# filesystem that mmdebstrap made from Debian packages and `docker import` loaded (DEBIAN_IMAGE).
# Nothing is pulled from a registry: apt downloads from the Debian mirror the rootfs was made from.
#
# Shaped like the official python:*-slim image where deploy/docker/Dockerfile relies on it:
#   /usr/local/bin/python3 and python (UV_PYTHON names the first, HEALTHCHECKs run `python`),
#   pip usable as root for `pip install uv` (Debian's EXTERNALLY-MANAGED marker removed, as the
#   official image has none), ca-certificates, netbase and tzdata, LANG=C.UTF-8, CMD python3.
# The Python version is the suite's: 3.11 in bookworm, 3.13 in trixie (no Debian release has 3.12).
ARG DEBIAN_IMAGE=order-engine-debian:bookworm
FROM ${DEBIAN_IMAGE}

ENV LANG=C.UTF-8

# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       python3 python3-pip ca-certificates netbase tzdata \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
    && ln -s /usr/bin/python3 /usr/local/bin/python3 \
    && ln -s /usr/bin/python3 /usr/local/bin/python \
    && ln -s /usr/bin/pip3 /usr/local/bin/pip \
    && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED \
    && python3 --version

CMD ["python3"]
