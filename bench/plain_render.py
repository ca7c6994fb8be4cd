#!/usr/bin/env python3
"""The floor for `yowasm new`: render the same template files with plain jinja2 (and
the filters the templates use), no copier, no questionnaire, no checks.

    python3 bench/plain_render.py TEMPLATES DEST ANSWERS_JSON

ANSWERS_JSON holds the answers as yowasm passes them to copier; the computed values
of copier.yml (`when: false`) are rendered here as copier would.
"""

import json
import sys
from pathlib import Path

import jinja2
import yaml


def main() -> None:
    templates, destination, answers = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
    config = yaml.load((templates / "copier.yml").read_text("utf-8"), Loader=yaml.CSafeLoader)
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(templates), keep_trailing_newline=True,
                                     extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])
    context = dict(answers)
    for key, question in config.items():
        if isinstance(question, dict) and question.get("when") is False:
            context[key] = environment.from_string(str(question["default"])).render(context)
    context["is_handler"] = context["is_handler"] == "True"
    context["_copier_answers"] = answers
    context["_copier_conf"] = {"answers_file": config["_answers_file"], "dst_path": str(destination)}
    source = templates / answers["language"]
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source).as_posix()
        if relative in config["_exclude"] or not path.is_file():
            continue
        target = environment.from_string(relative).render(context).removesuffix(".jinja")
        if not target or any(not part for part in target.split("/")):
            continue  # a conditional name that rendered empty: the file is not wanted
        output = destination / target
        output.parent.mkdir(parents=True, exist_ok=True)
        if relative.endswith(".jinja"):
            output.write_text(environment.get_template(f"{answers['language']}/{relative}").render(context), "utf-8")
        else:
            output.write_bytes(path.read_bytes())


if __name__ == "__main__":
    main()
