"""English words too common to tell one text from another."""

from __future__ import annotations

__all__ = ["STOP_WORDS"]

STOP_WORDS = frozenset(
    "a about above after again against all also am an and any anybody anyone anything are "
    "around as at away back be because been before being below between both but by can "
    "come could did do does doing done down during each else even ever every everybody "
    "everyone everything few for from further get gets getting give go goes going gone good "
    "got great guys had has have having he hear her here hers herself him himself his how i "
    "if in into is it its itself just know let like look lol made make many maybe me might "
    "more most much must my myself need never new nice no nobody none nor not nothing now "
    "of off oh ok okay on once one only or other our ours out over own please pretty put "
    "quite rather really right said same say says see seem she should so some somebody "
    "someone something still such sure take tell than thank thanks that the their theirs "
    "them then there these they thing things think this those though through to too "
    "under until up upon us very want wants was way we well went were what when where "
    "whether which while who whom whose why will with would yeah yes yet you your yours "
    "yourself yourselves hey hi hello hmm haha folks lot".split()
)
"""Function words, pronouns, fillers and greetings, lower case."""
