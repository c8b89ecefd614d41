"""The S3-compatible image storage against a local S3 server (moto's standalone server, real HTTP)."""

from __future__ import annotations

import boto3
import pytest
from moto.server import ThreadedMotoServer

from automation.adapters.s3_image_storage import S3ImageStorage
from automation.bootstrap import image_storage_from
from automation.config import AutomationSettings
from automation.devai.png import render_png
from igny8.testing import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="igny8-images")
    yield endpoint
    server.stop()


async def test_images_round_trip_through_an_s3_compatible_bucket(s3_endpoint):
    storage = S3ImageStorage(
        "igny8-images", s3_endpoint, "us-east-1", "test", "test", prefix="runs/"
    )
    png = render_png("a kettle", 16, 16)
    key = await storage.save("acct", "site", "img-1", png)
    assert key == "runs/acct/site/img-1.png"
    assert await storage.read(key) == png
    with pytest.raises(Exception, match="NoSuchKey"):
        await storage.read("runs/acct/site/missing.png")


def test_settings_choose_the_storage(s3_endpoint, tmp_path):
    s3 = image_storage_from(
        AutomationSettings(
            image_storage="s3",
            s3_bucket="igny8-images",
            s3_endpoint_url=s3_endpoint,
            s3_access_key_id="test",
            s3_secret_access_key="test",
        )
    )
    assert isinstance(s3, S3ImageStorage)
    local = image_storage_from(AutomationSettings(image_root=tmp_path))
    assert type(local).__name__ == "LocalImageStorage"
