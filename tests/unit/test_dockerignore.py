""".dockerignore pattern rules."""

from ketch.guest.engine.build.dockerignore import is_excluded, read_patterns


def excluded(patterns: str, path: str) -> bool:
    return is_excluded(path, read_patterns(patterns))


def test_plain_globs_and_parents() -> None:
    assert excluded("*.log", "a.log")
    assert not excluded("*.log", "dir/a.log")
    assert excluded("build", "build/x/y.o")
    assert excluded("/secret", "secret")
    assert excluded("d?r/[a-c].txt", "dir/b.txt")
    assert not excluded("d?r/[a-c].txt", "dir/d.txt")


def test_double_star_and_exceptions() -> None:
    assert excluded("**/*.log", "a/b/c.log")
    assert excluded("**/*.log", "c.log")
    assert excluded("**", "anything/at/all")
    rules = "# comment\n*.md\n!README.md\n"
    assert excluded(rules, "CHANGES.md")
    assert not excluded(rules, "README.md")
    assert excluded("docs\n!docs/keep.txt\n", "docs/other.txt")
    assert not excluded("docs\n!docs/keep.txt\n", "docs/keep.txt")
