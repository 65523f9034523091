"""The Pages workflow: valid YAML; unit tests before a paper-profile build on the full MNIST
files (default profile on pull requests); the results cache restored and saved under a key of the
code and the attempt; Pages permissions on the deploy job only; inside the time limit."""
from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "book.yml"
HOSTED_JOB_LIMIT_MIN = 360  # GitHub-hosted runners stop a job after 6 hours


def _build_steps() -> list[dict]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert set(workflow["jobs"]) == {"build", "deploy"}
    return workflow["jobs"]["build"]["steps"]


def _index(steps: list[dict], predicate) -> int:
    found = [i for i, step in enumerate(steps) if predicate(step)]
    assert len(found) == 1, f"expected one matching step, found {len(found)}"
    return found[0]


def test_tests_then_paper_build_on_the_full_mnist():
    steps = _build_steps()
    tests = _index(steps, lambda s: "pytest" in s.get("run", ""))
    fetch = _index(steps, lambda s: "load_mnist" in s.get("run", ""))
    build = _index(steps, lambda s: "make book" in s.get("run", ""))
    assert tests < fetch < build
    assert "PROFILE=$PROFILE" in steps[build]["run"]
    assert "(60000, 10000)" in steps[fetch]["run"] and 'source="torchvision"' in steps[fetch]["run"]
    assert steps[build]["env"]["DREG_DATA_DIR"].endswith("/data")
    assert "-e \".[data]\"" in steps[_index(steps, lambda s: "make .venv/.installed" in s.get("run", ""))]["run"]


def test_results_cache_is_keyed_by_the_code_and_saved_whatever_happens():
    steps = _build_steps()
    build = _index(steps, lambda s: "make book" in s.get("run", ""))
    restore = _index(steps, lambda s: s.get("uses", "").startswith("actions/cache/restore"))
    save = _index(steps, lambda s: s.get("uses", "").startswith("actions/cache/save"))
    assert restore < build < save and steps[save]["if"] == "always()"
    assert steps[restore]["with"]["path"] == steps[save]["with"]["path"] == "results"
    key = steps[save]["with"]["key"]
    assert key == steps[restore]["with"]["key"] and "hashFiles('dreg_utils/**/*.py', 'notebooks/*.md'" in key
    # A cache key is immutable: a re-run attempt of the same workflow run must save under a new one.
    assert key.endswith("${{ github.run_id }}-${{ github.run_attempt }}")
    assert key.startswith("results-${{ env.PROFILE }}-")
    assert "results-${{ env.PROFILE }}-" in steps[restore]["with"]["restore-keys"]


def test_paper_profile_on_main_and_dispatch_default_on_pull_requests():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    profile = workflow["jobs"]["build"]["env"]["PROFILE"]
    assert profile == "${{ github.event_name == 'pull_request' && 'default' || 'paper' }}"
    assert set(workflow[True]) == {"push", "pull_request", "workflow_dispatch"}  # YAML 1.1 reads `on` as True


def test_pages_permissions_only_on_the_deploy_job():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow["permissions"] == {"contents": "read"}
    assert "permissions" not in workflow["jobs"]["build"]
    assert workflow["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert workflow["jobs"]["deploy"]["if"] == "github.event_name != 'pull_request'"


def test_the_build_stops_in_time_to_save_the_cache():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    job_limit = workflow["jobs"]["build"]["timeout-minutes"]
    steps = workflow["jobs"]["build"]["steps"]
    build = steps[_index(steps, lambda s: "make book" in s.get("run", ""))]
    assert build["timeout-minutes"] + 30 <= job_limit <= HOSTED_JOB_LIMIT_MIN
