"""JUnit XML for CI test dashboards (GitLab, Jenkins, Azure DevOps, GitHub test reporters).

- One <testsuite> per benchmark section ("5 Container Runtime"), one <testcase> per policy and
  resource, named `<policy id>[<resource key>]` (`cis-docker-5.10[container:web]`): stable
  between runs because the key is a name, never a container id, so CI history lines up.
- A policy with no resource to judge (not applicable, manual, an error before any resource)
  is one testcase named by the policy id alone.
- fail and error give <failure> (type "fail" or "error"); not_applicable, manual and waived
  give <skipped> with the reason; pass gives an empty testcase.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from hullcheck_common.vocabulary import DEFAULT_BENCHMARK

from .common import case_name, engine_of, location_text, signed_by, waiver_text


def _section_name(section: str) -> str:
    from . import SECTION_NAMES

    title = SECTION_NAMES.get(section, section)
    return title if section == "other" else f"{section} {title}"


def _evidence(finding: dict[str, Any]) -> str:
    lines = []
    for ev in finding.get("evidence") or []:
        value = json.dumps(ev.get("value"), ensure_ascii=False)
        lines.append(f"{ev.get('pointer')} = {value if len(value) < 2000 else value[:2000] + '...'}")
    return "\n".join(lines)


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", {"classname": classname, "name": name, "time": "0"})


def render(document: dict[str, Any], *, benchmark: str = DEFAULT_BENCHMARK, **_: Any) -> str:
    """The results document as JUnit XML (testsuites > testsuite per section of `benchmark` > testcase)."""
    from . import in_benchmark_order, section_of

    root = ET.Element("testsuites", {"name": "hullcheck"})
    suites: dict[str, ET.Element] = {}
    counts: dict[str, dict[str, int]] = {}
    host = str((document.get("snapshot") or {}).get("host") or "")
    for result in in_benchmark_order(document.get("results", []), benchmark):
        section = section_of(result, benchmark)
        if section not in suites:
            suites[section] = ET.SubElement(root, "testsuite", {"name": _section_name(section)})
            if document.get("evaluated_at"):
                suites[section].set("timestamp", str(document["evaluated_at"]).replace("Z", ""))
            if host:
                suites[section].set("hostname", host)
            props = ET.SubElement(suites[section], "properties")
            ET.SubElement(props, "property", {"name": "engine", "value": engine_of(document)})
            if signed_by(document):
                ET.SubElement(props, "property", {"name": "signed_by", "value": str(signed_by(document))})
            counts[section] = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        suite, count = suites[section], counts[section]
        classname = f"hullcheck.{result['id']}"
        title = str(result.get("title") or "")
        status = result.get("status")
        findings = result.get("findings") or []
        passed = result.get("passed") or []
        if not findings and not passed:
            case = _case(suite, classname, case_name(result["id"], None))
            count["tests"] += 1
            if status in ("not_applicable", "manual", "waived"):
                reason = result.get("reason") or status
                ET.SubElement(case, "skipped", {"message": f"{status}: {reason}"})
                count["skipped"] += 1
            elif status in ("fail", "error"):
                ET.SubElement(case, "failure", {"type": status, "message": f"{title}: {result.get('reason') or status}"})
                count["failures"] += 1
            continue
        for finding in findings:
            ref = finding.get("resource") or {}
            case = _case(suite, classname, case_name(result["id"], ref))
            count["tests"] += 1
            fstatus = finding.get("status")
            message = str(finding.get("message") or title)
            if fstatus == "waived":
                ET.SubElement(case, "skipped", {"message": f"waived: {message} ({waiver_text(finding.get('waiver'))})"})
                count["skipped"] += 1
                continue
            if fstatus == "manual":  # a person judges it: not a failure of the run
                ET.SubElement(case, "skipped", {"message": f"manual: {message}"})
                count["skipped"] += 1
                continue
            failure = ET.SubElement(case, "failure", {"type": str(fstatus), "message": message})
            body = [f"{title} ({result['id']}, {result.get('severity')})"]
            if finding.get("baseline"):
                body.append(f"baseline: {finding['baseline']}")
            if finding.get("locations"):
                body.append(f"at: {location_text(finding)}")
            evidence = _evidence(finding)
            if evidence:
                body += ["evidence:", evidence]
            if fstatus == "fail" and result.get("remediation"):
                body += ["remediation:", str(result["remediation"])]
            failure.text = "\n".join(body)
            count["failures"] += 1
        for ref in passed:
            _case(suite, classname, case_name(result["id"], ref))
            count["tests"] += 1
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for section, suite in suites.items():
        for key, value in counts[section].items():
            suite.set(key, str(value))
            total[key] += value
    for key, value in total.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
