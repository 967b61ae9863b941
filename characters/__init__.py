"""Character packs shipped with botkit, installed as ``botkit.packs``."""
