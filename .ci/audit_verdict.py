"""Judge a pip-audit run for CI: pass, fail, or skip when the advisory database was unreachable.

Usage: audit_verdict.py EXIT_CODE REPORT_JSON STDERR_FILE
(pip-audit ... -f json -o REPORT_JSON 2>STDERR_FILE, under `timeout`).

Exit 0 when every locked package was audited and none has a known vulnerability, or when the
advisory service could not be reached (one line saying so: this machine may reach only the
package index). Exit 1 when a vulnerability was found, or on any other failure.

"Unreachable" is recognised two ways, because pip-audit reports it two ways:
- the service could not be connected to (a ConnectionError and the like; pip-audit exits 1
  with no report), or `timeout` stopped it (exit 124);
- the index answers but has no JSON API (a mirror or proxy): pip-audit then exits 0 with
  "No known vulnerabilities found" while every package was skipped as "not found on PyPI".
  That is not a pass, so a report in which no package at all was audited counts as unreachable,
  and one in which only some were is a failure.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

NETWORK_ERROR = re.compile(
    r"ConnectionError|NameResolutionError|Failed to resolve|Name or service not known|"
    r"Temporary failure in name resolution|Max retries exceeded|Connection refused|"
    r"Network is unreachable|timed out|ProxyError|ConnectTimeout|ReadTimeout",
)
SKIPPED_NOT_FOUND = "not found on PyPI"


def skip(reason: str) -> int:
    print(f"audit: skipped, the advisory database could not be reached ({reason})")
    return 0


def main(exit_code: int, report_path: Path, stderr_path: Path) -> int:
    stderr = stderr_path.read_text(errors="replace") if stderr_path.exists() else ""
    if exit_code == 124:
        return skip("pip-audit timed out")
    try:
        report = json.loads(report_path.read_text())
        dependencies = report["dependencies"]
    except (OSError, ValueError, KeyError, TypeError):
        report = None
    if report is None:
        # No report: pip-audit stopped before auditing. Unreachable, or a real error?
        match = NETWORK_ERROR.search(stderr)
        if exit_code != 0 and match:
            return skip(match.group(0))
        print(f"audit: pip-audit failed (exit {exit_code}) without a report:", file=sys.stderr)
        print(stderr[-3000:], file=sys.stderr)
        return 1

    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if "skip_reason" in d]
    audited = len(dependencies) - len(skipped)
    if vulnerable:
        print(f"audit: {len(vulnerable)} locked package(s) with known vulnerabilities:")
        for dep in vulnerable:
            for vuln in dep["vulns"]:
                fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed release yet"
                print(f"  {dep['name']} {dep.get('version', '?')}: {vuln['id']} (fixed in {fixes})")
        print("Raise the pin in requirements*.in (or add the fixed version), then `make lock`.")
        return 1
    if skipped and audited == 0 and all(SKIPPED_NOT_FOUND in d["skip_reason"] for d in skipped):
        return skip(f"the index's JSON API knows none of the {len(skipped)} locked packages")
    if skipped:
        print(f"audit: {len(skipped)} of {len(dependencies)} locked package(s) not audited:")
        for dep in skipped:
            print(f"  {dep['name']}: {dep['skip_reason']}")
        return 1
    if exit_code != 0:
        print(f"audit: pip-audit exited {exit_code}:", file=sys.stderr)
        print(stderr[-3000:], file=sys.stderr)
        return 1
    print(f"audit: {audited} locked packages, no known vulnerabilities")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
