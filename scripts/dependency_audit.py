"""Audit the pinned dependencies (constraints.txt) for known vulnerabilities with pip-audit.

    python scripts/dependency_audit.py            # from the project's virtualenv (pip-audit is in the test extra)

Exit status: 0 when no known vulnerability is found outside the allow-list, 1 when one is
(or the allow-list is malformed), 0 with a loud SKIPPED notice when no vulnerability
service can be reached from this machine, so that CI does not fail for network reasons
alone. Which service: OSV (pip-audit's default) when reachable, else PyPI's per-release
JSON API; with ``--strict``, so a dependency that could not be looked up fails the audit
rather than passing unaudited.

The allow-list (pip-audit-allowlist.txt) has one vulnerability per line: its id, the
package, and the reason it is accepted, e.g.
    GHSA-xxxx-xxxx-xxxx  somepackage  Only the CLI is affected; we import the library only.
"""

import json
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"
ALLOWLIST = ROOT / "pip-audit-allowlist.txt"
OSV_PROBE = ("https://api.osv.dev/v1/query", b'{"package": {"name": "django", "ecosystem": "PyPI"}, "version": "5.2"}')
PYPI_PROBE = "https://pypi.org/pypi/{name}/{version}/json"


class AllowListError(ValueError):
    pass


def read_allowlist(text: str) -> dict[str, str]:
    """{vulnerability id: reason}. Raises AllowListError for an entry without a package and a reason."""
    allowed = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3 or len(parts[2].strip()) < 10:
            raise AllowListError(f"allow-list line {number}: give the id, the package and a reason: {line!r}")
        allowed[parts[0]] = parts[2].strip()
    return allowed


def unaccepted(report: dict, allowed: dict[str, str]) -> list[str]:
    """The vulnerabilities of a pip-audit JSON report that the allow-list does not accept
    (an entry matches by the vulnerability's id or any of its aliases)."""
    found = []
    for dependency in report.get("dependencies", []):
        for vuln in dependency.get("vulns", []):
            ids = {vuln.get("id", ""), *vuln.get("aliases", [])}
            if not ids & set(allowed):
                fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
                found.append(f"{dependency['name']} {dependency.get('version', '?')}: {vuln.get('id')} "
                             f"(fixed in {fixes})")
    return found


def _reachable(url: str, data: bytes | None = None) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def pick_service() -> str | None:
    if _reachable(*OSV_PROBE):
        return "osv"
    pin = next(line for line in CONSTRAINTS.read_text().splitlines() if line.lower().startswith("django=="))
    name, version = pin.split("==")
    if _reachable(PYPI_PROBE.format(name=name, version=version)):
        return "pypi"
    return None


def main() -> int:
    try:
        allowed = read_allowlist(ALLOWLIST.read_text() if ALLOWLIST.exists() else "")
    except AllowListError as error:
        print(f"dependency audit FAILED: {error}")
        return 1
    service = pick_service()
    if service is None:
        print("dependency audit SKIPPED: neither OSV (api.osv.dev) nor PyPI's per-release JSON API answers "
              "from this machine, so the pins in constraints.txt were NOT checked for known vulnerabilities. "
              "Run scripts/dependency_audit.py where one of them is reachable.")
        return 0
    with tempfile.NamedTemporaryFile(suffix=".json") as output:
        command = [sys.executable, "-m", "pip_audit", "--requirement", str(CONSTRAINTS), "--no-deps", "--disable-pip",
                   "--strict", "--vulnerability-service", service, "--progress-spinner", "off",
                   "--format", "json", "--output", output.name]
        for vuln_id in allowed:
            command += ["--ignore-vuln", vuln_id]
        completed = subprocess.run(command, capture_output=True, text=True)
        try:
            report = json.loads(Path(output.name).read_text() or "{}")
        except ValueError:
            report = {}
    problems = unaccepted(report, allowed)
    audited = len(report.get("dependencies", []))
    if problems:
        print(f"dependency audit FAILED ({service}): {len(problems)} known vulnerabilities in {audited} pins; "
              f"upgrade the pin in constraints.txt, or accept it in {ALLOWLIST.name} with a reason:")
        print("\n".join(f"  {p}" for p in problems))
        return 1
    if completed.returncode != 0 or not audited:
        skipped = [f"  {d['name']}: {d['skip_reason']}" for d in report.get("dependencies", []) if d.get("skip_reason")]
        print(f"dependency audit FAILED ({service}): pip-audit could not audit every pin (exit "
              f"{completed.returncode}):")
        print("\n".join(skipped[:40]) or completed.stderr[-2000:])
        return 1
    print(f"dependency audit passed ({service}): {audited} pins, no known vulnerability outside the allow-list "
          f"({len(allowed)} accepted).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
