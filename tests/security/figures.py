"""The security suite's figures, printed once at the end of the run (tests/security/conftest.py)."""

FIGURES = {"corpus": 0, "bad inputs tried": set(), "bad-input requests": 0, "5xx found": 0, "fuzzing examples": 0,
           "fuzzing 5xx": 0}


def corpus_size(n: int) -> None:
    FIGURES["corpus"] = n


def count_input(name: str) -> None:
    FIGURES["bad inputs tried"].add(name)


def count_request() -> None:
    FIGURES["bad-input requests"] += 1


def count_server_error() -> None:
    FIGURES["5xx found"] += 1


def count_fuzzing(examples: int, server_errors: int) -> None:
    FIGURES["fuzzing examples"] += examples
    FIGURES["fuzzing 5xx"] += server_errors


def summary() -> str | None:
    """One line: what the bad-input walk and the fuzzer did in this run (None if neither ran)."""
    parts = []
    if FIGURES["bad-input requests"]:
        parts.append(f"bad inputs tried {len(FIGURES['bad inputs tried'])} of {FIGURES['corpus']}, requests made "
                     f"{FIGURES['bad-input requests']}, 5xx found {FIGURES['5xx found']}")
    if FIGURES["fuzzing examples"]:
        parts.append(f"schemathesis examples run {FIGURES['fuzzing examples']}, 5xx found {FIGURES['fuzzing 5xx']}")
    return f"security figures: {'; '.join(parts)}" if parts else None


def untried(names: list[str]) -> list[str]:
    return [name for name in names if name not in FIGURES["bad inputs tried"]]
