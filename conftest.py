import pytest

pytest_plugins = ["igny8.testing"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the session's `finished_stack` run last. That stack stays up until the session
    ends, and its services consume the same topics, in the same consumer groups, as any other
    whole-stack test's: started next to one, it takes that test's messages."""
    items.sort(key=lambda item: "finished_stack" in getattr(item, "fixturenames", ()))
