"""Static-folder integrations are confined to `<root>/<account>/…`: another tenant's exports are
unreachable whatever `folder` says (relative climbs, absolute paths, symlinks)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from igny8.net import UrlGuard
from integration.adapters.platform_connectors import PlatformConnectors
from integration.domain.model import Integration, Platform
from integration.ports import PlatformUnavailable

A, B = uuid.uuid4(), uuid.uuid4()


def static(account: uuid.UUID, folder: str) -> Integration:
    return Integration(
        integration_id=uuid.uuid4(),
        site_id=uuid.uuid4(),
        account_id=account,
        platform=Platform.STATIC,
        base_url="https://s.example",
        settings={"folder": folder},
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    exports = tmp_path / str(A) / "exports"
    exports.mkdir(parents=True)
    (exports / "secret-plan.md").write_text("# A's article")
    (tmp_path / str(B) / "exports").mkdir(parents=True)
    (tmp_path / str(B) / "exports" / "mine.md").write_text("# B's article")
    return tmp_path


@pytest.fixture
def connectors(root: Path) -> PlatformConnectors:
    return PlatformConnectors(UrlGuard(), root)


async def test_a_folder_is_read_below_its_own_accounts_folder(connectors):
    items = await connectors.inventory(static(B, "exports"), {})
    assert [i.remote_id for i in items] == ["mine.md"]
    assert (await connectors.test(static(B, "exports"), {})).success


@pytest.mark.parametrize(
    "folder",
    [
        f"{A}/exports",  # another account's folder named from the root
        f"../{A}/exports",
        "../../etc",
        "/etc",
    ],
)
async def test_another_accounts_exports_are_unreachable(connectors, root, folder):
    check = await connectors.test(static(B, folder.replace("/etc", str(root / str(A)))), {})
    assert not check.success
    with pytest.raises(PlatformUnavailable):
        await connectors.inventory(static(B, folder.replace("/etc", str(root / str(A)))), {})


async def test_symlinks_out_of_the_account_folder_are_refused_or_skipped(connectors, root):
    (root / str(B) / "link").symlink_to(root / str(A) / "exports", target_is_directory=True)
    assert not (await connectors.test(static(B, "link"), {})).success
    (root / str(B) / "exports" / "stolen.md").symlink_to(
        root / str(A) / "exports" / "secret-plan.md"
    )
    items = await connectors.inventory(static(B, "exports"), {})
    assert [i.remote_id for i in items] == ["mine.md"]
