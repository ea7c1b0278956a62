"""How a problem becomes a prompt: system prompt, few-shot examples, template.

A run's prompting is a ``PromptSpec`` (from the ``[task]`` config section). Few-shot
examples are worked problems put before the question as (user, assistant) chat turns, the
way lm-eval's ``--num_fewshot`` does. The draw is reproducible: for problem ``p`` of task
``t`` with seed ``s`` the examples are a pure function of ``(t, s, p.id)`` and the pool.
The pool is the task's curated examples when it ships some, else its ``fewshot_split``
(``train``) less every problem the run samples, so no sampled problem ever shows up as a
worked example, and no other split (a test split above all) is ever drawn from.

A template is a text file holding ``{problem}`` once or more; each user turn (examples and
question) is the template with the placeholder replaced by the problem's prompt. Nothing
else in the file is interpreted, so braces in LaTeX or code need no escaping.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from verigen.config import TaskConfig
from verigen.errors import UsageError

PLACEHOLDER = "{problem}"
MAX_FEWSHOT = 64
# Pool entries without a known answer are skipped; a draw gives up after this many extra
# candidates per example (a pool that is mostly unanswerable is reported, not looped on).
_EXTRA_TRIES = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class FewShotExample:
    """One worked example: a problem prompt and a known-good answer to it.

    ``source`` says where it came from (the problem id, or ``curated/N``); it is recorded
    with each prompt so a run's data shows which examples it was sampled with.
    """

    prompt: str
    answer: str
    source: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    """A prompt template: ``text`` holds ``{problem}``; ``sha256`` identifies it."""

    text: str
    path: str
    sha256: str

    def render(self, prompt: str) -> str:
        return self.text.replace(PLACEHOLDER, prompt)


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptSpec:
    """The prompting of one run (see the module docstring).

    ``system_prompt``: None keeps the task's own; ``""`` sends none.
    """

    fewshot: int = 0
    template: Template | None = None
    system_prompt: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.fewshot <= MAX_FEWSHOT:
            raise UsageError(f"task.fewshot={self.fewshot}: must be between 0 and {MAX_FEWSHOT}")


def load_template(path: Path) -> Template:
    """Read a template file; a missing file or placeholder raises naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"task.template {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"task.template {str(path)!r} is not UTF-8 text") from None
    if PLACEHOLDER not in text:
        raise UsageError(f"task.template {str(path)!r} has no {PLACEHOLDER} placeholder for the problem")
    return Template(text=text, path=str(path), sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())


def draw_examples(
    pool: Sequence[tuple[str, str]],
    answer_of: Callable[[int], str | None],
    *,
    k: int,
    rng: random.Random,
) -> list[int]:
    """``k`` distinct pool indices whose ``answer_of`` is known, in ``rng``'s order.

    ``pool`` holds (source, prompt) pairs; an entry whose answer is None is skipped. Fewer
    than ``k`` answerable entries raise ``UsageError``.
    """
    if k == 0:
        return []
    n = len(pool)
    order = rng.sample(range(n), min(n, k + _EXTRA_TRIES))
    chosen = [i for i in order if answer_of(i) is not None][:k]
    if len(chosen) < k and len(order) < n:
        # Rare: many entries without answers. Walk the rest of the pool in a seeded order.
        rest = [i for i in range(n) if i not in set(order)]
        rng.shuffle(rest)
        for i in rest:
            if len(chosen) == k:
                break
            if answer_of(i) is not None:
                chosen.append(i)
    if len(chosen) < k:
        raise UsageError(f"only {len(chosen)} of {n} few-shot pool problems have a known answer; {k} are needed")
    return chosen


def resolve_prompting(task: TaskConfig) -> tuple[PromptSpec, TaskConfig]:
    """The ``PromptSpec`` of a ``[task]`` section, and the section with the template's
    sha256 fixed (a section that already names one must match the file: a template
    changed under a run directory is refused, not silently mixed in)."""
    template = load_template(task.template) if task.template is not None else None
    if template is not None and task.template_sha256 not in (None, template.sha256):
        raise UsageError(
            f"task.template {template.path!r} changed: sha256 {template.sha256[:12]}... now, "
            f"{task.template_sha256[:12]}... in the config"
        )
    if template is None and task.template_sha256 is not None:
        raise UsageError("task.template_sha256 is set but task.template is not")
    spec = PromptSpec(fewshot=task.fewshot, template=template, system_prompt=task.system_prompt, seed=task.seed)
    sha = template.sha256 if template is not None else None
    return spec, task.model_copy(update={"template_sha256": sha})
