"""Self-taught programming puzzles (Haluptzok et al. 2022): the model writes P3 puzzles,
verigen admits only the ones that prove themselves (parse, run bounded in the sandbox, are
not trivially satisfied nor constant, have a verified solution, repeat no other puzzle).

    admission = PuzzleAdmission(sandbox="bwrap")
    screened = admission.screen("mine:0", puzzle_text)          # static checks + probes
    [verdict] = admission.judge([screened.puzzle], [[solution]])  # keep / drop / error
"""

from verigen.selfplay._admit import (
    AdmissionConfig,
    PuzzleAdmission,
    PuzzleVerdict,
    PuzzleVerifierSpec,
    Screened,
    Status,
)
from verigen.selfplay._dedup import Fingerprint, NearDuplicates, fingerprint
from verigen.selfplay._loop import (
    RoundCounts,
    SelfPlayConfig,
    check_out,
    run_selfplay,
    selfplay_settings,
    writing_prompt,
)
from verigen.selfplay._parse import ParsedPuzzle, PuzzleSyntaxError, extract_puzzle, parse_puzzle, probes, solution_body

__all__ = [
    "AdmissionConfig",
    "Fingerprint",
    "NearDuplicates",
    "ParsedPuzzle",
    "PuzzleAdmission",
    "PuzzleSyntaxError",
    "PuzzleVerdict",
    "PuzzleVerifierSpec",
    "RoundCounts",
    "Screened",
    "SelfPlayConfig",
    "Status",
    "check_out",
    "extract_puzzle",
    "fingerprint",
    "parse_puzzle",
    "probes",
    "run_selfplay",
    "selfplay_settings",
    "solution_body",
    "writing_prompt",
]
