"""Platform adapters, installed as ``botkit.adapters``."""

if __name__ != "botkit.adapters":
    raise ImportError("import botkit.adapters, not the adapters folder from the repository root")
