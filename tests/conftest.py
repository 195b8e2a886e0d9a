"""Shared test setup: the llmproc test kit's fixtures (`fake_llm`) and its no-network guard;
`pytester` for tests of pytest plugins."""

pytest_plugins = ["llmproc.testing.pytest_plugin", "pytester"]
