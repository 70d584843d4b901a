# Sourced by scripts/test: a throw-away PostgreSQL server for the run, on a free port.
# Exports TEST_POSTGRES_URL (not SLSKDN_*: the config loader rejects unknown SLSKDN_ names); the server and its data are removed on exit.

start_test_postgres() {
    if [ "${TEST_NO_POSTGRES:-}" = "1" ]; then
        echo "slskdn: TEST_NO_POSTGRES=1, PostgreSQL tests will be skipped" >&2
        return 0
    fi
    local bindir
    bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
    if [ -z "$bindir" ]; then
        echo "slskdn: PostgreSQL is not installed (apt-get install postgresql)" >&2
        exit 1
    fi
    PG_DIR="$(mktemp -d /tmp/slskdn-pg.XXXXXX)"
    local port
    port="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    local run=()
    if [ "$(id -u)" -eq 0 ]; then
        # PostgreSQL refuses to run as root: use the postgres account the package made.
        chown postgres "$PG_DIR"
        run=(runuser -u postgres --)
    fi
    (cd / && "${run[@]}" "$bindir/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null)
    "${run[@]}" "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off -c max_connections=200" \
        start >/dev/null
    PG_STOP=("${run[@]}" "$bindir/pg_ctl" -D "$PG_DIR/data" -m immediate stop)
    trap 'stop_test_postgres' EXIT
    export TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/postgres"
    echo "slskdn: PostgreSQL test server on 127.0.0.1:$port" >&2
}

stop_test_postgres() {
    "${PG_STOP[@]}" >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
}
