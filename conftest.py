pytest_plugins = ["igny8.testing"]
