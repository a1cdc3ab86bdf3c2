"""Static checks of the per-rule conda environments (a test machine need not reach a conda channel to build them)."""

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from saepipe.plan import FIGURES

# Import name -> distribution name, for the third-party modules the scripts use.
DISTRIBUTIONS = {
    "numpy": "numpy",
    "pandas": "pandas",
    "scipy": "scipy",
    "sklearn": "scikit-learn",
    "matplotlib": "matplotlib",
    "keras": "keras",
    "tensorflow": "tensorflow",
    "threadpoolctl": "threadpoolctl",
    "joblib": "joblib",
    "umap": "umap-learn",
    "numba": "numba",
    "PIL": "pillow",
}
STDLIB = set(sys.stdlib_module_names)


def library_modules(block: str) -> set[str] | None:
    """The modules named in a rule's `library(...)` input, with the two every step gets."""
    match = re.search(r"library\(([^)]*)\)", block)
    if not match:
        return None
    return {"__init__", "logs", *re.findall(r'"(\w+)"', match.group(1))}


def rule_blocks():
    """(file, rule name, rule text) for each rule in rules/*.smk. A rule made with `use rule A as
    B with:` is its own text followed by A's: what it does not override (conda, script) is A's."""
    for smk in sorted((REPO / "rules").glob("*.smk")):
        texts = {}
        for block in re.split(r"^[ \t]*(?=(?:use )?rule )", smk.read_text(), flags=re.M)[1:]:
            derived = re.match(r"use rule (\S+) as (\S+) with:", block)
            name = derived.group(2) if derived else block[len("rule "):].split(":", 1)[0].strip()
            texts[name] = block + texts[derived.group(1)] if derived else block
            yield smk, name, texts[name]


def rules():
    """(rule name, conda env path, script path) for each rule with a script, parsed from rules/*.smk."""
    found = []
    for smk, name, block in rule_blocks():
        conda = re.search(r"^\s+conda:\s*\n\s+\"([^\"]+)\"", block, re.M)
        script = re.search(r"^\s+script:\s*\n\s+\"([^\"]+)\"", block, re.M)
        if script:
            found.append((name, conda and (smk.parent / conda.group(1)).resolve(),
                          (smk.parent / script.group(1)).resolve()))
    return found


def imported_modules(path: Path, seen: set[Path] | None = None) -> set[str]:
    """Top-level modules imported by a script, following imports of the saepipe package.

    `seen` collects the files visited: the script and every saepipe module it reaches.
    """
    seen = seen if seen is not None else set()
    if path in seen:
        return set()
    seen.add(path)
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import inside saepipe: `from .x import y` or `from . import x`
                names = [f"saepipe.{node.module}"] if node.module else [f"saepipe.{a.name}" for a in node.names]
            else:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.startswith("saepipe"):
                module = REPO / "scripts" / (name.replace(".", "/") + ".py")
                if module.exists():
                    modules |= imported_modules(module, seen)
            else:
                modules.add(name.split(".")[0])
    return modules


def pinned(lines):
    return dict(line.split("==") for line in lines if "==" in line)


def env_pins(env_path: Path) -> dict[str, str]:
    env = yaml.safe_load(env_path.read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return pinned(pip)


def requirement_pins() -> dict[str, str]:
    lines = [l.split("#")[0].strip() for l in (REPO / "requirements.txt").read_text().splitlines()]
    return pinned(lines)


RULES = rules()


def test_the_parser_found_every_scripted_rule():
    names = {name for name, _, _ in RULES}
    assert {"download", "preprocess", "train", "embed", "cluster", "decode_centroids", "evaluate",
            "plot_training_curves", "plot_embedding_map", "manifold", "manifold_all", "summary",
            "plot_comparison"} <= names
    assert {f"plot_{figure}" for figure in FIGURES} <= names


@pytest.mark.parametrize("rule, env, script", RULES, ids=[r[0] for r in RULES])
def test_each_rule_has_a_conda_env_that_provides_what_its_script_imports(rule, env, script):
    assert env is not None, f"rule {rule} has no conda: directive"
    assert env.exists(), f"rule {rule}: {env} does not exist"
    parsed = yaml.safe_load(env.read_text())
    assert "python=3.11" in parsed["dependencies"]
    provided = set(env_pins(env))
    third_party = imported_modules(script) - STDLIB - {"saepipe"}
    unknown = third_party - set(DISTRIBUTIONS)
    assert not unknown, f"{script.name} imports {unknown}: add them to DISTRIBUTIONS and the env"
    missing = {DISTRIBUTIONS[m] for m in third_party} - provided
    assert not missing, f"rule {rule}: {env.name} lacks {missing} imported by {script.name}"


@pytest.mark.parametrize("env", sorted((REPO / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_env_pins_equal_the_pip_requirements_and_the_lock(env):
    requirements, locked = requirement_pins(), lock_pins(REPO / "requirements.lock")
    for package, version in env_pins(env).items():
        assert requirements.get(package) == version, f"{env.name}: {package}=={version} vs requirements.txt"
        assert locked.get(normalized(package)) == version, f"{env.name}: {package}=={version} vs requirements.lock"


def normalized(name: str) -> str:
    """A distribution's name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_entries(path: Path) -> dict[str, tuple[str, int]]:
    """Each locked package (normalized name) -> (version, how many hashes it lists)."""
    entries: dict[str, tuple[str, int]] = {}
    name = None
    for line in path.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line):
            name = normalized(match.group(1))
            entries[name] = (match.group(2), 0)
        elif name and line.strip().startswith("--hash=sha256:"):
            version, hashes = entries[name]
            entries[name] = (version, hashes + 1)
    return entries


def lock_pins(path: Path) -> dict[str, str]:
    return {name: version for name, (version, _) in lock_entries(path).items()}


@pytest.mark.parametrize("requirements, lock", [("requirements.txt", "requirements.lock"),
                                                ("requirements-dev.txt", "requirements-dev.lock")])
def test_the_lock_holds_every_requirement_at_its_pinned_version_with_hashes(requirements, lock):
    entries = lock_entries(REPO / lock)
    lines = [l.split("#")[0].strip() for l in (REPO / requirements).read_text().splitlines()]
    for package, version in pinned(lines).items():
        assert entries.get(normalized(package), (None,))[0] == version, f"{lock}: {package} is not at {version}"
    unhashed = sorted(name for name, (_, hashes) in entries.items() if hashes == 0)
    assert not unhashed, f"{lock}: no hash for {unhashed}: run make lock"
    assert len(entries) > len(pinned(lines)), f"{lock} holds only the pinned packages, not what they pull in"


def test_the_dev_lock_holds_the_run_lock_at_the_same_versions():
    run, dev = lock_pins(REPO / "requirements.lock"), lock_pins(REPO / "requirements-dev.lock")
    assert {name: dev.get(name) for name in run} == run


def test_an_install_from_the_lock_leaves_no_package_unpinned():
    """The environment these tests run in, when `make` installed it from the lock: every installed
    distribution is in the lock at its version, and pip at the Makefile's."""
    from importlib import metadata

    if not (Path(sys.prefix) / "bin" / ".installed-dev").exists():
        pytest.skip(f"{sys.prefix} was not installed by `make test` from requirements-dev.lock")
    locked = lock_pins(REPO / "requirements-dev.lock")
    locked["pip"] = re.search(r"^PIP_VERSION := (\S+)", (REPO / "Makefile").read_text(), re.M).group(1)
    installed = {normalized(d.metadata["Name"]): d.version for d in metadata.distributions()}
    unpinned = {name: version for name, version in installed.items() if locked.get(name) != version}
    assert not unpinned, f"installed but not in requirements-dev.lock at that version: {unpinned}"


@pytest.mark.parametrize("rule, env, script", RULES, ids=[r[0] for r in RULES])
def test_each_rule_declares_the_library_modules_its_script_uses(rule, env, script):
    """So that editing a module reruns exactly the steps that use it."""
    blocks = {name: block for _, name, block in rule_blocks()}
    declared = library_modules(blocks[rule])
    if rule == "download":
        assert declared is None, "download must not rerun (and retrain everything) for a code change"
        return
    seen: set[Path] = set()
    imported_modules(script, seen)
    used = {p.stem for p in seen if p.parent.name == "saepipe"} | {"__init__"}
    assert declared == used, f"rule {rule}: library() lists {sorted(declared)}, {script.name} uses {sorted(used)}"
