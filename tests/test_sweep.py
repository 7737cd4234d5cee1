"""`hlsdiff sweep`: a real 2-process LocalCluster on a tiny classifier with labels, a 12-point grid (6 precisions x
2 strategies), the front confirmed by real C-simulation builds, a re-run that recomputes nothing, a front config
applied with hls4ml alone, bad grids refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from hlsdiff.cli import main
from hlsdiff.sweep.front import pareto
from hlsdiff.sweep.metrics import auc

PRECISIONS = ['ap_fixed<4,2>', 'ap_fixed<6,3>', 'ap_fixed<8,3>', 'ap_fixed<10,4>', 'ap_fixed<12,5>', 'ap_fixed<16,6>']
GRID = {'precision': PRECISIONS, 'strategy': ['Latency', 'Resource']}
SAMPLES = 96


def _classifier(folder: Path) -> tuple[Path, Path, Path]:
    """Three noisy clusters in 8 features; Dense(8, relu) -> Dense(3, softmax), trained a little."""
    from hlsdiff.trace import stack

    keras = stack.load().keras
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, SAMPLES)
    x = (rng.normal(0, 3.0, (3, 8))[y] + rng.normal(0, 1.0, (SAMPLES, 8))).astype('float32')
    inp = keras.Input((8,), name='inp')
    h = keras.layers.Dense(8, activation='relu', name='fc1')(inp)
    out = keras.layers.Dense(3, activation='softmax', name='out')(h)
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.Adam(0.05), 'sparse_categorical_crossentropy')
    model.fit(x, y, epochs=40, verbose=0)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / 'model.h5')
    np.save(folder / 'x.npy', x)
    np.save(folder / 'y.npy', y)
    return folder / 'model.h5', folder / 'x.npy', folder / 'y.npy'


@pytest.fixture(scope='module')
def classifier(tmp_path_factory):
    return _classifier(tmp_path_factory.mktemp('sweep-model'))


def _sweep(classifier, grid: dict | Path, out: Path, cache_dir: Path, *extra):
    model, x, y = classifier
    if isinstance(grid, dict):
        grid_path = out.parent / f'{out.name}-grid.yml'
        grid_path.write_text(yaml.safe_dump(grid))
        grid = grid_path
    args = ['sweep', model, x, '--grid', grid, '--labels', y, '-o', out, '--cache-dir', cache_dir, '-q', *extra]
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope='module')
def swept(classifier, cache_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp('sweep') / 'out'
    run = _sweep(classifier, GRID, out, cache_dir, '--workers', 2, '--confirm', 2)
    assert run.exit_code == 0, run.stdout + run.stderr
    return out, run


@pytest.mark.slow
@pytest.mark.xdist_group('sweep')
def test_every_point_predicted_with_accuracy_and_cost(swept, classifier):
    from hlsdiff.trace import stack

    out, _ = swept
    frame = pd.read_csv(out / 'points.csv')
    assert len(frame) == 12
    assert set(frame['method']) == {'predicted'}
    assert sorted(zip(frame['precision'], frame['strategy'])) == sorted(
        (p, s) for p in PRECISIONS for s in GRID['strategy'])
    for column in ('accuracy', 'accuracy_framework', 'auc_mean', 'auc.0', 'auc_framework.2', 'top1.out_softmax',
                   'max_abs.out_softmax', 'bops', 'weight_bits'):
        assert frame[column].notna().all(), column
    model, x, y = classifier
    framework = np.argmax(stack.load().keras.models.load_model(model).predict(np.load(x), verbose=0), axis=1)
    assert frame['accuracy_framework'].nunique() == 1
    assert frame['accuracy_framework'][0] == np.mean(framework == np.load(y)) > 0.8
    # BOPs: each Dense's multiplications x its weight bits x its input bits
    for _, row in frame.iterrows():
        fc1 = 8 * 8 * row['bits.fc1.weight'] * row['bits.inp.result']
        head = 8 * 3 * row['bits.out.weight'] * row['bits.fc1_relu.result']
        assert row['bops'] == fc1 + head
    widths = frame.groupby('precision')['bits.fc1.weight'].first()
    assert widths['ap_fixed<4,2>'] == 4 and widths['ap_fixed<16,6>'] == 16
    parquet = pd.read_parquet(out / 'points.parquet')
    assert parquet['key'].tolist() == frame['key'].tolist()
    html = (out / 'report.html').read_text()
    assert html.count('data:image/png;base64,') == 2 and '<table' in html


@pytest.mark.slow
@pytest.mark.xdist_group('sweep')
def test_front_confirmed_by_the_csim_predicted_equal_to_measured(swept):
    out, run = swept
    summary = json.loads((out / 'sweep.json').read_text())
    assert (summary['points'], summary['predicted'], summary['reused']) == (12, 12, 0)
    assert len(summary['confirmed']) == 2 and summary['emulation_bugs'] == []
    for c in summary['confirmed']:
        assert c['method'] == 'csim' and c['point'] in summary['front']
        assert c['predicted'].keys() == c['measured'].keys()
        for name, value in c['predicted'].items():
            assert abs(value - c['measured'][name]) <= 1e-9
        assert c['measured_accuracy'] == pytest.approx(c['predicted_accuracy'], abs=1e-12)
    frame = pd.read_csv(out / 'points.csv')
    assert frame['confirmed'].sum() == 2 and not frame['emulation_bug'].any()
    confirmed = frame[frame['confirmed']]
    assert np.allclose(confirmed['measured.max_abs.out_softmax'], confirmed['max_abs.out_softmax'], rtol=0, atol=1e-9)
    assert sorted(p.name for p in (out / 'front').glob('*.yml')) == [f'{p:03d}.yml' for p in sorted(summary['front'])]
    assert 'equal' in run.stdout and 'EMULATION BUG' not in run.stdout


@pytest.mark.slow
@pytest.mark.xdist_group('sweep')
def test_rerun_reuses_every_point(swept, classifier, cache_dir):
    out, _ = swept
    before = pd.read_csv(out / 'points.csv')
    run = _sweep(classifier, GRID, out, cache_dir, '--workers', 2, '--confirm', 2)
    assert run.exit_code == 0, run.stdout + run.stderr
    summary = json.loads((out / 'sweep.json').read_text())
    assert (summary['points'], summary['predicted'], summary['reused']) == (12, 0, 12)
    after = pd.read_csv(out / 'points.csv')
    assert after['reused'].all()
    figures = [c for c in before.columns if c.startswith(('max_abs.', 'accuracy', 'auc', 'bops', 'measured.'))]
    pd.testing.assert_frame_equal(before[figures], after[figures])


@pytest.mark.slow
@pytest.mark.xdist_group('sweep')
def test_a_front_config_with_hls4ml_alone_gives_the_figures_of_points_csv(swept, classifier, tmp_path):
    from hlsdiff.trace import stack

    out, _ = swept
    model_path, x_path, y_path = classifier
    frame = pd.read_csv(out / 'points.csv').set_index('point')
    point = json.loads((out / 'sweep.json').read_text())['front'][-1]  # the cheapest front point
    config = yaml.safe_load((out / 'front' / f'{point:03d}.yml').read_text())
    s = stack.load()
    model = s.keras.models.load_model(model_path)
    x, y = np.load(x_path), np.load(y_path)
    hls_model = s.hls4ml.converters.convert_from_keras_model(model, hls_config=config, output_dir=str(tmp_path / 'prj'),
                                                             io_type=frame.loc[point, 'io_type'], backend='Vivado')
    hls_model.compile()
    got = np.asarray(hls_model.predict(np.ascontiguousarray(x)), dtype=np.float64).reshape(len(x), -1)
    want = np.asarray(model.predict(x, verbose=0), dtype=np.float64)
    assert abs(np.max(np.abs(got - want)) - frame.loc[point, 'max_abs.out_softmax']) <= 1e-9
    assert np.mean(np.argmax(got, axis=1) == y) == frame.loc[point, 'accuracy']


@pytest.mark.slow
@pytest.mark.xdist_group('sweep')
def test_a_worker_killed_mid_sweep_changes_no_figure(swept, classifier, cache_dir, tmp_path):
    """One of the 2 worker processes killed (SIGKILL) once the first point is stored: Dask runs its task again,
    and every figure equals the undisturbed sweep's."""
    import threading
    import time

    import psutil

    out = tmp_path / 'killed'
    killed: list[tuple[int, int]] = []  # (points stored when killed, pid)

    def kill_one_worker() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not killed:
            stored = len(list((out / 'points').glob('*.json'))) if (out / 'points').is_dir() else 0
            workers = [p for p in psutil.Process().children(recursive=True) if _is_dask_worker(p)] if stored else []
            try:
                if workers:
                    workers[0].kill()
                    workers[0].wait(10)
                    killed.append((stored, workers[0].pid))
            except psutil.Error:  # gone before the kill: the next one
                pass
            time.sleep(0.01)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    run = _sweep(classifier, GRID, out, cache_dir, '--workers', 2, '--confirm', 0)
    killer.join()
    assert run.exit_code == 0, run.stdout + run.stderr
    assert killed and killed[0][0] < 12, killed
    undisturbed = pd.read_csv(swept[0] / 'points.csv')
    after = pd.read_csv(out / 'points.csv')
    assert (after['method'] == 'predicted').all() and not after['reused'].any()
    figures = [c for c in undisturbed.columns if c.startswith(('max_abs.', 'top1.', 'accuracy', 'auc', 'bops', 'bits.'))]
    pd.testing.assert_frame_equal(undisturbed[['point', 'key', *figures, 'front']], after[['point', 'key', *figures, 'front']])


def _is_dask_worker(process) -> bool:
    """A worker process of the local cluster (spawned by multiprocessing); a process that is gone is not one."""
    import psutil

    try:
        return 'spawn_main' in ' '.join(process.cmdline())
    except psutil.Error:
        return False


@pytest.mark.xdist_group('sweep')
@pytest.mark.parametrize('grid, says', [
    ({'precison': ['ap_fixed<8,3>']}, 'precison: not a name a grid takes'),
    ({'precision': []}, 'precision: an empty list'),
    ({'precision': ['ap_fixed<8,3>', 'ap_fixd<8>']}, "'ap_fixd<8>' is not a value hls4ml takes"),
    ({'strategy': ['Latency', 'Fastest']}, "'Fastest' is not a value hls4ml takes"),
    ({'LayerName.fc9.Precision.weight': ['ap_fixed<8,3>']}, 'the model has no layer'),
    ({'LayerName.fc1.Precision.wieght': ['ap_fixed<8,3>']}, 'hls4ml has no Precision.wieght'),
    ({'reuse_factor': [0]}, 'is not a value hls4ml takes'),
])
def test_bad_grid_refused_before_any_work(classifier, tmp_path, grid, says):
    out = tmp_path / 'out'
    run = _sweep(classifier, grid, out, tmp_path / 'cache')
    assert run.exit_code == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], run.stderr
    assert not out.exists()


@pytest.mark.xdist_group('sweep')
def test_api_on_a_given_client_is_silent(classifier, tmp_path, capsys):
    from dask.distributed import Client, LocalCluster

    import hlsdiff
    from hlsdiff.trace import stack

    model_path, x_path, y_path = classifier
    model = stack.load().keras.models.load_model(model_path)
    grid = {'precision': ['ap_fixed<8,3>', 'ap_fixed<12,5>'], 'LayerName.fc1.Precision.weight': ['ap_fixed<6,2>']}
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        frame = hlsdiff.sweep(model, np.load(x_path), grid, labels=np.load(y_path), client=client, confirm=0,
                              out_dir=tmp_path / 'api')
    assert len(frame) == 2 and (frame['bits.fc1.weight'] == 6).all()
    assert frame['accuracy'].notna().all() and set(frame['method']) == {'predicted'}
    captured = capsys.readouterr()
    assert captured.out == '' and captured.err == ''


@pytest.mark.xdist_group('sweep')
def test_scheduler_runs_the_points_on_an_existing_cluster(classifier, tmp_path):
    from dask.distributed import LocalCluster

    grid = {'precision': ['ap_fixed<8,3>', 'ap_fixed<12,5>']}
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        run = _sweep(classifier, grid, tmp_path / 'out', tmp_path / 'cache', '--scheduler', address, '--confirm', 0)
        assert run.exit_code == 0, run.stdout + run.stderr
        both = _sweep(classifier, grid, tmp_path / 'both', tmp_path / 'cache', '--scheduler', address, '--workers', 2)
    summary = json.loads((tmp_path / 'out' / 'sweep.json').read_text())
    assert (summary['points'], summary['predicted']) == (2, 2) and address in summary['cluster']
    assert both.exit_code == 2 and 'give one of them' in both.stderr


@pytest.mark.slow
@pytest.mark.xdist_group('sweep')
def test_a_point_the_emulation_does_not_cover_is_measured_by_the_csim(cache_dir, tmp_path):
    """A hard sigmoid activation (not emulated): the point's figures come from the C-simulation, and the row says
    so."""
    from dask.distributed import Client, LocalCluster

    import hlsdiff
    from hlsdiff.trace import stack

    keras = stack.load().keras
    keras.utils.set_random_seed(5)
    inp = keras.Input((6,), name='inp')
    h = keras.layers.Dense(4, name='fc')(inp)
    h = keras.layers.Activation('hard_sigmoid', name='hard')(h)
    model = keras.Model(inp, keras.layers.Dense(2, name='out')(h))
    x = np.random.default_rng(5).normal(size=(32, 6)).astype('float32')
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        frame = hlsdiff.sweep(model, x, {'precision': ['ap_fixed<16,6>']}, client=client, confirm=0,
                              out_dir=tmp_path / 'out', cache_dir=cache_dir)
    row = frame.iloc[0]
    assert row['method'] == 'csim' and 'not emulated' in row['note'] and 'hard' in row['note'], row['note']
    assert np.isfinite(row['max_abs.out']) and row['bops'] > 0
    summary = json.loads((tmp_path / 'out' / 'sweep.json').read_text())
    assert (summary['csim_fallback'], summary['predicted']) == (1, 0)


def test_a_point_sets_the_options_and_the_config_keys_it_names():
    from hlsdiff.sweep.grid import read_grid
    from hlsdiff.trace.convert import ConvertOptions

    grid = read_grid({'strategy': ['resource'], 'reuse_factor': [4], 'Model.Precision.default': ['ap_fixed<10,4>'],
                      'LayerName.fc1.Precision.weight': ['ap_fixed<6,1>', 'auto'], 'LayerName.out_softmax.TableSize': [2048]})
    points = grid.points()
    assert len(points) == 2 and points[1].value('LayerName.fc1.Precision.weight') == 'auto'
    options = points[0].convert_options(ConvertOptions(precision='ap_fixed<16,6>', granularity='model'))
    assert (options.strategy, options.reuse_factor, options.precision, options.granularity) == \
        ('Resource', 4, 'ap_fixed<16,6>', 'name')
    config = {'Model': {'Precision': 'ap_fixed<16,6>'}, 'LayerName': {'fc1': {'Precision': {'weight': 'auto'}}}}
    points[0].edit(config)
    assert config['Model']['Precision'] == {'default': 'ap_fixed<10,4>'}
    assert config['LayerName']['fc1']['Precision']['weight'] == 'ap_fixed<6,1>'
    assert config['LayerName']['out_softmax']['TableSize'] == 2048


def test_strategies_are_spelt_as_hls4ml_spells_them():
    """The names of hlsdiff/backends.py, distributed_arithmetic in hls4ml's snake case (its passes compare it
    case-sensitively); a strategy hls4ml 1.3.0 does not have is refused."""
    from hlsdiff import backends
    from hlsdiff.errors import BadInput
    from hlsdiff.sweep.grid import read_grid

    grid = read_grid({'strategy': ['latency', 'RESOURCE', 'Distributed_Arithmetic'],
                      'LayerName.fc1.Strategy': ['resource'], 'Model.Strategy': ['distributed_arithmetic']})
    assert grid.to_json()['strategy'] == list(backends.STRATEGIES)
    assert grid.to_json()['LayerName.fc1.Strategy'] == ['Resource']
    assert grid.to_json()['Model.Strategy'] == ['distributed_arithmetic']
    with pytest.raises(BadInput, match="'Unrolled' is not a value hls4ml takes"):
        read_grid({'strategy': ['Unrolled']})


def test_auc_is_the_share_of_positive_negative_pairs_ranked_right():
    rng = np.random.default_rng(0)
    score = np.round(rng.normal(size=200), 1)  # ties
    positive = rng.random(200) < 0.3
    pos, neg = score[positive], score[~positive]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert auc(score, positive) == pytest.approx(pairs / (len(pos) * len(neg)), abs=1e-12)
    assert np.isnan(auc(score, np.zeros(200, dtype=bool)))


def test_pareto_front_keeps_the_points_nothing_beats():
    cost = np.array([1, 2, 2, 3, 4, np.nan])
    merit = np.array([0.5, 0.7, 0.6, 0.7, 0.9, 1.0])
    assert pareto(cost, merit).tolist() == [True, True, False, False, True, False]
