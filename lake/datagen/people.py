"""Small, seeded pools of Brazilian people, agents and states built with Faker (pt_BR).

Rows at scale are never built one by one with Faker: the pools here are small (at most
``MAX_PEOPLE`` people), and the channel and cooperative generators draw rows by vectorized
numpy indexing into them.

Example:
    >>> from lake.datagen.people import build_people
    >>> pools = build_people(1000, seed=7)
    >>> len(pools.full_name) == len(pools.email) == 1000
    True
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd
from faker import Faker

MAX_PEOPLE = 50_000

# The 27 federative units with their area codes (DDD).
STATES: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("AC", "Acre", (68,)),
    ("AL", "Alagoas", (82,)),
    ("AP", "Amapá", (96,)),
    ("AM", "Amazonas", (92, 97)),
    ("BA", "Bahia", (71, 73, 74, 75, 77)),
    ("CE", "Ceará", (85, 88)),
    ("DF", "Distrito Federal", (61,)),
    ("ES", "Espírito Santo", (27, 28)),
    ("GO", "Goiás", (62, 64)),
    ("MA", "Maranhão", (98, 99)),
    ("MT", "Mato Grosso", (65, 66)),
    ("MS", "Mato Grosso do Sul", (67,)),
    ("MG", "Minas Gerais", (31, 32, 33, 34, 35, 37, 38)),
    ("PA", "Pará", (91, 93, 94)),
    ("PB", "Paraíba", (83,)),
    ("PR", "Paraná", (41, 42, 43, 44, 45, 46)),
    ("PE", "Pernambuco", (81, 87)),
    ("PI", "Piauí", (86, 89)),
    ("RJ", "Rio de Janeiro", (21, 22, 24)),
    ("RN", "Rio Grande do Norte", (84,)),
    ("RS", "Rio Grande do Sul", (51, 53, 54, 55)),
    ("RO", "Rondônia", (69,)),
    ("RR", "Roraima", (95,)),
    ("SC", "Santa Catarina", (47, 48, 49)),
    ("SP", "São Paulo", (11, 12, 13, 14, 15, 16, 17, 18, 19)),
    ("SE", "Sergipe", (79,)),
    ("TO", "Tocantins", (63,)),
)
# Rough population weights so that SP, MG, RJ and BA dominate as in real traffic.
_STATE_WEIGHTS = np.array(
    [1, 3, 1, 4, 15, 9, 3, 4, 7, 7, 3, 3, 21, 9, 4, 11, 10, 3, 17, 3, 11, 2, 1, 7, 46, 2, 2],
    dtype=float,
)


def ascii_fold(text: str) -> str:
    """Drop accents and keep letters and digits only (``"João da Silva" -> "joaodasilva"``)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


@dataclass(frozen=True)
class PeoplePool:
    """Parallel numpy object arrays, one entry per person.

    Attributes:
        first_name, last_name, full_name: names as Faker gives them (accents kept).
        email: a clean, lower-case address derived from the name (``joao.silva12@gmail.com``).
        state: index into :data:`STATES` (the person's home state).
        ddd: one of the state's area codes.
        phone_local: 8 or 9 local digits (without the DDD) as int64.
    """

    first_name: np.ndarray
    last_name: np.ndarray
    full_name: np.ndarray
    email: np.ndarray
    state: np.ndarray
    ddd: np.ndarray
    phone_local: np.ndarray

    def __len__(self) -> int:
        return len(self.full_name)


def _faker(seed: int) -> Faker:
    fake = Faker("pt_BR")
    fake.seed_instance(seed)
    return fake


def build_people(size: int, *, seed: int = 42) -> PeoplePool:
    """Build ``size`` (capped at :data:`MAX_PEOPLE`) seeded people with names, e-mails, phones.

    Args:
        size: number of people wanted; values above ``MAX_PEOPLE`` are capped.
        seed: same seed, same pool.

    Returns:
        A :class:`PeoplePool`.
    """
    size = int(max(1, min(size, MAX_PEOPLE)))
    fake = _faker(seed)
    rng = np.random.default_rng([seed, 101])
    # Faker draws the vocabularies; numpy combines them into people.
    firsts = np.array(sorted({fake.first_name() for _ in range(600)}), dtype=object)
    lasts = np.array(sorted({fake.last_name() for _ in range(400)}), dtype=object)
    domains = np.array(sorted({fake.free_email_domain() for _ in range(60)}), dtype=object)

    fi = rng.integers(0, len(firsts), size)
    li = rng.integers(0, len(lasts), size)
    first = firsts[fi]
    last = lasts[li]
    full = first + " " + last

    folded_first = np.array([ascii_fold(s) for s in firsts], dtype=object)[fi]
    folded_last = np.array([ascii_fold(s) for s in lasts], dtype=object)[li]
    seps = np.array(["", ".", "_", ""], dtype=object)[rng.integers(0, 4, size)]
    suffix_num = rng.integers(1, 999, size)
    suffix = np.where(rng.random(size) < 0.5, suffix_num.astype(str).astype(object), "")
    local = folded_first + seps + folded_last + suffix
    # A repeated local part gets the person's position appended, so addresses are unique.
    repeated = pd.Series(local).duplicated().to_numpy()
    local = np.where(repeated, local + np.arange(size).astype(str).astype(object), local)
    email = local + "@" + domains[rng.integers(0, len(domains), size)]

    state = rng.choice(len(STATES), size=size, p=_STATE_WEIGHTS / _STATE_WEIGHTS.sum())
    ddd_choice = rng.integers(0, 100, size)
    ddds = np.array(
        [codes[d % len(codes)] for codes, d in zip((STATES[s][2] for s in state), ddd_choice)], dtype=np.int64
    )
    mobile = rng.random(size) < 0.8
    phone_local = np.where(
        mobile,
        900_000_000 + rng.integers(10_000_000, 99_999_999, size),  # 9 digits, starting with 9
        rng.integers(20_000_000, 59_999_999, size),  # 8-digit landline
    ).astype(np.int64)
    return PeoplePool(first, last, full, email, state.astype(np.int64), ddds, phone_local)


def build_agents(count: int = 40, *, seed: int = 42) -> np.ndarray:
    """Distinct agent first names (``"Antônia"``), as a numpy object array."""
    fake = _faker(seed + 7)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        name = fake.first_name()
        if name not in seen:
            seen.add(name)
            names.append(name)
        if len(seen) > 5 * count:  # pragma: no cover - Faker has hundreds of names
            break
    return np.array(names, dtype=object)


def build_companies(count: int = 300, *, seed: int = 42) -> np.ndarray:
    """Distinct merchant names for card transactions, as a numpy object array."""
    fake = _faker(seed + 11)
    names = sorted({fake.company() for _ in range(count * 2)})
    rng = np.random.default_rng([seed, 11])
    arr = np.array(names, dtype=object)
    return arr[rng.permutation(len(arr))[:count]]


def state_names() -> np.ndarray:
    """State names in the order of :data:`STATES`."""
    return np.array([name for _, name, _ in STATES], dtype=object)
