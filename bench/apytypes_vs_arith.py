"""The emulation's fixed-point arithmetic (hlsdiff/emulate/arith.py, integer numpy) against apytypes.

Exactness: the same doubles cast to every ap_fixed mode hls4ml writes, and a multiply-accumulate
of the kind a Dense layer does (each product cast to accum_t, summed, cast to the result).
Speed: both on the same arrays. apytypes is not a dependency of hlsdiff: run this with it
installed (`pip install apytypes`), e.g. in a scratch environment:

    python -m venv /tmp/apy && /tmp/apy/bin/pip install apytypes 'numpy<2'
    PYTHONPATH=. /tmp/apy/bin/python bench/apytypes_vs_arith.py
"""

from __future__ import annotations

import time

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.kernels import mac
from hlsdiff.fixedpoint import FixedType, parse_type

try:
    import apytypes as apy
except ImportError:  # pragma: no cover
    raise SystemExit('apytypes is not installed: pip install apytypes') from None

Q = {'TRN': 'TRN', 'TRN_ZERO': 'TRN_ZERO', 'RND': 'RND', 'RND_ZERO': 'RND_ZERO', 'RND_INF': 'RND_INF',
     'RND_MIN_INF': 'RND_MIN_INF', 'RND_CONV': 'RND_CONV'}
O = {'WRAP': 'WRAP', 'SAT': 'SAT'}  # apytypes has no AP_SAT_ZERO or AP_SAT_SYM



def apy_cast(values: np.ndarray, t: FixedType) -> np.ndarray:
    # a wide exact representation first, then apytypes' cast with the type's modes
    wide = apy.APyFixedArray.from_float(values, int_bits=t.integer + 40, frac_bits=t.fractional + 60)
    if not t.signed:
        raise ValueError('apytypes has no unsigned fixed-point type')
    if t.saturation not in O:
        raise ValueError(f'apytypes has no AP_{t.saturation} overflow mode')
    out = wide.cast(int_bits=t.integer, frac_bits=t.fractional, quantization=getattr(apy.QuantizationMode, Q[t.rounding]),
                    overflow=getattr(apy.OverflowMode, O[t.saturation]))
    return np.asarray(out.to_numpy(), dtype=np.float64)


def main() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(0, 8, 1_000_000)
    print(f'apytypes {apy.__version__}, numpy {np.__version__}')
    print('exactness (1,000,000 doubles cast to each type; differing values):')
    for text in ('ap_fixed<16,6>', 'ap_fixed<8,3,AP_RND,AP_SAT>', 'ap_fixed<10,4,AP_RND_CONV,AP_SAT>',
                 'ap_fixed<6,2,AP_RND_ZERO>', 'ap_fixed<12,5,AP_RND_MIN_INF,AP_SAT>', 'ap_fixed<9,4,AP_RND_INF>',
                 'ap_fixed<7,2,AP_TRN_ZERO,AP_SAT>', 'ap_ufixed<8,3,AP_RND,AP_SAT>', 'ap_fixed<8,3,AP_TRN,AP_SAT_SYM>'):
        t = parse_type(text)
        ours = arith.from_double(values, t).to_float()
        try:
            theirs = apy_cast(values, t)
            bad = np.flatnonzero(ours != theirs)
            example = (f'  e.g. {values[bad[0]]!r}: hlsdiff {ours[bad[0]]!r}, apytypes {theirs[bad[0]]!r}'
                       if bad.size else '')
            print(f'  {text:38s} {bad.size:8d}{example}')
        except (AttributeError, ValueError) as exc:
            print(f'  {text:38s} not expressible in apytypes ({exc})')
    t = parse_type('ap_fixed<16,6>')
    for name, fn in (('hlsdiff arith', lambda: arith.from_double(values, t).to_float()), ('apytypes', lambda: apy_cast(values, t))):
        start = time.perf_counter()
        for _ in range(5):
            fn()
        print(f'cast 1,000,000 doubles, {name:14s} {(time.perf_counter() - start) / 5 * 1000:8.1f} ms')
    # a Dense layer: 256 samples x 64 inputs x 32 outputs, accum ap_fixed<20,8> (products truncated one by one)
    x = arith.from_double(rng.normal(0, 2, (256, 64)), parse_type('ap_fixed<16,6>'))
    w = arith.from_double(rng.normal(0, 0.5, (64, 32)), parse_type('ap_fixed<12,2>'))
    acc, res = parse_type('ap_fixed<20,8>'), parse_type('ap_fixed<16,6>')
    start = time.perf_counter()
    ours = mac(x, w, None, acc, res).to_float()
    t_ours = time.perf_counter() - start
    xa = apy.APyFixedArray.from_float(x.to_float(), int_bits=6, frac_bits=10)
    wa = apy.APyFixedArray.from_float(w.to_float(), int_bits=2, frac_bits=10)
    start = time.perf_counter()
    prods = [(xa[:, k:k + 1] * wa[k:k + 1, :]).cast(int_bits=8, frac_bits=12, quantization=apy.QuantizationMode.TRN,
                                                    overflow=apy.OverflowMode.WRAP) for k in range(64)]
    total = prods[0]
    for p in prods[1:]:
        total = (total + p).cast(int_bits=8, frac_bits=12, overflow=apy.OverflowMode.WRAP)
    theirs = np.asarray(total.cast(int_bits=6, frac_bits=10, quantization=apy.QuantizationMode.TRN,
                                   overflow=apy.OverflowMode.WRAP).to_numpy())
    t_theirs = time.perf_counter() - start
    print(f'dense 256x64x32 with per-product accum casts: hlsdiff {t_ours * 1000:.1f} ms, apytypes '
          f'{t_theirs * 1000:.1f} ms, differing outputs {int(np.sum(ours != theirs))}')


if __name__ == '__main__':
    main()
