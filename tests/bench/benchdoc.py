"""benchdoc.py — the benches' results in docs/benchmarks.md: each bench owns
one section between its START and END markers and replaces only that."""
from pathlib import Path


def write_section(doc_path, start, end, lines):
    """Put lines (starting with start, ending with end) in place of the
    file's start..end section, or append them when it has none."""
    path = Path(doc_path)
    text = path.read_text() if path.exists() else ""
    section = "\n".join(lines)
    if start in text and end in text:
        text = text[:text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)
    print("bench: wrote %s" % path)
