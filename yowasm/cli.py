"""The command line: thin commands that read options, call one core function and
render its result. Heavy libraries (copier, prompt_toolkit, wasmtime) are
imported inside the commands so that `--help` and `--version` start fast."""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from yowasm import __version__
from yowasm.errors import Aborted, FileSystemError, YowasmError


class _Group(TyperGroup):
    """Maps yowasm's errors to their message, hint and exit code: the only place that does."""

    def parse_args(self, ctx, args):
        # `yowasm --show-completion zsh`: a word after a completion flag names the shell.
        if len(args) >= 2 and args[0] in _COMPLETION_FLAGS and not args[1].startswith("-"):
            ctx.meta[_SHELL_KEY] = args[1]
            args = [args[0], *args[2:]]
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except YowasmError as error:
            _print_error(error)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:  # core code that writes says what it undid; here nothing is known
            _print_error(Aborted("Aborted."))
            raise typer.Exit(Aborted.exit_code) from None
        except OSError as error:  # a file operation no core function anticipated
            _print_error(FileSystemError.from_os_error(error))
            raise typer.Exit(FileSystemError.exit_code) from None


def _print_error(error: YowasmError) -> None:
    from yowasm import console  # rich: only once there is something to show

    console.print_error(error)


class _DefaultTargetBeforeDoubleDash(TyperCommand):
    """`yowasm run -- ARGS`: a `--` before any module or folder means the default
    target `.`, so ARGS go to the module instead of the first one becoming the target."""

    def parse_args(self, ctx, args):
        takes_value = {name for param in self.params if isinstance(param, TyperOption) and not param.is_flag
                       for name in param.opts}
        index = 0
        while index < len(args):
            token = args[index]
            if token == "--":
                args = [*args[:index], ".", *args[index:]]
                break
            if not token.startswith("-") or token == "-":
                break
            index += 2 if token in takes_value else 1
        return super().parse_args(ctx, args)


class _NewCommand(TyperCommand):
    """`new --help` names the languages, runtimes and Krustlet node kinds as their files
    do: read when the help is shown, not at every start, as reading a default parses
    the files."""

    def format_help(self, ctx, formatter):
        from yowasm.packaged import (default_language_name, default_runtime_name, language_names,
                                     load_packaged_yaml, runtime_file, runtime_names)

        nodes = list(load_packaged_yaml(runtime_file("krustlet"))["nodes"])
        helps = {
            "language": f"{' | '.join(language_names())} [default: {default_language_name()}].",
            "runtime": f"{' | '.join(runtime_names())} [default: {default_runtime_name()}].",
            "krustlet_node": f"{' | '.join(nodes)}, with --runtime krustlet [default: {nodes[0]}].",
        }
        for param in self.params:
            if param.name in helps:
                param.help = helps[param.name]
        return super().format_help(ctx, formatter)


app = typer.Typer(
    cls=_Group,
    name="yowasm",
    help="Start WebAssembly projects and carry them to a registry.",
    no_args_is_help=True,
    add_completion=False,  # the completion options are _root's own (they take a shell)
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"yowasm {__version__}")
        raise typer.Exit()


SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")
_COMPLETION_FLAGS = ("--install-completion", "--show-completion")
_SHELL_KEY = "yowasm.completion_shell"


def _completion(action: str):
    """typer's completion, for the shell named after the flag or else the current one."""

    def callback(ctx: typer.Context, param, value: bool) -> None:
        if not value or ctx.resilient_parsing:
            return
        from typer import completion

        shell = ctx.meta.get(_SHELL_KEY)
        if shell is not None and shell not in SHELLS:
            raise typer.BadParameter(f"{shell!r} is not one of {', '.join(SHELLS)}.", ctx, param)
        completion.completion_init()
        run = completion.show_callback if action == "show" else completion.install_callback
        run(ctx, param, shell or True)

    return callback


def _completion_option(action: str, help: str):
    return typer.Option(False, f"--{action}-completion", callback=_completion(action), expose_value=False,
                        is_eager=True, help=help)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."
    ),
    install_completion: bool = _completion_option(
        "install", "Install completion for the current shell, or the one named after it (bash, zsh, fish)."),
    show_completion: bool = _completion_option(
        "show", "Print the completion script for the current shell, or the one named after it (bash, zsh, fish)."),
) -> None:
    """Start WebAssembly projects and carry them to a registry."""


@app.command(cls=_NewCommand)
def new(
    directory: Optional[Path] = typer.Argument(
        None, help="Folder to create (default: the module name).", show_default=False
    ),
    name: Optional[str] = typer.Option(None, help="Module name [default: the folder name]."),
    description: Optional[str] = typer.Option(None, help="One-line description."),
    author: Optional[str] = typer.Option(None, help="Author [default: git user.name, then $USER]."),
    # These three helps list the language, runtime and node files: written by _NewCommand when shown.
    language: Optional[str] = typer.Option(None, help="The language."),
    runtime: Optional[str] = typer.Option(None, help="The target runtime."),
    krustlet_node: Optional[str] = typer.Option(None, help="The Krustlet node kind."),
    registry: Optional[str] = typer.Option(
        None, help="ghcr | acr | dockerhub | none | HOST[:PORT] [default: ghcr]."
    ),
    namespace: Optional[str] = typer.Option(
        None, help="Owner, organisation or path such as team/wasm [default: the author]."
    ),
    acr_name: Optional[str] = typer.Option(None, help="Registry name, with --registry acr: NAME.azurecr.io."),
    artifact_format: Optional[str] = typer.Option(
        None, help="wasm-to-oci | cncf | spin [default: the one the runtime pulls]."
    ),
    publisher: Optional[str] = typer.Option(
        None, help="oras | wasm-to-oci | spin: what the release workflow pushes with [default: spin for spin, else oras]."
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
    no_install: bool = typer.Option(
        False, "--no-install", help="Do not offer to install the project's dependencies (npm install) in a terminal."
    ),
    no_git: bool = typer.Option(False, "--no-git", help="Make no git repository (default: git init and a first commit)."),
    force_git_init: bool = typer.Option(
        False, "--force-git-init", help="Make a git repository even inside another repository's work tree."
    ),
) -> None:
    """Create a WebAssembly project: asks what is not given as a flag."""
    from yowasm import console
    from yowasm.project import read_data_file
    from yowasm.questionnaire import resolve_answers

    given = read_data_file(data_file) if data_file else {}
    flags = dict(
        name=name, description=description, author=author, language=language, runtime=runtime,
        krustlet_node=krustlet_node, registry=registry, namespace=namespace, acr_name=acr_name,
        artifact_format=artifact_format, publisher=publisher, license=license, branch=branch,
    )
    given.update({key: value for key, value in flags.items() if value is not None})
    interactive = console.is_interactive()
    if directory is not None or not interactive or defaults:
        # Imported now unless a question comes first: a head-start renderer waits for
        # create_project's request, and a first question needs nothing of it.
        import yowasm.scaffold  # noqa: F401
    if directory is not None:
        from yowasm.scaffold import check_destination

        check_destination(directory.absolute(), force=force)
    answers = resolve_answers(
        given,
        directory=directory.absolute() if directory else None,
        use_defaults=defaults,
        ask=console.ask if interactive else None,
    )
    from yowasm.scaffold import create_project

    scaffold = create_project(answers, directory or Path(answers.name), force=force)
    git = None
    if not no_git:
        from yowasm.vcs import init_repository

        git = init_repository(scaffold.destination, scaffold.files, branch=answers.branch,
                              inside_work_tree_ok=force_git_init)
    if interactive and not no_install:
        scaffold = _install_dependencies(scaffold, git, ask=not defaults)
    console.show_scaffold(scaffold, git=git)


def _install_dependencies(scaffold, git, *, ask: bool):
    """Run the language's setup step (npm install) in the new project when the user
    agrees (the default): only in a terminal, and only when its tool is installed."""
    import dataclasses
    import shlex
    import shutil

    from yowasm import console
    from yowasm.build import set_up
    from yowasm.errors import ToolError
    from yowasm.project import Project

    project = Project(scaffold.destination, scaffold.answers)
    command = project.facts.setup
    if not command or shutil.which(shlex.split(command)[0]) is None:
        return scaffold
    try:
        if ask and not console.confirm(f"Install the dependencies now ({command})?"):
            return scaffold
        set_up(project)
    except (Aborted, KeyboardInterrupt):
        raise Aborted(f"Aborted: the project is in {scaffold.display_path}, without its dependencies "
                      f"(run `{command}` there).") from None
    except ToolError as error:
        console.show_scaffold(scaffold, git=git)
        raise ToolError(f"{error.message} The project was created; run `{command}` in it again.",
                        hint=error.hint) from None
    return dataclasses.replace(scaffold, set_up=True)


@app.command()
def update(
    project: Path = typer.Argument(Path("."), help="Project folder.", show_default="."),
    data: Optional[list[str]] = typer.Option(
        None, "--data", "-d", help="Change an answer: KEY=VALUE, keys as in .copier-answers.yml; repeatable."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; write nothing."),
) -> None:
    """Bring a project up to the installed templates (or changed answers), keeping your edits."""
    from yowasm import console
    from yowasm.argtypes import parse_pairs
    from yowasm.updating import update_project

    changes = dict(parse_pairs(data or [], "--data", "registry=ghcr"))
    console.show_update(update_project(project, data=changes, dry_run=dry_run))


def _build_if_stale(project) -> None:
    """Build unless the build tool would find nothing to do, the tool's output and the
    result on stderr (stdout is for something else)."""
    from yowasm import build_record
    from yowasm.build import ensure_built

    result = ensure_built(project)
    if result.commands:
        from yowasm import console

        console.show_built(result, stderr=True)
    build_record.remember(project, result)


@app.command()
def build(
    project: Path = typer.Argument(Path("."), help="Project folder.", show_default="."),
) -> None:
    """Build the project's release module with its own build command (unless no file
    of the project is newer than the module)."""
    from yowasm import build_record, console
    from yowasm.build import build_project, current_build
    from yowasm.project import load_project

    loaded = load_project(project)
    result = current_build(loaded) or build_project(loaded)
    build_record.remember(loaded, result)
    console.show_built(result)


@app.command(cls=_DefaultTargetBeforeDoubleDash, context_settings={"allow_interspersed_args": False})
def run(
    target: Path = typer.Argument(Path("."), help="Module (.wasm) or project folder.", show_default="."),
    args: Optional[list[str]] = typer.Argument(None, help="Arguments for the module: everything after the module (options go before it; -- is optional).", show_default=False),
    env: Optional[list[str]] = typer.Option(None, "--env", "-e", help="K=V environment variable; repeatable."),
    dir: Optional[list[str]] = typer.Option(
        None, "--dir", help="HOST[:GUEST] folder the module may use; repeatable."
    ),
) -> None:
    """Run a WASI module with wasmtime; its exit code becomes yowasm's."""
    from yowasm.argtypes import parse_dir, parse_env
    from yowasm.runner import run_module

    args = list(args or [])
    if args[:1] == ["--"]:  # options stop at the module, so `--` arrives as an argument
        args = args[1:]
    variables = parse_env(env or [])
    preopens = [parse_dir(value) for value in dir or []]
    module = target
    if target.is_dir():
        from yowasm.build_record import current_module

        current = current_module(str(target))  # without reading the project, when a record can tell
        if current:
            module = Path(current[0])
        else:
            from yowasm.project import load_project

            project = load_project(target)
            _build_if_stale(project)
            module = project.module_path
    sys.stdout.flush()
    raise typer.Exit(run_module(module, args, env=variables, dirs=preopens))


@app.command()
def doctor(
    project: Optional[Path] = typer.Argument(
        None, help="Project folder (default: the current folder if it is a project, else every language).",
        show_default=False,
    ),
) -> None:
    """Check the tools each language needs and say how to install what is missing."""
    from yowasm import console
    from yowasm.doctor import diagnose
    from yowasm.project import ANSWERS_FILE, load_project

    if project is None and (Path(".") / ANSWERS_FILE).is_file():
        project = Path(".")
    diagnosis = diagnose(load_project(project) if project is not None else None)
    console.show_diagnosis(diagnosis)
    if diagnosis.project_incomplete:
        raise typer.Exit(1)


_PLAIN_HTTP = typer.Option(
    False, "--plain-http",
    help="Use HTTP, not HTTPS (this machine only, unless --insecure; a registry on this machine that "
    "answers HTTPS in plain HTTP is reached over HTTP without it). Same as writing http://HOST.",
)
_INSECURE = typer.Option(False, "--insecure", help="Skip TLS verification; allow --plain-http to other hosts.")
_CA_FILE = typer.Option(None, "--ca-file", help="CA certificate (PEM) to verify the registry with.", dir_okay=False)


@app.command()
def publish(
    module: Optional[Path] = typer.Argument(None, help="Module (default: the project's build/NAME.wasm).", show_default=False),
    reference: Optional[str] = typer.Argument(
        None, help="[http://]HOST/NAMESPACE/NAME[:TAG] (default: the project's registry reference).", show_default=False
    ),
    tag: Optional[str] = typer.Option(None, "--tag", help="Tag [default: the git tag of HEAD, else latest]."),
    artifact_format: Optional[str] = typer.Option(
        None, "--artifact-format", help="wasm-to-oci | cncf [default: the project's, else wasm-to-oci]."
    ),
    annotation: Optional[list[str]] = typer.Option(None, "--annotation", help="K=V manifest annotation; repeatable."),
    plain_http: bool = _PLAIN_HTTP,
    insecure: bool = _INSECURE,
    ca_file: Optional[Path] = _CA_FILE,
) -> None:
    """Push a module to an OCI registry and print its reference and digest."""
    from yowasm import console
    from yowasm.argtypes import parse_annotations
    from yowasm.startup import imports_uncollected

    with imports_uncollected("yowasm.transfer"):  # the registry client's modules: no garbage, much to collect
        from yowasm.publishing import connection_for, plan_publish
        from yowasm.transfer import publish as push

    annotations = parse_annotations(annotation or [])
    plan = plan_publish(module, reference, tag=tag, artifact_format=artifact_format, folder=Path("."))
    connection = connection_for(plan.reference, plain_http=plain_http, insecure=insecure, ca_file=ca_file)
    if plan.project is not None and module is None:
        _build_if_stale(plan.project)
    with console.transfer_progress(f"Pushing {plan.module.name}") as progress:
        published = push(plan.module, plan.reference, connection, layout=plan.layout,
                         annotations=annotations, progress=progress)
    console.show_published(published)


@app.command()
def pull(
    reference: str = typer.Argument(..., help="[http://]HOST/NAMESPACE/NAME[:TAG|@DIGEST] (tag default: latest)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="File to write [default: NAME.wasm]."),
    plain_http: bool = _PLAIN_HTTP,
    insecure: bool = _INSECURE,
    ca_file: Optional[Path] = _CA_FILE,
) -> None:
    """Fetch a module (either OCI layout), verify its digests, write it atomically."""
    from yowasm import console
    from yowasm.publishing import connection_for
    from yowasm.reference import Reference
    from yowasm.transfer import pull as fetch

    parsed = Reference.parse(reference)
    connection = connection_for(parsed, plain_http=plain_http, insecure=insecure, ca_file=ca_file)
    target = output or Path(parsed.repository.rsplit("/", 1)[-1] + ".wasm")
    console.show_pulled(fetch(parsed, target, connection))


@app.command()
def login(
    host: str = typer.Argument(..., help="Registry [http(s)://]HOST[:PORT], e.g. ghcr.io."),
    username: Optional[str] = typer.Option(None, "--username", "-u", help="User name (asked if missing)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password or token from stdin."),
    no_verify: bool = typer.Option(False, "--no-verify", help="Store without asking the registry to check them."),
    plain_http: bool = _PLAIN_HTTP,
    insecure: bool = _INSECURE,
    ca_file: Optional[Path] = _CA_FILE,
) -> None:
    """Check registry credentials and store them in the Docker config file (also used by
    docker, oras, skopeo)."""
    from yowasm import console
    from yowasm.credentials import Credentials
    from yowasm.errors import UsageError
    from yowasm.argtypes import parse_login_host
    from yowasm.publishing import log_in
    from yowasm.text import shell_command

    registry, scheme = parse_login_host(host)
    plain_http = plain_http or scheme == "http"
    if username is None:
        if not console.is_interactive():
            example = shell_command("yowasm", "login", host, "--username", "octocat", "--password-stdin")
            raise UsageError("Missing --username.", hint=f"Example: echo \"$TOKEN\" | {example}")
        username = console.ask_text("Username")
    if password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
    elif console.is_interactive():
        password = console.ask_secret("Password or token")
    else:
        raise UsageError("No terminal to ask for the password.", hint="Pass it on stdin with --password-stdin.")
    if not username or not password:
        raise UsageError("The user name and password must not be empty.", hint="Example: yowasm login ghcr.io -u octocat --password-stdin")
    console.show_logged_in(log_in(registry, Credentials(username, password), verify=not no_verify,
                                  plain_http=plain_http, insecure=insecure, ca_file=ca_file,
                                  https_only=scheme == "https"))


@app.command()
def logout(
    host: str = typer.Argument(..., help="Registry HOST[:PORT], e.g. ghcr.io."),
) -> None:
    """Forget the credentials stored for a registry (in the Docker config file or its
    credential helper)."""
    from yowasm import console
    from yowasm.argtypes import parse_login_host
    from yowasm.publishing import log_out

    console.show_logged_out(log_out(parse_login_host(host)[0]))


@app.command()
def serve(
    target: Path = typer.Argument(Path("."), help="Project folder, modules.toml, or a module (.wasm).", show_default="."),
    listen: str = typer.Option("127.0.0.1:3000", "--listen", help="HOST:PORT to listen on."),
    env: Optional[list[str]] = typer.Option(None, "--env", "-e", help="K=V for every module; repeatable."),
    env_file: Optional[Path] = typer.Option(None, "--env-file", help="File of K=V lines for every module.", dir_okay=False),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds a request may run before a 504.", min=0.05),
    max_body: int = typer.Option(10 * 1024 * 1024, "--max-body", help="Largest request body in bytes, chunked or not (else 413).", min=0),
    max_response: str = typer.Option("16MiB", "--max-response", help="Most output a handler may write (else 502, and it is stopped); bytes or KiB/MiB/GiB."),
    max_memory: str = typer.Option("256MiB", "--max-memory", help="Most linear memory one handler instance may grow to; bytes or KiB/MiB/GiB."),
    head_timeout: float = typer.Option(10.0, "--head-timeout", help="Seconds a client has to send a request's headers.", min=0.1),
    idle_timeout: float = typer.Option(5.0, "--idle-timeout", help="Seconds an idle keep-alive connection stays open.", min=1),
    body_timeout: float = typer.Option(30.0, "--body-timeout", help="Seconds a client has to send a request's body (else 408).", min=0.1),
    max_connections: int = typer.Option(1000, "--max-connections", help="Open connections per worker (else 503); lowered to what the file-descriptor limit allows.", min=1),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes serving the same socket.", show_default="number of cores", min=1),
    watch: bool = typer.Option(False, "--watch", help="Rebuild and reload a project when its sources change."),
    plain_http: bool = _PLAIN_HTTP,
    insecure: bool = _INSECURE,
    ca_file: Optional[Path] = _CA_FILE,
) -> None:
    """Serve WAGI handlers over HTTP (a project is built first if needed)."""
    from yowasm import console
    from yowasm.errors import UsageError
    from yowasm.gateway import Settings
    from yowasm.argtypes import parse_env, parse_listen, parse_size
    from yowasm.server import Limits
    from yowasm.server import serve as run_server
    from yowasm.serving import oci_fetcher, routes_for
    from yowasm.serving import watch as watch_project
    from yowasm.wagi import parse_env_file

    address = parse_listen(listen)
    limits = Limits(head_timeout=head_timeout, idle_timeout=idle_timeout, body_timeout=body_timeout,
                    max_connections=max_connections, **({"workers": workers} if workers else {}))
    variables = [*(parse_env_file(env_file) if env_file else []), *parse_env(env or [])]
    settings = Settings(env=tuple(variables), timeout=timeout, max_body=max_body,
                        max_response=parse_size(max_response, "--max-response"),
                        max_memory=parse_size(max_memory, "--max-memory"))
    routes, project = routes_for(target)
    if watch and project is None:
        raise UsageError("--watch needs a project folder (it rebuilds from the sources).",
                         hint="Example: yowasm serve . --watch")
    if project is not None:
        _build_if_stale(project)

    def start_watching(reload_all, stopped) -> None:
        watch_project(project, reload_all, log=console.log_line, stopped=stopped)

    run_server(routes, settings, limits, address, log_error=console.log_line, access_logger=console.access_logger,
               fetch_oci=oci_fetcher(plain_http=plain_http, insecure=insecure, ca_file=ca_file),
               reload_routes=(lambda: routes_for(project.root)[0]) if project else None,
               on_serving=start_watching if watch else None, on_ready=console.show_serving)


def main() -> None:
    if "_YOWASM_COMPLETE" in os.environ:  # a shell asks for completions
        from typer.completion import completion_init

        completion_init()
        app(prog_name="yowasm")
        return
    _app_for(sys.argv[1:])(prog_name="yowasm")


def _app_for(args: list[str]) -> typer.Typer:
    """The app with only the command ARGS name first, when they do: typer builds every
    command it holds (reading each signature) before it looks at the arguments, and the
    others play no part in running one. Anything else (--help, --version, a mistyped
    command that wants suggestions) gets the whole app."""
    if args in ([], ["--help"], ["-h"]):
        return _listing()
    chosen = [info for info in app.registered_commands if args and _command_name(info) == args[0]]
    if not chosen:
        return app
    single = copy.copy(app)
    single.registered_commands = chosen
    return single


def _listing() -> typer.Typer:
    """The app as `yowasm --help` shows it: each command's name and help, but not its
    parameters, which the list does not show and typer would read from every
    signature."""
    import inspect

    listing = copy.copy(app)
    listing.registered_commands = []
    for info in app.registered_commands:
        listed = copy.copy(info)
        listed.name, listed.cls, listed.callback = _command_name(info), None, _listed
        listed.help = info.help or inspect.getdoc(info.callback)
        listing.registered_commands.append(listed)
    return listing


def _listed() -> None:
    """A command as the root help lists it (never run)."""


def _command_name(info) -> str:
    return info.name or info.callback.__name__.lower().replace("_", "-")
