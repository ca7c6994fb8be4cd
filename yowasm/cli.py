"""The command line: thin commands that read options, call one core function and
render its result. Heavy libraries (copier, questionary, requests, wasmtime) are
imported inside the commands so that `--help` and `--version` start fast."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup

from yowasm import __version__
from yowasm.errors import Aborted, YowasmError


class _Group(TyperGroup):
    """Maps yowasm's errors to their message, hint and exit code: the only place that does."""

    def invoke(self, ctx):
        from yowasm import console

        try:
            return super().invoke(ctx)
        except YowasmError as error:
            console.print_error(error)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            console.print_error(Aborted())
            raise typer.Exit(Aborted.exit_code) from None


app = typer.Typer(
    cls=_Group,
    name="yowasm",
    help="Start WebAssembly projects and carry them to a registry.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"yowasm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Start WebAssembly projects and carry them to a registry."""


@app.command()
def new(
    directory: Optional[Path] = typer.Argument(
        None, help="Folder to create (default: the module name).", show_default=False
    ),
    name: Optional[str] = typer.Option(None, help="Module name [default: the folder name]."),
    description: Optional[str] = typer.Option(None, help="One-line description."),
    author: Optional[str] = typer.Option(None, help="Author [default: git user.name, then $USER]."),
    language: Optional[str] = typer.Option(None, help="rust | c | assemblyscript | tinygo [default: rust]."),
    runtime: Optional[str] = typer.Option(None, help="wasmtime | wagi | krustlet [default: wasmtime]."),
    krustlet_node: Optional[str] = typer.Option(None, help="wasi | wagi, with --runtime krustlet [default: wasi]."),
    registry: Optional[str] = typer.Option(
        None, help="ghcr | acr | dockerhub | none | HOST[:PORT] [default: ghcr]."
    ),
    namespace: Optional[str] = typer.Option(
        None, help="Owner, organisation or path such as team/wasm [default: the author]."
    ),
    acr_name: Optional[str] = typer.Option(None, help="Registry name, with --registry acr: NAME.azurecr.io."),
    artifact_format: Optional[str] = typer.Option(
        None, help="wasm-to-oci | cncf [default: cncf for wasmtime, else wasm-to-oci]."
    ),
    publisher: Optional[str] = typer.Option(
        None, help="oras | wasm-to-oci: what the release workflow pushes with [default: oras]."
    ),
    license: Optional[str] = typer.Option(None, help="MIT | Apache-2.0 | none [default: MIT]."),
    branch: Optional[str] = typer.Option(None, help="Default branch [default: main]."),
    defaults: bool = typer.Option(False, "--defaults", help="Take the default for every question not given."),
    data_file: Optional[Path] = typer.Option(
        None, "--data-file", help="YAML or JSON answers (the keys of .copier-answers.yml).", dir_okay=False
    ),
    force: bool = typer.Option(
        False, "--force", help="Render into an existing non-empty folder (keeps files the template does not make)."
    ),
) -> None:
    """Create a WebAssembly project: asks what is not given as a flag."""
    from yowasm import console
    from yowasm.project import read_data_file
    from yowasm.questionnaire import resolve_answers
    from yowasm.scaffold import check_destination, create_project

    given = read_data_file(data_file) if data_file else {}
    flags = dict(
        name=name, description=description, author=author, language=language, runtime=runtime,
        krustlet_node=krustlet_node, registry=registry, namespace=namespace, acr_name=acr_name,
        artifact_format=artifact_format, publisher=publisher, license=license, branch=branch,
    )
    given.update({key: value for key, value in flags.items() if value is not None})
    if directory is not None:
        check_destination(directory.absolute(), force=force)
    answers = resolve_answers(
        given,
        directory=directory.absolute() if directory else None,
        use_defaults=defaults,
        ask=console.ask if console.is_interactive() else None,
    )
    scaffold = create_project(answers, directory or Path(answers.name), force=force)
    console.show_scaffold(scaffold)


def main() -> None:
    app(prog_name="yowasm")
