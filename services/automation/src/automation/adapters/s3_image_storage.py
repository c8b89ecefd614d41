"""Images in an S3-compatible bucket (AWS S3, MinIO, Ceph, …), the option to the local directory."""

from __future__ import annotations

import asyncio
import uuid

import boto3
from botocore.config import Config


class S3ImageStorage:
    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "images/",
    ) -> None:
        self._bucket = bucket
        self._prefix = prefix
        self._client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or "us-east-1",
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
            ),
        )

    async def save(
        self, account_id: uuid.UUID, site_id: uuid.UUID, image_id: uuid.UUID, png: bytes
    ) -> str:
        key = f"{self._prefix}{account_id}/{site_id}/{image_id}.png"
        await asyncio.to_thread(
            self._client.put_object, Bucket=self._bucket, Key=key, Body=png, ContentType="image/png"
        )
        return key

    async def read(self, key: str) -> bytes:
        answer = await asyncio.to_thread(self._client.get_object, Bucket=self._bucket, Key=key)
        body: bytes = await asyncio.to_thread(answer["Body"].read)
        return body
