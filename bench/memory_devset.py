"""Builds bench/data/memory-dev.json: the memory eval's small hand-written dev set.

Each conversation mixes facts into harbour-town chatter spread over weeks; questions ask
for the facts, some in other words than the fact used, some needing two turns.
Run ``python bench/memory_devset.py`` to rebuild the file (deterministic).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

OUT = Path(__file__).parent / "data" / "memory-dev.json"

CHATTER = [
    "Fog again this morning, you could not see the pier.",
    "The herring came in thin this week.",
    "Did anyone hear the bell ring at midnight?",
    "The stew at the Salt Lantern was too salty yesterday.",
    "I think the mayor is hiding something about the harbour tax.",
    "Ha, that's what you said last time too.",
    "The gulls stole my bread again.",
    "Someone painted the chapel door blue overnight.",
    "My boots are still wet from the storm.",
    "Is the night market open on rainy days?",
    "The tide tables are wrong this month, mark my words.",
    "I could sleep for a week after that shift.",
    "Old Hessa's cat is sitting on the well again.",
    "The new ferry is faster but nobody likes the captain.",
    "Let's not talk about the broken pier, please.",
    "Who keeps moving the lobster pots?",
    "The blacksmith's apprentice burnt his hand this morning.",
    "We need more lamp oil before winter.",
    "That song at the inn has been stuck in my head all day.",
    "I lost at dice again, never playing with sailors.",
]

# (speaker, fact) lists and (question, indexes of the facts that answer it).
CONVERSATIONS = [
    {
        "id": "salt-lantern",
        "speakers": ["Ann", "Tom", "Mira", "Bram"],
        "facts": [
            ("Ann", "My sister Alva keeps bees on Thornback Hill."),
            ("Tom", "I was born in Vellhaven, the town with the red cliffs."),
            ("Mira", "The inn's cellar door sticks unless you lift it as you pull."),
            ("Bram", "My boat, the Grey Heron, has a patched sail from the 1998 storm."),
            ("Ann", "I'm allergic to shellfish, one mussel and I swell up."),
            ("Tom", "I owe the ferryman Oskar three silver crowns."),
            ("Mira", "Alva promised to bring honey for the winter feast."),
            ("Bram", "The key to the boathouse hangs behind the barometer."),
        ],
        "questions": [
            ("Where does Ann's sister keep her bees?", [0]),
            ("What is Tom's hometown?", [1]),
            ("How do you open the cellar door that jams?", [2]),
            ("What is the name of Bram's boat?", [3]),
            ("What food can Ann not eat?", [4]),
            ("How much money does Tom owe and to whom?", [5]),
            ("Who is bringing honey for the feast and where does she live?", [6, 0]),
            ("Where is the boathouse key kept?", [7]),
        ],
    },
    {
        "id": "cartographers",
        "speakers": ["Wren", "Ilse", "Perrin", "Nell"],
        "facts": [
            ("Wren", "The cave under Gull Point floods twice a day at high tide."),
            ("Ilse", "My daughter turns seven on the fourteenth of March."),
            ("Perrin", "I repair fishing nets at Gullwick for a living."),
            ("Nell", "The old map in the chapel shows a tunnel to the lighthouse."),
            ("Wren", "I lost my brass compass somewhere near the salt marsh."),
            ("Ilse", "Our family recipe for fish pie uses smoked eel and dill."),
            ("Perrin", "My cousin Ilse taught me to read the stars."),
            ("Nell", "The lighthouse keeper vanished on the night of the eclipse."),
        ],
        "questions": [
            ("When is it dangerous to go into the cave at Gull Point?", [0]),
            ("When is Ilse's daughter's birthday?", [1]),
            ("What does Perrin do for work?", [2]),
            ("Is there a secret passage to the lighthouse?", [3]),
            ("What did Wren misplace?", [4]),
            ("What goes into Ilse's fish pie?", [5]),
            ("Who taught Perrin astronomy?", [6]),
            ("When did the lighthouse keeper disappear?", [7]),
        ],
    },
    {
        "id": "smugglers",
        "speakers": ["Jory", "Mira", "Kestrel", "Bram"],
        "facts": [
            ("Jory", "The smugglers signal with three green lanterns from the north cliff."),
            ("Kestrel", "I hid the ledger inside the hollow figurehead of the wreck."),
            ("Mira", "The customs captain, Halvard, drinks here every Thursday."),
            ("Bram", "The tunnel entrance is behind the third barrel in my shed."),
            ("Jory", "My real name is Joryn Ashcombe, but don't spread it."),
            ("Kestrel", "The next shipment arrives on the new moon, after midnight."),
            ("Mira", "Halvard is terrified of dogs since one bit him as a boy."),
            ("Bram", "I sold my old rowboat to a woman called Sefa last spring."),
        ],
        "questions": [
            ("How do the smugglers send signals?", [0]),
            ("Where is the ledger hidden?", [1]),
            ("Which day does the customs officer come to the inn?", [2]),
            ("Where does the tunnel start?", [3]),
            ("What is Jory's full name?", [4]),
            ("When will the next cargo come in?", [5]),
            ("What is the customs captain afraid of and when can he be found here?", [6, 2]),
            ("Who bought Bram's rowboat?", [7]),
        ],
    },
    {
        "id": "festival",
        "speakers": ["Nell", "Tom", "Ilse", "Wren"],
        "facts": [
            ("Nell", "The lantern festival starts at dusk on the first day of autumn."),
            ("Tom", "I'm building a paper whale lantern, twelve feet long."),
            ("Ilse", "The choir practises in the boathouse on Tuesday evenings."),
            ("Wren", "I painted the festival banner with crushed sea-glass blue."),
            ("Nell", "Last year's prize went to the Marrow twins for their crab lantern."),
            ("Tom", "My grandmother Betje judged the lantern contest for forty years."),
            ("Ilse", "The fireworks are stored in the dry cellar under the town hall."),
            ("Wren", "I am afraid of heights, so someone else must hang the banner."),
        ],
        "questions": [
            ("When does the festival begin?", [0]),
            ("What is Tom making for the festival?", [1]),
            ("Where and when does the choir rehearse?", [2]),
            ("How did Wren colour the banner?", [3]),
            ("Who won the contest last year?", [4]),
            ("Who used to be the judge, and for how long?", [5]),
            ("Where are the fireworks kept?", [6]),
            ("Why won't Wren put up the banner herself?", [7]),
        ],
    },
]


def build() -> dict[str, object]:
    """The dev set as a JSON-ready mapping."""
    rng = random.Random(20261122)
    conversations = []
    for spec in CONVERSATIONS:
        start = datetime(2026, 8, 1, 18, 0, tzinfo=UTC)
        lines: list[tuple[str, str]] = [
            (rng.choice(spec["speakers"]), rng.choice(CHATTER)) for _ in range(96)
        ]
        slots = sorted(rng.sample(range(len(lines)), len(spec["facts"])))
        fact_ids = []
        for slot, fact in zip(slots, spec["facts"], strict=True):
            lines.insert(slot + len(fact_ids), fact)
            fact_ids.append(slot + len(fact_ids))
        turns = []
        for n, (speaker, text) in enumerate(lines):
            time = start + timedelta(hours=9 * n)
            turns.append(
                {"id": f"t{n}", "speaker": speaker, "text": text, "time": time.isoformat()}
            )
        questions = [
            {"question": question, "evidence": [f"t{fact_ids[i]}" for i in evidence]}
            for question, evidence in spec["questions"]
        ]
        conversations.append({"id": spec["id"], "turns": turns, "questions": questions})
    return {"conversations": conversations}


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(build(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
