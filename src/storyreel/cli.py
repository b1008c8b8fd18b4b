"""The command line: thin commands over :class:`storyreel.Studio`. Errors are one clear line and a non-zero exit."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from storyreel.errors import StoryreelError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="storyreel: from an idea, notes or a screenplay to a storyboard and a story reel.")
out = Console()
err = Console(stderr=True)

DataDir = typer.Option(None, "--data-dir", help="Data directory (default: $STORYREEL_DATA or ./data).")
ConfigOpt = typer.Option(None, "--config", help="Provider configuration file (default: DATA/storyreel.toml).")


def _studio(data_dir: Path | None, config: Path | None = None):
    from storyreel.studio import Studio

    return Studio(data_dir, config_path=config)


def command(fn):
    """Run a command; StoryreelError and bad files become one line on stderr and exit 1, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StoryreelError as e:
            err.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except BrokenPipeError:  # `storyreel ... | head`
            sys.stderr.close()
            raise typer.Exit(0) from None
        except KeyboardInterrupt:
            err.print("interrupted: finished work is saved; run again to resume")
            raise typer.Exit(130) from None
        except typer.Exit:
            raise
        except Exception as e:  # a bug: say so in one line, keep the traceback for --debug
            if os.environ.get("STORYREEL_DEBUG"):
                raise
            err.print(f"[red]error:[/red] unexpected {type(e).__name__}: {e} (set STORYREEL_DEBUG=1 for details)",
                      highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def _shown(path) -> str:
    """A path as the user can use it: relative to where they are when it is below, absolute otherwise."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def _read_text(path: Path, what: str) -> str:
    from storyreel.errors import InputError
    from storyreel.inputs.documents import DocumentError, read_text_file

    try:
        return read_text_file(path)
    except DocumentError as e:
        raise InputError(f"{what} {e}") from None


def _run_with_progress(studio, name: str, until: str | None, engine: str | None) -> dict:
    from storyreel.engine.events import Events

    events = Events()
    quiet = not sys.stderr.isatty() or os.environ.get("CI")
    with Progress(TextColumn("[bold]{task.fields[project]}[/bold]"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.description}"), console=err, transient=False,
                  disable=bool(quiet)) as bar:
        task = bar.add_task("", total=None, project=name)

        def on(p):
            if p.event == "node-failed":
                err.print(f"[yellow]failed:[/yellow] {p.node}: {p.message}", highlight=False)
            if p.total:
                running = ", ".join(p.running[:3]) + (" …" if len(p.running) > 3 else "")
                bar.update(task, total=p.total, completed=p.done, description=running)

        events.subscribe(on)
        engine = engine or os.environ.get("STORYREEL_ENGINE") or "local"
        if engine == "celery":
            from storyreel.engine.distributed import run_celery

            result = run_celery(studio.data_dir, name, until=until, events=events)
        elif engine == "local":
            result = studio.run(name, until=until, events=events)
        else:
            from storyreel.errors import InputError

            raise InputError(f"unknown engine {engine!r}: use local or celery")
    return result


@app.command()
@command
def new(name: str = typer.Argument(..., help="Project name: lowercase letters, digits, - and _."),
        prompt: str = typer.Option("", "--prompt", "-p", help="What the film is about."),
        script: Path | None = typer.Option(None, "--script", help="A Fountain screenplay (skip to script)."),
        doc: list[Path] = typer.Option([], "--doc", help="Notes with ## Plot, ## Characters... sections."),
        duration: float | None = typer.Option(None, "--duration", help="Target length in seconds (default 30)."),
        aspect: str = typer.Option("16:9", "--aspect", help="16:9, 9:16 or 1:1."),
        style: str = typer.Option("", "--style", help="Written style description."),
        rule: list[str] = typer.Option([], "--rule", help="A story rule every generation must obey."),
        data_dir: Path | None = DataDir):
    """Create a project."""
    studio = _studio(data_dir)
    text = _read_text(script, "screenplay") if script else None
    docs = [(p.name, _read_text(p, "document")) for p in doc]
    made = studio.create(name, prompt, script=text, documents=docs, duration=duration, aspect=aspect, style=style,
                         rules=rule)
    out.print(f"created {made} in {studio.project_dir(made)}")


@app.command()
@command
def run(name: str, until: str | None = typer.Option(None, "--until", help="Stop after this stage."),
        engine: str | None = typer.Option(None, "--engine", help="local (default) or celery."),
        data_dir: Path | None = DataDir, config: Path | None = ConfigOpt):
    """Run a project (resumes where it stopped)."""
    studio = _studio(data_dir, config)
    result = _run_with_progress(studio, name, until, engine)
    st = studio.status(name)
    out.print(f"{name}: {len(result['ran'])} ran, {len(result['reused'])} reused; stage {st['stage']}, "
              f"{st['progress']:.0f}%")
    if "final" in st["outputs"]:
        print(f"final: {_shown(st['outputs']['final'])}")


@app.command()
@command
def status(name: str, as_json: bool = typer.Option(False, "--json"), data_dir: Path | None = DataDir,
           config: Path | None = ConfigOpt):
    """Where a project stands."""
    st = _studio(data_dir, config).status(name)
    if as_json:
        print(json.dumps(st, indent=2))
        return
    out.print(f"[bold]{st['project']}[/bold]: stage {st['stage']}, {st['progress']:.0f}% "
              f"({st['nodes']['done']}/{st['nodes']['total']} nodes)" + (" — running" if st["running"] else ""))
    out.print("  " + ", ".join(f"{v} {k}" for k, v in st["counts"].items()))
    for f in st["failed"]:
        out.print(f"  [red]failed[/red] {f['node']}: {f['error']}", highlight=False)
    for k, v in st["outputs"].items():
        out.print(f"  {k}: {v}")


@app.command()
@command
def plan(name: str, as_json: bool = typer.Option(False, "--json"), data_dir: Path | None = DataDir,
         config: Path | None = ConfigOpt):
    """Every node with its step, item, state and cache key."""
    nodes = _studio(data_dir, config).plan(name)
    if as_json:
        print(json.dumps([{k: n[k] for k in ("node", "step", "item", "stage", "state", "key")} for n in nodes],
                         indent=2))
        return
    t = Table("node", "stage", "state", "key")
    for n in nodes:
        t.add_row(n["node"], n["stage"], n["state"], (n["key"] or "")[:12])
    out.print(t)


@app.command()
@command
def show(name: str, node: str, data_dir: Path | None = DataDir):
    """The prompt, model, attempts, cost and output of a node's job."""
    info = _studio(data_dir).show(name, node)
    print(json.dumps(info, indent=2, ensure_ascii=False, default=str))


@app.command()
@command
def choose(name: str, step: str, option: int, data_dir: Path | None = DataDir):
    """Choose option N (1-3) of lore or treatment; what follows becomes stale."""
    v = _studio(data_dir).choose(name, step, option)
    out.print(f"{name}: {step} option {option} chosen (version {v}); run again to update what follows")


@app.command()
@command
def edit(name: str, field_path: str, value: str, data_dir: Path | None = DataDir):
    """Set one field of the Film (JSON or text), e.g. scenes.s01.script.action "..."."""
    v = _studio(data_dir).edit(name, field_path, value)
    out.print(f"{name}: {field_path} set (version {v})")


@app.command()
@command
def lock(name: str, stage: str, data_dir: Path | None = DataDir):
    """Lock a stage (the stage before it must be locked)."""
    locks = _studio(data_dir).lock(name, stage)
    out.print(f"{name}: locked {', '.join(locks)}")


@app.command()
@command
def unlock(name: str, stage: str, new_name: str | None = typer.Option(None, "--as", help="Branch name."),
           data_dir: Path | None = DataDir):
    """Unlock a stage: creates a branch, leaving the original intact."""
    b = _studio(data_dir).unlock(name, stage, new_name)
    out.print(f"{name}: {stage} unlocked on a new branch {b}")


@app.command()
@command
def branch(name: str, new_name: str, at: int | None = typer.Option(None, "--at", help="Version number."),
           data_dir: Path | None = DataDir):
    """Branch a project at a version (default: the latest)."""
    b = _studio(data_dir).branch(name, new_name, at=at)
    out.print(f"{b}: branch of {name}")


@app.command()
@command
def versions(name: str, data_dir: Path | None = DataDir):
    """The versions of a project's Film."""
    for v in _studio(data_dir).versions(name):
        out.print(f"{v['version']:>5}  {v['note']}", highlight=False)


@app.command()
@command
def projects(data_dir: Path | None = DataDir):
    """List projects (branches with their parent)."""
    for p in _studio(data_dir).projects():
        parent = f"  (branch of {p['parent']} v{p['parent_version']})" if p["parent"] else ""
        out.print(f"{p['name']}{parent}", highlight=False)


@app.command()
@command
def export(name: str, fmt: str = typer.Option("json", "--format", help="json, pdf, otio, srt, fountain or all."),
           output: Path | None = typer.Option(None, "--output", "-o", help="File to write (json: default stdout)."),
           data_dir: Path | None = DataDir):
    """Export the Film (json), the storyboard (pdf), the timeline (otio), subtitles (srt) or the script."""
    studio = _studio(data_dir)
    if fmt == "json" and output is None:
        print(studio.export_json(name))
        return
    from storyreel.export import bundle

    for p in bundle.export(studio, name, fmt, output):
        print(_shown(p))


@app.command()
@command
def check(name: str, as_json: bool = typer.Option(False, "--json"), data_dir: Path | None = DataDir):
    """Continuity check; non-zero exit on any finding."""
    from storyreel.check import check as run_check

    findings = run_check(_studio(data_dir), name)
    if as_json:
        print(json.dumps({"project": name, "findings": findings, "ok": not findings}, indent=2))
    else:
        for f in findings:
            out.print(f"{f['kind']}: {f['item']}: {f['message']}", highlight=False)
        out.print("continuity: ok" if not findings else f"{len(findings)} findings")
    if findings:
        raise typer.Exit(1)


@app.command()
@command
def providers(data_dir: Path | None = DataDir, config: Path | None = ConfigOpt,
              as_json: bool = typer.Option(False, "--json")):
    """Which provider chain each step will use, and what is missing."""
    from storyreel.engine.core import make_router

    studio = _studio(data_dir, config)
    rows = make_router(studio.store, None, config).describe()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    t = Table("step", "kind", "chain", "runs on")
    for r in rows:
        chain = " → ".join(f"{c['provider']}:{c['model']}" + ("" if c["ready"] else f" ({c['missing']})")
                           for c in r["chain"])
        t.add_row(r["step"], r["kind"], chain, str(r.get("runs", "")))
    out.print(t)


@app.command()
@command
def make(prompt: str, duration: float = typer.Option(30.0, "--duration"), name: str | None = typer.Option(None,
         "--name"), aspect: str = typer.Option("16:9", "--aspect"), style: str = typer.Option("", "--style"),
         rule: list[str] = typer.Option([], "--rule"), data_dir: Path | None = DataDir,
         config: Path | None = ConfigOpt):
    """New + run + export in one command: a prompt in, a final MP4 out."""
    from storyreel.export import bundle

    studio = _studio(data_dir, config)
    made = studio.create(name, prompt, duration=duration, aspect=aspect, style=style, rules=rule)
    out.print(f"created {made}")
    _run_with_progress(studio, made, None, None)
    paths = bundle.export(studio, made, "all", None)
    film = studio.film(made)
    if film.sound and film.sound.voice:
        out.print(f"dialogue: {film.sound.voice}" + ("" if film.sound.voice != "silent (subtitles)" else
                                                     " — install espeak-ng to hear it (see README)"))
    for p in paths:
        print(f"  {_shown(p)}")
    print(f"final: {_shown(studio.project_dir(made) / film.cut.final)}")


@app.command()
@command
def serve(host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8000, "--port"),
          data_dir: Path | None = DataDir):
    """Start the web studio."""
    from storyreel.studio import default_data_dir
    from storyreel.web.app import serve as run_server

    run_server(data_dir or default_data_dir(), host=host, port=port)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@command
def worker(ctx: typer.Context):
    """Start a Celery worker (STORYREEL_BROKER_URL, STORYREEL_DATABASE_URL, STORYREEL_DATA)."""
    from storyreel.engine.celery_app import worker_main

    worker_main(list(ctx.args))


def main() -> None:
    logging.basicConfig(level=os.environ.get("STORYREEL_LOG", "WARNING"), format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
