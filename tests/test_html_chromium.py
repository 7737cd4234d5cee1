"""The HTML report in a real headless Chromium: the file loads from disk and the heatmap renders."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars']


def _result(n_layers=6, channels=16):
    rng = np.random.default_rng(0)
    layers = []
    for i in range(n_layers):
        per = (rng.uniform(0, 0.01, channels) * (100 if i >= 3 else 1)).tolist()
        if i == 3:
            per[1::2] = [v * 50 for v in per[1::2]]
        layers.append({'name': f'layer{i}', 'keras': f'layer{i}', 'class': 'Conv2D', 'result_type': 'ap_fixed<16,6>',
                       'shape': [8, 8, channels], 'status': 'mismatch' if i >= 3 else 'ok', 'max_abs': max(per),
                       'mean_abs': float(np.mean(per)), 'rmse': 0.1, 'max_lsb': max(per) * 1024,
                       'mismatched_fraction': 0.5 if i >= 3 else 0.0,
                       'per_channel': {'max_abs': per, 'mean_abs': per},
                       'pattern': {'kind': 'alternating' if i == 3 else 'none', 'channels': [], 'period': None},
                       'cause': 'overflow-wrap' if i == 3 else 'none', 'hint': '', 'reason': ''})
    return {'schema_version': 1, 'hlsdiff_version': '0', 'hls4ml_version': '1.3.0', 'model': 'm.h5',
            'io_type': 'io_stream', 'backend': 'Vivado', 'samples': 4, 'verdict': 'fail', 'exit_code': 1,
            'error': None, 'onset': {'layer': 'layer3', 'cause': 'overflow-wrap', 'pattern': 'alternating'},
            'summary': 'First divergence: layer3 (Conv2D) — overflow wrap.', 'layers': layers}


@pytest.mark.skipif(not CHROMIUM, reason='no chromium on this machine (scripts/test.sh and .ci/run install it)')
def test_heatmap_renders_in_headless_chromium(hlsdiff, tmp_path):
    src = tmp_path / 'r.json'
    src.write_text(json.dumps(_result()))
    page = tmp_path / 'report.html'
    hlsdiff('report', src, '--html', page, code=1)
    html = page.read_text()
    assert 'http://' not in html and 'https://' not in html  # self-contained: nothing to fetch
    png = base64.b64decode(re.search(r'id="heatmap"[^>]*src="data:image/png;base64,([^"]+)"', html).group(1))
    embedded = Image.open(io.BytesIO(png))

    profile = tmp_path / 'profile'
    dom = subprocess.run([CHROMIUM, *FLAGS, f'--user-data-dir={profile}', '--virtual-time-budget=5000', '--dump-dom',
                          page.as_uri()], capture_output=True, text=True, timeout=120)
    layout = re.search(r'data-heatmap="(\d+)x(\d+) (\d+)x(\d+) (\w+)"', dom.stdout)
    assert layout, dom.stdout[-2000:] + dom.stderr[-2000:]
    natural_w, natural_h, shown_w, shown_h, complete = layout.groups()
    assert (int(natural_w), int(natural_h)) == embedded.size  # the browser decoded the embedded PNG
    assert int(shown_w) == embedded.size[0] and int(shown_h) == embedded.size[1] and complete == 'true'

    shot = tmp_path / 'shot.png'
    subprocess.run([CHROMIUM, *FLAGS, f'--user-data-dir={profile}', '--window-size=1400,1600',
                    f'--screenshot={shot}', page.as_uri()], capture_output=True, timeout=120, check=True)
    image = np.asarray(Image.open(shot).convert('RGB'))
    assert image.shape[:2] == (1600, 1400)
    colours = len(np.unique(image.reshape(-1, 3), axis=0))
    dark = (image.sum(axis=2) < 300).mean()  # magma's dark cells
    assert colours > 100 and dark > 0.01, (colours, dark)  # not a blank page: the heatmap is there
