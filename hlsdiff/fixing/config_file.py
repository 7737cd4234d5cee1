"""The config `fix` writes: hls4ml's layout (as its config_from_* writes it), headed by how to use it,
written atomically; an existing file is kept as FILE.bak."""

from __future__ import annotations

from pathlib import Path


def write_config(path: Path, config: dict, usage: list[str], passed: bool) -> None:
    """`config` to `path`; `usage`: the frontend's lines saying how hls4ml takes it (Frontend.config_usage)."""
    import yaml

    from hlsdiff.whatif import yaml_ready

    head = ['# hls4ml config written by hlsdiff fix (as hls4ml\'s config_from_* writes it)', *usage]
    if not passed:
        head.insert(0, '# NOT PASSING: the gate was not reached; this is the best config found')
    body = yaml.safe_dump(yaml_ready(config), sort_keys=False, default_flow_style=False)
    tmp = path.with_name(f'.{path.name}.tmp')
    tmp.write_text('\n'.join(head) + '\n' + body)
    if path.exists():
        backup = path.with_name(path.name + '.bak')
        path.replace(backup)
    tmp.replace(path)

