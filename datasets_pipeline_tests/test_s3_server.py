"""The S3 server fixture: a real moto server process on 127.0.0.1, reachable by s3fs, gone after the test."""

from __future__ import annotations

import os

import pytest

from datasets_pipeline_tests.servers.s3 import S3Server


def test_s3_server_serves_s3fs_and_stops() -> None:
    with S3Server(bucket="probe") as server:
        pid = server.pid
        assert pid is not None
        import s3fs

        fs = s3fs.S3FileSystem(
            key=server.env["AWS_ACCESS_KEY_ID"],
            secret=server.env["AWS_SECRET_ACCESS_KEY"],
            client_kwargs={"endpoint_url": server.endpoint, "region_name": "us-east-1"},
            skip_instance_cache=True,
        )
        with fs.open("probe/a/b.bin", "wb") as f:
            f.write(b"hello")
        assert fs.cat_file("probe/a/b.bin") == b"hello"
        assert server.keys() == ["a/b.bin"]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_s3_env_sets_aws_variables(s3_env: S3Server) -> None:
    assert os.environ["AWS_ENDPOINT_URL_S3"] == s3_env.endpoint
    assert os.environ["AWS_ENDPOINT_URL"] == s3_env.endpoint
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing-access-key"
    assert s3_env.keys() == []
