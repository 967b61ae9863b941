"""Offline evaluations of botkit's parts on datasets (``botkit eval ...``)."""
