"""The text adventure's world and rules, apart from the web: a game is a small dict of state.

Only the player's state is kept (room, inventory, moves, last result); the
world itself is code, so the session stays small.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = ["DIRECTIONS", "ROOMS", "START", "Game", "Outcome", "Room"]

Outcome = Literal["playing", "won", "lost"]
DIRECTIONS: Final = ("north", "south", "east", "west")
MAX_COMMAND_LENGTH: Final = 100


@dataclass(frozen=True, slots=True)
class Room:
    """A room: where its exits lead, the item lying there, whether a monster waits."""

    exits: Mapping[str, str]
    item: str | None = None
    monster: bool = False


ROOMS: Final[Mapping[str, Room]] = {
    "Hall": Room({"south": "Kitchen", "east": "Dining Room"}, item="skeleton key"),
    "Kitchen": Room({"north": "Hall"}, monster=True),
    "Dining Room": Room({"west": "Hall", "south": "Garden"}, item="potion"),
    "Garden": Room({"north": "Dining Room"}),
}
START: Final = "Hall"
EXIT_ROOM: Final = "Garden"
ITEMS: Final = frozenset(room.item for room in ROOMS.values() if room.item)
HELP: Final = (
    "Commands: 'go north', 'go south', 'go east', 'go west', 'get ITEM' (for example "
    "'get potion'), 'help'. Escape through the Garden carrying the skeleton key and the potion."
)


@dataclass(slots=True)
class Game:
    """One player's state: where they are, what they carry, and what just happened."""

    room: str = START
    inventory: list[str] = field(default_factory=list)
    moves: int = 0
    last: str = "You are in the Hall. Type 'help' to see what you can do."

    @property
    def item_here(self) -> str | None:
        """The item lying in the current room, unless the player already took it."""
        item = ROOMS[self.room].item
        return item if item is not None and item not in self.inventory else None

    def to_dict(self) -> dict[str, Any]:
        """The state as it is kept in the session."""
        return {
            "room": self.room,
            "inventory": self.inventory,
            "moves": self.moves,
            "last": self.last,
        }

    @classmethod
    def from_dict(cls, data: object) -> Game | None:
        """Rebuild a game from session data; None if there is none or it does not make sense."""
        if not isinstance(data, dict):
            return None
        room, inventory = data.get("room"), data.get("inventory")
        moves, last = data.get("moves"), data.get("last")
        if (
            not isinstance(room, str)
            or room not in ROOMS
            or not isinstance(inventory, list)
            or not all(item in ITEMS for item in inventory)
            or not isinstance(moves, int)
            or not isinstance(last, str)
        ):
            return None
        return cls(room, list(inventory), moves, last)

    def play(self, command: str) -> Outcome:
        """Carry out one command, set :attr:`last` to what happened, and say how the game stands."""
        words = command.lower().split()
        if not words:
            self.last = "Type a command, or 'help'."
            return "playing"
        if len(command) > MAX_COMMAND_LENGTH:
            self.last = "That command is too long."
            return "playing"
        self.moves += 1
        verb, target = words[0], " ".join(words[1:])
        if verb == "go":
            return self._go(target)
        if verb == "get":
            self._get(target)
        elif verb == "help":
            self.last = HELP
        else:
            self.last = f"I don't understand {command.strip()!r}. Type 'help'."
        return "playing"

    def _go(self, direction: str) -> Outcome:
        if not direction:
            self.last = "Go where? Say 'go north', 'go south', 'go east' or 'go west'."
            return "playing"
        if direction not in DIRECTIONS:
            self.last = f"{direction!r} is not a direction: try north, south, east or west."
            return "playing"
        destination = ROOMS[self.room].exits.get(direction)
        if destination is None:
            self.last = f"You can't go {direction} from the {self.room}."
            return "playing"
        self.room = destination
        if ROOMS[destination].monster:
            self.last = f"A monster was waiting in the {destination}. It got you!"
            return "lost"
        if destination == EXIT_ROOM and set(self.inventory) >= ITEMS:
            self.last = "You escaped through the Garden with the skeleton key and the potion!"
            return "won"
        self.last = f"You go {direction} into the {destination}."
        if destination == EXIT_ROOM:
            self.last += " The gate is locked: you need the skeleton key and the potion."
        return "playing"

    def _get(self, wanted: str) -> None:
        item = self.item_here
        if not wanted:
            self.last = "Get what?"
        elif item is not None and wanted in (item, item.split()[-1]):
            self.inventory.append(item)
            self.last = f"You picked up the {item}."
        else:
            self.last = f"There is no {wanted} here."
