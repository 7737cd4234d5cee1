"""repro.py: one template for every framework (hls4ml + the framework + numpy; PyYAML comes with hls4ml).

A frontend fills in how its model is loaded and run (`model`), how hls4ml converts it (`convert`) and
the input hls4ml's C-simulation takes (`x_in`); the C-simulation in a child process and the comparison
are the same for all.
"""

from __future__ import annotations

from dataclasses import dataclass

from hlsdiff.repro.frontend import ScriptFacts

SCRIPT = '''"""{title}

Run: python repro.py   (exit 1: the defect shows; exit 0: it does not)
"""
import os
import shutil
import sys
import tempfile

{env}
import numpy as np
import yaml
{imports}
import hls4ml

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = {tol!r}  # the layer's rounding bound (4 LSB of its result type, or 5% of its range)
cfg = yaml.safe_load(open(os.path.join(HERE, 'config.yml')))
x = np.load(os.path.join(HERE, 'data.npy'))
{model}prj = tempfile.mkdtemp(prefix='hls4ml-repro-')
{convert}hls_model.write()
{extra}hls_model._compile()  # compile() would write the project again
pid = os.fork()  # the C-simulation in a child: a C++ assert that aborts it is an answer, not a crash
if pid == 0:
    np.save(os.path.join(prj, 'got.npy'), hls_model.predict(np.ascontiguousarray({x_in})))
    os._exit(0)
status = os.waitpid(pid, 0)[1]
if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
    how = f'signal {{os.WTERMSIG(status)}}' if os.WIFSIGNALED(status) else f'exit {{os.WEXITSTATUS(status)}}'
    print(f'DEFECT: the C-simulation aborted ({{how}}); {label} computes the layer')
    shutil.rmtree(prj, ignore_errors=True)
    sys.exit(1)
got = np.load(os.path.join(prj, 'got.npy')).astype(np.float64).reshape(expected.shape)
err = np.abs(got - expected)
print('channel  max |{label} - hls4ml|')
for c, e in enumerate(err.reshape(-1, err.shape[-1]).max(axis=0)):
    print(f'{{c:7d}}  {{e:.4g}}')
i = tuple(int(v) for v in np.unravel_index(int(np.argmax(err)), err.shape))  # plain ints when printed
print(f'worst at {{i}}: expected ({label}) {{expected[i]:.6g}}, got (hls4ml) {{got[i]:.6g}}')
if len(sys.argv) > 1:
    np.savez(sys.argv[1], x=x, expected=expected, got=got)
shutil.rmtree(prj, ignore_errors=True)
share = float((err > TOL).mean())
if share > 0.01:
    print(f'DEFECT: {{share:.1%}} of the outputs differ from {label} by more than {{TOL:.3g}} (max {{err.max():.4g}})')
    sys.exit(1)
print(f'OK: hls4ml matches {label} within {{TOL:.3g}}')
'''

KERNELS = '''kernels = os.path.join(HERE, 'nnet_utils')  # the edited kernel headers of the project
for name in os.listdir(kernels):
    shutil.copy(os.path.join(kernels, name), os.path.join(prj, 'firmware', 'nnet_utils', name))
'''

WEIGHTS = '''for name, layer, var in {weights!r}:  # the project's edited weights files, as this project names them
    shutil.copy(os.path.join(HERE, 'weights', name),
                os.path.join(prj, 'firmware', 'weights', f'{{var}}{{hls_model.graph[layer].index}}.txt'))
'''


@dataclass(frozen=True)
class Parts:
    """What a framework writes into repro.py: statements end with a newline."""

    label: str  # 'Keras', 'PyTorch', 'ONNX': the reference the outputs are compared with
    env: str  # set before the imports (a comment when nothing is)
    imports: str
    model: str  # loads `model` from HERE and computes `expected` from `x`, in hls4ml's output layout
    convert: str  # `hls_model = hls4ml.converters...(..., output_dir=prj)`
    x_in: str = 'x'  # what the C-simulation is given


def render(facts: ScriptFacts, parts: Parts) -> str:
    extra = (KERNELS if facts.kernels else '') + (WEIGHTS.format(weights=list(facts.weights)) if facts.weights else '')
    return SCRIPT.format(title=facts.title, env=parts.env, imports=parts.imports, tol=float(f'{facts.tolerance:.6g}'),
                         model=parts.model.format(model_file=facts.model_file), convert=parts.convert, extra=extra,
                         x_in=parts.x_in, label=parts.label)
