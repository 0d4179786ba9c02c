# tare's scheduler in a container (docker-compose.yml's `tare` service): Debian 12 with what
# scripts/bootstrap.sh installs (nginx, h2load, nftables, collectd, the Python venv). The lab
# needs the host's kernel features: run it privileged with the host's network and cgroups.
FROM debian:12
WORKDIR /opt/tare
COPY . /opt/tare
RUN scripts/bootstrap.sh
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/tare/.venv/bin/tare"]
CMD ["schedule", "examples/nightly.toml", "--fail-on-regression", "--junit", "var/nightly/junit.xml"]
