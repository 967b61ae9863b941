"""First-party plugins, installed as ``botkit.plugins``."""

if __name__ != "botkit.plugins":
    raise ImportError("import botkit.plugins, not the plugins folder from the repository root")
