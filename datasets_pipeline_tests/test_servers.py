"""The Redis and PostgreSQL test servers: real binaries on 127.0.0.1 that leave nothing behind."""

from __future__ import annotations

import psutil
import pytest

from datasets_pipeline_tests.servers.postgres import PostgresServer, find_postgres_bin
from datasets_pipeline_tests.servers.redis import RedisServer, find_redis_server


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.skipif(find_redis_server() is None, reason="redis-server is not installed (scripts/install_servers.sh)")
def test_redis_server_answers_and_leaves_nothing_behind():
    import redis

    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        assert client.set("k", b"v") and client.get("k") == b"v"
        info = client.info("server")
        pid, folder = server.pid, server.folder
        assert info["process_id"] == pid and info["tcp_port"] == server.port
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert psutil.Process(pid).cwd() == str(folder)
    assert _gone(pid) and not folder.exists()


@pytest.mark.skipif(find_postgres_bin() is None, reason="PostgreSQL is not installed (scripts/install_servers.sh)")
def test_postgres_server_answers_and_leaves_nothing_behind():
    import psycopg2

    with PostgresServer() as server:
        conn = psycopg2.connect(server.url)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT current_database(), current_user, inet_server_port(), pg_backend_pid()")
                database, user, port, backend = cursor.fetchone()
        finally:
            conn.close()
        assert (database, user, port) == ("dagster", "dagster", server.port)
        postmaster, folder = server.pid, server.folder
        children = {p.pid for p in psutil.Process(postmaster).children()}
        assert len(children) >= 3  # checkpointer, background writer, WAL writer, ...
        assert server.dagster_url.startswith("postgresql+psycopg2://dagster@127.0.0.1:")
    assert _gone(postmaster) and all(_gone(pid) for pid in children | {backend})
    assert not folder.exists()
