"""`evalkit github comment RUN_DIR`: the run's summary.md as the one evalkit comment on the pull
request (created, or edited in place on later runs); what the GitHub Action runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

github_app = typer.Typer(help="GitHub: the pull-request comment.", no_args_is_help=True)


@github_app.command("comment")
def comment(
    run_dir: Annotated[Path, typer.Argument(help="The run directory whose summary.md to post.")],
) -> None:
    """Create or update evalkit's one comment on the pull request (GITHUB_TOKEN,
    GITHUB_REPOSITORY and GITHUB_EVENT_PATH as GitHub Actions sets them). A failure is one
    warning and exit 0: the comment never decides the job's outcome."""
    from evalkit.cli.render import console, warn
    from evalkit.integrations import github_comment as gh
    from evalkit.rundir.dir import RunDir

    path = RunDir(run_dir).summary_md_file
    try:
        summary = path.read_text(encoding="utf-8")
    except OSError as exc:
        warn(f"no pull-request comment: cannot read {path}: {exc.strerror or exc}")
        return
    try:
        target = gh.target_from_env()
        action, comment_id = gh.upsert(target, gh.body_of(summary, gh.run_url()))
    except gh.GitHubError as exc:
        warn(f"no pull-request comment: {exc}")
        return
    console.print(
        f"{action} the pull-request comment {comment_id} on {target.repository}#{target.number}",
        markup=False,
        highlight=False,
    )
