"""`hlsdiff fix`'s defaults, written once: request.FixRequest and CompareRequest take them as their fields'
defaults, api.fix as FixRequest's, and the CLI's options from here (a leaf: `hlsdiff --help` imports no numpy)."""

MAX_ROUNDS = 8  # rounds of compare -> change -> rebuild at most
BUDGET = 120.0  # seconds the search by prediction (and --minimize) may spend
OUTPUT = 'hlsdiff_fixed.yml'  # where the fixed config is written
HEADROOM = 1  # integer bits above the observed range in the types a hint proposes
