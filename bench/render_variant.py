#!/usr/bin/env python3
"""One `yowasm new` render (no command line) with one of yowasm.render's shortcuts
left out, for bench/new_ideas.py.

    python3 bench/render_variant.py VARIANT DEST
"""

import contextlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from yowasm import render, scaffold  # noqa: E402
from yowasm.questionnaire import resolve_answers  # noqa: E402

PROMPT_STACK = ("questionary", "questionary.prompts.common", "prompt_toolkit.lexers", "pygments.lexers.data")


def without(variant: str) -> None:
    deferred, shortcuts = render._deferred_names, render._shortcuts
    if variant == "without the prompt-stack stand-ins":
        render._deferred_names = lambda: {k: v for k, v in deferred().items() if k not in PROMPT_STACK}
    elif variant == "without the asyncio/dunamai/urllib stand-ins":
        render._deferred_names = lambda: {k: v for k, v in deferred().items() if k in PROMPT_STACK}
    elif variant == "without the uname -p shortcut":
        render._uname_without_processor = contextlib.nullcontext
    elif variant == "without the git shortcuts":
        render._shortcuts = lambda fresh: shortcuts(fresh=False)
    elif variant == "without the compile cache":
        render._compiled_once = lambda environment_class, templates: contextlib.nullcontext()
    elif variant == "without libyaml":
        render._YamlInC = lambda yaml: yaml
    elif variant == "without pydantic's plugin switch":
        render._without_pydantic_plugins = contextlib.nullcontext
    elif variant == "without the collector pause":
        render.imports_uncollected = lambda module: contextlib.nullcontext()
    elif variant == "plain copier.run_copy":
        def plain(templates, target, data):
            import copier

            copier.run_copy(str(templates), target, data=data, defaults=True, overwrite=True, quiet=True,
                            unsafe=False)
        render.render_template = plain


def main() -> None:
    variant, destination = sys.argv[1], Path(sys.argv[2])
    without(variant.removesuffix(", os._exit"))
    answers = resolve_answers({"name": "bench", "author": "Bench Mark", "registry": "none"}, use_defaults=True)
    scaffold.create_project(answers, destination)
    if variant.endswith(", os._exit"):
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
