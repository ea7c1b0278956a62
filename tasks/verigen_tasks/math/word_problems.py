"""GSM8K-style word problems (task ``word_problems``): short templated stories with
names, items and prices that take two to four steps; every answer is an integer."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from verigen_tasks.math._procedural import Item, ProceduralMathTask, Step


@dataclass(frozen=True, slots=True, kw_only=True)
class _Person:
    name: str
    they: str  # subject pronoun
    their: str


_PEOPLE = tuple(
    _Person(name=n, they=p, their=q)
    for n, p, q in (
        ("Maya", "she", "her"), ("Liam", "he", "his"), ("Aisha", "she", "her"),
        ("Carlos", "he", "his"), ("Yuki", "she", "her"), ("Omar", "he", "his"),
        ("Elena", "she", "her"), ("Kofi", "he", "his"), ("Priya", "she", "her"),
        ("Noah", "he", "his"), ("Sofia", "she", "her"), ("Tariq", "he", "his"),
    )
)
_GOODS = (("notebook", "notebooks"), ("pen", "pens"), ("apple", "apples"),
          ("cupcake", "cupcakes"), ("toy car", "toy cars"), ("candle", "candles"),
          ("sticker", "stickers"), ("bottle of juice", "bottles of juice"))
_BIG_GOODS = (("bike", "bikes"), ("jacket", "jackets"), ("backpack", "backpacks"),
              ("board game", "board games"), ("lamp", "lamps"), ("guitar", "guitars"))
_CONTAINERS = ("boxes", "bags", "crates", "baskets")
_ANIMALS = (("hens", "eggs"), ("cows", "liters of milk"), ("bees", "jars of honey"))


def _step(text: str, expr: str, value: int) -> Step:
    # `value` is computed in Python by the template; `prove` re-evaluates `expr` and the
    # two must agree, so a template that renders the wrong numbers cannot slip through.
    return Step(text=text, expr=expr, value=Fraction(value))


def _change(rng: random.Random, who: _Person) -> Item:
    (_one, many), (_one2, many2) = rng.sample(_GOODS, 2)
    a, p, b, q = rng.randint(2, 9), rng.randint(2, 15), rng.randint(2, 9), rng.randint(2, 15)
    total = a * p + b * q
    bill = next(x for x in (20, 50, 100, 200, 500) if x > total)  # total <= 270
    prompt = (f"{who.name} buys {a} {many} for ${p} each and {b} {many2} for ${q} each. "
              f"{who.they.capitalize()} pays with a ${bill} bill. How much change, in dollars, "
              f"does {who.they} get back?")
    steps = (_step(f"The {many} cost", f"{a} * {p}", a * p),
             _step(f"The {many2} cost", f"{b} * {q}", b * q),
             _step("Together that is", f"{a * p} + {b * q}", total),
             _step("The change is", f"{bill} - {total}", bill - total))
    return Item(prompt=prompt, answer=steps[-1].value, steps=steps, metadata={"template": "change"})


def _farm(rng: random.Random, who: _Person) -> Item:
    animals, produce = rng.choice(_ANIMALS)
    n, per, used = rng.randint(3, 12), rng.randint(2, 6), rng.randint(1, 8)
    price, days = rng.randint(2, 9), rng.randint(2, 7)
    prompt = (f"{who.name} has {n} {animals}. Each one gives {per} {produce} a day. Every day "
              f"{who.they} keeps {used} {produce} and sells the rest for ${price} each. How many "
              f"dollars does {who.they} make in {days} days?")
    sold = n * per - used
    steps = (_step(f"Each day the {animals} give", f"{n} * {per}", n * per),
             _step("The amount sold each day is", f"{n * per} - {used}", sold),
             _step("Each day that earns", f"{sold} * {price}", sold * price),
             _step(f"In {days} days that is", f"{sold * price} * {days}", sold * price * days))
    return Item(prompt=prompt, answer=steps[-1].value, steps=steps, metadata={"template": "farm"})


def _savings(rng: random.Random, who: _Person) -> Item:
    weekly, weeks = rng.randint(5, 40), rng.randint(3, 12)
    one, _many = rng.choice(_BIG_GOODS)
    cost = rng.randint(5, weekly * weeks - 2)
    prompt = (f"{who.name} saves ${weekly} every week. After {weeks} weeks {who.they} spends "
              f"${cost} on a {one}. How many dollars does {who.they} have left?")
    saved = weekly * weeks
    steps = (_step(f"After {weeks} weeks {who.they} has saved", f"{weekly} * {weeks}", saved),
             _step("After buying it, the money left is", f"{saved} - {cost}", saved - cost))
    return Item(prompt=prompt, answer=steps[-1].value, steps=steps,
                metadata={"template": "savings"})


def _sharing(rng: random.Random, who: _Person) -> Item:
    boxes, per_box = rng.randint(2, 9), rng.randint(6, 24)
    _one, many = rng.choice(_GOODS)
    friends = rng.randint(2, 6)
    each = rng.randint(1, max(1, boxes * per_box // friends - 1))
    prompt = (f"{who.name} has {boxes} {rng.choice(_CONTAINERS)} with {per_box} {many} in each. "
              f"{who.they.capitalize()} gives {each} {many} to each of {who.their} {friends} "
              f"friends. How many {many} does {who.name} have left?")
    steps = (_step(f"At first {who.they} has", f"{boxes} * {per_box}", boxes * per_box),
             _step(f"{who.they.capitalize()} gives away", f"{each} * {friends}", each * friends),
             _step("What is left is", f"{boxes * per_box} - {each * friends}",
                   boxes * per_box - each * friends))
    return Item(prompt=prompt, answer=steps[-1].value, steps=steps,
                metadata={"template": "sharing"})


def _travel(rng: random.Random, who: _Person) -> Item:
    v1, h1, v2, h2 = rng.randint(20, 70), rng.randint(1, 5), rng.randint(20, 70), rng.randint(1, 5)
    prompt = (f"{who.name} drives at {v1} miles per hour for {h1} hours, then at {v2} miles per "
              f"hour for {h2} hours. How many miles does {who.they} drive in total?")
    steps = (_step("The first part is", f"{v1} * {h1}", v1 * h1),
             _step("The second part is", f"{v2} * {h2}", v2 * h2),
             _step("In total that is", f"{v1 * h1} + {v2 * h2}", v1 * h1 + v2 * h2))
    return Item(prompt=prompt, answer=steps[-1].value, steps=steps, metadata={"template": "travel"})


def _discount(rng: random.Random, who: _Person) -> Item:
    one, many = rng.choice(_BIG_GOODS)
    pct = rng.choice((10, 20, 25, 50))
    price = rng.randint(2, 30) * (100 // math.gcd(pct, 100))  # keeps the discount a whole number
    n = rng.randint(2, 6)
    prompt = (f"A {one} costs ${price}. This week every {one} is {pct}% off. {who.name} buys "
              f"{n} {many}. How many dollars does {who.they} pay?")
    off = price * pct // 100
    steps = (_step("The discount on one is", f"{price} * {pct} / 100", off),
             _step("So one costs", f"{price} - {off}", price - off),
             _step(f"For {n} {many} that is", f"{price - off} * {n}", (price - off) * n))
    return Item(prompt=prompt, answer=steps[-1].value, steps=steps,
                metadata={"template": "discount"})


TEMPLATES: tuple[Callable[[random.Random, _Person], Item], ...] = (
    _change, _farm, _savings, _sharing, _travel, _discount,
)


class WordProblems(ProceduralMathTask):
    """Multi-step shopping, farming, saving, sharing, travel and discount stories."""

    name = "word_problems"
    description = "GSM8K-style multi-step word problems with integer answers (procedural)"

    def make_item(self, rng: random.Random) -> Item:
        template = rng.choice(TEMPLATES)
        return template(rng, rng.choice(_PEOPLE))
